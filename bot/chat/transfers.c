/*
 * The download queue of the chat side ([transfers] queue, queue_per_user,
 * slot_hold): when a get finds no download slot free for its requester
 * (deps.slot_available: the HTTP server's slots), its link is not sent but
 * waits here, and the requester is told its place:
 *
 *   all 4 slots are busy: you are #2 in the queue (about 3 min); !queue,
 * !cancel
 *
 * When a slot frees (host_slot_freed, posted to the inbox by the HTTP
 * threads; and a timer every TRANSFERS_TICK_MS while the queue is not
 * empty, for lingering slots and expired holds), the first waiting
 * requesters a slot admits are sent the very message get would have sent,
 * and a slot is held for them for slot_hold (deps.slot_hold). A requester
 * whose own slots are full does not hold back those behind it.
 *
 * The queue is the host's, on the main thread: a reload keeps it (the
 * links are made under the configuration in force when they are sent), a
 * restart does not. A requester that leaves the room or goes offline
 * (host_gone), or whose room the bot leaves, loses its place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "host_internal.h"

/* How often a non-empty queue looks for free slots (ms). */
#define TRANSFERS_TICK_MS 1000

/* Returns true if cfg limits the downloads in progress (a queue then). */
static bool limited(const struct host *h)
{
	const struct config *cfg = h->cfg;

	return h->deps.slot_available != NULL &&
	       (cfg->transfers.slots != 0 ||
	        cfg->transfers.slots_per_user != 0);
}

/* Returns the 1-based place of sender's first request, 0 if none; sets
 * *mine to the number of its requests. */
static unsigned place_of(const struct host *h, const char *sender,
                         unsigned *mine, const struct host_waiting **first)
{
	unsigned pos = 0, i = 0;

	*mine = 0;
	if (first != NULL)
		*first = NULL;
	for (const struct host_waiting *w = h->tq.head; w != NULL;
	     w = w->next) {
		i++;
		if (strcmp(w->sender, sender) != 0)
			continue;
		if (pos == 0) {
			pos = i;
			if (first != NULL)
				*first = w;
		}
		(*mine)++;
	}
	return pos;
}

/* Returns the estimated wait, in seconds, of the request at place pos. */
static unsigned estimate_s(const struct host *h, unsigned pos)
{
	unsigned slots = h->cfg->transfers.slots, mean = 60, used, limit;
	uint64_t rate;

	if (h->deps.transfers != NULL)
		h->deps.transfers(h->deps.arg, &rate, &used, &limit, &mean);
	if (slots == 0)
		slots = 1;
	/* Every slot frees in mean seconds on average: pos waits for
	 * ceil(pos / slots) rounds. */
	return ((pos + slots - 1) / slots) * mean;
}

/* Writes "about N min" for s seconds into buf. */
static const char *about(unsigned s, char buf[32])
{
	snprintf(buf, 32, "about %u min", (s + 59) / 60 ? (s + 59) / 60 : 1);
	return buf;
}

/* The timer: looks for free slots while the queue is not empty. */
static bool tick(void *arg)
{
	struct host *h = arg;

	transfers_pump(h);
	if (h->tq.head == NULL) {
		h->tq.timer = NULL;
		return false;
	}
	return true;
}

void transfers_get(struct host *h, struct fb_request *r)
{
	const char *sender = h->api.req_sender(r);
	const char *prefix = h->cfg->commands.prefix;
	const struct config *cfg = h->cfg;
	struct host_waiting *w, **tail;
	unsigned mine, pos;
	char buf[32];

	if (!limited(h))
		return;
	/* Those waiting first: a slot they cannot use (their own slots are
	 * full) is this requester's. */
	transfers_pump(h);
	if (h->deps.slot_available(h->deps.arg, sender))
		return;
	place_of(h, sender, &mine, NULL);
	if (cfg->transfers.queue == 0 || h->tq.n >= cfg->transfers.queue) {
		h->api.reply_error(r,
		                   "all download slots are busy and the queue "
		                   "is full: try again later");
		return;
	}
	if (cfg->transfers.queue_per_user != 0 &&
	    mine >= cfg->transfers.queue_per_user) {
		h->api.reply_error(r,
		                   "you already have %u requests in the queue "
		                   "(%squeue, %scancel)",
		                   mine, prefix, prefix);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->sender = xstrdup(sender);
	w->room = h->api.req_room(r) ? xstrdup(h->api.req_room(r)) : NULL;
	w->since_ms = (int64_t)host_now_ms(h);
	w->r = dispatch_detach(r);
	for (tail = &h->tq.head; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = w;
	__atomic_store_n(&h->tq.n, h->tq.n + 1, __ATOMIC_RELAXED);
	if (h->tq.timer == NULL)
		h->tq.timer =
		    cron_add(h->deps.cron, TRANSFERS_TICK_MS, tick, h);
	pos = place_of(h, sender, &mine, NULL);
	log_info("transfers: %s queued at #%u", sender, pos);
	if (cfg->transfers.slots != 0 &&
	    !h->deps.slot_available(h->deps.arg, ""))
		h->api.reply(r,
		             "all %u slots are busy: you are #%u in the queue "
		             "(%s); %squeue, %scancel",
		             cfg->transfers.slots, pos,
		             about(estimate_s(h, pos), buf), prefix, prefix);
	else
		h->api.reply(r,
		             "your %u download slots are busy: you are #%u in "
		             "the queue (%s); %squeue, %scancel",
		             cfg->transfers.slots_per_user, pos,
		             about(estimate_s(h, pos), buf), prefix, prefix);
}

/* Unlinks *pp from the queue and frees it (its link unsent). */
static void unlink_waiting(struct host *h, struct host_waiting **pp, bool send)
{
	struct host_waiting *w = *pp;

	*pp = w->next;
	__atomic_store_n(&h->tq.n, h->tq.n - 1, __ATOMIC_RELAXED);
	if (send)
		dispatch_send_detached(w->r);
	else
		dispatch_free_detached(w->r);
	free(w->sender);
	free(w->room);
	free(w);
}

void transfers_pump(struct host *h)
{
	struct host_waiting **pp = &h->tq.head;

	while (*pp != NULL) {
		struct host_waiting *w = *pp;

		if (!h->deps.slot_available(h->deps.arg, w->sender)) {
			/* Full for everyone: nobody behind goes either. */
			if (!h->deps.slot_available(h->deps.arg, ""))
				return;
			pp = &w->next;
			continue;
		}
		log_info("transfers: a slot for %s (%s)", w->sender,
		         dispatch_link_path(w->r));
		h->deps.slot_hold(h->deps.arg, w->sender, true);
		unlink_waiting(h, pp, true);
	}
}

unsigned transfers_drop(struct host *h, const char *sender, const char *room)
{
	struct host_waiting **pp = &h->tq.head;
	unsigned n = 0;

	while (*pp != NULL) {
		struct host_waiting *w = *pp;

		if (sender != NULL ? strcmp(w->sender, sender) == 0
		                   : room != NULL && w->room != NULL &&
		                         strcmp(w->room, room) == 0) {
			unlink_waiting(h, pp, false);
			n++;
		} else {
			pp = &w->next;
		}
	}
	if (n > 0) {
		log_info("transfers: %u request%s left the queue", n,
		         n == 1 ? "" : "s");
		transfers_pump(h);
	}
	return n;
}

void transfers_info(struct host *h, const char *sender,
                    struct fb_queue_info *out)
{
	const struct host_waiting *first;

	memset(out, 0, sizeof(*out));
	out->enabled = limited(h);
	out->waiting = (unsigned)h->tq.n;
	out->position = place_of(h, sender, &out->mine, &first);
	if (out->position != 0) {
		out->eta_s = estimate_s(h, out->position);
		out->first = dispatch_link_path(first->r);
	}
}

void transfers_clear(struct host *h)
{
	while (h->tq.head != NULL)
		unlink_waiting(h, &h->tq.head, false);
	if (h->tq.timer != NULL)
		cron_del(h->tq.timer);
	h->tq.timer = NULL;
}
