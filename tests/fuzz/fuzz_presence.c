/*
 * libFuzzer target for room traffic (muc.c): the first byte sets up a fresh
 * session that is not connected, with a configured room in some state
 * (joining, joined, ready), providing occupant-ids or not, and a room
 * remembered from an earlier run that is not checked yet (so not trusted)
 * but claims to be joined; the rest is up to 8 stanzas separated by NUL
 * bytes, each parsed (xmpp_stanza_new_from_string) and handed to the
 * presence handler (and messages to the message handler). Nothing may
 * crash or leak, the untrusted room never learns an occupant, and every
 * occupant of the trusted room has a requester key inside that room.
 * Seeds: tests/fuzz/corpus/presence.
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

#define ROOM       "room@conference.localhost"
#define FAKE       "fake@localhost"
#define MAX_STANZA 8

static struct config *cfg;
static char tmp_dir[] = "/tmp/fisbot-fuzz-presence-XXXXXX";

/* Frees the configuration and removes its folder. */
static void cleanup(void)
{
	config_free(cfg);
	rmdir(tmp_dir);
}

/* Loads the configuration once. */
static void init(void)
{
	struct strlist problems = {0};
	char *path;
	FILE *fp;

	if (mkdtemp(tmp_dir) == NULL)
		abort();
	path = xasprintf("%s/fisbot.conf", tmp_dir);
	fp = fopen(path, "w");
	if (fp == NULL)
		abort();
	fputs("[xmpp]\njid = bot@localhost\npassword = secret\n"
	      "nick = fisbot\nrooms = " ROOM "\n[share]\npath = share\n",
	      fp);
	if (fclose(fp) != 0)
		abort();
	cfg = config_load(path, &problems);
	if (cfg == NULL)
		abort();
	strlist_free(&problems);
	unlink(path);
	free(path);
	atexit(cleanup);
	log_set_level(LOG_ERROR);
	xmpp_initialize();
}

/* Checks the rooms' invariants. */
static void check(struct session *s)
{
	struct room *fake = muc_find(s, FAKE);
	struct room *r = muc_find(s, ROOM);

	if (fake == NULL || fake->trusted || fake->n_occ != 0)
		abort();
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_occ; i++) {
		char *key = muc_requester_key(r, r->occ[i].nick);

		if (strncmp(key, ROOM, strlen(ROOM)) != 0 ||
		    (key[strlen(ROOM)] != '#' && key[strlen(ROOM)] != '/'))
			abort();
		free(key);
	}
}

/* Hands one stanza of len bytes to the presence or message handler. */
static void feed(struct session *s, const uint8_t *p, size_t len)
{
	char *text = xstrndup((const char *)p, len);
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(session_ctx(s), text);
	const char *name;

	free(text);
	if (st == NULL)
		return;
	name = xmpp_stanza_get_name(st);
	if (name != NULL && strcmp(name, "message") == 0 &&
	    xmpp_stanza_get_from(st) != NULL)
		muc_message(s, st);
	else
		muc_presence(s, st);
	xmpp_stanza_release(st);
	check(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum room_state states[] = {ROOM_JOINING, ROOM_JOINED,
	                                         ROOM_READY};
	struct session *s;
	struct cron *cron;
	struct room *r, *fake;
	char *cause = NULL;
	size_t start, n;

	if (cfg == NULL)
		init();
	if (size < 1)
		return 0;
	cron = cron_new(NULL, NULL);
	s = session_new(cfg, cron, NULL, &cause);
	if (s == NULL)
		abort();
	session_add_saved_room(s, FAKE, NULL);
	r = muc_find(s, ROOM);
	fake = muc_find(s, FAKE);
	if (r == NULL || fake == NULL || !r->trusted || fake->trusted)
		abort();
	r->state = states[data[0] % 3];
	r->occupant_ids = (data[0] & 4) != 0;
	fake->state = ROOM_JOINED;

	start = 1;
	n = 0;
	for (size_t i = 1; i <= size && n < MAX_STANZA; i++) {
		if (i < size && data[i] != '\0')
			continue;
		if (i > start)
			feed(s, data + start, i - start);
		start = i + 1;
		n++;
	}
	session_free(s);
	cron_free(cron);
	return 0;
}
