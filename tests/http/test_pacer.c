/* Unit tests for the bandwidth caps' arithmetic and the pacer's thread
 * (http/pacer.h), on made-up times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"
#include "http/pacer.h"

#define BLOCK (256 * 1024)

/* Sends as fast as the pacer lets conns connections for seconds at most,
 * each wanting BLOCK bytes at a time; fills sent[] and returns the total
 * bytes. Time jumps to the next due time when all wait. */
static uint64_t simulate(struct pacer *p, size_t conns, double seconds,
                         uint64_t *sent)
{
	struct pacer_conn pc[8] = {0};
	static int64_t now = 1000000; /* on from the last call */
	int64_t due[8] = {0}, end;
	uint64_t total = 0;

	/* After the last call's reservations. */
	now += 10 * 1000000LL;
	end = now + (int64_t)(seconds * 1e6);
	while (now < end) {
		int64_t next = INT64_MAX;

		for (size_t i = 0; i < conns; i++) {
			size_t n;
			int64_t d;

			if (due[i] > now) {
				next = due[i] < next ? due[i] : next;
				continue;
			}
			n = pacer_take(p, &pc[i], BLOCK, now, &d);
			if (n == 0) {
				due[i] = d;
				next = d < next ? d : next;
				continue;
			}
			sent[i] += n;
			total += n;
			next = now;
		}
		if (next > now)
			now = next;
	}
	return total;
}

/* Takes chunks for pc at now until it must wait; returns the bytes it
 * got. */
static size_t until_wait(struct pacer *p, struct pacer_conn *pc, int64_t now,
                         int64_t *due)
{
	size_t n, total = 0;

	while ((n = pacer_take(p, pc, BLOCK, now, due)) > 0)
		total += n;
	return total;
}

/* No cap: everything at once, whole blocks. */
static void test_uncapped(void **state)
{
	struct pacer *p = pacer_new();
	struct pacer_conn pc = {0};
	int64_t due = 0;

	assert_false(pacer_capped(p));
	for (int i = 0; i < 100; i++)
		assert_int_equal(pacer_take(p, &pc, BLOCK, 1000, &due), BLOCK);
	pacer_free(p);
}

/* max_rate: the total is the cap, shared evenly. */
static void test_max_rate_fair(void **state)
{
	struct pacer *p = pacer_new();
	uint64_t sent[8] = {0}, total, cap = 2 * 1024 * 1024;

	pacer_set_rates(p, cap, 0);
	assert_true(pacer_capped(p));
	total = simulate(p, 2, 10, sent);
	assert_true(total >= cap * 10 * 99 / 100 &&
	            total <= cap * 10 * 101 / 100 + cap / 20);
	assert_true(sent[0] * 100 / sent[1] >= 98 &&
	            sent[0] * 100 / sent[1] <= 102);
	memset(sent, 0, sizeof(sent));
	total = simulate(p, 5, 5, sent);
	assert_true(total <= cap * 5 * 101 / 100 + cap / 20);
	for (int i = 1; i < 5; i++)
		assert_true(sent[i] * 100 / sent[0] >= 95 &&
		            sent[i] * 100 / sent[0] <= 105);
	pacer_free(p);
}

/* download_rate: each connection at its cap, however many; with both
 * caps, the smaller total wins. */
static void test_download_rate(void **state)
{
	struct pacer *p = pacer_new();
	uint64_t sent[8] = {0}, r = 1024 * 1024;

	pacer_set_rates(p, 0, r);
	simulate(p, 3, 10, sent);
	for (int i = 0; i < 3; i++)
		assert_true(sent[i] >= r * 10 * 99 / 100 &&
		            sent[i] <= r * 10 * 101 / 100 + r / 20);
	memset(sent, 0, sizeof(sent));
	pacer_set_rates(p, 2 * r, r);
	assert_true(simulate(p, 4, 10, sent) <= 2 * r * 10 * 101 / 100 + r);
	pacer_free(p);
}

static int woken;

static void wake(void *arg)
{
	__atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

/* The thread wakes a waiting connection at its time; stopping wakes every
 * waiting one at once, and nothing waits afterwards. */
static void test_wait_and_stop(void **state)
{
	struct pacer *p = pacer_new();
	struct pacer_conn a = {0}, b = {0};
	int64_t due, now = clock_now_ns() / 1000;

	pacer_set_rates(p, 100000, 0); /* chunks of 5000 B, 50 ms */
	/* The first go at once (at most 50 ms of catching up), then it
	 * waits. */
	assert_int_equal(pacer_take(p, &a, BLOCK, now, &due), 5000);
	assert_int_equal(until_wait(p, &a, now, &due), 5000);
	assert_true(due >= now + 49000);
	assert_true(pacer_wait(p, &a, wake, &woken));
	for (int i = 0;
	     i < 200 && __atomic_load_n(&woken, __ATOMIC_SEQ_CST) == 0; i++)
		usleep(10000);
	assert_int_equal(woken, 1);
	assert_true(clock_now_ns() / 1000 >= due);
	/* The reserved chunk comes at once after the wait. */
	assert_int_equal(pacer_take(p, &a, BLOCK, due, &due), 5000);

	/* Far in the future: only the stop wakes it. */
	pacer_free(p);
	p = pacer_new();
	pacer_set_rates(p, 1000, 0);
	now = clock_now_ns() / 1000;
	until_wait(p, &b, now, &due);
	assert_true(pacer_wait(p, &b, wake, &woken));
	pacer_stop(p);
	assert_int_equal(woken, 2);
	assert_int_equal(pacer_take(p, &b, 10, now, &due), 10);
	assert_false(pacer_wait(p, &b, wake, &woken));
	pacer_forget(p, &b);
	pacer_free(p);
}

/* A forgotten connection is never woken. */
static void test_forget(void **state)
{
	struct pacer *p = pacer_new();
	struct pacer_conn a = {0};
	int64_t due, now = clock_now_ns() / 1000;
	int n = 0;

	pacer_set_rates(p, 100000, 0);
	until_wait(p, &a, now, &due);
	assert_true(pacer_wait(p, &a, wake, &n));
	pacer_forget(p, &a);
	usleep(150000);
	assert_int_equal(n, 0);
	pacer_free(p);
}

/* The rate counter: bytes over the last full seconds. */
static void test_rate(void **state)
{
	struct pacer *p = pacer_new();
	int64_t s = 100 * 1000000LL;

	for (int i = 0; i < 10; i++)
		pacer_count(p, 1000, s + i * 1000000LL);
	assert_int_equal(pacer_rate(p, s + 10 * 1000000LL), 1000);
	assert_int_equal(pacer_rate(p, s + 30 * 1000000LL), 0);
	pacer_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uncapped),
	    cmocka_unit_test(test_max_rate_fair),
	    cmocka_unit_test(test_download_rate),
	    cmocka_unit_test(test_wait_and_stop),
	    cmocka_unit_test(test_forget),
	    cmocka_unit_test(test_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
