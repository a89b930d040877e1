/*
 * Opening files beneath a directory descriptor with no way out: no
 * symbolic link is followed (in any component, the last one included), no
 * ".." leaves the directory, an absolute path is refused. Every open, stat
 * and access check of a path of the share goes through here: the HTTP
 * server's, the hash workers', the reconcile walk's and the indexer's.
 *
 * Paths are relative, '/'-separated raw bytes; "" is the directory itself.
 *
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) keeps these rules in one
 * system call. Where it is unavailable (a kernel before 5.6: ENOSYS; a
 * seccomp filter that refuses it, as container runtimes do: ENOSYS or
 * EPERM), a walk keeps them instead: each component is opened with
 * O_NOFOLLOW from the one before, and "." and ".." are refused. Once the
 * walk has stood in for a refused openat2, openat2 is not tried again.
 */
#ifndef FISBOT_BENEATH_H
#define FISBOT_BENEATH_H

#include <stdbool.h>
#include <sys/stat.h>

/*
 * Opens path beneath the directory rootfd with flags (O_CLOEXEC is added;
 * no O_CREAT). Pass O_NONBLOCK when opening what may be a FIFO so that it
 * cannot hang the caller, and check with fstat what was opened. Returns
 * the descriptor, or -1 with errno set: ELOOP (or ENOTDIR) for a symbolic
 * link, EXDEV for a path that would leave the directory, ENOENT...
 */
int beneath_open(int rootfd, const char *path, int flags);

/* beneath_open by the walk alone, whether openat2 works or not (for
 * tests). */
int beneath_walk(int rootfd, const char *path, int flags);

/* lstat of path beneath rootfd: the last component is not followed, no
 * earlier one may be a symbolic link. Returns 0, or -1 with errno set. */
int beneath_stat(int rootfd, const char *path, struct stat *st);

/* Returns true if this process may read path beneath rootfd (a regular
 * file: read it; a folder, is_dir: list and enter it), by the kernel's
 * rules for the effective user (mode bits, ACLs, capabilities). The last
 * component is not followed. errno is left as it was. */
bool beneath_readable(int rootfd, const char *path, bool is_dir);

/* beneath_readable for the entry name of the folder dfd. */
bool beneath_readable_at(int dfd, const char *name, bool is_dir);

#endif
