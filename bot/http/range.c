/* The Range parser and the conditional-request helpers (If-Range,
 * If-None-Match, HTTP dates). The decisions are documented in range.h. */
#define _GNU_SOURCE /* strptime, timegm */
#include "range.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Skips spaces and tabs. */
static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parses decimal digits at *pp, saturating at UINT64_MAX. Returns false if
 * there is no digit. */
static bool parse_num(const char **pp, uint64_t *v)
{
	const char *p = *pp;
	uint64_t n = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (n > (UINT64_MAX - d) / 10)
			n = UINT64_MAX;
		else
			n = n * 10 + d;
	}
	*pp = p;
	*v = n;
	return true;
}

/* Orders ranges by start. */
static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

enum range_result range_parse(const char *s, uint64_t size, struct range *out)
{
	struct range r[RANGE_MAX_SPECS];
	size_t nspecs = 0, n = 0;
	const char *p = skip_ows(s);

	if (strncasecmp(p, "bytes", 5) != 0)
		return RANGE_NONE;
	p = skip_ows(p + 5);
	if (*p++ != '=')
		return RANGE_NONE;
	for (;;) {
		uint64_t first = 0, last = UINT64_MAX;
		bool suffix = false;

		p = skip_ows(p);
		if (*p == ',') { /* empty list element */
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (*p == '-') {
			suffix = true;
			p = skip_ows(p + 1);
			if (!parse_num(&p, &last))
				return RANGE_NONE;
		} else {
			if (!parse_num(&p, &first))
				return RANGE_NONE;
			p = skip_ows(p);
			if (*p++ != '-')
				return RANGE_NONE;
			p = skip_ows(p);
			if (*p >= '0' && *p <= '9') {
				parse_num(&p, &last);
				if (last < first)
					return RANGE_NONE;
			}
		}
		p = skip_ows(p);
		if (*p != ',' && *p != '\0')
			return RANGE_NONE;
		if (++nspecs > RANGE_MAX_SPECS)
			return RANGE_NONE;
		/* Resolve against the size; drop unsatisfiable ones. */
		if (suffix) {
			if (last == 0 || size == 0)
				continue;
			r[n].start = last >= size ? 0 : size - last;
			r[n].len = size - r[n].start;
			n++;
		} else {
			if (first >= size)
				continue;
			if (last >= size - 1)
				last = size - 1;
			r[n].start = first;
			r[n].len = last - first + 1;
			n++;
		}
	}
	if (nspecs == 0)
		return RANGE_NONE;
	if (size == 0)
		return RANGE_NONE;
	if (n == 0)
		return RANGE_UNSATISFIABLE;
	if (n > 1) {
		size_t m = 0;

		qsort(r, n, sizeof(r[0]), cmp_range);
		for (size_t i = 1; i < n; i++) {
			uint64_t end = r[m].start + r[m].len;

			if (r[i].start <= end) {
				uint64_t iend = r[i].start + r[i].len;

				if (iend > end)
					r[m].len = iend - r[m].start;
			} else {
				r[++m] = r[i];
			}
		}
		if (m > 0)
			return RANGE_NONE;
	}
	*out = r[0];
	return RANGE_OK;
}

/* Reads one entity tag at *pp: returns its start (at W/ or the quote) and
 * sets *len and *weak, or returns NULL if malformed. */
static const char *parse_etag(const char **pp, size_t *len, bool *weak)
{
	const char *p = *pp, *start = p, *q;

	*weak = false;
	if (p[0] == 'W' && p[1] == '/') {
		*weak = true;
		p += 2;
	}
	if (*p != '"')
		return NULL;
	q = strchr(p + 1, '"');
	if (q == NULL)
		return NULL;
	*pp = q + 1;
	*len = (size_t)(q + 1 - start);
	return start;
}

bool range_if_range(const char *s, const char *etag, time_t last_modified)
{
	const char *p = skip_ows(s), *tag;
	size_t len;
	bool weak;
	time_t t;

	if (*p == '"' || (p[0] == 'W' && p[1] == '/')) {
		tag = parse_etag(&p, &len, &weak);
		if (tag == NULL || weak || *skip_ows(p) != '\0')
			return false;
		return len == strlen(etag) && memcmp(tag, etag, len) == 0;
	}
	if (range_parse_date(p, &t) == -1)
		return false;
	return t == last_modified;
}

/* Returns true if the list s ("*" or entity tags) has etag: by weak
 * comparison, or by strong comparison (a weak tag never matches) if
 * strong is set. */
static bool etag_list_has(const char *s, const char *etag, bool strong)
{
	const char *p = skip_ows(s);
	size_t elen = strlen(etag);

	if (*p == '*')
		return *skip_ows(p + 1) == '\0';
	for (;;) {
		const char *tag;
		size_t len;
		bool weak;

		p = skip_ows(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\0')
			return false;
		tag = parse_etag(&p, &len, &weak);
		if (tag == NULL)
			return false;
		if (weak) {
			tag += 2;
			len -= 2;
		}
		if ((!weak || !strong) && len == elen &&
		    memcmp(tag, etag, len) == 0)
			return true;
		p = skip_ows(p);
		if (*p != ',' && *p != '\0')
			return false;
	}
}

bool range_etag_matches(const char *s, const char *etag)
{
	return etag_list_has(s, etag, false);
}

bool range_if_match(const char *s, const char *etag)
{
	return etag_list_has(s, etag, true);
}

int range_parse_date(const char *s, time_t *t)
{
	static const char *const formats[] = {
	    "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
	    "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
	    "%a %b %e %H:%M:%S %Y",      /* asctime */
	};
	struct tm tm;

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		const char *end;

		memset(&tm, 0, sizeof(tm));
		end = strptime(s, formats[i], &tm);
		if (end != NULL && *end == '\0') {
			*t = timegm(&tm);
			return *t == (time_t)-1 ? -1 : 0;
		}
	}
	return -1;
}

void range_format_date(time_t t, char *buf, size_t size)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
	                                   "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
	                                     "May", "Jun", "Jul", "Aug",
	                                     "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	         days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	         tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
