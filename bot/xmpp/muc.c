/*
 * Rooms (XEP-0045): joining with history suppressed, acting on commands only
 * once the subject arrived, nick conflicts, passwords, kicks, bans, room
 * destruction and shutdown, XEP-0410 self-pings, occupants' real JIDs and
 * identities, and the filtering of room messages before they are reported
 * (session_events).
 *
 * Design notes:
 * - Every room is a small state machine (enum room_state). Its deadlines
 *   (rejoin_at, the subject's wait, next_ping and the self-ping's timeout)
 *   share one timer of the session's cron, armed by muc_schedule for the
 *   earliest of them while connected and run by muc_tick; nothing is armed
 *   while disconnected, so no timer outlives a connection. A room the bot must
 *   never return to (ban, destruction, an admin's leave) is forgotten:
 *   dropped from the list and from the store.
 * - Trust: stanzas from a room's JID count as room traffic (presences,
 *   <item jid>, groupchat and private messages) only if the room is
 *   trusted and the bot is in it or joining it. Configured rooms and an
 *   admin's join are trusted as given, invited ones once their service was
 *   checked (invite.c); a room remembered from an earlier run is joined
 *   only after origin.c shows its service is a room service, and forgotten
 *   if it is not.
 * - A requester in a room (muc_requester_key) is its XEP-0421 occupant-id
 *   when the room advertises them (disco#info sent with each join: a room
 *   that does not would pass a forged one along), else its real JID, else
 *   a serial number of its occupancy, which status 303 carries over to the
 *   new nick: a nick change resets neither rate limits nor `more`. The
 *   room is ready for commands once both its subject and that answer came,
 *   so a requester's key does not change under it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "fisbot/text.h"
#include "session.h"
#include "session_int.h"

#define MAX_NICK_TRIES 5
#define KICK_DELAY_MS  5000
#define REJOIN_BASE_MS 2000
#define REJOIN_MAX_MS  300000

/* A room's rejoins: 2 s doubling up to 5 minutes, with jitter. */
static const struct backoff_policy rejoin_policy = {
    .first_ms = REJOIN_BASE_MS,
    .max_ms = REJOIN_MAX_MS,
    .jitter = true,
};
#define SUBJECT_WAIT_MS     10000
#define SELFPING_MS         300000
#define SELFPING_TIMEOUT_MS 60000
#define MAX_OCCUPANTS       10000
#define MAX_OCCUPANT_ID     128
#define REFUSAL_TEXT_MAX    200 /* bytes of a room's error text shown */

struct room *muc_find(struct session *s, const char *jid)
{
	for (size_t i = 0; i < s->n_rooms; i++)
		if (strcasecmp(s->rooms[i]->jid, jid) == 0)
			return s->rooms[i];
	return NULL;
}

struct room *muc_add(struct session *s, const char *jid, const char *nick,
                     const char *password)
{
	struct room *r = muc_find(s, jid);

	if (r != NULL)
		return r;
	if (!jid_is_bare_room(jid)) {
		log_warnx("not a room JID: %s", jid);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->jid = jid_fold(xstrdup(jid));
	r->nick = xstrdup(nick && *nick       ? nick
	                  : s->cfg->xmpp.nick ? s->cfg->xmpp.nick
	                                      : "fisbot");
	r->cur_nick = xstrdup(r->nick);
	r->password = password ? xstrdup(password) : NULL;
	r->state = ROOM_OFF;
	backoff_init(&r->rejoin, &rejoin_policy);
	s->rooms = xreallocarray(s->rooms, s->n_rooms + 1, sizeof(*s->rooms));
	s->rooms[s->n_rooms++] = r;
	return r;
}

/* Frees the occupant list of r. */
static void occupants_clear(struct room *r)
{
	for (size_t i = 0; i < r->n_occ; i++) {
		free(r->occ[i].nick);
		free(r->occ[i].real_jid);
		free(r->occ[i].occupant_id);
	}
	free(r->occ);
	r->occ = NULL;
	r->n_occ = 0;
}

void muc_free(struct room *r)
{
	if (r == NULL)
		return;
	occupants_clear(r);
	free(r->jid);
	free(r->nick);
	free(r->cur_nick);
	free(r->password);
	free(r->ping_id);
	free(r->info_id);
	free(r->asked_nick);
	free(r->invited_by);
	free(r);
}

void muc_remove(struct session *s, struct room *r)
{
	for (size_t i = 0; i < s->n_rooms; i++) {
		if (s->rooms[i] != r)
			continue;
		s->rooms[i] = s->rooms[--s->n_rooms];
		muc_free(r);
		return;
	}
}

/* Returns true if the bot is in r now. */
static bool room_in(const struct room *r)
{
	return r->state == ROOM_JOINED || r->state == ROOM_READY;
}

/* Reports that the bot left r (if it was in it). */
static void room_left_event(struct session *s, struct room *r)
{
	if (room_in(r) && s->events.room != NULL)
		s->events.room(s->events.arg, SESSION_ROOM_LEFT, r->jid);
}

xmpp_stanza_t *muc_presence_stanza(struct session *s, const char *to)
{
	xmpp_stanza_t *p = xmpp_presence_new(s->ctx);

	if (to != NULL)
		xmpp_stanza_set_to(p, to);
	disco_add_caps(s, p);
	return p;
}

static void muc_verify(struct session *s, struct room *r);
static void room_info(struct session *s, struct room *r);

/* Joins r; a room not trusted yet is checked first (muc_verify), which
 * may forget it: the caller must not use r after this. */
void muc_join(struct session *s, struct room *r)
{
	char *to;
	xmpp_stanza_t *p, *x, *h;

	if (!s->connected)
		return;
	if (!r->trusted) {
		muc_verify(s, r);
		return;
	}
	to = xasprintf("%s/%s", r->jid, r->cur_nick);
	p = muc_presence_stanza(s, to);
	x = stanza_element(s->ctx, "x", NS_MUC);
	h = stanza_element(s->ctx, "history", NULL);
	xmpp_stanza_set_attribute(h, "maxstanzas", "0");
	xmpp_stanza_add_child_ex(x, h, 0);
	if (r->password != NULL)
		stanza_add_text(s->ctx, x, "password", NULL, r->password);
	xmpp_stanza_add_child_ex(p, x, 0);
	r->state = ROOM_JOINING;
	free(r->ping_id);
	r->ping_id = NULL;
	r->occupant_ids = false;
	r->subject_seen = false;
	occupants_clear(r);
	log_debug("joining %s as %s", r->jid, r->cur_nick);
	room_info(s, r);
	session_send(s, p);
	free(to);
}

void muc_join_all(struct session *s)
{
	/* Downwards: a room that turns out to be none is removed, and the
	 * last one takes its place. */
	for (size_t i = s->n_rooms; i-- > 0;) {
		struct room *r = s->rooms[i];

		if (r->state == ROOM_WAIT && r->rejoin_at > session_now(s))
			continue;
		free(r->cur_nick);
		r->cur_nick = xstrdup(r->nick);
		r->nick_tries = 0;
		muc_join(s, r);
	}
	muc_schedule(s);
}

/* Sends an unavailable presence to our occupant JID in r, at once. */
static void send_leave(struct session *s, struct room *r, const char *status)
{
	xmpp_stanza_t *p;
	char *to;

	if (!s->connected)
		return;
	to = xasprintf("%s/%s", r->jid, r->cur_nick);
	p = xmpp_presence_new(s->ctx);
	xmpp_stanza_set_to(p, to);
	xmpp_stanza_set_type(p, "unavailable");
	if (status != NULL)
		stanza_add_text(s->ctx, p, "status", NULL, status);
	session_send_now(s, p);
	free(to);
}

void muc_leave_all(struct session *s, const char *status)
{
	for (size_t i = 0; i < s->n_rooms; i++) {
		struct room *r = s->rooms[i];

		if (r->state == ROOM_OFF || r->state == ROOM_WAIT)
			continue;
		send_leave(s, r, status);
		room_left_event(s, r);
		r->state = ROOM_OFF;
	}
}

void muc_disconnected(struct session *s)
{
	for (size_t i = 0; i < s->n_rooms; i++) {
		struct room *r = s->rooms[i];

		room_left_event(s, r);
		if (r->state != ROOM_WAIT)
			r->state = ROOM_OFF;
		free(r->ping_id);
		r->ping_id = NULL;
		free(r->info_id);
		r->info_id = NULL;
		occupants_clear(r);
	}
	muc_schedule(s);
}

void muc_forget(struct session *s, struct room *r, const char *why)
{
	log_info("leaving %s for good: %s", r->jid, why);
	if (r->state == ROOM_JOINING || room_in(r))
		send_leave(s, r, NULL);
	room_left_event(s, r);
	if (r->saved && s->store.room_remove != NULL &&
	    s->store.room_remove(s->store.arg, r->jid) != 0)
		log_warnx("could not forget room %s in the catalogue", r->jid);
	muc_remove(s, r);
}

/* Plans a rejoin of r after the backoff of its consecutive failures. */
static void rejoin_later(struct session *s, struct room *r, int64_t delay,
                         const char *why)
{
	int64_t now = session_now(s);

	room_left_event(s, r);
	if (delay < 0)
		delay = backoff_next(&r->rejoin, now);
	r->state = ROOM_WAIT;
	r->rejoin_at = now + delay;
	occupants_clear(r);
	free(r->ping_id);
	r->ping_id = NULL;
	log_info("out of %s (%s); rejoining in %.1fs", r->jid, why,
	         (double)delay / 1000.0);
	muc_schedule(s);
}

/* Returns the occupant of r with nick, or NULL. */
static struct occupant *occupant_find(struct room *r, const char *nick)
{
	for (size_t i = 0; i < r->n_occ; i++)
		if (strcmp(r->occ[i].nick, nick) == 0)
			return &r->occ[i];
	return NULL;
}

/* Removes the occupant with nick from r. */
static void occupant_remove(struct room *r, const char *nick)
{
	struct occupant *o = occupant_find(r, nick);

	if (o == NULL)
		return;
	free(o->nick);
	free(o->real_jid);
	free(o->occupant_id);
	*o = r->occ[--r->n_occ];
}

/* Returns a copy of the occupant-id in presence st if it is usable (short,
 * clean), else NULL. */
static char *occupant_id_of(xmpp_stanza_t *st)
{
	xmpp_stanza_t *e = stanza_child_ns(st, "occupant-id", NS_OCCUPANT_ID);
	const char *id = e ? xmpp_stanza_get_attribute(e, "id") : NULL;
	size_t len = id ? strlen(id) : 0;

	if (len == 0 || len > MAX_OCCUPANT_ID || !text_is_clean(id, len))
		return NULL;
	return xstrdup(id);
}

/* Records (or updates) an occupant, its real JID and occupant-id (taken
 * over); a new occupancy gets the next serial. */
static void occupant_set(struct session *s, struct room *r, const char *nick,
                         const char *real_jid, char *occupant_id)
{
	struct occupant *o = occupant_find(r, nick);

	if (o == NULL) {
		if (r->n_occ >= MAX_OCCUPANTS) {
			free(occupant_id);
			return;
		}
		r->occ = xreallocarray(r->occ, r->n_occ + 1, sizeof(*r->occ));
		o = &r->occ[r->n_occ++];
		o->nick = xstrdup(nick);
		o->real_jid = NULL;
		o->occupant_id = NULL;
		o->serial = ++s->occ_serial;
	}
	free(o->real_jid);
	o->real_jid = real_jid ? jid_bare(real_jid) : NULL;
	free(o->occupant_id);
	o->occupant_id = occupant_id;
}

/* An occupant changed nick (status 303): the occupancy, and so its
 * identity, moves to the new nick. */
static void occupant_rename(struct room *r, const char *nick,
                            const char *new_nick)
{
	struct occupant *o;

	if (strcmp(nick, new_nick) == 0 || occupant_find(r, nick) == NULL)
		return;
	/* A stale entry under the new nick gives way. */
	occupant_remove(r, new_nick);
	o = occupant_find(r, nick);
	free(o->nick);
	o->nick = xstrdup(new_nick);
}

char *muc_requester_key(struct room *r, const char *nick)
{
	struct occupant *o = occupant_find(r, nick);

	/* The room JID has no '#' after its '@': no key can be confused
	 * with another room's, or with a bare JID (direct chats). */
	if (o == NULL)
		return xasprintf("%s/%s", r->jid, nick);
	if (r->occupant_ids && o->occupant_id != NULL)
		return xasprintf("%s#id:%s", r->jid, o->occupant_id);
	if (o->real_jid != NULL)
		return xasprintf("%s#jid:%s", r->jid, o->real_jid);
	return xasprintf("%s#occ:%llu", r->jid, (unsigned long long)o->serial);
}

/* Returns true if the muc#user element x carries status code. */
static bool has_status(xmpp_stanza_t *x, const char *code)
{
	if (x == NULL)
		return false;
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c != NULL;
	     c = xmpp_stanza_get_next(c)) {
		const char *name = xmpp_stanza_get_name(c);
		const char *v;

		if (name == NULL || strcmp(name, "status") != 0)
			continue;
		v = xmpp_stanza_get_attribute(c, "code");
		if (v != NULL && strcmp(v, code) == 0)
			return true;
	}
	return false;
}

/* Accepts the default configuration of a room we just created
 * (XEP-0045 §10.1.2 "instant room"), so that it unlocks. */
static void accept_instant_room(struct session *s, struct room *r)
{
	xmpp_stanza_t *iq, *q, *x;
	char *id = session_new_id(s);

	iq = xmpp_iq_new(s->ctx, "set", id);
	xmpp_stanza_set_to(iq, r->jid);
	q = stanza_element(s->ctx, "query", NS_MUC_OWNER);
	x = stanza_element(s->ctx, "x", NS_DATA);
	xmpp_stanza_set_type(x, "submit");
	xmpp_stanza_add_child_ex(q, x, 0);
	xmpp_stanza_add_child_ex(iq, q, 0);
	session_send(s, iq);
	free(id);
	log_info("created room %s", r->jid);
}

/* Asks r (disco#info) whether it provides XEP-0421 occupant-ids. */
static void room_info(struct session *s, struct room *r)
{
	xmpp_stanza_t *iq;

	free(r->info_id);
	r->info_id = session_new_id(s);
	iq = xmpp_iq_new(s->ctx, "get", r->info_id);
	xmpp_stanza_set_to(iq, r->jid);
	xmpp_stanza_add_child_ex(
	    iq, stanza_element(s->ctx, "query", NS_DISCO_INFO), 0);
	session_send(s, iq);
}

/* Returns true if the disco#info result st lists feature. */
static bool has_feature(xmpp_stanza_t *st, const char *feature)
{
	xmpp_stanza_t *q = stanza_child_ns(st, "query", NS_DISCO_INFO);

	if (q == NULL)
		return false;
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(q); c != NULL;
	     c = xmpp_stanza_get_next(c)) {
		const char *name = xmpp_stanza_get_name(c);
		const char *var;

		if (!xmpp_stanza_is_tag(c) || name == NULL ||
		    strcmp(name, "feature") != 0)
			continue;
		var = xmpp_stanza_get_attribute(c, "var");
		if (var != NULL && strcmp(var, feature) == 0)
			return true;
	}
	return false;
}

/* Returns in a few words why a room refused a join with condition
 * cond. */
static const char *refusal(const char *cond)
{
	static const struct {
		const char *cond, *why;
	} words[] = {
	    {"remote-server-not-found", "no such server"},
	    {"remote-server-timeout", "its server does not answer"},
	    {"item-not-found", "no such room"},
	    {"forbidden", "banned"},
	    {"not-authorized", "a password is needed, or it is wrong"},
	    {"registration-required", "members only"},
	    {"conflict", "every nick tried is taken"},
	    {"not-allowed", "not allowed"},
	    {"service-unavailable", "the room is full or unavailable"},
	    {"jid-malformed", "not a valid nick or room"},
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(cond, words[i].cond) == 0)
			return words[i].why;
	return NULL;
}

/* Returns the sanitised <text> of error stanza st, at most
 * REFUSAL_TEXT_MAX bytes of it, or NULL (caller frees). */
static char *refusal_text(xmpp_stanza_t *st)
{
	xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");
	xmpp_stanza_t *t =
	    err ? stanza_child_ns(err, "text", NS_STANZAS) : NULL;
	char *raw = t ? xmpp_stanza_get_text(t) : NULL, *clean = NULL;
	size_t n;

	if (raw == NULL)
		return NULL;
	n = strlen(raw);
	if (n > REFUSAL_TEXT_MAX)
		n = REFUSAL_TEXT_MAX;
	if (n > 0)
		clean = text_sanitize(raw, n);
	xmpp_free(xmpp_stanza_get_context(st), raw);
	return clean;
}

/* The first join of r, asked by an admin or by a mediated invitation, was
 * refused (error presence st, condition cond): says why, in words and with
 * the room's own text if any (an admin through events.join_failed, an
 * inviter with a decline through the room), and drops r (an invited room
 * is forgotten: it was remembered when the invitation came). */
static void join_refused(struct session *s, struct room *r, const char *cond,
                         xmpp_stanza_t *st)
{
	const char *why = refusal(cond);
	char *text, *said = refusal_text(st), *room = xstrdup(r->jid);
	char *words = why != NULL     ? xstrdup(why)
	              : *cond != '\0' ? text_sanitize(cond, strlen(cond))
	                              : xstrdup("refused");

	text =
	    said != NULL ? xasprintf("%s (%s)", words, said) : xstrdup(words);
	log_warnx("cannot join %s: %s", room, text);
	if (r->invited_by != NULL) {
		invite_join_failed(s, room, r->invited_by, r->invited_direct,
		                   text);
		muc_forget(s, r, "the invitation's room refused the bot");
	} else {
		room_left_event(s, r);
		muc_remove(s, r);
		if (s->events.join_failed != NULL)
			s->events.join_failed(s->events.arg, room, text);
	}
	free(words);
	free(said);
	free(text);
	free(room);
}

/* A join was refused with an error presence. */
static void join_error(struct session *s, struct room *r, xmpp_stanza_t *st)
{
	const char *cond = stanza_error_condition(st);

	if (strcmp(cond, "conflict") == 0) {
		if (r->nick_tries < MAX_NICK_TRIES) {
			char *nick;

			r->nick_tries++;
			nick = xmalloc(strlen(r->nick) + r->nick_tries + 1);
			strcpy(nick, r->nick);
			memset(nick + strlen(r->nick), '_', r->nick_tries);
			nick[strlen(r->nick) + r->nick_tries] = '\0';
			free(r->cur_nick);
			r->cur_nick = nick;
			log_info("nick taken in %s; trying %s", r->jid, nick);
			muc_join(s, r);
			return;
		}
		if (r->asked || r->invited_by != NULL) {
			join_refused(s, r, cond, st);
			return;
		}
		free(r->cur_nick);
		r->cur_nick = xstrdup(r->nick);
		r->nick_tries = 0;
		rejoin_later(s, r, REJOIN_MAX_MS, "every nick tried is taken");
		return;
	}
	if (r->asked || r->invited_by != NULL) {
		join_refused(s, r, cond, st);
		return;
	}
	if (strcmp(cond, "forbidden") == 0 && r->saved) {
		muc_forget(s, r, "banned");
		return;
	}
	if ((strcmp(cond, "item-not-found") == 0 ||
	     strcmp(cond, "registration-required") == 0) &&
	    r->saved) {
		char *why = xasprintf("join refused: %s", cond);

		muc_forget(s, r, why);
		free(why);
		return;
	}
	if (strcmp(cond, "not-authorized") == 0 ||
	    strcmp(cond, "forbidden") == 0 ||
	    strcmp(cond, "registration-required") == 0) {
		log_warnx("cannot join %s: %s%s", r->jid, cond,
		          strcmp(cond, "not-authorized") == 0
		              ? " (wrong or missing room password)"
		              : "");
		room_left_event(s, r);
		r->state = ROOM_OFF;
		return;
	}
	{
		char *why = xasprintf("join refused: %s", *cond ? cond : "?");

		rejoin_later(s, r, -1, why);
		free(why);
	}
}

/* Our own presence in r became unavailable: find out why and act. */
static void self_unavailable(struct session *s, struct room *r,
                             xmpp_stanza_t *x)
{
	if (x != NULL && xmpp_stanza_get_child_by_name(x, "destroy") != NULL) {
		muc_forget(s, r, "the room was destroyed");
		return;
	}
	if (has_status(x, "301")) {
		muc_forget(s, r, "banned");
		return;
	}
	if (has_status(x, "307")) {
		rejoin_later(s, r, KICK_DELAY_MS, "kicked");
		return;
	}
	if (has_status(x, "332")) {
		rejoin_later(s, r, -1, "the room service shut down");
		return;
	}
	if (has_status(x, "321") || has_status(x, "322")) {
		rejoin_later(s, r, -1, "removed by an affiliation change");
		return;
	}
	if (r->state == ROOM_OFF)
		return;
	rejoin_later(s, r, -1, "removed from the room");
}

bool muc_presence(struct session *s, xmpp_stanza_t *st)
{
	const char *from = xmpp_stanza_get_from(st);
	const char *type = xmpp_stanza_get_type(st);
	const char *nick;
	xmpp_stanza_t *x, *item;
	struct room *r;
	char *bare;
	bool self;

	if (from == NULL)
		return false;
	bare = jid_bare(from);
	r = muc_find(s, bare);
	free(bare);
	if (r == NULL)
		return false;
	/* Room traffic only from a room we trust and are in (or joining). */
	if (!r->trusted || (r->state != ROOM_JOINING && !room_in(r)))
		return true;
	nick = jid_resource(from);
	if (type != NULL && strcmp(type, "error") == 0) {
		if (r->state == ROOM_JOINING)
			join_error(s, r, st);
		return true;
	}
	if (nick == NULL)
		return true;
	x = stanza_child_ns(st, "x", NS_MUC_USER);
	item = x ? xmpp_stanza_get_child_by_name(x, "item") : NULL;
	self = has_status(x, "110") || strcmp(nick, r->cur_nick) == 0;

	if (type != NULL && strcmp(type, "unavailable") == 0) {
		if (has_status(x, "303") && item != NULL) {
			const char *nn =
			    xmpp_stanza_get_attribute(item, "nick");

			if (nn != NULL && self) {
				free(r->cur_nick);
				r->cur_nick = xstrdup(nn);
				return true;
			}
			if (nn != NULL && *nn != '\0') {
				occupant_rename(r, nick, nn);
				return true;
			}
		}
		if (self) {
			self_unavailable(s, r, x);
		} else {
			if (s->events.gone != NULL) {
				char *key = muc_requester_key(r, nick);

				s->events.gone(s->events.arg, key);
				free(key);
			}
			occupant_remove(r, nick);
		}
		return true;
	}
	if (type != NULL)
		return true;
	if (self) {
		if (r->state == ROOM_JOINING) {
			int64_t now = session_now(s);

			if (strcmp(nick, r->cur_nick) != 0) {
				free(r->cur_nick);
				r->cur_nick = xstrdup(nick);
			}
			r->state = ROOM_JOINED;
			r->joined_at = now;
			backoff_reset(&r->rejoin);
			free(r->invited_by);
			r->invited_by = NULL;
			if (r->asked) {
				r->asked = false;
				if (!r->configured &&
				    s->store.room_add != NULL &&
				    s->store.room_add(s->store.arg, r->jid,
				                      r->asked_nick) == 0)
					r->saved = true;
			}
			r->next_ping = now + SELFPING_MS;
			log_info("joined %s as %s", r->jid, r->cur_nick);
			muc_schedule(s);
			/* A room we created: ask again once it is. */
			if (has_status(x, "201")) {
				accept_instant_room(s, r);
				room_info(s, r);
			}
		}
		return true;
	}
	occupant_set(s, r, nick,
	             item ? xmpp_stanza_get_attribute(item, "jid") : NULL,
	             occupant_id_of(st));
	return true;
}

/* r is ready for commands. */
static void room_ready(struct session *s, struct room *r)
{
	r->state = ROOM_READY;
	log_debug("%s is ready", r->jid);
	muc_schedule(s);
	if (s->events.room != NULL)
		s->events.room(s->events.arg, SESSION_ROOM_JOINED, r->jid);
}

bool muc_message(struct session *s, xmpp_stanza_t *st)
{
	const char *from = xmpp_stanza_get_from(st);
	const char *type = xmpp_stanza_get_type(st);
	struct session_origin o = {0};
	const char *nick;
	struct occupant *occ;
	struct room *r;
	char *bare, *body, *key;
	bool groupchat = type != NULL && strcmp(type, "groupchat") == 0;
	bool has_body;

	bare = jid_bare(from);
	r = muc_find(s, bare);
	free(bare);
	if (r == NULL)
		return false;
	/* Room traffic only from a room we trust and are in (or joining). */
	if (!r->trusted || (r->state != ROOM_JOINING && !room_in(r)))
		return true;
	nick = jid_resource(from);
	has_body = xmpp_stanza_get_child_by_name(st, "body") != NULL;
	if (groupchat && xmpp_stanza_get_child_by_name(st, "subject")) {
		if (!has_body && r->state == ROOM_JOINED) {
			if (r->info_id == NULL)
				room_ready(s, r);
			else
				r->subject_seen = true;
		}
		return true;
	}
	if (nick == NULL || !has_body || session_delayed(s, st) ||
	    strcmp(nick, r->cur_nick) == 0)
		return true;
	if (groupchat ? r->state != ROOM_READY : !room_in(r))
		return true;
	if (s->events.message == NULL)
		return true;
	body = xmpp_message_get_body(st);
	if (body == NULL)
		return true;
	occ = occupant_find(r, nick);
	key = muc_requester_key(r, nick);
	o.place = groupchat ? SESSION_ROOM : SESSION_ROOM_PRIVATE;
	o.from = from;
	o.room = r->jid;
	o.nick = nick;
	o.real_jid = occ ? occ->real_jid : NULL;
	o.sender = key;
	o.own_nick = r->cur_nick;
	s->events.message(s->events.arg, &o, body);
	xmpp_free(s->ctx, body);
	free(key);
	return true;
}

bool muc_iq_response(struct session *s, xmpp_stanza_t *st)
{
	const char *id = xmpp_stanza_get_id(st);
	const char *type = xmpp_stanza_get_type(st);

	if (id == NULL)
		return false;
	for (size_t i = 0; i < s->n_rooms; i++) {
		struct room *r = s->rooms[i];
		const char *cond;

		if (r->info_id != NULL && strcmp(r->info_id, id) == 0) {
			const char *from = xmpp_stanza_get_from(st);

			free(r->info_id);
			r->info_id = NULL;
			r->occupant_ids = from != NULL &&
			                  strcasecmp(from, r->jid) == 0 &&
			                  strcmp(type, "result") == 0 &&
			                  has_feature(st, NS_OCCUPANT_ID);
			log_debug("%s %s occupant-ids", r->jid,
			          r->occupant_ids ? "provides" : "provides no");
			if (r->state == ROOM_JOINED && r->subject_seen)
				room_ready(s, r);
			return true;
		}
		if (r->ping_id == NULL || strcmp(r->ping_id, id) != 0)
			continue;
		free(r->ping_id);
		r->ping_id = NULL;
		if (strcmp(type, "error") != 0)
			return true;
		cond = stanza_error_condition(st);
		/* XEP-0410: these mean we are no longer an occupant. */
		if (strcmp(cond, "not-acceptable") == 0 ||
		    strcmp(cond, "item-not-found") == 0) {
			log_info("self-ping: no longer in %s (%s)", r->jid,
			         cond);
			room_left_event(s, r);
			r->state = ROOM_OFF;
			muc_join(s, r);
		}
		return true;
	}
	return false;
}

/* Sends a XEP-0410 self-ping to our occupant JID in r. */
static void self_ping(struct session *s, struct room *r, int64_t now)
{
	xmpp_stanza_t *iq;
	char *to = xasprintf("%s/%s", r->jid, r->cur_nick);

	free(r->ping_id);
	r->ping_id = session_new_id(s);
	iq = xmpp_iq_new(s->ctx, "get", r->ping_id);
	xmpp_stanza_set_to(iq, to);
	xmpp_stanza_add_child_ex(iq, stanza_element(s->ctx, "ping", NS_PING),
	                         0);
	session_send(s, iq);
	r->ping_sent = now;
	r->next_ping = now + SELFPING_MS;
	free(to);
}

/* Makes *next the earlier of itself and at. */
static void earliest(uint64_t *next, int64_t at)
{
	uint64_t t = at > 0 ? (uint64_t)at : 0;

	if (t < *next)
		*next = t;
}

void muc_schedule(struct session *s)
{
	uint64_t next = CRON_NEVER;

	for (size_t i = 0; s->connected && i < s->n_rooms; i++) {
		const struct room *r = s->rooms[i];

		switch (r->state) {
		case ROOM_WAIT:
			earliest(&next, r->rejoin_at);
			break;
		case ROOM_JOINED:
			earliest(&next, r->joined_at + SUBJECT_WAIT_MS);
			__attribute__((fallthrough));
		case ROOM_READY:
			if (r->ping_id != NULL)
				earliest(&next,
				         r->ping_sent + SELFPING_TIMEOUT_MS);
			else
				earliest(&next, r->next_ping);
			break;
		default:
			break;
		}
	}
	cron_at(s->t_rooms, next);
}

void muc_tick(struct session *s, int64_t now)
{
	/* Downwards: a rejoin may forget the room (muc_join). */
	for (size_t i = s->n_rooms; s->connected && i-- > 0;) {
		struct room *r = s->rooms[i];

		switch (r->state) {
		case ROOM_WAIT:
			if (now >= r->rejoin_at) {
				free(r->cur_nick);
				r->cur_nick = xstrdup(r->nick);
				r->nick_tries = 0;
				muc_join(s, r);
			}
			break;
		case ROOM_JOINED:
			/* A rejoin over a resumed stream brings no subject. */
			if (now - r->joined_at >= SUBJECT_WAIT_MS)
				room_ready(s, r);
			__attribute__((fallthrough));
		case ROOM_READY:
			if (r->ping_id != NULL &&
			    now - r->ping_sent >= SELFPING_TIMEOUT_MS) {
				free(r->ping_id);
				r->ping_id = NULL;
			}
			if (r->ping_id == NULL && now >= r->next_ping)
				self_ping(s, r, now);
			break;
		default:
			break;
		}
	}
	muc_schedule(s);
}

/* Checks that the service of r, a room remembered from an invitation, is
 * a room service: joins it if so, forgets it if not, waits for the answer
 * or tries again later. */
static void muc_verify(struct session *s, struct room *r)
{
	char *service = jid_domain(r->jid);
	char *why;

	switch (origin_check(s, service)) {
	case ORIGIN_ROOM:
		r->trusted = true;
		muc_join(s, r);
		break;
	case ORIGIN_NOT_ROOM:
		why = xasprintf("%s is no room service (remembered from a "
		                "forged invitation?)",
		                service);
		muc_forget(s, r, why);
		free(why);
		break;
	case ORIGIN_PENDING:
		r->state = ROOM_OFF;
		break;
	case ORIGIN_UNKNOWN:
		rejoin_later(s, r, -1, "its room service could not be checked");
		break;
	}
	free(service);
}

void muc_origin_known(struct session *s, const char *service)
{
	/* Downwards: muc_join may forget a room. */
	for (size_t i = s->n_rooms; i-- > 0;) {
		struct room *r = s->rooms[i];
		char *d;

		if (r->trusted || r->state != ROOM_OFF)
			continue;
		d = jid_domain(r->jid);
		if (strcmp(d, service) == 0)
			muc_join(s, r);
		free(d);
	}
}

int muc_join_jid(struct session *s, const char *room, const char *nick,
                 char **cause)
{
	struct room *r;

	if (!jid_is_bare_room(room)) {
		*cause = xasprintf("not a room JID: %s", room);
		return -1;
	}
	if (nick != NULL && (*nick == '\0' || strlen(nick) > 256 ||
	                     !text_is_clean(nick, strlen(nick)))) {
		*cause = xstrdup("bad nick");
		return -1;
	}
	r = muc_find(s, room);
	if (r == NULL) {
		if (s->n_rooms >= s->cfg->invites.max_rooms) {
			*cause = xasprintf("already in %zu rooms (max_rooms)",
			                   s->n_rooms);
			return -1;
		}
		r = muc_add(s, room, nick, NULL);
		if (r == NULL) {
			*cause = xasprintf("not a room JID: %s", room);
			return -1;
		}
		/* Remembered once joined; forgotten if refused. */
		r->asked = true;
		r->asked_nick = nick != NULL ? xstrdup(nick) : NULL;
	} else if (nick != NULL && strcmp(nick, r->nick) != 0) {
		free(r->nick);
		r->nick = xstrdup(nick);
		if (room_in(r))
			send_leave(s, r, NULL);
		r->state = ROOM_OFF;
	}
	/* An admin's word is enough. */
	r->trusted = true;
	if (r->state == ROOM_OFF || r->state == ROOM_WAIT) {
		free(r->cur_nick);
		r->cur_nick = xstrdup(r->nick);
		r->nick_tries = 0;
		muc_join(s, r);
	}
	return 0;
}

int muc_leave_jid(struct session *s, const char *room, char **cause)
{
	struct room *r = muc_find(s, room);

	if (r == NULL) {
		*cause = xasprintf("not in %s", room);
		return -1;
	}
	muc_forget(s, r, "asked to leave");
	return 0;
}

void muc_rooms_foreach(struct session *s,
                       void (*fn)(const char *room, void *arg), void *arg)
{
	for (size_t i = 0; i < s->n_rooms; i++)
		if (room_in(s->rooms[i]))
			fn(s->rooms[i]->jid, arg);
}

bool muc_announces(struct session *s, const char *room)
{
	const struct room_config *rc = config_room(s->cfg, room);

	if (rc != NULL && rc->announce >= 0)
		return rc->announce != 0;
	return s->cfg->announce.enabled;
}

/* Returns true if the new configuration lists room. */
static bool cfg_has_room(const struct config *cfg, const char *room)
{
	for (size_t i = 0; i < cfg->xmpp.rooms.n; i++)
		if (strcasecmp(cfg->xmpp.rooms.v[i], room) == 0)
			return true;
	return false;
}

void muc_reconfigure(struct session *s)
{
	const struct config *cfg = s->cfg;

	/* Rooms no longer configured (and not remembered) are left. */
	for (size_t i = 0; i < s->n_rooms;) {
		struct room *r = s->rooms[i];

		if (r->configured && !cfg_has_room(cfg, r->jid)) {
			if (r->saved) {
				r->configured = false;
				i++;
				continue;
			}
			log_info("reload: leaving %s", r->jid);
			if (r->state == ROOM_JOINING || room_in(r))
				send_leave(s, r, NULL);
			room_left_event(s, r);
			muc_remove(s, r);
			continue;
		}
		i++;
	}
	/* New rooms are joined; changed settings apply. */
	for (size_t i = 0; i < cfg->xmpp.rooms.n; i++) {
		const char *jid = cfg->xmpp.rooms.v[i];
		const struct room_config *rc = config_room(cfg, jid);
		const char *nick = rc && rc->nick   ? rc->nick
		                   : cfg->xmpp.nick ? cfg->xmpp.nick
		                                    : "fisbot";
		const char *pw = rc ? rc->password : NULL;
		struct room *r = muc_find(s, jid);

		if (r == NULL) {
			r = muc_add(s, jid, nick, pw);
			if (r == NULL)
				continue;
			r->configured = r->trusted = true;
			log_info("reload: joining %s", r->jid);
			muc_join(s, r);
			continue;
		}
		r->configured = r->trusted = true;
		if ((pw == NULL) != (r->password == NULL) ||
		    (pw != NULL && strcmp(pw, r->password) != 0)) {
			free(r->password);
			r->password = pw ? xstrdup(pw) : NULL;
			log_info("reload: new password for %s", r->jid);
		}
		if (strcmp(nick, r->nick) != 0) {
			log_info("reload: nick in %s is now %s", r->jid, nick);
			free(r->nick);
			r->nick = xstrdup(nick);
			if (room_in(r))
				send_leave(s, r, NULL);
			r->state = ROOM_OFF;
			free(r->cur_nick);
			r->cur_nick = xstrdup(nick);
			r->nick_tries = 0;
			muc_join(s, r);
		}
	}
}
