/*
 * The reconcile walk (SPEC §5): compares a folder of the share on disk with
 * the catalogue and brings the catalogue in line, keeping ids.
 *
 * What is listed: regular files and folders whose every path component
 * passes the exclude globs. Symbolic links are never listed and never
 * followed (neither to files nor to folders), nor are devices, sockets or
 * pipes: this is the simplest rule that can never lead out of the share.
 *
 * Unchanged files (same size, mtime and inode) keep their row and hash. A
 * file that vanished from one path and appeared at another with the same
 * device, inode, size and mtime is a rename: the row moves, the id and hash
 * stay. Everything runs inside the caller's transaction.
 */
#ifndef FISBOT_SCAN_H
#define FISBOT_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "catalogue.h"
#include "config.h"

/* One file or folder found on disk. */
struct scan_entry {
	char *path; /* relative to the share */
	bool is_dir;
	uint64_t size;
	int64_t mtime_ns;
	uint64_t dev, ino;
};

/* A growable list of entries. */
struct scan_list {
	struct scan_entry *v;
	size_t n, cap;
};

struct scan_counts {
	uint64_t added, changed, removed, unchanged;
};

void scan_list_free(struct scan_list *l);

/*
 * Walks the folder dir ("" for the root) beneath rootfd and appends every
 * listed file and folder under it (dir itself excluded) to out. Unreadable
 * folders are logged and skipped. Returns 0, or -1 if dir itself cannot be
 * opened (errno set).
 */
int scan_walk(int rootfd, const char *dir, const struct strlist *exclude,
              struct scan_list *out);

/*
 * Reconciles the catalogue rows under dir with the disk. Calls pending for
 * every file row left without a hash (new, changed, or never hashed) so
 * that the caller can have it hashed; f->id is set. Adds to counts (renamed
 * files count as unchanged). Returns 0, or -1 on a database error or if dir
 * cannot be read (logged; *cause set for the latter when cause is not NULL).
 */
int scan_reconcile(struct catalogue *c, int rootfd, const char *dir,
                   const struct strlist *exclude, struct scan_counts *counts,
                   void (*pending)(const struct cat_file *f, void *arg),
                   void *arg, char **cause);

#endif
