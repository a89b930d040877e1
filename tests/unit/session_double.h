/*
 * A test double of the XMPP session (session.h) for the host's unit tests:
 * it records every stanza the host sends instead of sending it. Linked
 * only into test programs, never into fisbot.
 */
#ifndef FISBOT_SESSION_DOUBLE_H
#define FISBOT_SESSION_DOUBLE_H

#include <stdbool.h>
#include <stddef.h>

#include <strophe.h>

#include "session.h"

#define DOUBLE_MAX_SENT  64
#define DOUBLE_MAX_ROOMS 8

/* One stanza the host sent. */
struct double_sent {
	xmpp_stanza_t *stanza; /* owned by the double */
	bool private_msg;      /* via session_send_private */
	char *room, *fallback; /* session_send_private's arguments */
	char *room_text;       /* session_send_room's text (stanza NULL) */
	char *requester;       /* the lane (session_send_to), or NULL */
};

struct double_state {
	xmpp_ctx_t *ctx;
	struct double_sent sent[DOUBLE_MAX_SENT];
	size_t n_sent;
	const char *rooms[DOUBLE_MAX_ROOMS];
	size_t n_rooms;
	char *joined, *joined_nick, *left;
	size_t features;
};

/* The double's state; double_setup creates the context. */
extern struct double_state double_state;
/* Returns the session pointer to give host_set_session. */
struct session *double_session(void);
void double_setup(void);
/* Forgets what was sent. */
void double_reset(void);
void double_teardown(void);

#endif
