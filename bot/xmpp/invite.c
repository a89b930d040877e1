/*
 * Invitations to rooms: mediated (XEP-0045 muc#user <invite/>, sent by the
 * room on someone's behalf) and direct (XEP-0249 jabber:x:conference, sent
 * by the inviter). The [invites] policy decides who may invite; accepted
 * rooms count against max_rooms, duplicates are ignored, acceptances are
 * rate-limited, and each accepted room is remembered in the store so that
 * the bot rejoins it at its next start.
 *
 * Design note: nothing a peer sends is believed before its origin is
 * checked (origin.c). A mediated invitation names its inviter, but only a
 * room may say so: it is acted on once disco#info shows that its sender's
 * service is a room service; a direct invitation's inviter is its sender
 * (the server vouches for that), so the policy is applied first, and then
 * the room it names must be on a room service too. Invitations waiting for
 * a check are few (INVITE_WAITING_MAX, the rest is dropped) and forged ones
 * are dropped in silence, with a rate-limited log line. A refused mediated
 * invitation from a genuine room is declined through the room, with the
 * reason (rate-limited too), and so is one accepted whose room then
 * refuses the bot (banned, members only, password...).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "session.h"
#include "session_int.h"

#define INVITE_WINDOW_MS       60000
#define INVITE_MAX_PER_WINDOW  5
#define DECLINE_MAX_PER_WINDOW 10
#define INVITE_WAITING_MAX     32
#define INVITE_LOG_WINDOW_MS   10000
#define INVITE_LOG_LINES       5 /* per window; the rest is counted */
#define MAX_JID_LEN            3071

#define REASON_HIDDEN                                                          \
	"your real JID is hidden: invite me directly (XEP-0249) or make the "  \
	"room non-anonymous"
#define REASON_NOT_LISTED "not on the invite list"
#define REASON_NONE       "I accept no invitations"
#define REASON_TOO_MANY   "I am in too many rooms already"
#define REASON_RATE       "too many invitations: try again in a minute"

/* One invitation, as received. */
struct invite {
	bool mediated;
	char *room;     /* bare room JID */
	char *service;  /* the room's domain, lower case */
	char *inviter;  /* bare JID; "" where the room hides it */
	char *by;       /* mediated: <invite from>, where a decline goes */
	char *password; /* or NULL */
};

/* Frees the strings of inv. */
static void invite_clear(struct invite *inv)
{
	free(inv->room);
	free(inv->service);
	free(inv->inviter);
	free(inv->by);
	free(inv->password);
	memset(inv, 0, sizeof(*inv));
}

/* Logs one line about an invitation at info level, at most
 * INVITE_LOG_LINES a window: a flood leaves a summary, not a log as large
 * as the flood. */
static void invite_log(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void invite_log(struct session *s, const char *fmt, ...)
{
	int64_t now = session_now(s);
	va_list ap;

	if (now - s->invite_log_window >= INVITE_LOG_WINDOW_MS) {
		if (s->invite_log_quiet > 0)
			log_info("%lu more lines about invitations were not "
			         "logged",
			         s->invite_log_quiet);
		s->invite_log_window = now;
		s->invite_log_lines = 0;
		s->invite_log_quiet = 0;
	}
	if (s->invite_log_lines >= INVITE_LOG_LINES) {
		s->invite_log_quiet++;
		return;
	}
	s->invite_log_lines++;
	va_start(ap, fmt);
	log_vwrite(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

/* Returns true if one more event fits at now in a window of max events
 * (times holds the recent ones, at most cap) and counts it. */
static bool window_take(int64_t now, int64_t *times, size_t *n, size_t cap,
                        size_t max)
{
	size_t kept = 0;

	for (size_t i = 0; i < *n; i++)
		if (now - times[i] < INVITE_WINDOW_MS)
			times[kept++] = times[i];
	*n = kept;
	if (kept >= max || kept >= cap)
		return false;
	times[(*n)++] = now;
	return true;
}

/* Returns true if one more invitation may be accepted now (and counts
 * it). */
static bool invite_rate_ok(struct session *s)
{
	return window_take(session_now(s), s->invite_times, &s->n_invite_times,
	                   sizeof(s->invite_times) / sizeof(*s->invite_times),
	                   INVITE_MAX_PER_WINDOW);
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

/* Returns how logs name the inviter of inv. */
static const char *inviter_name(const struct invite *inv)
{
	return *inv->inviter == '\0' ? "an occupant whose real JID is hidden"
	                             : inv->inviter;
}

/* Declines the mediated invitation inv through its room, with reason. */
static void invite_decline(struct session *s, const struct invite *inv,
                           const char *reason)
{
	xmpp_stanza_t *msg, *x, *d, *r, *t;

	if (!inv->mediated || inv->by == NULL || strlen(inv->by) > MAX_JID_LEN)
		return;
	if (!window_take(session_now(s), s->decline_times, &s->n_decline_times,
	                 sizeof(s->decline_times) / sizeof(*s->decline_times),
	                 DECLINE_MAX_PER_WINDOW)) {
		invite_log(s,
		           "not declining the invitation to %s: too many "
		           "declines this minute",
		           inv->room);
		return;
	}
	msg = xmpp_message_new(s->ctx, NULL, inv->room, NULL);
	x = xmpp_stanza_new(s->ctx);
	xmpp_stanza_set_name(x, "x");
	xmpp_stanza_set_ns(x, NS_MUC_USER);
	d = xmpp_stanza_new(s->ctx);
	xmpp_stanza_set_name(d, "decline");
	xmpp_stanza_set_attribute(d, "to", inv->by);
	r = xmpp_stanza_new(s->ctx);
	xmpp_stanza_set_name(r, "reason");
	t = xmpp_stanza_new(s->ctx);
	xmpp_stanza_set_text(t, reason);
	xmpp_stanza_add_child_ex(r, t, 0);
	xmpp_stanza_add_child_ex(d, r, 0);
	xmpp_stanza_add_child_ex(x, d, 0);
	xmpp_stanza_add_child_ex(msg, x, 0);
	session_send(s, msg);
}

/* Acts on inv, whose room is known to be on a room service. */
static void invite_decide(struct session *s, const struct invite *inv)
{
	const char *kind = inv->mediated ? "mediated" : "direct";
	struct room *r;

	if (!invite_allowed(s, inv->inviter) ||
	    (*inv->inviter == '\0' &&
	     s->cfg->invites.accept != INVITES_ANYONE)) {
		invite_log(s,
		           "refusing a %s invitation to %s from %s "
		           "([invites] accept)",
		           kind, inv->room, inviter_name(inv));
		invite_decline(s, inv,
		               s->cfg->invites.accept == INVITES_NONE
		                   ? REASON_NONE
		               : *inv->inviter == '\0' ? REASON_HIDDEN
		                                       : REASON_NOT_LISTED);
		return;
	}
	r = muc_find(s, inv->room);
	if (r != NULL) {
		/* A duplicate; but an invitation is a fine reason to try a
		 * room we gave up on. */
		if (r->state == ROOM_OFF && s->connected) {
			if (inv->password != NULL && r->password == NULL)
				r->password = xstrdup(inv->password);
			muc_join(s, r);
		}
		return;
	}
	if (s->n_rooms >= s->cfg->invites.max_rooms) {
		invite_log(s,
		           "refusing an invitation to %s from %s: already in "
		           "%zu rooms (max_rooms)",
		           inv->room, inviter_name(inv), s->n_rooms);
		invite_decline(s, inv, REASON_TOO_MANY);
		return;
	}
	if (!invite_rate_ok(s)) {
		invite_log(s,
		           "refusing an invitation to %s from %s: too many "
		           "invitations, try again in a minute",
		           inv->room, inviter_name(inv));
		invite_decline(s, inv, REASON_RATE);
		return;
	}
	r = muc_add(s, inv->room, NULL, inv->password);
	if (r == NULL)
		return;
	r->trusted = true;
	/* If the room refuses the bot, the inviter hears why: through the
	 * room (mediated), or in a chat (direct). */
	r->invited_by = xstrdup(inv->mediated ? inv->by : inv->inviter);
	r->invited_direct = !inv->mediated;
	log_info("accepting a %s invitation to %s from %s", kind, r->jid,
	         inviter_name(inv));
	if (s->store.room_add != NULL &&
	    s->store.room_add(s->store.arg, r->jid, NULL) == 0)
		r->saved = true;
	else
		log_warnx("could not remember room %s in the catalogue",
		          r->jid);
	muc_join(s, r);
}

void invite_join_failed(struct session *s, const char *room, const char *by,
                        bool direct, const char *why)
{
	struct invite inv = {
	    .mediated = true, .room = (char *)room, .by = (char *)by};
	xmpp_stanza_t *msg;
	char *reason;

	if (!direct) {
		reason = xasprintf("I could not join: %s", why);
		invite_decline(s, &inv, reason);
		free(reason);
		return;
	}
	reason = xasprintf("I could not join %s: %s", room, why);
	msg = xmpp_message_new(s->ctx, "chat", by, NULL);
	xmpp_message_set_body(msg, reason);
	session_send_to(s, msg, by);
	free(reason);
}

/* Logs why inv is not acted on: its room is not on a room service (v). */
static void invite_ignore(struct session *s, const struct invite *inv,
                          enum origin_verdict v)
{
	const char *why = v == ORIGIN_NOT_ROOM ? "is no room service"
	                                       : "could not be checked";

	if (inv->mediated)
		invite_log(s,
		           "ignoring a forged mediated invitation from %s: %s "
		           "%s",
		           inv->room, inv->service, why);
	else
		invite_log(s,
		           "ignoring a direct invitation from %s to %s: %s %s",
		           inv->inviter, inv->room, inv->service, why);
}

/* Acts on inv given the verdict on its service; takes inv over. */
static void invite_resolve(struct session *s, struct invite *inv,
                           enum origin_verdict v)
{
	switch (v) {
	case ORIGIN_ROOM:
		invite_decide(s, inv);
		break;
	case ORIGIN_PENDING:
		for (size_t i = 0; i < s->n_waiting; i++)
			if (strcasecmp(s->waiting[i].room, inv->room) == 0)
				goto drop;
		if (s->n_waiting >= INVITE_WAITING_MAX) {
			invite_log(s,
			           "ignoring an invitation to %s: too many "
			           "invitations wait for a check",
			           inv->room);
			goto drop;
		}
		if (s->waiting == NULL)
			s->waiting =
			    xcalloc(INVITE_WAITING_MAX, sizeof(*s->waiting));
		s->waiting[s->n_waiting++] = *inv;
		memset(inv, 0, sizeof(*inv));
		return;
	default:
		invite_ignore(s, inv, v);
		break;
	}
drop:
	invite_clear(inv);
}

/* Returns the verdict on the origin of inv: a room the bot trusts already
 * needs no question. */
static enum origin_verdict invite_origin(struct session *s,
                                         const struct invite *inv)
{
	struct room *r = muc_find(s, inv->room);

	if (r != NULL && r->trusted)
		return ORIGIN_ROOM;
	return origin_check(s, inv->service);
}

void invite_origin_known(struct session *s, const char *service)
{
	for (size_t i = 0; i < s->n_waiting;) {
		struct invite inv;

		if (strcasecmp(s->waiting[i].service, service) != 0) {
			i++;
			continue;
		}
		/* Out of the list first: resolving may add to it. */
		inv = s->waiting[i];
		memmove(&s->waiting[i], &s->waiting[i + 1],
		        (s->n_waiting - i - 1) * sizeof(*s->waiting));
		s->n_waiting--;
		invite_resolve(s, &inv, invite_origin(s, &inv));
	}
}

void invite_disconnected(struct session *s)
{
	while (s->n_waiting > 0)
		invite_clear(&s->waiting[--s->n_waiting]);
}

void invite_free(struct session *s)
{
	invite_disconnected(s);
	free(s->waiting);
	s->waiting = NULL;
}

/* Fills inv from a mediated invitation x (muc#user) sent by from; returns
 * false if it cannot be one a room sent. */
static bool parse_mediated(struct session *s, xmpp_stanza_t *x,
                           xmpp_stanza_t *inv_el, const char *from,
                           struct invite *inv)
{
	const char *by = xmpp_stanza_get_attribute(inv_el, "from");
	xmpp_stanza_t *pw = xmpp_stanza_get_child_by_name(x, "password");

	inv->mediated = true;
	/* A room sends invitations from its bare JID, and says who
	 * invites. */
	if (jid_resource(from) != NULL || !jid_is_bare_room(from)) {
		invite_log(s,
		           "ignoring a forged mediated invitation from %s: "
		           "not sent by a room",
		           from);
		return false;
	}
	if (by == NULL || *by == '\0') {
		invite_log(s,
		           "ignoring a mediated invitation from %s: it does "
		           "not say who invites",
		           from);
		return false;
	}
	inv->room = xstrdup(from);
	inv->by = xstrdup(by);
	inv->inviter = jid_bare(by);
	/* A semi-anonymous room names the inviter by occupant JID: the real
	 * JID is unknown. */
	if (strcasecmp(inv->inviter, inv->room) == 0) {
		free(inv->inviter);
		inv->inviter = xstrdup("");
	}
	if (pw != NULL) {
		char *text = xmpp_stanza_get_text(pw);

		if (text != NULL) {
			inv->password = xstrdup(text);
			xmpp_free(s->ctx, text);
		}
	}
	return true;
}

/* Fills inv from a direct invitation x (jabber:x:conference) sent by
 * from; returns false if it names no usable room. */
static bool parse_direct(struct session *s, xmpp_stanza_t *x, const char *from,
                         struct invite *inv)
{
	const char *jid = xmpp_stanza_get_attribute(x, "jid");
	const char *pw = xmpp_stanza_get_attribute(x, "password");

	inv->mediated = false;
	inv->inviter = jid_bare(from);
	if (jid == NULL || !jid_is_bare_room(jid)) {
		invite_log(s,
		           "ignoring a direct invitation from %s to a bad "
		           "room JID",
		           inv->inviter);
		return false;
	}
	inv->room = xstrdup(jid);
	if (pw != NULL)
		inv->password = xstrdup(pw);
	return true;
}

bool invite_message(struct session *s, xmpp_stanza_t *st)
{
	const char *from = xmpp_stanza_get_from(st);
	const char *type = xmpp_stanza_get_type(st);
	xmpp_stanza_t *x, *inv_el;
	struct invite inv = {0};
	bool ok;

	x = stanza_child_ns(st, "x", NS_MUC_USER);
	inv_el = x ? xmpp_stanza_get_child_by_name(x, "invite") : NULL;
	if (inv_el == NULL) {
		x = stanza_child_ns(st, "x", NS_CONFERENCE);
		if (x == NULL || xmpp_stanza_get_attribute(x, "jid") == NULL)
			return false;
	}
	if (from == NULL || s->stopping ||
	    (type != NULL && strcmp(type, "error") == 0))
		return true;
	ok = inv_el != NULL ? parse_mediated(s, x, inv_el, from, &inv)
	                    : parse_direct(s, x, from, &inv);
	if (!ok) {
		invite_clear(&inv);
		return true;
	}
	inv.service = jid_domain(inv.room);
	/* The sender of a direct invitation is its inviter: the policy comes
	 * first, and a stranger's invitation costs no question. */
	if (!inv.mediated && !invite_allowed(s, inv.inviter)) {
		invite_log(s,
		           "refusing a direct invitation to %s from %s "
		           "([invites] accept)",
		           inv.room, inv.inviter);
		invite_clear(&inv);
		return true;
	}
	invite_resolve(s, &inv, invite_origin(s, &inv));
	return true;
}
