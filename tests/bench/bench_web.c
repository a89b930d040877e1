/*
 * Web index benchmark (issue 14 item 6): generates a catalogue of N files
 * (default 100,000; -n 1000000 for the figure in the README) through the
 * catalogue API, starts the real HTTP server (http_start, [web] enabled,
 * access = public) on a loopback port, and times whole HTTP responses
 * (connect, request, read to the end) of folder pages, deep pages and
 * searches, R times each (default 50): p50, p99, max. Then it streams
 * index.json once, sampling the process's resident memory (server and
 * client are this process) as it goes. Not a test: it prints figures and
 * asserts nothing.
 *
 *   bench_web [-n FILES] [-r RUNS] [-d DB] [-k]
 *
 * Paths are top/dNN/sNN/NN word word.ext (100 folders of 100 folders at the
 * second level), and one folder "flat" holds a tenth of the files, for
 * deep pages. -d reuses (or keeps, with -k) a database so the generation
 * can be skipped on later runs.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fisbot/alloc.h"
#include "fisbot/config.h"
#include "fisbot/strlist.h"
#include "http/http.h"
#include "http/token.h"
#include "store/catalogue_write.h"

/* A small deterministic generator (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static const char *const words[] = {
    "live",  "studio", "remix", "album", "demo",    "holiday", "beach",
    "night", "report", "draft", "final", "lecture", "chapter", "season",
    "track", "scan",   "photo", "notes", "backup",  "concert"};
static const char *const exts[] = {"ogg", "flac", "jpg", "png", "pdf", "mkv"};
static const char *const types[] = {"audio/ogg",       "audio/flac",
                                    "image/jpeg",      "image/png",
                                    "application/pdf", "video/x-matroska"};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

/* Fills the catalogue with n hashed files. */
static void generate(struct catalogue *c, unsigned n)
{
	unsigned char sha[32] = {0};
	char path[512];
	bool stale;

	if (catalogue_begin(c) == -1)
		exit(1);
	for (unsigned i = 0; i < n; i++) {
		struct cat_file f = {0};
		unsigned e = (unsigned)(rnd() % 6);

		if (i % 10 == 0)
			snprintf(path, sizeof(path), "flat/%08u %s.%s", i,
			         words[rnd() % N_WORDS], exts[e]);
		else
			snprintf(
			    path, sizeof(path), "top/d%02u/s%02u/%u %s %s.%s",
			    (unsigned)(rnd() % 100), (unsigned)(rnd() % 100), i,
			    words[rnd() % N_WORDS], words[rnd() % N_WORDS],
			    exts[e]);
		f.path = path;
		f.size = 1000 + rnd() % (100u << 20);
		f.mtime_ns = (int64_t)(1700000000 + i) * 1000000000;
		f.dev = 1;
		f.ino = i + 1;
		memcpy(sha, &i, sizeof(i));
		sha[31] = (unsigned char)rnd();
		if (catalogue_upsert(c, &f) == -1 ||
		    catalogue_set_hash(c, f.id, f.size, f.mtime_ns, sha,
		                       types[e], &stale) == -1)
			exit(1);
		if (i % 50000 == 49999) {
			if (catalogue_commit(c) == -1 ||
			    catalogue_begin(c) == -1)
				exit(1);
			fprintf(stderr, "\r%u files", i + 1);
		}
	}
	if (catalogue_commit(c) == -1)
		exit(1);
	fprintf(stderr, "\rgenerated %u files\n", n);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Milliseconds since t0. */
static double since_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Returns this process's resident memory in KiB (VmRSS). */
static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

/* What one GET returned. */
struct result {
	unsigned status;
	uint64_t bytes; /* whole response, headers included */
	long max_rss;   /* KiB, sampled while reading (with sample) */
};

/* GETs path from 127.0.0.1:port (HTTP/1.1, Connection: close) and reads
 * the whole response; with sample, samples VmRSS every 4 MiB read. */
static struct result get(uint16_t port, const char *path, bool sample)
{
	struct sockaddr_in sa = {0};
	struct result res = {0};
	static char buf[256 * 1024];
	uint64_t next = 0;
	char *req;
	ssize_t n;
	int fd;

	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		perror("connect");
		exit(1);
	}
	req = xasprintf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
	                "close\r\n\r\n",
	                path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		perror("write");
		exit(1);
	}
	free(req);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (res.bytes == 0 && n > 12)
			res.status = (unsigned)strtoul(buf + 9, NULL, 10);
		res.bytes += (uint64_t)n;
		if (sample && res.bytes >= next) {
			long kib = rss_kib();

			if (kib > res.max_rss)
				res.max_rss = kib;
			next = res.bytes + (4 << 20);
		}
	}
	close(fd);
	return res;
}

int main(int argc, char **argv)
{
	char flat_mid[64], flat_last[64];
	const char *paths[] = {
	    "/",
	    "/top/",
	    "/top/d42/",
	    "/top/d42/s17/",
	    "/flat/",
	    flat_mid,
	    flat_last,
	    "/?q=concert",
	    "/?q=concert&page=3",
	    "/?q=*.flac",
	    "/?q=live+beach",
	    "/?q=type:audio+remix",
	    "/?q=size:>99M",
	    "/?q=/beach.*ogg$/",
	    "/?q=qqqqqq",
	    "/feed.atom",
	};
	unsigned n = 100000, runs = 50;
	const char *db = NULL;
	bool keep = false;
	char tmpl[] = "/tmp/fisbot-bench-web-XXXXXX";
	char *dir, *path, *conf, *share, *cause = NULL;
	unsigned char key_bytes[TOKEN_KEY_LEN] =
	    "bench key bench key bench key!!";
	struct strlist problems = {0};
	struct token_key *key;
	struct config *cfg;
	struct catalogue *w;
	struct http *h;
	struct timespec t0;
	struct stat sb;
	struct result res;
	double *times, ms;
	long before;
	FILE *f;
	int ch;

	while ((ch = getopt(argc, argv, "n:r:d:k")) != -1) {
		switch (ch) {
		case 'n':
			n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			db = optarg;
			break;
		case 'k':
			keep = true;
			break;
		default:
			fprintf(stderr, "usage: bench_web [-n FILES] [-r RUNS] "
			                "[-d DB] [-k]\n");
			return 2;
		}
	}
	if (runs == 0)
		runs = 1;
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	dir = tmpl;
	path = db != NULL ? xstrdup(db) : xasprintf("%s/bench.db", dir);
	if (stat(path, &sb) == -1) {
		w = catalogue_open_writer(path, &cause);
		if (w == NULL) {
			fprintf(stderr, "%s\n", cause);
			return 1;
		}
		generate(w, n);
		catalogue_close(w);
	}
	share = xasprintf("%s/share", dir);
	mkdir(share, 0700);
	conf = xasprintf("%s/fisbot.conf", dir);
	f = fopen(conf, "w");
	if (f == NULL) {
		perror(conf);
		return 1;
	}
	fprintf(f,
	        "[xmpp]\njid = bench@localhost\npassword = x\n"
	        "[share]\npath = %s\ndatabase = %s\n"
	        "[http]\nlisten = 127.0.0.1:0\nbase_url = http://127.0.0.1\n"
	        "max_per_ip = 512\n"
	        "[web]\nenabled = yes\naccess = public\n",
	        share, path);
	fclose(f);
	cfg = config_load(conf, &problems);
	if (cfg == NULL) {
		for (size_t i = 0; i < problems.n; i++)
			fprintf(stderr, "%s\n", problems.v[i]);
		return 1;
	}
	key = token_key_from_bytes(key_bytes);
	h = http_start(cfg, key, NULL, &cause);
	if (h == NULL) {
		fprintf(stderr, "%s\n", cause);
		return 1;
	}
	snprintf(flat_mid, sizeof(flat_mid), "/flat/?page=%u",
	         (n / 10 / 50) / 2 + 1);
	snprintf(flat_last, sizeof(flat_last), "/flat/?page=%u",
	         (n / 10 + 49) / 50);

	stat(path, &sb);
	printf("%u files, database %.0f MiB, %u runs each (whole HTTP "
	       "responses over loopback)\n",
	       n, (double)sb.st_size / (1 << 20), runs);
	printf("%-26s %6s %9s %9s %8s %8s\n", "GET", "status", "bytes",
	       "p50 ms", "p99 ms", "max ms");
	times = xcalloc(runs, sizeof(*times));
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (unsigned k = 0; k < runs; k++) {
			clock_gettime(CLOCK_MONOTONIC, &t0);
			res = get(http_port(h), paths[i], false);
			times[k] = since_ms(&t0);
		}
		qsort(times, runs, sizeof(*times), cmp_double);
		printf("%-26s %6u %9" PRIu64 " %9.2f %8.2f %8.2f\n", paths[i],
		       res.status, res.bytes, times[runs / 2],
		       times[(size_t)(runs * 0.99)], times[runs - 1]);
	}
	free(times);

	before = rss_kib();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	res = get(http_port(h), "/index.json", true);
	ms = since_ms(&t0);
	printf("index.json: status %u, %.1f MiB in %.2f s (%.0f MiB/s); "
	       "RSS %.1f MiB before, at most %.1f MiB while streaming "
	       "(+%.1f MiB)\n",
	       res.status, (double)res.bytes / (1 << 20), ms / 1e3,
	       (double)res.bytes / (1 << 20) / (ms / 1e3), before / 1024.0,
	       res.max_rss / 1024.0, (res.max_rss - before) / 1024.0);

	http_stop(h);
	token_key_free(key);
	config_free(cfg);
	rmdir(share);
	unlink(conf);
	if (db == NULL && !keep) {
		unlink(path);
		char *p = xasprintf("%s-wal", path);
		unlink(p);
		free(p);
		p = xasprintf("%s-shm", path);
		unlink(p);
		free(p);
		rmdir(dir);
	} else if (db == NULL) {
		printf("kept %s\n", path);
	} else {
		rmdir(dir);
	}
	free(share);
	free(conf);
	free(path);
	return 0;
}
