/*
 * Opening a file beneath a directory descriptor with no way out: no
 * symbolic link is followed, no ".." leaves the directory, an absolute path
 * is refused. Used by the HTTP server (and later uploads) so that the bytes
 * served are those of a regular file inside the share.
 */
#ifndef FISBOT_BENEATH_H
#define FISBOT_BENEATH_H

#include <stdbool.h>

/*
 * Opens path (relative, '/'-separated) beneath the directory rootfd for
 * reading, with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or, where
 * the kernel lacks openat2 (or force_walk is set, for tests), by a walk
 * that opens each component with O_NOFOLLOW and refuses "." and "..".
 * The file is opened non-blocking so that a FIFO cannot hang the caller;
 * the caller checks with fstat that it is a regular file. Returns the
 * descriptor, or -1 with errno set (ELOOP for a symbolic link, EXDEV or
 * EINVAL for a path that would leave the directory, ENOENT...).
 */
int beneath_open(int rootfd, const char *path, bool force_walk);

#endif
