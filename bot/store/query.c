/*
 * The search syntax: parsing a query and matching one term against a path.
 *
 * Design note. Everything is matched on the folded path (sanitised, then
 * lowercased in the C.UTF-8 locale), so a search sees names as they are
 * shown. Globs are translated into anchored POSIX extended regexes at parse
 * time, and regexes are compiled once, with REG_NOSUB and in a UTF-8 locale
 * (so '.' and '?' are one character and REG_ICASE knows non-ASCII letters).
 * glibc matches such regexes without backtracking; back-references (the one
 * feature that backtracks) are refused, and counted repetitions are bounded
 * so that compiling cannot explode. Together with the length bounds this
 * keeps one match polynomial; the catalogue bounds a whole search in time.
 */
#include "query.h"

#include <ctype.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>
#include <wctype.h>

#include "alloc.h"
#include "text.h"
#include "units.h"

/* Largest product of the counts of {m,n} repetitions in one regex. */
#define QUERY_MAX_REPEAT 1000

static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale; /* (locale_t)0 if C.UTF-8 is missing */

/* Creates the UTF-8 locale object once per process. */
static void utf8_init(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Switches this thread to the UTF-8 locale; returns the previous one, or
 * (locale_t)0 if there is no UTF-8 locale (then nothing changed). */
static locale_t utf8_enter(void)
{
	pthread_once(&utf8_once, utf8_init);
	if (utf8_locale == (locale_t)0)
		return (locale_t)0;
	return uselocale(utf8_locale);
}

/* Restores the locale saved by utf8_enter. */
static void utf8_leave(locale_t old)
{
	if (old != (locale_t)0)
		uselocale(old);
}

/* Returns a lowercased copy of the NUL-terminated string s. Valid UTF-8 is
 * lowercased character by character; any other byte is kept as it is. */
static char *lower_utf8(const char *s)
{
	size_t len = strlen(s), i = 0, o = 0;
	char *out = xmalloc(len * 2 + MB_LEN_MAX + 1);
	locale_t old = utf8_enter();
	mbstate_t st;

	while (i < len) {
		unsigned char b = (unsigned char)s[i];
		wchar_t wc;
		size_t n, m;

		if (b < 0x80 || old == (locale_t)0) {
			out[o++] = (char)tolower(b);
			i++;
			continue;
		}
		memset(&st, 0, sizeof(st));
		n = mbrtowc(&wc, s + i, len - i, &st);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			out[o++] = s[i++];
			continue;
		}
		memset(&st, 0, sizeof(st));
		m = wcrtomb(out + o, (wchar_t)towlower((wint_t)wc), &st);
		if (m == (size_t)-1 || m > n) {
			/* Keep the original if the lowercase form is longer,
			 * so the output never outgrows its buffer. */
			memcpy(out + o, s + i, n);
			m = n;
		}
		o += m;
		i += n;
	}
	out[o] = '\0';
	utf8_leave(old);
	return out;
}

char *query_fold(const char *s, size_t len)
{
	char *clean = text_sanitize(s, len);
	char *folded = lower_utf8(clean);

	free(clean);
	return folded;
}

/* Returns the number of UTF-8 characters in s. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* Returns a printable copy of the len bytes at s for an error message,
 * shortened to about 60 bytes. */
static char *shown(const char *s, size_t len)
{
	size_t n = text_utf8_prefix(s, len, 60);
	char *clean = text_sanitize(s, n);
	char *out;

	if (n == len)
		return clean;
	out = xasprintf("%s...", clean);
	free(clean);
	return out;
}

/* Sets *cause to before, a printable copy of the len bytes at s, and
 * after. */
static void bad_input(char **cause, const char *before, const char *s,
                      size_t len, const char *after)
{
	char *p = shown(s, len);

	if (cause != NULL)
		*cause = xasprintf("%s%s%s", before, p, after);
	free(p);
}

static size_t skip_bracket(const char *s, size_t len, size_t i);

/*
 * Checks a regex before regcomp, which would otherwise take exponential
 * time or memory on some short patterns: back-references are refused (they
 * make matching exponential), so is a repetition of a repetition ("a++"),
 * and the product of the copies that "+" (2) and {m,n} (n) make glibc
 * build is bounded by QUERY_MAX_REPEAT. Returns 0, or -1 with *cause.
 */
static int regex_check(const char *re, char **cause)
{
	size_t len = strlen(re), i = 0;
	uint64_t product = 1;
	bool prev_repeat = false;

	while (i < len) {
		uint64_t copies = 1;

		if (re[i] == '[') {
			i = skip_bracket(re, len, i);
			prev_repeat = false;
			continue;
		}
		if (re[i] == '\\') {
			if (re[i + 1] >= '0' && re[i + 1] <= '9') {
				*cause = xstrdup("bad regex: back-references "
				                 "are not supported");
				return -1;
			}
			i += re[i + 1] != '\0' ? 2 : 1;
			prev_repeat = false;
			continue;
		}
		if (strchr("*+?{", re[i]) == NULL) {
			i++;
			prev_repeat = false;
			continue;
		}
		if (prev_repeat) {
			*cause = xstrdup("bad regex: a repetition of a "
			                 "repetition (such as a++) is not "
			                 "supported");
			return -1;
		}
		prev_repeat = true;
		if (re[i] == '+') {
			copies = 2;
			i++;
		} else if (re[i] == '{') {
			const char *end = strchr(re + i, '}');
			const char *comma = strchr(re + i, ',');
			uint64_t m = strtoull(re + i + 1, NULL, 10), n = m;

			if (comma != NULL && end != NULL && comma < end)
				n = comma[1] == '}'
				        ? m + 1
				        : strtoull(comma + 1, NULL, 10);
			copies = n > m ? n : m;
			i = end != NULL ? (size_t)(end - re) + 1 : len;
		} else {
			i++;
		}
		if (copies > QUERY_MAX_REPEAT)
			copies = QUERY_MAX_REPEAT + 1;
		product *= copies == 0 ? 1 : copies;
		if (product > QUERY_MAX_REPEAT) {
			*cause = xasprintf("bad regex: too many repetitions "
			                   "(their counts multiply to more "
			                   "than %d)",
			                   QUERY_MAX_REPEAT);
			return -1;
		}
	}
	return 0;
}

/* Compiles an extended regex (case-insensitive, no sub-matches) in the
 * UTF-8 locale. Returns a new regex_t, or NULL with *cause. */
static regex_t *regex_compile(const char *pattern, char **cause)
{
	regex_t *re = xmalloc(sizeof(*re));
	locale_t old = utf8_enter();
	char msg[128];
	int rc;

	rc = regcomp(re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	utf8_leave(old);
	if (rc != 0) {
		regerror(rc, re, msg, sizeof(msg));
		*cause = xasprintf("bad regex: %s", msg);
		free(re);
		return NULL;
	}
	return re;
}

/* Translates a (folded) glob into an anchored extended regex: * is any run
 * of characters, ? one character, [...] and [!...] a set, \c the character
 * c; an unterminated [ is a literal. The caller frees the result. */
static char *glob_to_regex(const char *glob)
{
	size_t len = strlen(glob), o = 0;
	char *out = xmalloc(len * 2 + 3);

	out[o++] = '^';
	for (size_t i = 0; i < len; i++) {
		char ch = glob[i];

		if (ch == '*') {
			out[o++] = '.';
			out[o++] = '*';
		} else if (ch == '?') {
			out[o++] = '.';
		} else if (ch == '[') {
			size_t j = i + 1;

			if (j < len && (glob[j] == '!' || glob[j] == '^'))
				j++;
			if (j < len && glob[j] == ']')
				j++;
			while (j < len && glob[j] != ']') {
				/* Skip a class such as [:alpha:]. */
				if (glob[j] == '[' && j + 1 < len &&
				    glob[j + 1] == ':') {
					const char *e = strstr(glob + j, ":]");

					if (e != NULL)
						j = (size_t)(e - glob) + 1;
				}
				j++;
			}
			if (j >= len) { /* no closing ']': a literal '[' */
				out[o++] = '\\';
				out[o++] = '[';
				continue;
			}
			out[o++] = '[';
			i++;
			if (glob[i] == '!' || glob[i] == '^') {
				out[o++] = '^';
				i++;
			}
			for (; i <= j; i++) /* the rest, ']' included */
				out[o++] = glob[i];
			i = j;
		} else if (ch == '\\' && i + 1 < len) {
			ch = glob[++i];
			if (strchr(".[]{}()\\*+?^$|", ch) != NULL)
				out[o++] = '\\';
			out[o++] = ch;
		} else {
			if (strchr(".[]{}()\\*+?^$|", ch) != NULL)
				out[o++] = '\\';
			out[o++] = ch;
		}
	}
	out[o++] = '$';
	out[o] = '\0';
	return out;
}

/* Adds the n bytes at run to t's literals if they are at least 3
 * characters long and appear as they are in a folded path (valid UTF-8, no
 * control character, no backslash). */
static void add_must(struct query_term *t, const char *run, size_t n)
{
	char *raw;

	if (n == 0 || !text_is_clean(run, n) || memchr(run, '\\', n) != NULL)
		return;
	raw = xstrndup(run, n);
	if (utf8_chars(raw) < 3) {
		free(raw);
		return;
	}
	t->must = xreallocarray(t->must, t->n_must + 1, sizeof(*t->must));
	t->must[t->n_must++] = lower_utf8(raw);
	free(raw);
}

/* Returns the index just past the bracket expression that starts at
 * s[i] == '[' (a ']' first in the set and [:class:] are part of it), or len
 * if it does not end. */
static size_t skip_bracket(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;

	if (j < len && (s[j] == '!' || s[j] == '^'))
		j++;
	if (j < len && s[j] == ']')
		j++;
	while (j < len && s[j] != ']') {
		if (s[j] == '[' && j + 1 < len &&
		    (s[j + 1] == ':' || s[j + 1] == '.' || s[j + 1] == '=')) {
			char close[3] = {s[j + 1], ']', '\0'};
			const char *e = strstr(s + j + 2, close);

			if (e != NULL)
				j = (size_t)(e - s) + 1;
		}
		j++;
	}
	return j < len ? j + 1 : len;
}

/* Finds the literal runs of a glob: the text between wildcards, sets and
 * escapes. */
static void glob_literals(struct query_term *t, const char *glob)
{
	size_t len = strlen(glob), i = 0, start = 0;

	while (i <= len) {
		char ch = i < len ? glob[i] : '\0';

		if (ch != '\0' && ch != '*' && ch != '?' && ch != '[' &&
		    ch != '\\') {
			i++;
			continue;
		}
		add_must(t, glob + start, i - start);
		if (ch == '\0')
			break;
		if (ch == '[')
			i = skip_bracket(glob, len, i);
		else if (ch == '\\')
			i += 2;
		else
			i++;
		start = i;
	}
}

/*
 * Finds runs of characters that every match of an extended regex contains:
 * consecutive plain characters at the top level, minus a character made
 * optional by *, ? or {. Groups and sets break runs; a top-level '|' means
 * nothing is certain.
 */
static void regex_literals(struct query_term *t, const char *re)
{
	size_t len = strlen(re), i, n = 0;
	char *run = xmalloc(len + 1);
	int depth = 0;

	/* A '|' outside groups and sets: no literal is certain. */
	for (i = 0; i < len; i++) {
		if (re[i] == '\\')
			i++;
		else if (re[i] == '[')
			i = skip_bracket(re, len, i) - 1;
		else if (re[i] == '(')
			depth++;
		else if (re[i] == ')')
			depth--;
		else if (re[i] == '|' && depth <= 0)
			goto out;
	}
	for (i = 0; i < len;) {
		char ch = re[i];

		if (ch == '\\' && i + 1 < len &&
		    strchr(".[]{}()\\*+?^$|/", re[i + 1]) != NULL) {
			run[n++] = re[i + 1];
			i += 2;
			continue;
		}
		if (ch == '*' || ch == '?' || ch == '{') {
			/* The last character is optional: drop it (all of
			 * its UTF-8 sequence). */
			while (n > 0 &&
			       ((unsigned char)run[n - 1] & 0xc0) == 0x80)
				n--;
			if (n > 0)
				n--;
		}
		if (strchr("\\[(.^$*?{+)", ch) == NULL) {
			run[n++] = ch;
			i++;
			continue;
		}
		add_must(t, run, n);
		n = 0;
		if (ch == '\\') {
			i += 2; /* \w, \b...: not a literal */
		} else if (ch == '[') {
			i = skip_bracket(re, len, i);
		} else if (ch == '(') {
			for (depth = 0; i < len; i++) {
				if (re[i] == '\\')
					i++;
				else if (re[i] == '[')
					i = skip_bracket(re, len, i) - 1;
				else if (re[i] == '(')
					depth++;
				else if (re[i] == ')' && --depth == 0)
					break;
			}
			i++;
		} else if (ch == '{') {
			const char *e = strchr(re + i, '}');

			i = e != NULL ? (size_t)(e - re) + 1 : len;
		} else {
			i++;
		}
	}
	add_must(t, run, n);
out:
	free(run);
}

struct query *query_new(void)
{
	struct query *q = xcalloc(1, sizeof(*q));

	q->max_size = UINT64_MAX;
	return q;
}

void query_free(struct query *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->n_terms; i++) {
		if (q->terms[i].compiled != NULL) {
			regfree(q->terms[i].compiled);
			free(q->terms[i].compiled);
		}
		for (size_t k = 0; k < q->terms[i].n_must; k++)
			free(q->terms[i].must[k]);
		free(q->terms[i].must);
		free(q->terms[i].text);
	}
	free(q->terms);
	free(q->type);
	free(q->desc);
	free(q);
}

int query_add_term(struct query *q, enum query_term_kind kind, const char *text,
                   char **cause)
{
	struct query_term t = {.kind = kind};
	size_t len = strlen(text);
	size_t max = kind == QUERY_REGEX ? QUERY_MAX_REGEX : QUERY_MAX_TERM;

	if (len == 0 && kind == QUERY_SUBSTRING)
		return 0;
	if (len == 0) {
		*cause =
		    xstrdup(kind == QUERY_REGEX ? "empty regex" : "empty glob");
		return -1;
	}
	if (len > max) {
		bad_input(cause,
		          kind == QUERY_REGEX
		              ? "regex too long (at most 256 bytes): "
		              : "term too long (at most 256 bytes): ",
		          text, len, "");
		return -1;
	}
	if (q->n_terms >= QUERY_MAX_TERMS) {
		*cause =
		    xasprintf("too many terms (at most %d)", QUERY_MAX_TERMS);
		return -1;
	}
	switch (kind) {
	case QUERY_SUBSTRING:
		/* Typed as shown: lowercased, not sanitised again. */
		t.text = lower_utf8(text);
		break;
	case QUERY_GLOB: {
		char *re;

		t.text = lower_utf8(text);
		re = glob_to_regex(t.text);
		t.compiled = regex_compile(re, cause);
		free(re);
		if (t.compiled == NULL) {
			free(t.text);
			return -1;
		}
		glob_literals(&t, t.text);
		break;
	}
	case QUERY_REGEX:
		if (regex_check(text, cause) == -1)
			return -1;
		t.compiled = regex_compile(text, cause);
		if (t.compiled == NULL)
			return -1;
		t.text = xstrdup(text);
		regex_literals(&t, text);
		break;
	default:
		*cause = xstrdup("unknown kind of term");
		return -1;
	}
	q->terms = xreallocarray(q->terms, q->n_terms + 1, sizeof(*q->terms));
	q->terms[q->n_terms++] = t;
	return 0;
}

/* Parses the value of "size:" (word is the whole "size:..." word) into q.
 * Returns 0, or -1 with *cause. */
static int parse_size(struct query *q, const char *word, char **cause)
{
	const char *v = word + 5;
	bool gt = false, lt = false, eq = false;
	uint64_t n;

	if (v[0] == '>' || v[0] == '<') {
		gt = v[0] == '>';
		lt = v[0] == '<';
		v++;
		if (v[0] == '=') {
			eq = true;
			v++;
		}
	} else {
		if (v[0] == '=')
			v++;
		eq = true;
	}
	if (units_parse_size(v, &n) == -1) {
		bad_input(cause, "bad size in \"", word, strlen(word), "\"");
		return -1;
	}
	if (gt && !eq) {
		if (n == UINT64_MAX) {
			bad_input(cause, "bad size in \"", word, strlen(word),
			          "\"");
			return -1;
		}
		n++;
	}
	if (lt && !eq) {
		if (n == 0) {
			bad_input(cause, "nothing is smaller than 0: \"", word,
			          strlen(word), "\"");
			return -1;
		}
		n--;
	}
	if (!lt && n > q->min_size)
		q->min_size = n;
	if (!gt && n < q->max_size)
		q->max_size = n;
	return 0;
}

/* Parses "type:TYPE" or "type:TYPE/SUBTYPE" into q. Returns 0, or -1. */
static int parse_type(struct query *q, const char *word, char **cause)
{
	const char *v = word + 5;
	size_t len = strlen(v), slashes = 0;

	if (len == 0 || len > QUERY_MAX_TYPE || v[0] == '/' ||
	    v[len - 1] == '/')
		goto bad;
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '/')
			slashes++;
		else if (!isalnum((unsigned char)*p) &&
		         strchr("!#$&^_.+-", *p) == NULL)
			goto bad;
	}
	if (slashes > 1)
		goto bad;
	free(q->type);
	q->type = lower_utf8(v);
	return 0;
bad:
	bad_input(cause, "bad type in \"", word, strlen(word),
	          "\" (e.g. type:audio, type:image/png)");
	return -1;
}

/* Parses "new:DURATION" into q. Returns 0, or -1. */
static int parse_new(struct query *q, const char *word, char **cause)
{
	uint64_t ms;

	if (units_parse_duration(word + 4, &ms) == -1 || ms == 0) {
		bad_input(cause, "bad duration in \"", word, strlen(word),
		          "\" (e.g. new:7d)");
		return -1;
	}
	q->new_within_ms = ms;
	return 0;
}

/* Returns true if c separates words. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

struct query *query_parse(const char *text, char **cause)
{
	struct query *q = query_new();
	size_t len = strlen(text);
	const char *p = text, *end = text + len;
	char *word = NULL;
	int rc;

	if (len > QUERY_MAX_LENGTH) {
		*cause = xasprintf("query too long (at most %d bytes)",
		                   QUERY_MAX_LENGTH);
		goto fail;
	}
	for (;;) {
		const char *start, *stop;

		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		if (*p == '"') {
			start = ++p;
			stop = memchr(p, '"', (size_t)(end - p));
			if (stop == NULL) {
				*cause = xstrdup("unterminated quote");
				goto fail;
			}
			word = xstrndup(start, (size_t)(stop - start));
			rc = query_add_term(q, QUERY_SUBSTRING, word, cause);
			p = stop + 1;
		} else if (*p == '/') {
			/* The regex ends at a '/' followed by a space or by
			 * the end, so it may hold '/' and spaces. */
			start = ++p;
			stop = NULL;
			for (const char *s = p; s < end; s++) {
				if (*s == '/' &&
				    (s + 1 == end || is_space(s[1]))) {
					stop = s;
					break;
				}
			}
			if (stop == NULL) {
				*cause = xstrdup("unterminated regex (end it "
				                 "with / and a space)");
				goto fail;
			}
			word = xstrndup(start, (size_t)(stop - start));
			rc = query_add_term(q, QUERY_REGEX, word, cause);
			p = stop + 1;
		} else {
			start = p;
			while (p < end && !is_space(*p))
				p++;
			word = xstrndup(start, (size_t)(p - start));
			if (strncasecmp(word, "size:", 5) == 0)
				rc = parse_size(q, word, cause);
			else if (strncasecmp(word, "type:", 5) == 0)
				rc = parse_type(q, word, cause);
			else if (strncasecmp(word, "new:", 4) == 0)
				rc = parse_new(q, word, cause);
			else if (strpbrk(word, "*?[") != NULL)
				rc = query_add_term(q, QUERY_GLOB, word, cause);
			else
				rc = query_add_term(q, QUERY_SUBSTRING, word,
				                    cause);
		}
		free(word);
		word = NULL;
		if (rc == -1)
			goto fail;
	}
	return q;
fail:
	free(word);
	query_free(q);
	return NULL;
}

void query_set_desc(struct query *q, const char *text)
{
	free(q->desc);
	q->desc = text != NULL && text[0] != '\0' ? lower_utf8(text) : NULL;
}

bool query_is_empty(const struct query *q)
{
	return q->n_terms == 0 && q->min_size == 0 &&
	       q->max_size == UINT64_MAX && q->type == NULL &&
	       q->new_within_ms == 0 && q->desc == NULL;
}

size_t query_longest_literal(const struct query *q)
{
	size_t best = 0;

	for (size_t i = 0; i < q->n_terms; i++) {
		size_t n;

		if (q->terms[i].kind != QUERY_SUBSTRING)
			continue;
		n = utf8_chars(q->terms[i].text);
		if (n > best)
			best = n;
	}
	return best;
}

bool query_match_term(const struct query_term *t, const char *folded_path)
{
	const char *subject = folded_path;
	locale_t old;
	int rc;

	switch (t->kind) {
	case QUERY_SUBSTRING:
		return strstr(folded_path, t->text) != NULL;
	case QUERY_GLOB:
		subject = strrchr(folded_path, '/');
		subject = subject == NULL ? folded_path : subject + 1;
		break;
	case QUERY_REGEX:
		break;
	default:
		return false;
	}
	old = utf8_enter();
	rc = regexec(t->compiled, subject, 0, NULL, 0);
	utf8_leave(old);
	return rc == 0;
}
