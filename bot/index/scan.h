/*
 * The reconcile walk, run at start and whenever inotify lost events:
 * compares a folder of the share on disk with the catalogue and brings the
 * catalogue in line, keeping ids.
 *
 * What is listed: regular files and folders whose every path component
 * passes the exclude globs. Symbolic links are never listed and never
 * followed (neither to files nor to folders), nor are devices, sockets or
 * pipes: this is the simplest rule that can never lead out of the share.
 *
 * Only what this process may read is listed (faccessat with AT_EACCESS):
 * a file it may not read, or a folder it may not list and enter, is left
 * out with everything under it, and leaves the catalogue if it was there.
 *
 * Unchanged files (same size, mtime, ctime and inode) keep their row and
 * hash; a changed ctime alone is a change (a content change whose size and
 * mtime were put back with touch -r), and so is a chmod. A row from before
 * ctimes were kept (ctime 0) takes the ctime on without hashing if the
 * inode is the same.
 *
 * Renames. A file that vanished from one path and appeared at another with
 * the same device, inode, size and mtime is a rename: the row moves, the
 * id and hash stay, and the new ctime is recorded without hashing (a
 * rename changes the ctime). The rule is the same for a rename reported by
 * inotify (indexer.c). So a content change put back with touch -r AND
 * followed by a rename while the bot was not watching is not seen; any
 * later change is. Everything runs inside the caller's transaction.
 */
#ifndef FISBOT_SCAN_H
#define FISBOT_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "fisbot/catalogue.h"
#include "fisbot/config.h"

/* One file or folder found on disk. */
struct scan_entry {
	char *path; /* relative to the share */
	bool is_dir;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
	uint64_t dev, ino;
};

/* A growable list of entries. */
struct scan_list {
	struct scan_entry *v;
	size_t n, cap;
};

struct scan_counts {
	uint64_t added, changed, removed, unchanged;
	uint64_t renamed;   /* of unchanged: found at another path */
	uint64_t rows_read; /* catalogue rows the merge read */
};

void scan_list_free(struct scan_list *l);

/*
 * Walks the folder dir ("" for the root) beneath rootfd and appends every
 * listed file and folder under it (dir itself excluded) to out. Files and
 * folders this process may not read are skipped (logged at debug level:
 * the walk runs again at every full reconcile). Returns 0, or -1 if dir
 * itself cannot be opened (errno set).
 */
int scan_walk(int rootfd, const char *dir, const struct strlist *exclude,
              struct scan_list *out);
/* The same, listing the folders only (what the watcher needs: its memory
 * grows with the folders, not the files). */
int scan_walk_dirs(int rootfd, const char *dir, const struct strlist *exclude,
                   struct scan_list *out);

/*
 * Reconciles the catalogue rows under dir with the disk. Calls pending for
 * every file row left without a hash (new, changed, or never hashed) so
 * that the caller can have it hashed; f->id is set. pending may commit
 * what was written so far (the caller's transaction); if it returns -1, the
 * reconcile stops. Adds to counts (renamed files count as unchanged).
 * Returns 0, or -1 on a database error, if pending failed, or if dir
 * cannot be read (logged; *cause set for the latter when cause is not NULL).
 */
int scan_reconcile(struct catalogue *c, int rootfd, const char *dir,
                   const struct strlist *exclude, struct scan_counts *counts,
                   int (*pending)(const struct cat_file *f, void *arg),
                   void *arg, char **cause);

#endif
