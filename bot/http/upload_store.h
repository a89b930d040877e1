/*
 * Storing one uploaded file: its bytes go to a temporary file in the
 * upload folder, which is fsynced and given its final name only when
 * complete, without ever replacing an existing file.
 *
 * The temporary file is unnamed where the file system allows it
 * (O_TMPFILE): it cannot be seen, and it vanishes by itself if the upload
 * fails or the process dies. Elsewhere it is a hidden file
 * ".upload-XXXXXXXXXXXXXXXX.part" made with O_CREAT | O_EXCL (excluded from
 * the catalogue by the default [share] exclude) and removed on failure.
 * The final name is made with link(2), which fails if the name exists: a
 * taken name moves on to "name (1).ext", "name (2).ext"... so two uploads
 * can never overwrite each other or a file of the share.
 */
#ifndef FISBOT_UPLOAD_STORE_H
#define FISBOT_UPLOAD_STORE_H

#include <stdbool.h>
#include <stddef.h>

/* How many alternatives of a taken name are tried. */
#define UPLOAD_STORE_VARIANTS 999

struct upload_store;

/*
 * Opens the folder (relative, '/'-separated) beneath the directory rootfd,
 * creating what is missing, without following any symbolic link, and
 * starts a temporary file in it; named forces the hidden-file method (for
 * tests). Returns NULL with errno set (ENOSPC, EDQUOT, EACCES, ELOOP for
 * a link on the way, ...).
 */
struct upload_store *upload_store_open(int rootfd, const char *folder,
                                       bool named);

/* Appends len bytes. Returns 0, or -1 with errno set (ENOSPC, EDQUOT...). */
int upload_store_write(struct upload_store *s, const void *buf, size_t len);

/* The number of bytes written so far. */
size_t upload_store_size(const struct upload_store *s);
/* The SHA-256 of the bytes, once upload_store_commit has succeeded. */
void upload_store_sha256(const struct upload_store *s, unsigned char out[32]);

/*
 * Flushes the file to disk and gives it name, or the first free
 * alternative (upload_name_variant). Returns the name used (the caller
 * frees it), or NULL with errno set (EEXIST if every alternative is
 * taken). Either way the store must still be closed.
 */
char *upload_store_commit(struct upload_store *s, const char *name);

/* Closes the store; an uncommitted temporary file is removed. NULL is
 * fine. */
void upload_store_close(struct upload_store *s);

/* The hidden temporary name's prefix and suffix (for tests). */
#define UPLOAD_STORE_TMP_PREFIX ".upload-"
#define UPLOAD_STORE_TMP_SUFFIX ".part"

#endif
