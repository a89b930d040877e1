/*
 * Unit tests of invitations (invite.c, origin.c) on a real session that
 * is not connected (session_fixture.h), end to end: the invitation comes
 * in, the session asks the service whether it is a room service, the
 * answer (or its absence) comes, and the session joins and remembers the
 * room, declines through the room, or ignores a forgery; with the
 * [invites] policy, max_rooms and the rate of acceptances.
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
#define SERVICE  "conference.localhost"
#define MUC_USER "http://jabber.org/protocol/muc#user"
#define CONF                                                                   \
	"rooms = " ROOM "\n[admins]\njids = admin@localhost\n"                 \
	"[invites]\naccept = allowlist\nallow = alice@localhost\n"

/* A connected session (what connecting sent is forgotten). */
static struct sfx *connected(const char *conf)
{
	struct sfx *f = sfx_new(conf);

	sfx_connect(f);
	sfx_reset(f);
	return f;
}

static int setup(void **state)
{
	*state = connected(CONF "max_rooms = 3\n");
	return 0;
}

static int teardown(void **state)
{
	sfx_free(*state);
	return 0;
}

/* A mediated invitation to room, sent by room on behalf of by. */
static void mediated(struct sfx *f, const char *room, const char *by)
{
	sfx_input(f,
	          "<message from='%s'><x xmlns='" MUC_USER "'><invite "
	          "from='%s'><reason>come</reason></invite></x></message>",
	          room, by);
}

/* A direct invitation to room from from. */
static void direct(struct sfx *f, const char *from, const char *room)
{
	sfx_input(f,
	          "<message from='%s'><x xmlns='jabber:x:conference' "
	          "jid='%s'/></message>",
	          from, room);
}

/* Answers the session's disco#info question to service: a conference
 * identity if room, else a server's. */
static void answer(struct sfx *f, const char *service, bool room)
{
	int q = sfx_find(f, "iq", service, "get");

	assert_true(q >= 0);
	sfx_input(f,
	          "<iq type='result' id='%s' from='%s'><query xmlns='http://"
	          "jabber.org/protocol/disco#info'><identity category='%s' "
	          "type='text'/></query></iq>",
	          xmpp_stanza_get_id(f->sent[q]), service,
	          room ? "conference" : "server");
}

/* Returns the reason of the decline sent to room (static), or NULL if
 * none was sent; checks it is addressed to to. */
static const char *decline(struct sfx *f, const char *room, const char *to)
{
	int i = sfx_find(f, "message", room, NULL);
	xmpp_stanza_t *x, *d;
	static char buf[256];
	char *t;

	if (i < 0)
		return NULL;
	x = xmpp_stanza_get_child_by_name_and_ns(f->sent[i], "x", MUC_USER);
	d = x != NULL ? xmpp_stanza_get_child_by_name(x, "decline") : NULL;
	assert_non_null(d);
	assert_string_equal(xmpp_stanza_get_attribute(d, "to"), to);
	t = xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(d, "reason"));
	snprintf(buf, sizeof(buf), "%s", t);
	xmpp_free(f->ctx, t);
	return buf;
}

/* A mediated invitation is acted on once the service shows it is a room
 * service: joined and remembered; a duplicate changes nothing. */
static void test_mediated_accepted_after_check(void **state)
{
	struct sfx *f = *state;

	mediated(f, "a@" SERVICE, "alice@localhost/pc");
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->n_stored, 0);
	assert_null(muc_find(f->s, "a@" SERVICE));
	answer(f, SERVICE, true);
	assert_true(sfx_find(f, "presence", "a@" SERVICE "/fisbot", NULL) >= 0);
	assert_int_equal(f->n_stored, 1);
	assert_string_equal(f->stored[0], "a@" SERVICE);
	assert_true(muc_find(f->s, "a@" SERVICE)->trusted);
	/* Known now: the next one needs no question, and a duplicate is
	 * ignored. */
	sfx_reset(f);
	mediated(f, "a@" SERVICE, "alice@localhost/pc");
	assert_int_equal(f->n_sent, 0);
	assert_int_equal(f->n_stored, 1);
}

/* An accepted mediated invitation whose room then refuses the bot: the
 * inviter gets a decline saying why, and the room is forgotten; once in, a
 * later refusal (a rejoin) is no business of the inviter. */
static void test_room_refuses_after_acceptance(void **state)
{
	struct sfx *f = *state;
	int i;

	mediated(f, "m@" SERVICE, "alice@localhost/pc");
	answer(f, SERVICE, true);
	assert_int_equal(f->n_stored, 1);
	sfx_reset(f);
	sfx_input(f, "<presence from='m@" SERVICE "/fisbot' type='error'>"
	             "<error type='auth'><registration-required xmlns='urn:"
	             "ietf:params:xml:ns:xmpp-stanzas'/></error></presence>");
	assert_string_equal(decline(f, "m@" SERVICE, "alice@localhost/pc"),
	                    "I could not join: members only");
	assert_int_equal(f->n_forgotten, 1);
	assert_string_equal(f->forgotten[0], "m@" SERVICE);
	assert_null(muc_find(f->s, "m@" SERVICE));

	/* Joined once: the inviter is not told of later trouble. */
	mediated(f, "n@" SERVICE, "alice@localhost/pc");
	sfx_input(f, "<presence from='n@" SERVICE "/fisbot'><x xmlns='" MUC_USER
	             "'><item affiliation='none' role='participant'/><status "
	             "code='110'/></x></presence>");
	sfx_input(f, "<presence from='n@" SERVICE "/fisbot' type="
	             "'unavailable'><x xmlns='" MUC_USER "'><item affiliation="
	             "'none' role='none'/><status code='307'/><status code="
	             "'110'/></x></presence>");
	sfx_reset(f);
	sfx_advance(f, 10000);
	sfx_input(f, "<presence from='n@" SERVICE "/fisbot' type='error'>"
	             "<error type='auth'><not-authorized xmlns='urn:ietf:"
	             "params:xml:ns:xmpp-stanzas'/></error></presence>");
	assert_null(decline(f, "n@" SERVICE, "alice@localhost/pc"));

	/* A direct invitation's inviter is told in a chat. */
	sfx_reset(f);
	direct(f, "alice@localhost/pc", "d@" SERVICE);
	sfx_input(f, "<presence from='d@" SERVICE "/fisbot' type='error'>"
	             "<error type='auth'><forbidden xmlns='urn:ietf:params:"
	             "xml:ns:xmpp-stanzas'/></error></presence>");
	i = sfx_find(f, "message", "alice@localhost", "chat");
	assert_true(i >= 0);
	assert_string_equal(sfx_text(f, (size_t)i, "body"),
	                    "I could not join d@" SERVICE ": banned");
	assert_null(muc_find(f->s, "d@" SERVICE));
}

/* A forgery: from a user's full JID (not even asked), or from a service
 * that turns out to be no room service: ignored, never declined. */
static void test_forged_mediated_ignored(void **state)
{
	struct sfx *f = *state;

	mediated(f, "mallory@localhost/pc", "alice@localhost/pc");
	assert_int_equal(f->n_sent, 0);
	mediated(f, "mallory@localhost", "alice@localhost/pc");
	assert_int_equal(f->n_sent, 1); /* the question to localhost */
	answer(f, "localhost", false);
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->n_stored, 0);
	assert_null(muc_find(f->s, "mallory@localhost"));
	/* The verdict is cached: a flood costs no more questions. */
	for (int i = 0; i < 50; i++)
		mediated(f, "mallory@localhost", "alice@localhost/pc");
	assert_int_equal(f->n_sent, 1);
}

/* Refused mediated invitations from a genuine room are declined through
 * the room, to the inviter, with the reason. */
static void test_refused_declined(void **state)
{
	struct sfx *f = *state;

	mediated(f, "b@" SERVICE, "mallory@localhost/pc");
	answer(f, SERVICE, true);
	assert_string_equal(decline(f, "b@" SERVICE, "mallory@localhost/pc"),
	                    "not on the invite list");
	sfx_reset(f);
	/* A semi-anonymous room names the inviter by occupant JID. */
	mediated(f, "b@" SERVICE, "b@" SERVICE "/alice");
	assert_string_equal(decline(f, "b@" SERVICE, "b@" SERVICE "/alice"),
	                    "your real JID is hidden: invite me directly "
	                    "(XEP-0249) or make the room non-anonymous");
	assert_int_equal(f->n_stored, 0);
}

/* Direct invitations: the policy first (a stranger costs no question),
 * then the room's service must be a room service. */
static void test_direct_invitations(void **state)
{
	struct sfx *f = *state;

	direct(f, "mallory@localhost/pc", "c@" SERVICE);
	assert_int_equal(f->n_sent, 0);
	/* Direct invitations are never declined (no room to go through). */
	direct(f, "alice@localhost/pc", "c@" SERVICE);
	assert_int_equal(f->n_sent, 1);
	answer(f, SERVICE, true);
	assert_true(sfx_find(f, "presence", "c@" SERVICE "/fisbot", NULL) >= 0);
	assert_int_equal(f->n_stored, 1);
	/* An admin may invite too; a room JID that is a user's is not
	 * joined (its service is no room service). */
	sfx_reset(f);
	direct(f, "admin@localhost/pc", "mallory@localhost");
	answer(f, "localhost", false);
	assert_int_equal(sfx_count(f, "presence", NULL), 0);
	assert_int_equal(f->n_stored, 1);
}

/* Past max_rooms (3: the configured room and two), declined. */
static void test_max_rooms(void **state)
{
	struct sfx *f = *state;

	origin_record(f->s, SERVICE, ORIGIN_ROOM);
	mediated(f, "d1@" SERVICE, "alice@localhost/pc");
	mediated(f, "d2@" SERVICE, "alice@localhost/pc");
	assert_int_equal(f->n_stored, 2);
	sfx_reset(f);
	mediated(f, "d3@" SERVICE, "alice@localhost/pc");
	assert_string_equal(decline(f, "d3@" SERVICE, "alice@localhost/pc"),
	                    "I am in too many rooms already");
	assert_int_equal(f->n_stored, 2);
}

/* Five acceptances a minute; the sixth is declined until the minute is
 * over. */
static void test_acceptance_rate(void **state)
{
	struct sfx *f = connected(CONF "max_rooms = 20\n");
	char room[64];

	(void)state;
	origin_record(f->s, SERVICE, ORIGIN_ROOM);
	for (int i = 0; i < 5; i++) {
		snprintf(room, sizeof(room), "r%d@" SERVICE, i);
		mediated(f, room, "alice@localhost/pc");
	}
	assert_int_equal(f->n_stored, 5);
	sfx_reset(f);
	mediated(f, "r5@" SERVICE, "alice@localhost/pc");
	assert_string_equal(decline(f, "r5@" SERVICE, "alice@localhost/pc"),
	                    "too many invitations: try again in a minute");
	assert_int_equal(f->n_stored, 5);
	sfx_advance(f, 60000);
	mediated(f, "r5@" SERVICE, "alice@localhost/pc");
	assert_int_equal(f->n_stored, 6);
	sfx_free(f);
}

/* A service that does not answer: after ORIGIN_TIMEOUT_MS the waiting
 * invitation is dropped (the origin timer is armed for that moment),
 * and the service is asked again later. */
static void test_origin_timeout(void **state)
{
	struct sfx *f = *state;

	direct(f, "alice@localhost/pc", "e@" SERVICE);
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(cron_due(f->s->t_origin), f->now + 30000);
	sfx_advance(f, 29999);
	assert_int_equal(f->s->n_waiting, 1);
	sfx_advance(f, 1);
	assert_int_equal(f->s->n_waiting, 0);
	assert_int_equal(f->n_stored, 0);
	assert_int_equal(cron_due(f->s->t_origin), CRON_NEVER);
	/* "Unknown" is believed for a minute only. */
	sfx_reset(f);
	direct(f, "alice@localhost/pc", "e@" SERVICE);
	assert_int_equal(f->n_sent, 0);
	sfx_advance(f, 60000);
	direct(f, "alice@localhost/pc", "e@" SERVICE);
	assert_int_equal(f->n_sent, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mediated_accepted_after_check,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forged_mediated_ignored, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_refused_declined, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_room_refuses_after_acceptance,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_direct_invitations, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_max_rooms, setup, teardown),
	    cmocka_unit_test(test_acceptance_rate),
	    cmocka_unit_test_setup_teardown(test_origin_timeout, setup,
	                                    teardown),
	};

	log_set_level(LOG_ERROR);
	xmpp_initialize();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
