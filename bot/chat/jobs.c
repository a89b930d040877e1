/*
 * The query workers and the requesters' turns: no slow work on the main
 * thread (searches, listings and counts run on workers, so that one
 * user's slowest query never delays another user's reply by more than
 * 50 ms).
 *
 * Design note. Every command and every query IQ becomes a job (struct
 * host_job, the head of a struct fb_request or of an IQ job) in its
 * requester's lane: a FIFO per requester key (the occupant JID in a room,
 * else the bare JID), owned by the main thread. Only a lane's first job
 * runs; when it is answered the next one starts. So one requester's
 * answers come in the order of its requests ("more" after "search" sees
 * the search's continuation), one requester never holds more than one
 * worker, and a continuation moves from the host's table to the job and
 * back, owned by one thread at a time.
 *
 * At its turn a job says how it runs (ops->start, main thread): at once on
 * the main thread (help, admin commands, errors already decided), or on a
 * worker (FB_CMD_QUERY commands, FB_IQ_QUERY IQs). Worker jobs go to one
 * queue (queue.h) shared by HOST_WORKERS_MAX threads at most, each with
 * its own read-only catalogue connection (whose progress handler keeps the
 * 2 s search cap) and its own libstrophe context. A worker runs the
 * handler, which only records its answer in the job, and posts the job to
 * the main thread's inbox (deps.inbox, the daemon's one queue of work from
 * other threads); when the main loop runs the inbox, job_done sends the
 * answer (ops->finish) and starts what waited behind it. No worker ever
 * touches the connection, the session, the host's tables or another
 * thread's stanza.
 *
 * Bounds: a lane holds at most HOST_LANE_MAX jobs and HOST_QUEUE_MAX jobs
 * wait in all; past them the dispatcher answers "busy: try again in a
 * moment" without queueing (jobs_full).
 *
 * The main loop cannot add the inbox's eventfd to libstrophe's select(),
 * so while host_busy it runs xmpp_run_once with a short timeout and runs
 * the inbox after each pass (see daemon.c).
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fisbot/alloc.h"
#include "fisbot/catalogue.h"
#include "fisbot/log.h"
#include "host_internal.h"

/* The worker the calling thread is, or NULL. */
static _Thread_local struct host_worker *self;

/* Returns the worker the calling thread is, or NULL. */
struct host_worker *jobs_worker_self(void)
{
	return self;
}

/* Returns the job an item of the queues is. */
static struct host_job *job_of(struct queue_item *item)
{
	return (void *)((char *)item - offsetof(struct host_job, item));
}

static void job_done(struct queue_item *item);

/* A worker thread: runs queued jobs until the pool stops. */
static void *worker_main(void *arg)
{
	struct host_worker *w = arg;
	struct host *h = w->host;
	struct queue_item *item;

	self = w;
	while ((item = queue_pop(h->pool.queued, -1)) != NULL) {
		struct host_job *j = job_of(item);

		w->job = j;
		j->ops->run(j);
		w->job = NULL;
		j->item.run = job_done;
		queue_push(h->deps.inbox, &j->item);
	}
	return NULL;
}

/* Returns how many workers to start: deps.workers, or the CPUs, within
 * 2 and HOST_WORKERS_MAX. */
static size_t worker_count(const struct host *h)
{
	long n = h->deps.workers;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 2)
		n = 2;
	if (n > HOST_WORKERS_MAX)
		n = HOST_WORKERS_MAX;
	return (size_t)n;
}

/* Starts the workers (see host_internal.h). */
int jobs_start(struct host *h, char **cause)
{
	struct host_pool *pool = &h->pool;
	size_t n = worker_count(h);
	int rc;

	pool->queued = queue_new(cause);
	if (pool->queued == NULL)
		return -1;
	pool->workers = xcalloc(n, sizeof(*pool->workers));
	pool->n_workers = n;
	for (size_t i = 0; i < n; i++) {
		struct host_worker *w = &pool->workers[i];

		w->host = h;
		if (h->deps.database != NULL) {
			w->cat = catalogue_open(h->deps.database, cause);
			if (w->cat == NULL)
				return -1;
		}
		w->ctx = xmpp_ctx_new(NULL, NULL);
		if (w->ctx == NULL) {
			*cause = xstrdup("xmpp_ctx_new failed");
			return -1;
		}
		rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc != 0) {
			*cause = xasprintf("cannot start a query worker: %s",
			                   strerror(rc));
			return -1;
		}
		w->started = true;
	}
	log_debug("%zu query workers", n);
	return 0;
}

/* Returns true if item is a finished job of the host arg. */
static bool is_done_job(struct queue_item *item, void *arg)
{
	return item->run == job_done && job_of(item)->host == arg;
}

/* Stops the workers and frees every pending job (see host_internal.h). */
void jobs_stop(struct host *h)
{
	struct host_pool *pool = &h->pool;
	struct host_lane *l, *next_lane;

	if (pool->queued == NULL)
		return; /* never started */
	/* A worker finishes the job it runs (a search stops within its
	 * cap); queued jobs are dropped. */
	queue_close(pool->queued);
	for (size_t i = 0; i < pool->n_workers; i++)
		if (pool->workers[i].started)
			pthread_join(pool->workers[i].thread, NULL);
	/* Every job is in a lane: those in the queues are only unlinked
	 * there (finished ones from the inbox, which outlives the host). */
	queue_remove(h->deps.inbox, is_done_job, h);
	queue_free(pool->queued);
	pool->queued = NULL;
	for (l = pool->lanes; l != NULL; l = next_lane) {
		struct host_job *j, *next;

		next_lane = l->next;
		for (j = l->head; j != NULL; j = next) {
			next = j->next;
			j->ops->free(j);
		}
		free(l->key);
		free(l);
	}
	pool->lanes = NULL;
	pool->n_jobs = pool->n_out = 0;
	for (size_t i = 0; i < pool->n_workers; i++) {
		catalogue_close(pool->workers[i].cat);
		if (pool->workers[i].ctx != NULL)
			xmpp_ctx_free(pool->workers[i].ctx);
	}
	free(pool->workers);
	pool->workers = NULL;
	pool->n_workers = 0;
}

/* Returns requester key's lane, or NULL. */
static struct host_lane *lane_find(const struct host *h, const char *key)
{
	for (struct host_lane *l = h->pool.lanes; l != NULL; l = l->next)
		if (strcmp(l->key, key) == 0)
			return l;
	return NULL;
}

/* Returns true if there is no room for a job that would wait. */
bool jobs_full(const struct host *h, const char *key, bool worker)
{
	const struct host_pool *pool = &h->pool;
	const struct host_lane *l = lane_find(h, key);

	if (l == NULL && !worker)
		return false; /* it runs at once */
	if (l != NULL && l->n >= HOST_LANE_MAX)
		return true;
	/* Every job but those the workers run (at most one each) waits. */
	return pool->n_jobs >= HOST_QUEUE_MAX + pool->n_workers;
}

/* Unlinks and frees lane l (empty). */
static void lane_free(struct host *h, struct host_lane *l)
{
	struct host_lane **pp = &h->pool.lanes;

	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
	free(l->key);
	free(l);
}

/* Removes the first job of l, which is answered, and frees it. */
static void lane_pop(struct host *h, struct host_lane *l)
{
	struct host_job *j = l->head;

	l->head = j->next;
	if (l->head == NULL)
		l->tail = NULL;
	l->n--;
	h->pool.n_jobs--;
	j->ops->free(j);
}

/* Hands j to the workers. */
static void queue_for_workers(struct host *h, struct host_job *j)
{
	j->state = JOB_OUT;
	h->pool.n_out++;
	queue_push(h->pool.queued, &j->item);
}

/* Runs the jobs of l whose turn it is, until one goes to a worker or the
 * lane is empty (then it is freed). */
static void lane_pump(struct host *h, struct host_lane *l)
{
	struct host_job *j;

	while ((j = l->head) != NULL) {
		if (j->state == JOB_OUT)
			return;
		if (j->state == JOB_WAITING) {
			switch (j->ops->start(j)) {
			case JOB_WORKER:
				queue_for_workers(h, j);
				return;
			case JOB_MAIN:
				j->ops->run(j);
				break;
			case JOB_ANSWERED:
			default:
				break;
			}
		}
		j->ops->finish(j);
		lane_pop(h, l);
	}
	lane_free(h, l);
}

/* Gives j to key's lane (see host_internal.h). */
void jobs_submit(struct host *h, struct host_job *j, const char *key)
{
	struct host_lane *l = lane_find(h, key);

	j->state = JOB_WAITING;
	j->next = NULL;
	if (l == NULL) {
		l = xcalloc(1, sizeof(*l));
		l->key = xstrdup(key);
		l->next = h->pool.lanes;
		h->pool.lanes = l;
	}
	j->lane = l;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
	h->pool.n_jobs++;
	if (l->head == j)
		lane_pump(h, l);
}

/* Main thread, from the inbox: a worker finished j; sends its answer
 * and starts what waited behind it. */
static void job_done(struct queue_item *item)
{
	struct host_job *j = job_of(item);

	j->state = JOB_DONE;
	j->host->pool.n_out--;
	/* A job with workers is always first in its lane. */
	lane_pump(j->host, j->lane);
}

/* Returns true while some job is queued or runs on a worker. */
bool jobs_busy(const struct host *h)
{
	return h->pool.n_jobs > 0;
}
