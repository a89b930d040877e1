/*
 * The idle indexer merges a fragmented search index. A catalogue written
 * in twelve transactions with FTS5's automerge off has twelve segments of
 * the same size, as a bulk import leaves it: catalogue_fts_fragmented says
 * so, and one step of catalogue_fts_merge leaves more to do. An indexer
 * without merge_index (fisbot scan) leaves it so; one with it (the daemon)
 * merges what is left into one segment once idle (automerge is still
 * off: the merge is the indexer's); every file is still found through the
 * index, and FTS5's integrity check passes. A catalogue written in one
 * transaction is not fragmented.
 */
#include <fcntl.h>
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
#include <sqlite3.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "index/indexer.h"
#include "share_dir.h"
#include "store/catalogue_write.h"

#define FOLDERS     12
#define PER_FOLDER  150
#define CONVERGE_MS 60000

static char tmpdir[SHARE_DIR_MAX], share[PATH_MAX], dbpath[PATH_MAX];

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Runs sql on a connection of its own; returns its first column of its
 * first row as an integer (0 if none). */
static int64_t sql_int(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = 0;

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
	sqlite3_close(db);
	return v;
}

static int64_t segments(void)
{
	return sql_int("SELECT count(DISTINCT segid) FROM files_fts_idx");
}

/* Writes folder d's files to the share and records them in c. */
static void add_folder(struct catalogue *c, int d)
{
	char *dir = xasprintf("%s/d%02d", share, d);

	assert_int_equal(mkdir(dir, 0700), 0);
	for (int i = 0; i < PER_FOLDER; i++) {
		char *rel = xasprintf("d%02d/f%04d.txt", d, i);
		char *abs = xasprintf("%s/%s", share, rel);
		struct cat_file f = {0};
		struct stat sb;
		int fd = open(abs, O_WRONLY | O_CREAT, 0600);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, rel, 8), 8);
		close(fd);
		assert_int_equal(stat(abs, &sb), 0);
		f.path = rel;
		f.size = (uint64_t)sb.st_size;
		f.mtime_ns =
		    sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
		f.ctime_ns =
		    sb.st_ctim.tv_sec * 1000000000LL + sb.st_ctim.tv_nsec;
		f.dev = sb.st_dev;
		f.ino = sb.st_ino;
		assert_int_equal(catalogue_upsert(c, &f), 0);
		free(abs);
		free(rel);
	}
	free(dir);
}

static void test_one_transaction_is_not_fragmented(void **st)
{
	struct catalogue *c;
	char *cause = NULL;
	int seg = -1;

	(void)st;
	c = catalogue_open_writer(dbpath, &cause);
	assert_non_null(c);
	assert_int_equal(catalogue_begin(c), 0);
	for (int d = 0; d < FOLDERS; d++)
		add_folder(c, d);
	assert_int_equal(catalogue_commit(c), 0);
	assert_int_equal(catalogue_fts_fragmented(c, &seg), 0);
	assert_int_equal(seg, 1);
	assert_int_equal(catalogue_fts_merge(c, 1000), 0); /* nothing to do */
	catalogue_close(c);
}

static void test_idle_indexer_merges(void **st)
{
	struct config cfg = {0};
	struct indexer_options opt = {.watch = false};
	struct catalogue *c;
	struct indexer *ix;
	struct scan_counts counts;
	char *cause = NULL;
	int seg = -1, waited;

	(void)st;
	/* Automerge off before anything is written: a segment a commit. */
	c = catalogue_open_writer(dbpath, &cause);
	assert_non_null(c);
	catalogue_close(c);
	sql_int(
	    "INSERT INTO files_fts(files_fts, rank) VALUES ('automerge', 0)");
	c = catalogue_open_writer(dbpath, &cause);
	assert_non_null(c);
	for (int d = 0; d < FOLDERS; d++) {
		assert_int_equal(catalogue_begin(c), 0);
		add_folder(c, d);
		assert_int_equal(catalogue_commit(c), 0);
	}
	assert_int_equal(catalogue_fts_fragmented(c, &seg), 1);
	assert_int_equal(seg, FOLDERS);
	/* One page: more is left (a merge under way, resumed below). */
	assert_int_equal(catalogue_fts_merge(c, 1), 1);
	catalogue_close(c);
	assert_true(segments() > 1);

	cfg.share.path = share;
	cfg.share.database = dbpath;
	cfg.share.hash_threads = 2;
	cfg.share.settle_ms = 0;
	/* Without merge_index (fisbot scan), the segments stay. */
	ix = indexer_start(&cfg, &opt, &cause);
	assert_non_null(ix);
	assert_int_equal(indexer_wait_idle(ix, &counts), 0);
	sleep_ms(500);
	indexer_stop(ix);
	assert_true(segments() > 1);

	opt.merge_index = true;
	ix = indexer_start(&cfg, &opt, &cause);
	assert_non_null(ix);
	assert_int_equal(indexer_wait_idle(ix, &counts), 0);
	for (waited = 0; waited < CONVERGE_MS; waited += 50) {
		if (segments() == 1)
			break;
		sleep_ms(50);
	}
	assert_int_equal(segments(), 1);
	indexer_stop(ix);

	/* Every file is found through the index, which is sound. */
	assert_int_equal(sql_int("SELECT count(*) FROM files"),
	                 FOLDERS * PER_FOLDER);
	for (int d = 0; d < FOLDERS; d++) {
		char *sql = xasprintf("SELECT count(*) FROM files_fts"
		                      " WHERE files_fts MATCH '\"d%02d/f\"'",
		                      d);

		assert_int_equal(sql_int(sql), PER_FOLDER);
		free(sql);
	}
	sql_int("INSERT INTO files_fts(files_fts, rank)"
	        " VALUES ('integrity-check', 1)");
	c = catalogue_open_writer(dbpath, &cause);
	assert_non_null(c);
	assert_int_equal(catalogue_fts_fragmented(c, &seg), 0);
	assert_int_equal(seg, 1);
	catalogue_close(c);
}

/* Each test starts from an empty share and no catalogue. */
static int setup(void **st)
{
	char *cmd =
	    xasprintf("rm -rf '%s' '%s'* && mkdir '%s'", share, dbpath, share);
	int rc = system(cmd);

	(void)st;
	free(cmd);
	return rc == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_one_transaction_is_not_fragmented,
	                           setup),
	    cmocka_unit_test_setup(test_idle_indexer_merges, setup),
	};

	if (share_dir_make("ftsmerge", tmpdir, share, dbpath) == -1)
		return 1;
	log_set_level(getenv("FISBOT_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR);
	return share_dir_done(tmpdir,
	                      cmocka_run_group_tests(tests, NULL, NULL));
}
