/* Unit tests for storing uploads: temporary files (unnamed and hidden),
 * naming without replacing, folder creation beneath the share, and no
 * leftovers. */
#define _GNU_SOURCE
#include <dirent.h>
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
#include <openssl/evp.h>

#include "http/upload_store.h"

struct fixture {
	char dir[64];
	int rootfd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/fisbot-upload-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->rootfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	*state = f;
	return f->rootfd == -1 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	close(f->rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Returns the number of entries of folder sub (relative to the fixture),
 * and counts hidden ones in *hidden. */
static int count_entries(struct fixture *f, const char *sub, int *hidden)
{
	char path[256];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", f->dir, sub);
	d = opendir(path);
	assert_non_null(d);
	*hidden = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n++;
		if (e->d_name[0] == '.')
			(*hidden)++;
	}
	closedir(d);
	return n;
}

/* Reads the file sub/name of the fixture into buf; returns its length. */
static ssize_t read_back(struct fixture *f, const char *rel, char *buf,
                         size_t max)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	fd = open(path, O_RDONLY);
	if (fd == -1)
		return -1;
	n = read(fd, buf, max);
	close(fd);
	return n;
}

/* Stores data as name in folder; returns the final name (caller frees). */
static char *store(struct fixture *f, const char *folder, const char *name,
                   const char *data, bool named)
{
	struct upload_store *s = upload_store_open(f->rootfd, folder, named);
	char *final;

	assert_non_null(s);
	assert_int_equal(upload_store_write(s, data, strlen(data)), 0);
	assert_int_equal(upload_store_size(s), strlen(data));
	final = upload_store_commit(s, name);
	assert_non_null(final);
	upload_store_close(s);
	return final;
}

static void run_commit_and_variants(void **state, bool named)
{
	struct fixture *f = *state;
	char buf[64];
	char *a, *b, *c;
	int hidden;

	a = store(f, "incoming", "song.ogg", "first", named);
	b = store(f, "incoming", "song.ogg", "second", named);
	c = store(f, "incoming", "song.ogg", "third", named);
	assert_string_equal(a, "song.ogg");
	assert_string_equal(b, "song (1).ogg");
	assert_string_equal(c, "song (2).ogg");
	assert_int_equal(read_back(f, "incoming/song.ogg", buf, sizeof(buf)),
	                 5);
	assert_memory_equal(buf, "first", 5);
	assert_int_equal(
	    read_back(f, "incoming/song (1).ogg", buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "second", 6);
	/* Nothing else in the folder: no temporary file left. */
	assert_int_equal(count_entries(f, "incoming", &hidden), 3);
	assert_int_equal(hidden, 0);
	free(a);
	free(b);
	free(c);
}

static void test_commit_unnamed(void **state)
{
	run_commit_and_variants(state, false);
}

static void test_commit_named(void **state)
{
	run_commit_and_variants(state, true);
}

static void test_sha256(void **state)
{
	struct fixture *f = *state;
	struct upload_store *s = upload_store_open(f->rootfd, "in", false);
	unsigned char got[32], want[32];
	char *final;

	assert_int_equal(upload_store_write(s, "hello ", 6), 0);
	assert_int_equal(upload_store_write(s, "world", 5), 0);
	final = upload_store_commit(s, "h.txt");
	upload_store_sha256(s, got);
	EVP_Digest("hello world", 11, want, NULL, EVP_sha256(), NULL);
	assert_memory_equal(got, want, 32);
	upload_store_close(s);
	free(final);
}

static void test_abandoned_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct upload_store *s;
	int hidden;

	for (int named = 0; named < 2; named++) {
		s = upload_store_open(f->rootfd, "incoming", named);
		assert_non_null(s);
		assert_int_equal(upload_store_write(s, "partial", 7), 0);
		if (named) {
			/* The hidden temporary name is there while writing. */
			assert_int_equal(count_entries(f, "incoming", &hidden),
			                 1);
			assert_int_equal(hidden, 1);
		}
		upload_store_close(s);
		assert_int_equal(count_entries(f, "incoming", &hidden), 0);
	}
}

static void test_nested_folder_created(void **state)
{
	struct fixture *f = *state;
	char *final = store(f, "a/b/c", "x", "data", false);
	struct stat st;
	char path[256];

	snprintf(path, sizeof(path), "%s/a/b/c/x", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4);
	free(final);
}

static void test_folder_links_refused(void **state)
{
	struct fixture *f = *state;
	char path[256];

	/* A link to a folder outside the share is not followed. */
	snprintf(path, sizeof(path), "%s/out", f->dir);
	assert_int_equal(symlink("/tmp", path), 0);
	assert_null(upload_store_open(f->rootfd, "out", false));
	assert_int_equal(errno, ELOOP);
	assert_null(upload_store_open(f->rootfd, "out/sub", true));
	assert_int_equal(errno, ELOOP);
	assert_null(upload_store_open(f->rootfd, "../x", false));
	assert_int_equal(errno, EXDEV);
	/* A file where the folder should be. */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	assert_null(upload_store_open(f->rootfd, "file", false));
}

static void test_all_variants_taken(void **state)
{
	struct fixture *f = *state;
	struct upload_store *s;
	char path[256];

	mkdir(strcat(strcpy(path, f->dir), "/in"), 0755);
	snprintf(path, sizeof(path), "%s/in/x", f->dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	for (unsigned n = 1; n <= UPLOAD_STORE_VARIANTS; n++) {
		snprintf(path, sizeof(path), "%s/in/x (%u)", f->dir, n);
		close(open(path, O_CREAT | O_WRONLY, 0644));
	}
	s = upload_store_open(f->rootfd, "in", false);
	assert_non_null(s);
	assert_null(upload_store_commit(s, "x"));
	assert_int_equal(errno, EEXIST);
	upload_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_commit_unnamed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_commit_named, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sha256, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_abandoned_leaves_nothing,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nested_folder_created, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_folder_links_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_all_variants_taken, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
