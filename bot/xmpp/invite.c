/*
 * Invitations to rooms: mediated (XEP-0045 muc#user <invite/>, sent by the
 * room on someone's behalf) and direct (XEP-0249 jabber:x:conference, sent
 * by the inviter). The [invites] policy decides who may invite; accepted
 * rooms count against max_rooms, duplicates are ignored, acceptances are
 * rate-limited, and each accepted room is remembered in the store so that
 * the bot rejoins it at its next start.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "log.h"
#include "session.h"
#include "session_int.h"

#define INVITE_WINDOW_MS      60000
#define INVITE_MAX_PER_WINDOW 5

/* Returns true if one more invitation may be accepted now (and counts
 * it). */
static bool invite_rate_ok(struct session *s)
{
	int64_t now = session_now();
	size_t n = 0;
	const size_t cap = sizeof(s->invite_times) / sizeof(s->invite_times[0]);

	for (size_t i = 0; i < s->n_invite_times; i++)
		if (now - s->invite_times[i] < INVITE_WINDOW_MS)
			s->invite_times[n++] = s->invite_times[i];
	s->n_invite_times = n;
	if (n >= INVITE_MAX_PER_WINDOW || n >= cap)
		return false;
	s->invite_times[s->n_invite_times++] = now;
	return true;
}

/* Returns true if the [invites] policy lets inviter (bare JID) invite. */
static bool invite_allowed(struct session *s, const char *inviter)
{
	const struct config *cfg = s->cfg;

	if (strchr(inviter, '@') == NULL && strchr(inviter, '.') == NULL &&
	    cfg->invites.accept != INVITES_ANYONE)
		return false;
	switch (cfg->invites.accept) {
	case INVITES_ANYONE:
		return true;
	case INVITES_ALLOWLIST:
		return config_jid_matches(&cfg->invites.allow, inviter) ||
		       config_jid_matches(&cfg->admins.jids, inviter);
	case INVITES_NONE:
		break;
	}
	return false;
}

/* Acts on one invitation to room from inviter. */
static void invite_handle(struct session *s, const char *room,
                          const char *inviter, const char *password,
                          const char *kind)
{
	struct room *r;

	if (*inviter == '\0')
		inviter = "an occupant whose real JID is hidden";
	if (!jid_is_bare_room(room)) {
		log_info("ignoring a %s invitation from %s to a bad room JID",
		         kind, inviter);
		return;
	}
	if (!invite_allowed(s, inviter)) {
		log_info("refusing a %s invitation to %s from %s "
		         "([invites] accept)",
		         kind, room, inviter);
		return;
	}
	r = muc_find(s, room);
	if (r != NULL) {
		/* A duplicate; but an invitation is a fine reason to try a
		 * room we gave up on. */
		if (r->state == ROOM_OFF && s->connected) {
			if (password != NULL && r->password == NULL)
				r->password = xstrdup(password);
			muc_join(s, r);
		}
		return;
	}
	if (s->n_rooms >= s->cfg->invites.max_rooms) {
		log_warnx("refusing an invitation to %s from %s: already in "
		          "%zu rooms (max_rooms)",
		          room, inviter, s->n_rooms);
		return;
	}
	if (!invite_rate_ok(s)) {
		log_warnx("refusing an invitation to %s from %s: too many "
		          "invitations, try again in a minute",
		          room, inviter);
		return;
	}
	r = muc_add(s, room, NULL, password);
	if (r == NULL)
		return;
	log_info("accepting a %s invitation to %s from %s", kind, r->jid,
	         inviter);
	if (s->store.room_add != NULL &&
	    s->store.room_add(s->store.arg, r->jid, NULL) == 0)
		r->saved = true;
	else
		log_warnx("could not remember room %s in the catalogue",
		          r->jid);
	muc_join(s, r);
}

bool invite_message(struct session *s, xmpp_stanza_t *st)
{
	const char *from = xmpp_stanza_get_from(st);
	const char *type = xmpp_stanza_get_type(st);
	xmpp_stanza_t *x, *inv, *pw;
	char *room = NULL, *inviter = NULL, *password = NULL;
	const char *kind;

	x = child_ns(st, "x", NS_MUC_USER);
	inv = x ? xmpp_stanza_get_child_by_name(x, "invite") : NULL;
	if (inv != NULL) {
		const char *by = xmpp_stanza_get_attribute(inv, "from");

		kind = "mediated";
		room = jid_bare(from);
		if (by != NULL)
			inviter = jid_bare(by);
		/* A semi-anonymous room names the inviter by occupant JID:
		 * the real JID is unknown. */
		if (inviter != NULL && strcasecmp(inviter, room) == 0) {
			free(inviter);
			inviter = xstrdup("");
		}
		pw = xmpp_stanza_get_child_by_name(x, "password");
		if (pw != NULL)
			password = xmpp_stanza_get_text(pw);
	} else {
		const char *jid;

		x = child_ns(st, "x", NS_CONFERENCE);
		if (x == NULL)
			return false;
		jid = xmpp_stanza_get_attribute(x, "jid");
		if (jid == NULL)
			return false;
		kind = "direct";
		room = xstrdup(jid);
		inviter = jid_bare(from);
		if (xmpp_stanza_get_attribute(x, "password") != NULL)
			password =
			    xstrdup(xmpp_stanza_get_attribute(x, "password"));
	}
	if ((type == NULL || strcmp(type, "error") != 0) && inviter != NULL &&
	    !s->stopping)
		invite_handle(s, room, inviter, password, kind);
	free(room);
	free(inviter);
	if (password != NULL) {
		if (inv != NULL)
			xmpp_free(s->ctx, password);
		else
			free(password);
	}
	return true;
}
