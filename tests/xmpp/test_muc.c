/*
 * Unit tests of the rooms (muc.c) on a real session that is not connected
 * (session_fixture.h): the stanzas it sends when it joins, retries a
 * taken nick, is kicked, banned, or finds its room destroyed; when a room
 * counts as joined and ready (the events reported); which room messages
 * are reported and with which requester key; self-pings; and the rooms'
 * timers, on a test clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "session_fixture.h"
#include "xmpp/session_int.h"

#define ROOM     "room@conference.localhost"
#define MUC      "http://jabber.org/protocol/muc"
#define MUC_USER "http://jabber.org/protocol/muc#user"

static int setup(void **state)
{
	*state = sfx_new("rooms = " ROOM "\n[invites]\nmax_rooms = 3\n");
	return 0;
}

static int teardown(void **state)
{
	sfx_free(*state);
	return 0;
}

/* Returns true if sent stanza i is a join of ROOM as nick: a presence to
 * the occupant JID with <x xmlns=muc><history maxstanzas=0/></x>. */
static bool is_join(struct sfx *f, int i, const char *nick)
{
	xmpp_stanza_t *p, *x, *h;
	char *to = xasprintf(ROOM "/%s", nick);
	bool ok;

	if (i < 0)
		return false;
	p = f->sent[i];
	x = xmpp_stanza_get_child_by_name_and_ns(p, "x", MUC);
	h = x != NULL ? xmpp_stanza_get_child_by_name(x, "history") : NULL;
	ok = strcmp(xmpp_stanza_get_name(p), "presence") == 0 &&
	     xmpp_stanza_get_type(p) == NULL &&
	     strcmp(xmpp_stanza_get_to(p), to) == 0 && h != NULL &&
	     strcmp(xmpp_stanza_get_attribute(h, "maxstanzas"), "0") == 0;
	free(to);
	return ok;
}

/* Says body in ROOM as nick (a groupchat message). */
static void room_says(struct sfx *f, const char *nick, const char *body)
{
	sfx_input(f,
	          "<message type='groupchat' from='" ROOM "/%s'><body>%s"
	          "</body></message>",
	          nick, body);
}

/* Connecting joins the configured room; the room is ready for commands
 * (the joined event) only once both the subject and the answer to its
 * disco#info came. */
static void test_join_and_ready(void **state)
{
	struct sfx *f = *state;
	int info;

	sfx_connect(f);
	/* The presence to the server first, with caps. */
	assert_int_equal(sfx_find(f, "presence", "", NULL), 0);
	assert_non_null(xmpp_stanza_get_child_by_name_and_ns(
	    f->sent[0], "c", "http://jabber.org/protocol/caps"));
	assert_true(is_join(f, sfx_find(f, "presence", ROOM "/fisbot", NULL),
	                    "fisbot"));
	info = sfx_find(f, "iq", ROOM, "get");
	assert_true(info >= 0);
	assert_non_null(xmpp_stanza_get_child_by_name_and_ns(
	    f->sent[info], "query", "http://jabber.org/protocol/disco#info"));
	assert_int_equal(f->n_ev, 0);

	/* In the room; not ready yet: groupchat is not reported, a private
	 * message is. */
	sfx_input(f, "<presence from='" ROOM "/fisbot'><x xmlns='" MUC_USER
	             "'><item role='participant'/><status code='110'/></x>"
	             "</presence>");
	room_says(f, "alice", "!early");
	assert_int_equal(f->n_ev, 0);
	sfx_input(f, "<message type='chat' from='" ROOM "/alice'><body>hi"
	             "</body><x xmlns='" MUC_USER "'/></message>");
	assert_int_equal(f->n_ev, 1);
	assert_int_equal(f->ev[0].place, SESSION_ROOM_PRIVATE);
	sfx_input(f, "<message type='groupchat' from='" ROOM "'><subject>s"
	             "</subject></message>");
	assert_int_equal(sfx_event(f, 'j'), -1);
	sfx_input(f,
	          "<iq type='result' id='%s' from='" ROOM
	          "'><query xmlns='http://jabber.org/protocol/disco#info'/>"
	          "</iq>",
	          xmpp_stanza_get_id(f->sent[info]));
	assert_int_equal(sfx_event(f, 'j'), 1);
	assert_string_equal(f->ev[1].room, ROOM);

	/* Ready: groupchat is reported, but not the bot's own, nor a
	 * delayed one, nor one without a body. */
	room_says(f, "alice", "!help");
	assert_int_equal(f->n_ev, 3);
	assert_int_equal(f->ev[2].place, SESSION_ROOM);
	assert_string_equal(f->ev[2].room, ROOM);
	assert_string_equal(f->ev[2].nick, "alice");
	assert_string_equal(f->ev[2].own_nick, "fisbot");
	assert_string_equal(f->ev[2].body, "!help");
	assert_string_equal(f->ev[2].sender, ROOM "/alice");
	room_says(f, "fisbot", "!help");
	sfx_input(f, "<message type='groupchat' from='" ROOM "/alice'><body>"
	             "old</body><delay xmlns='urn:xmpp:delay' stamp='2020-01-"
	             "01T00:00:00Z'/></message>");
	sfx_input(f, "<message type='groupchat' from='" ROOM "/alice'>"
	             "<thread>x</thread></message>");
	assert_int_equal(f->n_ev, 3);
}

/* A room that sends its subject before the bot's disco#info is answered
 * and one that sends no subject at all (a rejoin over a resumed stream):
 * ready once the answer comes, or SUBJECT_WAIT_MS after the join. */
static void test_ready_without_subject(void **state)
{
	struct sfx *f = *state;

	sfx_connect(f);
	sfx_input(f, "<presence from='" ROOM "/fisbot'><x xmlns='" MUC_USER
	             "'><item role='participant'/><status code='110'/></x>"
	             "</presence>");
	sfx_advance(f, 9999);
	assert_int_equal(sfx_event(f, 'j'), -1);
	/* The rooms' timer is armed for the subject's wait. */
	assert_int_equal(cron_due(f->s->t_rooms), f->now + 1);
	sfx_advance(f, 1);
	assert_int_equal(sfx_event(f, 'j'), 0);
}

/* A taken nick: fisbot_, fisbot__, ... five times, then the original nick
 * again after REJOIN_MAX_MS. */
static void test_nick_conflict(void **state)
{
	struct sfx *f = *state;
	static const char *const nicks[] = {"fisbot",     "fisbot_",
	                                    "fisbot__",   "fisbot___",
	                                    "fisbot____", "fisbot_____"};

	sfx_connect(f);
	for (size_t i = 0; i < sizeof(nicks) / sizeof(*nicks); i++) {
		int join = sfx_find(f, "presence", NULL, NULL);

		/* The join just sent (after the server presence, first). */
		if (i == 0)
			join = sfx_find(f, "presence", ROOM "/fisbot", NULL);
		assert_true(is_join(f, join, nicks[i]));
		sfx_reset(f);
		sfx_input(f,
		          "<presence type='error' from='" ROOM
		          "/%s'><x xmlns='" MUC "'/><error type='cancel'>"
		          "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-"
		          "stanzas'/></error></presence>",
		          nicks[i]);
	}
	/* Every nick tried: out of the room, back in 5 minutes. */
	assert_int_equal(sfx_count(f, "presence", NULL), 0);
	assert_int_equal(cron_due(f->s->t_rooms), f->now + 300000);
	sfx_advance(f, 299999);
	assert_int_equal(sfx_count(f, "presence", NULL), 0);
	sfx_advance(f, 1);
	assert_true(is_join(f, sfx_find(f, "presence", NULL, NULL), "fisbot"));
}

/* Kicked (307): left, rejoined after KICK_DELAY_MS. */
static void test_kick_rejoins(void **state)
{
	struct sfx *f = *state;

	sfx_connect(f);
	sfx_enter(f, ROOM, "fisbot", false);
	sfx_input(f, "<presence type='unavailable' from='" ROOM
	             "/fisbot'><x xmlns='" MUC_USER "'><item role='none'/>"
	             "<status code='307'/><status code='110'/></x></presence>");
	assert_int_equal(f->n_ev, 1);
	assert_int_equal(f->ev[0].kind, 'l');
	assert_string_equal(f->ev[0].room, ROOM);
	/* Not in the room: its traffic is ignored. */
	room_says(f, "alice", "!help");
	assert_int_equal(f->n_ev, 1);
	sfx_advance(f, 4999);
	assert_int_equal(f->n_sent, 0);
	sfx_advance(f, 1);
	assert_true(is_join(f, sfx_find(f, "presence", NULL, NULL), "fisbot"));
	assert_int_equal(f->n_forgotten, 0);
}

/* Banned (301) or the room destroyed: left for good, forgotten in the
 * store if it was remembered there, never rejoined. */
static void test_ban_and_destruction_forget(void **state)
{
	struct sfx *f = *state;

	session_add_saved_room(f->s, "saved@conference.localhost", NULL);
	/* The remembered room's service must be checked first. */
	sfx_connect(f);
	sfx_input(
	    f,
	    "<iq type='result' id='%s' from='conference.localhost'>"
	    "<query xmlns='http://jabber.org/protocol/disco#info'>"
	    "<identity category='conference' type='text'/></query>"
	    "</iq>",
	    xmpp_stanza_get_id(
	        f->sent[sfx_find(f, "iq", "conference.localhost", NULL)]));
	assert_true(sfx_find(f, "presence", "saved@conference.localhost/fisbot",
	                     NULL) >= 0);
	sfx_enter(f, ROOM, "fisbot", false);
	sfx_input(f, "<presence from='saved@conference.localhost/fisbot'><x "
	             "xmlns='" MUC_USER "'><item role='participant'/><status "
	             "code='110'/></x></presence>");
	sfx_input(f, "<presence type='unavailable' from='saved@conference."
	             "localhost/fisbot'><x xmlns='" MUC_USER "'><item "
	             "affiliation='outcast' role='none'/><status code='301'/>"
	             "<status code='110'/></x></presence>");
	assert_int_equal(f->n_forgotten, 1);
	assert_string_equal(f->forgotten[0], "saved@conference.localhost");
	assert_int_equal(sfx_event(f, 'l'), 0);

	sfx_input(f, "<presence type='unavailable' from='" ROOM
	             "/fisbot'><x xmlns='" MUC_USER "'><item role='none'/>"
	             "<destroy jid='other@conference.localhost'/><status "
	             "code='110'/></x></presence>");
	/* A configured room is not in the store: nothing to forget there. */
	assert_int_equal(f->n_forgotten, 1);
	assert_int_equal(f->n_ev, 2);
	/* Gone: nothing is due, no join ever comes. */
	sfx_reset(f);
	sfx_advance(f, 3600000);
	assert_int_equal(sfx_count(f, "presence", NULL), 0);
	assert_int_equal(cron_due(f->s->t_rooms), CRON_NEVER);
}

/* The requester key of the events: the occupant-id where the room
 * provides them, else the real JID, else the occupancy, across a nick
 * change. */
static void test_occupant_keys_in_events(void **state)
{
	struct sfx *f = *state;

	sfx_connect(f);
	sfx_enter(f, ROOM, "fisbot", true);
	sfx_input(f, "<presence from='" ROOM "/carol'><occupant-id xmlns='"
	             "urn:xmpp:occupant-id:0' id='OID1'/><x xmlns='" MUC_USER
	             "'><item jid='carol@localhost/pc' role='participant'/></x>"
	             "</presence>");
	sfx_input(f, "<presence from='" ROOM "/dave'><x xmlns='" MUC_USER
	             "'><item jid='dave@localhost/pc' role='participant'/></x>"
	             "</presence>");
	room_says(f, "carol", "!a");
	room_says(f, "dave", "!b");
	assert_int_equal(f->n_ev, 2);
	assert_string_equal(f->ev[0].sender, ROOM "#id:OID1");
	assert_string_equal(f->ev[0].real_jid, "carol@localhost");
	/* A room with occupant-ids: one without one gets its real JID. */
	assert_string_equal(f->ev[1].sender, ROOM "#jid:dave@localhost");
	sfx_input(f, "<presence type='unavailable' from='" ROOM
	             "/carol'><x xmlns='" MUC_USER "'><item nick='carol2' "
	             "role='participant'/><status code='303'/></x></presence>");
	sfx_input(f, "<presence from='" ROOM "/carol2'><occupant-id xmlns='"
	             "urn:xmpp:occupant-id:0' id='OID1'/><x xmlns='" MUC_USER
	             "'><item jid='carol@localhost/pc' role='participant'/></x>"
	             "</presence>");
	room_says(f, "carol2", "!c");
	assert_string_equal(f->ev[2].sender, ROOM "#id:OID1");
	assert_string_equal(f->ev[2].nick, "carol2");
}

/* XEP-0410: a self-ping every five minutes; an error that means the bot
 * is out of the room makes it rejoin at once. */
static void test_self_ping(void **state)
{
	struct sfx *f = *state;
	int ping;

	sfx_connect(f);
	sfx_enter(f, ROOM, "fisbot", false);
	assert_int_equal(cron_due(f->s->t_rooms), f->now + 300000);
	sfx_advance(f, 300000);
	ping = sfx_find(f, "iq", ROOM "/fisbot", "get");
	assert_true(ping >= 0);
	assert_non_null(xmpp_stanza_get_child_by_name_and_ns(
	    f->sent[ping], "ping", "urn:xmpp:ping"));
	sfx_input(f,
	          "<iq type='error' id='%s' from='" ROOM
	          "/fisbot'><error type='cancel'><not-acceptable xmlns='urn:"
	          "ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
	          xmpp_stanza_get_id(f->sent[ping]));
	assert_int_equal(f->ev[0].kind, 'l');
	assert_true(is_join(f, sfx_find(f, "presence", NULL, NULL), "fisbot"));
}

/* Disconnected: every room is left (events), nothing more is sent, and
 * the rooms' timers stop; reconnected, the rooms are joined again. */
static void test_disconnect(void **state)
{
	struct sfx *f = *state;

	sfx_connect(f);
	sfx_enter(f, ROOM, "fisbot", false);
	session_test_disconnect(f->s);
	assert_int_equal(f->n_ev, 1);
	assert_int_equal(f->ev[0].kind, 'l');
	session_send(f->s, xmpp_presence_new(f->ctx));
	assert_int_equal(f->n_sent, 0);
	/* The next attempt is planned (it connects nothing here: the
	 * fixture's session never does); the self-ping is not. */
	assert_true(cron_due(f->s->t_connect) >= f->now + 500);
	assert_true(cron_due(f->s->t_connect) <= f->now + 1000);
	assert_int_equal(cron_due(f->s->t_rooms), CRON_NEVER);
	sfx_advance(f, 600000);
	assert_int_equal(f->n_sent, 0);
	sfx_connect(f);
	assert_true(is_join(f, sfx_find(f, "presence", ROOM "/fisbot", NULL),
	                    "fisbot"));
}

/* An admin's join and leave, and the room limits. */
static void test_join_and_leave(void **state)
{
	struct sfx *f = *state;
	char *cause = NULL;

	sfx_connect(f);
	sfx_reset(f);
	assert_int_equal(
	    session_join(f->s, "b@conference.localhost", "nick2", &cause), 0);
	/* Remembered only once the room let the bot in. */
	assert_int_equal(f->n_stored, 0);
	assert_true(
	    sfx_find(f, "presence", "b@conference.localhost/nick2", NULL) >= 0);
	sfx_input(f, "<presence from='b@conference.localhost/nick2'><x "
	             "xmlns='" MUC_USER "'><item affiliation='none' "
	             "role='participant'/><status code='110'/></x></presence>");
	assert_int_equal(f->n_stored, 1);
	assert_string_equal(f->stored[0], "b@conference.localhost");
	assert_int_equal(
	    session_join(f->s, "c@conference.localhost", NULL, &cause), 0);
	assert_int_equal(
	    session_join(f->s, "d@conference.localhost", NULL, &cause), -1);
	assert_string_equal(cause, "already in 3 rooms (max_rooms)");
	free(cause);
	cause = NULL;
	assert_int_equal(session_join(f->s, "not a room", NULL, &cause), -1);
	assert_string_equal(cause, "not a room JID: not a room");
	free(cause);
	cause = NULL;
	sfx_reset(f);
	assert_int_equal(session_leave(f->s, "b@conference.localhost", &cause),
	                 0);
	assert_int_equal(f->n_forgotten, 1);
	assert_int_equal(sfx_find(f, "presence", "b@conference.localhost/nick2",
	                          "unavailable"),
	                 0);
	assert_int_equal(session_leave(f->s, "b@conference.localhost", &cause),
	                 -1);
	assert_string_equal(cause, "not in b@conference.localhost");
	free(cause);
}

/* Refuses an admin's join of room with condition cond; returns why the
 * session says it failed (static), or NULL if it did not. */
static const char *refuse(struct sfx *f, const char *room, const char *nick,
                          const char *cond)
{
	static char why[128];
	char *cause = NULL;
	int e;

	sfx_reset(f);
	assert_int_equal(session_join(f->s, room, NULL, &cause), 0);
	sfx_input(f,
	          "<presence from='%s/%s' type='error'><error type='cancel'>"
	          "<%s xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
	          "</presence>",
	          room, nick, cond);
	e = sfx_event(f, 'f');
	if (e < 0)
		return NULL;
	assert_string_equal(f->ev[e].room, room);
	snprintf(why, sizeof(why), "%s", f->ev[e].body);
	return why;
}

/* An admin's join that the room refuses is told (in words), dropped and
 * never remembered; a nick conflict tries other nicks first. */
static void test_join_refused(void **state)
{
	struct sfx *f = *state;
	char *cause = NULL;

	sfx_connect(f);
	assert_string_equal(
	    refuse(f, "b@conference.localhost", "fisbot", "forbidden"),
	    "banned");
	assert_string_equal(
	    refuse(f, "c@nowhere.example", "fisbot", "remote-server-not-found"),
	    "no such server");
	assert_string_equal(
	    refuse(f, "d@conference.localhost", "fisbot", "not-authorized"),
	    "a password is needed, or it is wrong");
	assert_string_equal(
	    refuse(f, "e@conference.localhost", "fisbot", "weird-thing"),
	    "weird-thing");
	/* The room's own words come along. */
	sfx_reset(f);
	assert_int_equal(
	    session_join(f->s, "t@conference.localhost", NULL, &cause), 0);
	sfx_input(f, "<presence from='t@conference.localhost/fisbot' "
	             "type='error'><error type='auth'><forbidden "
	             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
	             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Go\naway"
	             "</text></error></presence>");
	assert_true(sfx_event(f, 'f') >= 0);
	assert_string_equal(f->ev[sfx_event(f, 'f')].body,
	                    "banned (Go\\x0Aaway)");
	/* A taken nick: fisbot_, fisbot__... then it gives up. */
	assert_null(refuse(f, "g@conference.localhost", "fisbot", "conflict"));
	for (int i = 1; i <= 5; i++) {
		char nick[16];

		snprintf(nick, sizeof(nick), "fisbot%.*s", i, "_____");
		assert_true(
		    sfx_find(f, "presence",
		             i == 1 ? "g@conference.localhost/fisbot_" : NULL,
		             NULL) >= 0);
		sfx_input(f,
		          "<presence from='g@conference.localhost/%s' "
		          "type='error'><error type='cancel'><conflict "
		          "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
		          "</error></presence>",
		          nick);
	}
	assert_true(sfx_event(f, 'f') >= 0);
	assert_string_equal(f->ev[sfx_event(f, 'f')].body,
	                    "every nick tried is taken");
	/* Nothing remembered, nothing left behind: max_rooms (3) has room
	 * for two more beside the configured one. */
	assert_int_equal(f->n_stored, 0);
	assert_int_equal(
	    session_join(f->s, "x@conference.localhost", NULL, &cause), 0);
	assert_int_equal(
	    session_join(f->s, "y@conference.localhost", NULL, &cause), 0);
	/* A configured room's refusal is not an admin's: no event. */
	sfx_reset(f);
	sfx_input(f, "<presence from='" ROOM "/fisbot' type='error'><error "
	             "type='cancel'><forbidden "
	             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
	             "</presence>");
	assert_int_equal(sfx_event(f, 'f'), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_join_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_join_and_ready, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_ready_without_subject, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_nick_conflict, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_kick_rejoins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ban_and_destruction_forget,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_occupant_keys_in_events, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_self_ping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disconnect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_join_and_leave, setup,
	                                    teardown),
	};

	log_set_level(LOG_ERROR);
	xmpp_initialize();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
