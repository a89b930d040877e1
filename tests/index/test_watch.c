/*
 * The watcher end to end: starts the indexer with its inotify watcher on a
 * temporary share, changes files, and checks the catalogue (through a
 * read-only connection) and the events sent to the main thread. Each check
 * waits for the catalogue to converge (up to a generous limit); timing is
 * measured by the benchmark, not asserted here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fisbot/alloc.h"
#include "fisbot/catalogue.h"
#include "fisbot/log.h"
#include "index/indexer.h"
#include "index/watch.h"
#include "share_dir.h"

#define CONVERGE_MS 20000

static char share[PATH_MAX], dbpath[PATH_MAX], tmpdir[SHARE_DIR_MAX];
static pthread_mutex_t notes_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned ready_events, removed_events;

/* The notify callback: counts events. */
static void on_event(const struct indexer_event *ev, void *arg)
{
	pthread_mutex_lock(&notes_lock);
	if (ev->kind == INDEXER_FILE_READY)
		ready_events++;
	else
		removed_events++;
	pthread_mutex_unlock(&notes_lock);
}

static unsigned ready_count(void)
{
	unsigned n;

	pthread_mutex_lock(&notes_lock);
	n = ready_events;
	pthread_mutex_unlock(&notes_lock);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Writes len bytes of content to share/rel. */
static void put(const char *rel, const char *content)
{
	char *p = xasprintf("%s/%s", share, rel);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
	free(p);
}

static void mk(const char *rel)
{
	char *p = xasprintf("%s/%s", share, rel);

	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
}

static void mv(const char *from, const char *to)
{
	char *a = xasprintf("%s/%s", share, from);
	char *b = xasprintf("%s/%s", share, to);

	assert_int_equal(rename(a, b), 0);
	free(a);
	free(b);
}

/* Looks path up in a fresh read-only connection: 1 found and hashed, 0
 * absent, 2 present without a hash. */
static int lookup(const char *path, struct cat_file *out)
{
	char *cause = NULL;
	struct catalogue *c = catalogue_open(dbpath, &cause);
	struct cat_file f = {0};
	int found;

	assert_non_null(c);
	found = catalogue_get_by_path(c, path, &f);
	assert_true(found >= 0);
	catalogue_close(c);
	if (found == 1 && !f.hashed)
		found = 2;
	if (out != NULL)
		*out = f;
	else
		cat_file_clear(&f);
	return found;
}

/* Waits until lookup(path) == want; fails after CONVERGE_MS. */
static void await(struct indexer *ix, const char *path, int want)
{
	for (int waited = 0; waited < CONVERGE_MS; waited += 20) {
		(void)indexer_wait_idle(ix, NULL);
		if (lookup(path, NULL) == want)
			return;
		sleep_ms(20);
	}
	fail_msg("\"%s\" did not reach state %d", path, want);
}

/* Waits until path has media type want; fails after CONVERGE_MS. */
static void await_type(const char *path, const char *want)
{
	struct cat_file f = {0};

	for (int waited = 0; waited < CONVERGE_MS; waited += 20) {
		int found = lookup(path, &f);
		bool ok = found == 1 && f.media_type != NULL &&
		          strcmp(f.media_type, want) == 0;

		cat_file_clear(&f);
		if (ok)
			return;
		sleep_ms(20);
	}
	fail_msg("\"%s\" did not get the type %s", path, want);
}

/* The SHA-256 of a string. */
static void sha(const char *s, unsigned char out[32])
{
	unsigned int n = 32;

	EVP_Digest(s, strlen(s), out, &n, EVP_sha256(), NULL);
}

static void test_watch(void **state)
{
	struct config cfg = {0};
	struct indexer_options opt = {
	    .watch = true, .notify = on_event, .type_later = true};
	struct indexer *ix;
	struct cat_file f = {0}, g = {0};
	unsigned char want[32];
	char *cause = NULL, name[PATH_MAX + 64];
	int64_t ids[50];
	unsigned before, nflood;
	FILE *q;

	cfg.share.path = share;
	cfg.share.database = dbpath;
	strlist_add(&cfg.share.exclude, ".*");
	strlist_add(&cfg.share.exclude, "*.part");
	cfg.share.hash_threads = 2;
	cfg.share.settle_ms = 100;

	put("old.txt", "old");
	mk("flood");
	ix = indexer_start(&cfg, &opt, &cause);
	assert_non_null(ix);
	assert_non_null(indexer_watch(ix));
	await(ix, "old.txt", 1);

	/* A new file: settled, hashed, searchable. */
	put("new.txt", "hello");
	await(ix, "new.txt", 1);
	assert_int_equal(lookup("new.txt", &f), 1);
	sha("hello", want);
	assert_memory_equal(f.sha256, want, 32);
	cat_file_clear(&f);

	/* A type only libmagic tells: the file is hashed without one, then
	 * typed in the background; typed again when it changes. */
	put("run", "#!/bin/sh\necho hello\n");
	await_type("run", "text/x-shellscript");
	put("run", "#!/usr/bin/perl\nprint 1;\n");
	await_type("run", "text/x-perl");

	/* A new folder filled at once: nothing is missed. */
	mk("d");
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "d/f%02d", i);
		put(name, name);
	}
	mk("d/sub");
	put("d/sub/deep", "deep");
	await(ix, "d/f49", 1);
	await(ix, "d/sub/deep", 1);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "d/f%02d", i);
		await(ix, name, 1);
		assert_int_equal(lookup(name, &f), 1);
		ids[i] = f.id;
		cat_file_clear(&f);
	}

	/* The folder renamed: same ids, nothing hashed again. */
	before = ready_count();
	mv("d", "e");
	await(ix, "e/sub/deep", 1);
	await(ix, "d/f00", 0);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "e/f%02d", i);
		assert_int_equal(lookup(name, &f), 1);
		assert_int_equal(f.id, ids[i]);
		cat_file_clear(&f);
	}
	put("e/after", "after"); /* the renamed folder is still watched */
	await(ix, "e/after", 1);
	assert_int_equal(ready_count(), before + 1);

	/* A file renamed (its ctime moves): same id, not hashed again. A
	 * changed file: new hash, same id. */
	assert_int_equal(lookup("new.txt", &f), 1);
	before = ready_count();
	mv("new.txt", "renamed.txt");
	await(ix, "new.txt", 0);
	await(ix, "renamed.txt", 1);
	assert_int_equal(ready_count(), before);
	assert_int_equal(lookup("renamed.txt", &g), 1);
	assert_int_equal(f.id, g.id);
	assert_memory_equal(f.sha256, g.sha256, 32);
	cat_file_clear(&g);
	put("renamed.txt", "changed!");
	sha("changed!", want);
	for (int waited = 0; waited < CONVERGE_MS; waited += 20) {
		(void)indexer_wait_idle(ix, NULL);
		if (lookup("renamed.txt", &g) == 1 &&
		    memcmp(g.sha256, want, 32) == 0)
			break;
		cat_file_clear(&g);
		sleep_ms(20);
	}
	assert_memory_equal(g.sha256, want, 32);
	assert_int_equal(f.id, g.id);
	cat_file_clear(&f);
	cat_file_clear(&g);

	/* Edited in place to the same size, its mtime put back (touch -r):
	 * the ctime gives it away. */
	{
		char *p = xasprintf("%s/renamed.txt", share);
		struct stat st;
		struct timespec times[2];
		FILE *o;

		assert_int_equal(stat(p, &st), 0);
		o = fopen(p, "r+");
		assert_non_null(o);
		fputs("CHANGED!", o);
		assert_int_equal(fclose(o), 0);
		times[0] = st.st_atim;
		times[1] = st.st_mtim;
		assert_int_equal(utimensat(AT_FDCWD, p, times, 0), 0);
		sha("CHANGED!", want);
		for (int waited = 0; waited < CONVERGE_MS; waited += 20) {
			(void)indexer_wait_idle(ix, NULL);
			if (lookup("renamed.txt", &g) == 1 &&
			    memcmp(g.sha256, want, 32) == 0)
				break;
			cat_file_clear(&g);
			sleep_ms(20);
		}
		assert_memory_equal(g.sha256, want, 32);
		assert_int_equal(g.mtime_ns,
		                 (int64_t)st.st_mtim.tv_sec * 1000000000 +
		                     st.st_mtim.tv_nsec);
		cat_file_clear(&g);
		free(p);
	}

	/* Moved out of sight (excluded name) and back. */
	mv("renamed.txt", "renamed.part");
	await(ix, "renamed.txt", 0);
	mv("renamed.part", "back.txt");
	await(ix, "back.txt", 1);

	/* Deleted. */
	snprintf(name, sizeof(name), "%s/back.txt", share);
	assert_int_equal(unlink(name), 0);
	await(ix, "back.txt", 0);
	assert_true(removed_events > 0);

	/* A folder deleted. */
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "%s/e/f%02d", share, i);
		unlink(name);
	}
	snprintf(name, sizeof(name), "%s/e/sub/deep", share);
	unlink(name);
	snprintf(name, sizeof(name), "%s/e/sub", share);
	rmdir(name);
	snprintf(name, sizeof(name), "%s/e/after", share);
	unlink(name);
	snprintf(name, sizeof(name), "%s/e", share);
	rmdir(name);
	await(ix, "e/after", 0);
	await(ix, "e/f00", 0);

	/* A file moved in from outside the share; a folder moved out. */
	{
		char *src = xasprintf("%s/outside-file", tmpdir);
		char *dst = xasprintf("%s/moved-in", share);
		FILE *o = fopen(src, "w");

		assert_non_null(o);
		fputs("from outside", o);
		assert_int_equal(fclose(o), 0);
		assert_int_equal(rename(src, dst), 0);
		await(ix, "moved-in", 1);
		free(src);
		free(dst);
		mk("leaving");
		put("leaving/a", "a");
		await(ix, "leaving/a", 1);
		src = xasprintf("%s/leaving", share);
		dst = xasprintf("%s/left", tmpdir);
		assert_int_equal(rename(src, dst), 0);
		await(ix, "leaving/a", 0);
		/* Its lingering watch must not bring anything back. */
		snprintf(name, sizeof(name), "%s/b", dst);
		o = fopen(name, "w");
		assert_non_null(o);
		assert_int_equal(fclose(o), 0);
		free(src);
		free(dst);
		dst = xasprintf("rm -rf '%s/left'", tmpdir);
		assert_int_equal(system(dst), 0);
		free(dst);
	}

	/* Symbolic links and hidden files are never listed. */
	snprintf(name, sizeof(name), "%s/link", share);
	assert_int_equal(symlink("old.txt", name), 0);
	put(".hidden", "h");
	put("marker", "m");
	await(ix, "marker", 1);
	assert_int_equal(lookup("link", NULL), 0);
	assert_int_equal(lookup("leaving/b", NULL), 0);
	assert_int_equal(lookup(".hidden", NULL), 0);

	/* Overflow: more events than the kernel queue holds while the
	 * watcher does not read; the indexer then reconciles. */
	q = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	assert_non_null(q);
	assert_int_equal(fscanf(q, "%u", &nflood), 1);
	fclose(q);
	nflood = nflood + 64; /* each file: IN_CREATE + IN_CLOSE_WRITE */
	watch_pause(indexer_watch(ix), true);
	sleep_ms(100);
	for (unsigned i = 0; i < nflood; i++) {
		snprintf(name, sizeof(name), "flood/%u", i);
		put(name, "");
	}
	watch_pause(indexer_watch(ix), false);
	snprintf(name, sizeof(name), "flood/%u", nflood - 1);
	await(ix, name, 1);
	await(ix, "flood/0", 1);
	assert_true(watch_overflows(indexer_watch(ix)) > 0);

	indexer_stop(ix);
	strlist_free(&cfg.share.exclude);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_watch)};

	if (share_dir_make("watch", tmpdir, share, dbpath) == -1)
		return 1;
	log_set_level(getenv("FISBOT_TEST_DEBUG") ? LOG_DEBUG : LOG_WARN);
	return share_dir_done(tmpdir,
	                      cmocka_run_group_tests(tests, NULL, NULL));
}
