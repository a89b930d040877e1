/* Unit tests for base64url without padding: the RFC 4648 test vectors,
 * the URL alphabet, round trips of every length, and strict decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/b64url.h"

static void test_vectors(void **state)
{
	static const struct {
		const char *raw, *text;
	} v[] = {
	    {"", ""},
	    {"f", "Zg"},
	    {"fo", "Zm8"},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg"},
	    {"fooba", "Zm9vYmE"},
	    {"foobar", "Zm9vYmFy"},
	    /* The two characters that differ from base64's. */
	    {"\xfb\xff", "-_8"},
	};
	unsigned char raw[16];
	char text[32];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].raw);

		b64url_encode((const unsigned char *)v[i].raw, n, text);
		assert_string_equal(text, v[i].text);
		assert_int_equal(strlen(text), B64URL_LEN(n));
		assert_int_equal(b64url_decode(v[i].text, strlen(v[i].text),
		                               raw, sizeof(raw)),
		                 n);
		assert_memory_equal(raw, v[i].raw, n);
	}
}

static void test_round_trip(void **state)
{
	unsigned char raw[300], back[300];
	char text[B64URL_LEN(300) + 1];

	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 167 + 13);
	for (size_t n = 0; n <= sizeof(raw); n++) {
		b64url_encode(raw, n, text);
		assert_int_equal(strlen(text), B64URL_LEN(n));
		assert_int_equal(strspn(text,
		                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
		                        "ghijklmnopqrstuvwxyz0123456789-_"),
		                 B64URL_LEN(n));
		assert_int_equal(b64url_decode(text, strlen(text), back, n), n);
		assert_memory_equal(back, raw, n);
		/* One byte less room than needed: refused. */
		if (n > 0)
			assert_int_equal(
			    b64url_decode(text, strlen(text), back, n - 1), -1);
	}
}

static void test_strict(void **state)
{
	static const char *const bad[] = {
	    "A",                /* a length no byte string has */
	    "Zm9vY",            /* the same, longer */
	    "Zh",               /* unused low bits set: not canonical */
	    "Zm9",              /* "Zm8" is the text of "fo" */
	    "Zm9v=",            /* padding */
	    "Zg==",             /* padding */
	    "Zm+v",             /* base64's alphabet, not base64url's */
	    "Zm/v",    "Zm9 v", /* white space */
	    "Zm\x80v",
	};
	unsigned char raw[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    b64url_decode(bad[i], strlen(bad[i]), raw, sizeof(raw)),
		    -1);
	/* A NUL is no character of the text either. */
	assert_int_equal(b64url_decode("Zm\0v", 4, raw, sizeof(raw)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
