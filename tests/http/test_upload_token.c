/* Unit tests for upload tokens: round trip, binding to name, size,
 * uploader and expiry, tampering, and no confusion with link tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/b64url.h"
#include "http/token.h"
#include "http/upload_token.h"

static const unsigned char key_bytes[TOKEN_KEY_LEN] =
    "0123456789abcdef0123456789abcde";
static const unsigned char other_bytes[TOKEN_KEY_LEN] =
    "another key, another key, anoth";

/* Parses and verifies s against name at now; -1 if it does not parse. */
static int check(const struct token_key *key, const char *s, const char *name,
                 time_t now)
{
	struct upload_token t;

	if (upload_token_parse(s, strlen(s), &t) == -1)
		return -1;
	return (int)upload_token_verify(key, &t, name, now);
}

static void test_round_trip(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	char *tok =
	    upload_token_make(key, "alice@example.org", "song.ogg",
	                      123456789012ULL, 987654321098ULL, 1000, 300);
	struct upload_token t;

	assert_non_null(tok);
	assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	                             "opqrstuvwxyz0123456789-_"),
	                 strlen(tok));
	assert_true(strlen(tok) <= UPLOAD_TOKEN_MAX_CHARS);
	assert_int_equal(upload_token_parse(tok, strlen(tok), &t), 0);
	assert_string_equal(t.uploader, "alice@example.org");
	assert_int_equal(t.size, 123456789012ULL);
	assert_int_equal(t.quota, 987654321098ULL);
	assert_int_equal(t.issued, 1000);
	assert_int_equal(t.expires, 1300);
	assert_int_equal(t.key_id, token_key_id(key));
	assert_int_equal(check(key, tok, "song.ogg", 1000), UPLOAD_TOKEN_OK);
	assert_int_equal(check(key, tok, "song.ogg", 1299), UPLOAD_TOKEN_OK);
	assert_int_equal(check(key, tok, "song.ogg", 1300),
	                 UPLOAD_TOKEN_EXPIRED);
	free(tok);
	token_key_free(key);
}

static void test_nonces_differ(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	char *a = upload_token_make(key, "a@b", "x", 1, 1 << 20, 1000, 300);
	char *b = upload_token_make(key, "a@b", "x", 1, 1 << 20, 1000, 300);
	struct upload_token ta, tb;

	assert_string_not_equal(a, b);
	assert_int_equal(upload_token_parse(a, strlen(a), &ta), 0);
	assert_int_equal(upload_token_parse(b, strlen(b), &tb), 0);
	assert_memory_not_equal(ta.nonce, tb.nonce, sizeof(ta.nonce));
	free(a);
	free(b);
	token_key_free(key);
}

static void test_bound_to_name_and_key(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	struct token_key *other = token_key_from_bytes(other_bytes);
	char *tok =
	    upload_token_make(key, "a@b", "song.ogg", 10, 1 << 20, 1000, 300);

	assert_int_equal(check(key, tok, "song.ogh", 1000),
	                 UPLOAD_TOKEN_BAD_MAC);
	assert_int_equal(check(key, tok, "song.ogg ", 1000),
	                 UPLOAD_TOKEN_BAD_MAC);
	assert_int_equal(check(key, tok, "", 1000), UPLOAD_TOKEN_BAD_MAC);
	assert_int_equal(check(other, tok, "song.ogg", 1000),
	                 UPLOAD_TOKEN_WRONG_KEY);
	/* A forged token is reported as forged, not as expired. */
	assert_int_equal(check(key, tok, "other", 99999), UPLOAD_TOKEN_BAD_MAC);
	free(tok);
	token_key_free(key);
	token_key_free(other);
}

/* Every single-bit change of the raw token is refused: it no longer parses,
 * or its MAC, key id or fields no longer match. */
static void test_bit_flips(void **state)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	                          "qrstuvwxyz0123456789-_";
	struct token_key *key = token_key_from_bytes(key_bytes);
	char *tok = upload_token_make(key, "bob@example.org", "f.bin", 4096,
	                              1 << 20, 1000, 300);
	size_t len = strlen(tok);

	for (size_t i = 0; i < len; i++) {
		char saved = tok[i];
		int v = (int)(strchr(b64, saved) - b64);

		for (int bit = 0; bit < 6; bit++) {
			int rc;

			tok[i] = b64[v ^ (1 << bit)];
			rc = check(key, tok, "f.bin", 1000);
			assert_int_not_equal(rc, UPLOAD_TOKEN_OK);
		}
		tok[i] = saved;
	}
	assert_int_equal(check(key, tok, "f.bin", 1000), UPLOAD_TOKEN_OK);
	free(tok);
	token_key_free(key);
}

static void test_not_a_link_token(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	unsigned char sha[32] = {0};
	char link[TOKEN_LEN + 1], *up;
	struct upload_token ut;
	struct token lt;

	/* A download link's token is no upload token... */
	assert_int_equal(token_make(key, 42, sha, 1000, 300, link), 0);
	assert_int_equal(upload_token_parse(link, strlen(link), &ut), -1);
	/* ...and an upload token is no link token, even one of the same
	 * length as a link token. */
	up = upload_token_make(key, "a", "x", 0, 1 << 20, 1000, 300);
	assert_int_equal(token_parse(up, strlen(up), &lt), -1);
	free(up);
	for (int n = 1; n < 40; n++) {
		char jid[64];

		memset(jid, 'j', (size_t)n);
		jid[n] = '\0';
		up = upload_token_make(key, jid, "x", 0, 1 << 20, 1000, 300);
		assert_int_equal(token_parse(up, strlen(up), &lt), -1);
		free(up);
	}
	token_key_free(key);
}

/* Upload URLs made by earlier versions keep working while they are valid:
 * tokens made by the code of the first release with this key at 1700000000
 * for 300 s (the nonces were random), uploader lengths giving every
 * base64url tail (none, one and two bytes). */
static void test_pinned(void **state)
{
	static const struct {
		const char *token, *uploader, *name;
	} pinned[] = {
	    {"AmwACPAn9eKwZrLDjWVT8QBlU_IsAAAAAAAQAAAAAAAAQAAAABFhbGlj"
	     "ZUBleGFtcGxlLm9yZ1-QsPjot1pmsuS7MHX3ZHM",
	     "alice@example.org", "report.pdf"},
	    {"AmwACPBQyagqJOYYyGVT8QBlU_IsAAAAAAAQAAEAAAAAQAAAAAViQGUu"
	     "bwiXK6ZxoGJruFHOGqFB9cI",
	     "b@e.o", "report.pdf"},
	    {"AmwACPDptvuzr6YOJmVT8QBlU_IsAAAAAAAQAAIAAAAAQAAAABFjYXJv"
	     "bEBleGFtcGxlLm5ldDE-HA-JX0u0lFiI8qV5RFM",
	     "carol@example.net", "caf\xc3\xa9 (1).txt"},
	    {"AmwACPB3flNyVLnGjGVT8QBlU_IsAAAAAAAQAAMAAAAAQAAAAAdhQGUu"
	     "b3JnFjcMRkoTYpkYBDQtHeM6Fw",
	     "a@e.org", "report.pdf"},
	    {"AmwACPD36rkowtV2RWVT8QBlU_IsAAAAAAAQAAQAAAAAQAAAAAZhYkBl"
	     "Lm-OCIT-FO_ha8KAcOIUB5ME",
	     "ab@e.o", "report.pdf"},
	};
	struct token_key *key = token_key_from_bytes(key_bytes);
	unsigned char raw[UPLOAD_TOKEN_MAX_CHARS];
	char again[UPLOAD_TOKEN_MAX_CHARS + 1];
	struct upload_token t;
	ssize_t n;

	for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
		const char *s = pinned[i].token;

		/* The encoding: decoded and encoded again, the same text. */
		n = b64url_decode(s, strlen(s), raw, sizeof(raw));
		assert_true(n > 0);
		b64url_encode(raw, (size_t)n, again);
		assert_string_equal(again, s);

		assert_int_equal(upload_token_parse(s, strlen(s), &t), 0);
		assert_int_equal(t.key_id, 0x6c0008f0);
		assert_int_equal(t.issued, 1700000000);
		assert_int_equal(t.expires, 1700000300);
		assert_int_equal(t.size, 1048576 + i);
		assert_int_equal(t.quota, 1073741824);
		assert_string_equal(t.uploader, pinned[i].uploader);
		assert_int_equal(
		    upload_token_verify(key, &t, pinned[i].name, 1700000001),
		    UPLOAD_TOKEN_OK);
		assert_int_equal(
		    upload_token_verify(key, &t, "other.pdf", 1700000001),
		    UPLOAD_TOKEN_BAD_MAC);
		assert_int_equal(
		    upload_token_verify(key, &t, pinned[i].name, 1700000300),
		    UPLOAD_TOKEN_EXPIRED);
	}
	token_key_free(key);
}

static void test_malformed(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	char jid[UPLOAD_TOKEN_JID_MAX + 2], *tok;
	struct upload_token t;

	assert_int_equal(upload_token_parse("", 0, &t), -1);
	assert_int_equal(upload_token_parse("A", 1, &t), -1);
	assert_int_equal(upload_token_parse("!!!!", 4, &t), -1);
	assert_int_equal(upload_token_parse("AgAAAAAAAAAA", 12, &t), -1);

	/* Uploader length limits. */
	assert_null(upload_token_make(key, "", "x", 0, 1 << 20, 1000, 300));
	memset(jid, 'j', sizeof(jid) - 1);
	jid[sizeof(jid) - 1] = '\0';
	assert_null(upload_token_make(key, jid, "x", 0, 1 << 20, 1000, 300));
	jid[UPLOAD_TOKEN_JID_MAX] = '\0';
	tok = upload_token_make(key, jid, "x", 0, 1 << 20, 1000, 300);
	assert_non_null(tok);
	assert_int_equal(check(key, tok, "x", 1000), UPLOAD_TOKEN_OK);
	/* Cut or lengthened, it no longer parses. */
	assert_int_equal(upload_token_parse(tok, strlen(tok) - 4, &t), -1);
	free(tok);

	/* An expiry past 2106 does not fit. */
	assert_null(
	    upload_token_make(key, "a", "x", 0, 1 << 20, UINT32_MAX, 300));
	token_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_nonces_differ),
	    cmocka_unit_test(test_bound_to_name_and_key),
	    cmocka_unit_test(test_bit_flips),
	    cmocka_unit_test(test_not_a_link_token),
	    cmocka_unit_test(test_pinned),
	    cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
