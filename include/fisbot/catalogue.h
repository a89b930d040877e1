/*
 * The catalogue: every file of the share in SQLite, with a stable id that
 * is never reused (kept across restarts and renames). WAL; one writing
 * connection (the indexer's); every other thread opens its own read-only
 * connection.
 *
 * This header is the read API, for everyone. The writer's API (opening for
 * writing, transactions, every change) is catalogue_write.h, included only
 * by the indexer, the reconcile (scan.c) and the catalogue itself, so the
 * single-writer rule shows in the includes: a write from a plugin or the
 * HTTP server does not compile.
 *
 * Functions that look a row up return 1 if found, 0 if not, -1 on a
 * database error (already logged). Strings in the structs below are owned
 * by the struct and freed by its clear function.
 *
 * A public header (include/fisbot): plugins may call the reading functions
 * marked FB_EXPORT, on the connection api->catalogue() gives them; opening
 * and the remembered rooms are the core's (not exported).
 */
#ifndef FISBOT_CATALOGUE_H
#define FISBOT_CATALOGUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "fisbot_export.h"
#include "query.h"

struct catalogue;

struct cat_file {
	int64_t id;
	char *path; /* relative to the share, raw bytes as on disk */
	uint64_t size;
	int64_t mtime_ns; /* modification time, ns since the epoch */
	int64_t ctime_ns; /* status-change time, ns; 0 if unknown */
	uint64_t dev, ino;
	bool hashed;
	unsigned char sha256[32];
	char *media_type;  /* NULL until hashed */
	char *description; /* NULL if none */
	int64_t added;     /* unix seconds */
	uint64_t downloads;
	uint64_t bytes_served;
	char *uploader; /* bare JID of the uploader, or NULL */
};

/* A listing entry: a folder (is_dir, path without the trailing '/') or a
 * file. */
struct cat_entry {
	bool is_dir;
	char *dir_path;
	struct cat_file file;
};

/* A search counts its matches up to this many; past it, total is this
 * number and total_capped is set ("200+ results"). Counting costs in
 * proportion to the cap, so this keeps a search of a common word on a large
 * catalogue within a few milliseconds (tests/bench/bench_search.c). */
#define CATALOGUE_COUNT_CAP 200

/* A search stops with an error after this long (by default; see
 * catalogue_set_search_limit). */
#define CATALOGUE_SEARCH_MS 2000

/* One page of a listing or a search, and the total number of matches. */
struct cat_page {
	struct cat_entry *v;
	size_t n;
	uint64_t total;
	bool total_capped;  /* search: at least total matches */
	bool regex_limited; /* search: a glob or regex hit a limit on some
	                     * paths, which did not match (query_match) */
};

struct cat_stats {
	uint64_t files, folders, total_size, downloads, bytes_served;
};

FB_EXPORT void cat_file_clear(struct cat_file *f);
FB_EXPORT void cat_page_clear(struct cat_page *p);

/*
 * Opens the existing catalogue at path for reading (the writer opens with
 * catalogue_open_writer). A file
 * that is not a fisbot catalogue is refused. Returns NULL and sets *cause
 * (caller frees) on failure.
 */
struct catalogue *catalogue_open(const char *path, char **cause);
void catalogue_close(struct catalogue *c);

/* --- reading ---------------------------------------------------------- */

FB_EXPORT int catalogue_get(struct catalogue *c, int64_t id,
                            struct cat_file *out);
FB_EXPORT int catalogue_get_by_path(struct catalogue *c, const char *path,
                                    struct cat_file *out);
/* Looks up "42", "#42" or a path relative to the share. */
FB_EXPORT int catalogue_resolve(struct catalogue *c, const char *id_or_path,
                                struct cat_file *out);
/*
 * Appends to out the details of f that `info` shows, in the chat and on the
 * command line, one line each, every name and text sanitised:
 *
 *   name: song.ogg
 *   path: music/live/song.ogg
 *   size: 3.0 MiB (3145728 bytes)
 *   modified: 2024-04-30T09:00:00Z     (the file's modification time)
 *   added: 2024-05-01T12:00:00Z        (when it entered the catalogue)
 *   sha-256: 0a1b...                   (or "(not computed yet)")
 *   type: audio/ogg                    (or "(unknown)")
 *   description: Live at home          (or "(none)")
 *   downloads: 3
 */
FB_EXPORT void catalogue_info_lines(const struct cat_file *f,
                                    struct strlist *out);
/* Returns 1 if dir ("" for the root, no trailing '/') is a folder of the
 * catalogue. */
FB_EXPORT int catalogue_is_dir(struct catalogue *c, const char *dir);
/* A page of dir: its folders first (by name), then its files (by name,
 * hashed or not); total counts both. Returns 1, 0 if dir does not exist, -1
 * on error. */
FB_EXPORT int catalogue_list(struct catalogue *c, const char *dir,
                             uint64_t offset, unsigned limit,
                             struct cat_page *out);
/* A page of the hashed files that match q, newest first (ids grow with the
 * date added), and their number (see CATALOGUE_COUNT_CAP). Returns 1, or -1
 * with *cause (a line for the user, e.g. "search took too long"; the caller
 * frees it). Bounded in time (CATALOGUE_SEARCH_MS). */
FB_EXPORT int catalogue_search(struct catalogue *c, const struct query *q,
                               uint64_t offset, unsigned limit,
                               struct cat_page *out, char **cause);
/* Sets how long a search on c may run (ms; 0 stops it at once, for tests). */
void catalogue_set_search_limit(struct catalogue *c, unsigned ms);
/* The n most recently added hashed files. Returns 1 or -1. */
FB_EXPORT int catalogue_newest(struct catalogue *c, unsigned n,
                               struct cat_page *out);
FB_EXPORT int catalogue_stats(struct catalogue *c, struct cat_stats *out);
/* Calls fn for every file row (hashed or not), in path order, until fn
 * returns non-zero. fn must not change the catalogue. Returns 0, or -1 on
 * error. */
FB_EXPORT int catalogue_foreach(struct catalogue *c,
                                int (*fn)(const struct cat_file *f, void *arg),
                                void *arg);
/* Calls fn for every folder row. */
FB_EXPORT int catalogue_foreach_dir(struct catalogue *c,
                                    int (*fn)(const char *dir, void *arg),
                                    void *arg);
/* The same for the rows under the folder dir only ("" for all; dir itself
 * is not under dir): a range of the path index, not a full scan. */
int catalogue_foreach_under(struct catalogue *c, const char *dir,
                            int (*fn)(const struct cat_file *f, void *arg),
                            void *arg);
int catalogue_foreach_dir_under(struct catalogue *c, const char *dir,
                                int (*fn)(const char *dir, void *arg),
                                void *arg);
/* Calls fn for at most limit file rows under dir ("" for all) whose path
 * sorts after after (NULL: from the start of the range), in path order
 * (bytes, as the path index), until fn returns non-zero: one page of a
 * cursor that holds nothing open between pages, so that the catalogue may
 * be written between them. Returns the number of rows read, or -1. */
int catalogue_foreach_after(struct catalogue *c, const char *dir,
                            const char *after, unsigned limit,
                            int (*fn)(const struct cat_file *f, void *arg),
                            void *arg);
/* Total size stored by uploader (bare JID). */
FB_EXPORT int catalogue_uploader_usage(struct catalogue *c,
                                       const char *uploader, uint64_t *bytes);

/* --- rooms joined by invitation (remembered across restarts) ---------- */

/* Appends every remembered room to rooms and its nick to nicks (""
 * if none was given), in the order of the room JIDs. */
int catalogue_room_list(struct catalogue *c, struct strlist *rooms,
                        struct strlist *nicks);

#endif
