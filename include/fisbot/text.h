/*
 * Text safety: the one sanitiser for everything that comes from disk or from
 * a user before it enters a log line or a stanza, plus small text helpers
 * shared by the CLI and the chat commands.
 */
#ifndef FISBOT_TEXT_H
#define FISBOT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fisbot_export.h"

/*
 * Returns a newly allocated, NUL-terminated copy of the len bytes at s that
 * is valid UTF-8 and holds no control characters: every byte of an invalid
 * sequence becomes "\xNN", every C0 control character (tab and newline
 * included) and DEL become "\xNN"; C1 controls, the characters XML 1.0
 * forbids, bidirectional controls (U+202A-U+202E, U+2066-U+2069), line and
 * paragraph separators (U+2028, U+2029) and zero-width characters
 * (U+200B-U+200F, U+FEFF) become "\u{NNNN}" (uppercase hex, e.g.
 * "\u{202E}"), so that no name can fake another name or a line; and a
 * backslash becomes "\\" so that escapes cannot be forged. The caller frees
 * the result.
 */
FB_EXPORT char *text_sanitize(const char *s, size_t len);

/* Like text_sanitize, but keeps '\n' (for multi-line messages). */
FB_EXPORT char *text_sanitize_lines(const char *s, size_t len);

/*
 * Makes text safe for a message body without escaping it twice: like
 * text_sanitize_lines, but backslashes are kept as they are. The result is
 * always valid UTF-8 with no control character but '\n', and text that is
 * already safe (e.g. built from text_sanitize'd names) comes back
 * unchanged. This is the dispatcher's last line of defence; names must
 * still be passed through text_sanitize by whoever formats them, so that
 * they are unambiguous and cannot add lines.
 */
FB_EXPORT char *text_safe_lines(const char *s, size_t len);

/* Returns true if the len bytes at s are well-formed UTF-8 (no overlongs,
 * no surrogates, nothing above U+10FFFF). */
FB_EXPORT bool text_is_utf8(const char *s, size_t len);

/* Returns true if s is valid UTF-8 and needs no escaping by text_sanitize. */
FB_EXPORT bool text_is_clean(const char *s, size_t len);

/* Writes a human size ("512 B", "3.0 KiB", "12.5 MiB", powers of 1024) into
 * buf, which holds at least TEXT_SIZE_LEN bytes. Returns buf. */
#define TEXT_SIZE_LEN 24
FB_EXPORT char *text_human_size(uint64_t bytes, char *buf);

/* Returns the number of bytes of the longest prefix of s (at most max bytes)
 * that does not cut a UTF-8 sequence in two. */
FB_EXPORT size_t text_utf8_prefix(const char *s, size_t len, size_t max);

/* Writes the n bytes at bytes as lowercase hex digits and a NUL into out
 * (2 * n + 1 bytes): SHA-256s as shown and in ETags. Returns out. */
char *text_hex(const unsigned char *bytes, size_t n, char *out);

/* Returns the len bytes at s percent-encoded with uppercase hex digits:
 * every byte but those keep accepts (a NUL is always encoded). The caller
 * frees it. */
char *text_pct_encode(const char *s, size_t len, bool (*keep)(unsigned char));

/* For text_pct_encode: true for what a URL path segment holds as it is,
 * RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~). */
bool text_url_unreserved(unsigned char c);

#endif
