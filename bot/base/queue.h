/*
 * A queue between threads: any thread pushes items, one consumer (or a
 * pool of them) takes them in order. A consumer thread blocks in
 * queue_pop; an event loop watches queue_fd (an eventfd, readable while
 * items are queued) and takes everything with queue_take or queue_run.
 *
 * Items are intrusive: embed a struct queue_item in yours (first, or
 * reach yours from it) and the queue never allocates or frees anything
 * of them. queue_run runs each item's run function, which then owns the
 * item: a queue of such items is a mailbox of work for the consumer's
 * thread (the daemon's inbox on the main thread).
 */
#ifndef FISBOT_QUEUE_H
#define FISBOT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct queue;

struct queue_item {
	struct queue_item *next;
	/* For queue_run: handles the item on the consumer's thread (and
	 * frees it). Unused by the other functions. */
	void (*run)(struct queue_item *item);
};

/* Returns an empty queue, or NULL with *cause (no eventfd). */
struct queue *queue_new(char **cause);
/* Frees the queue; items still in it are the caller's (take them
 * first). */
void queue_free(struct queue *q);
/* Appends item (any thread) and wakes a consumer. */
void queue_push(struct queue *q, struct queue_item *item);
/* Takes the oldest item, waiting up to timeout_ms for one (-1: as long as
 * it takes; 0: not at all). Returns NULL on timeout, and at once once the
 * queue is closed. */
struct queue_item *queue_pop(struct queue *q, int timeout_ms);
/* Takes every item at once (never waits): the oldest, linked by next, or
 * NULL. */
struct queue_item *queue_take(struct queue *q);
/* Takes every item and calls its run; returns how many ran. Items pushed
 * by those runs wait for the next call. */
size_t queue_run(struct queue *q);
/* Takes out the items for which match(item, arg) is true (e.g. those of
 * a part that is shutting down), oldest first, linked by next. */
struct queue_item *
queue_remove(struct queue *q, bool (*match)(struct queue_item *item, void *arg),
             void *arg);
/* Returns true if no item is queued. */
bool queue_empty(struct queue *q);
/* Closes the queue: queue_pop returns NULL from now on, in every thread
 * that waits in it. Pushing still works (the items wait for queue_take). */
void queue_close(struct queue *q);
/* Returns a descriptor that is readable while items are queued (for
 * poll; never read it). */
int queue_fd(const struct queue *q);

#endif
