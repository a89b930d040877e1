/* Unit tests for the reconcile's streaming merge: the walk's order agrees
 * with the catalogue's path index for names that sort awkwardly around
 * '/', UTF-8 and bytes over 0x7f; a sub-folder's reconcile reads only its
 * own range of rows and leaves every other row alone; renames and
 * removals across pages of rows keep ids. */
#include <dirent.h>
#include <dlfcn.h>
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
#include "store/catalogue_write.h"

static const struct strlist no_globs = {NULL, 0};

/* While set, readdir says DT_UNKNOWN for every entry, as some file
 * systems do: the walk must stat to tell folders from files. */
static bool unknown_types;

/* Interposes libc's readdir for the code under test. */
struct dirent *readdir(DIR *d)
{
	static struct dirent *(*real)(DIR *);
	struct dirent *de;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "readdir");
	de = real(d);
	if (de != NULL && unknown_types)
		de->d_type = DT_UNKNOWN;
	return de;
}

/* A share and a catalogue in a temporary folder. */
struct fixture {
	char dir[32];
	char *db;
	int root;
	struct catalogue *c;
	uint64_t pending;
};

static int setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	char *cause = NULL;

	unknown_types = false; /* even after a test that failed */
	strcpy(fx->dir, "/tmp/scanmerge-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->db = xasprintf("%s.db", fx->dir);
	fx->root = open(fx->dir, O_RDONLY | O_DIRECTORY);
	fx->c = catalogue_open_writer(fx->db, &cause);
	if (fx->root < 0 || fx->c == NULL) {
		fprintf(stderr, "%s\n", cause ? cause : "cannot open");
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char *cmd = xasprintf("rm -rf '%s' '%s'*", fx->dir, fx->db);

	catalogue_close(fx->c);
	close(fx->root);
	if (system(cmd) != 0)
		return -1;
	free(cmd);
	free(fx->db);
	free(fx);
	return 0;
}

/* Writes a file of a few bytes at path in the share. */
static void put(int root, const char *path)
{
	int fd = openat(root, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, path, strlen(path)), (ssize_t)strlen(path));
	close(fd);
}

static int count_pending(const struct cat_file *f, void *arg)
{
	struct fixture *fx = arg;

	assert_true(f->id > 0);
	fx->pending++;
	return 0;
}

/* Reconciles dir in one transaction; returns the counts. */
static struct scan_counts reconcile(struct fixture *fx, const char *dir)
{
	struct scan_counts n = {0};

	assert_int_equal(catalogue_begin(fx->c), 0);
	assert_int_equal(scan_reconcile(fx->c, fx->root, dir, &no_globs, &n,
	                                count_pending, fx, NULL),
	                 0);
	assert_int_equal(catalogue_commit(fx->c), 0);
	return n;
}

/* Returns the id of the row at path, or 0 if there is none. */
static int64_t id_of(struct fixture *fx, const char *path)
{
	struct cat_file f = {0};
	int64_t id = 0;
	int rc = catalogue_get_by_path(fx->c, path, &f);

	assert_true(rc >= 0);
	if (rc == 1)
		id = f.id;
	cat_file_clear(&f);
	return id;
}

static int count_row(const struct cat_file *f, void *arg)
{
	(void)f;
	(*(size_t *)arg)++;
	return 0;
}

static size_t rows_under(struct fixture *fx, const char *dir)
{
	size_t n = 0;

	assert_int_equal(catalogue_foreach_under(fx->c, dir, count_row, &n), 0);
	return n;
}

/* Names on both sides of "a/b/" in byte order, as files and folders. */
static const char *const awkward[] = {
    "a/b",           "a/b c",      "a/b-",    "a/b!",
    "a/b.x",         "a/b0",       "a/B",     "a/b/f",
    "a/b/f g",       "a/b/f/h",    "a/b/f-",  "a/b/f0",
    "a.b",           "a0",         "a b",     "a/\xc3\xa9t\xc3\xa9",
    "a/\xc3\xa9/x",  "a/\xff\xfe", "a/\x7f",  "a/b\xc3\xa9",
    "a/b\xc3\xa9/y", "ab",         "a/b c/z",
};

/* Names that are folders in one run (holding a file) and files in another
 * are not made: each path above is a file unless another path goes
 * beneath it. */
static bool is_folder(const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < sizeof(awkward) / sizeof(*awkward); i++)
		if (strncmp(awkward[i], path, n) == 0 && awkward[i][n] == '/')
			return true;
	return false;
}

static void make_awkward(int root)
{
	for (size_t i = 0; i < sizeof(awkward) / sizeof(*awkward); i++) {
		char *p = xstrdup(awkward[i]);

		/* Its folders first, then the file itself unless a folder. */
		for (char *s = strchr(p, '/'); s != NULL;
		     s = strchr(s + 1, '/')) {
			*s = '\0';
			(void)mkdirat(root, p, 0700);
			*s = '/';
		}
		if (is_folder(p))
			(void)mkdirat(root, p, 0700);
		else
			put(root, p);
		free(p);
	}
}

static size_t awkward_files(void)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(awkward) / sizeof(*awkward); i++)
		n += !is_folder(awkward[i]);
	return n;
}

static void test_awkward_order(void **state)
{
	struct fixture *fx = *state;
	size_t nfiles = awkward_files();
	struct scan_counts n;
	int64_t id_f, id_b0;

	make_awkward(fx->root);
	n = reconcile(fx, "");
	assert_int_equal(n.added, nfiles);
	assert_int_equal(n.removed + n.changed + n.unchanged, 0);
	assert_int_equal(rows_under(fx, ""), nfiles);
	for (size_t i = 0; i < sizeof(awkward) / sizeof(*awkward); i++)
		if (!is_folder(awkward[i]))
			assert_true(id_of(fx, awkward[i]) > 0);

	/* Unchanged: every path meets its row, none looks gone or new (a
	 * walk out of the index's order would see a removal and an addition,
	 * paired as a rename of a file to its own path). */
	n = reconcile(fx, "");
	assert_int_equal(n.unchanged, nfiles);
	assert_int_equal(n.added + n.removed + n.changed + n.renamed, 0);
	assert_int_equal(n.rows_read, nfiles);

	/* The same for the folder "a" alone, and "a/b" alone. */
	n = reconcile(fx, "a");
	assert_int_equal(n.added + n.removed + n.changed + n.renamed, 0);
	assert_int_equal(n.unchanged, n.rows_read);
	assert_int_equal(n.rows_read, rows_under(fx, "a"));
	n = reconcile(fx, "a/b");
	assert_int_equal(n.added + n.removed + n.changed + n.renamed, 0);
	assert_int_equal(n.rows_read, 4); /* f g, f/h, f-, f0, and no more */

	/* A rename across the awkward neighbours keeps the id; a removal. */
	id_f = id_of(fx, "a/b/f g");
	id_b0 = id_of(fx, "a/b0");
	assert_int_equal(renameat(fx->root, "a/b/f g", fx->root, "a/b c/f g"),
	                 0);
	assert_int_equal(unlinkat(fx->root, "a/b-", 0), 0);
	n = reconcile(fx, "");
	assert_int_equal(n.renamed, 1);
	assert_int_equal(n.removed, 1);
	assert_int_equal(n.added + n.changed, 0);
	assert_int_equal(id_of(fx, "a/b c/f g"), id_f);
	assert_int_equal(id_of(fx, "a/b/f g"), 0);
	assert_int_equal(id_of(fx, "a/b-"), 0);
	assert_int_equal(id_of(fx, "a/b0"), id_b0);
}

/* The same where the file system does not give entry types. */
static void test_awkward_order_unknown_types(void **state)
{
	unknown_types = true;
	test_awkward_order(state);
	unknown_types = false;
}

/* Adds a row for path that is not on disk (as if elsewhere). */
static void add_row(struct fixture *fx, const char *path, uint64_t ino)
{
	struct cat_file f = {0};

	f.path = (char *)path;
	f.size = 7;
	f.mtime_ns = 1000;
	f.ctime_ns = 1000;
	f.dev = 1;
	f.ino = ino;
	assert_int_equal(catalogue_upsert(fx->c, &f), 0);
}

static void test_subfolder_range(void **state)
{
	struct fixture *fx = *state;
	static const char *const outside[] = {
	    "a b/x", "a-/x", "a.x", "a0", "a0/y", "a", "b/1", "b/2", "`a/z",
	};
	struct scan_counts n;
	char path[64];
	size_t nout = sizeof(outside) / sizeof(*outside);

	/* A large catalogue outside "a", none of it on disk. */
	assert_int_equal(catalogue_begin(fx->c), 0);
	for (size_t i = 0; i < nout; i++)
		add_row(fx, outside[i], 100 + i);
	for (unsigned i = 0; i < 3000; i++) {
		snprintf(path, sizeof(path), "z/%04u", i);
		add_row(fx, path, 1000 + i);
	}
	assert_int_equal(catalogue_commit(fx->c), 0);

	/* The new folder "a" on disk, with a folder of its own. */
	assert_int_equal(mkdirat(fx->root, "a", 0700), 0);
	assert_int_equal(mkdirat(fx->root, "a/s", 0700), 0);
	put(fx->root, "a/1");
	put(fx->root, "a/s/2");
	n = reconcile(fx, "a");
	assert_int_equal(n.added, 2);
	assert_int_equal(n.removed + n.changed + n.unchanged, 0);
	assert_int_equal(n.rows_read, 0);

	/* Again: only its two rows are read, nothing outside is touched. */
	n = reconcile(fx, "a");
	assert_int_equal(n.unchanged, 2);
	assert_int_equal(n.rows_read, 2);
	assert_int_equal(n.added + n.removed + n.changed, 0);
	for (size_t i = 0; i < nout; i++)
		assert_true(id_of(fx, outside[i]) > 0);
	assert_int_equal(rows_under(fx, "z"), 3000);

	/* A row under "a" not on disk is removed; still nothing else read. */
	assert_int_equal(catalogue_begin(fx->c), 0);
	add_row(fx, "a/s/gone", 9);
	assert_int_equal(catalogue_commit(fx->c), 0);
	n = reconcile(fx, "a/s");
	assert_int_equal(n.removed, 1);
	assert_int_equal(n.unchanged, 1);
	assert_int_equal(n.rows_read, 2);
	assert_int_equal(id_of(fx, "a/s/gone"), 0);
	assert_int_equal(rows_under(fx, ""), nout + 3000 + 2);
}

static void test_pages(void **state)
{
	struct fixture *fx = *state;
	struct scan_counts n;
	char path[64], to[64];
	int64_t id_early, id_late;
	unsigned i;

	/* 1,500 files over three folders: several pages of rows. */
	assert_int_equal(mkdirat(fx->root, "m", 0700), 0);
	assert_int_equal(mkdirat(fx->root, "n", 0700), 0);
	assert_int_equal(mkdirat(fx->root, "o", 0700), 0);
	for (i = 0; i < 1500; i++) {
		snprintf(path, sizeof(path), "%c/%04u", "mno"[i % 3], i);
		put(fx->root, path);
	}
	n = reconcile(fx, "");
	assert_int_equal(n.added, 1500);
	/* Ids follow the path order. */
	assert_true(id_of(fx, "m/0000") < id_of(fx, "m/0003"));
	assert_true(id_of(fx, "m/1497") < id_of(fx, "n/0001"));

	/* Moves both ways across pages, removals on every page, additions
	 * before and after every row. */
	id_early = id_of(fx, "m/0003");
	id_late = id_of(fx, "o/1499");
	assert_int_equal(renameat(fx->root, "m/0003", fx->root, "o/zz"), 0);
	assert_int_equal(renameat(fx->root, "o/1499", fx->root, "m/0000a"), 0);
	for (i = 30; i < 1500; i += 299) {
		snprintf(path, sizeof(path), "%c/%04u", "mno"[i % 3], i);
		assert_int_equal(unlinkat(fx->root, path, 0), 0);
	}
	put(fx->root, "a-first");
	put(fx->root, "n/new");
	put(fx->root, "z-last");
	fx->pending = 0;
	n = reconcile(fx, "");
	assert_int_equal(n.renamed, 2);
	assert_int_equal(n.removed, 5);
	assert_int_equal(n.added, 3);
	assert_int_equal(n.changed, 0);
	assert_int_equal(n.unchanged, 1500 - 5);
	assert_int_equal(fx->pending, 3 + 1500 - 5); /* none hashed here */
	assert_int_equal(id_of(fx, "o/zz"), id_early);
	assert_int_equal(id_of(fx, "m/0000a"), id_late);
	assert_int_equal(id_of(fx, "m/0003"), 0);
	assert_int_equal(id_of(fx, "m/0030"), 0);
	assert_true(id_of(fx, "a-first") > 0 && id_of(fx, "z-last") > 0);
	assert_int_equal(rows_under(fx, ""), 1500 - 5 + 3);

	/* Unchanged now; a folder gone takes its rows with it. */
	n = reconcile(fx, "");
	assert_int_equal(n.added + n.removed + n.changed + n.renamed, 0);
	snprintf(to, sizeof(to), "rm -rf '%s/n'", fx->dir);
	assert_int_equal(system(to), 0);
	n = reconcile(fx, "");
	assert_int_equal(n.removed, 499 + 1);
	assert_int_equal(rows_under(fx, "n"), 0);
}

static int stop_after_100(const struct cat_file *f, void *arg)
{
	struct fixture *fx = arg;

	(void)f;
	return ++fx->pending >= 100 ? -1 : 0;
}

/* A merge that fails early stops the walk running ahead of it, however
 * far ahead it is (more files than the walker may hand over unmerged):
 * no hang, nothing leaked; the next reconcile does the whole share. */
static void test_stop_mid_walk(void **state)
{
	struct fixture *fx = *state;
	struct scan_counts n = {0};
	char path[64];

	for (unsigned d = 0; d < 6; d++) {
		snprintf(path, sizeof(path), "d%u", d);
		assert_int_equal(mkdirat(fx->root, path, 0700), 0);
		for (unsigned i = 0; i < 1000; i++) {
			snprintf(path, sizeof(path), "d%u/f%04u", d, i);
			put(fx->root, path);
		}
	}
	assert_int_equal(catalogue_begin(fx->c), 0);
	assert_int_equal(scan_reconcile(fx->c, fx->root, "", &no_globs, &n,
	                                stop_after_100, fx, NULL),
	                 -1);
	assert_int_equal(fx->pending, 100);
	assert_int_equal(catalogue_rollback(fx->c), 0);
	fx->pending = 0;
	n = reconcile(fx, "");
	assert_int_equal(n.added, 6000);
	assert_int_equal(fx->pending, 6000);
	assert_int_equal(rows_under(fx, ""), 6000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_awkward_order, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_awkward_order_unknown_types,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_mid_walk, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_subfolder_range, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
