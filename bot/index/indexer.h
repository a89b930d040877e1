/*
 * The indexer: the single writer of the catalogue.
 *
 * It runs one thread that owns the catalogue's write connection. Everything
 * that changes the catalogue reaches it as a message on its queue: file
 * system events from the watcher (through a struct watch_sink: the watcher
 * does not know the indexer), reconcile requests, hash results from
 * the hash pool, and jobs from other threads (download counts,
 * descriptions). It batches its writes into transactions.
 *
 * Threads: every indexer_post_* function may be called from any thread; it
 * only queues a message and never blocks on the database. indexer_start,
 * indexer_wait_idle and indexer_stop belong to the thread that started it.
 *
 * Events out: the notify callback of struct indexer_options is called on
 * the indexer's thread, right after the transaction that made the change
 * has been committed. It must not block and must not call back into the
 * indexer; a typical callback copies the event into the main thread's own
 * queue (the XMPP side drains it from its loop). The strings in the event
 * are only valid during the call.
 */
#ifndef FISBOT_INDEXER_H
#define FISBOT_INDEXER_H

#include <stdbool.h>
#include <stdint.h>

#include "fisbot/config.h"
#include "scan.h"

struct indexer;

enum indexer_event_kind {
	INDEXER_FILE_READY,   /* a file was hashed: it is now searchable */
	INDEXER_FILE_REMOVED, /* a file left the catalogue */
	/* A rescan asked with indexer_post_rescan_report ended: reconciled,
	 * and every file it found hashed (counts). */
	INDEXER_RESCAN_DONE,
};

struct indexer_event {
	enum indexer_event_kind kind;
	int64_t id;
	const char *path; /* relative to the share, raw bytes */
	/* FILE_READY: the file came with the first build of an empty
	 * catalogue (from the start of an indexer on an empty catalogue until
	 * its first full reconcile is hashed) */
	bool first_build;
	struct scan_counts counts; /* RESCAN_DONE */
};

typedef void (*indexer_notify_fn)(const struct indexer_event *ev, void *arg);

struct indexer_options {
	bool watch;               /* follow the share with inotify */
	indexer_notify_fn notify; /* may be NULL */
	void *notify_arg;
	/* Find, when there is nothing else to do, the media types that only
	 * libmagic tells (the hash pool leaves them NULL). */
	bool type_later;
	/* Merge the search index into one segment, when there is nothing
	 * else to do, if a bulk import left it fragmented. */
	bool merge_index;
};

/*
 * Opens the share and the catalogue (for writing), starts the hash pool,
 * the indexer thread and, with opt->watch, the watcher; then reconciles the
 * whole share (after the watches are in place). Returns NULL with *cause
 * set (the caller frees it) if the share or the catalogue cannot be opened.
 * cfg must outlive the indexer.
 */
struct indexer *indexer_start(const struct config *cfg,
                              const struct indexer_options *opt, char **cause);

/*
 * Waits until the indexer has nothing left to do: every event handled,
 * every pending file settled and hashed, everything committed. Adds the
 * reconcile counts since the last call to *counts (if not NULL). Returns 0,
 * or -1 if a database write failed meanwhile (already logged).
 */
int indexer_wait_idle(struct indexer *ix, struct scan_counts *counts);

/* Like indexer_wait_idle without the counts, but gives up after ms
 * milliseconds. Returns 1 if idle, 0 if not yet, -1 if a write failed. */
int indexer_wait_idle_ms(struct indexer *ix, unsigned ms);

/* Reports how many files were hashed since the start and how many are
 * waiting to be (settling or being hashed). */
void indexer_progress(struct indexer *ix, uint64_t *hashed, uint64_t *waiting);

/*
 * Returns true if file id is waiting to be hashed (settling or being
 * hashed), e.g. because it changed. If the hash it had before is known,
 * copies it to prev and sets *has_prev. Any thread may call it.
 */
bool indexer_pending(struct indexer *ix, int64_t id, unsigned char prev[32],
                     bool *has_prev);

/* Commits what is pending, stops the watcher, the hash pool and the
 * thread, closes the catalogue. Frees ix. */
void indexer_stop(struct indexer *ix);

/* Reconciles the whole share with the catalogue. */
void indexer_post_rescan(struct indexer *ix);
/* The same, and says when it is over (INDEXER_RESCAN_DONE): rescans asked
 * while one is being reported are reported together. */
void indexer_post_rescan_report(struct indexer *ix);
/* Returns true while the first build of an empty catalogue runs (see
 * indexer_event.first_build), with the number of files hashed so far in
 * *files. Any thread may call it. */
bool indexer_first_build(struct indexer *ix, uint64_t *files);
/* Counts a download of file id: bytes sent, and whether it completed. */
void indexer_post_download(struct indexer *ix, int64_t id, uint64_t bytes,
                           bool completed);
/* Sets (text non-empty) or clears (NULL or "") the description of id. */
void indexer_post_describe(struct indexer *ix, int64_t id, const char *text);

/* An upload was stored at path (relative to the share) by uploader (a bare
 * JID): the indexer catalogues the file now (it is then hashed and
 * announced like any other) and records its uploader. */
void indexer_post_uploader(struct indexer *ix, const char *path,
                           const char *uploader);

/* Remembers (remember) or forgets a room joined by invitation or by an
 * admin, with the nick to use there (NULL: the default). */
void indexer_post_room(struct indexer *ix, const char *room, const char *nick,
                       bool remember);

/* Something happened at path (a file or folder, relative to the share),
 * e.g. the HTTP server found it changed: the indexer looks at the disk and
 * brings the catalogue in line. (The watcher's events come through the
 * struct watch_sink the indexer gives it.) */
void indexer_post_path(struct indexer *ix, const char *path);

/* The watcher, if the indexer runs one (else NULL); for tests. */
struct watch *indexer_watch(struct indexer *ix);

#endif
