/*
 * The search syntax (SPEC §6), parsed once here and used by the CLI, the chat
 * commands and the XMPP search form:
 *
 *   word            substring of the path, case-insensitive
 *   "a phrase"      substring with spaces
 *   *.png song?.ogg glob on the file name (case-insensitive)
 *   /regex/         POSIX extended regex on the path (bounded length)
 *   size:>100M size:<1K size:>=1G size:<=10K
 *   type:audio      media type ("audio" = any audio/ type, "audio/ogg" exact)
 *   new:7d          added within the duration
 *
 * A file matches when it matches every term and every filter.
 */
#ifndef FISBOT_QUERY_H
#define FISBOT_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUERY_MAX_LENGTH 1024 /* bytes of query text */
#define QUERY_MAX_TERMS  16
#define QUERY_MAX_REGEX  256 /* bytes of one regex */

enum query_term_kind { QUERY_SUBSTRING, QUERY_GLOB, QUERY_REGEX };

struct query_term {
	enum query_term_kind kind;
	char *text; /* substring: lowercased UTF-8; glob/regex: as written */
};

struct query {
	struct query_term *terms;
	size_t n_terms;
	uint64_t min_size;      /* inclusive; 0 = none */
	uint64_t max_size;      /* inclusive; UINT64_MAX = none */
	char *type;             /* media type or major type; NULL = any */
	uint64_t new_within_ms; /* 0 = any age */
	char *desc;             /* substring of the description; NULL = any */
};

/*
 * Parses text into a new query. Returns NULL and sets *cause (a one-line
 * message for the user, which the caller frees) if text is not a valid
 * query, e.g. an unterminated quote, a bad size or an invalid regex.
 */
struct query *query_parse(const char *text, char **cause);

/* Returns an empty query (matches everything), to be filled by the caller
 * (e.g. from a data form). */
struct query *query_new(void);

/* Appends a term; returns 0, or -1 with *cause if it is invalid. */
int query_add_term(struct query *q, enum query_term_kind kind, const char *text,
                   char **cause);

/* Frees q (NULL is fine). */
void query_free(struct query *q);

/* Returns true if q has no term and no filter. */
bool query_is_empty(const struct query *q);

/* Returns the length in characters of q's longest literal term (the
 * substrings and phrases), for @find's minimum length. */
size_t query_longest_literal(const struct query *q);

/* Returns true if the file with this path (relative to the share), name
 * (its last component), size, media type, description and date added
 * matches q. Used by the catalogue's SQL functions and by tests. */
bool query_match_term(const struct query_term *t, const char *path);

#endif
