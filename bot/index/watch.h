/*
 * The watcher: follows the share with inotify (libinotifytools) on one
 * thread and tells a sink what happens, as paths to look at, renames and
 * requests for a full reconcile. The sink is the indexer's (indexer.c);
 * the watcher knows nothing of it. libinotifytools keeps process-global
 * state and is not thread-safe: only this module uses it, and only one
 * watcher may exist.
 */
#ifndef FISBOT_WATCH_H
#define FISBOT_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "fisbot/strlist.h"

struct watch;

/*
 * Where the watcher sends what it sees. Paths are relative to the share
 * and valid only during the call (copy them). The functions are called on
 * the watcher's thread, and rescan and periodic_rescan also on the thread
 * calling watch_start; they must not block for long (the kernel's queue
 * fills meanwhile). Every function must be set.
 */
struct watch_sink {
	/* Something happened at path (a file or a folder): look at it. */
	void (*path)(void *arg, const char *path);
	/* The attributes of the folder path changed (e.g. its permissions:
	 * it may have become readable or unreadable). */
	void (*attrib)(void *arg, const char *path);
	/* from was renamed to to, both inside the share. */
	void (*rename)(void *arg, const char *from, const char *to);
	/* Reconcile the whole share: the watches were just set up, or events
	 * were lost (the kernel queue overflowed). */
	void (*rescan)(void *arg);
	/* Some folders cannot be watched (the inotify watch limit):
	 * reconcile the whole share every interval_ms. */
	void (*periodic_rescan)(void *arg, uint64_t interval_ms);
	void *arg;
};

/* Starts watching the share root (absolute path) recursively, skipping
 * excluded folders (the watches are in place when it returns), then asks
 * sink (copied) for a full reconcile. Returns NULL with *cause set on
 * failure. */
struct watch *watch_start(const char *root, const struct strlist *exclude,
                          const struct watch_sink *sink, char **cause);

/* Stops the thread and drops every watch. Frees w. */
void watch_stop(struct watch *w);

/* Pauses (true; returns once the thread has stopped reading, within a
 * second) or resumes reading events; while paused the kernel queue
 * fills up and may overflow. A test hook for the overflow path. */
void watch_pause(struct watch *w, bool paused);

/* Returns how many times the kernel queue overflowed. */
uint64_t watch_overflows(struct watch *w);

#endif
