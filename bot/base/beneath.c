/* Opening files beneath a directory without following symbolic links. */
#define _GNU_SOURCE
#include "beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OPEN_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

/* Opens path component by component, refusing links, "." and "..". */
static int walk_open(int rootfd, const char *path)
{
	const char *p = path;
	int dfd = rootfd, fd;

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
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (slash == NULL) {
			fd = openat(dfd, comp, OPEN_FLAGS);
			if (dfd != rootfd) {
				int saved = errno;

				close(dfd);
				errno = saved;
			}
			return fd;
		}
		fd = openat(dfd, comp,
		            O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1) {
			/* O_PATH|O_NOFOLLOW on a link to a folder: ENOTDIR */
			goto fail;
		}
		if (dfd != rootfd)
			close(dfd);
		dfd = fd;
		p = slash + 1;
	}
fail:
	if (dfd != rootfd) {
		int saved = errno;

		close(dfd);
		errno = saved;
	}
	return -1;
}

int beneath_open(int rootfd, const char *path, bool force_walk)
{
	struct open_how how = {
	    .flags = OPEN_FLAGS,
	    .resolve =
	        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	if (path[0] == '\0' || path[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	if (!force_walk) {
		fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
	}
	return walk_open(rootfd, path);
}
