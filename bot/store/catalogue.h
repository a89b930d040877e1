/*
 * The catalogue (SPEC §5): every file of the share in SQLite, with a stable
 * id that is never reused. WAL; one writing connection (the indexer's);
 * every other thread opens its own read-only connection.
 *
 * Functions that look a row up return 1 if found, 0 if not, -1 on a
 * database error (already logged). Functions that change rows return 0 or
 * -1. Strings in the structs below are owned by the struct and freed by its
 * clear function.
 */
#ifndef FISBOT_CATALOGUE_H
#define FISBOT_CATALOGUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "query.h"

struct catalogue;

enum catalogue_mode { CATALOGUE_READ, CATALOGUE_WRITE };

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

void cat_file_clear(struct cat_file *f);
void cat_page_clear(struct cat_page *p);

/*
 * Opens the catalogue at path. CATALOGUE_WRITE creates it if missing and
 * migrates its schema; CATALOGUE_READ requires it to exist. A file that is
 * not a fisbot catalogue or is corrupt is refused, never recreated. Returns
 * NULL and sets *cause (caller frees) on failure.
 */
struct catalogue *catalogue_open(const char *path, enum catalogue_mode mode,
                                 char **cause);
void catalogue_close(struct catalogue *c);

/* With keep set, errors on c are not logged but kept, the last one for
 * catalogue_last_error: for the writer, which logs one line per failed
 * transaction itself. */
void catalogue_keep_errors(struct catalogue *c, bool keep);
/* The last error kept on c (a line naming the catalogue and the cause,
 * e.g. "the disk is full"), or NULL; valid until the next error or
 * catalogue_clear_error. */
const char *catalogue_last_error(struct catalogue *c);
void catalogue_clear_error(struct catalogue *c);

/* --- reading ---------------------------------------------------------- */

int catalogue_get(struct catalogue *c, int64_t id, struct cat_file *out);
int catalogue_get_by_path(struct catalogue *c, const char *path,
                          struct cat_file *out);
/* Looks up "42", "#42" or a path relative to the share. */
int catalogue_resolve(struct catalogue *c, const char *id_or_path,
                      struct cat_file *out);
/*
 * Appends to out the details of f that `info` shows, in the chat and on the
 * command line, one line each, every name and text sanitised:
 *
 *   name: song.ogg
 *   path: music/live/song.ogg
 *   size: 3.0 MiB (3145728 bytes)
 *   date: 2024-05-01T12:00:00Z         (when it entered the catalogue)
 *   sha-256: 0a1b...                   (or "(not computed yet)")
 *   type: audio/ogg                    (or "(unknown)")
 *   description: Live at home          (or "(none)")
 *   downloads: 3
 */
void catalogue_info_lines(const struct cat_file *f, struct strlist *out);
/* Returns 1 if dir ("" for the root, no trailing '/') is a folder of the
 * catalogue. */
int catalogue_is_dir(struct catalogue *c, const char *dir);
/* A page of dir: its folders first (by name), then its files (by name,
 * hashed or not); total counts both. Returns 1, 0 if dir does not exist, -1
 * on error. */
int catalogue_list(struct catalogue *c, const char *dir, uint64_t offset,
                   unsigned limit, struct cat_page *out);
/* A page of the hashed files that match q, newest first (ids grow with the
 * date added), and their number (see CATALOGUE_COUNT_CAP). Returns 1, or -1
 * with *cause (a line for the user, e.g. "search took too long"; the caller
 * frees it). Bounded in time (CATALOGUE_SEARCH_MS). */
int catalogue_search(struct catalogue *c, const struct query *q,
                     uint64_t offset, unsigned limit, struct cat_page *out,
                     char **cause);
/* Sets how long a search on c may run (ms; 0 stops it at once, for tests). */
void catalogue_set_search_limit(struct catalogue *c, unsigned ms);
/* The n most recently added hashed files. Returns 1 or -1. */
int catalogue_newest(struct catalogue *c, unsigned n, struct cat_page *out);
int catalogue_stats(struct catalogue *c, struct cat_stats *out);
/* Calls fn for every file row (hashed or not), in path order, until fn
 * returns non-zero. fn must not change the catalogue. Returns 0, or -1 on
 * error. */
int catalogue_foreach(struct catalogue *c,
                      int (*fn)(const struct cat_file *f, void *arg),
                      void *arg);
/* Calls fn for every folder row. */
int catalogue_foreach_dir(struct catalogue *c,
                          int (*fn)(const char *dir, void *arg), void *arg);
/* The same for the rows under the folder dir only ("" for all; dir itself
 * is not under dir): a range of the path index, not a full scan. */
int catalogue_foreach_under(struct catalogue *c, const char *dir,
                            int (*fn)(const struct cat_file *f, void *arg),
                            void *arg);
int catalogue_foreach_dir_under(struct catalogue *c, const char *dir,
                                int (*fn)(const char *dir, void *arg),
                                void *arg);
/* Total size stored by uploader (bare JID). */
int catalogue_uploader_usage(struct catalogue *c, const char *uploader,
                             uint64_t *bytes);

/* --- writing (the writer connection only) ----------------------------- */

int catalogue_begin(struct catalogue *c);
int catalogue_commit(struct catalogue *c);
int catalogue_rollback(struct catalogue *c);

/* Inserts the file at f->path (with f->description and f->uploader, if
 * set, and its folders if missing), or updates its size, mtime, ctime, dev
 * and inode, and clears its hash if its content may have changed: size,
 * mtime or ctime differ (where a ctime is unknown, 0: the inode differs).
 * Sets f->id and, for a new row, f->added (now: the date added is set
 * here, so ids and dates added grow together). */
int catalogue_upsert(struct catalogue *c, struct cat_file *f);
/* Records a finished hash, unless the row changed since (size or mtime
 * differ): then returns 0 and sets *stale. */
int catalogue_set_hash(struct catalogue *c, int64_t id, uint64_t size,
                       int64_t mtime_ns, const unsigned char sha256[32],
                       const char *media_type, bool *stale);
/* Records f->sha256 and f->media_type for row f->id, unless the row is not
 * at f->path any more or its size, mtime or ctime differ from f's: then
 * returns 0 and sets *stale. (Ids of a rolled-back transaction may be
 * given again to other files: the path check keeps a hash computed before
 * a rollback from landing on another file.) */
int catalogue_set_hash_of(struct catalogue *c, const struct cat_file *f,
                          bool *stale);
/* Records a new ctime for id and keeps its hash: for a file that was only
 * renamed (a rename changes the ctime, not the content). */
int catalogue_set_ctime(struct catalogue *c, int64_t id, int64_t ctime_ns);
int catalogue_remove(struct catalogue *c, int64_t id);
/* Renames a file, or a folder and everything under it, keeping ids. A file
 * or folder already at `to` is replaced (removed first); the folders of `to`
 * are added if missing. Renaming something the catalogue does not hold does
 * nothing and returns 0. */
int catalogue_rename(struct catalogue *c, const char *from, const char *to);
/* Removes a folder and every file and folder under it. */
int catalogue_remove_tree(struct catalogue *c, const char *dir);
int catalogue_add_dir(struct catalogue *c, const char *dir);
int catalogue_set_description(struct catalogue *c, int64_t id,
                              const char *text);
int catalogue_set_uploader(struct catalogue *c, int64_t id,
                           const char *uploader);
int catalogue_add_download(struct catalogue *c, int64_t id, uint64_t bytes,
                           bool completed);

/* --- rooms joined by invitation (remembered across restarts) ---------- */

int catalogue_room_add(struct catalogue *c, const char *room, const char *nick);
int catalogue_room_remove(struct catalogue *c, const char *room);
/* Appends every remembered room to rooms and its nick to nicks (""
 * if none was given), in the order of the room JIDs. */
int catalogue_room_list(struct catalogue *c, struct strlist *rooms,
                        struct strlist *nicks);

#endif
