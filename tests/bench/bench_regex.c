/*
 * Regex limits benchmark (issue 10): compiles hostile patterns as the chat
 * search does (query_parse) and matches each against paths of 4 KiB made
 * to provoke it, printing per pattern the compile time, whether PCRE2's JIT
 * runs it, the slowest match of one path, how the matches ended (matched,
 * no match, stopped by a limit) and the peak memory of the process doing it
 * (VmHWM growth of a child forked for that pattern, so each starts afresh).
 * Then it matches typical regexes and globs against 20,000 ordinary paths
 * and prints their cost and how many paths a limit stopped (ideally none).
 * Not a test: it prints figures and asserts nothing.
 *
 *   bench_regex [-r RUNS] [PATTERN...]
 *
 * Each hostile match is repeated RUNS times (default 3) and the slowest
 * kept. PATTERNs (as typed after "search ") replace the hostile list. The
 * goals: compiling any pattern of at most 256 bytes within 100 ms and 16
 * MiB, and matching one path of at most 4 KiB within 10 ms.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fisbot/alloc.h"
#include "fisbot/query.h"

/* Hostile patterns, as typed after "search ". */
static const char *const hostile[] = {
    /* glibc regcomp took 3.1 GB and 7 s on this (57 bytes as a command) */
    "/(.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*){999}z/",
    /* and 31 s to match this on a path of 3,770 bytes */
    "/(.*a){999}c/",
    "/(a+)+$/",
    "/(a|a)*$/",
    "/(a|aa)*b/",
    "/(\\w+\\s?)*$/",
    "/^(.*?,){11}P/",
    "/(.*){1,32000}[bc]/",
    "/.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*=/",
    "/(?:.*){20}x/",
    "/^(.*)(.*)(.*)(.*)\\4\\3\\2\\1$/",
    "/(.+)\\1\\1x/",
    "/(?:(?=.*z).)*q/",
    "/(?:.*?a){999}q/",
    "/((((((((((.*)*)*)*)*)*)*)*)*)*)*z/",
    "/(?:[^/]*/)*x$/",
    "/(\\X*)*z/",
    "/(?:a?){100}a{100}/",
    "/(?:a?){1000}a{1000}/",
    "/(?:a?){3000}a{3000}/",
    "/(?:(?!z).)*+(?:(?!z).)*q/",
    "/(?=(.*)+z)/",
    "/(?:.*(?=.*(?=.*(?=.*(?=.*z)))))*q/",
    "/\\b(\\w+)\\b(?:.*\\b\\1\\b){3}z/",
    "/(?:a|[a-z]|\\w|.)*z/",
    "/(?:(?:a*)*b)*c/",
    "/(?:.{0,4000}){40}z/",
    "/(a(?1)?)+z/",
    "/(?:(a)|b)*(?(1)x|y){500}/",
    "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
    "*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?z",
};

/* What the 4 KiB paths are made of. */
static const char *const units[] = {
    "a",           "ab/",
    "a,",          "az/",
    "abxxxxxxxc/", "\xc3\xa9",
    "aaaaaaaaa ",  "music/live/2024/some song title (remastered) - part ",
};

/* Typical searches, for the cost on ordinary paths. */
static const char *const typical[] = {
    "/live.*\\.ogg$/",
    "/^music/",
    "/\\d{4}-\\d\\d/",
    "/(flac|ogg|mp3)$/",
    "/\\bpart \\d+\\b/",
    "/[[:upper:]]{3}/",
    "/^[^/]+/[^/]+/[^/]+$/",
    "/e.*t.*9$/",
    "/(.*)/\\1/",
    "/^(.*)\\/(.*)\\/(.*)\\.(ogg|flac)$/",
    "/(\\w+) - (\\w+)/",
    "/^.*live.*\\/.*\\.(ogg|flac)$/",
    "/(?:.*\\/)?best[^/]*$/",
    "/(a|e|i|o|u){3}/",
    "*.ogg",
    "song?.*",
    "*[0-9][0-9]*.txt",
    "*a*e*i*o*u*",
};

/* Returns the monotonic time in seconds. */
static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Returns this process's peak resident size in KiB (VmHWM), or 0. */
static long peak_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Returns a path of 4 KiB (4095 bytes) made of unit repeated, cut at a
 * character boundary. */
static char *long_path(const char *unit)
{
	size_t n = strlen(unit), len = 0;
	char *p = xmalloc(4096);

	while (len + n <= 4095) {
		memcpy(p + len, unit, n);
		len += n;
	}
	for (size_t i = 0; len < 4095 && i < n && (unit[i] & 0x80) == 0; i++)
		p[len++] = unit[i];
	p[len] = '\0';
	return p;
}

/* Compiles and matches one hostile pattern (in a child); prints a line. */
static void run_hostile(const char *text, int runs)
{
	size_t n_units = sizeof(units) / sizeof(units[0]);
	int counts[3] = {0, 0, 0}; /* limit, no match, match */
	long before = peak_kib(), after;
	double t0, compile, worst = 0;
	char *cause = NULL;
	struct query *q;

	t0 = now();
	q = query_parse(text, &cause);
	compile = now() - t0;
	if (q == NULL) {
		after = peak_kib();
		printf("%-58.58s %3zu %8.3f  -  refused: %s  %+6ld KiB\n", text,
		       strlen(text), compile * 1e3, cause, after - before);
		free(cause);
		return;
	}
	for (size_t u = 0; u < n_units; u++) {
		char *path = long_path(units[u]);
		int m = 0;

		for (int r = 0; r < runs; r++) {
			double took;

			t0 = now();
			m = query_match(&q->terms[0], path);
			took = now() - t0;
			if (took > worst)
				worst = took;
		}
		counts[m + 1]++;
		free(path);
	}
	after = peak_kib();
	printf("%-58.58s %3zu %8.3f %s %8.3f  %zu/%d/%d/%d  %+6ld KiB\n", text,
	       strlen(text), compile * 1e3,
	       query_term_jit(&q->terms[0]) ? "jit" : " - ", worst * 1e3,
	       n_units, counts[2], counts[1], counts[0], after - before);
	query_free(q);
}

/* A small deterministic generator (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Returns an ordinary folded path: a few folders and a name, with words,
 * numbers, dates and extensions, 20 to 300 bytes. */
static char *ordinary_path(void)
{
	static const char *const words[] = {
	    "music", "live", "Album", "song", "part",   "remastered", "photos",
	    "2024",  "trip", "été",   "docs", "readme", "Backup",     "disc 1",
	    "the",   "best", "of",    "x",    "Mix",    "video"};
	static const char *const ext[] = {".ogg", ".flac", ".mp3",   ".jpg",
	                                  ".txt", ".pdf",  ".tar.gz"};
	size_t nw = sizeof(words) / sizeof(words[0]);
	char buf[512] = "";
	unsigned depth = 1 + (unsigned)(rnd() % 5);
	char *folded;

	for (unsigned d = 0; d < depth; d++) {
		unsigned k = 1 + (unsigned)(rnd() % 4);

		for (unsigned i = 0; i < k; i++) {
			if (rnd() % 4 == 0)
				snprintf(buf + strlen(buf), 16, "%u",
				         (unsigned)(rnd() % 3000));
			else
				strcat(buf, words[rnd() % nw]);
			strcat(buf, i + 1 < k ? (rnd() % 2 ? " " : "-") : "");
		}
		strcat(buf, d + 1 < depth ? "/" : ext[rnd() % 7]);
	}
	folded = query_fold(buf, strlen(buf));
	return folded;
}

int main(int argc, char **argv)
{
	enum { N_PATHS = 20000 };
	const char *const *list = hostile;
	size_t n_list = sizeof(hostile) / sizeof(hostile[0]);
	int runs = 3, c;
	char **paths;

	while ((c = getopt(argc, argv, "r:")) != -1) {
		if (c == 'r') {
			runs = atoi(optarg);
		} else {
			fprintf(stderr,
			        "usage: bench_regex [-r RUNS] [PATTERN...]\n");
			return 2;
		}
	}
	if (runs < 1)
		runs = 1;

	printf("hostile patterns, each against %zu paths of 4 KiB, slowest "
	       "of %d runs\n",
	       sizeof(units) / sizeof(units[0]), runs);
	printf("%-58s %3s %8s %3s %8s  %s  %s\n", "pattern", "len", "comp.ms",
	       "jit", "match.ms", "n/match/no/limit", "peak RSS");
	if (optind < argc) {
		list = (const char *const *)argv + optind;
		n_list = (size_t)(argc - optind);
	}
	for (size_t i = 0; i < n_list; i++) {
		pid_t pid;
		int status;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			run_hostile(list[i], runs);
			fflush(stdout);
			_exit(0);
		}
		if (pid == -1 || waitpid(pid, &status, 0) == -1 ||
		    !WIFEXITED(status))
			printf("%s: the child failed\n", list[i]);
	}

	paths = xcalloc(N_PATHS, sizeof(*paths));
	for (unsigned i = 0; i < N_PATHS; i++)
		paths[i] = ordinary_path();
	printf("\ntypical searches, each against %d ordinary paths\n", N_PATHS);
	printf("%-28s %8s %9s %7s %6s\n", "pattern", "total.ms", "us/path",
	       "matches", "limit");
	for (size_t i = 0; i < sizeof(typical) / sizeof(typical[0]); i++) {
		char *cause = NULL;
		struct query *q = query_parse(typical[i], &cause);
		unsigned hits = 0, limited = 0;
		double t0;

		if (q == NULL) {
			printf("%-28s refused: %s\n", typical[i], cause);
			free(cause);
			continue;
		}
		t0 = now();
		for (unsigned k = 0; k < N_PATHS; k++) {
			int m = query_match(&q->terms[0], paths[k]);

			hits += m == 1;
			limited += m == -1;
		}
		t0 = now() - t0;
		printf("%-28s %8.2f %9.3f %7u %6u\n", typical[i], t0 * 1e3,
		       t0 * 1e6 / N_PATHS, hits, limited);
		query_free(q);
	}
	for (unsigned i = 0; i < N_PATHS; i++)
		free(paths[i]);
	free(paths);
	return 0;
}
