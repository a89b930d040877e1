/* Unit tests of the IQ budget (budget.c): [limits] iq_burst and iq_rate
 * per requester, the cap on the errors that refuse IQs, and the bound on
 * the tables whatever the number of requesters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "base/ratelimit.h"
#include "xmpp/budget.h"

/* The defaults: iq_burst = 50, iq_rate = 10/s. */
static struct budget *defaults(void)
{
	return budget_new(50, 10, 1000);
}

static void test_flood_in_one_write(void **state)
{
	struct budget *b = defaults();
	int n[3] = {0};
	uint64_t refused, dropped;
	const char *last;

	/* 600 pings at once: the burst is served, as many are refused with
	 * an error, the rest get nothing. */
	for (int i = 0; i < 600; i++)
		n[budget_take(b, "mallory@example.org", 1000)]++;
	assert_int_equal(n[BUDGET_SERVE], 50);
	assert_int_equal(n[BUDGET_REFUSE], 50);
	assert_int_equal(n[BUDGET_DROP], 500);
	budget_report(b, &refused, &dropped, &last);
	assert_int_equal(refused, 50);
	assert_int_equal(dropped, 500);
	assert_string_equal(last, "mallory@example.org");
	budget_report(b, &refused, &dropped, NULL);
	assert_int_equal(refused + dropped, 0);
	/* Someone else is not affected. */
	assert_int_equal(budget_take(b, "alice@example.org", 1000),
	                 BUDGET_SERVE);
	/* A second later, ten more are served; the errors stay capped
	 * until they refill (iq_burst a minute). */
	for (int i = 0; i < 10; i++)
		assert_int_equal(budget_take(b, "mallory@example.org", 2000),
		                 BUDGET_SERVE);
	assert_int_equal(budget_take(b, "mallory@example.org", 2000),
	                 BUDGET_DROP);
	budget_free(b);
}

static void test_error_cap_per_minute(void **state)
{
	/* A slow rate, so that only the error cap changes over a minute. */
	struct budget *b = budget_new(50, 1, 3600000);
	int n[3] = {0};

	for (int i = 0; i < 600; i++)
		n[budget_take(b, "mallory@example.org", 0)]++;
	assert_int_equal(n[BUDGET_SERVE], 50);
	assert_int_equal(n[BUDGET_REFUSE], 50);
	/* 30 s on: 25 more errors; a minute on: 50. */
	n[BUDGET_REFUSE] = 0;
	for (int i = 0; i < 100; i++)
		n[budget_take(b, "mallory@example.org", 30000)]++;
	assert_int_equal(n[BUDGET_REFUSE], 25);
	n[BUDGET_REFUSE] = 0;
	for (int i = 0; i < 100; i++)
		n[budget_take(b, "mallory@example.org", 90000)]++;
	assert_int_equal(n[BUDGET_REFUSE], 50);
	assert_int_equal(n[BUDGET_SERVE], 50);
	budget_free(b);
}

static void test_browsing_is_not_refused(void **state)
{
	struct budget *b = defaults();

	/* 30 folders in 3 s, then the same again: nothing refused. */
	for (int i = 0; i < 30; i++)
		assert_int_equal(
		    budget_take(b, "alice@example.org", (uint64_t)i * 100),
		    BUDGET_SERVE);
	for (int i = 0; i < 30; i++)
		assert_int_equal(budget_take(b, "alice@example.org",
		                             3000 + (uint64_t)i * 100),
		                 BUDGET_SERVE);
	/* A steady 10 a second is served forever. */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(budget_take(b, "alice@example.org",
		                             6000 + (uint64_t)i * 100),
		                 BUDGET_SERVE);
	budget_free(b);
}

static void test_occupants_are_requesters(void **state)
{
	struct budget *b = budget_new(2, 1, 60000);

	/* Keys are opaque: an occupant (room/nick) has its own bucket. */
	assert_int_equal(budget_take(b, "a@example.org", 0), BUDGET_SERVE);
	assert_int_equal(budget_take(b, "a@example.org", 0), BUDGET_SERVE);
	assert_int_equal(budget_take(b, "a@example.org", 0), BUDGET_REFUSE);
	assert_int_equal(budget_take(b, "room@conf.example.org/a", 0),
	                 BUDGET_SERVE);
	budget_free(b);
}

static void test_reconfigure(void **state)
{
	struct budget *b = budget_new(1, 1, 60000);

	assert_int_equal(budget_take(b, "a@example.org", 0), BUDGET_SERVE);
	assert_int_equal(budget_take(b, "a@example.org", 0), BUDGET_REFUSE);
	assert_int_equal(budget_take(b, "a@example.org", 0), BUDGET_DROP);
	/* A reload raises the limits: the bucket refills to the new burst
	 * at the new rate. */
	budget_configure(b, 50, 10, 1000);
	assert_int_equal(budget_take(b, "a@example.org", 1000), BUDGET_SERVE);
	budget_free(b);
}

static void test_many_requesters_bounded(void **state)
{
	struct budget *b = defaults();
	char key[64];

	/* 10,000 JIDs, each over its budget: the tables stay bounded. */
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "bot%d@evil.example", i);
		for (int k = 0; k < 52; k++)
			budget_take(b, key, (uint64_t)i);
		assert_true(budget_count(b) <= 2 * RATELIMIT_MAX_ENTRIES);
	}
	assert_true(budget_count(b) > 0);
	/* Once they are quiet and their buckets are full again, they are
	 * forgotten. */
	budget_expire(b, 10000 + 3600 * 1000);
	assert_int_equal(budget_count(b), 0);
	budget_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flood_in_one_write),
	    cmocka_unit_test(test_error_cap_per_minute),
	    cmocka_unit_test(test_browsing_is_not_refused),
	    cmocka_unit_test(test_occupants_are_requesters),
	    cmocka_unit_test(test_reconfigure),
	    cmocka_unit_test(test_many_requesters_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
