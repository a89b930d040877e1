/* File-system helpers: exclude globs, path joins, symlink-free opens beneath
 * the share root (openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS). */
#define _GNU_SOURCE /* O_PATH */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"

bool fsutil_name_excluded(const struct strlist *globs, const char *name)
{
	for (size_t i = 0; i < globs->n; i++)
		if (fnmatch(globs->v[i], name, 0) == 0)
			return true;
	return false;
}

bool fsutil_path_excluded(const struct strlist *globs, const char *path)
{
	const char *p = path, *slash;
	bool excluded = false;

	while (!excluded && *p != '\0') {
		char *name;

		slash = strchr(p, '/');
		name = slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(p);
		excluded = fsutil_name_excluded(globs, name);
		free(name);
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return excluded;
}

char *fsutil_join(const char *dir, const char *name)
{
	if (dir[0] == '\0')
		return xstrdup(name);
	return xasprintf("%s/%s", dir, name);
}

bool fsutil_is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 0)
		return true;
	return strncmp(path, dir, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}

int fsutil_open_beneath(int rootfd, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve =
	        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};

	if (path[0] == '\0')
		path = ".";
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

int fsutil_stat_beneath(int rootfd, const char *path, struct stat *st)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int dfd, rc, saved;

	if (path[0] == '\0')
		return fstat(rootfd, st);
	if (slash == NULL)
		return fstatat(rootfd, path, st, AT_SYMLINK_NOFOLLOW);
	dir = xstrndup(path, (size_t)(slash - path));
	dfd = fsutil_open_beneath(rootfd, dir, O_PATH | O_DIRECTORY);
	free(dir);
	if (dfd == -1)
		return -1;
	rc = fstatat(dfd, slash + 1, st, AT_SYMLINK_NOFOLLOW);
	saved = errno;
	close(dfd);
	errno = saved;
	return rc;
}

int64_t fsutil_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int64_t fsutil_ctime_ns(const struct stat *st)
{
	return (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

bool fsutil_readable_at(int dfd, const char *name, bool is_dir)
{
	int saved = errno;
	bool ok = faccessat(dfd, name, is_dir ? R_OK | X_OK : R_OK,
	                    AT_EACCESS | AT_SYMLINK_NOFOLLOW) == 0;

	errno = saved;
	return ok;
}

bool fsutil_readable_beneath(int rootfd, const char *path, bool is_dir)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int dfd;
	bool ok;

	if (path[0] == '\0')
		return fsutil_readable_at(rootfd, ".", is_dir);
	if (slash == NULL)
		return fsutil_readable_at(rootfd, path, is_dir);
	dir = xstrndup(path, (size_t)(slash - path));
	dfd = fsutil_open_beneath(rootfd, dir, O_PATH | O_DIRECTORY);
	free(dir);
	if (dfd == -1)
		return false;
	ok = fsutil_readable_at(dfd, slash + 1, is_dir);
	close(dfd);
	return ok;
}
