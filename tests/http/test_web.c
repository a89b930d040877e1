/* Unit tests for the web index's parts: web tokens (round trip, expiry,
 * tampering, other keys, no confusion with link tokens), the template
 * renderer and its escaping, JSON strings, and every embedded template
 * (each one the web index needs is there and renders). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fisbot/config.h"
#include "http/token.h"
#include "http/web.h"
#include "http/web_token.h"
#include "http/web_tpl.h"

static const unsigned char key_bytes[TOKEN_KEY_LEN] =
    "0123456789abcdef0123456789abcde";
static const unsigned char other_bytes[TOKEN_KEY_LEN] =
    "another key, another key, anoth";

/* Checks the token s with key at now. */
static enum web_token_status check(const struct token_key *key, const char *s,
                                   time_t now)
{
	return web_token_check(key, s, strlen(s), now);
}

static void test_token_round_trip(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	struct token_key *other = token_key_from_bytes(other_bytes);
	char tok[WEB_TOKEN_LEN + 1], tok2[WEB_TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(
	    web_token_make(key, "alice@example.org", 1000, 300, tok), 0);
	assert_int_equal(strlen(tok), WEB_TOKEN_LEN);
	assert_int_equal(check(key, tok, 1000), WEB_TOKEN_OK);
	assert_int_equal(check(key, tok, 1299), WEB_TOKEN_OK);
	assert_int_equal(check(key, tok, 1300), WEB_TOKEN_EXPIRED);
	assert_int_equal(check(other, tok, 1000), WEB_TOKEN_BAD);
	/* Personal: another requester, another token. */
	assert_int_equal(
	    web_token_make(key, "bob@example.org", 1000, 300, tok2), 0);
	assert_string_not_equal(tok, tok2);
	/* Never expires with lifetime 0. */
	assert_int_equal(web_token_make(key, "alice@example.org", 1000, 0, tok),
	                 0);
	assert_int_equal(check(key, tok, 4000000000), WEB_TOKEN_OK);
	/* Bad input. */
	assert_int_equal(web_token_make(key, "", 1000, 300, tok), -1);
	assert_int_equal(web_token_make(key, "a", 4294967000, 1000, tok), -1);
	token_key_free(key);
	token_key_free(other);
}

static void test_token_tampered(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	unsigned char sha[32] = {1, 2, 3};
	char tok[WEB_TOKEN_LEN + 1], link[TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(web_token_make(key, "alice", 1000, 300, tok), 0);
	for (size_t i = 0; i < WEB_TOKEN_LEN; i++) {
		char t[WEB_TOKEN_LEN + 1];

		memcpy(t, tok, sizeof(t));
		t[i] = t[i] == 'A' ? 'B' : 'A';
		assert_int_equal(check(key, t, 1000), WEB_TOKEN_BAD);
	}
	assert_int_equal(web_token_check(key, tok, WEB_TOKEN_LEN - 1, 1000),
	                 WEB_TOKEN_BAD);
	assert_int_equal(check(key, "", 1000), WEB_TOKEN_BAD);
	assert_int_equal(check(key, "not a token at all", 1000), WEB_TOKEN_BAD);
	/* A download link's token is not a web token. */
	assert_int_equal(token_make(key, 7, sha, 1000, 300, link), 0);
	assert_int_equal(check(key, link, 1000), WEB_TOKEN_BAD);
	token_key_free(key);
}

/* Renders tpl with vars into a new string; NULL and *cause on error. */
static char *render(const char *tpl, const struct web_var *v, size_t n,
                    char **cause)
{
	struct web_buf b = {0};

	if (web_render(&b, tpl, strlen(tpl), v, n, cause) == -1) {
		web_buf_free(&b);
		return NULL;
	}
	if (b.s == NULL)
		web_buf_add(&b, "");
	return b.s;
}

static void test_render(void **state)
{
	const struct web_var v[] = {{"name", "<b>\"x\" & 'y'</b>"},
	                            {"raw", "<i>ok</i>"},
	                            {"none", NULL}};
	char *cause = NULL, *s;

	(void)state;
	s = render("a {{name}} b {{&raw}} c {{none}}.", v, 3, &cause);
	assert_string_equal(s, "a &lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;"
	                       "&lt;/b&gt; b <i>ok</i> c .");
	free(s);
	s = render("no slots", v, 3, &cause);
	assert_string_equal(s, "no slots");
	free(s);
	assert_null(render("{{missing}}", v, 3, &cause));
	assert_non_null(strstr(cause, "missing"));
	free(cause);
	cause = NULL;
	assert_null(render("open {{name", v, 3, &cause));
	assert_non_null(cause);
	free(cause);
}

static void test_json(void **state)
{
	struct web_buf b = {0};

	(void)state;
	web_buf_json(&b, "a\"b\\c\x01\x1f\x7f/é");
	assert_string_equal(b.s, "\"a\\\"b\\\\c\\u0001\\u001f\\u007f/é\"");
	web_buf_free(&b);
}

static void test_templates(void **state)
{
	static const char *const names[] = {
	    "page.html",      "crumb.html",       "row_dir.html",
	    "row_file.html",  "row_pending.html", "pager.html",
	    "link.html",      "style.css",        "feed.atom",
	    "feed_entry.atom"};
	struct token_key *key = token_key_from_bytes(key_bytes);
	struct config cfg;
	struct web *w;
	char *cause = NULL;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *t = web_template(names[i], &len);

		assert_non_null(t);
		assert_int_equal(strlen(t), len);
		assert_true(len > 0);
	}
	assert_null(web_template("nope.html", &len));
	memset(&cfg, 0, sizeof(cfg));
	w = web_new(&cfg, key, &cause);
	assert_non_null(w);
	web_free(w);
	token_key_free(key);
}

static void test_url_for(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	char base[] = "http://h:1";
	struct config cfg;
	char *cause = NULL, *url;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.http.base_url = base;
	cfg.web.link_lifetime_ms = 7 * 86400 * 1000ULL;
	assert_null(web_url_for(&cfg, key, "alice", 1000, &cause));
	assert_string_equal(cause, "the web index is disabled");
	free(cause);
	cfg.web.enabled = true;
	cfg.web.access = WEB_PUBLIC;
	url = web_url_for(&cfg, key, "alice", 1000, &cause);
	assert_string_equal(url, "http://h:1/");
	free(url);
	cfg.web.access = WEB_LINK;
	url = web_url_for(&cfg, key, "alice", 1000, &cause);
	assert_int_equal(strlen(url), strlen("http://h:1/w//") + WEB_TOKEN_LEN);
	assert_int_equal(
	    web_token_check(key, url + 13, WEB_TOKEN_LEN, 1000 + 7 * 86400 - 1),
	    WEB_TOKEN_OK);
	assert_int_equal(
	    web_token_check(key, url + 13, WEB_TOKEN_LEN, 1000 + 7 * 86400),
	    WEB_TOKEN_EXPIRED);
	free(url);
	token_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_round_trip),
	    cmocka_unit_test(test_token_tampered),
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_templates),
	    cmocka_unit_test(test_url_for),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
