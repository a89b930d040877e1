/* Unit tests for the text sanitiser and helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fisbot/text.h"

static void check(const char *in, size_t len, const char *want)
{
	char *out = text_sanitize(in, len);

	assert_string_equal(out, want);
	assert_true(text_is_utf8(out, strlen(out)));
	free(out);
}

static void test_sanitize_passes_clean_text(void **state)
{
	check("music/live/song.ogg", 19, "music/live/song.ogg");
	check("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb5", 14,
	      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb5");
	check("<&>'\"]]>", 8, "<&>'\"]]>");
}

static void test_sanitize_escapes_controls(void **state)
{
	check("a\nb", 3, "a\\x0Ab");
	check("a\rfake: line", 12, "a\\x0Dfake: line");
	check("\x1b[31m", 5, "\\x1B[31m");
	check("tab\there", 8, "tab\\x09here");
	check("del\x7f", 4, "del\\x7F");
	/* U+0085 (NEL), a C1 control, and U+FFFE, not allowed in XML. */
	check("\xc2\x85", 2, "\\u{0085}");
	check("\xef\xbf\xbe", 3, "\\u{FFFE}");
}

/* Returns code point cp (below U+10000) as UTF-8 in buf; sets *len. */
static const char *utf8(uint32_t cp, char *buf, size_t *len)
{
	if (cp < 0x80) {
		buf[0] = (char)cp;
		*len = 1;
	} else if (cp < 0x800) {
		buf[0] = (char)(0xc0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3f));
		*len = 2;
	} else {
		buf[0] = (char)(0xe0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		*len = 3;
	}
	buf[*len] = '\0';
	return buf;
}

static void test_sanitize_escapes_bidi_and_invisible(void **state)
{
	/* Each range, its ends, and the neighbours of its ends. */
	static const struct {
		uint32_t cp;
		bool escaped;
	} cases[] = {
	    {0x200a, false}, {0x200b, true},  {0x200c, true},  {0x200d, true},
	    {0x200e, true},  {0x200f, true},  {0x2010, false}, {0x2027, false},
	    {0x2028, true},  {0x2029, true},  {0x202a, true},  {0x202b, true},
	    {0x202c, true},  {0x202d, true},  {0x202e, true},  {0x202f, false},
	    {0x2065, false}, {0x2066, true},  {0x2067, true},  {0x2068, true},
	    {0x2069, true},  {0x206a, false}, {0xfefe, false}, {0xfeff, true},
	    {0xff00, false},
	};
	char in[8], want[16], *out;
	size_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		utf8(cases[i].cp, in, &len);
		if (cases[i].escaped)
			snprintf(want, sizeof(want), "\\u{%04X}",
			         (unsigned)cases[i].cp);
		else
			snprintf(want, sizeof(want), "%s", in);
		check(in, len, want);
		assert_int_equal(text_is_clean(in, len), !cases[i].escaped);
		/* Every variant escapes them: a message body too. */
		out = text_safe_lines(in, len);
		assert_string_equal(out, want);
		free(out);
		out = text_sanitize_lines(in, len);
		assert_string_equal(out, want);
		free(out);
	}
	/* Exactly "\u{202E}": uppercase hex, in braces. */
	check("evil\xe2\x80\xaegpj.exe", 14, "evil\\u{202E}gpj.exe");
	check("a\xe2\x80\xa8"
	      "b\xe2\x80\xa9"
	      "c",
	      9, "a\\u{2028}b\\u{2029}c");
	check("\xef\xbb\xbf"
	      "bom",
	      6, "\\u{FEFF}bom");
	/* A name made of them only grows 8/3 times. */
	out = text_sanitize("\xe2\x80\xae\xe2\x80\xae", 6);
	assert_string_equal(out, "\\u{202E}\\u{202E}");
	free(out);
}

static void test_sanitize_escapes_invalid_utf8(void **state)
{
	check("\xff", 1, "\\xFF");
	check("a\xc3", 2, "a\\xC3");                 /* truncated sequence */
	check("\xc0\xaf", 2, "\\xC0\\xAF");          /* overlong '/' */
	check("\xed\xa0\x80", 3, "\\xED\\xA0\\x80"); /* surrogate */
	check("\xf4\x90\x80\x80", 4, "\\xF4\\x90\\x80\\x80"); /* > U+10FFFF */
	check("a\0b", 3, "a\\x00b");
}

static void test_sanitize_cannot_forge_escapes(void **state)
{
	/* A name that looks like an escape stays distinguishable. */
	check("\\xFF", 4, "\\\\xFF");
}

static void test_sanitize_lines_keeps_newlines(void **state)
{
	char *out = text_sanitize_lines("a\nb\r", 4);

	assert_string_equal(out, "a\nb\\x0D");
	free(out);
}

static void test_safe_lines_is_idempotent(void **state)
{
	/* Already sanitised text (a name with an escaped byte, a real
	 * backslash) passes unchanged: nothing is escaped twice. */
	char *name = text_sanitize("bad\xffname\\x", 10);
	char *once = text_safe_lines(name, strlen(name));
	char *raw = text_safe_lines("a\nb\rc\xff", 6);

	assert_string_equal(name, "bad\\xFFname\\\\x");
	assert_string_equal(once, name);
	/* Raw text is still made safe: controls and bad bytes escaped. */
	assert_string_equal(raw, "a\nb\\x0Dc\\xFF");
	free(name);
	free(once);
	free(raw);
}

static void test_is_clean(void **state)
{
	assert_true(text_is_clean("abc/d e.ogg", 11));
	assert_false(text_is_clean("a\nb", 3));
	assert_false(text_is_clean("\xff", 1));
	assert_false(text_is_clean("a\\b", 3));
}

static void test_human_size(void **state)
{
	char buf[TEXT_SIZE_LEN];

	assert_string_equal(text_human_size(0, buf), "0 B");
	assert_string_equal(text_human_size(1023, buf), "1023 B");
	assert_string_equal(text_human_size(1024, buf), "1.0 KiB");
	assert_string_equal(text_human_size(3 * 1024 * 1024, buf), "3.0 MiB");
	assert_string_equal(text_human_size(13107200, buf), "12.5 MiB");
	assert_string_equal(text_human_size(1048575, buf), "1.0 MiB");
	assert_string_equal(text_human_size(UINT64_MAX, buf), "16.0 EiB");
}

static void test_utf8_prefix(void **state)
{
	/* "é" is two bytes: a cut at 2 would split it. */
	assert_int_equal(text_utf8_prefix("a\xc3\xa9z", 4, 2), 1);
	assert_int_equal(text_utf8_prefix("a\xc3\xa9z", 4, 3), 3);
	assert_int_equal(text_utf8_prefix("abc", 3, 10), 3);
}

/* Lowercase hex, as SHA-256s are shown. */
static void test_hex(void **state)
{
	const unsigned char b[] = {0x00, 0x0f, 0xa5, 0xff};
	char out[9];

	assert_string_equal(text_hex(b, 4, out), "000fa5ff");
	assert_string_equal(text_hex(b, 0, out), "");
}

/* Percent-encoding of URL path segments: only RFC 3986's unreserved
 * characters stay, whatever the locale; a NUL is always encoded. */
static bool keep_none(unsigned char c)
{
	return false;
}

static void test_pct_encode(void **state)
{
	char *s;

	s = text_pct_encode("a-Z_0.~", 7, text_url_unreserved);
	assert_string_equal(s, "a-Z_0.~");
	free(s);
	s = text_pct_encode("r\xc3\xa9sum\xc3\xa9 (1).pdf", 16,
	                    text_url_unreserved);
	assert_string_equal(s, "r%C3%A9sum%C3%A9%20%281%29.pdf");
	free(s);
	s = text_pct_encode("a/b?c#d%e&f+g", 13, text_url_unreserved);
	assert_string_equal(s, "a%2Fb%3Fc%23d%25e%26f%2Bg");
	free(s);
	s = text_pct_encode("x\0y", 3, text_url_unreserved);
	assert_string_equal(s, "x%00y");
	free(s);
	s = text_pct_encode("ab", 2, keep_none);
	assert_string_equal(s, "%61%62");
	free(s);
	for (unsigned c = 0x80; c < 0x100; c++)
		assert_false(text_url_unreserved((unsigned char)c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sanitize_passes_clean_text),
	    cmocka_unit_test(test_sanitize_escapes_controls),
	    cmocka_unit_test(test_sanitize_escapes_bidi_and_invisible),
	    cmocka_unit_test(test_sanitize_escapes_invalid_utf8),
	    cmocka_unit_test(test_sanitize_cannot_forge_escapes),
	    cmocka_unit_test(test_sanitize_lines_keeps_newlines),
	    cmocka_unit_test(test_safe_lines_is_idempotent),
	    cmocka_unit_test(test_is_clean),
	    cmocka_unit_test(test_human_size),
	    cmocka_unit_test(test_utf8_prefix),
	    cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_pct_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
