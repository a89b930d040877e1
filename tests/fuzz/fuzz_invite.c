/*
 * libFuzzer target for invitations (invite.c): the first byte picks the
 * [invites] policy (allowlist, anyone, none), the rest is parsed as a
 * stanza (xmpp_stanza_new_from_string) and handed twice to the invitation
 * handler of a fresh session that is not connected, whose origin cache
 * knows conference.localhost as a room service, localhost as none and
 * example.org as unknown. Whatever the stanza, a room may be added only on
 * the room service, trusted, and within max_rooms; nothing waits for a
 * check (nothing can be asked while disconnected).
 * Seeds: tests/fuzz/corpus/invite.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strophe.h>

#include "base/cron.h"
#include "fisbot/alloc.h"
#include "fisbot/config.h"
#include "fisbot/log.h"
#include "xmpp/session.h"
#include "xmpp/session_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_POLICIES 3

static struct config *configs[N_POLICIES];
static char tmp_dir[] = "/tmp/fisbot-fuzz-invite-XXXXXX";

/* A store that remembers nothing. */
static int store_add(void *arg, const char *room, const char *nick)
{
	(void)arg;
	(void)room;
	(void)nick;
	return 0;
}

/* A store that forgets nothing. */
static int store_remove(void *arg, const char *room)
{
	(void)arg;
	(void)room;
	return 0;
}

/* Frees the configurations and removes their folder. */
static void cleanup(void)
{
	for (size_t i = 0; i < N_POLICIES; i++)
		config_free(configs[i]);
	rmdir(tmp_dir);
}

/* Loads the configuration with [invites] accept = policy. */
static struct config *load(const char *policy)
{
	struct strlist problems = {0};
	char *path = xasprintf("%s/fisbot.conf", tmp_dir);
	FILE *fp = fopen(path, "w");
	struct config *c;

	if (fp == NULL)
		abort();
	fprintf(fp,
	        "[xmpp]\njid = bot@localhost\npassword = secret\n"
	        "rooms = home@conference.localhost\n"
	        "[invites]\naccept = %s\nallow = alice@localhost, "
	        "friends.example\nmax_rooms = 4\n"
	        "[admins]\njids = admin@localhost\n"
	        "[share]\npath = share\n",
	        policy);
	if (fclose(fp) != 0)
		abort();
	c = config_load(path, &problems);
	if (c == NULL)
		abort();
	strlist_free(&problems);
	unlink(path);
	free(path);
	return c;
}

/* Loads the configurations once. */
static void init(void)
{
	static const char *const policies[N_POLICIES] = {"allowlist", "anyone",
	                                                 "none"};

	if (mkdtemp(tmp_dir) == NULL)
		abort();
	for (size_t i = 0; i < N_POLICIES; i++)
		configs[i] = load(policies[i]);
	atexit(cleanup);
	log_set_level(LOG_ERROR);
	xmpp_initialize();
}

/* Checks the session's invariants after an invitation. */
static void check(struct session *s, const struct config *cfg)
{
	if (s->n_waiting != 0 || s->n_rooms > cfg->invites.max_rooms)
		abort();
	for (size_t i = 0; i < s->n_rooms; i++) {
		struct room *r = s->rooms[i];
		char *d = jid_domain(r->jid);

		if (!r->trusted || strcmp(d, "conference.localhost") != 0 ||
		    r->state != ROOM_OFF)
			abort();
		free(d);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_store store = {store_add, store_remove, NULL};
	const struct config *cfg;
	struct session *s;
	struct cron *cron;
	xmpp_stanza_t *st;
	char *cause = NULL, *text;

	if (configs[0] == NULL)
		init();
	if (size < 1)
		return 0;
	cfg = configs[data[0] % N_POLICIES];
	cron = cron_new(NULL, NULL);
	s = session_new(cfg, cron, NULL, &cause);
	if (s == NULL)
		abort();
	session_set_store(s, &store);
	origin_record(s, "conference.localhost", ORIGIN_ROOM);
	origin_record(s, "localhost", ORIGIN_NOT_ROOM);
	origin_record(s, "example.org", ORIGIN_UNKNOWN);

	text = xstrndup((const char *)data + 1, size - 1);
	st = xmpp_stanza_new_from_string(session_ctx(s), text);
	free(text);
	if (st != NULL) {
		invite_message(s, st);
		check(s, cfg);
		/* The same again: a duplicate. */
		invite_message(s, st);
		check(s, cfg);
		xmpp_stanza_release(st);
	}
	session_free(s);
	cron_free(cron);
	return 0;
}
