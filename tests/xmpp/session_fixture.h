/*
 * A fixture for the session's unit tests (test_session, test_muc,
 * test_invite): a real session, not connected (session_test.h), on a test
 * clock, whose output, events and store calls are recorded. Linked into
 * those tests only.
 */
#ifndef FISBOT_SESSION_FIXTURE_H
#define FISBOT_SESSION_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strophe.h>

#include "base/cron.h"
#include "fisbot/config.h"
#include "xmpp/session.h"
#include "xmpp/session_test.h"

#define SFX_MAX 512
#define SFX_BOT "bot@localhost/fisbot"

/* One event the session reported. */
struct sfx_event {
	/* 'm' message, 'q' IQ, 'j' room joined, 'l' room left, 'f' an
	 * admin's join failed (room, body: why) */
	char kind;
	enum session_place place;
	char *from, *room, *nick, *real_jid, *sender, *own_nick, *body;
	char *requester; /* IQs */
};

struct sfx {
	char dir[64];
	struct config *cfg;
	uint64_t now; /* the cron's clock */
	struct cron *cron;
	struct session *s;
	xmpp_ctx_t *ctx;
	/* What the session sent, with the lane. */
	xmpp_stanza_t *sent[SFX_MAX];
	char *lane[SFX_MAX];
	size_t n_sent;
	/* What it reported. */
	struct sfx_event ev[SFX_MAX];
	size_t n_ev;
	bool iq_handled; /* what the IQ event answers */
	/* The bot's pings to its server: counted, not recorded in sent,
	 * and answered unless black_hole. */
	size_t pings;
	bool black_hole;
	/* The store: rooms remembered and forgotten, in order. */
	char *stored[SFX_MAX], *forgotten[SFX_MAX];
	size_t n_stored, n_forgotten;
};

/* Returns a fixture for a session of bot@localhost under the
 * configuration lines conf (the [xmpp] jid and password are added), at
 * time 1000000, not connected. */
struct sfx *sfx_new(const char *conf);
void sfx_free(struct sfx *f);
/* Acts out the connection (as SFX_BOT). */
void sfx_connect(struct sfx *f);
/* Hands the stanza built from the printf-like format to the session. */
void sfx_input(struct sfx *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Moves the clock ms forward and runs the timers that are due. */
void sfx_advance(struct sfx *f, uint64_t ms);
/* Forgets what was sent and reported. */
void sfx_reset(struct sfx *f);
/* Returns the index of the first sent stanza named name (NULL: any) to to
 * (NULL: any) whose type is type (NULL: any, "": none), or -1. */
int sfx_find(const struct sfx *f, const char *name, const char *to,
             const char *type);
/* Returns how many stanzas named name were sent to to. */
size_t sfx_count(const struct sfx *f, const char *name, const char *to);
/* Returns the index of the first event of kind, or -1. */
int sfx_event(const struct sfx *f, char kind);
/* Returns the text of child name of sent stanza i ("" if none), in a
 * static buffer. */
const char *sfx_text(const struct sfx *f, size_t i, const char *name);
/* Has the session enter room as nick: its presence comes back (status
 * 110), the room answers its disco#info (with XEP-0421 occupant-ids if
 * occupant_ids), the subject comes. Then forgets what was sent and
 * reported. */
void sfx_enter(struct sfx *f, const char *room, const char *nick,
               bool occupant_ids);

#endif
