/*
 * Unit tests for the session's connection resilience (SPEC §7), on a
 * session that is not connected (session_fixture.h): a dropped stream
 * that the server let resume keeps the rooms, the replies and the checks
 * in flight, and nothing is sent or reported again; one that could not be
 * resumed is a fresh start (rooms left, joined again); the commands the
 * server kept for a resumed stream (with its own <delay/>) are answered,
 * real delayed messages are not; pings to the server find a dead
 * connection within two intervals; the reconnection's backoff is capped
 * at 10 s for ten minutes of outage, then at 60 s, and starts again after
 * a connection that held.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/cron.h"
#include "session_fixture.h"
#include "xmpp/session_int.h"

#define ROOM    "room@conference.localhost"
#define PING_MS 60000

static int setup(void **state)
{
	struct sfx *f = sfx_new("rooms = " ROOM "\n");

	sfx_connect(f);
	sfx_enter(f, ROOM, "fisbot", false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	sfx_free(*state);
	return 0;
}

/* Says body in ROOM as alice, with extra XML inside the message. */
static void alice_says(struct sfx *f, const char *body, const char *extra)
{
	sfx_input(f,
	          "<message type='groupchat' from='" ROOM "/alice'><body>%s"
	          "</body>%s</message>",
	          body, extra);
}

/* A resumable stream drops: nothing is reported, the room stays as it
 * was, a reply made meanwhile waits; resumed, the reply goes out and
 * nothing is joined or announced again. */
static void test_resumed(void **state)
{
	struct sfx *f = *state;
	struct room *r = muc_find(f->s, ROOM);
	xmpp_stanza_t *msg;

	session_test_sm_enabled(f->s);
	session_test_disconnect(f->s);
	assert_true(f->s->suspended);
	assert_int_equal(f->n_ev, 0);
	assert_int_equal(r->state, ROOM_READY);
	msg = xmpp_message_new(f->ctx, "chat", ROOM "/alice", NULL);
	xmpp_message_set_body(msg, "reply");
	session_send_to(f->s, msg, "alice");
	assert_int_equal(f->n_sent, 0);
	sfx_advance(f, 2000);
	session_test_resume(f->s, SFX_BOT);
	assert_false(f->s->suspended);
	assert_int_equal(f->n_ev, 0);
	assert_int_equal(sfx_count(f, "presence", NULL), 0);
	assert_int_equal(f->n_sent, 1);
	assert_string_equal(sfx_text(f, 0, "body"), "reply");
	/* The room works as before. */
	alice_says(f, "!help", "");
	assert_int_equal(sfx_event(f, 'm'), 0);
}

/* A resumable stream drops, and the server does not resume it (it
 * restarted): only then are the rooms left and joined again, and what
 * waited for the old stream is dropped. */
static void test_resumption_refused(void **state)
{
	struct sfx *f = *state;

	session_test_sm_enabled(f->s);
	session_test_disconnect(f->s);
	session_send(f->s, xmpp_message_new(f->ctx, "groupchat", ROOM, NULL));
	assert_int_equal(f->n_ev, 0);
	/* Failed attempts keep it waiting for the resumption. */
	session_test_disconnect(f->s);
	assert_true(f->s->suspended);
	assert_int_equal(f->n_ev, 0);
	sfx_connect(f); /* a fresh stream */
	assert_false(f->s->suspended);
	assert_int_equal(f->n_ev, 1);
	assert_int_equal(f->ev[0].kind, 'l');
	assert_int_equal(sfx_count(f, "message", NULL), 0);
	assert_true(sfx_find(f, "presence", ROOM "/fisbot", "") >= 0);
	/* A fresh stream is resumable only once the server says so. */
	assert_false(f->s->sm_resumable);
	session_test_disconnect(f->s);
	assert_false(f->s->suspended);
}

/* Without stream management a drop is the end of the stream: the rooms
 * are left at once. */
static void test_no_sm(void **state)
{
	struct sfx *f = *state;

	session_test_disconnect(f->s);
	assert_false(f->s->suspended);
	assert_int_equal(f->n_ev, 1);
	assert_int_equal(f->ev[0].kind, 'l');
}

/* A command the server kept for the resumed stream carries the server's
 * <delay/> from the bot's own account: it is acted on. History (a delay
 * from the room) and anything else delayed is not. */
static void test_kept_commands_answered(void **state)
{
	struct sfx *f = *state;

	alice_says(f, "!one",
	           "<delay xmlns='urn:xmpp:delay' from='bot@localhost' "
	           "stamp='2026-01-01T00:00:00Z'/>");
	assert_int_equal(f->n_ev, 1);
	assert_string_equal(f->ev[0].body, "!one");
	alice_says(f, "!two",
	           "<delay xmlns='urn:xmpp:delay' from='" ROOM "' "
	           "stamp='2026-01-01T00:00:00Z'/>");
	alice_says(f, "!three",
	           "<delay xmlns='urn:xmpp:delay' "
	           "stamp='2026-01-01T00:00:00Z'/>");
	/* History the server then kept for the stream: still history. */
	alice_says(
	    f, "!four",
	    "<delay xmlns='urn:xmpp:delay' from='" ROOM "' "
	    "stamp='2026-01-01T00:00:00Z'/><delay xmlns='urn:xmpp:"
	    "delay' from='bot@localhost' stamp='2026-01-01T00:00:01Z'/>");
	assert_int_equal(f->n_ev, 1);
	/* The same for direct messages. */
	sfx_input(f, "<message type='chat' from='alice@localhost/pc'><body>"
	             "help</body><delay xmlns='urn:xmpp:delay' "
	             "from='bot@localhost' stamp='2026-01-01T00:00:00Z'/>"
	             "</message>");
	assert_int_equal(f->n_ev, 2);
	sfx_input(f, "<message type='chat' from='alice@localhost/pc'><body>"
	             "help</body><delay xmlns='urn:xmpp:delay' "
	             "from='localhost' stamp='2026-01-01T00:00:00Z'/>"
	             "</message>");
	assert_int_equal(f->n_ev, 2);
}

/* Pings go to the server after PING_MS of silence while it answers; once
 * it stops (a black hole), the connection is dropped PING_MS after the
 * unanswered ping: within two intervals of the last word from it. */
static void test_ping_black_hole(void **state)
{
	struct sfx *f = *state;

	session_test_sm_enabled(f->s);
	f->pings = 0;
	sfx_advance(f, PING_MS - 1);
	assert_int_equal(f->pings, 0);
	for (int i = 0; i < 5; i++)
		sfx_advance(f, PING_MS);
	assert_int_equal(f->pings, 5);
	assert_true(f->s->connected);
	f->black_hole = true;
	sfx_advance(f, PING_MS); /* the sixth goes unanswered */
	assert_int_equal(f->pings, 6);
	assert_true(f->s->connected);
	sfx_advance(f, PING_MS - 1);
	assert_true(f->s->connected);
	sfx_advance(f, 1);
	assert_false(f->s->connected);
	assert_int_equal(f->pings, 6);
	/* Dropped as a lost connection: suspended, to be resumed. */
	assert_true(f->s->suspended);
	assert_int_equal(f->n_ev, 0);
	assert_int_equal(cron_due(f->s->t_ping), CRON_NEVER);
	/* Resumed, the pings start again. */
	f->black_hole = false;
	session_test_resume(f->s, SFX_BOT);
	sfx_advance(f, PING_MS);
	assert_int_equal(f->pings, 7);
	assert_true(f->s->connected);
}

/* While the server sends something, no ping is needed; once it is quiet
 * for PING_MS, one goes. */
static void test_ping_when_idle(void **state)
{
	struct sfx *f = *state;

	f->pings = 0;
	for (int i = 0; i < 10; i++) {
		sfx_advance(f, PING_MS / 2);
		alice_says(f, "hello", "");
	}
	assert_int_equal(f->pings, 0);
	sfx_advance(f, PING_MS - 1);
	assert_int_equal(f->pings, 0);
	sfx_advance(f, 1);
	assert_int_equal(f->pings, 1);
}

/* A ping answered with an error proves the connection alive too; an
 * answer from someone else does not count. */
static void test_ping_answers(void **state)
{
	struct sfx *f = *state;

	f->black_hole = true;
	sfx_advance(f, PING_MS);
	assert_non_null(f->s->ping_id);
	sfx_input(f, "<iq type='result' id='%s' from='mallory@localhost/x'/>",
	          f->s->ping_id);
	assert_non_null(f->s->ping_id);
	sfx_input(f,
	          "<iq type='error' id='%s' from='localhost'><error "
	          "type='cancel'><service-unavailable xmlns='urn:ietf:params:"
	          "xml:ns:xmpp-stanzas'/></error></iq>",
	          f->s->ping_id);
	assert_null(f->s->ping_id);
	sfx_advance(f, PING_MS);
	assert_true(f->s->connected);
}

/* Failed attempts in a row: jittered delays of at most 10 s for the first
 * ten minutes of the outage, then at most 60 s; a connection that held a
 * minute ends the outage (the next delay is short again), one that
 * flapped does not. */
static void test_backoff(void **state)
{
	struct sfx *f = *state;
	int64_t start = (int64_t)f->now, d, longest = 0;

	session_test_disconnect(f->s);
	for (int i = 0; i < 200; i++) {
		d = f->s->connect_at - (int64_t)f->now;
		assert_true(d >= 500);
		if ((int64_t)f->now - start < 600000)
			assert_true(d <= 10000);
		else
			assert_true(d <= 60000);
		if ((int64_t)f->now - start >= 600000 && d > longest)
			longest = d;
		sfx_advance(f, (uint64_t)d);
		session_test_disconnect(f->s); /* the attempt failed */
	}
	assert_true(longest > 10000);
	/* Up for a second: still the same outage. */
	sfx_connect(f);
	sfx_advance(f, 1000);
	session_test_disconnect(f->s);
	assert_true(f->s->connect_at - (int64_t)f->now > 1000);
	/* Up for a minute: a new outage starts at 1 s. */
	sfx_advance(f, (uint64_t)(f->s->connect_at - (int64_t)f->now));
	sfx_connect(f);
	sfx_advance(f, 60000);
	session_test_disconnect(f->s);
	d = f->s->connect_at - (int64_t)f->now;
	assert_true(d >= 500 && d <= 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_resumed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resumption_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_no_sm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kept_commands_answered, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_ping_black_hole, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_ping_when_idle, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_ping_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
