/*
 * The bounded fair send queue (see sendq.h). Lanes are found by key in a
 * chained hash table; a lane exists only while it holds items (the bot's
 * own lane is always there), so memory follows the items, which are
 * bounded. Active lanes sit on one of two FIFO lists, "new" and "old";
 * sendq_pop serves the head lane of one of them, the new list first but
 * the old one at least once every FRESH_RUN + 1 pops while it has lanes,
 * and moves a lane that still has items to the tail of the old list. A
 * new lane thus waits at most (FRESH_RUN + 1) / FRESH_RUN pops per new
 * lane ahead of it; an old lane at most FRESH_RUN + 1 per old lane ahead.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot/alloc.h"
#include "sendq.h"

#define NBUCKETS  1024
#define FRESH_RUN 4 /* new lanes served in a row while old ones wait */

struct node {
	struct node *next;
	void *item;
	size_t bytes;
};

struct lane {
	struct lane *hnext; /* hash chain */
	struct lane *next;  /* on the new or the old list */
	char *key;          /* NULL: the bot's own lane */
	struct node *head, *tail;
	size_t items, bytes;
	bool active; /* on a list (it holds items) */
};

/* A FIFO list of lanes. */
struct lanes {
	struct lane *head, *tail;
};

struct sendq {
	struct sendq_limits lim;
	void (*free_item)(void *item);
	struct lane *buckets[NBUCKETS];
	struct lane own;
	struct lanes fresh, old;
	unsigned fresh_run; /* new lanes served in a row while old ones wait */
	size_t items, bytes, lanes;
	uint64_t drops;
	char *last_drop;
	bool last_drop_own;
};

/* FNV-1a over the key. */
static size_t lane_hash(const char *key)
{
	uint64_t h = 1469598103934665603ull;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ull;
	}
	return (size_t)(h % NBUCKETS);
}

/* Allocates an empty queue. */
struct sendq *sendq_new(const struct sendq_limits *lim,
                        void (*free_item)(void *item))
{
	struct sendq *q = xcalloc(1, sizeof(*q));

	q->lim = *lim;
	q->free_item = free_item;
	return q;
}

/* Returns key's lane (the own lane for NULL), or NULL if it has none. */
static struct lane *lane_find(struct sendq *q, const char *key)
{
	if (key == NULL)
		return &q->own;
	for (struct lane *l = q->buckets[lane_hash(key)]; l != NULL;
	     l = l->hnext)
		if (strcmp(l->key, key) == 0)
			return l;
	return NULL;
}

/* Appends l to list. */
static void lanes_append(struct lanes *list, struct lane *l)
{
	l->next = NULL;
	if (list->tail != NULL)
		list->tail->next = l;
	else
		list->head = l;
	list->tail = l;
}

/* Takes the head lane off list. */
static struct lane *lanes_shift(struct lanes *list)
{
	struct lane *l = list->head;

	list->head = l->next;
	if (list->head == NULL)
		list->tail = NULL;
	l->next = NULL;
	return l;
}

/* Forgets an empty lane (the own lane only goes inactive). */
static void lane_release(struct sendq *q, struct lane *l)
{
	struct lane **pp;

	l->active = false;
	if (l == &q->own)
		return;
	for (pp = &q->buckets[lane_hash(l->key)]; *pp != l; pp = &(*pp)->hnext)
		;
	*pp = l->hnext;
	free(l->key);
	free(l);
	q->lanes--;
}

/* Takes the oldest item of l off it; returns the node. */
static struct node *lane_shift(struct sendq *q, struct lane *l)
{
	struct node *n = l->head;

	l->head = n->next;
	if (l->head == NULL)
		l->tail = NULL;
	l->items--;
	l->bytes -= n->bytes;
	q->items--;
	q->bytes -= n->bytes;
	return n;
}

/* Counts a dropped item of lane key (NULL: the own lane). */
static void count_drop(struct sendq *q, const char *key)
{
	q->drops++;
	q->last_drop_own = key == NULL;
	if (key != NULL &&
	    (q->last_drop == NULL || strcmp(q->last_drop, key) != 0)) {
		free(q->last_drop);
		q->last_drop = xstrdup(key);
	}
}

/* Returns the active lane with the most bytes queued. */
static struct lane *fattest(struct sendq *q)
{
	struct lane *best = NULL;
	struct lanes *lists[] = {&q->fresh, &q->old};

	for (size_t i = 0; i < 2; i++)
		for (struct lane *l = lists[i]->head; l != NULL; l = l->next)
			if (best == NULL || l->bytes > best->bytes ||
			    (l->bytes == best->bytes && l->items > best->items))
				best = l;
	return best;
}

/* Makes room for bytes more in lane l (which may not exist yet: NULL) by
 * dropping the oldest items of fatter lanes. Returns false if the new
 * item must be dropped instead. */
static bool make_room(struct sendq *q, const struct lane *l, size_t bytes)
{
	size_t own_bytes = l != NULL ? l->bytes : 0;

	while (q->items + 1 > q->lim.total_items ||
	       q->bytes + bytes > q->lim.total_bytes) {
		struct lane *f = fattest(q);
		struct node *n;

		/* The fattest lane keeps one item at least (so it never
		 * empties here) and stays fatter than l after the move. */
		if (f == NULL || f == l || f->items < 2 ||
		    f->bytes < own_bytes + bytes)
			return false;
		n = lane_shift(q, f);
		count_drop(q, f->key);
		q->free_item(n->item);
		free(n);
	}
	return true;
}

/* Queues item in its lane, within the bounds. */
enum sendq_result sendq_push(struct sendq *q, const char *key, void *item,
                             size_t bytes)
{
	struct lane *l = lane_find(q, key);
	struct node *n;

	if (key != NULL && l != NULL &&
	    (l->items + 1 > q->lim.lane_items ||
	     l->bytes + bytes > q->lim.lane_bytes)) {
		count_drop(q, key);
		q->free_item(item);
		return SENDQ_LANE_FULL;
	}
	if (key != NULL && l == NULL && bytes > q->lim.lane_bytes) {
		count_drop(q, key);
		q->free_item(item);
		return SENDQ_LANE_FULL;
	}
	if (!make_room(q, l, bytes)) {
		count_drop(q, key);
		q->free_item(item);
		return SENDQ_FULL;
	}
	if (l == NULL) {
		size_t h = lane_hash(key);

		l = xcalloc(1, sizeof(*l));
		l->key = xstrdup(key);
		l->hnext = q->buckets[h];
		q->buckets[h] = l;
		q->lanes++;
	}
	n = xcalloc(1, sizeof(*n));
	n->item = item;
	n->bytes = bytes;
	if (l->tail != NULL)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
	l->items++;
	l->bytes += bytes;
	q->items++;
	q->bytes += bytes;
	if (!l->active) {
		l->active = true;
		lanes_append(&q->fresh, l);
	}
	return SENDQ_QUEUED;
}

/* Returns true if the next pop serves the new list (else the old). */
static bool serve_fresh(const struct sendq *q)
{
	return q->fresh.head != NULL &&
	       (q->old.head == NULL || q->fresh_run < FRESH_RUN);
}

/* Returns the lane the next pop serves (see sendq.h). */
const char *sendq_next_lane(const struct sendq *q)
{
	const struct lane *l = serve_fresh(q) ? q->fresh.head : q->old.head;

	return l != NULL ? l->key : NULL;
}

/* Serves the head lane of the new or the old list, in turn. */
void *sendq_pop(struct sendq *q)
{
	bool fresh;
	struct lane *l;
	struct node *n;
	void *item;

	if (q->fresh.head == NULL && q->old.head == NULL)
		return NULL;
	fresh = serve_fresh(q);
	l = lanes_shift(fresh ? &q->fresh : &q->old);
	/* Only a run that kept old lanes waiting counts. */
	q->fresh_run = fresh && q->old.head != NULL ? q->fresh_run + 1 : 0;
	n = lane_shift(q, l);
	item = n->item;
	free(n);
	if (l->items > 0)
		lanes_append(&q->old, l);
	else
		lane_release(q, l);
	return item;
}

/* Frees every item of every lane. */
void sendq_clear(struct sendq *q)
{
	struct lanes *lists[] = {&q->fresh, &q->old};

	for (size_t i = 0; i < 2; i++) {
		while (lists[i]->head != NULL) {
			struct lane *l = lanes_shift(lists[i]);

			while (l->head != NULL) {
				struct node *n = lane_shift(q, l);

				q->free_item(n->item);
				free(n);
			}
			lane_release(q, l);
		}
	}
	q->fresh_run = 0;
}

/* Frees the queue. */
void sendq_free(struct sendq *q)
{
	if (q == NULL)
		return;
	sendq_clear(q);
	free(q->last_drop);
	free(q);
}

size_t sendq_items(const struct sendq *q)
{
	return q->items;
}

size_t sendq_bytes(const struct sendq *q)
{
	return q->bytes;
}

size_t sendq_lanes(const struct sendq *q)
{
	return q->lanes + (q->own.active ? 1 : 0);
}

/* Hands out and resets the drop count. */
uint64_t sendq_drops(struct sendq *q, const char **last)
{
	uint64_t n = q->drops;

	if (last != NULL)
		*last = n == 0 || q->last_drop_own ? NULL : q->last_drop;
	q->drops = 0;
	return n;
}
