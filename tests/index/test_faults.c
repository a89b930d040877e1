/*
 * The indexer when the catalogue cannot be written (a full disk: writes
 * retried with backoff, nothing hashed twice, the process idle meanwhile),
 * end to end on a temporary share. The catalogue's disk fills up on demand:
 * this program links the full-disk shim of the adversarial tests
 * (enospc_shim.c: writes under a folder fail with ENOSPC while a flag file
 * exists). The hash pool's work is counted and held at its one posix_fadvise
 * call per file hashed, which this program also defines. Checks that the
 * hashing stops while the disk is full, that nothing is hashed twice (the
 * results of the failed transaction are kept), that other threads' jobs are
 * replayed, and that the catalogue converges once space returns.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
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
#include "share_dir.h"

#define NFILES      20
#define CONVERGE_MS 60000

static char tmpdir[SHARE_DIR_MAX], share[PATH_MAX], dbdir[2 * SHARE_DIR_MAX],
    dbpath[PATH_MAX], flag[PATH_MAX];

/* The gate: how many hashes may start, how many did, and per file. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static unsigned allowed, started, per_file[NFILES];

/* The hash pool calls this once per file it hashes: counts it, and waits
 * until the test allows it to go on. */
int posix_fadvise(int fd, off_t off, off_t len, int advice)
{
	static int (*real)(int, off_t, off_t, int);
	char link[64], target[PATH_MAX];
	size_t n = strlen(share);
	ssize_t len_target;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "posix_fadvise");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len_target = readlink(link, target, sizeof(target) - 1);
	if (len_target > 0) {
		target[len_target] = '\0';
		if (strncmp(target, share, n) == 0 && target[n] == '/') {
			int i = atoi(target + n + 2); /* "/fNN" */

			unsigned ticket;

			pthread_mutex_lock(&gate_lock);
			if (i >= 0 && i < NFILES)
				per_file[i]++;
			/* Each hash waits for its own turn: one released by
			 * allow() goes on even if a later one (a fast
			 * worker's next file) came in since. */
			ticket = ++started;
			pthread_cond_broadcast(&gate_cond);
			while (ticket > allowed)
				pthread_cond_wait(&gate_cond, &gate_lock);
			pthread_mutex_unlock(&gate_lock);
		}
	}
	return real(fd, off, len, advice);
}

static void allow(unsigned n)
{
	pthread_mutex_lock(&gate_lock);
	allowed = n;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

static unsigned started_count(void)
{
	unsigned n;

	pthread_mutex_lock(&gate_lock);
	n = started;
	pthread_mutex_unlock(&gate_lock);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Reads the catalogue: files, hashed files, and file f00's row. */
static void state(uint64_t *files, uint64_t *hashed, struct cat_file *f00)
{
	char *cause = NULL;
	struct catalogue *c = catalogue_open(dbpath, &cause);
	struct cat_page p;

	assert_non_null(c);
	*files = *hashed = 0;
	assert_int_equal(catalogue_list(c, "", 0, NFILES + 1, &p), 1);
	for (size_t i = 0; i < p.n; i++) {
		(*files)++;
		if (p.v[i].file.hashed)
			(*hashed)++;
	}
	cat_page_clear(&p);
	if (f00 != NULL)
		assert_int_equal(catalogue_get_by_path(c, "f00", f00), 1);
	catalogue_close(c);
}

static void test_disk_full(void **st)
{
	struct config cfg = {0};
	struct indexer_options opt = {.watch = true, .type_later = true};
	struct cat_file f00 = {0};
	struct indexer *ix;
	uint64_t files = 0, hashed = 0;
	char *cause = NULL;
	int waited, rc;
	FILE *o;

	cfg.share.path = share;
	cfg.share.database = dbpath;
	cfg.share.hash_threads = 2;
	cfg.share.settle_ms = 0;
	for (int i = 0; i < NFILES; i++) {
		char *p = xasprintf("%s/f%02d", share, i);

		o = fopen(p, "w");
		assert_non_null(o);
		fprintf(o, "file %d", i);
		assert_int_equal(fclose(o), 0);
		free(p);
	}

	/* The rows are written; the hashing waits at the gate. */
	ix = indexer_start(&cfg, &opt, &cause);
	assert_non_null(ix);
	for (waited = 0; waited < CONVERGE_MS; waited += 20) {
		state(&files, &hashed, NULL);
		if (files == NFILES && started_count() >= 2)
			break;
		sleep_ms(20);
	}
	assert_int_equal(files, NFILES);
	assert_int_equal(hashed, 0);

	/* The disk fills up. Two hashes finish, a description and a
	 * download come: the transaction that holds them fails. */
	o = fopen(flag, "w");
	assert_non_null(o);
	fclose(o);
	state(&files, &hashed, &f00);
	indexer_post_describe(ix, f00.id, "kept across the failure");
	indexer_post_download(ix, f00.id, 123, true);
	cat_file_clear(&f00);
	allow(2);
	for (waited = 0; waited < CONVERGE_MS; waited += 20)
		if ((rc = indexer_wait_idle_ms(ix, 20)) == -1)
			break;
	assert_int_equal(rc, -1);

	/* Writes are suspended: the queued jobs were cancelled, only the
	 * two held at the gate finish; nothing more is hashed, even across
	 * retries (after 1 s, then 2 s). */
	allow(1000);
	sleep_ms(3500);
	assert_int_equal(started_count(), 4);
	state(&files, &hashed, NULL);
	assert_int_equal(hashed, 0);

	/* Space returns: everything is recorded, each file hashed once, the
	 * jobs replayed. */
	assert_int_equal(unlink(flag), 0);
	for (waited = 0; waited < CONVERGE_MS; waited += 50) {
		state(&files, &hashed, NULL);
		if (hashed == NFILES)
			break;
		sleep_ms(50);
	}
	assert_int_equal(files, NFILES);
	assert_int_equal(hashed, NFILES);
	assert_int_equal(started_count(), NFILES);
	for (int i = 0; i < NFILES; i++)
		assert_int_equal(per_file[i], 1);
	state(&files, &hashed, &f00);
	assert_non_null(f00.description);
	assert_string_equal(f00.description, "kept across the failure");
	assert_int_equal(f00.downloads, 1);
	assert_int_equal(f00.bytes_served, 123);
	cat_file_clear(&f00);
	indexer_stop(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_disk_full)};

	if (share_dir_make("faults", tmpdir, share, NULL) == -1)
		return 1;
	snprintf(dbdir, sizeof(dbdir), "%s/db", tmpdir);
	snprintf(dbpath, sizeof(dbpath), "%s/fisbot.db", dbdir);
	snprintf(flag, sizeof(flag), "%s/disk-is-full", tmpdir);
	if (mkdir(dbdir, 0700) == -1)
		return 1;
	setenv("FISBOT_ENOSPC_DIR", dbdir, 1);
	setenv("FISBOT_ENOSPC_FLAG", flag, 1);
	log_set_level(getenv("FISBOT_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR);
	return share_dir_done(tmpdir,
	                      cmocka_run_group_tests(tests, NULL, NULL));
}
