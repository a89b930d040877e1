/*
 * The indexer's cold reconcile does not run ahead of hashing without
 * bound: with the hash pool held (its one posix_fadvise call per file
 * hashed, defined here, waits while the gate is closed), the walk of a
 * share of 12,000 files stops once 8,000 files are out to hash, and
 * commits the 10,000 rows walked so far before it waits (its regular
 * commits come every 50,000 rows): readers see them while nothing is
 * hashed; released, everything is hashed. Before the bound, the walk
 * queued the whole share (the memory of a cold scan grew with it) and
 * committed all 12,000 rows while nothing was hashed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
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
#include <sqlite3.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "index/indexer.h"
#include "share_dir.h"

#define NFILES      12000
#define PER_FOLDER  600
#define CONVERGE_MS 120000

static char tmpdir[SHARE_DIR_MAX], share[PATH_MAX], dbpath[PATH_MAX];

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool open_gate;

/* The hash pool calls this once per file it hashes: waits while the gate
 * is closed. */
int posix_fadvise(int fd, off_t off, off_t len, int advice)
{
	static int (*real)(int, off_t, off_t, int);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "posix_fadvise");
	pthread_mutex_lock(&gate_lock);
	while (!open_gate)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	return real(fd, off, len, advice);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Reads the catalogue's count of files and of hashed files. */
static void state(uint64_t *files, uint64_t *hashed)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(
	    sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT count(*), count(sha256)"
	                                    " FROM files",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	*files = (uint64_t)sqlite3_column_int64(st, 0);
	*hashed = (uint64_t)sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_bound(void **st)
{
	struct config cfg = {0};
	struct indexer_options opt = {.watch = false};
	struct indexer *ix;
	uint64_t files = 0, hashed = 0, before;
	char *cause = NULL;
	int waited;

	(void)st;
	cfg.share.path = share;
	cfg.share.database = dbpath;
	cfg.share.hash_threads = 2;
	cfg.share.settle_ms = 0;
	for (int i = 0; i < NFILES; i++) {
		char *p;
		int fd;

		if (i % PER_FOLDER == 0) {
			p = xasprintf("%s/d%02d", share, i / PER_FOLDER);
			assert_int_equal(mkdir(p, 0700), 0);
			free(p);
		}
		p = xasprintf("%s/d%02d/f%05d", share, i / PER_FOLDER, i);
		fd = open(p, O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, p, 8), 8);
		close(fd);
		free(p);
	}

	/* Nothing is hashed: the walk has 10,000 files out to hash (more
	 * than 8,000), commits the rows so far and waits for the hashes. */
	ix = indexer_start(&cfg, &opt, &cause);
	assert_non_null(ix);
	for (waited = 0; waited < CONVERGE_MS; waited += 50) {
		state(&files, &hashed);
		if (files >= 10000)
			break;
		sleep_ms(50);
	}
	assert_int_equal(files, 10000);
	sleep_ms(1500);
	state(&files, &hashed);
	assert_int_equal(files, 10000);
	assert_int_equal(hashed, 0);

	/* Released: the walk goes on, every file is hashed. */
	pthread_mutex_lock(&gate_lock);
	open_gate = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	before = 0;
	for (waited = 0; waited < CONVERGE_MS; waited += 50) {
		state(&files, &hashed);
		if (hashed == NFILES)
			break;
		assert_true(hashed >= before);
		before = hashed;
		sleep_ms(50);
	}
	assert_int_equal(files, NFILES);
	assert_int_equal(hashed, NFILES);
	indexer_stop(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_bound)};

	if (share_dir_make("pipebound", tmpdir, share, dbpath) == -1)
		return 1;
	log_set_level(getenv("FISBOT_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR);
	return share_dir_done(tmpdir,
	                      cmocka_run_group_tests(tests, NULL, NULL));
}
