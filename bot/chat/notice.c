/*
 * Notices to the admins who asked for something that ends later: a
 * rescan (told its counts when the indexer is done) and a join (told
 * "joined ROOM" once the bot is in the room, or why the room refused it).
 *
 * The host records who asked (the full JID of the admin's direct chat,
 * host.asking while an admin command runs) with what it is waiting for;
 * the daemon's events (host_rescan_done, host_room, host_join_failed) find
 * the waiting admins and send each one chat message, in the admin's lane
 * of the send queue. At most NOTICE_MAX wait at once: the oldest gives way.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/jid.h"
#include "fisbot/alloc.h"
#include "host.h"
#include "host_internal.h"
#include "reply.h"

#define NOTICE_MAX 32

/* One admin waiting for an outcome. */
struct host_notice {
	char *room; /* a join's room; NULL: a rescan */
	char *jid;  /* the admin's full JID */
};

/* Sends text to jid as a chat message. */
static void notice_send(struct host *h, const char *jid, const char *text)
{
	struct reply_text t = {0};
	char *lane = jid_fold(jid_bare(jid));
	xmpp_stanza_t *m;

	reply_text_add(&t, text, h->cfg->commands.prefix);
	m = reply_message(session_ctx(h->session), "chat", jid,
	                  reply_text_body(&t), false);
	session_send_to(h->session, m, lane);
	reply_text_clear(&t);
	free(lane);
}

/* Frees the i-th notice and closes the gap (keeping the order). */
static void notice_drop(struct host *h, size_t i)
{
	free(h->notices[i].room);
	free(h->notices[i].jid);
	memmove(&h->notices[i], &h->notices[i + 1],
	        (h->n_notices - i - 1) * sizeof(*h->notices));
	h->n_notices--;
}

void notice_wait(struct host *h, const char *room, const char *jid)
{
	for (size_t i = 0; i < h->n_notices; i++) {
		const struct host_notice *n = &h->notices[i];

		if (strcmp(n->jid, jid) == 0 &&
		    (room == NULL
		         ? n->room == NULL
		         : n->room != NULL && strcasecmp(n->room, room) == 0))
			return;
	}
	if (h->n_notices == NOTICE_MAX)
		notice_drop(h, 0);
	if (h->notices == NULL)
		h->notices = xcalloc(NOTICE_MAX, sizeof(*h->notices));
	h->notices[h->n_notices].room = room != NULL ? xstrdup(room) : NULL;
	h->notices[h->n_notices].jid = xstrdup(jid);
	h->n_notices++;
}

/* Tells every admin waiting for room (NULL: a rescan) text, and forgets
 * them. */
static void notice_tell(struct host *h, const char *room, const char *text)
{
	for (size_t i = 0; i < h->n_notices;) {
		const struct host_notice *n = &h->notices[i];

		if (room == NULL
		        ? n->room != NULL
		        : n->room == NULL || strcasecmp(n->room, room) != 0) {
			i++;
			continue;
		}
		notice_send(h, n->jid, text);
		notice_drop(h, i);
	}
}

void host_rescan_done(struct host *h, const char *text)
{
	notice_tell(h, NULL, text);
}

void notice_joined(struct host *h, const char *room)
{
	char *text = xasprintf("joined %s", room);

	notice_tell(h, room, text);
	free(text);
}

void host_join_failed(struct host *h, const char *room, const char *why)
{
	char *text = xasprintf("cannot join %s: %s", room, why);

	notice_tell(h, room, text);
	free(text);
}

void notice_free(struct host *h)
{
	while (h->n_notices > 0)
		notice_drop(h, h->n_notices - 1);
	free(h->notices);
	h->notices = NULL;
}
