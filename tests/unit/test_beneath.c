/* Unit tests for beneath_open, with openat2 and with the fallback walk. */
#define _GNU_SOURCE /* O_PATH */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"

static char dir[64];

static void make_file(const char *rel)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);
}

static void run(bool walk)
{
	char p[256], q[256];
	int root, fd;

	snprintf(dir, sizeof(dir), "/tmp/fisbot-beneath-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/share", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/share/sub", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	make_file("outside");
	make_file("share/a");
	make_file("share/sub/b");
	snprintf(p, sizeof(p), "%s/share/link", dir);
	assert_int_equal(symlink("a", p), 0);
	snprintf(p, sizeof(p), "%s/share/escape", dir);
	snprintf(q, sizeof(q), "%s/outside", dir);
	assert_int_equal(symlink(q, p), 0);
	snprintf(p, sizeof(p), "%s/share/dirlink", dir);
	assert_int_equal(symlink("sub", p), 0);
	snprintf(p, sizeof(p), "%s/share/fifo", dir);
	assert_int_equal(mkfifo(p, 0644), 0);
	snprintf(p, sizeof(p), "%s/share", dir);
	root = open(p, O_PATH | O_DIRECTORY);
	assert_true(root >= 0);

	fd = beneath_open(root, "a", walk);
	assert_true(fd >= 0);
	close(fd);
	fd = beneath_open(root, "sub/b", walk);
	assert_true(fd >= 0);
	close(fd);
	/* A FIFO opens without blocking (the caller refuses it by fstat). */
	fd = beneath_open(root, "fifo", walk);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(beneath_open(root, "link", walk), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(beneath_open(root, "escape", walk), -1);
	assert_int_equal(beneath_open(root, "dirlink/b", walk), -1);
	assert_int_equal(beneath_open(root, "../outside", walk), -1);
	assert_int_equal(beneath_open(root, "sub/../../outside", walk), -1);
	assert_int_equal(beneath_open(root, q, walk), -1);
	assert_int_equal(beneath_open(root, "", walk), -1);
	assert_int_equal(beneath_open(root, "missing", walk), -1);
	assert_int_equal(errno, ENOENT);
	close(root);

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	assert_int_equal(system(p), 0);
}

static void test_openat2(void **state)
{
	run(false);
}

static void test_walk(void **state)
{
	run(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_openat2),
	    cmocka_unit_test(test_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
