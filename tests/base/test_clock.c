/* Unit tests for the clocks: each reads the clock it names, deadlines, and
 * condition variables that time out on the monotonic clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "base/clock.h"

/* Returns clock id in nanoseconds, read directly. */
static int64_t direct_ns(clockid_t id)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(id, &ts), 0);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void test_monotonic(void **state)
{
	int64_t before = direct_ns(CLOCK_MONOTONIC), ms, ns, coarse, after;

	ms = clock_now_ms();
	ns = clock_now_ns();
	coarse = clock_now_coarse_ms();
	after = direct_ns(CLOCK_MONOTONIC);
	assert_true(ms >= before / 1000000 && ms <= after / 1000000);
	assert_true(ns >= before && ns <= after);
	/* The coarse clock lags by a tick at most (a second is generous). */
	assert_true(coarse <= after / 1000000);
	assert_true(coarse >= before / 1000000 - 1000);
	assert_true(clock_now_ns() >= ns);
}

static void test_wall_and_cpu(void **state)
{
	int64_t before = direct_ns(CLOCK_REALTIME), wall, after, cpu0, cpu1;
	volatile uint64_t x = 0;

	wall = clock_wall_ns();
	after = direct_ns(CLOCK_REALTIME);
	assert_true(wall >= before && wall <= after);

	cpu0 = clock_thread_cpu_ns();
	while (clock_thread_cpu_ns() - cpu0 < 2000000)
		x++;
	cpu1 = clock_thread_cpu_ns();
	assert_true(cpu1 - cpu0 >= 2000000);
	assert_true(cpu1 <= direct_ns(CLOCK_THREAD_CPUTIME_ID));
}

static void test_deadlines(void **state)
{
	int64_t d = clock_deadline_ms(60000), now = clock_now_ms();

	assert_true(d >= now + 59000 && d <= now + 60000);
	assert_false(clock_past(d));
	assert_true(clock_past(clock_deadline_ms(0)));
	assert_true(clock_past(clock_deadline_ms(-5)));
	assert_true(clock_past(now));
	/* Far deadlines saturate instead of wrapping into the past. */
	assert_true(clock_deadline_ms(INT64_MAX) == INT64_MAX);
	assert_false(clock_past(clock_deadline_ms(INT64_MAX - 1)));
}

static void test_timespec(void **state)
{
	struct timespec ts = clock_timespec(1234);

	assert_int_equal(ts.tv_sec, 1);
	assert_int_equal(ts.tv_nsec, 234000000);
	ts = clock_timespec(5000);
	assert_int_equal(ts.tv_sec, 5);
	assert_int_equal(ts.tv_nsec, 0);
	ts = clock_timespec(-7);
	assert_int_equal(ts.tv_sec, 0);
	assert_int_equal(ts.tv_nsec, 0);
}

/* A timed wait measures the monotonic clock: it neither returns at once
 * (a monotonic time read as a wall-clock time is long past) nor hangs. */
static void test_cond(void **state)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond;
	struct timespec ts;
	int64_t start = clock_now_ms(), waited;
	int rc;

	clock_cond_init(&cond);
	ts = clock_timespec(start + 100);
	pthread_mutex_lock(&lock);
	do
		rc = pthread_cond_timedwait(&cond, &lock, &ts);
	while (rc == 0);
	pthread_mutex_unlock(&lock);
	waited = clock_now_ms() - start;
	assert_int_equal(rc, ETIMEDOUT);
	assert_true(waited >= 100);
	assert_true(waited < 30000);
	pthread_cond_destroy(&cond);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_monotonic),
	    cmocka_unit_test(test_wall_and_cpu),
	    cmocka_unit_test(test_deadlines),
	    cmocka_unit_test(test_timespec),
	    cmocka_unit_test(test_cond),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
