/*
 * The indexer, the catalogue's single writer.
 *
 * Design. One thread loops over a message queue (mutex + condition
 * variable). Messages are file-system facts ("look at path", "from was
 * renamed to to", "reconcile everything"), hash results and jobs from
 * other threads. The disk is the source of truth: for every fact the
 * indexer looks at the disk again (beneath the share root, never through a
 * link) and brings the catalogue in line, so a lost or duplicated event
 * costs a stat, never a wrong row.
 *
 * Files waiting to be hashed live in a table keyed by path (struct pend)
 * and in a min-heap of deadlines. A file is hashed once it is settled: its
 * size and mtime did not change for `settle` (watcher events push the
 * deadline back; files found by a reconcile are settled when their mtime is
 * older than `settle`). A file whose hash is in flight and that changes is
 * marked dirty and examined again when its result comes back; the hash
 * pool itself reports a file that changed while it was read.
 *
 * Writes are batched: a transaction stays open while work flows and is
 * committed after COMMIT_OPS changes, COMMIT_MS, or when the queue runs
 * dry. Events for the main thread are sent after the commit. If a write
 * fails (full disk), the transaction is rolled back (SQLite keeps the file
 * intact), the failure is logged and a full reconcile is retried later:
 * since the disk is the truth, nothing is lost.
 */
#include "indexer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <search.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "catalogue.h"
#include "fsutil.h"
#include "hashpool.h"
#include "log.h"
#include "watch.h"

#define COMMIT_OPS   2000
#define COMMIT_MS    200
#define RETRY_MS     30000
#define PEND_BUCKETS 4096

enum msg_kind {
	MSG_PATH,
	MSG_RENAME,
	MSG_RESCAN,
	MSG_HASHED,
	MSG_DOWNLOAD,
	MSG_DESCRIBE,
	MSG_UPLOADER,
	MSG_ROOM,
};

struct msg {
	enum msg_kind kind;
	/* MSG_PATH, MSG_RENAME; MSG_DESCRIBE text; MSG_UPLOADER path, JID */
	char *path, *path2;
	int64_t id;
	uint64_t bytes;
	bool completed;
	struct hash_job *job; /* MSG_HASHED */
	struct msg *next;
};

/* A file waiting to settle or being hashed. */
struct pend {
	char *path;
	int64_t id;
	uint64_t size;
	int64_t mtime_ns;
	uint64_t seq;  /* matches the newest heap item for it */
	bool inflight; /* a hash job is out */
	bool dirty;    /* something happened while it was out */
	struct pend *next;
};

/* The files waiting to be hashed, by id, for indexer_pending: how many
 * pend entries have the id, and the hash the file had before, if known. */
struct pend_id {
	int64_t id;
	unsigned refs;
	bool has_prev;
	unsigned char prev[32];
};

struct heap_item {
	int64_t due_ms;
	uint64_t seq;
	char *path;
};

/* Something to tell the main thread once committed. */
struct note {
	enum indexer_event_kind kind;
	int64_t id;
	char *path;
};

struct indexer {
	const struct config *cfg;
	struct indexer_options opt;
	int rootfd;
	struct catalogue *cat;
	struct hashpool *pool;
	struct watch *watch;
	pthread_t thread;

	/* Shared with other threads, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t wake, idle_cond;
	struct msg *head, *tail;
	bool stopping, idle, failed;
	struct scan_counts counts;
	uint64_t rescan_every_ms;
	uint64_t hashed_total, waiting; /* for indexer_progress */

	/* The ids of the pending files (struct pend_id), under pend_lock:
	 * the indexer thread changes them, other threads look them up. */
	pthread_mutex_t pend_lock;
	void *pend_ids;

	/* The indexer thread's own state. */
	struct pend *pend[PEND_BUCKETS];
	size_t npend, ninflight;
	struct heap_item *heap;
	size_t nheap, capheap;
	uint64_t seq;
	bool in_txn;
	unsigned txn_ops;
	int64_t txn_started_ms;
	struct note *notes;
	size_t nnotes, capnotes;
	int64_t next_rescan_ms; /* 0: none scheduled */
};

/* Returns a monotonic clock in milliseconds. */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns the wall clock in nanoseconds since the epoch. */
static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- the message queue ----------------------------------------------- */

/* Queues m (taken over) and wakes the indexer thread. */
static void post(struct indexer *ix, struct msg *m)
{
	m->next = NULL;
	pthread_mutex_lock(&ix->lock);
	if (ix->tail != NULL)
		ix->tail->next = m;
	else
		ix->head = m;
	ix->tail = m;
	ix->idle = false;
	pthread_cond_signal(&ix->wake);
	pthread_mutex_unlock(&ix->lock);
}

static struct msg *msg_new(enum msg_kind kind)
{
	struct msg *m = xcalloc(1, sizeof(*m));

	m->kind = kind;
	return m;
}

static void msg_free(struct msg *m)
{
	free(m->path);
	free(m->path2);
	hash_job_free(m->job);
	free(m);
}

void indexer_post_rescan(struct indexer *ix)
{
	post(ix, msg_new(MSG_RESCAN));
}

void indexer_post_download(struct indexer *ix, int64_t id, uint64_t bytes,
                           bool completed)
{
	struct msg *m = msg_new(MSG_DOWNLOAD);

	m->id = id;
	m->bytes = bytes;
	m->completed = completed;
	post(ix, m);
}

void indexer_post_describe(struct indexer *ix, int64_t id, const char *text)
{
	struct msg *m = msg_new(MSG_DESCRIBE);

	m->id = id;
	m->path = text && text[0] ? xstrdup(text) : NULL;
	post(ix, m);
}

void indexer_post_uploader(struct indexer *ix, const char *path,
                           const char *uploader)
{
	struct msg *m = msg_new(MSG_UPLOADER);

	m->path = xstrdup(path);
	m->path2 = xstrdup(uploader);
	post(ix, m);
}

void indexer_post_room(struct indexer *ix, const char *room, const char *nick,
                       bool remember)
{
	struct msg *m = msg_new(MSG_ROOM);

	m->path = xstrdup(room);
	m->path2 = nick && nick[0] ? xstrdup(nick) : NULL;
	m->completed = remember;
	post(ix, m);
}

void indexer_post_path(struct indexer *ix, const char *path)
{
	struct msg *m = msg_new(MSG_PATH);

	m->path = xstrdup(path);
	post(ix, m);
}

void indexer_post_rename(struct indexer *ix, const char *from, const char *to)
{
	struct msg *m = msg_new(MSG_RENAME);

	m->path = xstrdup(from);
	m->path2 = xstrdup(to);
	post(ix, m);
}

void indexer_set_periodic_rescan(struct indexer *ix, uint64_t interval_ms)
{
	pthread_mutex_lock(&ix->lock);
	ix->rescan_every_ms = interval_ms;
	pthread_cond_signal(&ix->wake);
	pthread_mutex_unlock(&ix->lock);
}

struct watch *indexer_watch(struct indexer *ix)
{
	return ix->watch;
}

/* Hash pool callback (a worker thread): queues the result. */
static void hash_done(struct hash_job *job, void *arg)
{
	struct msg *m = msg_new(MSG_HASHED);

	m->job = job;
	post(arg, m);
}

/* --- pending files --------------------------------------------------- */

/* Orders pend_id by id. */
static int cmp_pend_id(const void *a, const void *b)
{
	const struct pend_id *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Counts one more pending entry for id; prev (if not NULL) is the hash
 * the file had before it changed. */
static void pend_id_add(struct indexer *ix, int64_t id,
                        const unsigned char *prev)
{
	struct pend_id k = {.id = id}, **found;

	pthread_mutex_lock(&ix->pend_lock);
	found = tsearch(&k, &ix->pend_ids, cmp_pend_id);
	if (found == NULL)
		fatalx("indexer: out of memory");
	if (*found == &k) {
		*found = xcalloc(1, sizeof(k));
		(*found)->id = id;
	}
	(*found)->refs++;
	if (prev != NULL) {
		(*found)->has_prev = true;
		memcpy((*found)->prev, prev, 32);
	}
	pthread_mutex_unlock(&ix->pend_lock);
}

/* Counts one pending entry for id less. */
static void pend_id_drop(struct indexer *ix, int64_t id)
{
	struct pend_id k = {.id = id}, **found, *node;

	pthread_mutex_lock(&ix->pend_lock);
	found = tfind(&k, &ix->pend_ids, cmp_pend_id);
	if (found != NULL && --(*found)->refs == 0) {
		node = *found;
		tdelete(node, &ix->pend_ids, cmp_pend_id);
		free(node);
	}
	pthread_mutex_unlock(&ix->pend_lock);
}

bool indexer_pending(struct indexer *ix, int64_t id, unsigned char prev[32],
                     bool *has_prev)
{
	struct pend_id k = {.id = id}, **found;

	pthread_mutex_lock(&ix->pend_lock);
	found = tfind(&k, &ix->pend_ids, cmp_pend_id);
	*has_prev = found != NULL && (*found)->has_prev;
	if (*has_prev)
		memcpy(prev, (*found)->prev, 32);
	pthread_mutex_unlock(&ix->pend_lock);
	return found != NULL;
}

static size_t pend_bucket(const char *path)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h % PEND_BUCKETS);
}

static struct pend *pend_find(struct indexer *ix, const char *path)
{
	struct pend *p;

	for (p = ix->pend[pend_bucket(path)]; p != NULL; p = p->next)
		if (strcmp(p->path, path) == 0)
			return p;
	return NULL;
}

static void pend_delete(struct indexer *ix, struct pend *victim)
{
	struct pend **pp = &ix->pend[pend_bucket(victim->path)];

	while (*pp != victim)
		pp = &(*pp)->next;
	*pp = victim->next;
	pend_id_drop(ix, victim->id);
	free(victim->path);
	free(victim);
	ix->npend--;
}

/* Heap helpers: a binary min-heap ordered by due time. */
static void heap_swap(struct heap_item *a, struct heap_item *b)
{
	struct heap_item t = *a;

	*a = *b;
	*b = t;
}

static void heap_push(struct indexer *ix, int64_t due, uint64_t seq,
                      const char *path)
{
	size_t i;

	if (ix->nheap == ix->capheap) {
		ix->capheap = ix->capheap ? ix->capheap * 2 : 1024;
		ix->heap =
		    xreallocarray(ix->heap, ix->capheap, sizeof(*ix->heap));
	}
	i = ix->nheap++;
	ix->heap[i] = (struct heap_item){due, seq, xstrdup(path)};
	while (i > 0 && ix->heap[(i - 1) / 2].due_ms > ix->heap[i].due_ms) {
		heap_swap(&ix->heap[(i - 1) / 2], &ix->heap[i]);
		i = (i - 1) / 2;
	}
}

/* Removes the top item into *out (the caller frees out->path). */
static void heap_pop(struct indexer *ix, struct heap_item *out)
{
	size_t i = 0;

	*out = ix->heap[0];
	ix->heap[0] = ix->heap[--ix->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < ix->nheap && ix->heap[l].due_ms < ix->heap[m].due_ms)
			m = l;
		if (r < ix->nheap && ix->heap[r].due_ms < ix->heap[m].due_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(&ix->heap[i], &ix->heap[m]);
		i = m;
	}
}

/* Records that the file f should be hashed once settled at due_ms; prev
 * (or NULL) is the hash it had before it changed. */
static void pend_touch(struct indexer *ix, const struct cat_file *f,
                       int64_t due_ms, const unsigned char *prev)
{
	struct pend *p = pend_find(ix, f->path);

	if (p == NULL) {
		size_t b = pend_bucket(f->path);

		p = xcalloc(1, sizeof(*p));
		p->path = xstrdup(f->path);
		p->next = ix->pend[b];
		ix->pend[b] = p;
		ix->npend++;
		p->id = f->id;
		pend_id_add(ix, p->id, prev);
	} else if (p->id != f->id || prev != NULL) {
		pend_id_add(ix, f->id, prev);
		pend_id_drop(ix, p->id);
	}
	p->id = f->id;
	p->size = f->size;
	p->mtime_ns = f->mtime_ns;
	if (p->inflight) {
		p->dirty = true;
		return;
	}
	p->seq = ++ix->seq;
	heap_push(ix, due_ms, p->seq, p->path);
}

/* Returns when a file with mtime mtime_ns counts as settled. */
static int64_t settled_at(const struct indexer *ix, int64_t mtime_ns)
{
	int64_t settle_ns = (int64_t)ix->cfg->share.settle_ms * 1000000;
	int64_t age_ns = wall_ns() - mtime_ns;

	/* An mtime in the future (clock skew, touch -d) does not hold a
	 * file back longer than one settle period. */
	if (age_ns >= settle_ns || age_ns < 0)
		return now_ms() +
		       (age_ns < 0 ? (int64_t)ix->cfg->share.settle_ms : 0);
	return now_ms() + (settle_ns - age_ns) / 1000000 + 1;
}

/* scan_reconcile callback: a file needs hashing. */
static void reconcile_pending(const struct cat_file *f, void *arg)
{
	struct indexer *ix = arg;

	pend_touch(ix, f, settled_at(ix, f->mtime_ns), NULL);
}

/* --- transactions ------------------------------------------------------ */

/* Opens a transaction if none is open. Returns 0 or -1. */
static int txn(struct indexer *ix)
{
	if (ix->in_txn) {
		ix->txn_ops++;
		return 0;
	}
	if (catalogue_begin(ix->cat) == -1)
		return -1;
	ix->in_txn = true;
	ix->txn_ops = 1;
	ix->txn_started_ms = now_ms();
	return 0;
}

static void note_add(struct indexer *ix, enum indexer_event_kind kind,
                     int64_t id, const char *path)
{
	if (ix->nnotes == ix->capnotes) {
		ix->capnotes = ix->capnotes ? ix->capnotes * 2 : 256;
		ix->notes =
		    xreallocarray(ix->notes, ix->capnotes, sizeof(*ix->notes));
	}
	ix->notes[ix->nnotes++] = (struct note){kind, id, xstrdup(path)};
}

static void notes_clear(struct indexer *ix)
{
	for (size_t i = 0; i < ix->nnotes; i++)
		free(ix->notes[i].path);
	ix->nnotes = 0;
}

/* A write failed: roll back, remember, and retry with a full reconcile. */
static void write_failed(struct indexer *ix)
{
	if (ix->opt.watch)
		log_errorx("catalogue write failed; rolled back, nothing is "
		           "lost: the share is reconciled again in %d s",
		           RETRY_MS / 1000);
	else
		log_errorx("catalogue write failed; rolled back, nothing is "
		           "lost");
	if (ix->in_txn)
		(void)catalogue_rollback(ix->cat);
	ix->in_txn = false;
	notes_clear(ix);
	ix->next_rescan_ms = now_ms() + RETRY_MS;
	pthread_mutex_lock(&ix->lock);
	ix->failed = true;
	pthread_cond_broadcast(&ix->idle_cond); /* fisbot scan gives up */
	pthread_mutex_unlock(&ix->lock);
}

/* Commits the open transaction, then logs and sends its events. */
static void commit(struct indexer *ix)
{
	if (!ix->in_txn)
		return;
	if (catalogue_commit(ix->cat) == -1) {
		write_failed(ix);
		return;
	}
	ix->in_txn = false;
	for (size_t i = 0; i < ix->nnotes; i++) {
		struct indexer_event ev = {ix->notes[i].kind, ix->notes[i].id,
		                           ix->notes[i].path};

		if (ev.kind == INDEXER_FILE_READY)
			log_debug("recorded \"%s\"", ev.path);
		if (ix->opt.notify != NULL)
			ix->opt.notify(&ev, ix->opt.notify_arg);
	}
	notes_clear(ix);
}

/* --- applying facts ---------------------------------------------------- */

/* Forgets the files waiting at or under path (except those being hashed:
 * their result will be examined). */
static void pend_forget(struct indexer *ix, const char *path)
{
	struct pend *p = pend_find(ix, path), *next;

	if (p != NULL) {
		if (!p->inflight)
			pend_delete(ix, p);
		return;
	}
	if (ix->npend == 0)
		return;
	for (size_t b = 0; b < PEND_BUCKETS; b++) {
		for (p = ix->pend[b]; p != NULL; p = next) {
			next = p->next;
			if (!p->inflight && fsutil_is_under(p->path, path))
				pend_delete(ix, p);
		}
	}
}

/* Removes whatever the catalogue has at path (a file or a folder). */
static int remove_path(struct indexer *ix, const char *path)
{
	struct cat_file f = {0};
	int found = catalogue_get_by_path(ix->cat, path, &f);

	pend_forget(ix, path);

	if (found == 1) {
		if (txn(ix) == -1 || catalogue_remove(ix->cat, f.id) == -1)
			found = -1;
		else
			note_add(ix, INDEXER_FILE_REMOVED, f.id, path);
		log_debug("removed \"%s\"", path);
	} else if (found == 0 && catalogue_is_dir(ix->cat, path) == 1) {
		if (txn(ix) == -1 || catalogue_remove_tree(ix->cat, path) == -1)
			found = -1;
		log_debug("removed folder \"%s\"", path);
	}
	cat_file_clear(&f);
	return found == -1 ? -1 : 0;
}

/* Logs at level (log.h has no level-taking variadic function). */
static void log_at(enum log_level level, const char *fmt, ...) LOG_PRINTF(2, 3);
static void log_at(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, 0, fmt, ap);
	va_end(ap);
}

/* Reconciles the folder dir ("" for the whole share). */
static int reconcile(struct indexer *ix, const char *dir)
{
	struct scan_counts counts = {0};
	char *cause = NULL;
	int rc;

	if (txn(ix) == -1)
		return -1;
	if (dir[0] != '\0' && catalogue_is_dir(ix->cat, dir) != 1 &&
	    catalogue_add_dir(ix->cat, dir) == -1)
		return -1;
	rc = scan_reconcile(ix->cat, ix->rootfd, dir, &ix->cfg->share.exclude,
	                    &counts, reconcile_pending, ix, &cause);
	if (rc == -1 && cause != NULL) {
		/* The folder went away meanwhile, or is unreadable. */
		log_warnx("%s", cause);
		free(cause);
		return dir[0] == '\0' ? 0 : remove_path(ix, dir);
	}
	ix->txn_ops +=
	    (unsigned)(counts.added + counts.changed + counts.removed);
	pthread_mutex_lock(&ix->lock);
	ix->counts.added += counts.added;
	ix->counts.changed += counts.changed;
	ix->counts.removed += counts.removed;
	ix->counts.unchanged += counts.unchanged;
	pthread_mutex_unlock(&ix->lock);
	/* The bot says so in its log; fisbot scan prints the counts. */
	if (dir[0] == '\0')
		log_at(ix->opt.watch ? LOG_INFO : LOG_DEBUG,
		       "reconciled: added %llu, changed %llu, removed %llu, "
		       "unchanged %llu",
		       (unsigned long long)counts.added,
		       (unsigned long long)counts.changed,
		       (unsigned long long)counts.removed,
		       (unsigned long long)counts.unchanged);
	return rc;
}

/* Looks at path on disk and brings the catalogue in line with it. */
static int examine(struct indexer *ix, const char *path)
{
	struct cat_file row = {0};
	unsigned char prev[32];
	bool had_hash;
	struct stat st;
	struct pend *p;
	int found, rc = 0;

	if (path[0] == '\0')
		return reconcile(ix, "");
	if (fsutil_path_excluded(&ix->cfg->share.exclude, path))
		return 0;
	if (fsutil_stat_beneath(ix->rootfd, path, &st) == -1) {
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP &&
		    errno != EXDEV)
			log_warn("cannot stat \"%s\"", path);
		return remove_path(ix, path);
	}
	if (S_ISDIR(st.st_mode))
		return reconcile(ix, path);
	if (!S_ISREG(st.st_mode)) /* a link, a device...: never listed */
		return remove_path(ix, path);

	found = catalogue_get_by_path(ix->cat, path, &row);
	if (found == -1)
		return -1;
	p = pend_find(ix, path);
	if (found == 1 && row.size == (uint64_t)st.st_size &&
	    row.mtime_ns == fsutil_mtime_ns(&st) &&
	    row.ino == (uint64_t)st.st_ino) {
		if (row.hashed) {
			if (p != NULL && !p->inflight)
				pend_delete(ix, p);
		} else {
			pend_touch(ix, &row,
			           now_ms() + (int64_t)ix->cfg->share.settle_ms,
			           NULL);
		}
		goto out;
	}
	/* Its links answer "being indexed" until it is hashed again. */
	had_hash = found == 1 && row.hashed;
	if (had_hash)
		memcpy(prev, row.sha256, sizeof(prev));
	cat_file_clear(&row);
	row.path = xstrdup(path);
	row.size = (uint64_t)st.st_size;
	row.mtime_ns = fsutil_mtime_ns(&st);
	row.dev = (uint64_t)st.st_dev;
	row.ino = (uint64_t)st.st_ino;
	if (txn(ix) == -1 || catalogue_upsert(ix->cat, &row) == -1) {
		rc = -1;
		goto out;
	}
	pend_touch(ix, &row, now_ms() + (int64_t)ix->cfg->share.settle_ms,
	           had_hash ? prev : NULL);
out:
	cat_file_clear(&row);
	return rc;
}

/* from was renamed to to. */
static int rename_path(struct indexer *ix, const char *from, const char *to)
{
	struct cat_file f = {0};
	int known;

	if (fsutil_path_excluded(&ix->cfg->share.exclude, to))
		return examine(ix, from);
	if (fsutil_path_excluded(&ix->cfg->share.exclude, from))
		return examine(ix, to);
	known = catalogue_get_by_path(ix->cat, from, &f);
	cat_file_clear(&f);
	if (known == 0)
		known = catalogue_is_dir(ix->cat, from);
	if (known == -1)
		return -1;
	if (known == 1) {
		/* Whatever was at the target was replaced. */
		if (remove_path(ix, to) == -1 || txn(ix) == -1 ||
		    catalogue_rename(ix->cat, from, to) == -1)
			return -1;
		log_debug("renamed \"%s\" to \"%s\"", from, to);
		/* Files waiting under the old name wait under the new one. */
		for (size_t b = 0; b < PEND_BUCKETS; b++) {
			struct pend *p, *next;

			for (p = ix->pend[b]; p != NULL; p = next) {
				struct cat_file moved = {0};

				next = p->next;
				if (!fsutil_is_under(p->path, from) ||
				    p->inflight)
					continue;
				moved.id = p->id;
				moved.size = p->size;
				moved.mtime_ns = p->mtime_ns;
				moved.path = xasprintf("%s%s", to,
				                       p->path + strlen(from));
				/* Its id stays pending throughout. */
				pend_touch(ix, &moved, now_ms(), NULL);
				pend_delete(ix, p);
				free(moved.path);
			}
		}
	}
	return examine(ix, to);
}

/* A hash result came back. */
static int hashed(struct indexer *ix, struct hash_job *job)
{
	struct pend *p = pend_find(ix, job->path);
	bool stale = false, dirty = p != NULL && p->dirty;

	if (p != NULL && p->inflight) {
		p->inflight = false;
		ix->ninflight--;
	}
	if (p != NULL)
		p->dirty = false;
	switch (job->status) {
	case HASH_OK:
		if (txn(ix) == -1 ||
		    catalogue_set_hash(ix->cat, job->id, job->size,
		                       job->mtime_ns, job->sha256,
		                       job->media_type, &stale) == -1)
			return -1;
		if (!stale) {
			note_add(ix, INDEXER_FILE_READY, job->id, job->path);
			pthread_mutex_lock(&ix->lock);
			ix->hashed_total++;
			pthread_mutex_unlock(&ix->lock);
		}
		if (p != NULL && !stale && !dirty)
			pend_delete(ix, p);
		if (stale || dirty)
			return examine(ix, job->path);
		return 0;
	case HASH_CHANGED:
	case HASH_GONE:
		return examine(ix, job->path);
	case HASH_FAILED:
		if (p != NULL)
			pend_delete(ix, p);
		return 0;
	}
	return 0;
}

/* Sends every settled file to the hash pool. */
static void settle_due(struct indexer *ix)
{
	int64_t now = now_ms();

	while (ix->nheap > 0 && ix->heap[0].due_ms <= now) {
		struct heap_item it;
		struct hash_job *job;
		struct pend *p;
		struct stat st;

		heap_pop(ix, &it);
		p = pend_find(ix, it.path);
		free(it.path);
		if (p == NULL || p->seq != it.seq || p->inflight)
			continue;
		if (fsutil_stat_beneath(ix->rootfd, p->path, &st) == -1 ||
		    !S_ISREG(st.st_mode) || (uint64_t)st.st_size != p->size ||
		    fsutil_mtime_ns(&st) != p->mtime_ns) {
			/* It changed while settling: look again. */
			char *path = xstrdup(p->path);

			if (examine(ix, path) == -1)
				write_failed(ix);
			free(path);
			continue;
		}
		job = xcalloc(1, sizeof(*job));
		job->id = p->id;
		job->path = xstrdup(p->path);
		job->size = p->size;
		job->mtime_ns = p->mtime_ns;
		p->inflight = true;
		ix->ninflight++;
		hashpool_submit(ix->pool, job);
	}
}

/* An upload was stored at path: catalogue it now and record uploader. */
static int uploaded(struct indexer *ix, const char *path, const char *uploader)
{
	struct cat_file f = {0};
	int found;

	if (examine(ix, path) == -1)
		return -1;
	found = catalogue_get_by_path(ix->cat, path, &f);
	if (found == 1 && (txn(ix) == -1 || catalogue_set_uploader(
	                                        ix->cat, f.id, uploader) == -1))
		found = -1;
	else if (found == 0)
		log_warnx("upload \"%s\" is not in the share any more", path);
	cat_file_clear(&f);
	return found == -1 ? -1 : 0;
}

/* Handles one message. Returns 0 or -1 on a database error. */
static int handle(struct indexer *ix, struct msg *m)
{
	switch (m->kind) {
	case MSG_PATH:
		return examine(ix, m->path);
	case MSG_RENAME:
		return rename_path(ix, m->path, m->path2);
	case MSG_RESCAN:
		return reconcile(ix, "");
	case MSG_HASHED:
		return hashed(ix, m->job);
	case MSG_DOWNLOAD:
		if (txn(ix) == -1)
			return -1;
		return catalogue_add_download(ix->cat, m->id, m->bytes,
		                              m->completed);
	case MSG_DESCRIBE:
		if (txn(ix) == -1)
			return -1;
		return catalogue_set_description(ix->cat, m->id, m->path);
	case MSG_UPLOADER:
		return uploaded(ix, m->path, m->path2);
	case MSG_ROOM:
		if (txn(ix) == -1)
			return -1;
		return m->completed
		           ? catalogue_room_add(ix->cat, m->path, m->path2)
		           : catalogue_room_remove(ix->cat, m->path);
	}
	return 0;
}

/* The indexer thread. */
static void *indexer_main(void *arg)
{
	struct indexer *ix = arg;

	pthread_mutex_lock(&ix->lock);
	for (;;) {
		struct msg *batch, *m, *next;
		int64_t now, wake = -1;
		struct timespec ts;

		while (ix->head == NULL && !ix->stopping) {
			now = now_ms();
			if (ix->rescan_every_ms > 0 && ix->next_rescan_ms == 0)
				ix->next_rescan_ms =
				    now + (int64_t)ix->rescan_every_ms;
			wake = -1;
			if (ix->nheap > 0)
				wake = ix->heap[0].due_ms;
			if (ix->in_txn &&
			    (wake == -1 ||
			     ix->txn_started_ms + COMMIT_MS < wake))
				wake = ix->txn_started_ms + COMMIT_MS;
			if (ix->next_rescan_ms > 0 &&
			    (wake == -1 || ix->next_rescan_ms < wake))
				wake = ix->next_rescan_ms;
			if (wake != -1 && wake <= now)
				break;
			if (!ix->in_txn && ix->npend == 0) {
				ix->idle = true;
				pthread_cond_broadcast(&ix->idle_cond);
			}
			if (wake == -1) {
				pthread_cond_wait(&ix->wake, &ix->lock);
				continue;
			}
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (wake - now) / 1000;
			ts.tv_nsec += ((wake - now) % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&ix->wake, &ix->lock, &ts);
		}
		if (ix->stopping)
			break;
		batch = ix->head;
		ix->head = ix->tail = NULL;
		pthread_mutex_unlock(&ix->lock);

		for (m = batch; m != NULL; m = next) {
			next = m->next;
			if (handle(ix, m) == -1)
				write_failed(ix);
			msg_free(m);
			if (ix->in_txn && ix->txn_ops >= COMMIT_OPS)
				commit(ix);
		}
		now = now_ms();
		if (ix->next_rescan_ms > 0 && ix->next_rescan_ms <= now) {
			ix->next_rescan_ms = 0;
			if (reconcile(ix, "") == -1)
				write_failed(ix);
		}
		settle_due(ix);
		if (ix->in_txn && (ix->txn_started_ms + COMMIT_MS <= now_ms() ||
		                   ix->ninflight == 0))
			commit(ix);
		pthread_mutex_lock(&ix->lock);
		ix->waiting = ix->npend;
	}
	pthread_mutex_unlock(&ix->lock);
	commit(ix);
	return NULL;
}

/* --- start and stop ---------------------------------------------------- */

struct indexer *indexer_start(const struct config *cfg,
                              const struct indexer_options *opt, char **cause)
{
	struct indexer *ix = xcalloc(1, sizeof(*ix));
	struct stat st;
	int err;

	ix->cfg = cfg;
	if (opt != NULL)
		ix->opt = *opt;
	ix->rootfd = open(cfg->share.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ix->rootfd == -1 || fstat(ix->rootfd, &st) == -1) {
		*cause = xasprintf("share \"%s\": %s", cfg->share.path,
		                   strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&ix->lock, NULL);
	pthread_mutex_init(&ix->pend_lock, NULL);
	pthread_cond_init(&ix->wake, NULL);
	pthread_cond_init(&ix->idle_cond, NULL);
	ix->cat = catalogue_open(cfg->share.database, CATALOGUE_WRITE, cause);
	if (ix->cat == NULL)
		goto fail_sync;
	ix->pool = hashpool_start(ix->rootfd, cfg->share.hash_threads,
	                          hash_done, ix, cause);
	if (ix->pool == NULL)
		goto fail_cat;
	err = pthread_create(&ix->thread, NULL, indexer_main, ix);
	if (err != 0) {
		*cause =
		    xasprintf("cannot start the indexer: %s", strerror(err));
		goto fail_pool;
	}
	if (ix->opt.watch) {
		ix->watch = watch_start(cfg->share.path, &cfg->share.exclude,
		                        ix, cause);
		if (ix->watch == NULL) {
			indexer_stop(ix);
			return NULL;
		}
	} else {
		indexer_post_rescan(ix);
	}
	return ix;

fail_pool:
	hashpool_stop(ix->pool);
fail_cat:
	catalogue_close(ix->cat);
fail_sync:
	pthread_mutex_destroy(&ix->lock);
	pthread_mutex_destroy(&ix->pend_lock);
	pthread_cond_destroy(&ix->wake);
	pthread_cond_destroy(&ix->idle_cond);
fail:
	if (ix->rootfd != -1)
		close(ix->rootfd);
	free(ix);
	return NULL;
}

int indexer_wait_idle(struct indexer *ix, struct scan_counts *counts)
{
	int rc;

	pthread_mutex_lock(&ix->lock);
	while (!(ix->idle && ix->head == NULL) && !ix->failed)
		pthread_cond_wait(&ix->idle_cond, &ix->lock);
	if (counts != NULL) {
		counts->added += ix->counts.added;
		counts->changed += ix->counts.changed;
		counts->removed += ix->counts.removed;
		counts->unchanged += ix->counts.unchanged;
	}
	memset(&ix->counts, 0, sizeof(ix->counts));
	rc = ix->failed ? -1 : 0;
	pthread_mutex_unlock(&ix->lock);
	return rc;
}

int indexer_wait_idle_ms(struct indexer *ix, unsigned ms)
{
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ix->lock);
	while (!(ix->idle && ix->head == NULL) && !ix->failed)
		if (pthread_cond_timedwait(&ix->idle_cond, &ix->lock, &ts) ==
		    ETIMEDOUT)
			break;
	rc = ix->failed ? -1 : ix->idle && ix->head == NULL;
	pthread_mutex_unlock(&ix->lock);
	return rc;
}

void indexer_progress(struct indexer *ix, uint64_t *hashed, uint64_t *waiting)
{
	pthread_mutex_lock(&ix->lock);
	*hashed = ix->hashed_total;
	*waiting = ix->waiting;
	pthread_mutex_unlock(&ix->lock);
}

void indexer_stop(struct indexer *ix)
{
	struct msg *m, *next;

	if (ix == NULL)
		return;
	if (ix->watch != NULL)
		watch_stop(ix->watch);
	pthread_mutex_lock(&ix->lock);
	ix->stopping = true;
	pthread_cond_signal(&ix->wake);
	pthread_mutex_unlock(&ix->lock);
	pthread_join(ix->thread, NULL);
	hashpool_stop(ix->pool);
	for (m = ix->head; m != NULL; m = next) {
		next = m->next;
		msg_free(m);
	}
	catalogue_close(ix->cat);
	for (size_t b = 0; b < PEND_BUCKETS; b++)
		while (ix->pend[b] != NULL)
			pend_delete(ix, ix->pend[b]);
	for (size_t i = 0; i < ix->nheap; i++)
		free(ix->heap[i].path);
	free(ix->heap);
	notes_clear(ix);
	free(ix->notes);
	pthread_mutex_destroy(&ix->lock);
	pthread_mutex_destroy(&ix->pend_lock);
	pthread_cond_destroy(&ix->wake);
	pthread_cond_destroy(&ix->idle_cond);
	close(ix->rootfd);
	free(ix);
}
