/*
 * Unit tests for the session on a session that is not connected (SPEC §7,
 * §9). Driving its handlers directly: the origin checks' per-service cache
 * and its bound, what invitations do with what is known of their service,
 * that an untrusted room's traffic is ignored, and the requester keys of
 * room occupants (occupant-id, real JID, an occupancy that follows nick
 * changes). Through session_input and the recorded output and events
 * (session_fixture.h): disco#info, caps, version and ping; which IQs and
 * direct messages are reported, to whom they are charged, the IQ budget;
 * and the send queue's pacing and lanes on the test clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cron.h"
#include "fisbot/alloc.h"
#include "fisbot/config.h"
#include "fisbot/log.h"
#include "session_fixture.h"
#include "xmpp/session.h"
#include "xmpp/session_int.h"

#define ROOM "room@conference.localhost"

struct fixture {
	char dir[64];
	struct config *cfg;
	struct cron *cron;
	struct session *s;
	size_t added; /* rooms the store was asked to remember */
};

/* The store: counts what it is asked to remember. */
static int store_add(void *arg, const char *room, const char *nick)
{
	struct fixture *fx = arg;

	(void)room;
	(void)nick;
	fx->added++;
	return 0;
}

/* The store: forgets nothing. */
static int store_remove(void *arg, const char *room)
{
	(void)arg;
	(void)room;
	return 0;
}

/* A session for bot@localhost in ROOM, inviters alice and admin. */
static int setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	struct strlist problems = {0};
	struct session_store store = {store_add, store_remove, fx};
	char *cause = NULL, *path;
	FILE *fp;

	strcpy(fx->dir, "/tmp/fisbot-test-session-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	path = xasprintf("%s/fisbot.conf", fx->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("[xmpp]\njid = bot@localhost\npassword = secret\n"
	      "rooms = " ROOM "\n"
	      "[invites]\naccept = allowlist\nallow = alice@localhost\n"
	      "max_rooms = 3\n"
	      "[admins]\njids = admin@localhost\n[share]\npath = share\n",
	      fp);
	assert_int_equal(fclose(fp), 0);
	fx->cfg = config_load(path, &problems);
	assert_non_null(fx->cfg);
	strlist_free(&problems);
	unlink(path);
	free(path);
	fx->cron = cron_new(NULL, NULL);
	fx->s = session_new(fx->cfg, fx->cron, NULL, &cause);
	assert_non_null(fx->s);
	session_set_store(fx->s, &store);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	session_free(fx->s);
	cron_free(fx->cron);
	config_free(fx->cfg);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Hands the stanza xml to the handler fn. */
static bool feed(struct session *s,
                 bool (*fn)(struct session *, xmpp_stanza_t *), const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(session_ctx(s), xml);
	bool r;

	assert_non_null(st);
	r = fn(s, st);
	xmpp_stanza_release(st);
	return r;
}

/* The cache holds 256 services, the least recently used gives way, and
 * nothing is asked while disconnected. */
static void test_origin_cache_bounded(void **state)
{
	struct fixture *fx = *state;
	struct session *s = fx->s;
	char name[64];

	assert_int_equal(origin_check(s, "conference.localhost"),
	                 ORIGIN_UNKNOWN);
	assert_int_equal(s->n_origins, 0);
	origin_record(s, "Conference.Localhost", ORIGIN_ROOM);
	assert_int_equal(origin_check(s, "conference.localhost"), ORIGIN_ROOM);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "svc%d.example", i);
		origin_record(s, name, ORIGIN_NOT_ROOM);
		/* Keep the room service in use. */
		assert_int_equal(origin_check(s, "conference.localhost"),
		                 ORIGIN_ROOM);
	}
	assert_int_equal(s->n_origins, 256);
	assert_int_equal(origin_check(s, "svc299.example"), ORIGIN_NOT_ROOM);
	assert_int_equal(origin_check(s, "svc0.example"), ORIGIN_UNKNOWN);
	/* Recording again replaces, does not add. */
	origin_record(s, "svc299.example", ORIGIN_ROOM);
	assert_int_equal(s->n_origins, 256);
	assert_int_equal(origin_check(s, "svc299.example"), ORIGIN_ROOM);
}

/* Mediated invitations: believed only from a room service. */
static void test_mediated_needs_room_service(void **state)
{
	struct fixture *fx = *state;
	struct session *s = fx->s;
	static const char *const forged[] = {
	    /* From a user's JID: not even asked. */
	    "<message from='mallory@localhost/res'><x xmlns='" NS_MUC_USER
	    "'><invite from='alice@localhost'/></x></message>",
	    /* A bare JID on a service that is no room service. */
	    "<message from='mallory@localhost'><x xmlns='" NS_MUC_USER
	    "'><invite from='alice@localhost'/></x></message>",
	    /* A service nobody could check. */
	    "<message from='x@elsewhere.example'><x xmlns='" NS_MUC_USER
	    "'><invite from='alice@localhost'/></x></message>",
	    /* No inviter named. */
	    "<message from='a@conference.localhost'><x xmlns='" NS_MUC_USER
	    "'><invite/></x></message>",
	    /* A hidden inviter and an allowlist. */
	    "<message from='a@conference.localhost'><x xmlns='" NS_MUC_USER
	    "'><invite from='a@conference.localhost/alice'/></x></message>",
	    /* Not on the list. */
	    "<message from='a@conference.localhost'><x xmlns='" NS_MUC_USER
	    "'><invite from='mallory@localhost/x'/></x></message>",
	};

	origin_record(s, "localhost", ORIGIN_NOT_ROOM);
	origin_record(s, "conference.localhost", ORIGIN_ROOM);
	for (size_t i = 0; i < sizeof(forged) / sizeof(*forged); i++) {
		assert_true(feed(s, invite_message, forged[i]));
		assert_int_equal(s->n_rooms, 1);
		assert_int_equal(s->n_waiting, 0);
	}
	assert_int_equal(fx->added, 0);
	assert_null(muc_find(s, "mallory@localhost"));

	assert_true(
	    feed(s, invite_message,
	         "<message from='a@conference.localhost'><x xmlns='" NS_MUC_USER
	         "'><invite from='alice@localhost/x'/></x></message>"));
	assert_int_equal(s->n_rooms, 2);
	assert_non_null(muc_find(s, "a@conference.localhost"));
	assert_true(muc_find(s, "a@conference.localhost")->trusted);
	assert_int_equal(fx->added, 1);
}

/* Direct invitations: the policy first, then the room's service. */
static void test_direct_needs_room_service(void **state)
{
	struct fixture *fx = *state;
	struct session *s = fx->s;

	origin_record(s, "localhost", ORIGIN_NOT_ROOM);
	origin_record(s, "conference.localhost", ORIGIN_ROOM);
	/* A stranger's invitation to a genuine room. */
	assert_true(feed(s, invite_message,
	                 "<message from='mallory@localhost/r'><x xmlns='"
	                 "jabber:x:conference' jid='b@conference.localhost'/>"
	                 "</message>"));
	assert_int_equal(s->n_rooms, 1);
	/* An allowed inviter's invitation to a user's JID. */
	assert_true(feed(s, invite_message,
	                 "<message from='alice@localhost/r'><x xmlns='"
	                 "jabber:x:conference' jid='mallory@localhost'/>"
	                 "</message>"));
	assert_int_equal(s->n_rooms, 1);
	assert_true(feed(s, invite_message,
	                 "<message from='alice@localhost/r'><x xmlns='"
	                 "jabber:x:conference' jid='b@conference.localhost'/>"
	                 "</message>"));
	assert_int_equal(s->n_rooms, 2);
	assert_true(muc_find(s, "b@conference.localhost")->trusted);
}

/* An unchecked room (remembered) takes in no occupant, and neither does
 * a trusted one the bot is not in. */
static void test_untrusted_room_traffic_ignored(void **state)
{
	struct fixture *fx = *state;
	struct session *s = fx->s;
	struct room *fake, *r;
	static const char occupant[] =
	    "<presence from='%s/admin'><x xmlns='" NS_MUC_USER "'><item "
	    "jid='admin@localhost' affiliation='owner' role='moderator'/>"
	    "</x></presence>";
	char *xml;

	session_add_saved_room(s, "mallory@localhost", NULL);
	fake = muc_find(s, "mallory@localhost");
	assert_non_null(fake);
	assert_false(fake->trusted);
	fake->state = ROOM_READY; /* as if it were joined */
	xml = xasprintf(occupant, "mallory@localhost");
	assert_true(feed(s, muc_presence, xml));
	free(xml);
	assert_int_equal(fake->n_occ, 0);

	r = muc_find(s, ROOM);
	assert_true(r->trusted);
	xml = xasprintf(occupant, ROOM);
	assert_true(feed(s, muc_presence, xml));
	assert_int_equal(r->n_occ, 0); /* ROOM_OFF */
	r->state = ROOM_JOINING;
	assert_true(feed(s, muc_presence, xml));
	free(xml);
	assert_int_equal(r->n_occ, 1);
	assert_string_equal(r->occ[0].real_jid, "admin@localhost");
}

/* Returns the requester key of nick in r (static buffer). */
static const char *key_of(struct room *r, const char *nick)
{
	static char buf[256];
	char *k = muc_requester_key(r, nick);

	snprintf(buf, sizeof(buf), "%s", k);
	free(k);
	return buf;
}

/* Keys: occupant-id only where the room provides them, else the real
 * JID, else the occupancy, which a nick change (303) carries over. */
static void test_requester_keys(void **state)
{
	struct fixture *fx = *state;
	struct session *s = fx->s;
	struct room *r = muc_find(s, ROOM);
	char first[256];

	r->state = ROOM_READY;
	assert_true(feed(s, muc_presence,
	                 "<presence from='" ROOM
	                 "/carol'><occupant-id xmlns='" NS_OCCUPANT_ID
	                 "' id='OID1'/><x xmlns='" NS_MUC_USER
	                 "'><item role='participant'/>"
	                 "</x></presence>"));
	assert_true(feed(s, muc_presence,
	                 "<presence from='" ROOM "/dave'><x xmlns='" NS_MUC_USER
	                 "'><item role='participant'/></x></presence>"));
	assert_true(feed(s, muc_presence,
	                 "<presence from='" ROOM "/erin'><x xmlns='" NS_MUC_USER
	                 "'><item jid='erin@localhost/x' role='participant'/>"
	                 "</x></presence>"));
	/* The room did not say it provides occupant-ids: not believed. */
	strcpy(first, key_of(r, "carol"));
	assert_true(strncmp(first, ROOM "#occ:", strlen(ROOM "#occ:")) == 0);
	assert_string_not_equal(first, key_of(r, "dave"));
	assert_string_equal(key_of(r, "erin"), ROOM "#jid:erin@localhost");
	assert_string_equal(key_of(r, "nobody"), ROOM "/nobody");

	/* carol becomes carol2: the same requester. */
	assert_true(feed(s, muc_presence,
	                 "<presence type='unavailable' from='" ROOM
	                 "/carol'><x xmlns='" NS_MUC_USER
	                 "'><item nick='carol2'"
	                 " role='participant'/><status code='303'/></x>"
	                 "</presence>"));
	assert_true(feed(s, muc_presence,
	                 "<presence from='" ROOM
	                 "/carol2'><occupant-id xmlns='" NS_OCCUPANT_ID
	                 "' id='OID1'/><x xmlns='" NS_MUC_USER
	                 "'><item role='participant'/>"
	                 "</x></presence>"));
	assert_string_equal(key_of(r, "carol2"), first);
	assert_string_equal(key_of(r, "carol"), ROOM "/carol");

	/* Leaving and coming back is a new occupancy... */
	assert_true(feed(s, muc_presence,
	                 "<presence type='unavailable' from='" ROOM
	                 "/dave'><x xmlns='" NS_MUC_USER "'><item role='none'/>"
	                 "</x></presence>"));
	assert_int_equal(r->n_occ, 2);

	/* ... unless the room provides occupant-ids. */
	r->occupant_ids = true;
	assert_string_equal(key_of(r, "carol2"), ROOM "#id:OID1");
}

/* --- through session_input ----------------------------------------------- */

#define DISCO "http://jabber.org/protocol/disco#info"

static int fx_setup(void **state)
{
	struct sfx *f = sfx_new("rooms = " ROOM "\n"
	                        "[limits]\niq_burst = 30\niq_rate = 1/1m\n");

	sfx_connect(f);
	sfx_enter(f, ROOM, "fisbot", false);
	/* The send queue's burst back in full. */
	f->now += 1000;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	sfx_free(*state);
	return 0;
}

/* Returns true if the disco#info result i lists feature var. */
static bool lists_feature(struct sfx *f, size_t i, const char *var)
{
	xmpp_stanza_t *q =
	    xmpp_stanza_get_child_by_name_and_ns(f->sent[i], "query", DISCO);

	for (xmpp_stanza_t *c = xmpp_stanza_get_children(q); c != NULL;
	     c = xmpp_stanza_get_next(c)) {
		const char *v = xmpp_stanza_get_attribute(c, "var");

		if (v != NULL && strcmp(v, var) == 0)
			return true;
	}
	return false;
}

/* Asserts that sent stanza i is an IQ of type (and, for an error,
 * condition cond) answering id to to, in lane. */
static void expect_iq(struct sfx *f, size_t i, const char *type,
                      const char *cond, const char *id, const char *to,
                      const char *lane)
{
	assert_true(i < f->n_sent);
	assert_string_equal(xmpp_stanza_get_name(f->sent[i]), "iq");
	assert_string_equal(xmpp_stanza_get_type(f->sent[i]), type);
	assert_string_equal(xmpp_stanza_get_id(f->sent[i]), id);
	assert_string_equal(xmpp_stanza_get_to(f->sent[i]), to);
	if (lane == NULL)
		assert_null(f->lane[i]);
	else
		assert_string_equal(f->lane[i], lane);
	if (cond != NULL)
		assert_non_null(xmpp_stanza_get_child_by_name(
		    xmpp_stanza_get_child_by_name(f->sent[i], "error"), cond));
}

/* disco#info (with the features added since, announced in a new
 * presence), the caps node, version and ping: answered by the session in
 * the asker's lane, never reported. */
static void test_disco_and_basics(void **state)
{
	struct sfx *f = *state;
	xmpp_stanza_t *c, *id;
	char *node;

	session_add_feature(f->s, "urn:xmpp:fis:0");
	/* New capabilities: a new presence to the server. */
	assert_int_equal(sfx_find(f, "presence", "", NULL), 0);
	c = xmpp_stanza_get_child_by_name(f->sent[0], "c");
	assert_non_null(c);
	node = xasprintf("%s#%s", xmpp_stanza_get_attribute(c, "node"),
	                 xmpp_stanza_get_attribute(c, "ver"));
	sfx_reset(f);

	sfx_input(f, "<iq type='get' id='d1' from='carol@localhost/pc'>"
	             "<query xmlns='" DISCO "'/></iq>");
	expect_iq(f, 0, "result", NULL, "d1", "carol@localhost/pc",
	          "carol@localhost");
	id = xmpp_stanza_get_child_by_name(
	    xmpp_stanza_get_child_by_name(f->sent[0], "query"), "identity");
	assert_string_equal(xmpp_stanza_get_attribute(id, "category"),
	                    "client");
	assert_string_equal(xmpp_stanza_get_attribute(id, "type"), "bot");
	assert_true(lists_feature(f, 0, "urn:xmpp:fis:0"));
	assert_true(lists_feature(f, 0, "urn:xmpp:ping"));
	assert_true(lists_feature(f, 0, "jabber:x:conference"));
	assert_true(lists_feature(f, 0, "jabber:iq:version"));
	assert_false(lists_feature(f, 0, "jabber:iq:search"));
	sfx_reset(f);
	/* The caps node answers the same; another node is not found. */
	sfx_input(f,
	          "<iq type='get' id='d2' from='carol@localhost/pc'><query "
	          "xmlns='" DISCO "' node='%s'/></iq>",
	          node);
	expect_iq(f, 0, "result", NULL, "d2", "carol@localhost/pc",
	          "carol@localhost");
	assert_true(lists_feature(f, 0, "urn:xmpp:fis:0"));
	sfx_input(f, "<iq type='get' id='d3' from='carol@localhost/pc'>"
	             "<query xmlns='" DISCO "' node='other'/></iq>");
	expect_iq(f, 1, "error", "item-not-found", "d3", "carol@localhost/pc",
	          "carol@localhost");
	sfx_input(f, "<iq type='get' id='v1' from='carol@localhost/pc'>"
	             "<query xmlns='jabber:iq:version'/></iq>");
	expect_iq(f, 2, "result", NULL, "v1", "carol@localhost/pc",
	          "carol@localhost");
	sfx_input(f, "<iq type='get' id='p1' from='" ROOM "/dave'><ping "
	             "xmlns='urn:xmpp:ping'/></iq>");
	/* An occupant is charged, and answered, as the occupant. */
	expect_iq(f, 3, "result", NULL, "p1", ROOM "/dave", ROOM "/dave");
	assert_int_equal(f->n_ev, 0);
	free(node);
}

/* The IQs the session does not answer are reported with their sender and
 * the requester they were charged to; unless handled there, they get
 * service-unavailable. Answers (results, errors) are not requests. */
static void test_iq_reported(void **state)
{
	struct sfx *f = *state;

	sfx_input(f, "<iq type='get' id='f1' from='Carol@Localhost/pc'>"
	             "<query xmlns='urn:xmpp:fis:0'/></iq>");
	assert_int_equal(f->n_ev, 1);
	assert_int_equal(f->ev[0].kind, 'q');
	assert_string_equal(f->ev[0].from, "Carol@Localhost/pc");
	assert_string_equal(f->ev[0].requester, "carol@localhost");
	expect_iq(f, 0, "error", "service-unavailable", "f1",
	          "Carol@Localhost/pc", "carol@localhost");
	f->iq_handled = true;
	sfx_input(f, "<iq type='set' id='f2' from='" ROOM "/dave'><query "
	             "xmlns='urn:xmpp:fis:0'/></iq>");
	assert_string_equal(f->ev[1].requester, ROOM "/dave");
	assert_int_equal(f->n_sent, 1);
	/* The server itself (no from): reported with from "" and no
	 * requester. */
	sfx_input(f, "<iq type='get' id='f3'><query xmlns='urn:x'/></iq>");
	assert_string_equal(f->ev[2].from, "");
	assert_null(f->ev[2].requester);
	sfx_input(f, "<iq type='result' id='f4' from='carol@localhost/pc'>"
	             "<query xmlns='urn:x'/></iq>");
	sfx_input(f, "<iq type='error' id='f5' from='carol@localhost/pc'/>");
	sfx_input(f, "<iq id='f6' from='carol@localhost/pc'/>");
	assert_int_equal(f->n_ev, 3);
	assert_int_equal(f->n_sent, 1);
}

/* The IQ budget (iq_burst = 30, 1 a minute): past it, wait/resource-
 * constraint, then (past the burst of errors) nothing; reported IQs are
 * charged first; others are not affected. */
static void test_iq_budget(void **state)
{
	struct sfx *f = *state;
	size_t refused = 0;

	for (int i = 0; i < 80; i++)
		sfx_input(f,
		          "<iq type='get' id='b%d' from='mallory@localhost/"
		          "x'><ping xmlns='urn:xmpp:ping'/></iq>",
		          i);
	/* 30 answered, 30 refused (20 at once, the rest paced), 20
	 * dropped. */
	for (int i = 0; i < 100; i++)
		sfx_advance(f, 51);
	for (size_t i = 0; i < f->n_sent; i++) {
		if (strcmp(xmpp_stanza_get_type(f->sent[i]), "error") == 0) {
			assert_non_null(xmpp_stanza_get_child_by_name(
			    xmpp_stanza_get_child_by_name(f->sent[i], "error"),
			    "resource-constraint"));
			refused++;
		}
	}
	assert_int_equal(f->n_sent, 60);
	assert_int_equal(refused, 30);
	sfx_reset(f);
	/* The error cap refilled a little (30 a minute): refused, and not
	 * reported. */
	sfx_input(f, "<iq type='get' id='m1' from='mallory@localhost/y'>"
	             "<query xmlns='urn:x'/></iq>");
	assert_int_equal(f->n_ev, 0);
	expect_iq(f, 0, "error", "resource-constraint", "m1",
	          "mallory@localhost/y", "mallory@localhost");
	sfx_input(f, "<iq type='get' id='c1' from='carol@localhost/pc'>"
	             "<ping xmlns='urn:xmpp:ping'/></iq>");
	expect_iq(f, 1, "result", NULL, "c1", "carol@localhost/pc",
	          "carol@localhost");
}

/* Direct chats are reported with the bare JID as the requester; not the
 * bot's own messages, delayed ones, groupchat or headlines from outside
 * the rooms, or a muc#user message from a room the bot is not in. */
static void test_direct_messages(void **state)
{
	struct sfx *f = *state;

	sfx_input(f, "<message type='chat' from='alice@localhost/pc'><body>"
	             "help</body></message>");
	sfx_input(f, "<message from='alice@localhost/pc'><body>no type"
	             "</body></message>");
	assert_int_equal(f->n_ev, 2);
	assert_int_equal(f->ev[0].place, SESSION_DIRECT);
	assert_string_equal(f->ev[0].from, "alice@localhost/pc");
	assert_string_equal(f->ev[0].sender, "alice@localhost");
	assert_string_equal(f->ev[0].real_jid, "alice@localhost");
	assert_null(f->ev[0].room);
	assert_string_equal(f->ev[0].body, "help");
	sfx_input(f, "<message type='chat' from='bot@localhost/other'><body>"
	             "me</body></message>");
	sfx_input(f, "<message type='chat' from='alice@localhost/pc'><body>"
	             "old</body><delay xmlns='urn:xmpp:delay' stamp='2020-"
	             "01-01T00:00:00Z'/></message>");
	sfx_input(f, "<message type='groupchat' from='other@conference."
	             "localhost/x'><body>!help</body></message>");
	sfx_input(f, "<message type='headline' from='alice@localhost/pc'>"
	             "<body>news</body></message>");
	sfx_input(f, "<message type='chat' from='other@conference.localhost/"
	             "x'><body>help</body><x xmlns='http://jabber.org/"
	             "protocol/muc#user'/></message>");
	sfx_input(f, "<message type='error' from='alice@localhost/pc'><body>"
	             "help</body></message>");
	sfx_input(f, "<message type='chat' from='alice@localhost/pc'/>");
	assert_int_equal(f->n_ev, 2);
	assert_int_equal(f->n_sent, 0);
}

/* The send queue: a burst of 20, then one stanza every 50 ms, on the
 * send timer; a quiet requester's answer overtakes a flood (the flood's
 * lane, new too when it filled, goes once before it). */
static void test_pacing_and_lanes(void **state)
{
	struct sfx *f = *state;
	size_t quiet = SFX_MAX;

	for (int i = 0; i < 25; i++)
		sfx_input(f,
		          "<iq type='get' id='p%d' from='flood@localhost/x'>"
		          "<ping xmlns='urn:xmpp:ping'/></iq>",
		          i);
	assert_int_equal(f->n_sent, 20);
	assert_int_equal(cron_due(f->s->t_send), f->now + 51);
	sfx_input(f, "<iq type='get' id='q1' from='quiet@localhost/x'><ping "
	             "xmlns='urn:xmpp:ping'/></iq>");
	assert_int_equal(f->n_sent, 20);
	sfx_advance(f, 50);
	assert_int_equal(f->n_sent, 20);
	sfx_advance(f, 1);
	assert_int_equal(f->n_sent, 21);
	expect_iq(f, 20, "result", NULL, "p20", "flood@localhost/x",
	          "flood@localhost");
	sfx_advance(f, 51);
	expect_iq(f, 21, "result", NULL, "q1", "quiet@localhost/x",
	          "quiet@localhost");
	for (int i = 0; i < 10 && f->n_sent < 26; i++)
		sfx_advance(f, 51);
	assert_int_equal(f->n_sent, 26);
	for (size_t i = 0; i < f->n_sent; i++)
		if (strcmp(xmpp_stanza_get_id(f->sent[i]), "q1") == 0)
			quiet = i;
	assert_int_equal(quiet, 21);
	assert_string_equal(xmpp_stanza_get_id(f->sent[25]), "p24");
	/* Nothing left: the send timer is disarmed. */
	assert_int_equal(cron_due(f->s->t_send), CRON_NEVER);
}

/* Stopping leaves every room at once (unavailable presences, events). */
static void test_stop(void **state)
{
	struct sfx *f = *state;

	session_stop(f->s);
	assert_int_equal(sfx_find(f, "presence", ROOM "/fisbot", "unavailable"),
	                 0);
	assert_int_equal(f->n_ev, 1);
	assert_int_equal(f->ev[0].kind, 'l');
	/* Nothing more goes out. */
	session_send(f->s, xmpp_presence_new(f->ctx));
	assert_int_equal(f->n_sent, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_origin_cache_bounded, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_mediated_needs_room_service,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_direct_needs_room_service,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_room_traffic_ignored,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_requester_keys, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_disco_and_basics, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_iq_reported, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_iq_budget, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_direct_messages, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_pacing_and_lanes, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_stop, fx_setup, fx_teardown),
	};

	log_set_level(LOG_ERROR);
	xmpp_initialize();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
