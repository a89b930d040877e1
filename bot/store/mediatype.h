/*
 * Media types: a fixed table of common extensions, then the first bytes of
 * a few common formats and of text (both cheap: the hash pool asks them for
 * every file), then libmagic (0.15-1.6 ms a file, more than hashing a small
 * one: asked later, by the indexer's background pass and by `info`, for the
 * files the first two do not tell).
 */
#ifndef FISBOT_MEDIATYPE_H
#define FISBOT_MEDIATYPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* How many first bytes libmagic is shown (it slows down with more). */
#define MEDIATYPE_MAGIC_BYTES (4 * 1024)

/* A libmagic handle (one per thread: libmagic handles are not shared). */
struct mediatype_magic;

/* Opens a handle with libmagic's costly tests off and its database
 * loaded, or returns NULL if libmagic cannot start (logged the first
 * time only). */
struct mediatype_magic *mediatype_magic_open(void);

/* Closes m (NULL is allowed). */
void mediatype_magic_close(struct mediatype_magic *m);

/* Returns the media type of the first n bytes at data (n at most
 * MEDIATYPE_MAGIC_BYTES): mediatype_sniff's, else libmagic's through m
 * (which may be NULL), else "application/octet-stream". The result lives
 * until the next call with m. */
const char *mediatype_of_bytes(struct mediatype_magic *m, const void *data,
                               size_t n);

/* Reads the first MEDIATYPE_MAGIC_BYTES (or fewer) of the regular file
 * path beneath the folder rootfd (never through a link) into buf, if it
 * is still size bytes modified at mtime_ns. Returns how many, or -1. */
ssize_t mediatype_head(int rootfd, const char *path, uint64_t size,
                       int64_t mtime_ns, void *buf);

/* Returns the media type of the regular file path beneath the folder
 * root (never through a link), by its name or else its first bytes, as an
 * allocated string; or NULL if it cannot be read or is no longer size
 * bytes modified at mtime_ns. Any thread may call it: the libmagic handle
 * it needs is shared, behind a lock. */
char *mediatype_of_file(const char *root, const char *path, uint64_t size,
                        int64_t mtime_ns);

/* The table, for tests: entry i (i < count) as *ext and *type. Returns the
 * number of entries. */
size_t mediatype_table(size_t i, const char **ext, const char **type);

#endif
