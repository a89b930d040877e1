/*
 * Indexing benchmark (not a test: it prints figures, asserts nothing).
 *
 *   bench_index [DIR]      (default: a new folder under $TMPDIR or /tmp)
 *
 * 1. Cold indexing: a fresh catalogue over BENCH_BIG_FILES files of
 *    BENCH_BIG_MB MiB (already in the page cache), against two
 *    `openssl dgst -sha256` processes in parallel over the same files.
 * 2. Rescan of BENCH_SMALL_FILES unchanged files (fisbot scan's work).
 * 3. New-file latency with the watcher: from close() of a new small file
 *    to the committed "file ready" event, minus `settle`.
 * Sizes can be changed with those environment variables.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fisbot/alloc.h"
#include "fisbot/catalogue.h"
#include "fisbot/log.h"
#include "index/indexer.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned env_uint(const char *name, unsigned def)
{
	const char *v = getenv(name);

	return v != NULL && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

/* Writes size bytes of pseudo-random data to path. */
static void write_file(const char *path, size_t size, unsigned seed)
{
	static unsigned char buf[1 << 20];
	FILE *f = fopen(path, "w");
	size_t left = size;

	if (f == NULL)
		fatal("cannot create %s", path);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)((i * 2654435761u + seed) >> 13);
	while (left > 0) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);

		buf[0] = (unsigned char)left;
		if (fwrite(buf, 1, n, f) != n)
			fatal("cannot write %s", path);
		left -= n;
	}
	if (fclose(f) != 0)
		fatal("cannot write %s", path);
}

/* Runs a shell command; dies if it fails. */
static void sh(const char *cmd)
{
	if (system(cmd) != 0)
		fatalx("command failed: %s", cmd);
}

/* Scans share into db once; returns seconds. */
static double scan_once(struct config *cfg, struct scan_counts *c)
{
	struct indexer_options opt = {0};
	struct indexer *ix;
	char *cause = NULL;
	double t0 = now_s();

	ix = indexer_start(cfg, &opt, &cause);
	if (ix == NULL)
		fatalx("%s", cause);
	memset(c, 0, sizeof(*c));
	if (indexer_wait_idle(ix, c) == -1)
		fatalx("scan failed");
	indexer_stop(ix);
	return now_s() - t0;
}

static void setup(struct config *cfg, const char *share, const char *db)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->share.path = xstrdup(share);
	cfg->share.database = xstrdup(db);
	strlist_add(&cfg->share.exclude, ".*");
	cfg->share.hash_threads = 0;
	cfg->share.settle_ms = 0;
}

static void teardown(struct config *cfg)
{
	free(cfg->share.path);
	free(cfg->share.database);
	strlist_free(&cfg->share.exclude);
}

static void bench_cold(const char *dir)
{
	unsigned nfiles = env_uint("BENCH_BIG_FILES", 32);
	unsigned mb = env_uint("BENCH_BIG_MB", 32);
	char *share = xasprintf("%s/big", dir), *db, *cmd, *p;
	struct scan_counts c;
	struct config cfg;
	double t_fis, t_ssl, total = (double)nfiles * mb;

	mkdir(share, 0700);
	for (unsigned i = 0; i < nfiles; i++) {
		p = xasprintf("%s/f%03u", share, i);
		write_file(p, (size_t)mb << 20, i);
		free(p);
	}
	/* Warm the page cache for both contenders. */
	cmd = xasprintf("cat '%s'/* > /dev/null", share);
	sh(cmd);
	free(cmd);
	cmd = xasprintf("cd '%s' && (ls | awk 'NR%%2==0' | xargs openssl dgst "
	                "-sha256 > /dev/null & ls | awk 'NR%%2==1' | xargs "
	                "openssl dgst -sha256 > /dev/null; wait)",
	                share);
	t_ssl = now_s();
	sh(cmd);
	t_ssl = now_s() - t_ssl;
	free(cmd);

	db = xasprintf("%s/big.db", dir);
	setup(&cfg, share, db);
	t_fis = scan_once(&cfg, &c);
	printf("cold indexing: %u files x %u MiB: fisbot %.2f s (%.0f MiB/s), "
	       "2 x openssl dgst %.2f s (%.0f MiB/s): fisbot takes %.2fx "
	       "openssl's time\n",
	       nfiles, mb, t_fis, total / t_fis, t_ssl, total / t_ssl,
	       t_fis / t_ssl);
	teardown(&cfg);
	free(db);
	free(share);
}

static void bench_rescan(const char *dir)
{
	unsigned nfiles = env_uint("BENCH_SMALL_FILES", 100000);
	char *share = xasprintf("%s/small", dir), *db, *p;
	struct scan_counts c;
	struct config cfg;
	double t_first, t_re;

	mkdir(share, 0700);
	for (unsigned d = 0; d < (nfiles + 999) / 1000; d++) {
		p = xasprintf("%s/d%03u", share, d);
		mkdir(p, 0700);
		free(p);
		for (unsigned i = d * 1000; i < nfiles && i < (d + 1) * 1000;
		     i++) {
			int fd;

			p = xasprintf("%s/d%03u/file-%06u.txt", share, d, i);
			fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (fd == -1 || write(fd, p, strlen(p)) < 0)
				fatal("cannot write %s", p);
			close(fd);
			free(p);
		}
	}
	db = xasprintf("%s/small.db", dir);
	setup(&cfg, share, db);
	t_first = scan_once(&cfg, &c);
	printf("first scan of %u small files: %.2f s (added %llu)\n", nfiles,
	       t_first, (unsigned long long)c.added);
	t_re = scan_once(&cfg, &c);
	printf("rescan of %u unchanged files: %.2f s (unchanged %llu, goal "
	       "<= 2 s)\n",
	       nfiles, t_re, (unsigned long long)c.unchanged);
	teardown(&cfg);
	free(db);
	free(share);
}

static pthread_mutex_t lat_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lat_cond = PTHREAD_COND_INITIALIZER;
static double lat_ready;

/* Records when the awaited file is ready. */
static void on_event(const struct indexer_event *ev, void *arg)
{
	if (ev->kind != INDEXER_FILE_READY || strncmp(ev->path, "new-", 4))
		return;
	pthread_mutex_lock(&lat_lock);
	lat_ready = now_s();
	pthread_cond_signal(&lat_cond);
	pthread_mutex_unlock(&lat_lock);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void bench_latency(const char *dir)
{
	enum { ROUNDS = 20 };
	char *share = xasprintf("%s/small", dir), *db, *p;
	struct indexer_options opt = {.watch = true, .notify = on_event};
	struct indexer *ix;
	struct config cfg;
	char *cause = NULL;
	double lat[ROUNDS];

	db = xasprintf("%s/small.db", dir);
	setup(&cfg, share, db);
	cfg.share.settle_ms = 1000;
	ix = indexer_start(&cfg, &opt, &cause);
	if (ix == NULL)
		fatalx("%s", cause);
	(void)indexer_wait_idle(ix, NULL);
	for (int r = 0; r < ROUNDS; r++) {
		double closed;
		int fd;

		p = xasprintf("%s/new-%d.txt", share, r);
		pthread_mutex_lock(&lat_lock);
		lat_ready = 0;
		pthread_mutex_unlock(&lat_lock);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd == -1 || write(fd, "new file\n", 9) != 9)
			fatal("cannot write %s", p);
		close(fd);
		closed = now_s();
		pthread_mutex_lock(&lat_lock);
		while (lat_ready == 0)
			pthread_cond_wait(&lat_cond, &lat_lock);
		lat[r] = lat_ready - closed - cfg.share.settle_ms / 1000.0;
		pthread_mutex_unlock(&lat_lock);
		free(p);
	}
	indexer_stop(ix);
	qsort(lat, ROUNDS, sizeof(lat[0]), cmp_double);
	printf("new file ready after settle + %.0f ms (median), + %.0f ms "
	       "(max of %d); goal <= 200 ms\n",
	       lat[ROUNDS / 2] * 1000, lat[ROUNDS - 1] * 1000, ROUNDS);
	teardown(&cfg);
	free(db);
	free(share);
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	char *dir, *cmd;

	log_set_level(LOG_WARN);
	if (argc > 1) {
		dir = xstrdup(argv[1]);
		mkdir(dir, 0700);
	} else {
		dir = xasprintf("%s/fisbot-bench-XXXXXX", tmp ? tmp : "/tmp");
		if (mkdtemp(dir) == NULL)
			fatal("mkdtemp");
	}
	printf("bench_index: %ld cores, data in %s\n",
	       sysconf(_SC_NPROCESSORS_ONLN), dir);
	bench_cold(dir);
	bench_rescan(dir);
	bench_latency(dir);
	cmd = xasprintf("rm -rf '%s'", dir);
	sh(cmd);
	free(cmd);
	free(dir);
	return 0;
}
