/* Unit tests for the share file-system helpers: exclude globs, path joins,
 * and opens beneath the root that refuse links and "..". */
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

static void test_beneath(void **state)
{
	char tmpl[] = "/tmp/fsutil-XXXXXX";
	char *dir = mkdtemp(tmpl), *path;
	struct stat st;
	int root, fd;

	assert_non_null(dir);
	root = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(root >= 0);
	assert_int_equal(mkdirat(root, "sub", 0700), 0);
	fd = openat(root, "sub/f", O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	assert_int_equal(symlinkat("sub/f", root, "link"), 0);
	assert_int_equal(symlinkat("sub", root, "dirlink"), 0);

	fd = fsutil_open_beneath(root, "sub/f", O_RDONLY);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(fsutil_open_beneath(root, "link", O_RDONLY), -1);
	assert_int_equal(fsutil_open_beneath(root, "dirlink/f", O_RDONLY), -1);
	assert_int_equal(fsutil_open_beneath(root, "../etc/passwd", O_RDONLY),
	                 -1);
	assert_int_equal(fsutil_open_beneath(root, "/etc/passwd", O_RDONLY),
	                 -1);

	assert_int_equal(fsutil_stat_beneath(root, "sub/f", &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 3);
	assert_int_equal(fsutil_stat_beneath(root, "link", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(fsutil_stat_beneath(root, "dirlink/f", &st), -1);
	assert_int_equal(fsutil_stat_beneath(root, "", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(fsutil_stat_beneath(root, "nope/x", &st), -1);
	assert_int_equal(errno, ENOENT);

	unlinkat(root, "link", 0);
	unlinkat(root, "dirlink", 0);
	unlinkat(root, "sub/f", 0);
	unlinkat(root, "sub", AT_REMOVEDIR);
	close(root);
	path = strdup(dir);
	assert_int_equal(rmdir(path), 0);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_excluded),
	    cmocka_unit_test(test_path_excluded),
	    cmocka_unit_test(test_join_under),
	    cmocka_unit_test(test_beneath),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
