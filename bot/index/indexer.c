/*
 * The indexer, the catalogue's single writer.
 *
 * Design. One thread loops over a message queue (mutex + condition
 * variable). It is not base/queue: the same lock keeps the queue, the
 * idle flag that indexer_wait_idle reads and the rescan interval
 * together, so that posting a message clears idle atomically (with two
 * locks, "fisbot scan" could see the indexer idle before a message it
 * must wait for is queued), a change of the rescan interval wakes the
 * thread without a message, and the thread takes the whole batch at once
 * and waits until the earliest of its deadlines (settles, commit, rescan,
 * retry), which queue_pop's timeout could only approximate. Messages are
 * file-system facts ("look at path", "from was renamed to to", "reconcile
 * everything"), hash results and jobs from other threads. The disk is the
 * source of truth: for every fact the indexer looks at the disk again (beneath
 * the share root, never through a link) and brings the catalogue in line, so a
 * lost or duplicated event costs a stat, never a wrong row.
 *
 * Files waiting to be hashed live in a table keyed by path (struct pend)
 * and in a min-heap of deadlines. A file is hashed once it is settled: its
 * size and mtime did not change for `settle` (watcher events push the
 * deadline back; files found by a reconcile are settled when their mtime is
 * older than `settle`). A file whose hash is in flight and that changes is
 * marked dirty and examined again when its result comes back; the hash
 * pool itself reports a file that changed while it was read.
 *
 * A file is unchanged while its size, mtime, ctime and inode are; the
 * ctime catches a change whose size and mtime were put back (touch -r).
 * A rename changes the ctime but not the content: for a file renamed
 * (inotify's pair, or the reconcile's inode match, scan.h) whose inode,
 * size and mtime are the same, the new ctime is recorded without hashing.
 * (A hash result is recorded only for the path, size, mtime and ctime it
 * was computed for: a file renamed while it is being hashed, at most one
 * per hash thread, is hashed again.)
 * Files and folders the bot may not read are not listed (beneath_readable):
 * the watcher reports a folder's attribute change, so a folder made
 * readable is watched and indexed, and one made unreadable leaves.
 *
 * Media types that only libmagic can tell (a binary of an unknown
 * extension, a script) cost more than hashing a small file, so the hash
 * pool leaves them NULL; with opt.type_later the indexer, once it has
 * nothing else to do, reads such files TYPE_BATCH at a time in id order
 * and sends them back to the pool as type_only jobs, recording each type
 * if the row is still the file that was read. A file hashed again without a
 * type moves the cursor back to it.
 *
 * The search index (FTS5) writes each large transaction as segments of its
 * own, so a bulk import (the first build, a cold `fisbot scan`, a share
 * copied in) leaves tens of segments in which every search looks each
 * word up. With opt.merge_index (the daemon; `fisbot scan` leaves it to
 * the daemon), after a full reconcile and after FTS_CHECK_OPS changes, the
 * idle indexer checks the layout (catalogue_fts_fragmented) and, if the
 * largest segment holds less than half of the index, merges it into one,
 * FTS_MERGE_PAGES pages a transaction, between other work. Small commits
 * leave small segments, which FTS5's own automerge keeps few.
 *
 * Writes are batched: a transaction stays open while work flows and is
 * committed after COMMIT_OPS changes, COMMIT_MS, or when the queue runs
 * dry. Events for the main thread are sent after the commit.
 *
 * Failed writes (a full disk, an I/O error). The transaction is rolled back
 * (SQLite keeps the file intact) and writing is suspended: one log line,
 * then a retry after 1 s, 2 s, 4 s... up to RETRY_MAX_MS (longer for a
 * share whose reconcile is slow: retries take at most 5 % of the time,
 * and never wait more than RETRY_LONGEST_MS). While suspended the
 * indexer does nothing costly: queued hash jobs are cancelled, file system
 * events are dropped (the retry reconciles the whole share: the disk is
 * the truth), and nothing is hashed. What the disk cannot tell
 * again is kept in memory: the hash results of the failed transaction and
 * those that come back meanwhile (by path, with the size, mtime and ctime
 * they were computed for; a file found again in that state takes its kept
 * hash instead of being hashed twice), and the jobs of other threads
 * (downloads, descriptions, uploads, rooms), replayed by the retry. Both
 * are bounded (KEPT_MAX_BYTES, DEFERRED_MAX): past that, a result is
 * dropped (the file is hashed again once, after the disk has room) and a
 * job is lost (said once). A retry is a full reconcile, the deferred jobs
 * and a commit; once it succeeds, the kept results are written as the
 * files settle.
 */
#include "indexer.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <search.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/backoff.h"
#include "base/beneath.h"
#include "base/clock.h"
#include "base/exclude.h"
#include "base/fsutil.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "hashpool.h"
#include "store/catalogue_write.h"
#include "watch.h"

#define COMMIT_OPS          2000
#define COMMIT_MS           200
#define RETRY_FIRST_MS      1000
#define RETRY_MAX_MS        30000
#define RETRY_LONGEST_MS    60000
#define PEND_BUCKETS        4096 /* kept results; pending files start so */
#define PIPE_BATCH          2000 /* a reconcile hashes and records this often */
#define PIPE_COMMIT         50000            /* and commits this often */
#define PIPE_INFLIGHT_MAX   (4 * PIPE_BATCH) /* files out to hash, at most */
#define RECONCILE_CACHE_KIB (16 * 1024)      /* the writer's cache meanwhile */
#define KEPT_MAX_BYTES      ((size_t)32 << 20)
#define DEFERRED_MAX        10000
#define TYPE_BATCH          256   /* files sent to libmagic at a time */
#define FTS_CHECK_OPS       50000 /* changes before the layout is checked */
#define FTS_MERGE_PAGES     1000  /* pages merged a transaction (4 MiB) */

/* Failed writes are retried after 1 s, 2 s, 4 s... up to RETRY_MAX_MS,
 * without jitter (there is one writer). */
static const struct backoff_policy retry_policy = {
    .first_ms = RETRY_FIRST_MS,
    .max_ms = RETRY_MAX_MS,
};

enum msg_kind {
	MSG_PATH,
	MSG_ATTRIB,
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
	/* MSG_PATH, MSG_ATTRIB, MSG_RENAME; MSG_DESCRIBE text; MSG_UPLOADER
	 * path, JID */
	char *path, *path2;
	int64_t id;
	uint64_t bytes;
	bool completed;       /* MSG_DOWNLOAD; MSG_RESCAN: report the end */
	struct hash_job *job; /* MSG_HASHED */
	struct msg *next;
};

/* A file waiting to settle or being hashed. */
struct pend {
	char *path;
	int64_t id;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
	uint64_t seq;  /* matches the newest heap item for it */
	bool inflight; /* a hash job is out */
	bool dirty;    /* something happened while it was out */
	bool walked;   /* size, mtime and ctime as a reconcile just saw them */
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

/* A hash result not yet committed: the open transaction's, or one kept
 * from a failed transaction until it can be written. */
struct kept {
	struct hash_job *res;
	struct kept *next;
};

/* Something to tell the main thread once committed. */
struct note {
	enum indexer_event_kind kind;
	int64_t id;
	char *path;
	bool first_build;
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
	/* The first build of an empty catalogue runs (indexer_first_build):
	 * set at start if the catalogue is empty, cleared when the indexer
	 * is idle after a full reconcile. */
	bool first_build;

	/* The ids of the pending files (struct pend_id), under pend_lock:
	 * the indexer thread changes them, other threads look them up. */
	pthread_mutex_t pend_lock;
	void *pend_ids;

	/* The indexer thread's own state. */
	struct pend **pend; /* a hash table of pend_nb buckets, grown */
	size_t pend_nb;
	size_t npend, ninflight;
	unsigned walked_since; /* files a running reconcile found pending */
	bool trim_due;         /* a full reconcile ran: give memory back once
	                        * idle */
	/* The search index's layout: to check once idle (fts_check), after
	 * a full reconcile or fts_ops changes; being merged (fts_merging,
	 * since fts_merge_ms). */
	bool fts_check, fts_merging;
	unsigned long fts_ops;
	int64_t fts_merge_ms;
	struct heap_item *heap;
	size_t nheap, capheap;
	uint64_t seq;
	bool in_txn;
	unsigned txn_ops;
	int64_t txn_started_ms;
	struct note *notes;
	size_t nnotes, capnotes;
	int64_t next_rescan_ms; /* 0: none scheduled */
	bool reconciled;        /* a full reconcile was done */
	/* The media types left to libmagic (opt.type_later): the files
	 * without one are read in id order after type_after, TYPE_BATCH at a
	 * time, when the indexer is idle; types_done once none is left. */
	int64_t type_after;
	size_t ntyping; /* type_only jobs out */
	bool
	    typed_since_trim; /* libmagic ran: give its memory back once done */
	bool types_done;
	/* A rescan to report (INDEXER_RESCAN_DONE) once idle, and its
	 * counts so far. */
	bool report;
	struct scan_counts report_counts;

	/* Failed writes (see the design note). */
	bool blocked; /* writing is suspended until retry_at_ms */
	struct backoff retry_backoff; /* the failed tries in a row */
	int64_t retry_at_ms;
	int64_t retry_cost_ms;           /* how long the last retry took */
	struct kept *txn_kept;           /* results in the open transaction */
	struct kept *kept[PEND_BUCKETS]; /* results waiting, by path */
	size_t kept_bytes;
	uint64_t kept_dropped;
	struct msg *txn_jobs, *txn_jobs_tail; /* jobs in the open transaction */
	size_t ntxn_jobs;
	struct msg *deferred, *deferred_tail; /* jobs waiting for a retry */
	size_t ndeferred;
	uint64_t deferred_dropped;
};

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

void indexer_post_rescan_report(struct indexer *ix)
{
	struct msg *m = msg_new(MSG_RESCAN);

	m->completed = true;
	post(ix, m);
}

bool indexer_first_build(struct indexer *ix, uint64_t *files)
{
	bool first;

	pthread_mutex_lock(&ix->lock);
	first = ix->first_build;
	*files = ix->hashed_total;
	pthread_mutex_unlock(&ix->lock);
	return first;
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

/* --- the watcher's sink ------------------------------------------------ */

/* Something happened at path: look at it (watch_sink.path). */
static void sink_path(void *arg, const char *path)
{
	indexer_post_path(arg, path);
}

/* The attributes of the folder path changed: list it if it became
 * readable, remove it if it became unreadable (watch_sink.attrib). */
static void sink_attrib(void *arg, const char *path)
{
	struct msg *m = msg_new(MSG_ATTRIB);

	m->path = xstrdup(path);
	post(arg, m);
}

/* from was renamed to to (watch_sink.rename). */
static void sink_rename(void *arg, const char *from, const char *to)
{
	struct msg *m = msg_new(MSG_RENAME);

	m->path = xstrdup(from);
	m->path2 = xstrdup(to);
	post(arg, m);
}

/* Events were lost: reconcile everything (watch_sink.rescan). */
static void sink_rescan(void *arg)
{
	indexer_post_rescan(arg);
}

/* Some folders cannot be watched: reconcile every interval_ms
 * (watch_sink.periodic_rescan). */
static void sink_periodic_rescan(void *arg, uint64_t interval_ms)
{
	struct indexer *ix = arg;

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

/* Returns the FNV-1a hash of path. */
static uint64_t path_hash(const char *path)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* The bucket of path in the table of kept results. */
static size_t pend_bucket(const char *path)
{
	return (size_t)(path_hash(path) % PEND_BUCKETS);
}

/* The bucket of path in the table of pending files. */
static struct pend **pend_slot(struct indexer *ix, const char *path)
{
	return &ix->pend[path_hash(path) % ix->pend_nb];
}

/* Grows the table of pending files when its chains get long (a cold
 * reconcile makes every file pending): a lookup stays a few compares
 * whatever the size of the share. */
static void pend_grow(struct indexer *ix)
{
	struct pend **old = ix->pend;
	size_t nb = ix->pend_nb;

	if (ix->npend < 2 * nb)
		return;
	ix->pend_nb = nb * 4;
	ix->pend = xcalloc(ix->pend_nb, sizeof(*ix->pend));
	for (size_t b = 0; b < nb; b++) {
		struct pend *p, *next;

		for (p = old[b]; p != NULL; p = next) {
			struct pend **slot = pend_slot(ix, p->path);

			next = p->next;
			p->next = *slot;
			*slot = p;
		}
	}
	free(old);
}

static struct pend *pend_find(struct indexer *ix, const char *path)
{
	struct pend *p;

	for (p = *pend_slot(ix, path); p != NULL; p = p->next)
		if (strcmp(p->path, path) == 0)
			return p;
	return NULL;
}

static void pend_delete(struct indexer *ix, struct pend *victim)
{
	struct pend **pp = pend_slot(ix, victim->path);

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
		struct pend **slot;

		pend_grow(ix);
		slot = pend_slot(ix, f->path);
		p = xcalloc(1, sizeof(*p));
		p->path = xstrdup(f->path);
		p->next = *slot;
		*slot = p;
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
	p->ctime_ns = f->ctime_ns;
	p->walked = false;
	if (p->inflight) {
		p->dirty = true;
		return;
	}
	p->seq = ++ix->seq;
	heap_push(ix, due_ms, p->seq, p->path);
}

/* Forgets every pending file but those being hashed (their results come
 * back), and the deadlines: after a rollback their rows may be gone. */
static void pend_drop(struct indexer *ix)
{
	for (size_t b = 0; b < ix->pend_nb; b++) {
		struct pend *p, *next;

		for (p = ix->pend[b]; p != NULL; p = next) {
			next = p->next;
			if (!p->inflight)
				pend_delete(ix, p);
		}
	}
	for (size_t i = 0; i < ix->nheap; i++)
		free(ix->heap[i].path);
	ix->nheap = 0;
}

/* --- hash results kept across failed writes -------------------------- */

/* Returns the memory a kept result costs, roughly. */
static size_t kept_cost(const struct hash_job *res)
{
	return sizeof(struct kept) + sizeof(*res) + strlen(res->path) + 1 +
	       (res->media_type != NULL ? strlen(res->media_type) + 1 : 0) +
	       4 * 16; /* allocator overhead */
}

/* Removes the kept result for path and returns it (the caller owns it),
 * or NULL. */
static struct hash_job *kept_take(struct indexer *ix, const char *path)
{
	struct kept **pp = &ix->kept[pend_bucket(path)], *k;
	struct hash_job *res;

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->res->path, path) != 0)
			continue;
		k = *pp;
		*pp = k->next;
		res = k->res;
		ix->kept_bytes -= kept_cost(res);
		free(k);
		return res;
	}
	return NULL;
}

/* Keeps the result res (taken over) until it can be written, in place of
 * an older one for its path; drops it if too much is kept already. */
static void kept_add(struct indexer *ix, struct hash_job *res)
{
	size_t b = pend_bucket(res->path), cost = kept_cost(res);
	struct kept *k;

	hash_job_free(kept_take(ix, res->path));
	if (ix->kept_bytes + cost > KEPT_MAX_BYTES) {
		ix->kept_dropped++;
		hash_job_free(res);
		return;
	}
	k = xmalloc(sizeof(*k));
	k->res = res;
	k->next = ix->kept[b];
	ix->kept[b] = k;
	ix->kept_bytes += cost;
}

/* Forgets every kept result. */
static void kept_clear(struct indexer *ix)
{
	if (ix->kept_bytes == 0)
		return;
	for (size_t b = 0; b < PEND_BUCKETS; b++) {
		while (ix->kept[b] != NULL) {
			struct kept *k = ix->kept[b];

			ix->kept[b] = k->next;
			hash_job_free(k->res);
			free(k);
		}
	}
	ix->kept_bytes = 0;
}

/* Frees a list of results. */
static void kept_list_free(struct kept *k)
{
	while (k != NULL) {
		struct kept *next = k->next;

		hash_job_free(k->res);
		free(k);
		k = next;
	}
}

/* Frees a list of messages. */
static void msg_list_free(struct msg *m)
{
	while (m != NULL) {
		struct msg *next = m->next;

		msg_free(m);
		m = next;
	}
}

/* Returns when a file with mtime mtime_ns counts as settled. */
static int64_t settled_at(const struct indexer *ix, int64_t mtime_ns)
{
	int64_t settle_ns = (int64_t)ix->cfg->share.settle_ms * 1000000;
	int64_t age_ns = clock_wall_ns() - mtime_ns;

	/* An mtime in the future (clock skew, touch -d) does not hold a
	 * file back longer than one settle period. */
	if (age_ns >= settle_ns || age_ns < 0)
		return clock_now_ms() +
		       (age_ns < 0 ? (int64_t)ix->cfg->share.settle_ms : 0);
	return clock_now_ms() + (settle_ns - age_ns) / 1000000 + 1;
}

static int commit(struct indexer *ix);
static void settle_due(struct indexer *ix);
static void write_failed(struct indexer *ix);
static int txn(struct indexer *ix);
static void dispatch(struct indexer *ix, struct msg *m);
static void msgq_push(struct msg **head, struct msg **tail, struct msg *m);

/* Takes the hash results out of the queue, in order, and records them
 * (a reconcile does so as it goes: results do not pile up in memory
 * until the walk ends). */
static void take_results(struct indexer *ix)
{
	struct msg *results = NULL, *rtail = NULL, *keep = NULL, *ktail = NULL;
	struct msg *m, *next;

	pthread_mutex_lock(&ix->lock);
	for (m = ix->head; m != NULL; m = next) {
		next = m->next;
		if (m->kind == MSG_HASHED)
			msgq_push(&results, &rtail, m);
		else
			msgq_push(&keep, &ktail, m);
	}
	ix->head = keep;
	ix->tail = ktail;
	pthread_mutex_unlock(&ix->lock);
	/* After a failed write, dispatch keeps them for the retry. */
	for (m = results; m != NULL; m = next) {
		next = m->next;
		dispatch(ix, m);
	}
}

/* Waits, during a reconcile, until the hash pool has at most
 * PIPE_INFLIGHT_MAX files out, recording the results as they come: the
 * walk runs faster than hashing, and every file waiting for its hash holds
 * memory (its job and pending entry), so a cold scan of a large share
 * would otherwise hold the whole share at once. Before it first sleeps,
 * it commits the rows walked so far: readers see them, and a crash keeps
 * them, however long the hashing takes. */
static void pipe_wait(struct indexer *ix)
{
	bool committed = false;

	while (!ix->blocked && ix->ninflight > PIPE_INFLIGHT_MAX) {
		size_t before = ix->ninflight;
		struct timespec ts;
		bool stopping;

		take_results(ix);
		if (ix->ninflight < before)
			continue;
		if (!committed) {
			committed = true;
			if (commit(ix) == -1)
				return;
			if (txn(ix) == -1) {
				write_failed(ix);
				return;
			}
			continue;
		}
		/* None came back yet: a result wakes us (post). */
		ts = clock_timespec(clock_now_ms() + 20);
		pthread_mutex_lock(&ix->lock);
		if (!ix->stopping)
			pthread_cond_timedwait(&ix->wake, &ix->lock, &ts);
		stopping = ix->stopping;
		pthread_mutex_unlock(&ix->lock);
		if (stopping)
			return;
	}
}

/* scan_reconcile callback: a file needs hashing. Every PIPE_BATCH such
 * files, the results that came back are recorded and the settled files go
 * to the hash pool, so that hashing runs alongside the walk instead of
 * after it; every PIPE_COMMIT, and whenever the walk must wait for the
 * hashes (pipe_wait), the rows so far are committed (readers see the
 * catalogue grow, a crash keeps them). */
static int reconcile_pending(const struct cat_file *f, void *arg)
{
	struct indexer *ix = arg;
	struct pend *p;

	pend_touch(ix, f, settled_at(ix, f->mtime_ns), NULL);
	p = pend_find(ix, f->path);
	if (p != NULL && !p->inflight)
		p->walked = true;
	if (++ix->walked_since % PIPE_BATCH != 0)
		return 0;
	take_results(ix);
	if (ix->blocked)
		return -1;
	/* Larger transactions here: each commit writes every index page
	 * the batch touched, all over a large catalogue. A failed commit is
	 * handled (write_failed): the reconcile stops. */
	if (ix->walked_since % PIPE_COMMIT == 0) {
		if (commit(ix) == -1)
			return -1;
		if (txn(ix) == -1) {
			write_failed(ix);
			return -1;
		}
	}
	settle_due(ix);
	pipe_wait(ix);
	return ix->blocked ? -1 : 0;
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
	ix->txn_started_ms = clock_now_ms();
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
	/* Only the indexer thread changes first_build. */
	ix->notes[ix->nnotes++] =
	    (struct note){kind, id, xstrdup(path), ix->first_build};
}

static void notes_clear(struct indexer *ix)
{
	for (size_t i = 0; i < ix->nnotes; i++)
		free(ix->notes[i].path);
	ix->nnotes = 0;
}

/* Returns true if m is a job from another thread (which the disk cannot
 * tell again if its transaction fails). */
static bool is_job(const struct msg *m)
{
	return m->kind == MSG_DOWNLOAD || m->kind == MSG_DESCRIBE ||
	       m->kind == MSG_UPLOADER || m->kind == MSG_ROOM;
}

/* Appends m to the queue *head / *tail. */
static void msgq_push(struct msg **head, struct msg **tail, struct msg *m)
{
	m->next = NULL;
	if (*tail != NULL)
		(*tail)->next = m;
	else
		*head = m;
	*tail = m;
}

/* Keeps the job m (taken over) for the next retry, unless too many wait
 * already. */
static void defer(struct indexer *ix, struct msg *m)
{
	if (ix->ndeferred >= DEFERRED_MAX) {
		ix->deferred_dropped++;
		msg_free(m);
		return;
	}
	msgq_push(&ix->deferred, &ix->deferred_tail, m);
	ix->ndeferred++;
}

/* Forgets what the open transaction kept, once it is committed. */
static void txn_done(struct indexer *ix)
{
	kept_list_free(ix->txn_kept);
	ix->txn_kept = NULL;
	msg_list_free(ix->txn_jobs);
	ix->txn_jobs = ix->txn_jobs_tail = NULL;
	ix->ntxn_jobs = 0;
}

/*
 * A write failed: rolls back, keeps what the disk cannot tell again (the
 * transaction's hash results and jobs), cancels the hashing, forgets the
 * pending files (the retry's reconcile finds them again) and suspends
 * writing until the next retry. One log line.
 */
static void write_failed(struct indexer *ix)
{
	const char *why = catalogue_last_error(ix->cat);
	int64_t now, delay;

	if (ix->in_txn)
		(void)catalogue_rollback(ix->cat);
	ix->in_txn = false;
	/* Types recorded in the transaction are lost: look again. */
	ix->type_after = 0;
	ix->types_done = false;
	notes_clear(ix);
	while (ix->txn_kept != NULL) {
		struct kept *k = ix->txn_kept;

		ix->txn_kept = k->next;
		kept_add(ix, k->res);
		free(k);
	}
	/* The transaction's jobs go first: they are older. */
	if (ix->txn_jobs != NULL) {
		ix->txn_jobs_tail->next = ix->deferred;
		if (ix->deferred == NULL)
			ix->deferred_tail = ix->txn_jobs_tail;
		ix->deferred = ix->txn_jobs;
		ix->ndeferred += ix->ntxn_jobs;
		ix->txn_jobs = ix->txn_jobs_tail = NULL;
		ix->ntxn_jobs = 0;
	}
	pend_drop(ix);
	ix->blocked = true;
	hashpool_cancel(ix->pool);

	now = clock_now_ms();
	delay = backoff_next(&ix->retry_backoff, now);
	/* A retry of a large share costs a reconcile: at most 5 % of the
	 * time, up to a minute between tries. */
	if (delay < 20 * ix->retry_cost_ms)
		delay = 20 * ix->retry_cost_ms;
	if (delay > RETRY_LONGEST_MS)
		delay = RETRY_LONGEST_MS;
	ix->retry_at_ms = now + delay;
	if (why == NULL)
		why = "catalogue write failed";
	if (ix->opt.watch)
		log_errorx("%s; rolled back, nothing is lost; "
		           "retry %u in %lld s",
		           why, ix->retry_backoff.tries,
		           (long long)((delay + 999) / 1000));
	else
		log_errorx("%s; rolled back, nothing is lost", why);
	catalogue_clear_error(ix->cat);
	pthread_mutex_lock(&ix->lock);
	ix->failed = true;
	pthread_cond_broadcast(&ix->idle_cond); /* fisbot scan gives up */
	pthread_mutex_unlock(&ix->lock);
}

/* Commits the open transaction, then logs and sends its events. Returns 0,
 * or -1 if the commit failed (handled by write_failed). */
static int commit(struct indexer *ix)
{
	if (!ix->in_txn)
		return 0;
	if (catalogue_commit(ix->cat) == -1) {
		write_failed(ix);
		return -1;
	}
	ix->in_txn = false;
	ix->fts_ops += ix->txn_ops;
	if (ix->fts_ops >= FTS_CHECK_OPS)
		ix->fts_check = true;
	txn_done(ix);
	for (size_t i = 0; i < ix->nnotes; i++) {
		struct indexer_event ev = {
		    .kind = ix->notes[i].kind,
		    .id = ix->notes[i].id,
		    .path = ix->notes[i].path,
		    .first_build = ix->notes[i].first_build,
		};

		if (ev.kind == INDEXER_FILE_READY)
			log_debug("recorded \"%s\"", ev.path);
		if (ix->opt.notify != NULL)
			ix->opt.notify(&ev, ix->opt.notify_arg);
	}
	notes_clear(ix);
	return 0;
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
	for (size_t b = 0; b < ix->pend_nb; b++) {
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
	ix->walked_since = 0;
	if (dir[0] == '\0') {
		/* A share's worth of index pages: a cache larger than
		 * SQLite's 2 MB while it runs, given back once idle. */
		catalogue_set_cache(ix->cat, RECONCILE_CACHE_KIB);
		ix->trim_due = true;
		ix->fts_check = true;
	}
	rc = scan_reconcile(ix->cat, ix->rootfd, dir, &ix->cfg->share.exclude,
	                    &counts, reconcile_pending, ix, &cause);
	if (rc == -1 && ix->blocked) {
		/* A commit on the way failed, and was handled. */
		free(cause);
		return 0;
	}
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
	if (dir[0] == '\0') {
		ix->reconciled = true;
		if (ix->report) {
			ix->report_counts.added += counts.added;
			ix->report_counts.changed += counts.changed;
			ix->report_counts.removed += counts.removed;
			ix->report_counts.unchanged += counts.unchanged;
		}
	}
	/* The bot says so in its log (not at every retry after a failed
	 * write); fisbot scan prints the counts. */
	if (dir[0] == '\0')
		log_at(ix->opt.watch && ix->retry_backoff.tries == 0
		           ? LOG_INFO
		           : LOG_DEBUG,
		       "reconciled: added %llu, changed %llu, removed %llu, "
		       "unchanged %llu",
		       (unsigned long long)counts.added,
		       (unsigned long long)counts.changed,
		       (unsigned long long)counts.removed,
		       (unsigned long long)counts.unchanged);
	return rc;
}

/* Looks at path on disk and brings the catalogue in line with it. With
 * renamed, path was just renamed (its row moved there): a new ctime with
 * the same inode, size and mtime is the rename's, and keeps the hash. */
static int look(struct indexer *ix, const char *path, bool renamed)
{
	struct cat_file row = {0};
	unsigned char prev[32];
	bool had_hash;
	struct stat st;
	struct pend *p;
	int64_t ctime_ns;
	int found, rc = 0;

	if (path[0] == '\0')
		return reconcile(ix, "");
	if (exclude_path(&ix->cfg->share.exclude, path))
		return 0;
	if (beneath_stat(ix->rootfd, path, &st) == -1) {
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP &&
		    errno != EXDEV && errno != EACCES)
			log_warn("cannot stat \"%s\"", path);
		return remove_path(ix, path);
	}
	if ((S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) &&
	    !beneath_readable(ix->rootfd, path, S_ISDIR(st.st_mode))) {
		log_debug("\"%s\" is not readable: not listed", path);
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
	ctime_ns = fsutil_ctime_ns(&st);
	if (found == 1 && row.size == (uint64_t)st.st_size &&
	    row.mtime_ns == fsutil_mtime_ns(&st) &&
	    row.ino == (uint64_t)st.st_ino &&
	    (row.ctime_ns == ctime_ns || row.ctime_ns == 0 || renamed)) {
		/* The same content. A rename's ctime, or one unknown (a row
		 * from before ctimes were kept), is taken on. */
		if (row.ctime_ns != ctime_ns &&
		    (txn(ix) == -1 ||
		     catalogue_set_ctime(ix->cat, row.id, ctime_ns) == -1)) {
			rc = -1;
			goto out;
		}
		row.ctime_ns = ctime_ns;
		if (row.hashed) {
			if (p != NULL && !p->inflight)
				pend_delete(ix, p);
		} else {
			pend_touch(ix, &row,
			           clock_deadline_ms(
			               (int64_t)ix->cfg->share.settle_ms),
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
	row.ctime_ns = ctime_ns;
	row.dev = (uint64_t)st.st_dev;
	row.ino = (uint64_t)st.st_ino;
	if (txn(ix) == -1 || catalogue_upsert(ix->cat, &row) == -1) {
		rc = -1;
		goto out;
	}
	pend_touch(ix, &row,
	           clock_deadline_ms((int64_t)ix->cfg->share.settle_ms),
	           had_hash ? prev : NULL);
out:
	cat_file_clear(&row);
	return rc;
}

/* Looks at path on disk (look, not after a rename). */
static int examine(struct indexer *ix, const char *path)
{
	return look(ix, path, false);
}

/* The attributes of the folder path changed. It is looked at only if
 * whether the bot may read it no longer matches the catalogue: a touch or
 * a chmod that changes nothing for the bot costs a stat, not a reconcile. */
static int attrib(struct indexer *ix, const char *path)
{
	int known = catalogue_is_dir(ix->cat, path);
	struct stat st;
	bool readable;

	if (known == -1)
		return -1;
	readable = !exclude_path(&ix->cfg->share.exclude, path) &&
	           beneath_stat(ix->rootfd, path, &st) == 0 &&
	           S_ISDIR(st.st_mode) &&
	           beneath_readable(ix->rootfd, path, true);
	if (known == (readable ? 1 : 0))
		return 0;
	return examine(ix, path);
}

/* from was renamed to to. */
static int rename_path(struct indexer *ix, const char *from, const char *to)
{
	struct cat_file f = {0};
	int known;

	if (exclude_path(&ix->cfg->share.exclude, to))
		return examine(ix, from);
	if (exclude_path(&ix->cfg->share.exclude, from))
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
		for (size_t b = 0; b < ix->pend_nb; b++) {
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
				moved.ctime_ns = p->ctime_ns;
				moved.path = xasprintf("%s%s", to,
				                       p->path + strlen(from));
				/* Its id stays pending throughout. */
				pend_touch(ix, &moved, clock_now_ms(), NULL);
				pend_delete(ix, p);
				free(moved.path);
			}
		}
	}
	return look(ix, to, known == 1);
}

/* Records the hash result res (taken over) for row id in the open
 * transaction; res is kept with the transaction, to be kept for a later
 * try if it fails. Sets *stale if the row changed meanwhile. Returns 0 or
 * -1. */
static int record(struct indexer *ix, int64_t id, struct hash_job *res,
                  bool *stale)
{
	struct kept *k = xmalloc(sizeof(*k));
	struct cat_file f = {0};

	k->res = res;
	k->next = ix->txn_kept;
	ix->txn_kept = k;
	if (txn(ix) == -1)
		return -1;
	f.id = id;
	f.path = res->path;
	f.size = res->size;
	f.mtime_ns = res->mtime_ns;
	f.ctime_ns = res->ctime_ns;
	memcpy(f.sha256, res->sha256, sizeof(f.sha256));
	f.media_type = res->media_type;
	if (catalogue_set_hash_of(ix->cat, &f, stale) == -1)
		return -1;
	if (!*stale && res->media_type == NULL) {
		/* libmagic's, later (type_batch) */
		if (id <= ix->type_after)
			ix->type_after = id - 1;
		ix->types_done = false;
	}
	if (!*stale) {
		note_add(ix, INDEXER_FILE_READY, id, res->path);
		pthread_mutex_lock(&ix->lock);
		ix->hashed_total++;
		pthread_mutex_unlock(&ix->lock);
	}
	return 0;
}

/* A hash result came back (m->job; taken over if recorded). */
static int hashed(struct indexer *ix, struct msg *m)
{
	struct hash_job *job = m->job;
	struct pend *p = pend_find(ix, job->path);
	bool stale = false, dirty = p != NULL && p->dirty;
	char *path;
	int rc;

	if (p != NULL && p->inflight) {
		p->inflight = false;
		ix->ninflight--;
	}
	if (p != NULL)
		p->dirty = false;
	switch (job->status) {
	case HASH_OK:
		/* The row's id may have changed since the job left (a
		 * rollback, then a reconcile): the pending entry has the
		 * current one. */
		m->job = NULL;
		path = xstrdup(job->path);
		rc = record(ix, p != NULL ? p->id : job->id, job, &stale);
		if (rc == 0 && p != NULL && !stale && !dirty)
			pend_delete(ix, p);
		if (rc == 0 && (stale || dirty))
			rc = examine(ix, path);
		free(path);
		return rc;
	case HASH_CHANGED:
	case HASH_GONE:
	case HASH_CANCELLED:
		return examine(ix, job->path);
	case HASH_DENIED: /* not readable: not listed (no look again) */
		log_debug("\"%s\" is not readable: not listed", job->path);
		return remove_path(ix, job->path);
	case HASH_FAILED:
		if (p != NULL)
			pend_delete(ix, p);
		return 0;
	}
	return 0;
}

/* While writes are suspended: keeps what comes back from the hash pool and
 * the jobs of other threads, drops file system facts (the retry
 * reconciles the whole share). Takes m over. */
static void suspended(struct indexer *ix, struct msg *m)
{
	struct pend *p;

	switch (m->kind) {
	case MSG_HASHED:
		if (m->job->type_only) {
			ix->ntyping--;
			break;
		}
		p = pend_find(ix, m->job->path);
		if (p != NULL && p->inflight) {
			p->inflight = false;
			ix->ninflight--;
		}
		if (p != NULL)
			pend_delete(ix, p);
		if (m->job->status == HASH_OK) {
			kept_add(ix, m->job);
			m->job = NULL;
		}
		break;
	case MSG_RESCAN:
		/* The retry's reconcile is the one reported. */
		if (m->completed)
			ix->report = true;
		break;
	case MSG_PATH:
	case MSG_ATTRIB:
	case MSG_RENAME:
		break;
	default:
		defer(ix, m);
		return;
	}
	msg_free(m);
}

/* Sends every settled file to the hash pool, or records the result kept
 * for it from a failed transaction. */
static void settle_due(struct indexer *ix)
{
	int64_t now = clock_now_ms();

	while (!ix->blocked && ix->nheap > 0 && ix->heap[0].due_ms <= now) {
		struct heap_item it;
		struct hash_job *job;
		struct pend *p;
		struct stat st;

		heap_pop(ix, &it);
		p = pend_find(ix, it.path);
		free(it.path);
		if (p == NULL || p->seq != it.seq || p->inflight)
			continue;
		/* A file a reconcile has just seen is not looked at again:
		 * the hash pool checks it before and after reading. */
		if (!p->walked &&
		    (beneath_stat(ix->rootfd, p->path, &st) == -1 ||
		     !S_ISREG(st.st_mode) || (uint64_t)st.st_size != p->size ||
		     fsutil_mtime_ns(&st) != p->mtime_ns ||
		     fsutil_ctime_ns(&st) != p->ctime_ns)) {
			/* It changed while settling: look again. */
			char *path = xstrdup(p->path);

			if (examine(ix, path) == -1)
				write_failed(ix);
			free(path);
			continue;
		}
		job = kept_take(ix, p->path);
		if (job != NULL && job->size == p->size &&
		    job->mtime_ns == p->mtime_ns &&
		    job->ctime_ns == p->ctime_ns) {
			/* Hashed already, before a failed write. */
			char *path = xstrdup(p->path);
			int64_t id = p->id;
			bool stale = false;

			pend_delete(ix, p);
			if (record(ix, id, job, &stale) == -1 ||
			    (stale && examine(ix, path) == -1))
				write_failed(ix);
			free(path);
			continue;
		}
		hash_job_free(job);
		job = xcalloc(1, sizeof(*job));
		job->id = p->id;
		job->path = xstrdup(p->path);
		job->size = p->size;
		job->mtime_ns = p->mtime_ns;
		job->ctime_ns = p->ctime_ns;
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

/* catalogue_untyped callback: sends f to libmagic. */
static int type_send(const struct cat_file *f, void *arg)
{
	struct indexer *ix = arg;
	struct hash_job *job = xcalloc(1, sizeof(*job));

	job->id = f->id;
	job->path = xstrdup(f->path);
	job->size = f->size;
	job->mtime_ns = f->mtime_ns;
	job->ctime_ns = f->ctime_ns;
	job->type_only = true;
	ix->type_after = f->id;
	ix->ntyping++;
	hashpool_submit(ix->pool, job);
	return 0;
}

/* Sends the next files without a media type to libmagic; sets
 * types_done if there are none. */
static void type_batch(struct indexer *ix)
{
	int n = catalogue_untyped(ix->cat, ix->type_after, TYPE_BATCH,
	                          type_send, ix);

	/* None left; or a read error (logged): not again until a file is
	 * hashed without a type, rather than a loop of errors. */
	if (n <= 0) {
		ix->types_done = true;
		ix->trim_due = ix->trim_due || ix->typed_since_trim;
		ix->typed_since_trim = false;
	}
}

/* When idle: checks the search index's layout, or merges the next
 * FTS_MERGE_PAGES pages of it. */
static void fts_tidy(struct indexer *ix)
{
	int segments, rc;

	if (!ix->fts_merging) {
		ix->fts_check = false;
		ix->fts_ops = 0;
		if (catalogue_fts_fragmented(ix->cat, &segments) != 1)
			return;
		log_info("catalogue: merging the search index (%d segments)",
		         segments);
		ix->fts_merging = true;
		ix->fts_merge_ms = clock_now_ms();
		return;
	}
	rc = catalogue_fts_merge(ix->cat, FTS_MERGE_PAGES);
	if (rc == 1)
		return;
	/* Done; or a failed write (logged), tried again at the next check. */
	ix->fts_merging = false;
	if (rc == 0)
		log_info("catalogue: search index merged in %.1f s",
		         (double)(clock_now_ms() - ix->fts_merge_ms) / 1000);
}

/* A type_only job came back (m->job): records the type. */
static int typed(struct indexer *ix, struct msg *m)
{
	struct hash_job *job = m->job;
	struct cat_file f = {0};

	ix->ntyping--;
	ix->typed_since_trim = true;
	if (job->status != HASH_OK)
		return 0; /* changed or gone: its reconcile or event follows */
	if (txn(ix) == -1)
		return -1;
	f.id = job->id;
	f.path = job->path;
	f.size = job->size;
	f.mtime_ns = job->mtime_ns;
	f.media_type = job->media_type;
	return catalogue_set_type(ix->cat, &f);
}

/* Handles one message. Returns 0 or -1 on a database error. */
static int handle(struct indexer *ix, struct msg *m)
{
	switch (m->kind) {
	case MSG_PATH:
		return examine(ix, m->path);
	case MSG_ATTRIB:
		return attrib(ix, m->path);
	case MSG_RENAME:
		return rename_path(ix, m->path, m->path2);
	case MSG_RESCAN:
		if (m->completed)
			ix->report = true;
		return reconcile(ix, "");
	case MSG_HASHED:
		return m->job->type_only ? typed(ix, m) : hashed(ix, m);
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

/* Handles one message (taken over), or keeps it while writes are
 * suspended. A job is kept with the transaction that applied it, in case
 * that transaction fails. */
static void dispatch(struct indexer *ix, struct msg *m)
{
	int rc;

	if (ix->blocked) {
		suspended(ix, m);
		return;
	}
	rc = handle(ix, m);
	if (is_job(m)) {
		msgq_push(&ix->txn_jobs, &ix->txn_jobs_tail, m);
		ix->ntxn_jobs++;
		m = NULL;
	}
	if (rc == -1)
		write_failed(ix);
	if (m != NULL)
		msg_free(m);
}

/* Tries writing again after a failure: a full reconcile (the disk is the
 * truth for all but the kept results and jobs), the deferred jobs, a
 * commit. On success, the kept results are recorded as files settle. */
static void retry(struct indexer *ix)
{
	unsigned tries = ix->retry_backoff.tries;
	int64_t start = clock_now_ms();
	int rc;

	ix->blocked = false;
	rc = reconcile(ix, "");
	while (rc == 0 && ix->deferred != NULL && !ix->blocked) {
		struct msg *m = ix->deferred;

		ix->deferred = m->next;
		if (ix->deferred == NULL)
			ix->deferred_tail = NULL;
		ix->ndeferred--;
		dispatch(ix, m);
	}
	ix->retry_cost_ms = clock_now_ms() - start;
	if (rc == -1)
		write_failed(ix);
	if (ix->blocked || commit(ix) == -1)
		return;
	backoff_reset(&ix->retry_backoff);
	ix->retry_cost_ms = 0;
	if (ix->kept_dropped > 0 || ix->deferred_dropped > 0)
		log_warnx("catalogue writes resumed after %u failed tries; "
		          "%llu hash results (hashed again) and %llu jobs "
		          "(downloads, descriptions, rooms) could not be kept "
		          "meanwhile",
		          tries, (unsigned long long)ix->kept_dropped,
		          (unsigned long long)ix->deferred_dropped);
	else
		log_info("catalogue writes resumed after %u failed tries",
		         tries);
	ix->kept_dropped = ix->deferred_dropped = 0;
}

/* Returns when the indexer thread must wake up next (-1: only for a
 * message). */
static int64_t next_wake(struct indexer *ix)
{
	int64_t wake = -1;

	if (ix->blocked)
		return ix->retry_at_ms;
	if (ix->nheap > 0)
		wake = ix->heap[0].due_ms;
	if (ix->in_txn && (wake == -1 || ix->txn_started_ms + COMMIT_MS < wake))
		wake = ix->txn_started_ms + COMMIT_MS;
	if (ix->next_rescan_ms > 0 && (wake == -1 || ix->next_rescan_ms < wake))
		wake = ix->next_rescan_ms;
	return wake;
}

/* Tells the main thread that the rescan being reported is over, with its
 * counts. */
static void report_rescan(struct indexer *ix)
{
	struct indexer_event ev = {.kind = INDEXER_RESCAN_DONE,
	                           .counts = ix->report_counts};

	ix->report = false;
	memset(&ix->report_counts, 0, sizeof(ix->report_counts));
	if (ix->opt.notify != NULL)
		ix->opt.notify(&ev, ix->opt.notify_arg);
}

/* The indexer thread. */
static void *indexer_main(void *arg)
{
	struct indexer *ix = arg;

	pthread_mutex_lock(&ix->lock);
	for (;;) {
		struct msg *batch, *m, *next;
		int64_t now, wake;
		struct timespec ts;

		while (ix->head == NULL && !ix->stopping) {
			now = clock_now_ms();
			if (ix->rescan_every_ms > 0 && ix->next_rescan_ms == 0)
				ix->next_rescan_ms =
				    now + (int64_t)ix->rescan_every_ms;
			wake = next_wake(ix);
			if (wake != -1 && wake <= now)
				break;
			if (!ix->in_txn && ix->npend == 0) {
				/* Settled: results kept from a failed write
				 * have found their files, or never will. */
				if (!ix->blocked)
					kept_clear(ix);
				ix->idle = true;
				pthread_cond_broadcast(&ix->idle_cond);
				if (ix->reconciled && !ix->blocked)
					ix->first_build = false;
				if (ix->report && ix->reconciled &&
				    !ix->blocked) {
					pthread_mutex_unlock(&ix->lock);
					report_rescan(ix);
					pthread_mutex_lock(&ix->lock);
					continue;
				}
				if (ix->opt.type_later && !ix->types_done &&
				    ix->ntyping == 0 && ix->reconciled &&
				    !ix->blocked) {
					pthread_mutex_unlock(&ix->lock);
					type_batch(ix);
					pthread_mutex_lock(&ix->lock);
					continue;
				}
				if (ix->opt.merge_index &&
				    (ix->fts_check || ix->fts_merging) &&
				    ix->reconciled && !ix->blocked) {
					pthread_mutex_unlock(&ix->lock);
					fts_tidy(ix);
					pthread_mutex_lock(&ix->lock);
					continue;
				}
				if (ix->trim_due) {
					/* A reconcile leaves freed memory
					 * (its writer's cache, up to
					 * PIPE_INFLIGHT_MAX files out to
					 * hash, what changed) that glibc
					 * keeps unless told. */
					ix->trim_due = false;
					pthread_mutex_unlock(&ix->lock);
					catalogue_set_cache(ix->cat, 0);
					malloc_trim(0);
					pthread_mutex_lock(&ix->lock);
					continue;
				}
			}
			if (wake == -1) {
				pthread_cond_wait(&ix->wake, &ix->lock);
				continue;
			}
			ts = clock_timespec(wake);
			pthread_cond_timedwait(&ix->wake, &ix->lock, &ts);
		}
		if (ix->stopping)
			break;
		batch = ix->head;
		ix->head = ix->tail = NULL;
		pthread_mutex_unlock(&ix->lock);

		for (m = batch; m != NULL; m = next) {
			next = m->next;
			dispatch(ix, m);
			if (ix->in_txn && ix->txn_ops >= COMMIT_OPS)
				commit(ix);
		}
		now = clock_now_ms();
		if (ix->blocked && ix->retry_at_ms <= now)
			retry(ix);
		if (!ix->blocked && ix->next_rescan_ms > 0 &&
		    ix->next_rescan_ms <= now) {
			ix->next_rescan_ms = 0;
			if (reconcile(ix, "") == -1)
				write_failed(ix);
		}
		settle_due(ix);
		if (ix->in_txn &&
		    (ix->txn_started_ms + COMMIT_MS <= clock_now_ms() ||
		     ix->ninflight == 0))
			commit(ix);
		pthread_mutex_lock(&ix->lock);
		ix->waiting = ix->npend;
	}
	pthread_mutex_unlock(&ix->lock);
	commit(ix);
	if (ix->blocked && (ix->ndeferred > 0 || ix->kept_bytes > 0))
		log_warnx("stopping while the catalogue cannot be written: "
		          "%zu jobs (downloads, descriptions, rooms) are lost; "
		          "the next start hashes what was not recorded",
		          ix->ndeferred);
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
	ix->pend_nb = PEND_BUCKETS;
	ix->pend = xcalloc(ix->pend_nb, sizeof(*ix->pend));
	backoff_init(&ix->retry_backoff, &retry_policy);
	ix->rootfd = open(cfg->share.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ix->rootfd == -1 || fstat(ix->rootfd, &st) == -1) {
		*cause = xasprintf("share \"%s\": %s", cfg->share.path,
		                   strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&ix->lock, NULL);
	pthread_mutex_init(&ix->pend_lock, NULL);
	clock_cond_init(&ix->wake);
	clock_cond_init(&ix->idle_cond);
	ix->cat = catalogue_open_writer(cfg->share.database, cause);
	if (ix->cat == NULL)
		goto fail_sync;
	catalogue_keep_errors(ix->cat, true); /* write_failed logs them */
	{
		/* No file hashed yet (an index walk from the newest id, not a
		 * count): what comes now is the first build. */
		struct cat_page newest;

		if (catalogue_newest(ix->cat, 1, &newest) == 1) {
			ix->first_build = newest.n == 0;
			cat_page_clear(&newest);
		}
	}
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
		struct watch_sink sink = {
		    .path = sink_path,
		    .attrib = sink_attrib,
		    .rename = sink_rename,
		    .rescan = sink_rescan,
		    .periodic_rescan = sink_periodic_rescan,
		    .arg = ix,
		};

		ix->watch = watch_start(cfg->share.path, &cfg->share.exclude,
		                        &sink, cause);
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
	free(ix->pend);
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
	struct timespec ts = clock_timespec(clock_deadline_ms(ms));
	int rc;

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
	for (size_t b = 0; b < ix->pend_nb; b++)
		while (ix->pend[b] != NULL)
			pend_delete(ix, ix->pend[b]);
	free(ix->pend);
	for (size_t i = 0; i < ix->nheap; i++)
		free(ix->heap[i].path);
	free(ix->heap);
	kept_clear(ix);
	kept_list_free(ix->txn_kept);
	msg_list_free(ix->txn_jobs);
	msg_list_free(ix->deferred);
	notes_clear(ix);
	free(ix->notes);
	pthread_mutex_destroy(&ix->lock);
	pthread_mutex_destroy(&ix->pend_lock);
	pthread_cond_destroy(&ix->wake);
	pthread_cond_destroy(&ix->idle_cond);
	close(ix->rootfd);
	free(ix);
}
