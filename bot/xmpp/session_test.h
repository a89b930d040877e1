/*
 * Driving a session without a server, for the unit tests: what the
 * session would write to the connection goes to a function instead, the
 * connection's coming up and going away are acted out, and stanzas are
 * handed to the session as if the server had sent them. Everything else
 * (routing, rooms, invitations, budgets, the fair queue and its pacing on
 * the cron's clock, the events) is the real session. fisbot itself never
 * calls these.
 */
#ifndef FISBOT_SESSION_TEST_H
#define FISBOT_SESSION_TEST_H

#include <strophe.h>

#include "session.h"

/* Receives a stanza the session sends (taken over: release it) and the
 * send queue's lane it was queued in (NULL: the bot's own lane, and the
 * stanzas sent at once, bypassing the queue). */
typedef void (*session_output_fn)(void *arg, xmpp_stanza_t *stanza,
                                  const char *lane);

/* From now on, what s sends goes to fn(arg, ...) in the order and at the
 * pace it would reach the server; s never opens a connection (it does not
 * connect, and it does not reconnect when session_test_disconnect plans
 * it). Set it before session_test_connect. */
void session_set_output(struct session *s, session_output_fn fn, void *arg);
/* Acts as if the connection came up on a fresh stream, bound to full JID
 * jid: the session sends its presence and joins its rooms. */
void session_test_connect(struct session *s, const char *jid);
/* Acts as if the connection was lost (or an attempt failed): rooms are
 * left (events), queued stanzas dropped, a reconnection planned; unless
 * the stream can be resumed (session_test_sm_enabled): then everything is
 * kept for it. */
void session_test_disconnect(struct session *s);
/* Acts as if the server enabled stream management with resumption on
 * the stream now up (<enabled resume='true'/>). */
void session_test_sm_enabled(struct session *s);
/* Acts as if the connection came up again and libstrophe resumed the
 * stream (bound to full JID jid); without session_test_sm_enabled before
 * the disconnect there is no stream to resume, and it is a fresh one
 * (session_test_connect). */
void session_test_resume(struct session *s, const char *jid);
/* Handles stanza (a message, presence or IQ) as if the server had sent
 * it; the caller keeps it. */
void session_input(struct session *s, xmpp_stanza_t *stanza);

#endif
