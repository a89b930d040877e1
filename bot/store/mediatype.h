/*
 * Media types from file names: a fixed table of common extensions, then
 * the first bytes of a few common formats and of text, so that the hash
 * pool needs libmagic only for the files neither tells.
 */
#ifndef FISBOT_MEDIATYPE_H
#define FISBOT_MEDIATYPE_H

#include <stddef.h>

/* Returns the media type for the extension of name (the part after its
 * last '.', compared case-insensitively; a name may include folders), or
 * NULL if the extension is unknown or there is none ("README", ".bashrc",
 * "name."). */
const char *mediatype_from_name(const char *name);

/* Returns the media type of a file whose first n bytes (up to a few KiB)
 * are at data, if they show one of a few common formats (PNG, JPEG, PDF,
 * zip, Ogg, MP3 with ID3...) or plain text (valid UTF-8 without control
 * characters), "application/x-empty" for an empty file; or NULL when only
 * libmagic can tell (scripts and markup included). */
const char *mediatype_sniff(const void *data, size_t n);

/* The table, for tests: entry i (i < count) as *ext and *type. Returns the
 * number of entries. */
size_t mediatype_table(size_t i, const char **ext, const char **type);

#endif
