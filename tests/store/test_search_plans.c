/*
 * Unit tests for the search plans of catalogue_search.c against a brute
 * force: on a small catalogue of names made of a few characters (ASCII in
 * both cases, UTF-8, spaces, dots; names of one or two characters, words
 * at the start and the end of names and descriptions), every query's
 * results, page by page, and its count equal a filter of every file with
 * query_match. Also: a rare two-character word is found without reading
 * every row (counted in SQLite's virtual machine steps). On a larger
 * catalogue (BIG_FILES, with sizes, media types and words of known
 * frequencies), every plan that a rare literal or a size or type filter
 * with words leads to is chosen where expected and checked the same way,
 * and the filter's plans read far fewer pages than the plans before them
 * (counted in the pager's cache hits and misses); so does a rare word with
 * a common one, among 40,000 files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fisbot/alloc.h"
#include "fisbot/query.h"
#include "store/catalogue_int.h"
#include "store/catalogue_write.h"

#define N_FILES   1500
#define BIG_FILES 20000
#define MAX_FILES 42000 /* N_FILES and test_rare_word_reads_few's */

struct fixture {
	char dir[64];
	char *db;
	struct catalogue *c;
	size_t n;
	int64_t id[MAX_FILES];
	char *path[MAX_FILES];
	char *lpath[MAX_FILES];
	char *ldesc[MAX_FILES]; /* NULL when none */
	uint64_t size[MAX_FILES];
	const char *type[MAX_FILES];
};

/* A small deterministic generator (xorshift64*). */
static uint64_t rng = 0x2545f4914f6cdd1dULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (unsigned)((rng * 0x9e3779b97f4a7c15ULL) >> 33) % n;
}

/* The pieces names are made of: common ones, then a few rare ones. */
static const char *const common[] = {"a", "b", "c", "d", "e", "A", "B",
                                     " ", ".", "é", "É", "ß", "-"};
static const char *const rare[] = {"x", "Q", "ñ", "Ω", "z", "?", "*"};

/* Appends a random piece to s (of size n). */
static void piece(char *s, size_t n)
{
	const char *p = rnd(10) == 0
	                    ? rare[rnd(sizeof(rare) / sizeof(*rare))]
	                    : common[rnd(sizeof(common) / sizeof(*common))];

	strncat(s, p, n - strlen(s) - 1);
}

/* Adds a hashed file at path with description desc (or NULL), of size and
 * media type; unique: the path is known to be new. */
static void add_file(struct fixture *fx, const char *path, const char *desc,
                     uint64_t size, const char *type, bool unique)
{
	struct cat_file f = {0};
	unsigned char sha[32] = {0};
	bool stale;

	for (size_t i = 0; !unique && i < fx->n; i++)
		if (strcmp(fx->path[i], path) == 0)
			return; /* drawn twice */
	f.path = (char *)path;
	f.size = size;
	f.mtime_ns = 1000;
	f.dev = 1;
	f.ino = fx->n + 1;
	assert_int_equal(catalogue_upsert(fx->c, &f), 0);
	memcpy(sha, &fx->n, sizeof(fx->n));
	assert_int_equal(
	    catalogue_set_hash(fx->c, f.id, f.size, 1000, sha, type, &stale),
	    0);
	if (desc != NULL)
		assert_int_equal(catalogue_set_description(fx->c, f.id, desc),
		                 0);
	fx->id[fx->n] = f.id;
	fx->path[fx->n] = xstrdup(path);
	fx->lpath[fx->n] = query_fold(path, strlen(path));
	fx->ldesc[fx->n] = desc != NULL ? query_fold(desc, strlen(desc)) : NULL;
	fx->size[fx->n] = size;
	fx->type[fx->n] = type;
	fx->n++;
}

/* Adds a hashed text file at path with description desc (or NULL). */
static void add(struct fixture *fx, const char *path, const char *desc)
{
	add_file(fx, path, desc, 100 + fx->n, "text/plain", false);
}

static int setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	char *cause = NULL;
	/* Names of one or two characters, pairs at either end. */
	static const char *const fixed[] = {
	    "xq",    "XQ",       "q",      "Ωñ",          "d/xq",
	    "xq/ab", "ab xq",    "ñΩ.txt", "d1/qqzz.txt", "d2/Qqzz b.txt",
	    "qqzz",  "d1/a qqzz"};

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
	for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++)
		add(fx, fixed[i], NULL);
	while (fx->n < N_FILES) {
		char path[128], desc[32];
		unsigned len = 1 + rnd(12);

		snprintf(path, sizeof(path), "d%u/", rnd(5));
		if (rnd(20) == 0)
			path[0] = '\0';
		for (unsigned k = 0; k < len; k++) {
			piece(path, sizeof(path));
			/* No name "." or "..". */
			if (k == 0 && path[strlen(path) - 1] == '.')
				path[strlen(path) - 1] = 'e';
		}
		if (fx->n % 997 == 0)
			strcat(path, "xq");
		if (rnd(8) == 0) {
			desc[0] = '\0';
			len = 1 + rnd(4);
			for (unsigned k = 0; k < len; k++)
				piece(desc, sizeof(desc));
			add(fx, path, desc);
		} else {
			add(fx, path, NULL);
		}
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
	for (size_t i = 0; i < fx->n; i++) {
		free(fx->path[i]);
		free(fx->lpath[i]);
		free(fx->ldesc[i]);
	}
	free(fx->db);
	free(fx);
	return 0;
}

/* Returns true if file i passes every term of q (the brute force). */
static bool brute_match(const struct fixture *fx, const struct query *q,
                        size_t i)
{
	for (size_t k = 0; k < q->n_terms; k++) {
		const struct query_term *t = &q->terms[k];

		if (t->kind == QUERY_SUBSTRING) {
			if (strstr(fx->lpath[i], t->text) == NULL &&
			    (fx->ldesc[i] == NULL ||
			     strstr(fx->ldesc[i], t->text) == NULL))
				return false;
		} else if (query_match(t, fx->lpath[i]) != 1) {
			return false;
		}
	}
	if (q->desc != NULL &&
	    (fx->ldesc[i] == NULL || strstr(fx->ldesc[i], q->desc) == NULL))
		return false;
	if (fx->size[i] < q->min_size || fx->size[i] > q->max_size)
		return false;
	if (q->type != NULL && strchr(q->type, '/') != NULL)
		return strcmp(fx->type[i], q->type) == 0;
	if (q->type != NULL)
		return strncmp(fx->type[i], q->type, strlen(q->type)) == 0 &&
		       fx->type[i][strlen(q->type)] == '/';
	return true;
}

/* Checks that the search text finds exactly what the brute force finds,
 * newest first, in pages of 7, with the count of every page that holds
 * matches and ends before the count's cap (later pages read on to the
 * cap to count). Returns the number of matches. */
static size_t check(struct fixture *fx, const char *text)
{
	struct query *q;
	char *cause = NULL;
	int64_t *want = xcalloc(fx->n, sizeof(*want));
	size_t n_want = 0, got = 0;

	q = query_parse(text, &cause);
	if (q == NULL)
		fail_msg("%s: %s", text, cause);
	for (size_t i = fx->n; i-- > 0;)
		if (brute_match(fx, q, i))
			want[n_want++] = fx->id[i];
	for (uint64_t off = 0;; off += 7) {
		struct cat_page p;

		if (catalogue_search(fx->c, q, off, 7, &p, &cause) != 1)
			fail_msg("%s: %s", text, cause);
		if (off == 0 ||
		    (off < n_want && off + 7 <= CATALOGUE_COUNT_CAP)) {
			uint64_t total = n_want > CATALOGUE_COUNT_CAP
			                     ? CATALOGUE_COUNT_CAP
			                     : n_want;

			if (p.total != total)
				fail_msg(
				    "%s: count %llu at %llu, expected %llu",
				    text, (unsigned long long)p.total,
				    (unsigned long long)off,
				    (unsigned long long)total);
			assert_true(p.total_capped ==
			            (n_want > CATALOGUE_COUNT_CAP));
		}
		for (size_t k = 0; k < p.n; k++, got++) {
			if (got >= n_want || p.v[k].file.id != want[got])
				fail_msg("%s: result %zu is %s (id %lld)", text,
				         got, p.v[k].file.path,
				         (long long)p.v[k].file.id);
		}
		if (p.n < 7) {
			cat_page_clear(&p);
			break;
		}
		cat_page_clear(&p);
	}
	if (got != n_want)
		fail_msg("%s: %zu results, expected %zu", text, got, n_want);
	query_free(q);
	free(want);
	return n_want;
}

/* Every pair of characters found at the start, the end or inside names and
 * descriptions, in both cases, rare and common, alone and combined. */
static void test_pairs(void **state)
{
	struct fixture *fx = *state;
	static const char *const queries[] = {
	    "xq",         "XQ",           "Xq",    "q",      "ab",    "Ωñ",
	    "ωÑ",         "ñω",           "ÑΩ",    ".t",     "xt",    "d/",
	    "\"/x\"",     "é ",           "ss",    "ß",      "ba",    "ea",
	    "zx",         "qz",           "x?",    "?*",     "xq ab", "ab xq",
	    "xq d/",      "xq q",         "xq Ωñ", "e. xq",  "zz",    "ÿÿ",
	    "xq size:>0", "xq type:text", "Ωz ñx", "\"xq\"", "a\"",   "x\"",
	};
	size_t found = 0;

	for (size_t i = 0; i < sizeof(queries) / sizeof(*queries); i++)
		found += check(fx, queries[i]) > 0;
	assert_true(found > 20);
	/* Every pair of the first names, where it starts them and ends
	 * them. */
	for (size_t i = 0; i < 200; i++) {
		const char *s = fx->lpath[i];
		size_t len = strlen(s), a = 0, b;
		char pair[16];

		if (len < 2)
			continue;
		b = a + 1;
		while (b < len && ((unsigned char)s[b] & 0xc0) == 0x80)
			b++;
		b++;
		while (b < len && ((unsigned char)s[b] & 0xc0) == 0x80)
			b++;
		if (b - a + 3 < sizeof(pair) && memchr(s, '"', b) == NULL) {
			snprintf(pair, sizeof(pair), "\"%.*s\"", (int)(b - a),
			         s + a);
			check(fx, pair);
		}
		/* The last two characters. */
		a = len - 1;
		while (a > 0 && ((unsigned char)s[a] & 0xc0) == 0x80)
			a--;
		if (a == 0)
			continue;
		a--;
		while (a > 0 && ((unsigned char)s[a] & 0xc0) == 0x80)
			a--;
		if (len - a + 3 < sizeof(pair) && strchr(s + a, '"') == NULL) {
			snprintf(pair, sizeof(pair), "\"%s\"", s + a);
			check(fx, pair);
		}
	}
}

/* Globs and regexes with long, short and no literals, ? wildcards,
 * several runs. */
static void test_globs(void **state)
{
	struct fixture *fx = *state;
	static const char *const queries[] = {
	    "*xq",
	    "xq*",
	    "*x*q*",
	    "??",
	    "?q",
	    "*.txt",
	    "ñΩ*.txt",
	    "*abc*",
	    "a*b*c",
	    "*ß*",
	    "*é?é*",
	    "b?a*",
	    "*ab?.*",
	    "/xq$/",
	    "/^d1/",
	    "/a.b/",
	    "/éé/",
	    "/x?q/",
	    "desc:xq",
	    "desc:ab",
	    "desc:a",
	    "desc:ñω",
	    "xq desc:a",
	    "abc ABD",
	    "aba bab",
	    "*aba*.c",
	    "[ab]x*",
	    "*b[!a]c*",
	    "qqzz d1/",
	    "d1/ qqzz",
	    "qqzz*",
	    "*qqzz*",
	    "qqzz*.txt",
	    "/d1.*qqzz/",
	    "qqzz desc:abc",
	    "d1/ d2/",
	    "qqzz d1/ /zz/",
	    "QQZZ D1/",
	    /* globs that begin with two characters, names at the root or
	     * not */
	    "ab*",
	    "ab*.txt",
	    "zz*",
	    "d1*",
	    "xq?*",
	    "ñω*",
	    "qq*.txt",
	    "aa*b",
	};

	for (size_t i = 0; i < sizeof(queries) / sizeof(*queries); i++)
		check(fx, queries[i]);
}

/* Sums the virtual machine steps of each statement run. */
static int count_steps(unsigned type, void *arg, void *p, void *x)
{
	(void)type;
	(void)x;
	*(int64_t *)arg += sqlite3_stmt_status(p, SQLITE_STMTSTATUS_VM_STEP, 0);
	return 0;
}

/* A rare pair of characters is found through the trigrams' vocabulary and
 * the tails, not by reading every row: far fewer virtual machine steps than
 * rows, once the catalogue is larger than what the plan probes. */
static void test_rare_pair_reads_few_rows(void **state)
{
	struct fixture *fx = *state;
	struct query *q;
	struct cat_page p;
	char *cause = NULL;
	int64_t steps = 0;

	assert_int_equal(catalogue_begin(fx->c), 0);
	for (unsigned i = 0; i < 30000; i++) {
		struct cat_file f = {0};
		unsigned char sha[32] = {0};
		char path[64];
		bool stale;

		snprintf(path, sizeof(path), "bulk/%u abcde.txt", i);
		f.path = path;
		f.size = 1;
		f.mtime_ns = 1;
		f.dev = 2;
		f.ino = i + 1;
		assert_int_equal(catalogue_upsert(fx->c, &f), 0);
		memcpy(sha, &i, sizeof(i));
		assert_int_equal(catalogue_set_hash(fx->c, f.id, 1, 1, sha,
		                                    "text/plain", &stale),
		                 0);
		if (i == 15000)
			assert_int_equal(
			    catalogue_set_description(fx->c, f.id, "Notes XQ"),
			    0);
	}
	assert_int_equal(catalogue_commit(fx->c), 0);

	for (int i = 0; i < 2; i++) {
		const char *text = i == 0 ? "xq" : "desc:xq";

		q = query_parse(text, &cause);
		assert_non_null(q);
		steps = 0;
		sqlite3_trace_v2(fx->c->db, SQLITE_TRACE_PROFILE, count_steps,
		                 &steps);
		assert_int_equal(catalogue_search(fx->c, q, 0, 10, &p, &cause),
		                 1);
		sqlite3_trace_v2(fx->c->db, 0, NULL, NULL);
		assert_true(p.n > 0);
		cat_page_clear(&p);
		query_free(q);
		if (steps >= 60000)
			fail_msg("%lld steps for %s", (long long)steps, text);
	}
}

static const char *const big_words[] = {"alpha",  "beta",  "gamma", "delta",
                                        "éclair", "omega", "kappa", "sigma"};
static const char *const big_ext[][2] = {{"ogg", "audio/ogg"},
                                         {"mp3", "audio/mpeg"},
                                         {"txt", "text/plain"},
                                         {"jpg", "image/jpeg"}};

/* BIG_FILES files: two of big_words each (a word in about a quarter of
 * them), "tenth" in a tenth, "midword" in about 490, "zyxrare" in 5,
 * "quxrare" in 7; sizes 1 to BIG_FILES, each once, spread over the ids; four
 * media types in turn; "notes Alpha" described in one in 50. */
static int setup_big(void **state)
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
	for (unsigned i = 0; i < BIG_FILES; i++) {
		const char *word = i % 4001 == 5   ? " zyxrare"
		                   : i % 2999 == 7 ? " quxrare"
		                   : i % 41 == 0   ? " midword"
		                                   : "";
		char path[128];

		snprintf(path, sizeof(path), "b%02u/%05u %s %s%s%s.%s", i % 20,
		         i, big_words[(i * 5 + i / 7) % 8],
		         big_words[(i / 3 + i / 11) % 8],
		         i % 10 == 3 ? " tenth" : "", word, big_ext[i % 4][0]);
		add_file(fx, path, i % 50 == 1 ? "notes Alpha" : NULL,
		         (uint64_t)i * 7919 % BIG_FILES + 1, big_ext[i % 4][1],
		         true);
	}
	assert_int_equal(catalogue_commit(fx->c), 0);
	*state = fx;
	return 0;
}

/* Each query finds what the brute force finds, through the plan named
 * (NULL: any). */
static void test_big_plans(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *text, *plan;
	} cases[] = {
	    /* a rare literal's rows, the others tested on them */
	    {"zyxrare alpha", "ids literal"},
	    {"*zyxrare*.ogg", "ids literal"},
	    {"alpha quxrare", "ids literal"},
	    {"nosuchword alpha", "ids literal"},
	    {"midword beta", "ids literal"},
	    {"/midword.*mp3$/ size:>5000", "ids literal"},
	    {"quxrare zyxrare", "ids literal"},
	    {"zyxrare desc:notes", "ids literal"},
	    /* a glob's first literal must begin the name: rare there */
	    {"alpha*.ogg", "ids literal"},
	    {"00123*", "fts"},
	    /* two characters, no name at the root: "/zz" is the literal */
	    {"zz*.ogg", "ids literal"},
	    {"00*.ogg", NULL},
	    {"00123 alpha*", "ids literal"},
	    {"gamma*beta*", "ids literal"},
	    /* one literal in few rows, with a filter */
	    {"midword size:>10000", "fts"},
	    /* a filter of few rows, with common words */
	    {"size:<900 alpha", "ids filter"},
	    {"size:>19000 éclair", "ids filter"},
	    {"size:<900 alpha beta", "ids filter"},
	    {"type:audio/ogg size:<1500 gamma", "ids filter"},
	    /* a larger filter: a set, and the rarest trigram */
	    {"size:>16000 alpha", "fts set trigram"},
	    {"size:>17500 tenth", "fts set trigram"},
	    {"size:>16000 *alpha*.ogg", "fts set trigram"},
	    {"size:>16500 éclair", "fts set trigram"},
	    {"size:>16000 alpha ga", "fts set trigram"},
	    {"size:>16000 \"a bet\"", "fts set trigram"},
	    /* a dense filter: tested on each row */
	    {"type:audio alpha", "fts"},
	    /* without literals */
	    {"size:<900", "ids filter"},
	    {"size:>16000", "scan"},
	    {"size:<150 alpha", "size"},
	    {"size:<900 xq", NULL},
	    {"size:>16000 alpha desc:notes", NULL},
	    {"size:>16000 desc:notes", NULL},
	    {"type:text tenth", NULL},
	    {"type:image size:>12000 tenth omega", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		check(fx, cases[i].text);
		if (cases[i].plan != NULL &&
		    strcmp(fx->c->plan, cases[i].plan) != 0)
			fail_msg("%s: plan %s, expected %s", cases[i].text,
			         fx->c->plan, cases[i].plan);
	}
}

/* Returns the pages the pager was asked for (cache hits and misses) while
 * searching text for its first page of 10 and its count; or, if old is not
 * NULL, while running that SQL statement instead. */
static int pages_read(struct fixture *fx, const char *text, const char *old)
{
	int hit, miss, hw;
	struct cat_page p;
	char *cause = NULL;

	sqlite3_db_status(fx->c->db, SQLITE_DBSTATUS_CACHE_HIT, &hit, &hw, 1);
	sqlite3_db_status(fx->c->db, SQLITE_DBSTATUS_CACHE_MISS, &miss, &hw, 1);
	if (old != NULL) {
		assert_int_equal(sqlite3_exec(fx->c->db, old, NULL, NULL, NULL),
		                 SQLITE_OK);
	} else {
		struct query *q = query_parse(text, &cause);

		assert_non_null(q);
		assert_int_equal(catalogue_search(fx->c, q, 0, 10, &p, &cause),
		                 1);
		cat_page_clear(&p);
		query_free(q);
	}
	sqlite3_db_status(fx->c->db, SQLITE_DBSTATUS_CACHE_HIT, &hit, &hw, 0);
	sqlite3_db_status(fx->c->db, SQLITE_DBSTATUS_CACHE_MISS, &miss, &hw, 0);
	return hit + miss;
}

/* A word with a size filter of a few thousand rows reads the filter's
 * index into a set and the trigram index for the word's rarest trigram,
 * the table only for the rows in both: far fewer pages than reading the
 * table for every row of the word until the count's cap (the plan
 * before, whose count statement is run here as it was). */
static void test_big_reads_few(void **state)
{
	struct fixture *fx = *state;
	int now, before;

	now = pages_read(fx, "size:>17500 tenth", NULL);
	before = pages_read(
	    fx, NULL,
	    "SELECT count(*) FROM (SELECT 1 FROM files_fts CROSS JOIN files f"
	    " ON f.id = files_fts.rowid WHERE files_fts MATCH '\"tenth\"'"
	    " AND f.sha256 IS NOT NULL AND +f.size >= 17501 LIMIT 201)");
	if (now * 4 > before)
		fail_msg("size:>17500 tenth: %d pages, before %d", now, before);
}

/* A rare word with a common one reads the rare word's rows and tests the
 * common word on them, instead of reading through the common word's
 * doclists as FTS5 does for both (the plan before, whose page statement is
 * run here as it was): far fewer pages. */
static void test_rare_word_reads_few(void **state)
{
	struct fixture *fx = *state;
	int now, before;

	assert_int_equal(catalogue_begin(fx->c), 0);
	for (unsigned i = 0; i < MAX_FILES - N_FILES; i++) {
		char path[64];

		snprintf(path, sizeof(path), "bulk/%u%s abcde.txt", i,
		         i % 10000 == 5 ? " zqwvyx" : "");
		add_file(fx, path, NULL, i, "text/plain", true);
	}
	assert_int_equal(catalogue_commit(fx->c), 0);
	check(fx, "zqwvyx abcde");
	now = pages_read(fx, "zqwvyx abcde", NULL);
	before =
	    pages_read(fx, NULL,
	               "SELECT f.id FROM files_fts CROSS JOIN files f"
	               " ON f.id = files_fts.rowid WHERE files_fts MATCH"
	               " '\"zqwvyx\" AND \"abcde\"' AND f.sha256 IS NOT NULL"
	               " ORDER BY files_fts.rowid DESC LIMIT 10");
	if (now * 3 > before)
		fail_msg("zqwvyx abcde: %d pages, before %d", now, before);
	assert_string_equal(fx->c->plan, "ids literal");
}

/* Counts the statements run that read the trigram index (arg[0]) and the
 * separate count statements (arg[1]). */
static int count_statements(unsigned type, void *arg, void *p, void *x)
{
	const char *sql = sqlite3_sql(p);

	(void)type;
	(void)x;
	if (strstr(sql, "MATCH") != NULL)
		((int *)arg)[0]++;
	/* (Not the probes: "FROM files WHERE", "FROM files_fts WHERE".) */
	if (strstr(sql, "SELECT count(*) FROM (SELECT 1 FROM files f") !=
	        NULL ||
	    strstr(sql,
	           "SELECT count(*) FROM (SELECT 1 FROM files_fts CROSS") !=
	        NULL)
		((int *)arg)[1]++;
	return 0;
}

/* A search with more matches than a page but fewer than the count's cap
 * reads them once, its page and its count together, on every page: through
 * the trigram index, oldest first (FTS5 loads a doclist whole to read it
 * newest first), else newest first on past the page. With more than the
 * cap, the trigram index is read twice (to the cap, then the page), as the
 * page and the count did before. There is no count statement of its own
 * (there were two statements, each reading the matches). */
static void test_page_and_count_once(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *text, *plan;
		uint64_t offset, total;
		bool capped;
		int matches; /* statements that read the trigram index */
	} cases[] = {
	    {"quokka", "fts", 0, 57, false, 1},
	    {"quokka", "fts", 10, 57, false, 1},
	    {"quokka", "fts", 50, 57, false, 1},
	    {"quokka", "fts", 60, 57, false, 1},
	    {"wombat", "fts", 0, CATALOGUE_COUNT_CAP, true, 2},
	    {"wombat", "fts", 190, CATALOGUE_COUNT_CAP, true, 2},
	    {"wombat", "fts", 195, 205, true, 2},
	    {"uo", "scan", 0, 57, false, 0},
	    {"uo", "scan", 20, 57, false, 0},
	};

	assert_int_equal(catalogue_begin(fx->c), 0);
	for (unsigned i = 0; i < 300; i++) {
		char path[64];

		snprintf(path, sizeof(path), "pets/%u %s.txt", i,
		         i % 5 == 0 && i < 285 ? "quokka" : "wombat");
		add_file(fx, path, NULL, i, "text/plain", true);
	}
	assert_int_equal(catalogue_commit(fx->c), 0);
	assert_int_equal(check(fx, "quokka"), 57);
	assert_int_equal(check(fx, "wombat"), 243);
	assert_int_equal(check(fx, "uo"), 57);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *cause = NULL;
		struct query *q = query_parse(cases[i].text, &cause);
		struct cat_page p;
		int runs[2] = {0, 0};

		assert_non_null(q);
		sqlite3_trace_v2(fx->c->db, SQLITE_TRACE_PROFILE,
		                 count_statements, runs);
		assert_int_equal(
		    catalogue_search(fx->c, q, cases[i].offset, 10, &p, &cause),
		    1);
		sqlite3_trace_v2(fx->c->db, 0, NULL, NULL);
		if (runs[0] != cases[i].matches || runs[1] != 0 ||
		    p.total != cases[i].total ||
		    p.total_capped != cases[i].capped)
			fail_msg("%s at %llu: %d statements with MATCH, %d "
			         "count statements, count %llu%s",
			         cases[i].text,
			         (unsigned long long)cases[i].offset, runs[0],
			         runs[1], (unsigned long long)p.total,
			         p.total_capped ? "+" : "");
		assert_string_equal(fx->c->plan, cases[i].plan);
		cat_page_clear(&p);
		query_free(q);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pairs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_globs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rare_pair_reads_few_rows,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_big_plans, setup_big,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_big_reads_few, setup_big,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_page_and_count_once, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_rare_word_reads_few, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
