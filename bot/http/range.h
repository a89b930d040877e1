/*
 * Range requests and the conditional headers that go with them (RFC 9110
 * §13, §14): the Range parser, If-Range, If-Match, If-None-Match and HTTP
 * dates.
 *
 * Decisions (RFC 9110 lets a server choose; these follow nginx where it is
 * reasonable):
 * - Only the "bytes" unit (case-insensitive). Spaces and tabs are allowed
 *   around '=', '-' and ',' and empty list elements are skipped, as nginx
 *   does.
 * - A header that breaks the grammar, uses another unit, has a range whose
 *   last-pos is below its first-pos (bytes=5-4), or lists more than
 *   RANGE_MAX_SPECS ranges is ignored: the whole file is served with 200
 *   (RFC 9110 §14.2: a server MAY ignore Range).
 * - Numbers too large for 64 bits saturate: a huge first-pos is beyond the
 *   end (unsatisfiable), a huge last-pos or suffix-length means "to the end"
 *   or "the whole file".
 * - Unsatisfiable ranges are dropped. None left: 416. One left: 206 with it.
 *   Several: they are sorted and coalesced when they overlap or touch; if
 *   one span results, 206 with it, else the whole file with 200 (no
 *   multipart/byteranges responses).
 * - A zero-length file ignores Range (200 with an empty body), since it has
 *   no byte to send in a 206.
 */
#ifndef FISBOT_RANGE_H
#define FISBOT_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RANGE_MAX_SPECS 16

enum range_result {
	RANGE_NONE,          /* serve the whole file (200) */
	RANGE_OK,            /* serve [start, start + len) (206) */
	RANGE_UNSATISFIABLE, /* 416 with Content-Range: bytes SLASH SIZE */
};

struct range {
	uint64_t start, len;
};

/* Evaluates the Range header value s (NUL-terminated) against a file of
 * size bytes; on RANGE_OK fills *out. */
enum range_result range_parse(const char *s, uint64_t size, struct range *out);

/*
 * Returns true if the If-Range value s lets the Range apply: an entity tag
 * equal (strong comparison) to etag (which includes its quotes), or an HTTP
 * date equal to last_modified. A weak tag or anything else returns false.
 */
bool range_if_range(const char *s, const char *etag, time_t last_modified);

/*
 * Returns true if the If-None-Match value s ("*" or a list of entity tags)
 * matches etag by weak comparison (W/ ignored).
 */
bool range_etag_matches(const char *s, const char *etag);

/*
 * Returns true if the If-Match value s ("*" or a list of entity tags) has
 * etag by strong comparison: a weak tag never matches, nor does a value
 * that breaks the grammar.
 */
bool range_if_match(const char *s, const char *etag);

/* Parses an HTTP date (IMF-fixdate, RFC 850 or asctime form). Returns 0
 * and sets *t, or -1. */
int range_parse_date(const char *s, time_t *t);

/* Writes t as an IMF-fixdate into buf (at least 30 bytes). */
void range_format_date(time_t t, char *buf, size_t size);

#endif
