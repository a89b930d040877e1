/*
 * The reconcile walk. Design: a streaming merge, so that memory does not
 * grow with the share. The disk is walked folder by folder, each folder's
 * entries sorted as their paths sort as bytes (a folder's name followed by
 * '/'), so the files come in the order of the catalogue's path index; the
 * rows under the folder reconciled are read alongside through that index,
 * a page at a time (catalogue_foreach_after, nothing held open between
 * pages, so the merge and the caller's commits may write between them).
 * Held at once: one folder's entries per level of the walk, a page of
 * rows, the catalogue's folders under dir (a few hundred files each), and
 * what changed: the rows whose path is gone, and the new files met while
 * rows remained unread. Paths on both sides are kept or updated at once;
 * once every row is read, each new file is matched by device and inode
 * against the gone rows, so that a file that moved is recognised as a
 * rename (id and hash kept) rather than a removal plus an addition; the
 * rest is added, and the gone rows left are removed at the end.
 *
 * The walk runs in a thread of its own (struct walker), ahead of the
 * merge: listing, stat-ing and sorting folders is most of a rescan's work
 * and a tenth of a cold scan's, and the merge (the catalogue's reads and
 * writes) need not wait for it. It hands the entries over in path order,
 * WALK_CHUNK at a time, at most WALK_AHEAD chunks ahead (memory stays
 * bounded); a folder comes before its entries. If the merge fails, it
 * stops the walker and waits for it.
 */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* Fills e for path (taken over) with the stat st. */
static void entry_set(struct scan_entry *e, char *path, const struct stat *st)
{
	e->path = path;
	e->is_dir = S_ISDIR(st->st_mode);
	e->size = (uint64_t)st->st_size;
	e->mtime_ns = fsutil_mtime_ns(st);
	e->ctime_ns = fsutil_ctime_ns(st);
	e->dev = (uint64_t)st->st_dev;
	e->ino = (uint64_t)st->st_ino;
}

/* Appends a new entry for path (taken over) with the stat st to l. */
static void list_add(struct scan_list *l, char *path, const struct stat *st)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	entry_set(&l->v[l->n++], path, st);
}

/* A folder's names, listed before they are stat-ed: the walker sorts them
 * and stats each as it hands it over, so that a folder of a million files
 * holds its names (in blocks of NAMES_BLOCK bytes) and not a million
 * entries with their stat and full path; list_folder stats them all. */
#define NAMES_BLOCK (64 * 1024)

struct dname {
	const char *name;
	bool is_dir;
};

struct names {
	struct dname *v;
	size_t n, cap;
	char **blocks;
	size_t nblocks, used; /* used: bytes of the last block */
};

/* Adds the name s (n bytes) to ns. */
static void names_add(struct names *ns, const char *s, size_t n, bool is_dir)
{
	char *at;

	if (ns->nblocks == 0 || ns->used + n + 1 > NAMES_BLOCK) {
		ns->blocks = xreallocarray(ns->blocks, ns->nblocks + 1,
		                           sizeof(*ns->blocks));
		/* NAME_MAX is far below a block */
		ns->blocks[ns->nblocks++] = xmalloc(NAMES_BLOCK);
		ns->used = 0;
	}
	at = ns->blocks[ns->nblocks - 1] + ns->used;
	memcpy(at, s, n + 1);
	ns->used += n + 1;
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 256;
		ns->v = xreallocarray(ns->v, ns->cap, sizeof(*ns->v));
	}
	ns->v[ns->n++] = (struct dname){at, is_dir};
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->nblocks; i++)
		free(ns->blocks[i]);
	free(ns->blocks);
	free(ns->v);
}

/* Orders the names of one folder as their paths sort as bytes (the path
 * index's order), a folder's name followed by the '/' of its children's
 * paths: so "b" < "b c" < "b/x" < "b0" whichever is a folder. */
static int cmp_dname(const void *a, const void *b)
{
	const struct dname *x = a, *y = b;
	const unsigned char *p = (const unsigned char *)x->name;
	const unsigned char *q = (const unsigned char *)y->name;
	size_t i;
	int cp, cq;

	for (i = 0; p[i] != '\0' && p[i] == q[i]; i++)
		;
	if (p[i] != '\0' && q[i] != '\0')
		return p[i] < q[i] ? -1 : 1;
	/* One name is a prefix of the other: a folder's continues with '/'
	 * (names hold no '/', so the two never tie). */
	cp = p[i] != '\0' ? p[i] : x->is_dir ? '/' : 0;
	cq = q[i] != '\0' ? q[i] : y->is_dir ? '/' : 0;
	return cp < cq ? -1 : cp > cq ? 1 : 0;
}

/* Lists the names of the open folder d (path dir) that may be walked:
 * files (unless dirs_only) and folders, by the entry's type, else a stat;
 * not links, not excluded. */
static void list_names(DIR *d, const char *dir, const struct strlist *exclude,
                       bool dirs_only, struct names *out)
{
	struct dirent *de;
	struct stat st;

	while ((errno = 0, de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		unsigned char type = de->d_type;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (type == DT_LNK || exclude_name(exclude, name))
			continue;
		if (dirs_only && type != DT_DIR && type != DT_UNKNOWN)
			continue;
		if (type == DT_UNKNOWN) {
			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) ==
			    -1)
				continue; /* gone; or said when stat-ed */
			type = S_ISDIR(st.st_mode)   ? DT_DIR
			       : S_ISREG(st.st_mode) ? DT_REG
			                             : DT_UNKNOWN;
		}
		if (type == DT_DIR || (type == DT_REG && !dirs_only))
			names_add(out, name, strlen(name), type == DT_DIR);
	}
	if (errno != 0)
		log_warn("cannot read folder \"%s\"", dir);
}

/* Stats the name n of the open folder d (path dir) into *st; returns its
 * path (allocated) if it is listed, a readable file or folder still of the
 * type it was listed with, else NULL. */
static char *stat_name(DIR *d, const char *dir, const struct dname *n,
                       struct stat *st)
{
	char *path = fsutil_join(dir, n->name);

	if (fstatat(dirfd(d), n->name, st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			log_warn("cannot stat \"%s\"", path);
		free(path);
		return NULL;
	}
	if (S_ISDIR(st->st_mode) != n->is_dir ||
	    !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) {
		/* replaced since it was listed: the watcher tells, or the
		 * next reconcile sees it */
		free(path);
		return NULL;
	}
	if (!beneath_readable_at(dirfd(d), n->name, n->is_dir)) {
		log_debug("\"%s\" is not readable: not listed", path);
		free(path);
		return NULL;
	}
	return path;
}

/* Appends the listed entries of the open folder d (path dir) to out, or
 * its folders only if dirs_only, without going into its folders. */
static void list_folder(DIR *d, const char *dir, const struct strlist *exclude,
                        bool dirs_only, struct scan_list *out)
{
	struct names names = {0};

	list_names(d, dir, exclude, dirs_only, &names);
	for (size_t i = 0; i < names.n; i++) {
		struct stat st;
		char *path = stat_name(d, dir, &names.v[i], &st);

		if (path != NULL)
			list_add(out, path, &st);
	}
	names_free(&names);
}

/* Opens the subfolder path (an entry listed in the open folder d, whose
 * path is dir) for reading. Returns the descriptor, or -1 (logged). */
static int open_sub(DIR *d, const char *dir, const char *path)
{
	const char *name = path + (dir[0] != '\0' ? strlen(dir) + 1 : 0);
	int sub;

	sub = openat(dirfd(d), name,
	             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub == -1 && errno != ENOENT)
		log_warn("cannot open folder \"%s\"", path);
	return sub;
}

/* Walks the open folder dfd (path dir), taking dfd over. */
static void walk_fd(int dfd, const char *dir, const struct strlist *exclude,
                    bool dirs_only, struct scan_list *out)
{
	size_t first = out->n;
	DIR *d;

	d = fdopendir(dfd);
	if (d == NULL) {
		log_warn("cannot read folder \"%s\"", dir);
		close(dfd);
		return;
	}
	list_folder(d, dir, exclude, dirs_only, out);
	for (size_t i = first, n = out->n; i < n; i++) {
		const char *path = out->v[i].path; /* out->v may move */
		int sub;

		if (!out->v[i].is_dir)
			continue;
		sub = open_sub(d, dir, path);
		if (sub != -1)
			walk_fd(sub, path, exclude, dirs_only, out);
	}
	closedir(d);
}

/* scan_walk, or scan_walk_dirs if dirs_only. */
static int walk(int rootfd, const char *dir, const struct strlist *exclude,
                bool dirs_only, struct scan_list *out)
{
	int dfd;

	dfd = beneath_open(rootfd, dir, O_RDONLY | O_DIRECTORY);
	if (dfd == -1)
		return -1;
	walk_fd(dfd, dir, exclude, dirs_only, out);
	return 0;
}

int scan_walk(int rootfd, const char *dir, const struct strlist *exclude,
              struct scan_list *out)
{
	return walk(rootfd, dir, exclude, false, out);
}

int scan_walk_dirs(int rootfd, const char *dir, const struct strlist *exclude,
                   struct scan_list *out)
{
	return walk(rootfd, dir, exclude, true, out);
}

/* A catalogue row, as much as the merge needs. */
struct row {
	int64_t id;
	char *path;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
	uint64_t dev, ino;
	bool hashed;
	bool renamed; /* a gone row already taken by a rename */
};

/* The rows read a page at a time (catalogue_foreach_after). */
#define ROW_PAGE 512

/* The state of one streaming merge. */
struct merge {
	struct catalogue *c;
	const char *dir;
	struct scan_counts *counts;
	int (*pending)(const struct cat_file *, void *);
	void *arg;
	/* The page of rows being merged, and where the next one starts. */
	struct row *page;
	size_t npage, ipage;
	char *last;
	bool rows_done; /* every row under dir has been read */
	/* Rows under dir whose path is not on disk: renamed or removed once
	 * every row has been seen. */
	struct row *gone;
	size_t ngone, capgone;
	/* New files met while rows remained unread (one of them might be the
	 * file a new file was renamed from): placed once they are all read. */
	struct scan_list held;
	/* The folders of the catalogue under dir, and which the walk met. */
	struct strlist dirs;
	bool *dir_seen;
	bool failed;
};

/* catalogue_foreach_after callback: appends the row f to the page. */
static int page_row(const struct cat_file *f, void *arg)
{
	struct merge *m = arg;
	struct row *w = &m->page[m->npage++];

	w->id = f->id;
	w->path = xstrdup(f->path);
	w->size = f->size;
	w->mtime_ns = f->mtime_ns;
	w->ctime_ns = f->ctime_ns;
	w->dev = f->dev;
	w->ino = f->ino;
	w->hashed = f->hashed;
	w->renamed = false;
	return 0;
}

/* catalogue_foreach_dir_under callback: keeps the folder d. */
static int collect_dir(const char *d, void *arg)
{
	strlist_add(arg, d);
	return 0;
}

/* Orders gone rows by (dev, ino), then path for determinism. */
static int cmp_row_ino(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Upserts the disk entry e; reports it as pending. Returns 0 or -1. */
static int upsert_entry(struct merge *m, const struct scan_entry *e)
{
	struct cat_file f = {0};

	f.path = e->path;
	f.size = e->size;
	f.mtime_ns = e->mtime_ns;
	f.ctime_ns = e->ctime_ns;
	f.dev = e->dev;
	f.ino = e->ino;
	if (catalogue_upsert(m->c, &f) == -1)
		return -1;
	return m->pending(&f, m->arg);
}

/* Reports the row r, at path, as pending if it has no hash. Returns what
 * pending returned, or 0. */
static int pending_row(struct merge *m, const struct row *r, char *path)
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
	return m->pending(&f, m->arg);
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

/* Places the new file e once every row is known: a rename of a gone row
 * with the same device, inode, size and mtime (id and hash kept, the new
 * ctime taken on), else a new row. Returns 0 or -1. */
static int place_new(struct merge *m, const struct scan_entry *e)
{
	char none[1] = "";
	struct row key = {.dev = e->dev, .ino = e->ino, .path = none};
	size_t lo = 0, hi = m->ngone;

	/* The first gone row at (dev, ino): "" sorts before every path. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_row_ino(&m->gone[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < m->ngone && m->gone[lo].dev == e->dev &&
	       m->gone[lo].ino == e->ino;
	     lo++) {
		struct row *r = &m->gone[lo];

		if (r->renamed || r->size != e->size ||
		    r->mtime_ns != e->mtime_ns)
			continue;
		if (catalogue_rename(m->c, r->path, e->path) == -1 ||
		    (e->ctime_ns != r->ctime_ns &&
		     catalogue_set_ctime(m->c, r->id, e->ctime_ns) == -1))
			return -1;
		log_debug("renamed \"%s\" to \"%s\"", r->path, e->path);
		r->renamed = true;
		r->ctime_ns = e->ctime_ns;
		m->counts->unchanged++;
		m->counts->renamed++;
		return pending_row(m, r, e->path);
	}
	if (upsert_entry(m, e) == -1)
		return -1;
	m->counts->added++;
	return 0;
}

/* Every row has been read: sorts the gone rows for place_new and places
 * the new files held meanwhile, in path order. Returns 0 or -1. */
static int rows_finished(struct merge *m)
{
	int rc = 0;

	m->rows_done = true;
	if (m->ngone > 0)
		qsort(m->gone, m->ngone, sizeof(*m->gone), cmp_row_ino);
	for (size_t i = 0; i < m->held.n && rc == 0; i++)
		rc = place_new(m, &m->held.v[i]);
	scan_list_free(&m->held);
	return rc;
}

/* Returns the next unmerged row, reading the next page when needed; NULL
 * once every row has been read (or on error: m->failed). */
static struct row *next_row(struct merge *m)
{
	int n;

	if (m->ipage < m->npage)
		return &m->page[m->ipage];
	if (m->rows_done)
		return NULL;
	for (size_t i = 0; i < m->npage; i++)
		free(m->page[i].path);
	m->npage = m->ipage = 0;
	n = catalogue_foreach_after(m->c, m->dir, m->last, ROW_PAGE, page_row,
	                            m);
	if (n == -1) {
		m->failed = true;
		return NULL;
	}
	m->counts->rows_read += (uint64_t)n;
	if (n > 0) {
		free(m->last);
		m->last = xstrdup(m->page[n - 1].path);
	}
	if (n == 0) {
		if (rows_finished(m) == -1)
			m->failed = true;
		return NULL;
	}
	return &m->page[0];
}

/* Takes the current row r over as gone (its path is not on disk). */
static void row_gone(struct merge *m, struct row *r)
{
	if (m->ngone == m->capgone) {
		m->capgone = m->capgone ? m->capgone * 2 : 64;
		m->gone = xreallocarray(m->gone, m->capgone, sizeof(*m->gone));
	}
	m->gone[m->ngone++] = *r;
	r->path = NULL;
	m->ipage++;
}

/* Merges the disk file e (files come in path order) with the rows. */
static int merge_file(struct merge *m, const struct scan_entry *e)
{
	struct row *r;
	int d = 1;

	while ((r = next_row(m)) != NULL && (d = strcmp(r->path, e->path)) < 0)
		row_gone(m, r);
	if (m->failed)
		return -1;
	if (r != NULL && d == 0) {
		bool adopt;
		int rc;

		if (unchanged(e, r, &adopt)) {
			if (adopt &&
			    catalogue_set_ctime(m->c, r->id, e->ctime_ns) == -1)
				return -1;
			r->ctime_ns = e->ctime_ns;
			m->counts->unchanged++;
			rc = pending_row(m, r, r->path);
		} else {
			m->counts->changed++;
			rc = upsert_entry(m, e);
		}
		m->ipage++;
		return rc;
	}
	if (!m->rows_done) {
		/* Rows remain: e may be where one of them went. */
		struct scan_list *h = &m->held;

		if (h->n == h->cap) {
			h->cap = h->cap ? h->cap * 2 : 64;
			h->v = xreallocarray(h->v, h->cap, sizeof(*h->v));
		}
		h->v[h->n] = *e;
		h->v[h->n++].path = xstrdup(e->path);
		return 0;
	}
	return place_new(m, e);
}

/* The walk met the folder path: adds it to the catalogue if new. */
static int merge_dir(struct merge *m, const char *path)
{
	size_t lo = 0, hi = m->dirs.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(m->dirs.v[mid], path);

		if (d == 0) {
			m->dir_seen[mid] = true;
			return 0;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return catalogue_add_dir(m->c, path);
}

#define WALK_CHUNK 512 /* entries handed over at a time */
#define WALK_AHEAD 8   /* chunks the walker may be ahead of the merge */

/* Entries of the walk, in path order, handed to the merge. */
struct walk_chunk {
	struct scan_entry v[WALK_CHUNK];
	size_t n;
	struct walk_chunk *next;
};

/* The walk's thread and what it hands over. */
struct walker {
	const struct strlist *exclude;
	int dfd;         /* the folder walked (taken over) */
	const char *dir; /* its path */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct walk_chunk *head, *tail; /* handed over, under lock */
	size_t nchunks;
	bool done;              /* the walker handed everything over */
	bool stop;              /* the merge gave up: the walker stops */
	struct walk_chunk *cur; /* being filled, the walker's own */
};

/* Frees a chunk and the paths in it. */
static void chunk_free(struct walk_chunk *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].path);
	free(c);
}

/* Walker: hands the chunk being filled over, waiting while the merge is
 * WALK_AHEAD chunks behind. Returns false if the merge stopped it. */
static bool walker_hand(struct walker *w)
{
	struct walk_chunk *c = w->cur;
	bool stop;

	w->cur = NULL;
	pthread_mutex_lock(&w->lock);
	while (w->nchunks >= WALK_AHEAD && !w->stop)
		pthread_cond_wait(&w->cond, &w->lock);
	stop = w->stop;
	if (!stop && c != NULL) {
		if (w->tail != NULL)
			w->tail->next = c;
		else
			w->head = c;
		w->tail = c;
		w->nchunks++;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	if (stop && c != NULL)
		chunk_free(c);
	return !stop;
}

/* Walker: appends e (its path taken over). Returns false if stopped. */
static bool walker_add(struct walker *w, struct scan_entry *e)
{
	if (w->cur == NULL)
		w->cur = xcalloc(1, sizeof(*w->cur));
	w->cur->v[w->cur->n++] = *e;
	e->path = NULL;
	return w->cur->n < WALK_CHUNK || walker_hand(w);
}

/* Walker: lists the open folder dfd (path dir, taken over) in path order,
 * each folder followed by its own entries. Returns false if stopped. */
static bool walker_folder(struct walker *w, int dfd, const char *dir)
{
	struct names here = {0};
	bool go = true;
	DIR *d;

	d = fdopendir(dfd);
	if (d == NULL) {
		log_warn("cannot read folder \"%s\"", dir);
		close(dfd);
		return true;
	}
	list_names(d, dir, w->exclude, false, &here);
	if (here.n > 0)
		qsort(here.v, here.n, sizeof(*here.v), cmp_dname);
	for (size_t i = 0; i < here.n && go; i++) {
		struct scan_entry e;
		struct stat st;
		char *path = stat_name(d, dir, &here.v[i], &st), *sub_path;
		int sub;

		if (path == NULL)
			continue;
		entry_set(&e, path, &st);
		sub_path = e.is_dir ? xstrdup(e.path) : NULL;
		go = walker_add(w, &e);
		if (go && sub_path != NULL &&
		    (sub = open_sub(d, dir, sub_path)) != -1)
			go = walker_folder(w, sub, sub_path);
		free(sub_path);
	}
	closedir(d);
	names_free(&here);
	return go;
}

/* The walker thread. */
static void *walker_main(void *arg)
{
	struct walker *w = arg;

	if (walker_folder(w, w->dfd, w->dir) && w->cur != NULL)
		(void)walker_hand(w);
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Merge: takes the next chunk, waiting for the walker; NULL once the walk
 * is over. */
static struct walk_chunk *walker_next(struct walker *w)
{
	struct walk_chunk *c;

	pthread_mutex_lock(&w->lock);
	while (w->head == NULL && !w->done)
		pthread_cond_wait(&w->cond, &w->lock);
	c = w->head;
	if (c != NULL) {
		w->head = c->next;
		if (w->head == NULL)
			w->tail = NULL;
		w->nchunks--;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return c;
}

/* Merge: stops the walker (if still walking), waits for it and frees what
 * it handed over. */
static void walker_end(struct walker *w)
{
	struct walk_chunk *c, *next;

	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	for (c = w->head; c != NULL; c = next) {
		next = c->next;
		chunk_free(c);
	}
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

/* Walks the open folder dfd (path dir, taken over) in path order in the
 * walker's thread, merging each entry as it comes. Returns 0 or -1. */
static int walk_merge(struct merge *m, int dfd, const char *dir,
                      const struct strlist *exclude)
{
	struct walker w = {.exclude = exclude, .dfd = dfd, .dir = dir};
	struct walk_chunk *c;
	int rc = 0, err;

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	err = pthread_create(&w.thread, NULL, walker_main, &w);
	if (err != 0) {
		log_warnx("cannot start the walk's thread: %s", strerror(err));
		close(dfd);
		pthread_cond_destroy(&w.cond);
		pthread_mutex_destroy(&w.lock);
		return -1;
	}
	while (rc == 0 && (c = walker_next(&w)) != NULL) {
		for (size_t i = 0; i < c->n && rc == 0; i++) {
			const struct scan_entry *e = &c->v[i];

			rc = e->is_dir ? merge_dir(m, e->path)
			               : merge_file(m, e);
		}
		chunk_free(c);
	}
	walker_end(&w);
	return rc;
}

int scan_reconcile(struct catalogue *c, int rootfd, const char *dir,
                   const struct strlist *exclude, struct scan_counts *counts,
                   int (*pending)(const struct cat_file *f, void *arg),
                   void *arg, char **cause)
{
	struct merge m = {.c = c,
	                  .dir = dir,
	                  .counts = counts,
	                  .pending = pending,
	                  .arg = arg};
	int dfd, rc = -1;
	size_t i;

	dfd = beneath_open(rootfd, dir, O_RDONLY | O_DIRECTORY);
	if (dfd == -1) {
		if (cause != NULL)
			*cause = xasprintf("cannot read folder \"%s\": %s",
			                   dir[0] ? dir : ".", strerror(errno));
		return -1;
	}
	/* The folders are few (one for hundreds of files): held whole. */
	if (catalogue_foreach_dir_under(c, dir, collect_dir, &m.dirs) == -1) {
		close(dfd);
		goto out;
	}
	m.dir_seen = xcalloc(m.dirs.n + 1, sizeof(*m.dir_seen));
	m.page = xcalloc(ROW_PAGE, sizeof(*m.page));
	if (walk_merge(&m, dfd, dir, exclude) == -1)
		goto out;
	/* The rows after the last file on disk are gone. */
	while (next_row(&m) != NULL)
		row_gone(&m, &m.page[m.ipage]);
	if (m.failed)
		goto out;
	for (i = 0; i < m.ngone; i++) {
		if (m.gone[i].renamed)
			continue;
		if (catalogue_remove(c, m.gone[i].id) == -1)
			goto out;
		log_debug("removed \"%s\"", m.gone[i].path);
		counts->removed++;
	}
	/* Folders that are gone, with anything still under them. */
	for (i = 0; i < m.dirs.n; i++)
		if (!m.dir_seen[i] &&
		    catalogue_remove_tree(c, m.dirs.v[i]) == -1)
			goto out;
	rc = 0;
out:
	for (i = 0; i < m.npage; i++)
		free(m.page[i].path);
	free(m.page);
	for (i = 0; i < m.ngone; i++)
		free(m.gone[i].path);
	free(m.gone);
	free(m.last);
	scan_list_free(&m.held);
	strlist_free(&m.dirs);
	free(m.dir_seen);
	return rc;
}
