/* Unit tests for the reconcile walk's disk side: what is listed (regular
 * files and folders that pass the exclude globs) and what never is
 * (links, excluded names, anything under an excluded folder). */
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

#include "fisbot/alloc.h"
#include "index/scan.h"

static char g0[] = ".*", g1[] = "*.part";
static char *defaults[] = {g0, g1};
static const struct strlist globs = {defaults, 2};

static void put(int root, const char *path)
{
	int fd = openat(root, path, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, path, strlen(path)), (ssize_t)strlen(path));
	close(fd);
}

/* Returns the entry for path in l, or NULL. */
static const struct scan_entry *find(const struct scan_list *l,
                                     const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].path, path) == 0)
			return &l->v[i];
	return NULL;
}

static void test_walk(void **state)
{
	char tmpl[] = "/tmp/scanwalk-XXXXXX";
	struct scan_list l = {0};
	const struct scan_entry *e;
	char *cmd;
	int root;

	assert_non_null(mkdtemp(tmpl));
	root = open(tmpl, O_RDONLY | O_DIRECTORY);
	assert_true(root >= 0);
	assert_int_equal(mkdirat(root, "a", 0700), 0);
	assert_int_equal(mkdirat(root, "a/b", 0700), 0);
	assert_int_equal(mkdirat(root, ".git", 0700), 0);
	put(root, "top");
	put(root, "a/one");
	put(root, "a/b/two");
	put(root, "a/.hidden");
	put(root, "a/x.part");
	put(root, ".git/config");
	assert_int_equal(symlinkat("/etc/passwd", root, "out"), 0);
	assert_int_equal(symlinkat("a", root, "dirlink"), 0);
	assert_int_equal(symlinkat("loop", root, "loop"), 0);
	assert_int_equal(mkfifoat(root, "fifo", 0600), 0);

	assert_int_equal(scan_walk(root, "", &globs, &l), 0);
	assert_int_equal(l.n, 5);
	assert_non_null(e = find(&l, "top"));
	assert_false(e->is_dir);
	assert_int_equal(e->size, 3);
	assert_non_null(e = find(&l, "a"));
	assert_true(e->is_dir);
	assert_non_null(find(&l, "a/one"));
	assert_non_null(find(&l, "a/b"));
	assert_non_null(e = find(&l, "a/b/two"));
	assert_true(e->ino != 0 && e->mtime_ns > 0);
	scan_list_free(&l);

	/* The folders alone (for the watcher). */
	assert_int_equal(scan_walk_dirs(root, "", &globs, &l), 0);
	assert_int_equal(l.n, 2);
	assert_non_null(e = find(&l, "a"));
	assert_true(e->is_dir);
	assert_non_null(e = find(&l, "a/b"));
	assert_true(e->is_dir);
	scan_list_free(&l);

	/* A sub-folder alone. */
	assert_int_equal(scan_walk(root, "a/b", &globs, &l), 0);
	assert_int_equal(l.n, 1);
	assert_non_null(find(&l, "a/b/two"));
	scan_list_free(&l);

	/* Never through a link, never a missing folder. */
	assert_int_equal(scan_walk(root, "dirlink", &globs, &l), -1);
	assert_int_equal(scan_walk(root, "nope", &globs, &l), -1);
	assert_int_equal(l.n, 0);

	close(root);
	cmd = xasprintf("rm -rf '%s'", tmpl);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_walk)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
