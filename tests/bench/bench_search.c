/*
 * Search latency benchmark (issue 2 item 12): generates a catalogue of N
 * files (default 1,000,000; one in 500 with a description) through the
 * catalogue API, then runs typical queries through a read-only
 * connection, each R times (default 200), and prints p50/p99/max of one
 * page of 10 results and its count, as the chat commands ask for it. Not
 * a test: it prints figures and asserts nothing.
 *
 *   bench_search [-n FILES] [-r RUNS] [-d DB] [-k] [-l] [-q QUERY]...
 *
 * -q (repeated) runs those queries instead of the built-in shapes (e.g. on
 * a catalogue made by fisbot scan, with -d: tests/bench/bench_scale.py).
 *
 * Words in the paths are made of 30 syllables (few distinct trigrams, the
 * hard case for the trigram index), or with -l of letters drawn with
 * English frequencies (closer to real names). Use the same -l to reuse a
 * database.
 * -d reuses (or keeps, with -k) a database so the generation can be
 * skipped on later runs.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fisbot/alloc.h"
#include "fisbot/query.h"
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

/* Returns a number in [0, n) skewed towards 0 (roughly Zipf-like). */
static unsigned skewed(unsigned n)
{
	double u = (double)(rnd() >> 11) / (double)(1ULL << 53);

	return (unsigned)((double)n * u * u * u);
}

#define N_WORDS 5000
static char words[N_WORDS][16];

/* Makes N_WORDS words of 3 to 9 letters drawn with English letter
 * frequencies (-l): their trigrams are about as varied as real names'. */
static void make_letter_words(void)
{
	static const char freq[] = "eeeeeeeeeeeetttttttttaaaaaaaaooooooo"
	                           "iiiiiiinnnnnnnsssssshhhhhhrrrrrrddddl"
	                           "llluuucccmmmwwffggyyppbbvkjxqz";

	for (unsigned i = 0; i < N_WORDS; i++) {
		unsigned len = 3 + (unsigned)(rnd() % 7);

		for (unsigned k = 0; k < len; k++)
			words[i][k] = freq[rnd() % (sizeof(freq) - 1)];
		words[i][len] = '\0';
	}
}

/* Makes N_WORDS pronounceable words from 30 syllables: few distinct
 * trigrams, each in many paths, the hard case for a trigram index. */
static void make_words(void)
{
	static const char *const syl[] = {
	    "ka",  "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "ba",
	    "de",  "fi", "go", "hu", "ja", "ke", "li", "mo", "nu", "pa",
	    "qui", "re", "si", "to", "ul", "ve", "wa", "xi", "yo", "zu"};
	size_t ns = sizeof(syl) / sizeof(syl[0]);

	for (unsigned i = 0; i < N_WORDS; i++) {
		unsigned v = i;

		words[i][0] = '\0';
		for (int k = 0; k < 3; k++) {
			strcat(words[i], syl[v % ns]);
			v /= ns;
		}
		if (i % 7 == 0)
			strcat(words[i], syl[(i / 7) % ns]);
	}
}

static const struct {
	const char *top, *ext[3], *type[3];
	unsigned percent;
	uint64_t min, max;
} kinds[] = {
    {"music",
     {"ogg", "mp3", "flac"},
     {"audio/ogg", "audio/mpeg", "audio/flac"},
     40,
     2 << 20,
     60 << 20},
    {"pics",
     {"jpg", "png", "webp"},
     {"image/jpeg", "image/png", "image/webp"},
     30,
     50 << 10,
     8 << 20},
    {"docs",
     {"pdf", "txt", "epub"},
     {"application/pdf", "text/plain", "application/epub+zip"},
     20,
     1 << 10,
     20 << 20},
    {"video",
     {"mkv", "mp4", "webm"},
     {"video/x-matroska", "video/mp4", "video/webm"},
     10,
     100 << 20,
     (uint64_t)4 << 30},
};

/* Fills the catalogue with n hashed files. */
static void generate(struct catalogue *c, unsigned n)
{
	unsigned char sha[32] = {0};
	char path[512];
	struct timespec t0, t1;
	bool stale;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (catalogue_begin(c) == -1)
		exit(1);
	for (unsigned i = 0; i < n; i++) {
		unsigned r = (unsigned)(rnd() % 100), k = 0, e;
		struct cat_file f = {0};

		while (r >= kinds[k].percent) {
			r -= kinds[k].percent;
			k++;
		}
		e = (unsigned)(rnd() % 3);
		snprintf(path, sizeof(path), "%s/%s %s/%s/%02u %s %s %s.%s",
		         kinds[k].top, words[skewed(N_WORDS)],
		         words[skewed(N_WORDS)], words[skewed(N_WORDS)],
		         (unsigned)(rnd() % 30), words[skewed(N_WORDS)],
		         words[skewed(N_WORDS)], i % 97 == 0 ? "live" : "",
		         kinds[k].ext[e]);
		f.path = path;
		f.size = kinds[k].min + rnd() % (kinds[k].max - kinds[k].min);
		f.mtime_ns = (int64_t)i * 1000;
		f.dev = 1;
		f.ino = i + 1;
		memcpy(sha, &i, sizeof(i));
		if (catalogue_upsert(c, &f) == -1 ||
		    catalogue_set_hash(c, f.id, f.size, f.mtime_ns, sha,
		                       kinds[k].type[e], &stale) == -1)
			exit(1);
		/* One file in 500 is described (two words, one of them
		 * the rare "olympia"-like word in one in 50 of those). */
		if (i % 500 == 7) {
			char desc[64];

			snprintf(desc, sizeof(desc), "%s %s",
			         words[skewed(N_WORDS)],
			         i % 25000 == 7 ? "zyxdesc" : "notes");
			if (catalogue_set_description(c, f.id, desc) == -1)
				exit(1);
		}
		if (i % 50000 == 49999) {
			if (catalogue_commit(c) == -1 ||
			    catalogue_begin(c) == -1)
				exit(1);
			fprintf(stderr, "\r%u files", i + 1);
		}
	}
	if (catalogue_commit(c) == -1)
		exit(1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "\rgenerated %u files in %.1f s\n", n,
	        (double)(t1.tv_sec - t0.tv_sec) +
	            (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
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

int main(int argc, char **argv)
{
	const char *queries[] = {
	    NULL, /* a common word, set below */
	    NULL, /* a mid-frequency word */
	    NULL, /* a rare word */
	    NULL, /* two common words */
	    "music",
	    "live",
	    "qqqqqq",
	    "ka",
	    "*.png",
	    "*.flac",
	    NULL, /* glob with a rare literal */
	    "size:>3G",
	    "size:<2K",
	    "type:video",
	    "type:audio/flac",
	    NULL, /* type + mid word */
	    "/live.*ogg$/",
	    NULL, /* regex with a rare word */
	    "new:1d",
	    "xq",             /* two characters, rare */
	    "qu",             /* two characters, common */
	    "zyxdesc",        /* a rare word found in descriptions */
	    "notes",          /* a word of many descriptions only */
	    "desc:zyxdesc",   /* the description filter, rare */
	    "desc:notes ogg", /* the description filter and a word */
	    "desc:no",        /* a short description filter */
	    NULL,             /* two rare words */
	    NULL,             /* a rare word in a glob with a rare extension */
	    NULL,             /* a rare word inside a glob, with matches */
	    NULL,             /* a size filter of 2.5 % and a mid word */
	    NULL,             /* a size filter of 0.1 % and a common word */
	    NULL,             /* a size filter of 1 % and a common word */
	    NULL,             /* a media type and a rare word */
	};
	const char **custom = NULL, **list;
	size_t n_custom = 0, n_queries;
	char q0[64], q1[64], q2[64], q3[64], q10[64], q15[64], q17[64], q26[64],
	    q27[64], q28[64], q29[64], q30[64], q31[64], q32[64];
	unsigned n = 1000000, runs = 200;
	const char *db = NULL;
	bool keep = false, letters = false;
	char tmpl[] = "/tmp/fisbot-bench-XXXXXX";
	char *path, *cause = NULL;
	struct catalogue *w, *r;
	struct timespec t0;
	struct stat sb;
	double *times;
	int ch;

	while ((ch = getopt(argc, argv, "n:r:d:klq:")) != -1) {
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
		case 'l':
			letters = true;
			break;
		case 'q':
			custom = xreallocarray(custom, n_custom + 1,
			                       sizeof(*custom));
			custom[n_custom++] = optarg;
			break;
		default:
			fprintf(stderr,
			        "usage: bench_search [-n FILES] [-r "
			        "RUNS] [-d DB] [-k] [-l] [-q QUERY]...\n");
			return 2;
		}
	}
	if (runs == 0)
		runs = 1;
	if (letters)
		make_letter_words();
	else
		make_words();
	snprintf(q0, sizeof(q0), "%s", words[0]);
	snprintf(q1, sizeof(q1), "%s", words[300]);
	snprintf(q2, sizeof(q2), "%s", words[N_WORDS - 3]);
	snprintf(q3, sizeof(q3), "%s %s", words[0], words[1]);
	snprintf(q10, sizeof(q10), "%s*.ogg", words[N_WORDS - 5]);
	snprintf(q15, sizeof(q15), "type:audio %s", words[300]);
	snprintf(q17, sizeof(q17), "/%s.*(ogg|mp3)$/", words[N_WORDS - 7]);
	queries[0] = q0;
	queries[1] = q1;
	queries[2] = q2;
	queries[3] = q3;
	queries[10] = q10;
	queries[15] = q15;
	queries[17] = q17;
	snprintf(q26, sizeof(q26), "%s %s", words[N_WORDS - 3],
	         words[N_WORDS - 11]);
	snprintf(q27, sizeof(q27), "%s*.flac", words[N_WORDS - 13]);
	queries[26] = q26;
	queries[27] = q27;
	snprintf(q28, sizeof(q28), "*%s*.ogg", words[N_WORDS - 5]);
	snprintf(q29, sizeof(q29), "size:>3G %s", words[300]);
	snprintf(q30, sizeof(q30), "size:<60K %s", words[0]);
	snprintf(q31, sizeof(q31), "size:<300K %s", words[1]);
	snprintf(q32, sizeof(q32), "type:video %s", words[N_WORDS - 3]);
	queries[28] = q28;
	queries[29] = q29;
	queries[30] = q30;
	queries[31] = q31;
	queries[32] = q32;
	list = queries;
	n_queries = sizeof(queries) / sizeof(queries[0]);
	if (n_custom > 0) {
		list = custom;
		n_queries = n_custom;
	}

	if (db != NULL) {
		path = xstrdup(db);
	} else {
		if (mkdtemp(tmpl) == NULL) {
			perror("mkdtemp");
			return 1;
		}
		path = xasprintf("%s/bench.db", tmpl);
	}
	if (stat(path, &sb) == -1) {
		w = catalogue_open_writer(path, &cause);
		if (w == NULL) {
			fprintf(stderr, "%s\n", cause);
			return 1;
		}
		generate(w, n);
		catalogue_close(w);
	}
	/* Opening for writing runs the integrity check: time it. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	w = catalogue_open_writer(path, &cause);
	if (w == NULL) {
		fprintf(stderr, "%s\n", cause);
		return 1;
	}
	printf("open for writing (with quick_check): %.0f ms\n", since_ms(&t0));
	catalogue_close(w);
	stat(path, &sb);
	printf("database: %.0f MiB\n", (double)sb.st_size / (1 << 20));

	r = catalogue_open(path, &cause);
	if (r == NULL) {
		fprintf(stderr, "%s\n", cause);
		return 1;
	}
	times = xcalloc(runs, sizeof(*times));
	printf("%-28s %8s %9s %8s %8s %8s\n", "query (page of 10 + count)",
	       "total", "p50 ms", "p99 ms", "max ms", "runs");
	for (size_t i = 0; i < n_queries; i++) {
		struct query *q = query_parse(list[i], &cause);
		uint64_t total = 0;
		bool capped = false;

		if (q == NULL) {
			fprintf(stderr, "%s: %s\n", list[i], cause);
			return 1;
		}
		for (unsigned k = 0; k < runs; k++) {
			struct cat_page p;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			if (catalogue_search(r, q, 0, 10, &p, &cause) == -1) {
				fprintf(stderr, "%s: %s\n", list[i], cause);
				free(cause);
				cause = NULL;
			}
			times[k] = since_ms(&t0);
			total = p.total;
			capped = p.total_capped;
			cat_page_clear(&p);
		}
		qsort(times, runs, sizeof(*times), cmp_double);
		printf("%-28s %7" PRIu64 "%s %9.3f %8.3f %8.3f %8u\n", list[i],
		       total, capped ? "+" : " ", times[runs / 2],
		       times[(size_t)(runs * 0.99)], times[runs - 1], runs);
		query_free(q);
	}
	free(times);
	free(custom);
	catalogue_close(r);
	if (db == NULL && !keep) {
		char *cmd = xasprintf("rm -rf '%s'", tmpl);

		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpl);
		free(cmd);
	} else {
		printf("kept %s\n", path);
	}
	free(path);
	return 0;
}
