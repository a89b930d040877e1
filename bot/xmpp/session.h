/*
 * The XMPP session: the connection (libstrophe), the rooms (XEP-0045),
 * invitations, and the protocol basics (disco, caps, version, ping). It runs
 * on the main thread and is the only code that owns the connection.
 *
 * Incoming chat messages that may hold a command, and IQs it does not
 * answer itself, go to the host (host.h); every IQ request is first
 * charged to its sender's IQ budget ([limits] iq_burst, iq_rate). Outgoing
 * stanzas go through session_send*, which queue them per requester, serve
 * the requesters round robin and pace the whole so the server never
 * throttles the bot.
 */
#ifndef FISBOT_SESSION_H
#define FISBOT_SESSION_H

#include <stdbool.h>

#include <strophe.h>

#include "config.h"

struct session;
struct host;
struct catalogue;

/* Where a message came from (filled by the session for the host). */
struct session_origin {
	int place;            /* enum fb_place */
	const char *from;     /* full JID the message came from */
	const char *room;     /* bare room JID, or NULL (direct chat) */
	const char *nick;     /* occupant nick, or NULL */
	const char *real_jid; /* real bare JID if known, else NULL */
	const char *sender;   /* rate-limit / cursor key (see fb_api):
	                         survives nick changes in rooms */
	const char *own_nick; /* the bot's nick in that room, or NULL */
};

/* Where rooms joined by invitation (or by an admin) are remembered: the
 * daemon posts these to the catalogue's one writer (the indexer). Each
 * returns 0 or -1. */
struct session_store {
	int (*room_add)(void *arg, const char *room, const char *nick);
	int (*room_remove)(void *arg, const char *room);
	void *arg;
};

/* Creates the session for cfg and its libstrophe context (does not
 * connect; xmpp_initialize() must have been called). cfg must outlive it
 * (or be replaced through session_reconfigure). host may be NULL (then no
 * command is dispatched). Returns NULL with *cause on failure (a bad
 * JID). */
struct session *session_new(const struct config *cfg, struct host *host,
                            char **cause);
void session_free(struct session *s);
/* Sets the store for remembered rooms (before session_start). */
void session_set_store(struct session *s, const struct session_store *st);
/* Adds a room remembered from an earlier run (before session_start). */
void session_add_saved_room(struct session *s, const char *room,
                            const char *nick);

/* Connects (and keeps reconnecting with backoff). Returns -1 with *cause
 * only for errors that will never heal (e.g. a bad JID). */
int session_start(struct session *s, char **cause);
/* Leaves every room politely and disconnects. */
void session_stop(struct session *s);
/* True once authentication failed for good (the daemon exits 1). */
bool session_auth_failed(const struct session *s);
/* True once session_stop finished (the stream is closed). */
bool session_stopped(const struct session *s);
/* A problem that will not heal by retrying (authentication refused, no
 * TLS offered, an untrusted certificate), as one line for the user, or
 * NULL. The daemon exits 1 with it. */
const char *session_failure(const struct session *s);

/* Applies a reloaded configuration (rooms, limits, admins). */
void session_reconfigure(struct session *s, const struct config *cfg);

/* The libstrophe context and connection, for building stanzas. */
xmpp_ctx_t *session_ctx(struct session *s);
/* The bot's own full JID while connected, else NULL. */
const char *session_jid(struct session *s);

/* Queues a stanza that answers nobody (presences, joins, announcements)
 * for sending, in the bot's own lane of the send queue (the session
 * releases it). */
void session_send(struct session *s, xmpp_stanza_t *stanza);
/* Queues a stanza that answers requester (session_origin.sender, or the
 * key of an IQ's sender) in that requester's lane: lanes are bounded and
 * served round robin, so one requester's flood never holds back another's
 * answers (SPEC §9). A NULL requester is session_send. */
void session_send_to(struct session *s, xmpp_stanza_t *stanza,
                     const char *requester);
/* Queues a private message stanza to an occupant of room, in requester's
 * lane; if the room refuses it (an error comes back for it), fallback is
 * sent to the room as a groupchat message instead. */
void session_send_private(struct session *s, xmpp_stanza_t *stanza,
                          const char *room, const char *fallback,
                          const char *requester);

/* Rooms. */
int session_join(struct session *s, const char *room, const char *nick,
                 char **cause);
int session_leave(struct session *s, const char *room, char **cause);
void session_rooms_foreach(struct session *s,
                           void (*fn)(const char *room, void *arg), void *arg);
bool session_room_announces(struct session *s, const char *room);
/* Sends text to room as one groupchat message. */
void session_send_room(struct session *s, const char *room, const char *text);

/* Adds a disco#info feature (plugins' features, e.g. urn:xmpp:fis:0). */
void session_add_feature(struct session *s, const char *feature);

#endif
