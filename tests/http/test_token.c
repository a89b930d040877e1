/* Unit tests for link tokens and the key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/token.h"

static const unsigned char key_bytes[TOKEN_KEY_LEN] =
    "0123456789abcdef0123456789abcde";
static const unsigned char sha[32] = "this is a sha-256 of some file.";

/* Parses and verifies s; returns the status, TOKEN_MALFORMED if it does not
 * parse. */
static enum token_status check(const struct token_key *key, const char *s,
                               const unsigned char *sha256, time_t now)
{
	struct token t;

	if (token_parse(s, strlen(s), &t) == -1)
		return TOKEN_MALFORMED;
	return token_verify(key, &t, sha256, now);
}

static void test_round_trip(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	char tok[TOKEN_LEN + 1];
	struct token t;

	assert_int_equal(token_make(key, 42, sha, 1000, 60, tok), 0);
	assert_int_equal(strlen(tok), TOKEN_LEN);
	assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	                             "opqrstuvwxyz0123456789-_"),
	                 TOKEN_LEN);
	assert_int_equal(token_parse(tok, TOKEN_LEN, &t), 0);
	assert_int_equal(t.file_id, 42);
	assert_int_equal(t.expires, 1060);
	assert_int_equal(t.key_id, token_key_id(key));
	assert_int_equal(check(key, tok, sha, 1000), TOKEN_OK);
	assert_int_equal(check(key, tok, sha, 1059), TOKEN_OK);
	assert_int_equal(check(key, tok, sha, 1060), TOKEN_EXPIRED);
	assert_int_equal(check(key, tok, sha, 999999), TOKEN_EXPIRED);

	/* Large ids survive. */
	assert_int_equal(token_make(key, INT64_MAX, sha, 1000, 0, tok), 0);
	assert_int_equal(token_parse(tok, TOKEN_LEN, &t), 0);
	assert_int_equal(t.file_id, INT64_MAX);
	assert_int_equal(check(key, tok, sha, 5), TOKEN_OK);
	token_key_free(key);
}

static void test_lifetime_zero(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	char tok[TOKEN_LEN + 1];

	assert_int_equal(token_make(key, 7, sha, 1000, 0, tok), 0);
	assert_int_equal(check(key, tok, sha, 0), TOKEN_OK);
	assert_int_equal(check(key, tok, sha, (time_t)UINT32_MAX + 10),
	                 TOKEN_OK);
	/* An expiry past 2106 does not fit. */
	assert_int_equal(
	    token_make(key, 7, sha, (time_t)UINT32_MAX - 5, 10, tok), -1);
	token_key_free(key);
}

/* Every single-bit change of every character is rejected. */
static void test_bit_flips(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	char tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1];

	assert_int_equal(token_make(key, 42, sha, 1000, 3600, tok), 0);
	for (size_t i = 0; i < TOKEN_LEN; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(bad, tok, sizeof(bad));
			bad[i] ^= (char)(1 << b);
			if (bad[i] == '\0')
				continue;
			assert_int_not_equal(check(key, bad, sha, 1000),
			                     TOKEN_OK);
		}
	}
	/* And every change of a decoded byte. */
	for (size_t i = 0; i < TOKEN_LEN; i++) {
		const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
		                    "opqrstuvwxyz0123456789-_";
		for (const char *c = alpha; *c; c++) {
			if (*c == tok[i])
				continue;
			memcpy(bad, tok, sizeof(bad));
			bad[i] = *c;
			assert_int_not_equal(check(key, bad, sha, 1000),
			                     TOKEN_OK);
		}
	}
	token_key_free(key);
}

static void test_wrong_key_and_sha(void **state)
{
	unsigned char other_bytes[TOKEN_KEY_LEN], other_sha[32];
	struct token_key *key = token_key_from_bytes(key_bytes), *other;
	char tok[TOKEN_LEN + 1];

	memcpy(other_bytes, key_bytes, sizeof(other_bytes));
	other_bytes[31] ^= 1;
	other = token_key_from_bytes(other_bytes);
	assert_int_not_equal(token_key_id(key), token_key_id(other));
	assert_int_equal(token_make(key, 42, sha, 1000, 60, tok), 0);
	assert_int_equal(check(other, tok, sha, 1000), TOKEN_WRONG_KEY);

	memcpy(other_sha, sha, sizeof(other_sha));
	other_sha[0] ^= 0x80;
	assert_int_equal(check(key, tok, other_sha, 1000), TOKEN_BAD_MAC);
	/* An expired token for a changed file is a bad MAC, not expired. */
	assert_int_equal(check(key, tok, other_sha, 5000), TOKEN_BAD_MAC);
	token_key_free(key);
	token_key_free(other);
}

/* Tokens made by earlier versions keep working: links already handed out
 * must not die with an upgrade. These were made by the code of the first
 * release with this key and SHA-256 at 1700000000 (2023-11-14). */
static void test_pinned(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	const char *day = "AWwACPAAAAAAAAAAKmVVQoCpK7cKX9V22Q6w1e49MRXG";
	const char *forever = "AWwACPAAAHBIhg3feQAAAAAKwKksTy3wc74JOGXyi38H";
	char tok[TOKEN_LEN + 1];
	struct token t;

	assert_int_equal(token_key_id(key), 0x6c0008f0);
	assert_int_equal(token_make(key, 42, sha, 1700000000, 86400, tok), 0);
	assert_string_equal(tok, day);
	assert_int_equal(
	    token_make(key, 123456789012345LL, sha, 1700000000, 0, tok), 0);
	assert_string_equal(tok, forever);

	assert_int_equal(token_parse(day, TOKEN_LEN, &t), 0);
	assert_int_equal(t.version, TOKEN_VERSION);
	assert_int_equal(t.key_id, 0x6c0008f0);
	assert_int_equal(t.file_id, 42);
	assert_int_equal(t.expires, 1700086400);
	assert_int_equal(token_verify(key, &t, sha, 1700086399), TOKEN_OK);
	assert_int_equal(token_verify(key, &t, sha, 1700086400), TOKEN_EXPIRED);
	assert_int_equal(token_parse(forever, TOKEN_LEN, &t), 0);
	assert_int_equal(t.file_id, 123456789012345LL);
	assert_int_equal(t.expires, 0);
	assert_int_equal(token_verify(key, &t, sha, 2000000000), TOKEN_OK);
	token_key_free(key);
}

static void test_malformed(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	char tok[TOKEN_LEN + 1];
	struct token t;

	assert_int_equal(token_make(key, 42, sha, 1000, 60, tok), 0);
	assert_int_equal(token_parse(tok, TOKEN_LEN - 1, &t), -1);
	assert_int_equal(token_parse("", 0, &t), -1);
	assert_int_equal(check(key, "../../../../etc/passwd", sha, 0),
	                 TOKEN_MALFORMED);
	assert_int_equal(
	    token_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 44, &t),
	    -1);
	/* Version 0 and file id 0 are refused. */
	assert_int_equal(
	    token_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 44, &t),
	    -1);
	token_key_free(key);
}

static void test_key_file(void **state)
{
	char dir[] = "/tmp/fisbot-token-XXXXXX", path[128];
	struct token_key *a, *b;
	char *cause = NULL;
	struct stat st;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fisbot.key", dir);

	a = token_key_load(path, &cause);
	assert_non_null(a);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, TOKEN_KEY_LEN);
	b = token_key_load(path, &cause);
	assert_non_null(b);
	assert_int_equal(token_key_id(a), token_key_id(b));
	token_key_free(a);
	token_key_free(b);

	assert_int_equal(chmod(path, 0640), 0);
	assert_null(token_key_load(path, &cause));
	assert_non_null(strstr(cause, "chmod 600"));
	free(cause);
	assert_int_equal(chmod(path, 0600), 0);

	f = fopen(path, "a");
	fputs("x", f);
	fclose(f);
	assert_null(token_key_load(path, &cause));
	assert_non_null(strstr(cause, "wrong size"));
	free(cause);
	unlink(path);

	assert_int_equal(symlink("/dev/null", path), 0);
	assert_null(token_key_load(path, &cause));
	assert_non_null(strstr(cause, "symbolic link"));
	free(cause);
	unlink(path);

	snprintf(path, sizeof(path), "%s/missing/fisbot.key", dir);
	assert_null(token_key_load(path, &cause));
	assert_non_null(strstr(cause, "cannot create"));
	free(cause);
	rmdir(dir);
}

/* Links with a requester: a tag of their own, verified like the others,
 * tampering with the tag breaks the MAC, and version 1 links (no tag)
 * still verify. */
static void test_requester(void **state)
{
	struct token_key *key = token_key_from_bytes(key_bytes);
	char tok[TOKEN_MAX_LEN + 1], v1[TOKEN_LEN + 1];
	uint64_t alice = token_requester_tag(key, "alice@example.org");
	uint64_t bob = token_requester_tag(key, "bob@example.org");
	struct token t;

	assert_true(alice != 0 && bob != 0 && alice != bob);
	assert_true(alice == token_requester_tag(key, "alice@example.org"));
	assert_int_equal(token_make_for(key, 42, sha, 1000, 60, alice, tok), 0);
	assert_int_equal(strlen(tok), TOKEN_MAX_LEN);
	assert_int_equal(token_parse(tok, TOKEN_MAX_LEN, &t), 0);
	assert_int_equal(t.version, TOKEN_VERSION_REQ);
	assert_true(t.requester == alice);
	assert_int_equal(t.file_id, 42);
	assert_int_equal(token_verify(key, &t, sha, 1000), TOKEN_OK);
	assert_int_equal(token_verify(key, &t, sha, 1060), TOKEN_EXPIRED);
	/* Another requester's tag in the same link: a bad MAC. */
	t.requester = bob;
	assert_int_equal(token_verify(key, &t, sha, 1000), TOKEN_BAD_MAC);
	/* Every character matters. */
	for (size_t i = 0; i < TOKEN_MAX_LEN; i++) {
		char bad[TOKEN_MAX_LEN + 1];

		memcpy(bad, tok, sizeof(bad));
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		assert_int_not_equal(check(key, bad, sha, 1000), TOKEN_OK);
	}
	/* Without a requester: version 1, as before. */
	assert_int_equal(token_make_for(key, 42, sha, 1000, 60, 0, tok), 0);
	assert_int_equal(token_make(key, 42, sha, 1000, 60, v1), 0);
	assert_string_equal(tok, v1);
	assert_int_equal(token_parse(v1, TOKEN_LEN, &t), 0);
	assert_true(t.requester == 0);
	assert_int_equal(check(key, v1, sha, 1000), TOKEN_OK);
	token_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_lifetime_zero),
	    cmocka_unit_test(test_bit_flips),
	    cmocka_unit_test(test_wrong_key_and_sha),
	    cmocka_unit_test(test_pinned),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_key_file),
	    cmocka_unit_test(test_requester),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
