/* Unit tests for opening, stat-ing and access checks beneath a directory:
 * with openat2, with the walk, and with openat2 refused by a seccomp
 * filter (ENOSYS, EPERM) as in some containers. */
#define _GNU_SOURCE /* O_PATH */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/beneath.h"

static char dir[64];

/* The opener under test: beneath_open, or the walk alone. */
typedef int (*open_fn)(int rootfd, const char *path, int flags);

/* Creates dir/rel holding "hello". */
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

/*
 * Makes a temporary share with a file, a folder, links (inside, escaping,
 * to a folder), a FIFO and a file outside; returns the share's descriptor
 * (O_PATH, as the HTTP server holds it). q receives the outside file's
 * absolute path.
 */
static int make_share(char *q, size_t qlen)
{
	char p[256];
	int root;

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
	snprintf(q, qlen, "%s/outside", dir);
	assert_int_equal(symlink(q, p), 0);
	snprintf(p, sizeof(p), "%s/share/dirlink", dir);
	assert_int_equal(symlink("sub", p), 0);
	snprintf(p, sizeof(p), "%s/share/fifo", dir);
	assert_int_equal(mkfifo(p, 0644), 0);
	snprintf(p, sizeof(p), "%s/share", dir);
	root = open(p, O_PATH | O_DIRECTORY);
	assert_true(root >= 0);
	return root;
}

/* Removes the temporary share. */
static void remove_share(int root)
{
	char p[256];

	close(root);
	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	assert_int_equal(system(p), 0);
}

/* Returns 0 if fd is open on a regular file / folder (is_dir), then closes
 * it; -1 otherwise. */
static int is_kind(int fd, bool is_dir)
{
	struct stat st;
	int ok;

	if (fd < 0)
		return -1;
	ok = fstat(fd, &st) == 0 &&
	     (is_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
	close(fd);
	return ok ? 0 : -1;
}

/* Returns 0 if open refuses path with errno err (0: any errno). */
static int refused(open_fn open_at, int root, const char *path, int flags,
                   int err)
{
	int fd = open_at(root, path, flags);

	if (fd >= 0) {
		close(fd);
		return -1;
	}
	return err == 0 || errno == err ? 0 : -1;
}

/*
 * Checks every rule with open_at, without cmocka (it also runs in a child
 * process under a seccomp filter). Returns 0, or the line of the first
 * failed check.
 */
static int check_rules(open_fn open_at, int root, const char *outside)
{
	const int rd = O_RDONLY | O_NONBLOCK;
	struct stat st;
	int fd;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			return __LINE__;                                       \
	} while (0)
	CHECK(is_kind(open_at(root, "a", rd), false) == 0);
	CHECK(is_kind(open_at(root, "sub/b", rd), false) == 0);
	CHECK(is_kind(open_at(root, "sub", O_RDONLY | O_DIRECTORY), true) == 0);
	CHECK(is_kind(open_at(root, "sub", O_PATH | O_DIRECTORY), true) == 0);
	/* "" is the directory itself. */
	CHECK(is_kind(open_at(root, "", O_RDONLY | O_DIRECTORY), true) == 0);
	/* A FIFO opens without blocking (the caller refuses it by fstat). */
	fd = open_at(root, "fifo", rd);
	CHECK(fd >= 0);
	close(fd);

	CHECK(refused(open_at, root, "link", rd, ELOOP) == 0);
	CHECK(refused(open_at, root, "link", O_PATH, ELOOP) == 0);
	CHECK(refused(open_at, root, "link", O_PATH | O_NOFOLLOW, ELOOP) == 0);
	CHECK(refused(open_at, root, "escape", rd, ELOOP) == 0);
	CHECK(refused(open_at, root, "dirlink/b", rd, 0) == 0);
	CHECK(refused(open_at, root, "dirlink", O_PATH | O_DIRECTORY, 0) == 0);
	CHECK(refused(open_at, root, "../outside", rd, 0) == 0);
	CHECK(refused(open_at, root, "sub/../../outside", rd, 0) == 0);
	CHECK(refused(open_at, root, outside, rd, EXDEV) == 0);
	CHECK(refused(open_at, root, "missing", rd, ENOENT) == 0);
	CHECK(refused(open_at, root, "sub/missing", rd, ENOENT) == 0);

	CHECK(beneath_stat(root, "sub/b", &st) == 0 && S_ISREG(st.st_mode) &&
	      st.st_size == 5);
	CHECK(beneath_stat(root, "link", &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(beneath_stat(root, "", &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(beneath_stat(root, "dirlink/b", &st) == -1);
	CHECK(beneath_stat(root, outside, &st) == -1 && errno == EXDEV);
	CHECK(beneath_stat(root, "nope/x", &st) == -1 && errno == ENOENT);

	CHECK(beneath_readable(root, "sub/b", false));
	CHECK(beneath_readable(root, "sub", true));
	CHECK(beneath_readable(root, "", true));
	CHECK(!beneath_readable(root, "dirlink/b", false));
	CHECK(!beneath_readable(root, "missing", false));
	CHECK(!beneath_readable(root, outside, false));
#undef CHECK
	return 0;
}

static void test_openat2(void **state)
{
	char outside[256];
	int root = make_share(outside, sizeof(outside));

	assert_int_equal(check_rules(beneath_open, root, outside), 0);
	remove_share(root);
}

static void test_walk(void **state)
{
	char outside[256];
	int root = make_share(outside, sizeof(outside));

	assert_int_equal(check_rules(beneath_walk, root, outside), 0);
	remove_share(root);
}

/* Makes openat2 fail with err in this process, as a container's seccomp
 * filter may. Returns 0, or -1 if seccomp is not available. */
static int refuse_openat2(int err)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	             offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K,
	             SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
		return -1;
	return 0;
}

/* Runs the rules through beneath_open in a child process where openat2
 * fails with err: every open falls back to the walk. */
static void run_refused(int err)
{
	char outside[256];
	int root = make_share(outside, sizeof(outside)), status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int line;

		if (refuse_openat2(err) == -1)
			_exit(255);
		/* The filter is in force... */
		if (syscall(SYS_openat2, root, "a", NULL, 0) != -1 ||
		    errno != err)
			_exit(254);
		/* ...and every rule still holds, twice (the second time
		 * without trying openat2). */
		line = check_rules(beneath_open, root, outside);
		if (line == 0)
			line = check_rules(beneath_open, root, outside);
		_exit(line > 250 ? 250 : line);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 255) {
		remove_share(root);
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	remove_share(root);
}

static void test_openat2_enosys(void **state)
{
	run_refused(ENOSYS);
}

static void test_openat2_eperm(void **state)
{
	run_refused(EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_openat2),
	    cmocka_unit_test(test_walk),
	    cmocka_unit_test(test_openat2_enosys),
	    cmocka_unit_test(test_openat2_eperm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
