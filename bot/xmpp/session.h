/*
 * The XMPP session: the connection (libstrophe), the rooms (XEP-0045),
 * invitations, and the protocol basics (disco, caps, version, ping). It runs
 * on the main thread and is the only code that owns the connection.
 *
 * The session is a layer below whatever acts on what it receives (the
 * plugin host): it knows nothing of it, and reports through the struct
 * session_events it was given the chat messages that may hold a command,
 * the IQs it does not answer itself and the rooms it joins and leaves.
 * Every IQ request is first charged to its sender's IQ budget ([limits]
 * iq_burst, iq_rate). Outgoing stanzas go through session_send*, which
 * queue them per requester, serve the requesters round robin and pace the
 * whole so the server never throttles the bot. Its timers are timers of
 * the main thread's cron.
 */
#ifndef FISBOT_SESSION_H
#define FISBOT_SESSION_H

#include <stdbool.h>

#include <strophe.h>

#include "fisbot/config.h"

struct session;
struct cron;

/* Where a message was said. */
enum session_place {
	SESSION_ROOM,         /* a groupchat message in a room */
	SESSION_ROOM_PRIVATE, /* a private message from a room's occupant */
	SESSION_DIRECT,       /* a chat with the bot's own JID */
};

/* Where a message came from. */
struct session_origin {
	enum session_place place;
	const char *from;     /* full JID the message came from */
	const char *room;     /* bare room JID, or NULL (direct chat) */
	const char *nick;     /* occupant nick, or NULL */
	const char *real_jid; /* real bare JID if known, else NULL */
	const char *sender;   /* the requester's key (rate limits, "more",
	                         the send queue's lane): survives nick
	                         changes in rooms */
	const char *own_nick; /* the bot's nick in that room, or NULL */
};

/* What happened to one of the bot's rooms. */
enum session_room_event {
	SESSION_ROOM_JOINED, /* the bot is in the room, ready for commands */
	SESSION_ROOM_LEFT,   /* it left the room, or was removed from it */
};

/* What the session reports to the layer above it. Each callback may be
 * NULL (nothing is reported) and gets arg; they run on the main thread,
 * from inside xmpp_run_once() or a session function that acts on rooms
 * (session_stop, session_leave, session_reconfigure...), never from
 * session_free. */
struct session_events {
	/* A message that may hold a command: a direct chat, or a room
	 * message from a trusted room the bot is in and ready in; never a
	 * delayed, error, own or pre-subject one. */
	void (*message)(void *arg, const struct session_origin *o,
	                const char *body);
	/* An IQ get or set the session does not answer itself (disco,
	 * version and ping it does), from from ("" for the server itself),
	 * charged to requester's IQ budget already: requester is the send
	 * queue's lane for the answer (NULL for the server). Returns true if
	 * it is answered (now or later); false: the session answers
	 * service-unavailable. */
	bool (*iq)(void *arg, xmpp_stanza_t *iq, const char *from,
	           const char *requester);
	/* The bot joined a room (ready for commands) or left it. */
	void (*room)(void *arg, enum session_room_event kind, const char *room);
	/* A requester is gone: an occupant left one of the bot's rooms
	 * (sender as in session_origin), or a JID sent an unavailable
	 * presence (sender: its bare JID). */
	void (*gone)(void *arg, const char *sender);
	/* A room an admin asked to join (session_join) refused the bot: why
	 * says so in a few words ("banned", "no such server"...). The room
	 * is dropped, and not remembered. */
	void (*join_failed)(void *arg, const char *room, const char *why);
	void *arg;
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
 * connect; xmpp_initialize() must have been called), reporting to events
 * (copied; NULL: nothing is reported), with its timers in cron. cfg must
 * outlive it (or be replaced through session_reconfigure), cron too.
 * Returns NULL with *cause on failure (a bad JID). */
struct session *session_new(const struct config *cfg, struct cron *cron,
                            const struct session_events *events, char **cause);
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
 * answers by more than a second. A NULL requester is session_send. */
void session_send_to(struct session *s, xmpp_stanza_t *stanza,
                     const char *requester);
/* Queues a private message stanza to an occupant of a room, in
 * requester's lane; if the room refuses it (an error comes back for it
 * from the room), fallback, a groupchat message to that room (taken; may
 * be NULL), is sent in the same lane instead. */
void session_send_private(struct session *s, xmpp_stanza_t *stanza,
                          xmpp_stanza_t *fallback, const char *requester);

/* Rooms. session_join joins a room for an admin: it is remembered once
 * joined; if the room refuses, events.join_failed says why and it is
 * dropped. */
int session_join(struct session *s, const char *room, const char *nick,
                 char **cause);
int session_leave(struct session *s, const char *room, char **cause);
void session_rooms_foreach(struct session *s,
                           void (*fn)(const char *room, void *arg), void *arg);
bool session_room_announces(struct session *s, const char *room);

/* Adds a disco#info feature (plugins' features, e.g. urn:xmpp:fis:0);
 * while connected, the new caps are announced at once. */
void session_add_feature(struct session *s, const char *feature);

#endif
