/*
 * The reconcile walk. Design: walk the disk under a folder into a list,
 * read the catalogue's rows under it into another, sort both by path and
 * merge. Paths on both sides are kept or updated; the leftovers on each
 * side are sorted by device and inode so that a file that moved is
 * recognised as a rename (id and hash kept) rather than a removal plus an
 * addition; what is left after that is removed or added.
 */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/beneath.h"
#include "base/exclude.h"
#include "base/fsutil.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "store/catalogue_write.h"

void scan_list_free(struct scan_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Appends a new entry for path (taken over) with the stat st to l. */
static void list_add(struct scan_list *l, char *path, const struct stat *st)
{
	struct scan_entry *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	e = &l->v[l->n++];
	e->path = path;
	e->is_dir = S_ISDIR(st->st_mode);
	e->size = (uint64_t)st->st_size;
	e->mtime_ns = fsutil_mtime_ns(st);
	e->ctime_ns = fsutil_ctime_ns(st);
	e->dev = (uint64_t)st->st_dev;
	e->ino = (uint64_t)st->st_ino;
}

/* Walks the open folder dfd (path dir), taking dfd over. */
static void walk_fd(int dfd, const char *dir, const struct strlist *exclude,
                    struct scan_list *out)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	d = fdopendir(dfd);
	if (d == NULL) {
		log_warn("cannot read folder \"%s\"", dir);
		close(dfd);
		return;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		char *path;
		int sub;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (de->d_type == DT_LNK || exclude_name(exclude, name))
			continue;
		path = fsutil_join(dir, name);
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno != ENOENT)
				log_warn("cannot stat \"%s\"", path);
			free(path);
			continue;
		}
		if ((S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
		    !beneath_readable_at(dirfd(d), name, S_ISDIR(st.st_mode))) {
			log_debug("\"%s\" is not readable: not listed", path);
			free(path);
		} else if (S_ISREG(st.st_mode)) {
			list_add(out, path, &st);
		} else if (S_ISDIR(st.st_mode)) {
			list_add(out, path, &st);
			sub = openat(dirfd(d), name,
			             O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			                 O_CLOEXEC);
			if (sub == -1) {
				if (errno != ENOENT)
					log_warn("cannot open folder \"%s\"",
					         path);
				continue;
			}
			walk_fd(sub, path, exclude, out);
		} else {
			free(path);
		}
	}
	if (errno != 0)
		log_warn("cannot read folder \"%s\"", dir);
	closedir(d);
}

int scan_walk(int rootfd, const char *dir, const struct strlist *exclude,
              struct scan_list *out)
{
	int dfd;

	dfd = beneath_open(rootfd, dir, O_RDONLY | O_DIRECTORY);
	if (dfd == -1)
		return -1;
	walk_fd(dfd, dir, exclude, out);
	return 0;
}

/* A catalogue row, as much as the merge needs. */
struct row {
	int64_t id;
	char *path;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
	uint64_t dev, ino;
	bool hashed;
};

struct rows {
	struct row *v;
	size_t n, cap;
	const char *dir;
};

/* catalogue_foreach callback: keeps the rows under rows->dir. */
static int collect_row(const struct cat_file *f, void *arg)
{
	struct rows *r = arg;
	struct row *w;

	if (!fsutil_is_under(f->path, r->dir) || strcmp(f->path, r->dir) == 0)
		return 0;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	w = &r->v[r->n++];
	w->id = f->id;
	w->path = xstrdup(f->path);
	w->size = f->size;
	w->mtime_ns = f->mtime_ns;
	w->ctime_ns = f->ctime_ns;
	w->dev = f->dev;
	w->ino = f->ino;
	w->hashed = f->hashed;
	return 0;
}

struct dirs {
	struct strlist l;
	const char *dir;
};

/* catalogue_foreach_dir callback: keeps the folders under dirs->dir. */
static int collect_dir(const char *d, void *arg)
{
	struct dirs *ds = arg;

	if (fsutil_is_under(d, ds->dir) && strcmp(d, ds->dir) != 0)
		strlist_add(&ds->l, d);
	return 0;
}

static int cmp_entry_path(const void *a, const void *b)
{
	const struct scan_entry *x = a, *y = b;

	if (x->is_dir != y->is_dir)
		return x->is_dir ? -1 : 1; /* folders first */
	return strcmp(x->path, y->path);
}

static int cmp_row_path(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->path,
	              ((const struct row *)b)->path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Orders pointers to entries by path. */
static int cmp_entry_ptr_path(const void *a, const void *b)
{
	return strcmp((*(struct scan_entry *const *)a)->path,
	              (*(struct scan_entry *const *)b)->path);
}

/* Orders by (dev, ino), then path for determinism. */
static int cmp_entry_ino(const void *a, const void *b)
{
	const struct scan_entry *x = *(struct scan_entry *const *)a;
	const struct scan_entry *y = *(struct scan_entry *const *)b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return strcmp(x->path, y->path);
}

static int cmp_row_ino(const void *a, const void *b)
{
	const struct row *x = *(struct row *const *)a;
	const struct row *y = *(struct row *const *)b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Upserts the disk entry e; reports it as pending. Returns 0 or -1. */
static int upsert_entry(struct catalogue *c, const struct scan_entry *e,
                        int (*pending)(const struct cat_file *, void *),
                        void *arg)
{
	struct cat_file f = {0};

	f.path = e->path;
	f.size = e->size;
	f.mtime_ns = e->mtime_ns;
	f.ctime_ns = e->ctime_ns;
	f.dev = e->dev;
	f.ino = e->ino;
	if (catalogue_upsert(c, &f) == -1)
		return -1;
	return pending(&f, arg);
}

/* Reports the row r, at path, as pending if it has no hash. Returns what
 * pending returned, or 0. */
static int pending_row(const struct row *r, char *path,
                       int (*pending)(const struct cat_file *, void *),
                       void *arg)
{
	struct cat_file f = {0};

	if (r->hashed)
		return 0;
	f.id = r->id;
	f.path = path;
	f.size = r->size;
	f.mtime_ns = r->mtime_ns;
	f.ctime_ns = r->ctime_ns;
	f.dev = r->dev;
	f.ino = r->ino;
	return pending(&f, arg);
}

/* Returns true if the disk entry e shows the same content as the row r at
 * its path. Sets *adopt if r's ctime is unknown (0) and must be set. */
static bool unchanged(const struct scan_entry *e, const struct row *r,
                      bool *adopt)
{
	*adopt = false;
	if (e->size != r->size || e->mtime_ns != r->mtime_ns ||
	    e->ino != r->ino)
		return false;
	if (r->ctime_ns == 0) {
		*adopt = true;
		return true;
	}
	return e->ctime_ns == r->ctime_ns;
}

int scan_reconcile(struct catalogue *c, int rootfd, const char *dir,
                   const struct strlist *exclude, struct scan_counts *counts,
                   int (*pending)(const struct cat_file *f, void *arg),
                   void *arg, char **cause)
{
	struct scan_list disk = {0};
	struct rows rows = {.dir = dir};
	struct dirs dirs = {.dir = dir};
	struct scan_entry **fresh = NULL;
	struct row **gone = NULL;
	size_t nfiles, ndirs, nfresh = 0, ngone = 0, i, j;
	int rc = -1;

	if (scan_walk(rootfd, dir, exclude, &disk) == -1) {
		if (cause != NULL)
			*cause = xasprintf("cannot read folder \"%s\": %s",
			                   dir[0] ? dir : ".", strerror(errno));
		return -1;
	}
	if (catalogue_foreach_under(c, dir, collect_row, &rows) == -1 ||
	    catalogue_foreach_dir_under(c, dir, collect_dir, &dirs) == -1)
		goto out;
	if (disk.n > 0)
		qsort(disk.v, disk.n, sizeof(*disk.v), cmp_entry_path);
	if (rows.n > 0)
		qsort(rows.v, rows.n, sizeof(*rows.v), cmp_row_path);
	if (dirs.l.n > 0)
		qsort(dirs.l.v, dirs.l.n, sizeof(*dirs.l.v), cmp_str);
	for (ndirs = 0; ndirs < disk.n && disk.v[ndirs].is_dir; ndirs++)
		;
	nfiles = disk.n - ndirs;

	/* New folders first, parents before children (sorted order). */
	for (i = 0, j = 0; i < ndirs; i++) {
		int d = 1;

		while (j < dirs.l.n &&
		       (d = strcmp(dirs.l.v[j], disk.v[i].path)) < 0)
			j++;
		if (j < dirs.l.n && d == 0)
			continue;
		if (catalogue_add_dir(c, disk.v[i].path) == -1)
			goto out;
	}

	/* Merge the files by path. */
	fresh = xcalloc(nfiles + 1, sizeof(*fresh));
	gone = xcalloc(rows.n + 1, sizeof(*gone));
	for (i = ndirs, j = 0; i < disk.n || j < rows.n;) {
		struct scan_entry *e = i < disk.n ? &disk.v[i] : NULL;
		struct row *r = j < rows.n ? &rows.v[j] : NULL;
		int d = e == NULL   ? 1
		        : r == NULL ? -1
		                    : strcmp(e->path, r->path);

		if (d < 0) {
			fresh[nfresh++] = e;
			i++;
		} else if (d > 0) {
			gone[ngone++] = r;
			j++;
		} else {
			bool adopt;

			if (unchanged(e, r, &adopt)) {
				if (adopt && catalogue_set_ctime(
				                 c, r->id, e->ctime_ns) == -1)
					goto out;
				r->ctime_ns = e->ctime_ns;
				counts->unchanged++;
				if (pending_row(r, r->path, pending, arg) == -1)
					goto out;
			} else {
				counts->changed++;
				if (upsert_entry(c, e, pending, arg) == -1)
					goto out;
			}
			i++;
			j++;
		}
	}

	/* Renames: the same inode, size and mtime under another path. */
	if (nfresh > 0)
		qsort(fresh, nfresh, sizeof(*fresh), cmp_entry_ino);
	if (ngone > 0)
		qsort(gone, ngone, sizeof(*gone), cmp_row_ino);
	for (i = 0, j = 0; i < nfresh && j < ngone;) {
		struct scan_entry *e = fresh[i];
		struct row *r = gone[j];

		if (e->dev != r->dev || e->ino != r->ino) {
			if (e->dev < r->dev ||
			    (e->dev == r->dev && e->ino < r->ino))
				i++;
			else
				j++;
			continue;
		}
		if (e->size == r->size && e->mtime_ns == r->mtime_ns) {
			/* A rename: the ctime it changed is taken on. */
			if (catalogue_rename(c, r->path, e->path) == -1 ||
			    (e->ctime_ns != r->ctime_ns &&
			     catalogue_set_ctime(c, r->id, e->ctime_ns) == -1))
				goto out;
			log_debug("renamed \"%s\" to \"%s\"", r->path, e->path);
			r->ctime_ns = e->ctime_ns;
			counts->unchanged++;
			if (pending_row(r, e->path, pending, arg) == -1)
				goto out;
			fresh[i] = NULL;
			gone[j] = NULL;
		}
		i++;
		j++;
	}
	for (j = 0; j < ngone; j++) {
		if (gone[j] == NULL)
			continue;
		if (catalogue_remove(c, gone[j]->id) == -1)
			goto out;
		log_debug("removed \"%s\"", gone[j]->path);
		counts->removed++;
	}
	/* New files in path order: their ids (and dates added) follow it. */
	for (i = 0, j = 0; i < nfresh; i++)
		if (fresh[i] != NULL)
			fresh[j++] = fresh[i];
	nfresh = j;
	if (nfresh > 0)
		qsort(fresh, nfresh, sizeof(*fresh), cmp_entry_ptr_path);
	for (i = 0; i < nfresh; i++) {
		if (upsert_entry(c, fresh[i], pending, arg) == -1)
			goto out;
		counts->added++;
	}

	/* Folders that are gone, with anything still under them. */
	for (i = 0, j = 0; j < dirs.l.n; j++) {
		int d = -1;

		while (i < ndirs &&
		       (d = strcmp(disk.v[i].path, dirs.l.v[j])) < 0)
			i++;
		if (i < ndirs && d == 0)
			continue;
		if (catalogue_remove_tree(c, dirs.l.v[j]) == -1)
			goto out;
	}
	rc = 0;
out:
	free(fresh);
	free(gone);
	for (i = 0; i < rows.n; i++)
		free(rows.v[i].path);
	free(rows.v);
	strlist_free(&dirs.l);
	scan_list_free(&disk);
	return rc;
}
