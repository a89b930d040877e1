/* Unit tests for durations and sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fisbot/units.h"

static void test_durations(void **state)
{
	static const struct {
		const char *in;
		uint64_t ms;
	} ok[] = {
	    {"0", 0},       {"30", 30000},     {"30s", 30000},
	    {"5m", 300000}, {"24h", 86400000}, {"7d", 604800000},
	    {"250ms", 250}, {"1S", 1000},      {"2w", 1209600000},
	};
	static const char *const bad[] = {
	    "",
	    "s",
	    "-1s",
	    "1.5s",
	    "1 s",
	    "5x",
	    "1sm",
	    "99999999999999999999",
	    "18446744073709551615d",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(units_parse_duration(ok[i].in, &v), 0);
		assert_int_equal(v, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(units_parse_duration(bad[i], &v), -1);
	assert_int_equal(units_parse_duration(NULL, &v), -1);
}

static void test_sizes(void **state)
{
	static const struct {
		const char *in;
		uint64_t bytes;
	} ok[] = {
	    {"0", 0},          {"512", 512},          {"10K", 10240},
	    {"5M", 5242880},   {"2G", 2147483648ULL}, {"1T", 1099511627776ULL},
	    {"5MiB", 5242880}, {"5mb", 5242880},      {"100B", 100},
	};
	static const char *const bad[] = {
	    "", "K", "-1", "1.5M", "5X", "5 M", "5MM", "16777216T",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(units_parse_size(ok[i].in, &v), 0);
		assert_int_equal(v, ok[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(units_parse_size(bad[i], &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
