/*
 * Names of uploaded files: what a user typed after "upload", made safe to
 * create in the upload folder, and the "name (1).ext" alternatives used
 * when a name is already taken.
 */
#ifndef FISBOT_UPLOAD_NAME_H
#define FISBOT_UPLOAD_NAME_H

#include "fisbot/strlist.h"

/* The longest name accepted, in bytes (the file system allows 255; the
 * rest is room for a " (N)" suffix). */
#define UPLOAD_NAME_MAX 200

/*
 * Returns a safe file name made from name, or NULL with *cause set (the
 * caller frees either). The name must be valid UTF-8; '/', '\' and control
 * characters (C0, DEL, C1, and the bidirectional controls that can disguise
 * an extension) become '_'; leading dots and white space and trailing white
 * space are removed. What remains must not be empty, must be at most
 * UPLOAD_NAME_MAX bytes, and must not match one of the exclude globs
 * ([share] exclude), or the file would never be listed.
 */
char *upload_name_clean(const char *name, const struct strlist *exclude,
                        char **cause);

/*
 * Returns the n-th alternative (n >= 1) of name: "name (n).ext", the
 * extension being what follows the last dot (".tar.gz" and the like are
 * kept whole). The caller frees it.
 */
char *upload_name_variant(const char *name, unsigned n);

#endif
