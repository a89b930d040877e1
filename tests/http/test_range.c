/* Unit tests for the Range parser and the conditional-request helpers:
 * RFC 9110 §14 examples and the cases of nginx's range tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/range.h"

struct case_ {
	const char *hdr;
	uint64_t size;
	enum range_result want;
	uint64_t start, len;
};

static void check(const struct case_ *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct range r = {0, 0};
		enum range_result got = range_parse(c[i].hdr, c[i].size, &r);

		if (got != c[i].want)
			fail_msg("\"%s\" size %llu: got %d, want %d", c[i].hdr,
			         (unsigned long long)c[i].size, got, c[i].want);
		if (got == RANGE_OK &&
		    (r.start != c[i].start || r.len != c[i].len))
			fail_msg("\"%s\": got %llu+%llu, want %llu+%llu",
			         c[i].hdr, (unsigned long long)r.start,
			         (unsigned long long)r.len,
			         (unsigned long long)c[i].start,
			         (unsigned long long)c[i].len);
	}
}

/* RFC 9110 §14.1.2 examples on a 10000-byte representation. */
static void test_rfc9110(void **state)
{
	static const struct case_ c[] = {
	    {"bytes=0-499", 10000, RANGE_OK, 0, 500},
	    {"bytes=500-999", 10000, RANGE_OK, 500, 500},
	    {"bytes=-500", 10000, RANGE_OK, 9500, 500},
	    {"bytes=9500-", 10000, RANGE_OK, 9500, 500},
	    {"bytes=0-0,-1", 10000, RANGE_NONE, 0, 0}, /* two spans */
	    {"bytes=0-999,4500-5499,-1000", 10000, RANGE_NONE, 0, 0},
	    {"bytes=500-600,601-999", 10000, RANGE_OK, 500, 500},
	    {"bytes=500-700,601-999", 10000, RANGE_OK, 500, 500},
	    {"BYTES=0-1", 10000, RANGE_OK, 0, 2},
	    {"bytes=9999-", 10000, RANGE_OK, 9999, 1},
	    {"bytes=10000-", 10000, RANGE_UNSATISFIABLE, 0, 0},
	    {"bytes=0-20000", 10000, RANGE_OK, 0, 10000},
	    {"bytes=-20000", 10000, RANGE_OK, 0, 10000},
	    {"bytes=-0", 10000, RANGE_UNSATISFIABLE, 0, 0},
	    {"items=0-5", 10000, RANGE_NONE, 0, 0},
	    {"bytes=", 10000, RANGE_NONE, 0, 0},
	    {"bytes", 10000, RANGE_NONE, 0, 0},
	    {"", 10000, RANGE_NONE, 0, 0},
	};
	check(c, sizeof(c) / sizeof(c[0]));
}

/* The cases of nginx's range tests (t/range.t and friends), on a 1000-byte
 * file unless stated. */
static void test_nginx_table(void **state)
{
	static const struct case_ c[] = {
	    {"bytes=0-0", 1000, RANGE_OK, 0, 1},
	    {"bytes=-1", 1000, RANGE_OK, 999, 1},
	    {"bytes=0-", 1000, RANGE_OK, 0, 1000},
	    {"bytes=-", 1000, RANGE_NONE, 0, 0},
	    {"bytes=5-4", 1000, RANGE_NONE, 0, 0},
	    {"bytes=abc", 1000, RANGE_NONE, 0, 0},
	    {"bytes=0-abc", 1000, RANGE_NONE, 0, 0},
	    {"bytes=1-2-3", 1000, RANGE_NONE, 0, 0},
	    {"bytes=0-1,abc", 1000, RANGE_NONE, 0, 0},
	    {"bytes=+1-2", 1000, RANGE_NONE, 0, 0},
	    {"bytes=1--2", 1000, RANGE_NONE, 0, 0},
	    {"bytes=0-9,10-19", 1000, RANGE_OK, 0, 20},    /* adjacent */
	    {"bytes=0-99,50-149", 1000, RANGE_OK, 0, 150}, /* overlap */
	    {"bytes=50-149,0-99", 1000, RANGE_OK, 0, 150},
	    {"bytes=0-9,20-29", 1000, RANGE_NONE, 0, 0},
	    {"bytes=0-0,2000-3000", 1000, RANGE_OK, 0, 1},
	    {"bytes=2000-3000,5-9", 1000, RANGE_OK, 5, 5},
	    {"bytes=1000-2000,3000-", 1000, RANGE_UNSATISFIABLE, 0, 0},
	    {"bytes=1000-", 1000, RANGE_UNSATISFIABLE, 0, 0},
	    {"bytes=1000-1000", 1000, RANGE_UNSATISFIABLE, 0, 0},
	    {"bytes=999-1000", 1000, RANGE_OK, 999, 1},
	    /* whitespace */
	    {"bytes = 0 - 9", 1000, RANGE_OK, 0, 10},
	    {"bytes=0-9 , 10-19", 1000, RANGE_OK, 0, 20},
	    {"  bytes=\t0-9\t", 1000, RANGE_OK, 0, 10},
	    {"bytes=0-9,,", 1000, RANGE_OK, 0, 10},
	    {"bytes=,0-9", 1000, RANGE_OK, 0, 10},
	    {"bytes=,", 1000, RANGE_NONE, 0, 0},
	    /* huge numbers saturate */
	    {"bytes=99999999999999999999999999-", 1000, RANGE_UNSATISFIABLE, 0,
	     0},
	    {"bytes=0-99999999999999999999999999", 1000, RANGE_OK, 0, 1000},
	    {"bytes=-99999999999999999999999999", 1000, RANGE_OK, 0, 1000},
	    {"bytes=18446744073709551615-18446744073709551615", 1000,
	     RANGE_UNSATISFIABLE, 0, 0},
	    {"bytes=0-18446744073709551614", UINT64_MAX, RANGE_OK, 0,
	     UINT64_MAX},
	    /* zero-length file: Range ignored */
	    {"bytes=0-", 0, RANGE_NONE, 0, 0},
	    {"bytes=-1", 0, RANGE_NONE, 0, 0},
	    /* one-byte file */
	    {"bytes=0-0", 1, RANGE_OK, 0, 1},
	    {"bytes=-5", 1, RANGE_OK, 0, 1},
	    {"bytes=1-", 1, RANGE_UNSATISFIABLE, 0, 0},
	};
	check(c, sizeof(c) / sizeof(c[0]));
}

/* More than RANGE_MAX_SPECS ranges: ignored. */
static void test_too_many(void **state)
{
	char buf[512] = "bytes=";
	struct range r;

	for (int i = 0; i < RANGE_MAX_SPECS; i++)
		strcat(buf, "0-1,");
	assert_int_equal(range_parse(buf, 100, &r), RANGE_OK);
	strcat(buf, "0-1");
	assert_int_equal(range_parse(buf, 100, &r), RANGE_NONE);
}

static void test_etags(void **state)
{
	const char *etag = "\"abc\"";

	assert_true(range_etag_matches("\"abc\"", etag));
	assert_true(range_etag_matches("W/\"abc\"", etag));
	assert_true(range_etag_matches("\"x\", \"abc\"", etag));
	assert_true(range_etag_matches("*", etag));
	assert_true(range_etag_matches(" * ", etag));
	assert_false(range_etag_matches("\"abcd\"", etag));
	assert_false(range_etag_matches("abc", etag));
	assert_false(range_etag_matches("", etag));
	assert_false(range_etag_matches("\"abc", etag));
	assert_false(range_etag_matches("*, \"abc\"", etag));
	assert_false(range_etag_matches("\"x\" junk, \"abc\"", etag));
}

/* If-Match compares strongly: a weak tag never matches. */
static void test_if_match(void **state)
{
	const char *etag = "\"abc\"";

	assert_true(range_if_match("\"abc\"", etag));
	assert_true(range_if_match("\"x\", \"abc\"", etag));
	assert_true(range_if_match("*", etag));
	assert_false(range_if_match("W/\"abc\"", etag));
	assert_false(range_if_match("W/\"abc\", \"x\"", etag));
	assert_false(range_if_match("\"abcd\"", etag));
	assert_false(range_if_match("", etag));
	assert_false(range_if_match("abc", etag));
	assert_false(range_if_match("\"x\" junk, \"abc\"", etag));
}

static void test_dates(void **state)
{
	time_t t;
	char buf[40];

	/* RFC 9110 §5.6.7 examples: 784111777 */
	assert_int_equal(range_parse_date("Sun, 06 Nov 1994 08:49:37 GMT", &t),
	                 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(range_parse_date("Sunday, 06-Nov-94 08:49:37 GMT", &t),
	                 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(range_parse_date("Sun Nov  6 08:49:37 1994", &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(range_parse_date("yesterday", &t), -1);
	assert_int_equal(
	    range_parse_date("Sun, 06 Nov 1994 08:49:37 GMT x", &t), -1);
	assert_int_equal(range_parse_date("", &t), -1);
	range_format_date(784111777, buf, sizeof(buf));
	assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
}

static void test_if_range(void **state)
{
	const char *etag = "\"abc\"";

	assert_true(range_if_range("\"abc\"", etag, 0));
	assert_false(range_if_range("W/\"abc\"", etag, 0));
	assert_false(range_if_range("\"abd\"", etag, 0));
	assert_true(
	    range_if_range("Sun, 06 Nov 1994 08:49:37 GMT", etag, 784111777));
	assert_false(
	    range_if_range("Sun, 06 Nov 1994 08:49:38 GMT", etag, 784111777));
	assert_false(range_if_range("garbage", etag, 784111777));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc9110),  cmocka_unit_test(test_nginx_table),
	    cmocka_unit_test(test_too_many), cmocka_unit_test(test_etags),
	    cmocka_unit_test(test_if_match), cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_if_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
