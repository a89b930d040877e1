/*
 * The hash pool. A FIFO of jobs (base/queue.h); each worker owns a read
 * buffer, an EVP_MD_CTX and a libmagic handle (libmagic handles are not
 * shared between threads). The media type comes from the extension table
 * (mediatype.c) when it knows the name, else from the first bytes (a few
 * signatures and text, mediatype_sniff); libmagic costs 0.15-1.6 ms a
 * file, several times what hashing a small file costs, so a hash job never
 * asks it: the indexer sends the files left without a type back later as
 * type_only jobs, when it has nothing else to do, and only those load its
 * database. A file is opened
 * beneath the share root without following links, checked against the job's
 * size, mtime and ctime, read in large sequential chunks, and checked again
 * afterwards: any difference makes the result HASH_CHANGED so that the indexer
 * settles and hashes it again.
 */
#define _GNU_SOURCE /* gettid */
#include "hashpool.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/beneath.h"
#include "base/fsutil.h"
#include "base/queue.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "store/mediatype.h"

#define HASH_BUF    (1024 * 1024)
#define WORKER_NICE 10 /* added to the process's nice value */

struct qitem {
	struct queue_item item; /* first */
	struct hash_job *job;
};

struct hashpool {
	int rootfd;
	void (*done)(struct hash_job *job, void *arg);
	void *arg;
	struct queue *jobs; /* closed: the workers stop */
	pthread_t *threads;
	unsigned n;
};

void hash_job_free(struct hash_job *job)
{
	if (job == NULL)
		return;
	free(job->path);
	free(job->media_type);
	free(job);
}

/* A worker's libmagic handle, opened on first use. */
struct magic_state {
	struct mediatype_magic *magic;
	bool tried;
};

/* Returns true if st still describes the job's size, mtime and ctime. */
static bool same_file(const struct hash_job *job, const struct stat *st)
{
	return (uint64_t)st->st_size == job->size &&
	       fsutil_mtime_ns(st) == job->mtime_ns &&
	       (job->ctime_ns == 0 || fsutil_ctime_ns(st) == job->ctime_ns);
}

/* Hashes job->path into job; sets job->status. */
static void hash_one(int rootfd, struct hash_job *job, unsigned char *buf,
                     EVP_MD_CTX *md)
{
	const char *known = mediatype_from_name(job->path);
	struct stat before, after;
	size_t got = 0;
	bool typed = known != NULL;
	ssize_t r;
	int fd;

	job->status = HASH_FAILED;
	fd =
	    beneath_open(rootfd, job->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			job->status = HASH_GONE;
		else if (errno == EACCES || errno == EPERM)
			job->status = HASH_DENIED;
		else
			log_warn("cannot open \"%s\", skipped", job->path);
		return;
	}
	if (fstat(fd, &before) == -1 || !S_ISREG(before.st_mode)) {
		job->status = HASH_GONE;
		goto out;
	}
	if (!same_file(job, &before)) {
		job->status = HASH_CHANGED;
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	for (;;) {
		r = read(fd, buf, HASH_BUF);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			log_warn("cannot read \"%s\", skipped", job->path);
			goto out;
		}
		if (!typed) {
			/* The first read is large: the type may come from
			 * a few signatures and text; else it stays NULL for
			 * a type_only job. */
			size_t n = (size_t)r < MEDIATYPE_MAGIC_BYTES
			               ? (size_t)r
			               : MEDIATYPE_MAGIC_BYTES;
			const char *t = mediatype_sniff(buf, n);

			if (t != NULL)
				job->media_type = xstrdup(t);
			typed = true;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (EVP_DigestUpdate(md, buf, (size_t)r) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(md, job->sha256, NULL) != 1)
		goto out;
	if (known != NULL)
		job->media_type = xstrdup(known);
	if (fstat(fd, &after) == -1 || !same_file(job, &after) ||
	    got != job->size) {
		job->status = HASH_CHANGED;
		goto out;
	}
	job->status = HASH_OK;
out:
	if (job->status != HASH_OK) {
		free(job->media_type);
		job->media_type = NULL;
	}
	close(fd);
}

/* Finds job->path's media type: the extension table's, else from its first
 * bytes with libmagic if need be (a type_only job); sets job->status. */
static void type_one(int rootfd, struct hash_job *job, unsigned char *buf,
                     struct magic_state *ms)
{
	const char *type = mediatype_from_name(job->path);
	ssize_t n;

	if (type == NULL) {
		n = mediatype_head(rootfd, job->path, job->size, job->mtime_ns,
		                   buf);
		if (n == -1) { /* gone, changed or unreadable: not typed */
			job->status = HASH_CHANGED;
			return;
		}
		if (!ms->tried) {
			ms->tried = true;
			ms->magic = mediatype_magic_open();
		}
		type = mediatype_of_bytes(ms->magic, buf, (size_t)n);
	}
	job->media_type = xstrdup(type);
	job->status = HASH_OK;
}

/* A worker: takes jobs until the pool stops. */
static void *worker(void *arg)
{
	struct hashpool *p = arg;
	unsigned char *buf = xmalloc(HASH_BUF);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct magic_state ms = {NULL, false};

	if (md == NULL)
		fatalx("cannot create a SHA-256 context");
	/* Background work: the threads that answer people come first when
	 * the cores are busy (a thread's own nice value on Linux). */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICE);
	for (;;) {
		struct qitem *it;
		struct hash_job *job;

		it = (struct qitem *)queue_pop(p->jobs, -1);
		if (it == NULL)
			break; /* stopping */
		job = it->job;
		free(it);
		if (job->type_only) {
			type_one(p->rootfd, job, buf, &ms);
			p->done(job, p->arg);
			/* Its database is 8 MiB a handle: kept only while
			 * type_only jobs keep coming (loading it again takes
			 * about 1 ms). */
			if (queue_empty(p->jobs)) {
				mediatype_magic_close(ms.magic);
				ms.magic = NULL;
				ms.tried = false;
			}
			continue;
		}
		hash_one(p->rootfd, job, buf, md);
		if (job->status == HASH_OK)
			log_debug("hashed \"%s\"", job->path);
		p->done(job, p->arg);
	}
	mediatype_magic_close(ms.magic);
	EVP_MD_CTX_free(md);
	free(buf);
	return NULL;
}

struct hashpool *hashpool_start(int rootfd, unsigned threads,
                                void (*done)(struct hash_job *job, void *arg),
                                void *arg, char **cause)
{
	struct hashpool *p = xcalloc(1, sizeof(*p));
	long cores;

	if (threads == 0) {
		cores = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cores > 0 ? (unsigned)cores : 1;
	}
	p->rootfd = rootfd;
	p->done = done;
	p->arg = arg;
	p->jobs = queue_new(cause);
	if (p->jobs == NULL) {
		free(p);
		return NULL;
	}
	p->threads = xcalloc(threads, sizeof(*p->threads));
	for (p->n = 0; p->n < threads; p->n++) {
		int err = pthread_create(&p->threads[p->n], NULL, worker, p);

		if (err != 0) {
			*cause = xasprintf("cannot start a hash thread: %s",
			                   strerror(err));
			hashpool_stop(p);
			return NULL;
		}
	}
	return p;
}

void hashpool_submit(struct hashpool *p, struct hash_job *job)
{
	struct qitem *it = xmalloc(sizeof(*it));

	it->job = job;
	queue_push(p->jobs, &it->item);
}

void hashpool_cancel(struct hashpool *p)
{
	struct qitem *it, *next;

	for (it = (struct qitem *)queue_take(p->jobs); it != NULL; it = next) {
		next = (struct qitem *)it->item.next;
		it->job->status = HASH_CANCELLED;
		p->done(it->job, p->arg);
		free(it);
	}
}

void hashpool_stop(struct hashpool *p)
{
	struct qitem *it, *next;

	if (p == NULL)
		return;
	queue_close(p->jobs);
	for (unsigned i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	for (it = (struct qitem *)queue_take(p->jobs); it != NULL; it = next) {
		next = (struct qitem *)it->item.next;
		hash_job_free(it->job);
		free(it);
	}
	queue_free(p->jobs);
	free(p->threads);
	free(p);
}

unsigned hashpool_threads(const struct hashpool *p)
{
	return p->n;
}
