/* A growing list of owned strings: configuration lists (rooms, JIDs,
 * globs), problems, anything kept as a few strings. A public header
 * (include/fisbot): plugins may free and search lists. */
#ifndef FISBOT_STRLIST_H
#define FISBOT_STRLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "fisbot_export.h"

/* A list of owned strings; {0} is the empty list. */
struct strlist {
	char **v;
	size_t n;
};

/* Appends a copy of s to l. */
void strlist_add(struct strlist *l, const char *s);
/* Frees the strings of l and empties it. */
FB_EXPORT void strlist_free(struct strlist *l);
/* Returns true if l holds a string equal to s. */
FB_EXPORT bool strlist_contains(const struct strlist *l, const char *s);
/* Returns true if a and b hold the same strings in the same order. */
bool strlist_equal(const struct strlist *a, const struct strlist *b);

#endif
