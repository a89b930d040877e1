/* Unit tests for the search syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "query.h"

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
	parse_bad("/a(/", NULL);
	parse_bad("/[z-a]/", NULL);
	parse_bad("/(a)\\1/", "bad regex: back-references are not supported");
	parse_bad("/(a{100}){100}/", "bad regex: too many repetitions (their "
	                             "counts multiply to more than 1000)");
	parse_bad("/a{1001}/", NULL);
	parse_bad("/a++/", "bad regex: a repetition of a repetition (such "
	                   "as a++) is not supported");
	parse_bad("/a*{2}/", NULL);
	parse_bad("/((((((((((a+)+)+)+)+)+)+)+)+)+)/", NULL);
	parse_bad("/}t+++++++++++++++++++++++++++++++++:#)/", NULL);
	parse_bad("/a{2,}{30}{30}/", NULL);
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
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = literals(cases[i].text);

		if (strcmp(got, cases[i].lits) != 0)
			fail_msg("%s: got \"%s\", expected \"%s\"",
			         cases[i].text, got, cases[i].lits);
		free(got);
	}
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
	assert_non_null(strstr(cause, "bad regex"));
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
	    cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_add_term),
	    cmocka_unit_test(test_fold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
