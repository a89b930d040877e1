/*
 * Media types from file names: a fixed table of common extensions, so that
 * the hash pool needs libmagic only for the files it does not know.
 */
#ifndef FISBOT_MEDIATYPE_H
#define FISBOT_MEDIATYPE_H

#include <stddef.h>

/* Returns the media type for the extension of name (the part after its
 * last '.', compared case-insensitively; a name may include folders), or
 * NULL if the extension is unknown or there is none ("README", ".bashrc",
 * "name."). */
const char *mediatype_from_name(const char *name);

/* The table, for tests: entry i (i < count) as *ext and *type. Returns the
 * number of entries. */
size_t mediatype_table(size_t i, const char **ext, const char **type);

#endif
