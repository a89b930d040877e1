/*
 * File-system helpers for the share: exclude globs, relative path joins, and
 * opening or stat-ing a path beneath the share's root descriptor without
 * ever following a symbolic link (so nothing can lead out of the share).
 *
 * Paths handled here are relative to the share root, without a leading or
 * trailing '/', "" being the root itself. They are raw bytes.
 */
#ifndef FISBOT_FSUTIL_H
#define FISBOT_FSUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "config.h"

/* Returns true if the single path component name matches one of the globs
 * (fnmatch, no flags: "*" matches a leading dot). */
bool fsutil_name_excluded(const struct strlist *globs, const char *name);

/* Returns true if any component of the relative path matches a glob. */
bool fsutil_path_excluded(const struct strlist *globs, const char *path);

/* Returns dir + "/" + name, or name alone when dir is "". The caller frees
 * it. */
char *fsutil_join(const char *dir, const char *name);

/* Returns true if path is dir itself or lies beneath it (dir "" holds
 * everything). */
bool fsutil_is_under(const char *path, const char *dir);

/* Opens path beneath rootfd with flags (O_CLOEXEC added); no component may
 * be a symbolic link and nothing may resolve outside the root. Returns the
 * descriptor, or -1 with errno set. */
int fsutil_open_beneath(int rootfd, const char *path, int flags);

/* lstat of path beneath rootfd: the last component is not followed, no
 * earlier component may be a symbolic link. Returns 0 or -1 (errno). */
int fsutil_stat_beneath(int rootfd, const char *path, struct stat *st);

/* Returns the modification time of st in nanoseconds since the epoch. */
int64_t fsutil_mtime_ns(const struct stat *st);

/* Returns the status-change time (ctime) of st in nanoseconds since the
 * epoch: it moves with every write, chmod, rename or `touch -r`, and cannot
 * be set back. */
int64_t fsutil_ctime_ns(const struct stat *st);

/* Returns true if this process may read the entry name of the folder dfd
 * (a regular file: read it; a folder (is_dir): list and enter it), by the
 * kernel's rules for the effective user (mode bits, ACLs, capabilities:
 * faccessat with AT_EACCESS). name is not followed if it is a link. */
bool fsutil_readable_at(int dfd, const char *name, bool is_dir);

/* fsutil_readable_at for path beneath rootfd ("" is the root itself). */
bool fsutil_readable_beneath(int rootfd, const char *path, bool is_dir);

#endif
