/*
 * Unit tests of presence subscriptions (roster.c) on a real session that
 * is not connected (session_fixture.h): under each [xmpp] subscriptions
 * policy, a request is approved and returned, or refused; probes from
 * allowed JIDs get the bot's presence; rooms are not subscribers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session_fixture.h"

#define LISTS                                                                  \
	"[admins]\njids = admin@localhost\n"                                   \
	"[invites]\naccept = allowlist\nallow = alice@localhost\n"             \
	"[upload]\nallow = uploads.example\n"

/* A connected session under conf (what connecting sent is forgotten). */
static struct sfx *connected(const char *conf)
{
	struct sfx *f = sfx_new(conf);

	sfx_connect(f);
	sfx_reset(f);
	return f;
}

/* Sends a subscription request from from. */
static void subscribe(struct sfx *f, const char *from)
{
	sfx_input(f, "<presence from='%s' type='subscribe'/>", from);
}

/* Returns true if the request of bare was approved and returned. */
static bool approved(struct sfx *f, const char *bare)
{
	return sfx_find(f, "presence", bare, "subscribed") >= 0 &&
	       sfx_find(f, "presence", bare, "subscribe") >= 0 &&
	       sfx_find(f, "presence", bare, "unsubscribed") < 0;
}

/* Returns true if the request of bare was refused (and nothing else). */
static bool refused(struct sfx *f, const char *bare)
{
	return sfx_find(f, "presence", bare, "unsubscribed") >= 0 &&
	       sfx_find(f, "presence", bare, "subscribed") < 0 &&
	       sfx_find(f, "presence", bare, "subscribe") < 0;
}

/* anyone (the default): everybody is approved, to the bare JID. */
static void test_anyone(void **state)
{
	struct sfx *f = connected(LISTS);

	(void)state;
	subscribe(f, "stranger@elsewhere.example/phone");
	assert_true(approved(f, "stranger@elsewhere.example"));
	sfx_free(f);
}

/* allowlist: admins, inviters and uploaders (whole domains too). */
static void test_allowlist(void **state)
{
	struct sfx *f = connected("subscriptions = allowlist\n" LISTS);

	(void)state;
	subscribe(f, "Admin@localhost/pc");
	assert_true(approved(f, "admin@localhost"));
	subscribe(f, "alice@localhost");
	assert_true(approved(f, "alice@localhost"));
	subscribe(f, "bob@uploads.example/x");
	assert_true(approved(f, "bob@uploads.example"));
	subscribe(f, "mallory@localhost/x");
	assert_true(refused(f, "mallory@localhost"));
	sfx_free(f);
}

/* none: everybody is refused. */
static void test_none(void **state)
{
	struct sfx *f = connected("subscriptions = none\n" LISTS);

	(void)state;
	subscribe(f, "admin@localhost/pc");
	assert_true(refused(f, "admin@localhost"));
	sfx_free(f);
}

/* A probe from an allowed JID gets the bot's presence, with caps; from
 * another, nothing. Answers to our own request need no answer. */
static void test_probe_and_answers(void **state)
{
	struct sfx *f = connected("subscriptions = allowlist\n" LISTS);
	int i;

	(void)state;
	sfx_input(f, "<presence from='alice@localhost' type='probe'/>");
	i = sfx_find(f, "presence", "alice@localhost", "");
	assert_true(i >= 0);
	assert_non_null(xmpp_stanza_get_child_by_name(f->sent[i], "c"));
	sfx_input(f, "<presence from='mallory@localhost' type='probe'/>");
	assert_int_equal(sfx_count(f, "presence", "mallory@localhost"), 0);
	sfx_reset(f);
	sfx_input(f, "<presence from='alice@localhost' type='subscribed'/>");
	sfx_input(f, "<presence from='alice@localhost' type='unsubscribe'/>");
	assert_int_equal(f->n_sent, 0);
	sfx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_anyone),
	    cmocka_unit_test(test_allowlist),
	    cmocka_unit_test(test_none),
	    cmocka_unit_test(test_probe_and_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
