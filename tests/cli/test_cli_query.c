/* Unit tests for fisbot search, ls and info: exact output lines (those of
 * the chat commands) and exit codes, on a temporary catalogue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fisbot/alloc.h"
#include "fisbot/config.h"
#include "store/catalogue_write.h"

static char dir[] = "/tmp/fisbot-cli-XXXXXX";
static struct config cfg;
static int64_t song_id, other_id, hostile_id;

/* Adds a hashed file; returns its id. */
static int64_t add(struct catalogue *c, const char *path, uint64_t size,
                   const char *type)
{
	struct cat_file f = {0};
	unsigned char sha[32];
	bool stale;

	for (int i = 0; i < 32; i++)
		sha[i] = (unsigned char)i;
	f.path = (char *)path;
	f.size = size;
	f.mtime_ns = 5;
	assert_int_equal(catalogue_upsert(c, &f), 0);
	assert_int_equal(
	    catalogue_set_hash(c, f.id, size, 5, sha, type, &stale), 0);
	return f.id;
}

static int setup(void **state)
{
	struct catalogue *c;
	char *cause = NULL;

	if (mkdtemp(dir) == NULL)
		return -1;
	cfg.share.database = xasprintf("%s/fisbot.db", dir);
	c = catalogue_open_writer(cfg.share.database, &cause);
	if (c == NULL)
		return -1;
	song_id = add(c, "music/live/song.ogg", 3 << 20, "audio/ogg");
	other_id = add(c, "music/live/other.ogg", 12 << 20 | 1 << 19, "");
	catalogue_add_dir(c, "music/live/encores");
	hostile_id = add(c, "bad/\xff<&>\n.txt", 10, "text/plain");
	catalogue_set_description(c, song_id, "Live\tat home");
	/* An admin's `describe ID ""` removes a description. */
	catalogue_set_description(c, other_id, "");
	catalogue_close(c);
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
	free(cfg.share.database);
	return 0;
}

/* Runs fn with standard output captured; returns the output (the caller
 * frees it) and stores the exit code in *rc. */
static char *capture(int (*fn)(const struct config *, int, char **), int argc,
                     char **argv, int *rc)
{
	char *path = xasprintf("%s/out", dir);
	char *out = xcalloc(1, 1 << 20);
	int saved, fd;
	ssize_t n;

	fflush(stdout);
	saved = dup(1);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 1);
	*rc = fn(&cfg, argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	n = pread(fd, out, (1 << 20) - 1, 0);
	assert_true(n >= 0);
	close(fd);
	free(path);
	return out;
}

static void test_search(void **state)
{
	char *argv[] = {(char *)"live", (char *)"*.ogg"};
	char *bad[] = {(char *)"size:>10Q"};
	char *none[] = {(char *)"nothing"};
	char *hostile[] = {(char *)"bad"};
	char *out;
	int rc;

	out = capture(cli_search, 2, argv, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "#2 music/live/other.ogg (12.5 MiB)\n"
	                         "#1 music/live/song.ogg (3.0 MiB)\n");
	free(out);
	out = capture(cli_search, 1, bad, &rc);
	assert_int_equal(rc, 2);
	assert_string_equal(out, "");
	free(out);
	out = capture(cli_search, 1, none, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	free(out);
	/* A hostile name stays on one line, escaped. */
	out = capture(cli_search, 1, hostile, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "#3 bad/\\xFF<&>\\x0A.txt (10 B)\n");
	free(out);
}

static void test_ls(void **state)
{
	char *live[] = {(char *)"/music/live/"};
	char *nope[] = {(char *)"nope"};
	char *out;
	int rc;

	out = capture(cli_ls, 1, live, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "music/live/encores/\n"
	                         "#2 music/live/other.ogg (12.5 MiB)\n"
	                         "#1 music/live/song.ogg (3.0 MiB)\n");
	free(out);
	out = capture(cli_ls, 0, NULL, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "bad/\nmusic/\n");
	free(out);
	out = capture(cli_ls, 1, nope, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(out, "");
	free(out);
}

static void test_info(void **state)
{
	char *by_id[] = {(char *)"#1"};
	char *by_path[] = {(char *)"bad/\xff<&>\n.txt"};
	char *by_other[] = {(char *)"music/live/other.ogg"};
	char *missing[] = {(char *)"99"};
	char *out;
	int rc;

	out = capture(cli_info, 1, by_id, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "id: 1\n"
	                            "name: song.ogg\n"
	                            "path: music/live/song.ogg\n"
	                            "size: 3.0 MiB (3145728 bytes)\n"
	                            "modified: "));
	assert_non_null(strstr(out, "Z\nadded: 20"));
	assert_non_null(strstr(out, "Z\nsha-256: 000102030405060708090a0b0c0d"
	                            "0e0f101112131415161718191a1b1c1d1e1f\n"
	                            "type: audio/ogg\n"
	                            "description: Live\\x09at home\n"
	                            "downloads: 0\n"));
	free(out);
	out = capture(cli_info, 1, by_path, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "path: bad/\\xFF<&>\\x0A.txt\n"));
	assert_non_null(strstr(out, "description: (none)\n"));
	free(out);
	/* No description and no type: said as the chat says it. */
	out = capture(cli_info, 1, by_other, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "\ntype: (unknown)\n"
	                            "description: (none)\n"));
	free(out);
	out = capture(cli_info, 1, missing, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(out, "");
	free(out);
}

static void test_no_catalogue(void **state)
{
	char *argv[] = {(char *)"x"};
	char *saved = cfg.share.database;
	char *out;
	int rc;

	cfg.share.database = xasprintf("%s/missing.db", dir);
	out = capture(cli_search, 1, argv, &rc);
	assert_int_equal(rc, 1);
	free(out);
	out = capture(cli_ls, 0, NULL, &rc);
	assert_int_equal(rc, 1);
	free(out);
	out = capture(cli_info, 1, argv, &rc);
	assert_int_equal(rc, 1);
	free(out);
	/* The reader did not create it. */
	assert_int_equal(access(cfg.share.database, F_OK), -1);
	free(cfg.share.database);
	cfg.share.database = saved;
}

/* More matches than a page of the CLI (1000): every one is printed, and
 * ls lists every file of a folder that large. */
static void test_many_pages(void **state)
{
	char *pages[] = {(char *)"pages/"};
	char *folder[] = {(char *)"pages"};
	struct catalogue *c;
	char *cause = NULL, *out, *line;
	size_t lines = 0;
	int rc;

	c = catalogue_open_writer(cfg.share.database, &cause);
	assert_non_null(c);
	assert_int_equal(catalogue_begin(c), 0);
	for (int i = 0; i < 2345; i++) {
		char *path = xasprintf("pages/file%04d.dat", i);

		add(c, path, 1, "application/octet-stream");
		free(path);
	}
	assert_int_equal(catalogue_commit(c), 0);
	catalogue_close(c);
	out = capture(cli_search, 1, pages, &rc);
	assert_int_equal(rc, 0);
	for (line = out; (line = strchr(line, '\n')) != NULL; line++)
		lines++;
	assert_int_equal(lines, 2345);
	/* Newest first: the last one added comes first. */
	assert_non_null(strstr(out, "pages/file2344.dat (1 B)\n"));
	assert_true(strstr(out, "file2344") < strstr(out, "file0000"));
	free(out);
	out = capture(cli_ls, 1, folder, &rc);
	assert_int_equal(rc, 0);
	lines = 0;
	for (line = out; (line = strchr(line, '\n')) != NULL; line++)
		lines++;
	assert_int_equal(lines, 2345);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_search),
	    cmocka_unit_test(test_ls),
	    cmocka_unit_test(test_info),
	    cmocka_unit_test(test_no_catalogue),
	    cmocka_unit_test(test_many_pages),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
