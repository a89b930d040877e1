/* Unit tests for the search syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "fisbot/alloc.h"
#include "fisbot/query.h"

/* Parses text, which must be valid. */
static struct query *parse_ok(const char *text)
{
	char *cause = NULL;
	struct query *q = query_parse(text, &cause);

	if (q == NULL)
		fail_msg("\"%s\": %s", text, cause);
	return q;
}

/* Parses text, which must fail with exactly the message cause. */
static void parse_bad(const char *text, const char *expected)
{
	char *cause = NULL;
	struct query *q = query_parse(text, &cause);

	if (q != NULL)
		fail_msg("\"%s\" was accepted", text);
	assert_non_null(cause);
	if (expected != NULL && strcmp(cause, expected) != 0)
		fail_msg("\"%s\": got \"%s\", expected \"%s\"", text, cause,
		         expected);
	free(cause);
}

static void test_terms(void **state)
{
	struct query *q = parse_ok("  Song   \"Live At\"\t*.OGG  /a|b/ x ");

	assert_int_equal(q->n_terms, 5);
	assert_int_equal(q->terms[0].kind, QUERY_SUBSTRING);
	assert_string_equal(q->terms[0].text, "song");
	assert_int_equal(q->terms[1].kind, QUERY_SUBSTRING);
	assert_string_equal(q->terms[1].text, "live at");
	assert_int_equal(q->terms[2].kind, QUERY_GLOB);
	assert_string_equal(q->terms[2].text, "*.ogg");
	assert_int_equal(q->terms[3].kind, QUERY_REGEX);
	assert_string_equal(q->terms[3].text, "a|b");
	assert_string_equal(q->terms[4].text, "x");
	assert_false(query_is_empty(q));
	assert_int_equal(query_longest_literal(q), 7);
	query_free(q);

	/* Non-ASCII lowercasing; length in characters. */
	q = parse_ok("ÉTÉ");
	assert_string_equal(q->terms[0].text, "été");
	assert_int_equal(query_longest_literal(q), 3);
	query_free(q);

	/* Empty queries. */
	q = parse_ok("");
	assert_true(query_is_empty(q));
	assert_int_equal(query_longest_literal(q), 0);
	query_free(q);
	q = parse_ok("   \"\"  ");
	assert_true(query_is_empty(q));
	query_free(q);

	/* A regex may hold spaces and slashes; it ends at "/ " or "/" at
	 * the end. */
	q = parse_ok("/a b/c/ d");
	assert_int_equal(q->n_terms, 2);
	assert_string_equal(q->terms[0].text, "a b/c");
	assert_string_equal(q->terms[1].text, "d");
	query_free(q);
	/* A quote inside a word is a literal. */
	q = parse_ok("it's");
	assert_string_equal(q->terms[0].text, "it's");
	query_free(q);
}

static void test_filters(void **state)
{
	struct query *q;

	q = parse_ok("size:>1K");
	assert_int_equal(q->min_size, 1025);
	assert_int_equal(q->max_size, UINT64_MAX);
	assert_false(query_is_empty(q));
	query_free(q);
	q = parse_ok("size:>=1K size:<2M");
	assert_int_equal(q->min_size, 1024);
	assert_int_equal(q->max_size, 2 * 1024 * 1024 - 1);
	query_free(q);
	q = parse_ok("SIZE:<=10");
	assert_int_equal(q->min_size, 0);
	assert_int_equal(q->max_size, 10);
	query_free(q);
	q = parse_ok("size:5M");
	assert_int_equal(q->min_size, 5 << 20);
	assert_int_equal(q->max_size, 5 << 20);
	query_free(q);
	q = parse_ok("size:=7");
	assert_int_equal(q->min_size, 7);
	assert_int_equal(q->max_size, 7);
	query_free(q);
	/* Several bounds narrow the range. */
	q = parse_ok("size:>10 size:>5 size:<100 size:<1000");
	assert_int_equal(q->min_size, 11);
	assert_int_equal(q->max_size, 99);
	query_free(q);

	q = parse_ok("type:Audio");
	assert_string_equal(q->type, "audio");
	query_free(q);
	q = parse_ok("type:application/epub+zip");
	assert_string_equal(q->type, "application/epub+zip");
	query_free(q);

	q = parse_ok("new:7d song");
	assert_int_equal(q->new_within_ms, 7ULL * 86400 * 1000);
	assert_int_equal(q->n_terms, 1);
	query_free(q);
	q = parse_ok("new:90");
	assert_int_equal(q->new_within_ms, 90000);
	query_free(q);

	q = query_new();
	assert_true(query_is_empty(q));
	query_set_desc(q, "A Cat");
	assert_string_equal(q->desc, "a cat");
	assert_false(query_is_empty(q));
	query_set_desc(q, "");
	assert_null(q->desc);
	query_free(q);
}

static void test_errors(void **state)
{
	char *long_text = xmalloc(QUERY_MAX_LENGTH + 2);
	char *long_term = xmalloc(QUERY_MAX_TERM + 2);
	char *long_regex = xmalloc(QUERY_MAX_REGEX + 4);
	char many[256] = "";

	parse_bad("\"abc", "unterminated quote");
	parse_bad("a \"b\" \"c", "unterminated quote");
	parse_bad("/abc", "unterminated regex (end it with / and a space)");
	parse_bad("/a/b", "unterminated regex (end it with / and a space)");
	parse_bad("//", "empty regex");
	parse_bad("size:>10Q", "bad size in \"size:>10Q\"");
	parse_bad("size:", "bad size in \"size:\"");
	parse_bad("size:>", "bad size in \"size:>\"");
	parse_bad("size:-1", "bad size in \"size:-1\"");
	parse_bad("size:<0", "nothing is smaller than 0: \"size:<0\"");
	parse_bad("size:>99999999999999999999",
	          "bad size in \"size:>99999999999999999999\"");
	parse_bad("type:", "bad type in \"type:\" (e.g. type:audio, "
	                   "type:image/png)");
	parse_bad("type:a/b/c", NULL);
	parse_bad("type:/png", NULL);
	parse_bad("type:audio/", NULL);
	parse_bad("type:a<b", NULL);
	parse_bad("new:", "bad duration in \"new:\" (e.g. new:7d)");
	parse_bad("new:0", "bad duration in \"new:0\" (e.g. new:7d)");
	parse_bad("new:soon", "bad duration in \"new:soon\" (e.g. new:7d)");
	parse_bad("/a(/", "bad regex: missing closing parenthesis (at "
	                  "offset 2)");
	parse_bad("/[z-a]/", "bad regex: range out of order in character "
	                     "class (at offset 3)");
	parse_bad("/a*{2}/", NULL);
	parse_bad("/}t+++++++++++++++++++++++++++++++++:#)/", NULL);
	parse_bad("/a{2,}{30}{30}/", NULL);
	parse_bad("/(a)\\2/", "bad regex: reference to non-existent "
	                      "subpattern (at offset 4)");
	/* The bot sets the limits: no (*LIMIT_MATCH=...) or (*NO_JIT). */
	parse_bad("/(*LIMIT_MATCH=100000000)a/",
	          "bad regex: settings such as (*NO_JIT) at the start are "
	          "not supported");
	parse_bad("/(*NO_JIT)a/", NULL);
	/* \C would split UTF-8 characters. */
	parse_bad("/a\\Cb/", "bad regex: using \\C is disabled by the "
	                     "application (at offset 3)");
	/* Compiled size and nesting are bounded. */
	parse_bad("/(.*){1,32000}[bc]/",
	          "regex too complex (its compiled form is too large)");
	parse_bad("/((((((((((((((((((((((((((((((((((a))))))))))))))))))))"
	          "))))))))))))))/",
	          "regex too complex (parentheses nested more than 32 deep)");
	parse_bad("[[:nope:]]*", "bad glob: unknown POSIX class name");
	parse_bad("[z-a]*", "bad glob: range out of order in character class");
	/* Unprintable input is shown escaped in the message. */
	parse_bad("size:\x01", "bad size in \"size:\\x01\"");

	memset(long_text, 'a', QUERY_MAX_LENGTH + 1);
	long_text[QUERY_MAX_LENGTH + 1] = '\0';
	parse_bad(long_text, "query too long (at most 1024 bytes)");
	memset(long_term, 'b', QUERY_MAX_TERM + 1);
	long_term[QUERY_MAX_TERM + 1] = '\0';
	parse_bad(long_term, NULL);
	long_regex[0] = '/';
	memset(long_regex + 1, 'c', QUERY_MAX_REGEX + 1);
	strcpy(long_regex + QUERY_MAX_REGEX + 2, "/");
	parse_bad(long_regex, NULL);
	for (int i = 0; i <= QUERY_MAX_TERMS; i++)
		strcat(many, "t ");
	parse_bad(many, "too many terms (at most 16)");

	free(long_text);
	free(long_term);
	free(long_regex);
}

static void test_bounds_accepted(void **state)
{
	char *term = xmalloc(QUERY_MAX_TERM + 1);
	char *regex = xmalloc(QUERY_MAX_REGEX + 3);
	char many[256] = "";
	struct query *q;

	memset(term, 'b', QUERY_MAX_TERM);
	term[QUERY_MAX_TERM] = '\0';
	q = parse_ok(term);
	query_free(q);
	regex[0] = '/';
	memset(regex + 1, 'c', QUERY_MAX_REGEX);
	strcpy(regex + QUERY_MAX_REGEX + 1, "/");
	q = parse_ok(regex);
	query_free(q);
	for (int i = 0; i < QUERY_MAX_TERMS; i++)
		strcat(many, "t ");
	q = parse_ok(many);
	assert_int_equal(q->n_terms, QUERY_MAX_TERMS);
	query_free(q);
	q = parse_ok("/a{10}b{100}/");
	query_free(q);
	/* What POSIX regcomp could not afford, PCRE2 bounds at match time:
	 * back-references, nested and possessive repetitions, large
	 * counts. */
	q = parse_ok("/(a)\\1/ /a++/ /(a{100}){100}/ /a{1001}/ "
	             "/((((((((((a+)+)+)+)+)+)+)+)+)+)/ /a{2,}+/");
	assert_int_equal(q->n_terms, 6);
	query_free(q);
	free(term);
	free(regex);
}

/* Returns whether the single term of text matches folded_path. */
static bool matches(const char *text, const char *path)
{
	struct query *q = parse_ok(text);
	char *folded = query_fold(path, strlen(path));
	bool m;

	assert_int_equal(q->n_terms, 1);
	m = query_match_term(&q->terms[0], folded);
	free(folded);
	query_free(q);
	return m;
}

static void test_match(void **state)
{
	/* Substrings anywhere in the path, any case. */
	assert_true(matches("LIVE", "music/Live/song.ogg"));
	assert_true(matches("c/li", "music/Live/song.ogg"));
	assert_false(matches("lives", "music/Live/song.ogg"));
	assert_true(matches("\"g.o\"", "music/Live/song.ogg"));
	assert_true(matches("été", "docs/ÉTÉ.txt"));
	/* Invalid bytes are searched for as they are shown. */
	assert_true(matches("\\xff", "bad/\xff.bin"));
	assert_false(matches("\xff", "bad/\xff.bin"));

	/* Globs: the whole last component. */
	assert_true(matches("*.ogg", "music/Live/song.OGG"));
	assert_true(matches("song?.ogg", "a/song1.ogg"));
	assert_true(matches("song?.ogg", "a/songé.ogg"));
	assert_false(matches("song?.ogg", "a/song12.ogg"));
	assert_false(matches("*.ogg", "music.ogg/readme"));
	assert_false(matches("song*", "a/my song"));
	assert_true(matches("[abc]*", "x/Banana"));
	assert_false(matches("[!abc]*", "x/banana"));
	assert_true(matches("[!abc]*", "x/date"));
	assert_true(matches("[[:digit:]]*", "x/2024.txt"));
	assert_true(matches("a.b*", "x/a.bc"));
	assert_false(matches("a.b*", "x/axbc"));
	assert_true(matches("\\**", "x/*star"));
	assert_false(matches("\\**", "x/star"));
	assert_true(matches("(x)+*", "y/(x)+1"));
	assert_true(matches("a[b", "x/a[b"));

	/* Regexes: anywhere in the folded path, case-insensitive. */
	assert_true(matches("/^music/.*\\.ogg$/", "music/Live/x.OGG"));
	assert_false(matches("/^live/", "music/Live/x.ogg"));
	assert_true(matches("/LIVE|studio/", "music/live/x"));
	assert_true(matches("/é+t/", "x/ÉÉT"));
	assert_true(matches("/s.ng/", "x/sÖng"));

	/* PCRE2 syntax. */
	assert_true(matches("/\\d{4}-\\d\\d/", "x/2024-05 trip.jpg"));
	assert_false(matches("/\\d{4}-\\d\\d/", "x/24-05 trip.jpg"));
	assert_true(matches("/^[^/]+/[^/]+\\.ogg$/", "music/a.OGG"));
	assert_false(matches("/^[^/]+/[^/]+\\.ogg$/", "music/x/a.ogg"));
	assert_true(matches("/(?<!live)\\/song/", "music/studio/song"));
	assert_false(matches("/(?<!live)\\/song/", "music/live/song"));
	assert_true(matches("/\\bsong\\b/", "a/my song.ogg"));
	assert_false(matches("/\\bsong\\b/", "a/mysongs.ogg"));
	assert_true(matches("/(ab)\\1/", "x/ABab"));
	assert_true(matches("/[[:alpha:]]{3}/", "x/été"));
	/* Caseless: Unicode letters, and the variants PCRE2 treats as the
	 * same letter (long s, final sigma) are folded alike. */
	assert_true(matches("/ÉTÉ/", "x/été"));
	assert_true(matches("/ſong/", "a/SONG.ogg"));
	assert_true(matches("/song/", "a/\xc5\xbfong.ogg"));
	assert_true(matches("/λόγοσ/", "x/ΛΌΓΟΣ"));
	assert_true(matches("/λόγος/", "x/λόγοσ"));
	/* Globs are anchored on the name, one character per ?. */
	assert_true(matches("*.tar.gz", "x/A.TAR.GZ"));
	assert_false(matches("*.tar.gz", "x/a.tar.gz.part"));
	assert_true(matches("??", "x/éé"));
	assert_false(matches("??", "x/ééé"));
	assert_true(matches("[\\]*", "x/\\z")); /* a backslash in a set */
	assert_true(matches("a(b)c{d}$^|+.[*]", "x/a(b)c{d}$^|+.*"));
	assert_false(matches("a(b)c{d}$^|+.[*]", "x/a(b)c{d}$^|+.x"));
	assert_true(matches("[a-c-]x", "x/-x"));
	assert_true(matches("[!a-]x", "x/bx"));
	assert_false(matches("[!a-]x", "x/-x"));
}

/* Returns query_match of the single term of text on raw (unfolded)
 * bytes. */
static int match_raw(const char *text, const char *path)
{
	struct query *q = parse_ok(text);
	int m = query_match(&q->terms[0], path);

	query_free(q);
	return m;
}

static void test_match_invalid_utf8(void **state)
{
	/* Names are bytes: a subject that is not UTF-8 (query_fold escapes
	 * such bytes, but a raw one must not break matching either). */
	assert_int_equal(match_raw("/b.d/", "a\xff/bcd"), 1);
	assert_int_equal(match_raw("/a.b/", "a\xff"
	                                    "b"),
	                 0);
	assert_int_equal(match_raw("/é/", "\xc3\xa9\xc3"), 1);
	assert_int_equal(match_raw("*.txt", "\xfe\xff/x.txt"), 1);
	assert_int_equal(match_raw("?", "\xff"), 0);
	/* As shown (and folded): the escape is text. */
	assert_true(matches("/\\\\xff\\.bin$/", "bad/\xff.bin"));
	assert_true(matches("*\\\\xff*", "bad/a\xff.bin"));
}

/* Returns the literals of the single term of text, joined by ','. */
static char *literals(const char *text)
{
	struct query *q = parse_ok(text);
	char *out = xstrdup("");

	for (size_t i = 0; i < q->terms[0].n_must; i++) {
		char *n = xasprintf("%s%s%s", out, i > 0 ? "," : "",
		                    q->terms[0].must[i]);

		free(out);
		out = n;
	}
	query_free(q);
	return out;
}

static void test_literals(void **state)
{
	static const struct {
		const char *text, *lits;
	} cases[] = {
	    {"*.png", ".png"},
	    {"*.PNG", ".png"},
	    {"song?.ogg", "song,.ogg"},
	    {"ab*cd", ""},
	    {"abc[xyz]def*", "abc,def"},
	    {"abc\\*def", "abc,def"},
	    {"/live.*ogg$/", "live,ogg"},
	    {"/^Music/", "music"},
	    {"/abcd?e/", "abc"},
	    {"/abcd*e/", "abc"},
	    {"/abcd{2}efg/", "abc,efg"},
	    {"/abcd+efg/", "abcd,efg"},
	    {"/abc(def)ghi/", "abc,ghi"},
	    {"/abc|def/", ""},
	    {"/abc(d|e)fgh/", "abc,fgh"},
	    {"/abc[|]def/", "abc,def"},
	    {"/a\\.bc/", "a.bc"},
	    {"/abc\\wdef/", "abc,def"},
	    {"/étéx?/", "été"},
	    /* PCRE2 escapes with arguments are not literals. */
	    {"/\\x41bcd/", "bcd"},
	    {"/\\x{41}bcd/", "bcd"},
	    {"/abc\\pLdef/", "abc,def"},
	    {"/abc\\p{Lu}def/", "abc,def"},
	    {"/abc\\cXdef/", "abc,def"},
	    {"/(x)abc\\1def/", "abc,def"},
	    {"/ab\\d+cde/", "cde"},
	    {"/abc\\ def/", "abc def"},
	    {"/abc\\/def/", "abc/def"},
	    {"/[\\]x]abcd/", "abcd"},
	    {"/[]|]abcd/", "abcd"},
	    {"/abc(?:x|y)def/", "abc,def"},
	    {"/abc(?=x)def/", "abc,def"},
	    {"/abcd*+efg/", "abc,efg"},
	    {"/abcd+?efg/", "abcd,efg"},
	    {"/abc{,3}def/", "def"},
	    /* Escapes and classes end where PCRE2 ends them: \x takes no
	     * <...>, \c takes the next character, [:a] is no POSIX class;
	     * a '|' after them is seen. */
	    {"/abc\\x<cd|efgh/", ""},
	    {"/[\\c]abc]def/", "def"},
	    {"/[[:a]|x:]abcd/", ""},
	    {"/[[:alpha:]|]abcd/", "abcd"},
	    {"/abcd\\k<n>efg(?<n>x)/", "abcd,efg"},
	    /* A '{' that is no repetition is a literal: what follows is
	     * not skipped (here, into a class). */
	    {"/abc{x[}defg]/", "abc"},
	    {"/abc{x}defg/", "abc,x}defg"},
	    /* Syntax that changes what is literal: none is certain. */
	    {"/(?x)abc def/", ""},
	    {"/(?i)abcdef/", ""},
	    {"/abc(*ACCEPT)def/", ""},
	    {"/abc(?#x)def/", ""},
	    {"/abc(?#(|)|def/", ""},
	    {"/abc\\Qx|y\\Edef/", ""},
	    {"/abc(?C1)def/", ""},
	    {"/(z)?abc(?(1)x|y)def/", ""},
	    /* Folded as paths are: the long s is an s. */
	    {"/ſong/", "song"},
	    {"/ΛΌΓΟς/", "λόγοσ"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = literals(cases[i].text);

		if (strcmp(got, cases[i].lits) != 0)
			fail_msg("%s: got \"%s\", expected \"%s\"",
			         cases[i].text, got, cases[i].lits);
		free(got);
	}
}

/* Returns the seconds elapsed since *t0. */
static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Returns a path of 4 KiB (4095 bytes) made of unit repeated. */
static char *long_path(const char *unit)
{
	size_t n = strlen(unit);
	char *p = xmalloc(4096);

	for (size_t i = 0; i < 4095; i++)
		p[i] = unit[i % n];
	p[4095] = '\0';
	return p;
}

/* The regex of "search /(.*.*...){999}z/" (57 bytes as a command), which
 * made glibc's regcomp take 3.1 GB and 7 s. */
static char *bomb(void)
{
	char *re = xstrdup("/(");

	for (int i = 0; i < 20; i++) {
		char *n = xasprintf("%s.*", re);

		free(re);
		re = n;
	}
	{
		char *n = xasprintf("%s){999}z/", re);

		free(re);
		re = n;
	}
	return re;
}

static void test_hostile_regexes_are_bounded(void **state)
{
	/* Patterns that backtrack catastrophically, and subjects that
	 * make them do it. The goal is 10 ms a path (bench_regex); the
	 * bound here is generous for loaded or instrumented builds. */
	static const char *const hostile[] = {
	    "/(.*a){999}c/",
	    "/(a+)+$/",
	    "/(a|aa)*b/",
	    "/(\\w+\\s?)*$/",
	    "/^(.*?,){11}P/",
	    "/(?:a?){100}a{100}/",
	    "/(?:(?!z).)*+(?:(?!z).)*q/",
	    "/((((((((((.*)*)*)*)*)*)*)*)*)*)*z/",
	    "/^(.*)(.*)(.*)(.*)\\4\\3\\2\\1$/",
	    "/(.+)\\1\\1x/",
	    "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
	};
	static const char *const units[] = {"a", "ab/", "a,", "abxxxxxxxc/",
	                                    "é"};
	char *re = bomb(), *cause = NULL;
	struct timespec t0;
	struct query *q;
	double worst = 0, took;

	/* The bomb compiles within the limits (or is refused) at once. */
	assert_int_equal(strlen(re) + strlen("search "), 57);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	q = query_parse(re, &cause);
	took = since(&t0);
	print_message("bomb: compiled in %.3f ms\n", took * 1e3);
	assert_true(took < 1.0);
	if (q == NULL) {
		assert_non_null(strstr(cause, "too complex"));
		free(cause);
	} else {
		for (size_t u = 0; u < 2; u++) {
			char *path = long_path(u == 0 ? "az/" : "a");

			clock_gettime(CLOCK_MONOTONIC, &t0);
			assert_true(query_match(&q->terms[0], path) <= 0);
			assert_true(since(&t0) < 1.0);
			free(path);
		}
		query_free(q);
	}
	free(re);

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		q = parse_ok(hostile[i]);
		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			char *path = long_path(units[u]);
			int m;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			m = query_match(&q->terms[0], path);
			took = since(&t0);
			if (took > worst)
				worst = took;
			if (took > 1.0)
				fail_msg("%s on \"%s\"...: %.3f s", hostile[i],
				         units[u], took);
			assert_true(m >= -1 && m <= 1);
			free(path);
		}
		query_free(q);
	}
	print_message("hostile: worst %.3f ms a path\n", worst * 1e3);

	/* The catastrophic one stops at a limit: no match, said so. */
	q = parse_ok("/(.*a){999}c/");
	re = long_path("abxxxxxxxc/");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(query_match(&q->terms[0], re), -1);
	assert_false(query_match_term(&q->terms[0], re));
	assert_true(since(&t0) < 1.0);
	/* A path it matches quickly still matches. */
	assert_int_equal(query_match(&q->terms[0],
	                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	                             "c"),
	                 0);
	free(re);
	query_free(q);
	q = parse_ok("/(.*a){3}c/");
	assert_int_equal(query_match(&q->terms[0], "xaxaxac"), 1);
	query_free(q);
}

static void test_compile_memory_is_bounded(void **state)
{
	char *re = bomb(), *cause = NULL;
	struct query *q;

	/* The bomb compiles to about 48 KiB: refused under a 16 KiB
	 * budget, with the reason. */
	query_set_regex_memory(16 << 10);
	q = query_parse(re, &cause);
	assert_null(q);
	assert_string_equal(cause, "regex too complex (compiling it needs "
	                           "more than 16 KiB)");
	free(cause);
	/* A glob too. */
	q = query_parse("*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*"
	                "*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*"
	                "*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*"
	                "*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*",
	                &cause);
	if (q == NULL) {
		assert_non_null(strstr(cause, "glob too complex"));
		free(cause);
	}
	query_free(q);
	/* Small ones still compile. */
	q = parse_ok("/^music/.*\\.ogg$/ *.png");
	query_free(q);
	query_set_regex_memory(QUERY_REGEX_MEMORY);
	q = parse_ok(re);
	query_free(q);
	free(re);
}

static void test_jit_respects_match_limit(void **state)
{
	/* PCRE2's JIT honours the match limit (its depth and heap limits
	 * do not apply; the JIT stack bounds it instead). */
	uint32_t jit = 0;
	int err;
	PCRE2_SIZE off;
	pcre2_code *code;
	pcre2_match_context *ctx;
	pcre2_match_data *md;
	char *path = long_path("abxxxxxxxc/");
	size_t jit_size = 0;

	pcre2_config(PCRE2_CONFIG_JIT, &jit);
	if (jit == 0) {
		print_message("no JIT in this PCRE2: skipped\n");
		free(path);
		return;
	}
	code = pcre2_compile((PCRE2_SPTR) "(.*a){999}c", PCRE2_ZERO_TERMINATED,
	                     PCRE2_UTF | PCRE2_CASELESS, &err, &off, NULL);
	assert_non_null(code);
	assert_int_equal(pcre2_jit_compile(code, PCRE2_JIT_COMPLETE), 0);
	pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jit_size);
	assert_true(jit_size > 0);
	ctx = pcre2_match_context_create(NULL);
	md = pcre2_match_data_create(1, NULL);
	pcre2_set_match_limit(ctx, 1000);
	assert_int_equal(
	    pcre2_match(code, (PCRE2_SPTR)path, strlen(path), 0, 0, md, ctx),
	    PCRE2_ERROR_MATCHLIMIT);
	pcre2_match_data_free(md);
	pcre2_match_context_free(ctx);
	pcre2_code_free(code);
	free(path);
}

/* A thread matching the terms of a shared query (struct threaded). */
struct threaded {
	const struct query *q;
	int hits, limited;
};

/* Matches every term of a->q on a few paths many times. */
static void *match_thread(void *arg)
{
	struct threaded *a = arg;
	char *hostile = long_path("abxxxxxxxc/");

	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < a->q->n_terms; i++) {
			int m =
			    query_match(&a->q->terms[i], "music/live/a.ogg");

			a->hits += m == 1;
			if (round % 50 == 0 &&
			    query_match(&a->q->terms[i], hostile) == -1)
				a->limited++;
		}
	}
	free(hostile);
	return NULL;
}

static void test_threads(void **state)
{
	/* Searches may run on worker threads: one compiled query, matched
	 * from several threads at once, each with its own match state. */
	struct query *q = parse_ok("/live.*\\.ogg$/ *.ogg /(.*a){999}c/");
	struct threaded args[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		args[i] = (struct threaded){.q = q};
		assert_int_equal(
		    pthread_create(&th[i], NULL, match_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].hits, 2 * 200);
		assert_int_equal(args[i].limited, 4);
	}
	query_free(q);
}

static void test_add_term(void **state)
{
	struct query *q = query_new();
	char *cause = NULL;

	assert_int_equal(query_add_term(q, QUERY_SUBSTRING, "", &cause), 0);
	assert_int_equal(q->n_terms, 0);
	assert_int_equal(query_add_term(q, QUERY_SUBSTRING, "A B", &cause), 0);
	assert_string_equal(q->terms[0].text, "a b");
	assert_int_equal(query_add_term(q, QUERY_GLOB, "*.Txt", &cause), 0);
	assert_int_equal(query_add_term(q, QUERY_REGEX, "(", &cause), -1);
	assert_string_equal(cause, "bad regex: missing closing parenthesis "
	                           "(at offset 1)");
	free(cause);
	assert_int_equal(query_add_term(q, QUERY_GLOB, "", &cause), -1);
	assert_string_equal(cause, "empty glob");
	free(cause);
	assert_int_equal(q->n_terms, 2);
	query_free(q);
	query_free(NULL);
}

static void test_fold(void **state)
{
	const char *in = "Music/\xff\x01 ÀB\\";
	char *f = query_fold(in, strlen(in));

	assert_string_equal(f, "music/\\xff\\x01 àb\\\\");
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_terms),
	    cmocka_unit_test(test_filters),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_bounds_accepted),
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_match_invalid_utf8),
	    cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_hostile_regexes_are_bounded),
	    cmocka_unit_test(test_compile_memory_is_bounded),
	    cmocka_unit_test(test_jit_respects_match_limit),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_add_term),
	    cmocka_unit_test(test_fold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
