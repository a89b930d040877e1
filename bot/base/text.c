/* The text sanitiser and small text helpers. */
#include "fisbot/text.h"

#include <stdio.h>
#include <string.h>

#include "fisbot/alloc.h"

/*
 * Decodes one UTF-8 sequence at s (len > 0 bytes available). Returns its
 * length and stores the code point in *cp, or returns 0 if the bytes at s do
 * not start a well-formed sequence.
 */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Returns true if code point c is invisible or reorders or breaks text
 * around it: a bidirectional embedding, override or isolate (U+202A-U+202E,
 * U+2066-U+2069), a line or paragraph separator (U+2028, U+2029), or a
 * zero-width character (U+200B-U+200F, U+FEFF). A name holding one could
 * fake another name or a line. */
static bool deceptive(uint32_t c)
{
	return (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

/* Returns true if code point c may appear as it is in a log line or in XML. */
static bool printable(uint32_t c, bool keep_newline)
{
	if (c == '\n')
		return keep_newline;
	if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f))
		return false;
	if (c == 0xfffe || c == 0xffff || deceptive(c))
		return false;
	return true;
}

bool text_is_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_decode(p + i, len - i, &cp)) == 0)
			return false;
		i += n;
	}
	return true;
}

bool text_is_clean(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_decode(p + i, len - i, &cp)) == 0)
			return false;
		if (!printable(cp, false) || cp == '\\')
			return false;
		i += n;
	}
	return true;
}

/* The sanitiser behind the public variants: escapes what is not printable
 * (keeping '\n' if keep_newline) and, if escape_backslash, backslashes. */
static char *sanitize(const char *s, size_t len, bool keep_newline,
                      bool escape_backslash)
{
	const unsigned char *p = (const unsigned char *)s;
	/* Worst case: every byte becomes "\xNN" (4 bytes); an escaped
	 * character of 2 or 3 bytes becomes "\u{NNNN}" (8 bytes). */
	char *out = xmalloc(len * 4 + 1), *o = out;
	uint32_t cp;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			o += sprintf(o, "\\x%02X", p[i]);
			i++;
			continue;
		}
		if (cp == '\\' && escape_backslash) {
			*o++ = '\\';
			*o++ = '\\';
		} else if (!printable(cp, keep_newline)) {
			if (n == 1)
				o += sprintf(o, "\\x%02X", (unsigned)cp);
			else
				o += sprintf(o, "\\u{%04X}", (unsigned)cp);
		} else {
			memcpy(o, p + i, n);
			o += n;
		}
		i += n;
	}
	*o = '\0';
	return out;
}

char *text_sanitize(const char *s, size_t len)
{
	return sanitize(s, len, false, true);
}

char *text_sanitize_lines(const char *s, size_t len)
{
	return sanitize(s, len, true, true);
}

char *text_safe_lines(const char *s, size_t len)
{
	return sanitize(s, len, true, false);
}

char *text_human_size(uint64_t bytes, char *buf)
{
	static const char *const units[] = {"KiB", "MiB", "GiB",
	                                    "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, TEXT_SIZE_LEN, "%u B", (unsigned)bytes);
		return buf;
	}
	v /= 1024;
	while (v >= 1023.95 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, TEXT_SIZE_LEN, "%.1f %s", v, units[u]);
	return buf;
}

size_t text_utf8_prefix(const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (len <= max)
		return len;
	n = max;
	/* Back up over continuation bytes to the start of a sequence. */
	while (n > 0 && (p[n] & 0xc0) == 0x80)
		n--;
	return n;
}

char *text_hex(const unsigned char *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
	return out;
}

char *text_pct_encode(const char *s, size_t len, bool (*keep)(unsigned char))
{
	static const char digits[] = "0123456789ABCDEF";
	char *out = xmalloc(3 * len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch != '\0' && keep(ch)) {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = digits[ch >> 4];
			*o++ = digits[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

bool text_url_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}
