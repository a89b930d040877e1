/*
 * The main thread's timers: one small table of deadlines that every part
 * on the main thread schedules its work with (the session's reconnects,
 * send pacing, rooms and origin checks; the plugin host's plugin timers
 * and expiries). The main loop runs what is due (cron_run) and sleeps
 * until the next deadline (cron_next), so an idle bot wakes only when
 * something is due.
 *
 * A timer either repeats (a period: it is due again period ms after each
 * run) or is armed by hand (cron_at, cron_soon) for the next thing its
 * owner has to do, and disarmed (CRON_NEVER) when there is nothing. Times
 * are milliseconds of the cron's clock: the monotonic clock (clock_now_ms), or
 * a clock the tests set. Not thread-safe: the main thread only.
 */
#ifndef FISBOT_CRON_H
#define FISBOT_CRON_H

#include <stdbool.h>
#include <stdint.h>

/* A deadline that never comes: a disarmed timer. */
#define CRON_NEVER UINT64_MAX

struct cron;
struct cron_timer;

/* A timer's work; returns false to remove the timer (it is freed). */
typedef bool (*cron_fn)(void *arg);

/* Returns an empty table on the clock now_ms(arg) (milliseconds, never
 * going back), or on clock_now_ms if now_ms is NULL. */
struct cron *cron_new(uint64_t (*now_ms)(void *arg), void *arg);
/* Frees the table and the timers still in it. */
void cron_free(struct cron *c);
/* Returns the time on c's clock, in ms. */
uint64_t cron_now(const struct cron *c);

/* Adds a timer that calls fn(arg): every period_ms (first at now +
 * period_ms), or, with period_ms 0, only when armed by cron_at or
 * cron_soon. The timer belongs to c until fn returns false, cron_del or
 * cron_free. */
struct cron_timer *cron_add(struct cron *c, uint64_t period_ms, cron_fn fn,
                            void *arg);
/* Removes t (it is freed); safe inside any timer's fn, t's own included. */
void cron_del(struct cron_timer *t);
/* Makes t due at due_ms (CRON_NEVER: disarmed), whatever it was. Inside
 * its own fn, this replaces the next run cron_run planned. */
void cron_at(struct cron_timer *t, uint64_t due_ms);
/* Makes t due at due_ms unless it is due earlier already. */
void cron_soon(struct cron_timer *t, uint64_t due_ms);
/* Returns when t is due next, or CRON_NEVER. */
uint64_t cron_due(const struct cron_timer *t);

/* Runs every timer due by now, each once, in the order they were added.
 * Before fn runs, a repeating timer is planned period ms later and a
 * timer armed by hand is disarmed; fn may plan otherwise. */
void cron_run(struct cron *c);
/* Returns the earliest deadline, or CRON_NEVER if no timer is armed. */
uint64_t cron_next(const struct cron *c);
/* Returns the milliseconds until the earliest deadline, at most cap_ms
 * (0 if a timer is due already). */
uint64_t cron_wait_ms(const struct cron *c, uint64_t cap_ms);

#endif
