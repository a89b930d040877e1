/*
 * A bounded fair queue for what the bot sends: bounded per requester and
 * in total, served round robin, so that a flood from one JID never delays
 * others' answers by more than a second. Every item is
 * tagged with the requester it answers: its lane. Items that answer nobody
 * (joins, presences, room announcements, protocol traffic) go in the bot's
 * own lane (a NULL key). Lanes are served one item at a time, round robin,
 * so a flood from one requester never holds back another's answer by more
 * than a few items. As with the sparse flows of FQ-CoDel (RFC 8290), a lane
 * that was empty joins a list of new lanes, served before the list of old
 * (backlogged) lanes, though never more than a few times in a row: the one
 * reply to a quiet requester overtakes the floods, and no lane, the bot's
 * own included, ever starves.
 *
 * Bounds: a requester's lane holds at most lane_items items and lane_bytes
 * bytes (a further item for it is dropped); the queue holds at most
 * total_items and total_bytes (the bot's own lane has only this bound).
 * When the whole queue is full, the oldest item of the fattest lane makes
 * room, unless the new item's lane is that fat already (then the new item
 * is dropped): a flood fills its own lane, never another's.
 *
 * Items are opaque; the queue frees the ones it drops with free_item.
 */
#ifndef FISBOT_SENDQ_H
#define FISBOT_SENDQ_H

#include <stddef.h>
#include <stdint.h>

struct sendq;

struct sendq_limits {
	size_t lane_items, lane_bytes;   /* per requester */
	size_t total_items, total_bytes; /* the whole queue */
};

enum sendq_result {
	SENDQ_QUEUED,    /* queued (perhaps after dropping another's item) */
	SENDQ_LANE_FULL, /* dropped: the requester's lane is full */
	SENDQ_FULL,      /* dropped: the queue is full of this lane's items */
};

/* Returns an empty queue; free_item frees a dropped or cleared item. */
struct sendq *sendq_new(const struct sendq_limits *lim,
                        void (*free_item)(void *item));
/* Frees the queue and every item still in it. */
void sendq_free(struct sendq *q);
/* Queues item (bytes long) in lane (NULL: the bot's own lane). When the
 * result is not SENDQ_QUEUED, item has been freed. */
enum sendq_result sendq_push(struct sendq *q, const char *lane, void *item,
                             size_t bytes);
/* Takes the next item in fair order, or returns NULL if the queue is
 * empty. The caller owns the item. */
void *sendq_pop(struct sendq *q);
/* Returns the lane of the item sendq_pop would take next (inside q, valid
 * until the next sendq_pop or sendq_push), or NULL: the bot's own lane,
 * or an empty queue. */
const char *sendq_next_lane(const struct sendq *q);
/* Frees every item (the connection is gone). */
void sendq_clear(struct sendq *q);
/* Returns how many items are queued. */
size_t sendq_items(const struct sendq *q);
/* Returns how many bytes are queued. */
size_t sendq_bytes(const struct sendq *q);
/* Returns how many lanes hold items (tests). */
size_t sendq_lanes(const struct sendq *q);
/* Returns how many items were dropped since the last call (new ones that
 * did not fit and older ones that made room) and resets the count; *last
 * (if not NULL) is the lane of the last drop (inside q, valid until the
 * next sendq_push), or NULL for the bot's own lane. */
uint64_t sendq_drops(struct sendq *q, const char **last);

#endif
