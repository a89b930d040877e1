/* Unit tests for the backoff: doubling from the first delay, the cap, the
 * longer cap of a long outage, the jitter's range, and reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/backoff.h"

/* The indexer's policy: 1 s doubling up to 30 s, no jitter. */
static const struct backoff_policy writes = {
    .first_ms = 1000,
    .max_ms = 30000,
};

/* The XMPP reconnection's: 1 s doubling, 10 s cap for ten minutes, then
 * 60 s, with jitter. */
static const struct backoff_policy reconnect = {
    .first_ms = 1000,
    .max_ms = 10000,
    .long_after_ms = 600000,
    .long_max_ms = 60000,
    .jitter = true,
};

static void test_doubling_and_cap(void **state)
{
	static const int64_t want[] = {1000,  2000,  4000,  8000,
	                               16000, 30000, 30000, 30000};

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(backoff_delay(&writes, i + 1, 0, 12345),
		                 want[i]);
	/* Many failures never overflow past the cap. */
	assert_int_equal(backoff_delay(&writes, 4000000000u, 0, 0), 30000);
}

static void test_state(void **state)
{
	struct backoff b;

	backoff_init(&b, &writes);
	assert_int_equal(b.tries, 0);
	assert_int_equal(backoff_next(&b, 100), 1000);
	assert_int_equal(backoff_next(&b, 1200), 2000);
	assert_int_equal(backoff_next(&b, 3300), 4000);
	assert_int_equal(b.tries, 3);
	assert_int_equal(b.since_ms, 100);
	backoff_reset(&b);
	assert_int_equal(b.tries, 0);
	assert_int_equal(backoff_next(&b, 9000), 1000);
	assert_int_equal(b.since_ms, 9000);
}

static void test_long_outage(void **state)
{
	struct backoff_policy p = reconnect;
	struct backoff b;
	int64_t now = 0, d;

	p.jitter = false;
	assert_int_equal(backoff_delay(&p, 20, 599999, 0), 10000);
	assert_int_equal(backoff_delay(&p, 20, 600000, 0), 60000);
	assert_int_equal(backoff_delay(&p, 3, 600000, 0), 4000);

	/* Ten minutes of failures at the short cap, then the long one. */
	backoff_init(&b, &p);
	while (now < 600000) {
		d = backoff_next(&b, now);
		assert_true(d <= 10000);
		now += d;
	}
	assert_int_equal(backoff_next(&b, now), 60000);
}

static void test_jitter(void **state)
{
	struct backoff b;
	int64_t lo = INT64_MAX, hi = 0;

	/* The upper half of each delay, both ends included. */
	assert_int_equal(backoff_delay(&reconnect, 4, 0, 0), 4000);
	assert_int_equal(backoff_delay(&reconnect, 4, 0, 4000), 8000);
	assert_int_equal(backoff_delay(&reconnect, 4, 0, 4001), 4000);
	assert_int_equal(backoff_delay(&reconnect, 1, 0, 250), 750);
	/* Drawn at random: within the range, and not all alike. */
	for (int i = 0; i < 200; i++) {
		int64_t d;

		backoff_init(&b, &reconnect);
		for (int k = 0; k < 4; k++)
			d = backoff_next(&b, 0);
		assert_true(d >= 4000 && d <= 8000);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(hi > lo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_doubling_and_cap),
	    cmocka_unit_test(test_state),
	    cmocka_unit_test(test_long_outage),
	    cmocka_unit_test(test_jitter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
