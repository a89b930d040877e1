/* Unit tests for the exclude globs: the defaults, one glob per path
 * component (a '*' never spans a '/'), a leading dot matched like any
 * character, quoting, and which globs the configuration accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/exclude.h"

static char g0[] = ".*", g1[] = "*.part", g2[] = "*.tmp", g3[] = "*~";
static char *defaults[] = {g0, g1, g2, g3};
static const struct strlist globs = {defaults, 4};

/* Returns a list of the one glob g. */
static struct strlist one(const char *g)
{
	static char buf[64];
	static char *v[1] = {buf};
	struct strlist l = {v, 1};

	assert_true(strlen(g) < sizeof(buf));
	strcpy(buf, g);
	return l;
}

static void test_defaults(void **state)
{
	assert_true(exclude_name(&globs, ".hidden"));
	assert_true(exclude_name(&globs, ".git"));
	assert_true(exclude_name(&globs, "movie.part"));
	assert_true(exclude_name(&globs, "x.tmp"));
	assert_true(exclude_name(&globs, "notes~"));
	assert_false(exclude_name(&globs, "song.ogg"));
	assert_false(exclude_name(&globs, "a.hidden"));
	assert_false(exclude_name(&globs, "part"));
	assert_false(exclude_name(&globs, "x.tmp.ogg"));

	assert_true(exclude_path(&globs, ".git/config"));
	assert_true(exclude_path(&globs, "music/.cache/a.ogg"));
	assert_true(exclude_path(&globs, "music/live/a.part"));
	assert_false(exclude_path(&globs, "music/live/a.ogg"));
	assert_false(exclude_path(&globs, "music.tmp.d/a.ogg"));
	assert_false(exclude_path(&globs, ""));
}

/* A leading dot is matched like any other character (no FNM_PERIOD):
 * "*.tmp" hides ".notes.tmp" even without ".*" in the list. */
static void test_leading_dot(void **state)
{
	struct strlist l;

	l = one("*.tmp");
	assert_true(exclude_name(&l, ".notes.tmp"));
	assert_true(exclude_path(&l, "docs/.notes.tmp"));
	l = one("*");
	assert_true(exclude_name(&l, ".hidden"));
	assert_true(exclude_name(&l, "visible"));
	l = one("?git");
	assert_true(exclude_name(&l, ".git"));
	l = one("[.]*");
	assert_true(exclude_name(&l, ".a"));
	l = one("*state");
	assert_true(exclude_path(&l, ".state/fisbot.db"));
	assert_false(exclude_path(&l, "states/fisbot.db"));
}

/* Each glob matches one component: a '*' never matches a '/'. */
static void test_components(void **state)
{
	struct strlist l;
	char long_name[600];

	l = one("a*b");
	assert_false(exclude_path(&l, "a/b"));
	assert_false(exclude_path(&l, "a/x/b"));
	assert_true(exclude_path(&l, "x/axxb/y"));
	l = one("*");
	assert_false(exclude_path(&l, ""));
	assert_true(exclude_path(&l, "anything"));
	l = one("music");
	assert_true(exclude_path(&l, "music/a.ogg"));
	assert_true(exclude_path(&l, "a/music"));
	assert_false(exclude_path(&l, "musical/a.ogg"));
	/* A component longer than any file name is still matched whole. */
	memset(long_name, 'x', sizeof(long_name) - 5);
	strcpy(long_name + sizeof(long_name) - 5, ".tmp");
	assert_true(exclude_path(&globs, long_name));
	long_name[sizeof(long_name) - 4] = 'o';
	assert_false(exclude_path(&globs, long_name));
}

/* A backslash quotes the next character. */
static void test_quoting(void **state)
{
	struct strlist l = one("\\*");

	assert_true(exclude_name(&l, "*"));
	assert_false(exclude_name(&l, "a"));
	l = one("\\[x]");
	assert_true(exclude_name(&l, "[x]"));
	assert_false(exclude_name(&l, "x"));
}

static void test_glob_problems(void **state)
{
	assert_null(exclude_glob_problem("*.tmp"));
	assert_null(exclude_glob_problem(".*"));
	assert_null(exclude_glob_problem("[abc]*"));
	assert_string_equal(exclude_glob_problem("a/b"),
	                    "contains '/' (each glob matches one path "
	                    "component)");
	assert_non_null(exclude_glob_problem("*/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_leading_dot),
	    cmocka_unit_test(test_components),
	    cmocka_unit_test(test_quoting),
	    cmocka_unit_test(test_glob_problems),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
