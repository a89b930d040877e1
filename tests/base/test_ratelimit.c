/* Unit tests of the per-requester token buckets (ratelimit.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "base/ratelimit.h"

static void test_burst_then_warn_then_silence(void **state)
{
	struct ratelimit *rl = ratelimit_new(5, 20, 60000); /* 20/m */
	uint64_t retry = 0;

	for (int i = 0; i < 5; i++)
		assert_int_equal(ratelimit_take(rl, "a", 1000, &retry),
		                 RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "a", 1000, &retry), RATELIMIT_WARN);
	/* One token per 3 s. */
	assert_int_equal(retry, 3000);
	assert_int_equal(ratelimit_take(rl, "a", 1000, &retry),
	                 RATELIMIT_SILENT);
	assert_int_equal(ratelimit_take(rl, "a", 2000, &retry),
	                 RATELIMIT_SILENT);
	assert_int_equal(retry, 2000);
	/* Another requester is not affected. */
	assert_int_equal(ratelimit_take(rl, "b", 2000, NULL), RATELIMIT_OK);
	/* Refilled: one token, then a new warning. */
	assert_int_equal(ratelimit_take(rl, "a", 4000, &retry), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "a", 4000, &retry), RATELIMIT_WARN);
	assert_int_equal(ratelimit_take(rl, "a", 4001, &retry),
	                 RATELIMIT_SILENT);
	/* After a long pause the whole burst is back, and no more. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(ratelimit_take(rl, "a", 1000000, NULL),
		                 RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "a", 1000000, NULL),
	                 RATELIMIT_WARN);
	ratelimit_free(rl);
}

static void test_partial_refill(void **state)
{
	/* 3 per 10 s: a token every 3333.3 ms; small steps add up. */
	struct ratelimit *rl = ratelimit_new(1, 3, 10000);
	uint64_t t = 0;
	int ok = 0;

	assert_int_equal(ratelimit_take(rl, "a", t, NULL), RATELIMIT_OK);
	for (t = 1; t <= 10000; t++)
		if (ratelimit_take(rl, "a", t, NULL) == RATELIMIT_OK)
			ok++;
	assert_int_equal(ok, 3);
	ratelimit_free(rl);
}

static void test_expire_and_bound(void **state)
{
	struct ratelimit *rl = ratelimit_new(2, 1, 1000);
	char key[32];

	assert_int_equal(ratelimit_take(rl, "a", 0, NULL), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "b", 0, NULL), RATELIMIT_OK);
	assert_int_equal(ratelimit_count(rl), 2);
	ratelimit_expire(rl, 500); /* not yet full again */
	assert_int_equal(ratelimit_count(rl), 2);
	ratelimit_expire(rl, 1000);
	assert_int_equal(ratelimit_count(rl), 0);

	/* The table never holds more than RATELIMIT_MAX_ENTRIES. */
	for (int i = 0; i < RATELIMIT_MAX_ENTRIES + 100; i++) {
		snprintf(key, sizeof(key), "user%d", i);
		assert_int_equal(
		    ratelimit_take(rl, key, (uint64_t)i / 100, NULL),
		    RATELIMIT_OK);
		assert_true(ratelimit_count(rl) <= RATELIMIT_MAX_ENTRIES);
	}
	ratelimit_free(rl);
}

static void test_evicts_least_recently_seen(void **state)
{
	/* 2 at once, then 1 an hour: no bucket refills during the test. */
	struct ratelimit *rl = ratelimit_new(2, 1, 3600000);
	char key[32];

	/* "first" spends its burst, then the table fills with others. */
	assert_int_equal(ratelimit_take(rl, "first", 0, NULL), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "first", 0, NULL), RATELIMIT_OK);
	for (int i = 1; i < RATELIMIT_MAX_ENTRIES; i++) {
		snprintf(key, sizeof(key), "user%d", i);
		assert_int_equal(ratelimit_take(rl, key, 1, NULL),
		                 RATELIMIT_OK);
	}
	assert_int_equal(ratelimit_count(rl), RATELIMIT_MAX_ENTRIES);
	/* "first" is seen again: the oldest now is user1, and a newcomer
	 * pushes it out, not "first", which stays limited. */
	assert_int_equal(ratelimit_take(rl, "first", 2, NULL), RATELIMIT_WARN);
	assert_int_equal(ratelimit_take(rl, "newcomer", 3, NULL), RATELIMIT_OK);
	assert_int_equal(ratelimit_count(rl), RATELIMIT_MAX_ENTRIES);
	assert_int_equal(ratelimit_take(rl, "first", 4, NULL),
	                 RATELIMIT_SILENT);
	/* user2 is still known (one token left); user1 starts afresh. */
	assert_int_equal(ratelimit_take(rl, "user2", 5, NULL), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "user2", 5, NULL), RATELIMIT_WARN);
	assert_int_equal(ratelimit_take(rl, "user1", 6, NULL), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "user1", 6, NULL), RATELIMIT_OK);
	ratelimit_free(rl);
}

static void test_reconfigure(void **state)
{
	struct ratelimit *rl = ratelimit_new(1, 1, 60000);

	assert_int_equal(ratelimit_take(rl, "a", 0, NULL), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "a", 0, NULL), RATELIMIT_WARN);
	ratelimit_configure(rl, 10, 10, 1000);
	assert_int_equal(ratelimit_take(rl, "a", 100, NULL), RATELIMIT_OK);
	/* Zero limits are clamped, never a division by zero. */
	ratelimit_configure(rl, 0, 0, 0);
	(void)ratelimit_take(rl, "a", 200, NULL);
	ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_warn_then_silence),
	    cmocka_unit_test(test_partial_refill),
	    cmocka_unit_test(test_expire_and_bound),
	    cmocka_unit_test(test_evicts_least_recently_seen),
	    cmocka_unit_test(test_reconfigure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
