/*
 * The query workers and the requesters' turns (SPEC §9: no slow work on
 * the main thread).
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
 * queue shared by HOST_WORKERS_MAX threads at most, each with its own
 * read-only catalogue connection (whose progress handler keeps the 2 s
 * search cap) and its own libstrophe context. A worker runs the handler,
 * which only records its answer in the job, puts the job on the done list
 * and writes the eventfd; the main loop calls host_poll (jobs_poll), which
 * sends the answers (ops->finish) and starts what waited behind them. No worker
 * ever touches the connection, the session, the host's tables or another
 * thread's stanza.
 *
 * Bounds: a lane holds at most HOST_LANE_MAX jobs and HOST_QUEUE_MAX jobs
 * wait in all; past them the dispatcher answers "busy: try again in a
 * moment" without queueing (jobs_full).
 *
 * The main loop cannot add the eventfd to libstrophe's select(), so while
 * host_busy it runs xmpp_run_once with a short timeout and polls here after
 * each pass; idle, it keeps its long timeout.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"
#include "catalogue.h"
#include "host_internal.h"
#include "log.h"

/* The worker the calling thread is, or NULL. */
static _Thread_local struct host_worker *self;

/* Returns the worker the calling thread is, or NULL. */
struct host_worker *jobs_worker_self(void)
{
	return self;
}

/* A worker thread: runs queued jobs until the pool stops. */
static void *worker_main(void *arg)
{
	struct host_worker *w = arg;
	struct host_pool *pool = &w->host->pool;
	const uint64_t one = 1;
	struct host_job *j;

	self = w;
	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (!pool->stopping && pool->todo == NULL)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if (pool->stopping)
			break;
		j = pool->todo;
		pool->todo = j->qnext;
		if (pool->todo == NULL)
			pool->todo_tail = NULL;
		j->qnext = NULL;
		w->job = j;
		pthread_mutex_unlock(&pool->lock);

		j->ops->run(j);

		pthread_mutex_lock(&pool->lock);
		w->job = NULL;
		if (pool->done_tail != NULL)
			pool->done_tail->qnext = j;
		else
			pool->done = j;
		pool->done_tail = j;
		/* Under the lock, with the list (see host_poll). */
		if (write(pool->efd, &one, sizeof(one)) != sizeof(one) &&
		    errno != EAGAIN)
			log_warn("query worker: eventfd");
	}
	pthread_mutex_unlock(&pool->lock);
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

	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->ready = true;
	pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool->efd == -1) {
		*cause = xasprintf("eventfd: %s", strerror(errno));
		return -1;
	}
	pool->workers = xcalloc(n, sizeof(*pool->workers));
	pool->n_workers = n;
	for (size_t i = 0; i < n; i++) {
		struct host_worker *w = &pool->workers[i];

		w->host = h;
		if (h->deps.database != NULL) {
			w->cat = catalogue_open(h->deps.database,
			                        CATALOGUE_READ, cause);
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

/* Stops the workers and frees every pending job (see host_internal.h). */
void jobs_stop(struct host *h)
{
	struct host_pool *pool = &h->pool;
	struct host_lane *l, *next_lane;

	if (!pool->ready)
		return; /* never started */
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	/* A worker finishes the job it runs (a search stops within its
	 * cap); queued jobs are dropped. */
	for (size_t i = 0; i < pool->n_workers; i++)
		if (pool->workers[i].started)
			pthread_join(pool->workers[i].thread, NULL);
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
	pool->todo = pool->todo_tail = pool->done = pool->done_tail = NULL;
	for (size_t i = 0; i < pool->n_workers; i++) {
		catalogue_close(pool->workers[i].cat);
		if (pool->workers[i].ctx != NULL)
			xmpp_ctx_free(pool->workers[i].ctx);
	}
	free(pool->workers);
	pool->workers = NULL;
	pool->n_workers = 0;
	if (pool->efd != -1)
		close(pool->efd);
	pool->efd = -1;
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	pool->ready = false;
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
	struct host_pool *pool = &h->pool;

	j->state = JOB_OUT;
	pool->n_out++;
	pthread_mutex_lock(&pool->lock);
	j->qnext = NULL;
	if (pool->todo_tail != NULL)
		pool->todo_tail->qnext = j;
	else
		pool->todo = j;
	pool->todo_tail = j;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
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

/* Sends what the workers finished and starts what waited for it. */
void jobs_poll(struct host *h)
{
	struct host_pool *pool = &h->pool;
	struct host_job *j, *next;
	uint64_t n;

	if (pool->n_out == 0)
		return;
	/* Workers add to the done list and write the eventfd under the
	 * lock: reading it here leaves it readable only while jobs wait. */
	pthread_mutex_lock(&pool->lock);
	if (read(pool->efd, &n, sizeof(n)) != (ssize_t)sizeof(n)) {
		pthread_mutex_unlock(&pool->lock);
		return;
	}
	j = pool->done;
	pool->done = pool->done_tail = NULL;
	pthread_mutex_unlock(&pool->lock);
	for (; j != NULL; j = next) {
		next = j->qnext;
		j->qnext = NULL;
		j->state = JOB_DONE;
		pool->n_out--;
		/* A job with workers is always first in its lane. */
		lane_pump(h, j->lane);
	}
}
