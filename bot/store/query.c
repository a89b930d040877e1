/*
 * The search syntax: parsing a query and matching one term against a path.
 *
 * Design note. Everything is matched on the folded path (sanitised, then
 * lowercased in the C.UTF-8 locale), so a search sees names as they are
 * shown. Regexes are PCRE2 (8-bit, UTF with PCRE2_MATCH_INVALID_UTF since
 * names are bytes, caseless, Unicode properties); globs are translated into
 * anchored PCRE2 patterns. Both are compiled once per query, JIT-compiled
 * where the platform allows, and bounded so that a hostile pattern costs
 * little:
 *  - compiling: at most QUERY_MAX_REGEX bytes (the compile context says so
 *    too), parentheses nested at most REGEX_NEST deep, and every byte PCRE2
 *    allocates counted against QUERY_REGEX_MEMORY (a counting allocator in
 *    the general context refuses past it); PCRE2 itself refuses a compiled
 *    pattern over 64 KiB (e.g. a group repeated {999} times);
 *  - matching: the match context bounds backtracking (match limit), the
 *    interpreter's depth and heap, and the JIT stack; and since PCRE2 counts
 *    its match limit per start position, a callout at the start of every
 *    attempt ("(?C)" before the pattern) stops a match that used
 *    QUERY_MATCH_MS of CPU time. The contexts, match data and JIT stack are
 *    per thread (searches may run on worker threads); one thread's
 *    matching memory is counted against QUERY_REGEX_MEMORY too.
 * A match stopped by any limit is no match, and query_match says so, so the
 * search can report it. Start-of-pattern settings ("(*LIMIT_MATCH=...)",
 * "(*NO_JIT)") are refused: the bot sets the limits.
 *
 * Each glob and regex also yields literals (query_term.must) that every
 * path it matches contains, for the trigram index; they are extracted
 * conservatively (no literal when unsure), and the fold maps the few
 * characters PCRE2 treats as caseless variants of another lowercase letter
 * (long s, final sigma, ...) to that letter, so that a literal matched
 * caselessly is in the folded path as it is.
 */
#include "fisbot/query.h"

#include <ctype.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>
#include <wctype.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/clock.h"
#include "fisbot/alloc.h"
#include "fisbot/text.h"
#include "fisbot/units.h"

/* Put before every pattern: a callout at the start of each attempt. */
#define REGEX_PREFIX     "(?C)"
#define REGEX_PREFIX_LEN (sizeof(REGEX_PREFIX) - 1)

/*
 * Limits of one match. PCRE2 counts the match limit per start position;
 * JIT code is faster per step, so it gets a higher limit. Both were chosen
 * with tests/bench/bench_regex.c: every hostile pattern there stops within
 * about 5 ms a path of 4 KiB, and no typical search hits a limit.
 */
#define REGEX_NEST            32    /* parentheses nesting */
#define REGEX_MATCH_LIMIT_JIT 10000 /* backtracking steps per attempt */
#define REGEX_MATCH_LIMIT     5000  /* the same, in the interpreter */
#define REGEX_DEPTH_LIMIT     10000 /* interpreter's backtracking depth */
#define REGEX_HEAP_LIMIT_KIB  8192  /* interpreter's backtracking memory */
#define REGEX_JIT_STACK_START 32768 /* JIT stack, first and most bytes */
#define REGEX_JIT_STACK_MAX   1048576
#define REGEX_MARK_MS         1 /* a match this slow starts CPU timing */

/* What one compile or one thread's matching may allocate (tests lower it). */
static size_t regex_memory = QUERY_REGEX_MEMORY;

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

/*
 * Returns the lowercase letter that PCRE2's caseless matching treats lowercase
 * letter c as a variant of, or c. These are the members of Unicode's
 * caseless sets of three or more letters that towlower leaves alone (found
 * by comparing PCRE2 10.42 with glibc's towlower over every code point):
 * without this, /song/ would match "ſong" whose folded form does not
 * contain the literal "song".
 */
static wint_t fold_variant(wint_t c)
{
	static const struct {
		wint_t from, to;
	} variants[] = {
	    {0x00b5, 0x03bc}, /* micro sign: mu */
	    {0x017f, 0x0073}, /* long s: s */
	    {0x0345, 0x03b9}, /* ypogegrammeni: iota */
	    {0x03c2, 0x03c3}, /* final sigma: sigma */
	    {0x03d0, 0x03b2}, /* beta symbol */
	    {0x03d1, 0x03b8}, /* theta symbol */
	    {0x03d5, 0x03c6}, /* phi symbol */
	    {0x03d6, 0x03c0}, /* pi symbol */
	    {0x03f0, 0x03ba}, /* kappa symbol */
	    {0x03f1, 0x03c1}, /* rho symbol */
	    {0x03f5, 0x03b5}, /* lunate epsilon */
	    {0x1c80, 0x0432}, /* Cyrillic small letters rounded ve... */
	    {0x1c81, 0x0434}, {0x1c82, 0x043e},
	    {0x1c83, 0x0441}, {0x1c84, 0x0442},
	    {0x1c85, 0x0442}, {0x1c86, 0x044a},
	    {0x1c87, 0x0463}, {0x1c88, 0xa64b},
	    {0x1e9b, 0x1e61}, /* long s with dot above */
	    {0x1fbe, 0x03b9}, /* prosgegrammeni: iota */
	};
	size_t lo = 0, hi = sizeof(variants) / sizeof(variants[0]);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (variants[mid].from == c)
			return variants[mid].to;
		if (variants[mid].from < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return c;
}

/* Returns a lowercased copy of the NUL-terminated string s. Valid UTF-8 is
 * lowercased character by character (and caseless variants folded,
 * fold_variant); any other byte is kept as it is. */
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
		m = wcrtomb(out + o,
		            (wchar_t)fold_variant(towlower((wint_t)wc)), &st);
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

/* --- PCRE2: memory, compiling, matching -------------------------------- */

/* Memory PCRE2 may hold: what one compile or one thread's matching has
 * allocated, refused past limit. */
struct budget {
	size_t used, peak, limit;
	bool refused; /* an allocation was refused */
};

/* The header of a block from budget_malloc: its size, aligned. */
union budget_block {
	size_t size;
	max_align_t align;
};

/* PCRE2's malloc: n bytes counted against the budget at arg. */
static void *budget_malloc(size_t n, void *arg)
{
	struct budget *b = arg;
	union budget_block *p;

	if (n > b->limit - b->used ||
	    n > SIZE_MAX - sizeof(union budget_block)) {
		b->refused = true;
		return NULL;
	}
	p = malloc(sizeof(*p) + n);
	if (p == NULL)
		return NULL;
	p->size = n;
	b->used += n;
	if (b->used > b->peak)
		b->peak = b->used;
	return p + 1;
}

/* PCRE2's free: gives the block at ptr back to the budget at arg. */
static void budget_free(void *ptr, void *arg)
{
	struct budget *b = arg;
	union budget_block *p;

	if (ptr == NULL)
		return;
	p = (union budget_block *)ptr - 1;
	b->used -= p->size;
	free(p);
}

/* A compiled glob or regex (query_term.compiled). The budget outlives the
 * code, which frees itself through it. */
struct query_regex {
	pcre2_code *code;
	struct budget budget;
	bool jit; /* JIT-compiled */
};

/* Frees a compiled regex (NULL is fine). */
static void regex_free(struct query_regex *rx)
{
	if (rx == NULL)
		return;
	pcre2_code_free(rx->code);
	free(rx);
}

/* Sets *cause for PCRE2 compile error rc at offset off of the pattern (the
 * prefix included); what is "glob" or "regex". */
static void compile_error(int rc, size_t off, const struct budget *b,
                          const char *what, char **cause)
{
	PCRE2_UCHAR msg[160];

	if (b->refused || rc == PCRE2_ERROR_HEAP_FAILED) {
		*cause = xasprintf("%s too complex (compiling it needs more "
		                   "than %zu KiB)",
		                   what, b->limit >> 10);
		return;
	}
	if (rc == PCRE2_ERROR_PATTERN_TOO_LARGE ||
	    rc == PCRE2_ERROR_PATTERN_TOO_COMPLICATED) {
		*cause = xasprintf("%s too complex (its compiled form is too "
		                   "large)",
		                   what);
		return;
	}
	if (rc == PCRE2_ERROR_PARENTHESES_NEST_TOO_DEEP) {
		*cause = xasprintf("%s too complex (parentheses nested more "
		                   "than %d deep)",
		                   what, REGEX_NEST);
		return;
	}
	if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
		snprintf((char *)msg, sizeof(msg), "error %d", rc);
	if (strcmp(what, "regex") == 0 && off >= REGEX_PREFIX_LEN)
		*cause = xasprintf("bad regex: %s (at offset %zu)", (char *)msg,
		                   off - REGEX_PREFIX_LEN);
	else
		*cause = xasprintf("bad %s: %s", what, (char *)msg);
}

/*
 * Compiles pattern (at most max bytes; what is "glob" or "regex", for
 * messages) caselessly in UTF mode, with the limits of the design note,
 * then JIT-compiles it if it can. Returns a new regex, or NULL with *cause.
 */
static struct query_regex *regex_compile(const char *pattern, size_t max,
                                         const char *what, char **cause)
{
	struct query_regex *rx = xcalloc(1, sizeof(*rx));
	pcre2_general_context *gen = NULL;
	pcre2_compile_context *cc = NULL;
	char *full = xasprintf(REGEX_PREFIX "%s", pattern);
	PCRE2_SIZE off = 0;
	int rc = 0;

	rx->budget.limit = regex_memory;
	gen = pcre2_general_context_create(budget_malloc, budget_free,
	                                   &rx->budget);
	if (gen != NULL)
		cc = pcre2_compile_context_create(gen);
	if (cc == NULL) {
		*cause = xasprintf("%s: out of memory", what);
		goto fail;
	}
	pcre2_set_max_pattern_length(cc, REGEX_PREFIX_LEN + max);
	pcre2_set_parens_nest_limit(cc, REGEX_NEST);
	rx->code =
	    pcre2_compile((PCRE2_SPTR)full, PCRE2_ZERO_TERMINATED,
	                  PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_CASELESS |
	                      PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C,
	                  &rc, &off, cc);
	if (rx->code == NULL) {
		compile_error(rc, off, &rx->budget, what, cause);
		goto fail;
	}
	/* Without JIT (not built in, no executable memory, or over the
	 * budget), the interpreter runs with a lower match limit. */
	rx->jit = pcre2_jit_compile(rx->code, PCRE2_JIT_COMPLETE) == 0;
	pcre2_compile_context_free(cc);
	pcre2_general_context_free(gen);
	free(full);
	return rx;
fail:
	pcre2_compile_context_free(cc);
	pcre2_general_context_free(gen);
	regex_free(rx);
	free(full);
	return NULL;
}

/* What one thread needs to match: contexts, match data and a JIT stack,
 * and the clock of the running match (see regex_callout). */
struct matcher {
	struct budget budget;
	pcre2_general_context *gen;
	pcre2_match_context *ctx;
	pcre2_jit_stack *stack;
	pcre2_match_data *data;
	int stage;    /* 0: no attempt yet; 1: timed; 2: CPU timed */
	int64_t next; /* monotonic ns of the next look at the clocks */
	int64_t cpu0; /* thread CPU ns at the start of stage 2 */
};

static pthread_once_t matcher_once = PTHREAD_ONCE_INIT;
static pthread_key_t matcher_key;
static bool matcher_key_ok;

/* Frees a thread's matcher (at thread exit). */
static void matcher_free(void *arg)
{
	struct matcher *m = arg;

	if (m == NULL)
		return;
	pcre2_match_data_free(m->data);
	pcre2_jit_stack_free(m->stack);
	pcre2_match_context_free(m->ctx);
	pcre2_general_context_free(m->gen);
	free(m);
}

/* Creates the key of the per-thread matchers, once. */
static void matcher_init(void)
{
	matcher_key_ok = pthread_key_create(&matcher_key, matcher_free) == 0;
}

/*
 * The callout at the start of every attempt: ends the match (with
 * PCRE2_ERROR_CALLOUT) once it has used QUERY_MATCH_MS of CPU time.
 * Reading the thread's CPU clock is a system call, so the cheap monotonic
 * clock is read at every attempt and the CPU clock only in a slow match:
 * after REGEX_MARK_MS (stage 1 -> 2, which starts counting CPU time), then
 * whenever the remaining CPU time could have run out. Time spent
 * descheduled (a loaded machine) does not count.
 */
static int regex_callout(pcre2_callout_block *block, void *arg)
{
	struct matcher *m = arg;
	int64_t now = clock_now_ns(), used;

	if (m->stage == 0) {
		m->stage = 1;
		m->next = now + REGEX_MARK_MS * 1000000;
		return 0;
	}
	if (now < m->next)
		return 0;
	if (m->stage == 1) {
		m->stage = 2;
		m->cpu0 = clock_thread_cpu_ns();
		m->next = now + (QUERY_MATCH_MS - REGEX_MARK_MS) * 1000000;
		return 0;
	}
	used = clock_thread_cpu_ns() - m->cpu0;
	if (used >= (QUERY_MATCH_MS - REGEX_MARK_MS) * 1000000)
		return PCRE2_ERROR_CALLOUT;
	m->next = now + (QUERY_MATCH_MS - REGEX_MARK_MS) * 1000000 - used;
	return 0;
}

/* Returns this thread's matcher, made on first use, or NULL if PCRE2
 * could not allocate it. */
static struct matcher *matcher_get(void)
{
	struct matcher *m;

	pthread_once(&matcher_once, matcher_init);
	if (!matcher_key_ok)
		return NULL;
	m = pthread_getspecific(matcher_key);
	if (m != NULL)
		return m;
	m = xcalloc(1, sizeof(*m));
	m->budget.limit = regex_memory;
	m->gen = pcre2_general_context_create(budget_malloc, budget_free,
	                                      &m->budget);
	if (m->gen == NULL)
		goto fail;
	m->ctx = pcre2_match_context_create(m->gen);
	m->stack = pcre2_jit_stack_create(REGEX_JIT_STACK_START,
	                                  REGEX_JIT_STACK_MAX, m->gen);
	m->data = pcre2_match_data_create(1, m->gen);
	if (m->ctx == NULL || m->data == NULL)
		goto fail;
	/* Without a JIT stack of its own, JIT uses 32 KiB of the thread's
	 * stack: still bounded. */
	if (m->stack != NULL)
		pcre2_jit_stack_assign(m->ctx, NULL, m->stack);
	pcre2_set_depth_limit(m->ctx, REGEX_DEPTH_LIMIT);
	pcre2_set_heap_limit(m->ctx, REGEX_HEAP_LIMIT_KIB);
	pcre2_set_callout(m->ctx, regex_callout, m);
	if (pthread_setspecific(matcher_key, m) != 0)
		goto fail;
	return m;
fail:
	matcher_free(m);
	return NULL;
}

/* Matches rx against the len bytes at s: 1 if it matches, 0 if not, -1 if
 * a limit stopped it. */
static int regex_match(const struct query_regex *rx, const char *s, size_t len)
{
	struct matcher *m = matcher_get();
	int rc;

	if (m == NULL)
		return -1;
	pcre2_set_match_limit(m->ctx, rx->jit ? REGEX_MATCH_LIMIT_JIT
	                                      : REGEX_MATCH_LIMIT);
	m->stage = 0;
	rc = pcre2_match(rx->code, (PCRE2_SPTR)s, len, 0, 0, m->data, m->ctx);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	/* PCRE2_ERROR_MATCHLIMIT, _DEPTHLIMIT, _HEAPLIMIT, _NOMEMORY,
	 * _JIT_STACKLIMIT, _CALLOUT (the time limit), or anything else. */
	return -1;
}

/* --- globs and literals ------------------------------------------------- */

static size_t bracket_end(const char *s, size_t len, size_t i);

/* Returns the length of the POSIX class "[:name:]" (name in lowercase
 * letters, '^' first allowed) at s[i] == '[' before end, or 0. */
static size_t posix_name(const char *s, size_t end, size_t i)
{
	size_t k = i + 2;

	if (k < end && s[k] == '^')
		k++;
	while (k < end && s[k] >= 'a' && s[k] <= 'z')
		k++;
	if (k + 1 < end && k > i + 2 && s[k] == ':' && s[k + 1] == ']')
		return k + 2 - i;
	return 0;
}

/*
 * Translates a (folded) glob into an anchored PCRE2 pattern: * is any run
 * of characters, ? one character, [...] and [!...] a set ([:class:] inside
 * one is kept; any other character in it is literal, backslash included),
 * \c the character c; an unterminated [ is a literal. Every ASCII character
 * that is not a letter or digit is escaped. The caller frees the result.
 */
static char *glob_to_regex(const char *glob)
{
	size_t len = strlen(glob), o = 0;
	char *out = xmalloc(len * 2 + 8);

	out[o++] = '^';
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)glob[i];

		if (ch == '*') {
			out[o++] = '.';
			out[o++] = '*';
		} else if (ch == '?') {
			out[o++] = '.';
		} else if (ch == '[') {
			size_t end = bracket_end(glob, len, i), j = i + 1;

			if (end == len) { /* no closing ']': a literal '[' */
				out[o++] = '\\';
				out[o++] = '[';
				continue;
			}
			out[o++] = '[';
			if (glob[j] == '!' || glob[j] == '^') {
				out[o++] = '^';
				j++;
			}
			for (size_t first = j; j < end; j++) {
				unsigned char c = (unsigned char)glob[j];

				if (c == '[' && j + 1 < end &&
				    glob[j + 1] == ':') {
					size_t n = posix_name(glob, end, j);

					if (n > 0) {
						memcpy(out + o, glob + j, n);
						o += n;
						j += n - 1;
						continue;
					}
				}
				if (c < 0x80 && !isalnum(c) &&
				    !(c == '-' && j != first && j + 1 < end))
					out[o++] = '\\';
				out[o++] = (char)c;
			}
			out[o++] = ']';
			i = end;
		} else {
			if (ch == '\\' && i + 1 < len)
				ch = (unsigned char)glob[++i];
			if (ch < 0x80 && !isalnum(ch))
				out[o++] = '\\';
			out[o++] = (char)ch;
		}
	}
	out[o++] = '\\';
	out[o++] = 'z';
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

/* Returns the index of the ']' that ends the glob set starting at
 * s[i] == '[' (a ']' first in the set and [:class:], [.x.], [=x=] are part
 * of it), or len if it does not end. */
static size_t bracket_end(const char *s, size_t len, size_t i)
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
	return j < len ? j : len;
}

/* Returns the index just past the glob set that starts at s[i] == '[', or
 * len if it does not end. */
static size_t skip_bracket(const char *s, size_t len, size_t i)
{
	size_t end = bracket_end(s, len, i);

	return end < len ? end + 1 : len;
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
 * Returns the length of the PCRE2 escape at re[i] == '\\' (in a pattern
 * that compiled): \x{..} \o{..} \N{..} \p{..} \P{..} \g{..} \k{..} and
 * \g<..> \g'..' \k<..> \k'..' to their closing delimiter, \xhh, \pL,
 * \cX, \g-1, back-references and octal numbers with all their digits,
 * a non-ASCII character whole, anything else two bytes. It must not run
 * past the escape, or a '|' or '(' after it would go unseen.
 */
static size_t escape_len(const char *re, size_t len, size_t i)
{
	size_t j = i + 1;
	char c, close = '\0';

	if (j >= len)
		return 1;
	c = re[j++];
	if (j < len && re[j] == '{' && strchr("xoNpPgk", c) != NULL)
		close = '}';
	else if (j < len && re[j] == '<' && (c == 'g' || c == 'k'))
		close = '>';
	else if (j < len && re[j] == '\'' && (c == 'g' || c == 'k'))
		close = '\'';
	if (close != '\0') {
		const char *e = memchr(re + j + 1, close, len - j - 1);

		return e != NULL ? (size_t)(e - re) + 1 - i : j - i;
	}
	if (c == 'x') {
		while (j < len && j < i + 4 && isxdigit((unsigned char)re[j]))
			j++;
	} else if ((c == 'p' || c == 'P' || c == 'c') && j < len) {
		j++;
	} else if (c == 'g' || isdigit((unsigned char)c)) {
		if (c == 'g' && j < len && (re[j] == '-' || re[j] == '+'))
			j++;
		while (j < len && isdigit((unsigned char)re[j]))
			j++;
	} else if ((unsigned char)c >= 0x80) {
		while (j < len && ((unsigned char)re[j] & 0xc0) == 0x80)
			j++;
	}
	return j - i;
}

/* Returns the index of the ']' that ends the POSIX class "[:name:]" at
 * re[i] == '[' (re[i + 1] == ':') in a PCRE2 class, or 0 if it is not one
 * (then the '[' is a plain member), as PCRE2 decides it. */
static size_t posix_class_end(const char *re, size_t len, size_t i)
{
	for (size_t k = i + 2; k + 1 < len; k++) {
		if (re[k] == '\\' && (re[k + 1] == ']' || re[k + 1] == '\\'))
			k++;
		else if ((re[k] == '[' && re[k + 1] == ':') || re[k] == ']')
			return 0;
		else if (re[k] == ':' && re[k + 1] == ']')
			return k + 1;
	}
	return 0;
}

/* Returns the index just past the PCRE2 character class that starts at
 * re[i] == '[' (a ']' first is a member, escapes and [:class:] are
 * members), or len if it does not end. */
static size_t class_end(const char *re, size_t len, size_t i)
{
	size_t j = i + 1;

	if (j < len && re[j] == '^')
		j++;
	if (j < len && re[j] == ']')
		j++;
	while (j < len && re[j] != ']') {
		if (re[j] == '\\') {
			j += escape_len(re, len, j);
		} else if (re[j] == '[' && j + 1 < len && re[j + 1] == ':' &&
		           posix_class_end(re, len, j) != 0) {
			j = posix_class_end(re, len, j) + 1;
		} else {
			j++;
		}
	}
	return j < len ? j + 1 : len;
}

/* Returns true if regex re uses syntax whose effect on literals
 * regex_literals does not follow: verbs such as (*ACCEPT), option settings
 * such as (?x) (where spaces are not literals), comments (?#...), callouts,
 * conditions and subroutine calls (any "(?" but (?: (?= (?! (?< (?> (?|),
 * and \Q...\E quoting. */
static bool regex_opaque(const char *re, size_t len)
{
	if (strstr(re, "\\Q") != NULL) /* anywhere, classes included */
		return true;
	for (size_t i = 0; i < len; i++) {
		if (re[i] == '\\') {
			if (i + 1 < len &&
			    (re[i + 1] == 'Q' || re[i + 1] == 'E'))
				return true;
			i += escape_len(re, len, i) - 1;
		} else if (re[i] == '[') {
			i = class_end(re, len, i) - 1;
		} else if (re[i] == '(' && i + 1 < len && re[i + 1] == '*') {
			return true;
		} else if (re[i] == '(' && i + 1 < len && re[i + 1] == '?' &&
		           (i + 2 >= len ||
		            strchr(":=!<>|", re[i + 2]) == NULL)) {
			return true;
		}
	}
	return false;
}

/* Returns the length of the counted repetition ("{2}", "{2,}", "{2,5}",
 * also "{,5}" and spaces, which newer PCRE2 versions accept) at
 * re[i] == '{', or 0 if that '{' is a literal. */
static size_t counted_len(const char *re, size_t len, size_t i)
{
	bool digit = false, comma = false;

	for (size_t j = i + 1; j < len; j++) {
		if (isdigit((unsigned char)re[j]))
			digit = true;
		else if (re[j] == ',' && !comma)
			comma = true;
		else if (re[j] == '}')
			return digit ? j + 1 - i : 0;
		else if (re[j] != ' ')
			return 0;
	}
	return 0;
}

/*
 * Finds runs of characters that every match of a PCRE2 regex contains:
 * consecutive literal characters at the top level, minus a character made
 * optional by *, ? or {. Groups, classes and escapes that are not literals
 * break runs; a top-level '|', or syntax that regex_opaque reports, means
 * nothing is certain.
 */
static void regex_literals(struct query_term *t, const char *re)
{
	size_t len = strlen(re), i, n = 0, quant;
	char *run;
	int depth = 0;

	if (regex_opaque(re, len))
		return;
	/* A '|' outside groups and classes: no literal is certain. */
	for (i = 0; i < len; i++) {
		if (re[i] == '\\')
			i += escape_len(re, len, i) - 1;
		else if (re[i] == '[')
			i = class_end(re, len, i) - 1;
		else if (re[i] == '(')
			depth++;
		else if (re[i] == ')')
			depth--;
		else if (re[i] == '|' && depth <= 0)
			return;
	}
	run = xmalloc(len + 1);
	for (i = 0; i < len;) {
		unsigned char ch = (unsigned char)re[i];

		if (ch == '\\' && i + 1 < len &&
		    (unsigned char)re[i + 1] < 0x80 &&
		    !isalnum((unsigned char)re[i + 1])) {
			/* An escaped ASCII punctuation or space: a literal. */
			run[n++] = re[i + 1];
			i += 2;
			continue;
		}
		quant = ch == '{' ? counted_len(re, len, i) : 0;
		if (ch == '*' || ch == '?' || quant > 0) {
			/* The last character may be repeated 0 times: drop
			 * it (all of its UTF-8 sequence). */
			while (n > 0 &&
			       ((unsigned char)run[n - 1] & 0xc0) == 0x80)
				n--;
			if (n > 0)
				n--;
		}
		if (strchr("\\[(.^$*?{+)|", ch) == NULL) {
			run[n++] = (char)ch;
			i++;
			continue;
		}
		add_must(t, run, n);
		n = 0;
		if (ch == '\\') {
			i += escape_len(re, len, i); /* \w, \x{41}...: not a
			                              * literal */
		} else if (ch == '[') {
			i = class_end(re, len, i);
		} else if (ch == '(') {
			for (depth = 0; i < len; i++) {
				if (re[i] == '\\')
					i += escape_len(re, len, i) - 1;
				else if (re[i] == '[')
					i = class_end(re, len, i) - 1;
				else if (re[i] == '(')
					depth++;
				else if (re[i] == ')' && --depth == 0)
					break;
			}
			i++;
		} else if (quant > 0) {
			i += quant;
		} else {
			/* Also a '{' that is not a repetition: a literal,
			 * left out (to be safe). */
			i++;
		}
	}
	add_must(t, run, n);
	free(run);
}

void query_set_regex_memory(size_t bytes)
{
	regex_memory = bytes;
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
		regex_free(q->terms[i].compiled);
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
		t.compiled = regex_compile(re, strlen(re), "glob", cause);
		free(re);
		if (t.compiled == NULL) {
			free(t.text);
			return -1;
		}
		glob_literals(&t, t.text);
		break;
	}
	case QUERY_REGEX:
		if (text[0] == '(' && text[1] == '*') {
			/* Only the bot sets limits and options. */
			*cause = xstrdup("bad regex: settings such as "
			                 "(*NO_JIT) at the start are not "
			                 "supported");
			return -1;
		}
		t.compiled =
		    regex_compile(text, QUERY_MAX_REGEX, "regex", cause);
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

/* Sets the description filter of q to text (the n bytes after "desc:",
 * word being what was written, for the messages). Returns 0, or -1. */
static int parse_desc(struct query *q, const char *text, size_t n,
                      const char *word, char **cause)
{
	char *value;

	if (n == 0) {
		bad_input(cause, "empty description in \"", word, strlen(word),
		          "\" (e.g. desc:live)");
		return -1;
	}
	if (q->desc != NULL) {
		*cause = xstrdup("only one desc: filter per search");
		return -1;
	}
	if (n > QUERY_MAX_TERM) {
		*cause = xasprintf("desc: too long (at most %d bytes)",
		                   QUERY_MAX_TERM);
		return -1;
	}
	value = xstrndup(text, n);
	query_set_desc(q, value);
	free(value);
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
		} else if (end - p >= 6 && strncasecmp(p, "desc:\"", 6) == 0) {
			/* desc:"a phrase" */
			start = p + 6;
			stop = memchr(start, '"', (size_t)(end - start));
			if (stop == NULL) {
				*cause = xstrdup("unterminated quote");
				goto fail;
			}
			word = xstrndup(p, (size_t)(stop + 1 - p));
			rc = parse_desc(q, start, (size_t)(stop - start), word,
			                cause);
			p = stop + 1;
		} else {
			start = p;
			while (p < end && !is_space(*p))
				p++;
			word = xstrndup(start, (size_t)(p - start));
			if (strncasecmp(word, "desc:", 5) == 0)
				rc = parse_desc(q, word + 5, strlen(word + 5),
				                word, cause);
			else if (strncasecmp(word, "size:", 5) == 0)
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

int query_match(const struct query_term *t, const char *folded_path)
{
	const char *subject = folded_path;

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
		return 0;
	}
	return regex_match(t->compiled, subject, strlen(subject));
}

bool query_term_jit(const struct query_term *t)
{
	const struct query_regex *rx = t->compiled;

	return rx != NULL && rx->jit;
}

bool query_match_term(const struct query_term *t, const char *folded_path)
{
	return query_match(t, folded_path) == 1;
}
