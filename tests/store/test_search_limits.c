/* Unit tests for regex limits in catalogue searches: a path on which a
 * regex hits a PCRE2 limit does not match and the page says so; a search
 * whose every path is expensive still ends at its time limit, with a
 * one-line error naming the regex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fisbot/alloc.h"
#include "fisbot/query.h"
#include "store/catalogue_write.h"

#define N_LONG 40 /* long paths that make hostile regexes expensive */

struct fixture {
	char dir[64];
	char *db;
	struct catalogue *c;
};

/* Adds a hashed file at path. */
static void add(struct catalogue *c, const char *path, uint64_t ino)
{
	struct cat_file f = {0};
	unsigned char sha[32];
	bool stale = true;

	f.path = (char *)path;
	f.size = 100;
	f.mtime_ns = 1000;
	f.dev = 1;
	f.ino = ino;
	assert_int_equal(catalogue_upsert(c, &f), 0);
	memset(sha, 0x5a, sizeof(sha));
	assert_int_equal(
	    catalogue_set_hash(c, f.id, 100, 1000, sha, "text/plain", &stale),
	    0);
	assert_false(stale);
}

/* Returns a path of about 3.7 KiB in folders of about 240 bytes:
 * "dK/abxxxxxxxcxabxxxxxxxcx.../...abc". */
static char *long_path(unsigned k)
{
	char *p = xmalloc(4096);
	size_t n = (size_t)snprintf(p, 4096, "d%u/", k);

	for (unsigned u = 1; n + 11 < 3770; u++) {
		memcpy(p + n, "abxxxxxxxc", 10);
		n += 10;
		p[n++] = u % 22 == 0 ? '/' : 'x';
	}
	strcpy(p + n, "abc");
	return p;
}

static int setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	char *cause = NULL;

	strcpy(fx->dir, "/tmp/fisbot-test-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->db = xasprintf("%s/fisbot.db", fx->dir);
	fx->c = catalogue_open_writer(fx->db, &cause);
	if (fx->c == NULL) {
		fprintf(stderr, "%s\n", cause);
		return -1;
	}
	assert_int_equal(catalogue_begin(fx->c), 0);
	add(fx->c, "music/live/song.ogg", 1);
	add(fx->c, "music/studio/other.ogg", 2);
	for (unsigned k = 0; k < N_LONG; k++) {
		char *p = long_path(k);

		add(fx->c, p, 10 + k);
		free(p);
	}
	assert_int_equal(catalogue_commit(fx->c), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char *cmd;

	catalogue_close(fx->c);
	cmd = xasprintf("rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fx->dir);
	free(cmd);
	free(fx->db);
	free(fx);
	return 0;
}

/* Returns the seconds elapsed since *t0. */
static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Runs the search text; returns catalogue_search's result, fills *page and
 * *cause, and stores the time it took in *took. */
static int search(struct catalogue *c, const char *text, struct cat_page *page,
                  char **cause, double *took)
{
	struct query *q;
	struct timespec t0;
	int rc;

	q = query_parse(text, cause);
	if (q == NULL)
		fail_msg("%s: %s", text, *cause);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = catalogue_search(c, q, 0, 10, page, cause);
	*took = since(&t0);
	query_free(q);
	return rc;
}

static void test_limit_is_no_match_and_reported(void **state)
{
	struct fixture *fx = *state;
	struct cat_page page;
	char *cause = NULL;
	double took;

	/* Took 31 s on one such path with glibc's regexec. */
	assert_int_equal(search(fx->c, "/(.*a){999}c/", &page, &cause, &took),
	                 1);
	print_message("/(.*a){999}c/ on %d paths of 3.7 KiB: %.3f s\n", N_LONG,
	              took);
	assert_int_equal(page.n, 0);
	assert_true(page.regex_limited);
	assert_true(took < 10.0); /* the cap is 2 s; generous here */
	cat_page_clear(&page);

	/* Where it is cheap, a regex matches as usual and nothing is
	 * reported. */
	assert_int_equal(
	    search(fx->c, "/^music/.*\\.ogg$/", &page, &cause, &took), 1);
	assert_int_equal(page.n, 2);
	assert_false(page.regex_limited);
	cat_page_clear(&page);
	assert_int_equal(search(fx->c, "/xc.abc$/", &page, &cause, &took), 1);
	assert_int_equal(page.n, 10);
	assert_int_equal(page.total, N_LONG);
	assert_false(page.regex_limited);
	cat_page_clear(&page);
	assert_int_equal(search(fx->c, "*.OGG", &page, &cause, &took), 1);
	assert_int_equal(page.n, 2);
	assert_false(page.regex_limited);
	cat_page_clear(&page);
}

static void test_expensive_search_ends_at_its_limit(void **state)
{
	struct fixture *fx = *state;
	struct cat_page page;
	char *cause = NULL;
	double took;

	/* Every long path costs this regex a few milliseconds (it stops at
	 * QUERY_MATCH_MS): N_LONG of them are more than 50 ms. */
	catalogue_set_search_limit(fx->c, 50);
	assert_int_equal(search(fx->c, "/(?:[^/]*/)*x$/", &page, &cause, &took),
	                 -1);
	print_message("stopped after %.3f s: %s\n", took, cause);
	/* Which one depends on whether a match hit its limit before the
	 * search's (a loaded machine may deschedule the first match long
	 * enough): either way, one line. */
	if (strcmp(cause, "regex too complex: the search took more than "
	                  "50 ms (simplify the regex or glob)") != 0)
		assert_string_equal(cause, "search took too long (more than "
		                           "50 ms): try more precise terms");
	assert_int_equal(page.n, 0);
	/* Checked after every match, not only between SQLite's steps. */
	assert_true(took < 0.05 + 1.0);
	free(cause);
	catalogue_set_search_limit(fx->c, CATALOGUE_SEARCH_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_limit_is_no_match_and_reported,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_expensive_search_ends_at_its_limit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
