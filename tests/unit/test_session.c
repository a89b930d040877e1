/*
 * Unit tests for the session's origin checks on a session that is not
 * connected (SPEC §7, §9): the per-service cache and its bound, what
 * invitations do with what is known of their service, that an untrusted
 * room's traffic is ignored, and the requester keys of room occupants
 * (occupant-id, real JID, an occupancy that follows nick changes).
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

#include "alloc.h"
#include "config.h"
#include "cron.h"
#include "log.h"
#include "session.h"
#include "session_int.h"

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
	};

	log_set_level(LOG_ERROR);
	xmpp_initialize();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
