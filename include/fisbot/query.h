/*
 * The search syntax of `search` and `@find`, parsed once here and used by
 * the CLI, the chat commands and the XMPP search form:
 *
 *   word            substring of the path or of the description,
 *                   case-insensitive
 *   "a phrase"      substring with spaces (it ends at the next ")
 *   *.png song?.ogg glob on the file name, case-insensitive (a word with
 *                   * ? or [ is a glob; [...] [!...] sets, \ escapes)
 *   /regex/         PCRE2 regex on the path, case-insensitive, at most
 *                   QUERY_MAX_REGEX bytes; it ends at a '/' followed by a
 *                   space or the end. Compiling and matching are bounded
 *                   in memory (QUERY_REGEX_MEMORY), steps and CPU time
 *                   (QUERY_MATCH_MS per path): a path on which a limit
 *                   stops the match does not match (query_match says so).
 *   size:>100M size:<1K size:>=1G size:<=10K size:5M (exactly)
 *   type:audio      media type ("audio": any audio/..., "audio/ogg": exact)
 *   new:7d          added within the duration
 *   desc:live desc:"live at home"
 *                   substring of the description, case-insensitive
 *
 * A file matches when it matches every term and every filter. Matching is
 * done on the "folded" path: the path as it is shown (text_sanitize()),
 * lowercased (query_fold). Terms are lowercased but not sanitised: they are
 * typed as shown, so an invalid byte is searched for as "\xff". The
 * description filter (q->desc) is desc: or the XMPP form's field.
 */
#ifndef FISBOT_QUERY_H
#define FISBOT_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fisbot_export.h"

#define QUERY_MAX_LENGTH 1024 /* bytes of query text */
#define QUERY_MAX_TERMS  16   /* terms (substrings, globs, regexes) */
#define QUERY_MAX_TERM   256  /* bytes of one substring or glob */
#define QUERY_MAX_REGEX  256  /* bytes of one regex */
#define QUERY_MAX_TYPE   127  /* bytes of a type: filter */

/* What compiling one regex or glob, and one thread's matching, may
 * allocate; and how much CPU time matching one path may take. */
#define QUERY_REGEX_MEMORY (16u << 20)
#define QUERY_MATCH_MS     5

enum query_term_kind { QUERY_SUBSTRING, QUERY_GLOB, QUERY_REGEX };

struct query_term {
	enum query_term_kind kind;
	/* substring and glob: lowercased; regex: as written */
	char *text;
	/* Private, set by query_add_term: */
	void *compiled; /* the compiled PCRE2 pattern of a glob or regex */
	char **must;    /* lowercased literals of 3 or more characters that */
	size_t n_must;  /* every path a glob or regex matches contains */
};

struct query {
	struct query_term *terms;
	size_t n_terms;
	uint64_t min_size;      /* inclusive; 0 = none */
	uint64_t max_size;      /* inclusive; UINT64_MAX = none */
	char *type;             /* lowercased media type or major type; NULL */
	uint64_t new_within_ms; /* 0 = any age */
	char *desc; /* lowercased substring of the description (query_set_desc);
	             * NULL = any */
};

/*
 * Parses text into a new query (the caller frees it with query_free).
 * Returns NULL and sets *cause (a one-line message for the user, which the
 * caller frees) if text is not a valid query, e.g. `unterminated quote`,
 * `bad size in "size:>10Q"` or an invalid regex. An empty text gives an
 * empty query.
 */
FB_EXPORT struct query *query_parse(const char *text, char **cause);

/* Returns an empty query (matches everything), to be filled by the caller
 * (e.g. from a data form). */
FB_EXPORT struct query *query_new(void);

/* Appends a term written by a user (text as typed, without quotes or
 * slashes); returns 0, or -1 with *cause if it is invalid or too long, or
 * if q already has QUERY_MAX_TERMS terms. An empty substring is ignored. */
FB_EXPORT int query_add_term(struct query *q, enum query_term_kind kind,
                             const char *text, char **cause);

/* Sets the description filter (NULL or "" for none). */
FB_EXPORT void query_set_desc(struct query *q, const char *text);

/* Frees q (NULL is fine). */
FB_EXPORT void query_free(struct query *q);

/* Returns true if q has no term and no filter. */
FB_EXPORT bool query_is_empty(const struct query *q);

/* Returns the length in characters of q's longest literal term (the
 * substrings and phrases), for @find's minimum length. */
FB_EXPORT size_t query_longest_literal(const struct query *q);

/* Returns the folded form of the len bytes at s: text_sanitize()d, then
 * lowercased (Unicode simple case mapping). The caller frees it. */
FB_EXPORT char *query_fold(const char *s, size_t len);

/* Returns 1 if term t matches a file whose folded path (query_fold of the
 * path relative to the share) is folded_path: a substring term must occur
 * in it, a glob must match its last component, a regex must match
 * somewhere in it; 0 if it does not; -1 if a limit (steps, depth, memory or
 * QUERY_MATCH_MS) stopped a glob or regex, which counts as no match. Safe
 * from any thread. The catalogue's SQL functions call this. */
FB_EXPORT int query_match(const struct query_term *t, const char *folded_path);

/* Returns true if glob or regex term t runs JIT-compiled (PCRE2's JIT is
 * used where the platform allows it; otherwise the interpreter runs, with
 * a lower match limit). */
bool query_term_jit(const struct query_term *t);

/* Returns query_match(t, folded_path) == 1. */
FB_EXPORT bool query_match_term(const struct query_term *t,
                                const char *folded_path);

/* Sets what compiling one glob or regex, and the matching of a thread that
 * has not matched yet, may allocate (QUERY_REGEX_MEMORY unless set; for
 * tests and benchmarks, before any search). */
void query_set_regex_memory(size_t bytes);

#endif
