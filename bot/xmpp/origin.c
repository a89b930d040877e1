/*
 * Origin checks: is a service (a domain) a room service? Any peer can send
 * a muc#user element, so a mediated invitation, and a room remembered from
 * one, are believed only once XEP-0030 disco#info shows that the sender's
 * service has an identity of category "conference".
 *
 * Design note: the answers are cached per service, positive and negative,
 * each for its time to live, in at most ORIGIN_MAX entries (the least
 * recently used answer makes room for a new question). A service is asked
 * once however many stanzas name it, at most ORIGIN_MAX_ASKING questions
 * are in flight, and a question unanswered after ORIGIN_TIMEOUT_MS counts
 * as "unknown", like an error (the service may be out of reach for now;
 * the session's origin timer is armed for the earliest timeout):
 * only a result without a conference identity says "no room service".
 * When an answer (or the timeout) comes, the invitations and
 * rooms waiting for it are told (invite_origin_known, muc_origin_known):
 * a flood of forged invitations costs one query per service and a bounded
 * amount of memory.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "session.h"
#include "session_int.h"

#define ORIGIN_MAX             256
#define ORIGIN_MAX_ASKING      8
#define ORIGIN_TIMEOUT_MS      30000
#define ORIGIN_TTL_ROOM_MS     3600000 /* 1 h */
#define ORIGIN_TTL_NOT_ROOM_MS 600000  /* 10 min */
#define ORIGIN_TTL_UNKNOWN_MS  60000

struct origin_entry {
	char *service; /* lower case */
	enum origin_verdict verdict;
	char *query_id; /* ORIGIN_PENDING: the id of our disco#info */
	int64_t until;  /* ms: the answer's expiry, or the question's timeout */
	uint64_t used;  /* when last looked up (origin_clock), for eviction */
};

/* Returns the entry for service, or NULL; marks it as just used. */
static struct origin_entry *origin_find(struct session *s, const char *service)
{
	for (size_t i = 0; i < s->n_origins; i++)
		if (strcasecmp(s->origins[i].service, service) == 0) {
			s->origins[i].used = ++s->origin_clock;
			return &s->origins[i];
		}
	return NULL;
}

/* Frees the i-th entry and closes the gap. */
static void origin_drop(struct session *s, size_t i)
{
	free(s->origins[i].service);
	free(s->origins[i].query_id);
	s->origins[i] = s->origins[--s->n_origins];
}

/* Returns a fresh entry for service (lower-cased), evicting the least
 * recently used answer if the cache is full; NULL if every entry is a
 * question in flight. */
static struct origin_entry *origin_new(struct session *s, const char *service)
{
	struct origin_entry *e;

	if (s->n_origins == ORIGIN_MAX) {
		size_t victim = ORIGIN_MAX;

		for (size_t i = 0; i < s->n_origins; i++)
			if (s->origins[i].verdict != ORIGIN_PENDING &&
			    (victim == ORIGIN_MAX ||
			     s->origins[i].used < s->origins[victim].used))
				victim = i;
		if (victim == ORIGIN_MAX)
			return NULL;
		origin_drop(s, victim);
	}
	if (s->origins == NULL)
		s->origins = xcalloc(ORIGIN_MAX, sizeof(*s->origins));
	e = &s->origins[s->n_origins++];
	memset(e, 0, sizeof(*e));
	e->used = ++s->origin_clock;
	e->service = jid_fold(xstrdup(service));
	return e;
}

/* Returns the number of questions in flight. */
static size_t origin_asking(const struct session *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_origins; i++)
		if (s->origins[i].verdict == ORIGIN_PENDING)
			n++;
	return n;
}

/* Returns how long a verdict is believed, in ms. */
static int64_t origin_ttl(enum origin_verdict v)
{
	switch (v) {
	case ORIGIN_ROOM:
		return ORIGIN_TTL_ROOM_MS;
	case ORIGIN_NOT_ROOM:
		return ORIGIN_TTL_NOT_ROOM_MS;
	default:
		return ORIGIN_TTL_UNKNOWN_MS;
	}
}

/* Sends the disco#info question for e. */
static void origin_ask(struct session *s, struct origin_entry *e)
{
	xmpp_stanza_t *iq, *q;

	e->verdict = ORIGIN_PENDING;
	free(e->query_id);
	e->query_id = session_new_id(s);
	e->until = session_now(s) + ORIGIN_TIMEOUT_MS;
	cron_soon(s->t_origin, (uint64_t)e->until);
	iq = xmpp_iq_new(s->ctx, "get", e->query_id);
	xmpp_stanza_set_to(iq, e->service);
	q = xmpp_stanza_new(s->ctx);
	xmpp_stanza_set_name(q, "query");
	xmpp_stanza_set_ns(q, NS_DISCO_INFO);
	xmpp_stanza_add_child_ex(iq, q, 0);
	log_debug("asking %s whether it is a room service", e->service);
	session_send(s, iq);
}

enum origin_verdict origin_check(struct session *s, const char *service)
{
	int64_t now = session_now(s);
	struct origin_entry *e = origin_find(s, service);

	if (e != NULL) {
		if (e->verdict == ORIGIN_PENDING || now < e->until)
			return e->verdict;
	}
	if (!s->connected || s->stopping)
		return ORIGIN_UNKNOWN;
	if (origin_asking(s) >= ORIGIN_MAX_ASKING)
		return ORIGIN_UNKNOWN;
	if (e == NULL && (e = origin_new(s, service)) == NULL)
		return ORIGIN_UNKNOWN;
	origin_ask(s, e);
	return ORIGIN_PENDING;
}

void origin_record(struct session *s, const char *service,
                   enum origin_verdict v)
{
	struct origin_entry *e = origin_find(s, service);
	int64_t now = session_now(s);

	if (v == ORIGIN_PENDING)
		return;
	if (e == NULL && (e = origin_new(s, service)) == NULL)
		return;
	e->verdict = v;
	free(e->query_id);
	e->query_id = NULL;
	e->until = now + origin_ttl(v);
}

/* Tells those who wait for service that its verdict is known. */
static void origin_known(struct session *s, const char *service)
{
	char *copy = xstrdup(service);

	invite_origin_known(s, copy);
	muc_origin_known(s, copy);
	free(copy);
}

/* Returns true if the disco#info result st shows a conference identity. */
static bool is_conference(xmpp_stanza_t *st)
{
	xmpp_stanza_t *q = stanza_child_ns(st, "query", NS_DISCO_INFO);

	if (q == NULL)
		return false;
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(q); c != NULL;
	     c = xmpp_stanza_get_next(c)) {
		const char *name = xmpp_stanza_get_name(c);
		const char *cat;

		if (!xmpp_stanza_is_tag(c) || name == NULL ||
		    strcmp(name, "identity") != 0)
			continue;
		cat = xmpp_stanza_get_attribute(c, "category");
		if (cat != NULL && strcmp(cat, "conference") == 0)
			return true;
	}
	return false;
}

bool origin_iq_response(struct session *s, xmpp_stanza_t *st)
{
	const char *id = xmpp_stanza_get_id(st);
	const char *type = xmpp_stanza_get_type(st);
	const char *from = xmpp_stanza_get_from(st);
	struct origin_entry *e = NULL;
	enum origin_verdict v;
	char *service;

	if (id == NULL || type == NULL)
		return false;
	for (size_t i = 0; i < s->n_origins; i++)
		if (s->origins[i].query_id != NULL &&
		    strcmp(s->origins[i].query_id, id) == 0)
			e = &s->origins[i];
	if (e == NULL)
		return false;
	/* Only the service itself answers for itself. */
	if (from == NULL || strcasecmp(from, e->service) != 0)
		return true;
	if (strcmp(type, "result") == 0)
		v = is_conference(st) ? ORIGIN_ROOM : ORIGIN_NOT_ROOM;
	else if (strcmp(type, "error") == 0)
		v = ORIGIN_UNKNOWN;
	else
		return true;
	service = xstrdup(e->service);
	log_debug("%s %s", service,
	          v == ORIGIN_ROOM       ? "is a room service"
	          : v == ORIGIN_NOT_ROOM ? "is no room service"
	                                 : "could not say whether it is a "
	                                   "room service");
	origin_record(s, service, v);
	origin_known(s, service);
	free(service);
	return true;
}

void origin_tick(struct session *s, int64_t now)
{
	char *late[ORIGIN_MAX];
	size_t n = 0;
	uint64_t next = CRON_NEVER;

	for (size_t i = 0; i < s->n_origins; i++) {
		struct origin_entry *e = &s->origins[i];

		if (e->verdict != ORIGIN_PENDING)
			continue;
		if (now >= e->until)
			late[n++] = xstrdup(e->service);
		else if ((uint64_t)e->until < next)
			next = (uint64_t)e->until;
	}
	/* Before those told ask again (origin_ask arms it sooner). */
	cron_at(s->t_origin, next);
	/* Recorded first, told after: those told may ask other services. */
	for (size_t i = 0; i < n; i++) {
		log_debug("%s did not say whether it is a room service",
		          late[i]);
		origin_record(s, late[i], ORIGIN_UNKNOWN);
	}
	for (size_t i = 0; i < n; i++) {
		origin_known(s, late[i]);
		free(late[i]);
	}
}

void origin_disconnected(struct session *s)
{
	cron_at(s->t_origin, CRON_NEVER);
	for (size_t i = 0; i < s->n_origins;) {
		if (s->origins[i].verdict == ORIGIN_PENDING)
			origin_drop(s, i);
		else
			i++;
	}
}

void origin_free(struct session *s)
{
	while (s->n_origins > 0)
		origin_drop(s, 0);
	free(s->origins);
	s->origins = NULL;
}
