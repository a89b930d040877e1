/*
 * The output format of the chat commands, shared by the command
 * plugins (browse, search, stats, announce) and compiled into each of them:
 *
 *   #42 music/live/song.ogg (3.0 MiB)      a file
 *   music/live/encores/                    a folder
 *   page 1/3 · 27 results · say !more for the next 10
 *
 * Every path goes through text_sanitize(). The functions here hold no state
 * and need no host, so the unit tests call them directly.
 */
#ifndef FISBOT_LISTING_H
#define FISBOT_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

/* Returns "#ID path (size)" for f; the caller frees it. */
char *listing_file(const struct cat_file *f);

/* Returns "path/" for the folder dir (no trailing '/'); the caller frees
 * it. */
char *listing_dir(const char *dir);

/* Where one page of a listing sits in the whole. */
struct listing_page {
	uint64_t offset;    /* index of the page's first item */
	size_t shown;       /* items on this page */
	uint64_t total;     /* items in all */
	bool capped;        /* total is a lower bound ("1000+ results") */
	unsigned page_size; /* items per page (at least 1) */
};

/* Returns true if items remain after this page. */
bool listing_has_more(const struct listing_page *pg);

/* Returns the number of items the next page will show (0 if none). */
uint64_t listing_next_count(const struct listing_page *pg);

/* Returns the footer of a page: "page 1/3 · 27 results · say !more for the
 * next 10", or "page 3/3 · 27 results" on the last page, "page 2 · 1000+
 * results · ..." when the total is capped. prefix is the command prefix.
 * The caller frees it. */
char *listing_footer(const struct listing_page *pg, const char *prefix);

/*
 * Returns the one DIR argument of a command, newly allocated: the only
 * argument if there is one (quotes already removed by the host), else the
 * raw argument text with surrounding white space trimmed (so "list my
 * music" works without quotes), or "" if there is none. (A file argument,
 * ID|PATH, is the dispatcher's: FB_ARG_FILE.)
 */
char *listing_arg(int argc, char **argv, const char *raw);

/* Returns dir as a catalogue folder: no leading or trailing '/', "" for the
 * root ("", "/" and "." alike). The caller frees it. */
char *listing_folder(const char *dir);

/* Writes "YYYY-MM-DDTHH:MM:SSZ" for unix time t into buf (at least
 * LISTING_DATE_LEN bytes) and returns buf. */
#define LISTING_DATE_LEN 32
char *listing_date(int64_t t, char *buf);

/* The answer of a search or listing that found nothing while the first
 * build of an empty catalogue runs, with files catalogued so far: "still
 * indexing: 12,345 files so far" (caller frees). */
char *listing_indexing(uint64_t files);

/* Writes an uptime such as "3d 4h 5m", "4h 0m", "5m 12s" or "12s" for
 * secs seconds into buf (at least LISTING_DURATION_LEN bytes); returns
 * buf. */
#define LISTING_DURATION_LEN 48
char *listing_duration(uint64_t secs, char *buf);

/* Appends s to the growing string *buf (length *len), reallocating. */
void listing_append(char **buf, size_t *len, const char *s);

#endif
