/* Opening, stat-ing and access checks beneath a directory without
 * following symbolic links: openat2, or a component walk where it is
 * refused. */
#define _GNU_SOURCE /* O_PATH */
#include "beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fisbot/alloc.h"

/* Set once openat2 was refused (ENOSYS, or EPERM that the walk did not
 * share): from then on, the walk only. */
static atomic_bool no_openat2;

/* Closes fd unless it is keep, leaving errno as it was. */
static void close_keep_errno(int fd, int keep)
{
	int saved = errno;

	if (fd != keep && fd != -1)
		close(fd);
	errno = saved;
}

int beneath_walk(int rootfd, const char *path, int flags)
{
	const char *p = path;
	int dfd = rootfd, fd;
	struct stat st;

	if (path[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	if (path[0] == '\0')
		return openat(rootfd, ".", flags | O_CLOEXEC);
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		char comp[256];

		if (len == 0 || len >= sizeof(comp) ||
		    (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.')) {
			errno = len >= sizeof(comp) ? ENAMETOOLONG : EXDEV;
			goto fail;
		}
		if (slash == NULL)
			break;
		memcpy(comp, p, len);
		comp[len] = '\0';
		/* O_PATH | O_NOFOLLOW on a link to a folder: ENOTDIR. */
		fd = openat(dfd, comp,
		            O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1)
			goto fail;
		close_keep_errno(dfd, rootfd);
		dfd = fd;
		p = slash + 1;
	}
	fd = openat(dfd, p, flags | O_NOFOLLOW | O_CLOEXEC);
	/* O_PATH | O_NOFOLLOW opens a link itself: refuse it as openat2
	 * does. */
	if (fd != -1 && (flags & O_PATH) != 0 &&
	    (fstat(fd, &st) == -1 || S_ISLNK(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = ELOOP;
	}
	close_keep_errno(dfd, rootfd);
	return fd;
fail:
	close_keep_errno(dfd, rootfd);
	return -1;
}

int beneath_open(int rootfd, const char *path, int flags)
{
	/* O_PATH | O_NOFOLLOW would open a link itself: RESOLVE_NO_SYMLINKS
	 * refuses links without it. */
	struct open_how how = {
	    .flags = (uint64_t)((flags & ~O_NOFOLLOW) | O_CLOEXEC),
	    .resolve =
	        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;
	int err;

	if (path[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	if (atomic_load_explicit(&no_openat2, memory_order_relaxed))
		return beneath_walk(rootfd, path, flags);
	fd = syscall(SYS_openat2, rootfd, path[0] ? path : ".", &how,
	             sizeof(how));
	if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
		return (int)fd;
	err = errno;
	fd = beneath_walk(rootfd, path, flags);
	/* An EPERM of openat2 that the walk does not share came from a
	 * filter, not from the file. */
	if (err == ENOSYS || fd >= 0)
		atomic_store(&no_openat2, true);
	return (int)fd;
}

int beneath_stat(int rootfd, const char *path, struct stat *st)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int dfd, rc;

	if (path[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	if (path[0] == '\0')
		return fstat(rootfd, st);
	if (slash == NULL)
		return fstatat(rootfd, path, st, AT_SYMLINK_NOFOLLOW);
	dir = xstrndup(path, (size_t)(slash - path));
	dfd = beneath_open(rootfd, dir, O_PATH | O_DIRECTORY);
	free(dir);
	if (dfd == -1)
		return -1;
	rc = fstatat(dfd, slash + 1, st, AT_SYMLINK_NOFOLLOW);
	close_keep_errno(dfd, -1);
	return rc;
}

bool beneath_readable_at(int dfd, const char *name, bool is_dir)
{
	int saved = errno;
	bool ok = faccessat(dfd, name, is_dir ? R_OK | X_OK : R_OK,
	                    AT_EACCESS | AT_SYMLINK_NOFOLLOW) == 0;

	errno = saved;
	return ok;
}

bool beneath_readable(int rootfd, const char *path, bool is_dir)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int dfd, saved = errno;
	bool ok;

	if (path[0] == '\0')
		return beneath_readable_at(rootfd, ".", is_dir);
	if (path[0] == '/')
		return false;
	if (slash == NULL)
		return beneath_readable_at(rootfd, path, is_dir);
	dir = xstrndup(path, (size_t)(slash - path));
	dfd = beneath_open(rootfd, dir, O_PATH | O_DIRECTORY);
	free(dir);
	if (dfd == -1) {
		errno = saved;
		return false;
	}
	ok = beneath_readable_at(dfd, slash + 1, is_dir);
	close(dfd);
	errno = saved;
	return ok;
}
