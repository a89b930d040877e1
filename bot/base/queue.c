/*
 * A queue between threads (see queue.h): a linked list under a mutex, a
 * condition variable for the threads that wait in queue_pop, and an
 * eventfd for event loops.
 *
 * Design note: the eventfd is written when the queue goes from empty to
 * not empty and read back when it becomes empty, both under the lock, so
 * it is readable exactly while items are queued: a loop that polls it
 * never misses an item and never spins on an empty queue. The condition
 * variable runs on the monotonic clock (clock_cond_init), so queue_pop's
 * timeout survives a change of the wall clock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "queue.h"

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct queue_item *head, *tail;
	bool closed;
	int efd;
};

struct queue *queue_new(char **cause)
{
	struct queue *q = xcalloc(1, sizeof(*q));

	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd == -1) {
		*cause = xasprintf("eventfd: %s", strerror(errno));
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	clock_cond_init(&q->cond);
	return q;
}

void queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	close(q->efd);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Makes the eventfd readable (the queue just got its first item). */
static void fd_raise(struct queue *q)
{
	const uint64_t one = 1;

	if (write(q->efd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
		log_warn("queue: eventfd");
}

/* Makes the eventfd unreadable again (the queue was just emptied). */
static void fd_lower(struct queue *q)
{
	uint64_t n;

	if (read(q->efd, &n, sizeof(n)) != sizeof(n) && errno != EAGAIN)
		log_warn("queue: eventfd");
}

void queue_push(struct queue *q, struct queue_item *item)
{
	item->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail != NULL) {
		q->tail->next = item;
	} else {
		q->head = item;
		fd_raise(q);
	}
	q->tail = item;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* Takes the head item off (locked, the queue not empty). */
static struct queue_item *shift(struct queue *q)
{
	struct queue_item *item = q->head;

	q->head = item->next;
	if (q->head == NULL) {
		q->tail = NULL;
		fd_lower(q);
	}
	item->next = NULL;
	return item;
}

struct queue_item *queue_pop(struct queue *q, int timeout_ms)
{
	struct queue_item *item = NULL;
	struct timespec until;

	if (timeout_ms > 0)
		until = clock_timespec(clock_deadline_ms(timeout_ms));
	pthread_mutex_lock(&q->lock);
	while (!q->closed && q->head == NULL && timeout_ms != 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&q->cond, &q->lock);
		else if (pthread_cond_timedwait(&q->cond, &q->lock, &until) ==
		         ETIMEDOUT)
			break;
	}
	if (!q->closed && q->head != NULL)
		item = shift(q);
	pthread_mutex_unlock(&q->lock);
	return item;
}

struct queue_item *queue_take(struct queue *q)
{
	struct queue_item *all;

	pthread_mutex_lock(&q->lock);
	all = q->head;
	if (all != NULL) {
		q->head = q->tail = NULL;
		fd_lower(q);
	}
	pthread_mutex_unlock(&q->lock);
	return all;
}

size_t queue_run(struct queue *q)
{
	struct queue_item *item = queue_take(q), *next;
	size_t n = 0;

	for (; item != NULL; item = next) {
		next = item->next;
		item->next = NULL;
		item->run(item);
		n++;
	}
	return n;
}

struct queue_item *
queue_remove(struct queue *q, bool (*match)(struct queue_item *item, void *arg),
             void *arg)
{
	struct queue_item *out = NULL, **out_tail = &out, **pp, *item;

	pthread_mutex_lock(&q->lock);
	pp = &q->head;
	q->tail = NULL;
	while ((item = *pp) != NULL) {
		if (match(item, arg)) {
			*pp = item->next;
			item->next = NULL;
			*out_tail = item;
			out_tail = &item->next;
		} else {
			q->tail = item;
			pp = &item->next;
		}
	}
	if (out != NULL && q->head == NULL)
		fd_lower(q);
	pthread_mutex_unlock(&q->lock);
	return out;
}

bool queue_empty(struct queue *q)
{
	bool empty;

	pthread_mutex_lock(&q->lock);
	empty = q->head == NULL;
	pthread_mutex_unlock(&q->lock);
	return empty;
}

void queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

int queue_fd(const struct queue *q)
{
	return q->efd;
}
