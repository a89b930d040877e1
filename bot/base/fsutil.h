/*
 * File-system helpers for the share: relative path joins and file times
 * (opening and stat-ing beneath the share's root descriptor is beneath.h,
 * the exclude globs exclude.h).
 *
 * Paths handled here are relative to the share root, without a leading or
 * trailing '/', "" being the root itself. They are raw bytes.
 */
#ifndef FISBOT_FSUTIL_H
#define FISBOT_FSUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* Returns dir + "/" + name, or name alone when dir is "". The caller frees
 * it. */
char *fsutil_join(const char *dir, const char *name);

/* Returns true if path is dir itself or lies beneath it (dir "" holds
 * everything). */
bool fsutil_is_under(const char *path, const char *dir);

/* Returns the modification time of st in nanoseconds since the epoch. */
int64_t fsutil_mtime_ns(const struct stat *st);

/* Returns the status-change time (ctime) of st in nanoseconds since the
 * epoch: it moves with every write, chmod, rename or `touch -r`, and cannot
 * be set back. */
int64_t fsutil_ctime_ns(const struct stat *st);

#endif
