/*
 * The watcher: follows the share with inotify (libinotifytools) on one
 * thread and forwards what happens to the indexer as paths to look at and
 * renames. libinotifytools keeps process-global state and is not
 * thread-safe: only this module uses it, and only one watcher may exist.
 */
#ifndef FISBOT_WATCH_H
#define FISBOT_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct indexer;
struct watch;

/* Starts watching the share root (absolute path) recursively, skipping
 * excluded folders (the watches are in place when it returns), then asks
 * ix for a full reconcile. Returns NULL with
 * *cause set on failure. */
struct watch *watch_start(const char *root, const struct strlist *exclude,
                          struct indexer *ix, char **cause);

/* Stops the thread and drops every watch. Frees w. */
void watch_stop(struct watch *w);

/* Pauses (true; returns once the thread has stopped reading, within a
 * second) or resumes reading events; while paused the kernel queue
 * fills up and may overflow. A test hook for the overflow path. */
void watch_pause(struct watch *w, bool paused);

/* Returns how many times the kernel queue overflowed. */
uint64_t watch_overflows(struct watch *w);

#endif
