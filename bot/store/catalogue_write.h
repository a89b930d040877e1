/*
 * The catalogue's writer API: opening the one writing connection, its
 * transactions, and every change to the rows. Only the indexer (the single
 * writer), the reconcile it runs (scan.c) and the catalogue itself include
 * this header; the tests that build catalogues do too. Everyone else reads
 * through catalogue.h, which this includes.
 *
 * Functions that change rows return 0 or -1 (the error is logged, or kept:
 * catalogue_keep_errors).
 */
#ifndef FISBOT_CATALOGUE_WRITE_H
#define FISBOT_CATALOGUE_WRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "fisbot/catalogue.h"

/*
 * Opens the catalogue at path as its writer: creates it if missing,
 * checks its integrity and migrates its schema. A file that is not a
 * fisbot catalogue or is corrupt is refused, never recreated. Returns NULL
 * and sets *cause (caller frees) on failure.
 */
struct catalogue *catalogue_open_writer(const char *path, char **cause);

/* With keep set, errors on c are not logged but kept, the last one for
 * catalogue_last_error: for the writer, which logs one line per failed
 * transaction itself. */
void catalogue_keep_errors(struct catalogue *c, bool keep);
/* The last error kept on c (a line naming the catalogue and the cause,
 * e.g. "the disk is full"), or NULL; valid until the next error or
 * catalogue_clear_error. */
const char *catalogue_last_error(struct catalogue *c);
void catalogue_clear_error(struct catalogue *c);

/* --- transactions and rows ------------------------------------------- */

/* Sets the writer's page cache to kib KiB (a reconcile of a large share
 * reads and writes its indexes all over); 0 goes back to SQLite's default
 * and gives the cache's memory back. */
void catalogue_set_cache(struct catalogue *c, unsigned kib);

int catalogue_begin(struct catalogue *c);
int catalogue_commit(struct catalogue *c);
int catalogue_rollback(struct catalogue *c);

/* Returns 1 if the search index is fragmented: in several segments, the
 * largest holding less than half of its pages (as a bulk import leaves it,
 * where every word is looked up in every segment); 0 if not; -1 (logged).
 * Sets *segments. Reads the index's page index only: a few milliseconds
 * at 1,000,000 files. */
int catalogue_fts_fragmented(struct catalogue *c, int *segments);
/* Merges the search index's segments into one, writing about pages pages,
 * in a transaction of its own (none may be open). Returns 1 if there is
 * more to merge, 0 if the index is merged, -1 (logged). */
int catalogue_fts_merge(struct catalogue *c, int pages);

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

/* Records f->media_type for row f->id if the row is still f->path, hashed,
 * of f's size and mtime and without a type (else changes nothing). */
int catalogue_set_type(struct catalogue *c, const struct cat_file *f);

/* Calls fn for the hashed files without a media type whose id is above
 * after, in id order, at most limit of them, until fn returns non-zero.
 * Returns the number of files seen, or -1 on error (logged). */
int catalogue_untyped(struct catalogue *c, int64_t after, unsigned limit,
                      int (*fn)(const struct cat_file *f, void *arg),
                      void *arg);
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

#endif
