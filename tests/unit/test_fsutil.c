/* Unit tests for the share file-system helpers: exclude globs and path
 * joins. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"

static char g0[] = ".*", g1[] = "*.part", g2[] = "*.tmp", g3[] = "*~";
static char *defaults[] = {g0, g1, g2, g3};
static const struct strlist globs = {defaults, 4};

static void test_name_excluded(void **state)
{
	assert_true(fsutil_name_excluded(&globs, ".hidden"));
	assert_true(fsutil_name_excluded(&globs, ".git"));
	assert_true(fsutil_name_excluded(&globs, "movie.part"));
	assert_true(fsutil_name_excluded(&globs, "x.tmp"));
	assert_true(fsutil_name_excluded(&globs, "notes~"));
	assert_false(fsutil_name_excluded(&globs, "song.ogg"));
	assert_false(fsutil_name_excluded(&globs, "a.hidden"));
	assert_false(fsutil_name_excluded(&globs, "part"));
	assert_false(fsutil_name_excluded(&globs, "x.tmp.ogg"));
}

static void test_path_excluded(void **state)
{
	assert_true(fsutil_path_excluded(&globs, ".git/config"));
	assert_true(fsutil_path_excluded(&globs, "music/.cache/a.ogg"));
	assert_true(fsutil_path_excluded(&globs, "music/live/a.part"));
	assert_false(fsutil_path_excluded(&globs, "music/live/a.ogg"));
	assert_false(fsutil_path_excluded(&globs, "music.tmp.d/a.ogg"));
	assert_false(fsutil_path_excluded(&globs, ""));
}

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_excluded),
	    cmocka_unit_test(test_path_excluded),
	    cmocka_unit_test(test_join_under),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
