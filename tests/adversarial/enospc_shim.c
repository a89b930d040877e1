/*
 * A full disk without mount(2), for tests/adversarial/test_disk_full.py
 * where a small tmpfs cannot be mounted: loaded with LD_PRELOAD, it makes
 * every write(2), pwrite(2) and fallocate(2) to a file under the folder
 * FISBOT_ENOSPC_DIR fail with ENOSPC for as long as the file
 * FISBOT_ENOSPC_FLAG exists. Removing the flag file is "space returns".
 * Other files (the share, the log) are never affected, nor is SQLite's
 * shared-memory index (a "-shm" file): SQLite truncates and rewrites it
 * when a database is opened, which a real full disk allows, as it reuses
 * the blocks just freed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Returns true if writes to fd must fail: the flag exists and fd is a file
 * under the folder. Keeps errno. */
static bool full(int fd)
{
	const char *dir = getenv("FISBOT_ENOSPC_DIR");
	const char *flag = getenv("FISBOT_ENOSPC_FLAG");
	char link[64], target[PATH_MAX];
	int saved = errno;
	bool ret = false;
	size_t n;
	ssize_t len;

	if (dir == NULL || flag == NULL || dir[0] == '\0')
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, target, sizeof(target) - 1);
	if (len > 0) {
		target[len] = '\0';
		n = strlen(dir);
		ret = strncmp(target, dir, n) == 0 && target[n] == '/' &&
		      !(len > 4 && strcmp(target + len - 4, "-shm") == 0) &&
		      access(flag, F_OK) == 0;
	}
	errno = saved;
	return ret;
}

/* Sets *fn to the next definition of name (libc's) once. */
#define REAL(fn, name)                                                         \
	do {                                                                   \
		if ((fn) == NULL)                                              \
			*(void **)&(fn) = dlsym(RTLD_NEXT, name);              \
	} while (0)

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);

	REAL(real, "write");
	if (full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	REAL(real, "pwrite");
	if (full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off64_t);

	REAL(real, "pwrite64");
	if (full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, n, off);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	static int (*real)(int, int, off_t, off_t);

	REAL(real, "fallocate");
	if (full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
	static int (*real)(int, off_t, off_t);

	REAL(real, "posix_fallocate");
	if (full(fd))
		return ENOSPC;
	return real(fd, off, len);
}
