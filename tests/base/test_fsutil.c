/* Unit tests for the share file-system helpers: path joins and file
 * times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "base/fsutil.h"

static void test_join_under(void **state)
{
	char *p = fsutil_join("", "a");

	assert_string_equal(p, "a");
	free(p);
	p = fsutil_join("a/b", "c");
	assert_string_equal(p, "a/b/c");
	free(p);
	assert_true(fsutil_is_under("a/b", "a"));
	assert_true(fsutil_is_under("a", "a"));
	assert_true(fsutil_is_under("a/b", ""));
	assert_false(fsutil_is_under("ab/c", "a"));
	assert_false(fsutil_is_under("a", "a/b"));
}

static void test_times(void **state)
{
	struct stat st = {0};

	st.st_mtim.tv_sec = 1700000000;
	st.st_mtim.tv_nsec = 123456789;
	st.st_ctim.tv_sec = 5;
	st.st_ctim.tv_nsec = 7;
	assert_int_equal(fsutil_mtime_ns(&st), 1700000000123456789LL);
	assert_int_equal(fsutil_ctime_ns(&st), 5000000007LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_join_under),
	    cmocka_unit_test(test_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
