/* The clocks: monotonic, coarse monotonic, wall and thread CPU time, and
 * condition variables timed on the monotonic clock. */
#include "clock.h"

/* Returns the time of clock id in nanoseconds. */
static int64_t read_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_now_ms(void)
{
	return read_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t clock_now_ns(void)
{
	return read_ns(CLOCK_MONOTONIC);
}

int64_t clock_now_coarse_ms(void)
{
	return read_ns(CLOCK_MONOTONIC_COARSE) / 1000000;
}

int64_t clock_wall_ns(void)
{
	return read_ns(CLOCK_REALTIME);
}

int64_t clock_thread_cpu_ns(void)
{
	return read_ns(CLOCK_THREAD_CPUTIME_ID);
}

int64_t clock_deadline_ms(int64_t ms)
{
	int64_t now = clock_now_ms();

	if (ms > INT64_MAX - now)
		return INT64_MAX;
	return now + ms;
}

bool clock_past(int64_t deadline_ms)
{
	return clock_now_ms() >= deadline_ms;
}

void clock_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
}

struct timespec clock_timespec(int64_t at_ms)
{
	struct timespec ts;

	if (at_ms < 0)
		at_ms = 0;
	ts.tv_sec = (time_t)(at_ms / 1000);
	ts.tv_nsec = (long)(at_ms % 1000) * 1000000;
	return ts;
}
