/* Unit tests for the download slots (http/slots.h), on made-up times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/slots.h"

static int freed;

static void on_free(void *arg)
{
	(*(int *)arg)++;
}

/* Makes the key of link n. */
static const unsigned char *key(int n)
{
	static unsigned char k[4][SLOTS_KEY_LEN];

	memset(k[n], 'a' + n, SLOTS_KEY_LEN);
	return k[n];
}

/* One slot per link however many connections; over slots, refused. */
static void test_links_share(void **state)
{
	struct slots *s = slots_new(on_free, &freed);
	struct slots_usage u;
	unsigned retry = 0;

	slots_configure(s, 1, 0, 120000);
	for (int i = 0; i < 8; i++) /* a segmented download */
		assert_true(slots_acquire(s, key(0), 11, 1000, &retry));
	assert_false(slots_acquire(s, key(1), 22, 1000, &retry));
	assert_true(retry > 0);
	assert_false(slots_available(s, 22, 1000));
	slots_get_usage(s, 1000, &u);
	assert_int_equal(u.used, 1);
	assert_int_equal(u.limit, 1);
	for (int i = 0; i < 7; i++)
		slots_release(s, key(0), 2000);
	assert_false(slots_available(s, 22, 2000));
	freed = 0;
	slots_release(s, key(0), 2000);
	assert_int_equal(freed, 1); /* idle: the listener looks again */
	/* It lingers (a downloader between two ranges keeps it)... */
	assert_false(slots_available(s, 22, 2000 + SLOTS_LINGER_MS - 1));
	assert_true(slots_acquire(s, key(0), 11, 2500, &retry));
	slots_release(s, key(0), 3000);
	/* ...then it is free. */
	assert_true(slots_available(s, 22, 3000 + SLOTS_LINGER_MS));
	assert_true(
	    slots_acquire(s, key(1), 22, 3000 + SLOTS_LINGER_MS, &retry));
	slots_free(s);
}

/* slots_per_user counts a requester's links; tag 0 (old links) is not
 * counted per user. */
static void test_per_user(void **state)
{
	struct slots *s = slots_new(NULL, NULL);
	unsigned retry;

	slots_configure(s, 0, 1, 120000);
	assert_true(slots_acquire(s, key(0), 11, 0, &retry));
	assert_false(slots_acquire(s, key(1), 11, 0, &retry));
	assert_true(slots_acquire(s, key(2), 22, 0, &retry));
	assert_true(slots_acquire(s, key(1), 0, 0, &retry));
	assert_true(slots_acquire(s, key(3), 0, 0, &retry));
	assert_false(slots_available(s, 11, 0));
	assert_true(slots_available(s, 33, 0));
	slots_free(s);
}

/* A hold keeps a slot for its requester only, until it downloads or the
 * hold expires. */
static void test_hold(void **state)
{
	struct slots *s = slots_new(on_free, &freed);
	struct slots_usage u;
	unsigned retry;

	slots_configure(s, 1, 0, 5000);
	slots_hold(s, 11, 0);
	slots_get_usage(s, 0, &u);
	assert_int_equal(u.used, 1);
	assert_int_equal(u.held, 1);
	assert_false(slots_available(s, 22, 100));
	assert_false(slots_acquire(s, key(1), 22, 100, &retry));
	assert_true(slots_available(s, 11, 100));
	assert_true(slots_acquire(s, key(0), 11, 100, &retry));
	slots_get_usage(s, 100, &u);
	assert_int_equal(u.used, 1);
	assert_int_equal(u.held, 0);
	slots_release(s, key(0), 200);
	/* Expiry. */
	slots_hold(s, 11, 10000);
	assert_false(slots_available(s, 22, 14999));
	freed = 0;
	slots_sweep(s, 15000);
	assert_int_equal(freed, 1);
	assert_true(slots_available(s, 22, 15000));
	/* Given back. */
	slots_hold(s, 11, 20000);
	slots_unhold(s, 11, 20001);
	assert_true(slots_available(s, 22, 20002));
	slots_free(s);
}

/* Unlimited: everything goes, and usage is still counted. */
static void test_unlimited(void **state)
{
	struct slots *s = slots_new(NULL, NULL);
	struct slots_usage u;
	unsigned retry;

	for (int i = 0; i < 4; i++)
		assert_true(slots_acquire(s, key(i), 11, 0, &retry));
	slots_get_usage(s, 0, &u);
	assert_int_equal(u.used, 4);
	assert_int_equal(u.active, 4);
	assert_int_equal(u.limit, 0);
	assert_int_equal(slots_mean_s(s), 60);
	for (int i = 0; i < 4; i++)
		slots_release(s, key(i), 30000);
	slots_get_usage(s, 30000 + SLOTS_LINGER_MS, &u);
	assert_int_equal(u.used, 0);
	assert_int_equal(slots_mean_s(s), 30);
	slots_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_links_share),
	    cmocka_unit_test(test_per_user),
	    cmocka_unit_test(test_hold),
	    cmocka_unit_test(test_unlimited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
