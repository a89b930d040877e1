/* Storing one uploaded file: a temporary file in the upload folder, given
 * its final name with link(2) once complete. See upload_store.h. */
#define _GNU_SOURCE
#include "upload_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "upload_name.h"

#define FILE_MODE 0644
#define DIR_MODE  0755

struct upload_store {
	int dirfd, fd;
	char *tmpname; /* NULL for an unnamed (O_TMPFILE) file */
	bool committed;
	size_t size;
	EVP_MD_CTX *md;
	unsigned char sha256[32];
};

/* Opens folder beneath rootfd, one component at a time, creating missing
 * ones and refusing links, "." and "..". Returns a descriptor or -1. */
static int open_folder(int rootfd, const char *folder)
{
	char *copy = xstrdup(folder), *comp, *save = NULL;
	int dfd, fd, err;

	dfd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		goto fail;
	for (comp = strtok_r(copy, "/", &save); comp != NULL;
	     comp = strtok_r(NULL, "/", &save)) {
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			errno = EXDEV;
			goto fail;
		}
		if (mkdirat(dfd, comp, DIR_MODE) == -1 && errno != EEXIST)
			goto fail;
		fd = openat(dfd, comp,
		            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1) {
			if (errno == ENOTDIR) /* a link, or not a folder */
				errno = ELOOP;
			goto fail;
		}
		close(dfd);
		dfd = fd;
	}
	free(copy);
	return dfd;
fail:
	err = errno;
	if (dfd != -1)
		close(dfd);
	free(copy);
	errno = err;
	return -1;
}

/* Makes a hidden temporary file with O_EXCL in s->dirfd. */
static int open_named(struct upload_store *s)
{
	for (int tries = 0; tries < 16; tries++) {
		unsigned char rnd[8];
		char name[64];

		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			errno = EIO;
			return -1;
		}
		snprintf(name, sizeof(name),
		         UPLOAD_STORE_TMP_PREFIX "%02x%02x%02x%02x%02x%02x%02x"
		                                 "%02x" UPLOAD_STORE_TMP_SUFFIX,
		         rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
		         rnd[7]);
		s->fd =
		    openat(s->dirfd, name,
		           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		           FILE_MODE);
		if (s->fd != -1) {
			s->tmpname = xstrdup(name);
			return 0;
		}
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

struct upload_store *upload_store_open(int rootfd, const char *folder,
                                       bool named)
{
	struct upload_store *s = xcalloc(1, sizeof(*s));
	int err;

	s->fd = -1;
	s->dirfd = open_folder(rootfd, folder);
	if (s->dirfd == -1)
		goto fail;
	/* An unnamed file needs /proc to be linked into place later. */
	if (!named && access("/proc/self/fd", X_OK) == 0) {
		s->fd = openat(s->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
		               FILE_MODE);
		if (s->fd == -1 && errno != EOPNOTSUPP && errno != EISDIR &&
		    errno != EINVAL)
			goto fail;
	}
	if (s->fd == -1 && open_named(s) == -1)
		goto fail;
	s->md = EVP_MD_CTX_new();
	if (s->md == NULL || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
		fatalx("upload: cannot start a SHA-256 digest");
	return s;
fail:
	err = errno;
	upload_store_close(s);
	errno = err;
	return NULL;
}

int upload_store_write(struct upload_store *s, const void *buf, size_t len)
{
	const char *p = buf;

	EVP_DigestUpdate(s->md, buf, len);
	while (len > 0) {
		ssize_t n = write(s->fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		s->size += (size_t)n;
	}
	return 0;
}

size_t upload_store_size(const struct upload_store *s)
{
	return s->size;
}

void upload_store_sha256(const struct upload_store *s, unsigned char out[32])
{
	memcpy(out, s->sha256, 32);
}

/* Gives the temporary file the name cand. Returns 0 or -1 (errno). */
static int link_as(struct upload_store *s, const char *cand)
{
	char proc[64];

	if (s->tmpname != NULL)
		return linkat(s->dirfd, s->tmpname, s->dirfd, cand, 0);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s->fd);
	return linkat(AT_FDCWD, proc, s->dirfd, cand, AT_SYMLINK_FOLLOW);
}

char *upload_store_commit(struct upload_store *s, const char *name)
{
	char *cand = xstrdup(name);
	unsigned n = 0;
	int err;

	if (fsync(s->fd) == -1)
		goto fail;
	while (link_as(s, cand) == -1) {
		if (errno != EEXIST || n == UPLOAD_STORE_VARIANTS)
			goto fail;
		free(cand);
		cand = upload_name_variant(name, ++n);
	}
	s->committed = true;
	if (s->tmpname != NULL && unlinkat(s->dirfd, s->tmpname, 0) == 0) {
		free(s->tmpname);
		s->tmpname = NULL;
	}
	/* The new name must survive a crash too. */
	(void)fsync(s->dirfd);
	EVP_DigestFinal_ex(s->md, s->sha256, NULL);
	return cand;
fail:
	err = errno;
	free(cand);
	errno = err;
	return NULL;
}

void upload_store_close(struct upload_store *s)
{
	int err = errno;

	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	if (s->tmpname != NULL)
		unlinkat(s->dirfd, s->tmpname, 0);
	if (s->dirfd != -1)
		close(s->dirfd);
	free(s->tmpname);
	EVP_MD_CTX_free(s->md);
	free(s);
	errno = err;
}
