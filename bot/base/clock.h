/*
 * The clocks, in one place: the monotonic clock for every timeout, delay
 * and deadline (immune to changes of the wall clock), the wall clock for
 * dates, a thread's CPU clock, and condition variables that time out on
 * the monotonic clock.
 *
 * Times are int64_t milliseconds (or nanoseconds where said) since an
 * arbitrary origin that does not change while the process runs; a
 * deadline is such a time, compared with clock_past.
 */
#ifndef FISBOT_CLOCK_H
#define FISBOT_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "fisbot/clock.h" /* clock_now_ms, exported to plugins */

/* Returns the monotonic clock in nanoseconds. */
int64_t clock_now_ns(void);

/* Returns the monotonic clock in milliseconds, read from the kernel's
 * coarse clock: a few milliseconds behind at most, but much cheaper (for
 * a cache's age checked on every request). */
int64_t clock_now_coarse_ms(void);

/* Returns the wall clock in nanoseconds since the epoch. */
int64_t clock_wall_ns(void);

/* Returns the CPU time used by the calling thread, in nanoseconds. */
int64_t clock_thread_cpu_ns(void);

/* Returns the deadline ms milliseconds from now (a negative ms is a
 * deadline already past). */
int64_t clock_deadline_ms(int64_t ms);

/* Returns true once the monotonic clock has reached deadline_ms. */
bool clock_past(int64_t deadline_ms);

/* Initialises cond so that pthread_cond_timedwait on it measures time on
 * the monotonic clock (clock_timespec makes its argument). */
void clock_cond_init(pthread_cond_t *cond);

/* Returns the monotonic time at_ms (a clock_now_ms time) as the absolute
 * timespec pthread_cond_timedwait takes for a condition variable made by
 * clock_cond_init. */
struct timespec clock_timespec(int64_t at_ms);

#endif
