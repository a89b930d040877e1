/*
 * The session's internals, shared by its files: session.c (connection,
 * reconnect, stanza routing, the paced send queue), muc.c (rooms),
 * invite.c (invitations), roster.c (presence subscriptions), origin.c
 * (which services are room services), disco.c (disco#info, caps, version,
 * ping), and the helpers jid.c and stanza.c. Nothing outside these files
 * includes this header, but for the tests and fuzzers that drive the handlers
 * of an unconnected session (they reach the rest through session_test.h).
 */
#ifndef FISBOT_SESSION_INT_H
#define FISBOT_SESSION_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/backoff.h"
#include "base/cron.h"
#include "base/jid.h"
#include "fisbot/config.h"
#include "fisbot/fisbot_limits.h"
#include "session.h"
#include "session_test.h"
#include "stanza.h"

#define NS_MUC         "http://jabber.org/protocol/muc"
#define NS_MUC_OWNER   "http://jabber.org/protocol/muc#owner"
#define NS_DELAY       "urn:xmpp:delay"
#define NS_CONFERENCE  "jabber:x:conference"
#define NS_PING        "urn:xmpp:ping"
#define NS_DISCO_INFO  "http://jabber.org/protocol/disco#info"
#define NS_CAPS        "http://jabber.org/protocol/caps"
#define NS_VERSION     "jabber:iq:version"
#define NS_DATA        "jabber:x:data"
#define NS_OCCUPANT_ID "urn:xmpp:occupant-id:0"

enum room_state {
	ROOM_OFF,     /* not joined, nothing planned (waits for a reconnect) */
	ROOM_JOINING, /* join presence sent */
	ROOM_JOINED,  /* in the room, waiting for the subject */
	ROOM_READY,   /* subject seen: commands are acted on */
	ROOM_WAIT,    /* out of the room, rejoin at rejoin_at */
};

/* An occupant of a room: its nick, and what identifies it across nick
 * changes (see muc_requester_key). */
struct occupant {
	char *nick;
	char *real_jid;    /* bare, or NULL */
	char *occupant_id; /* XEP-0421, as the room gave it, or NULL */
	uint64_t serial;   /* this occupancy, kept across nick changes (303) */
};

struct room {
	char *jid;       /* bare room JID, lower case */
	char *nick;      /* the nick we want */
	char *cur_nick;  /* the nick tried or held now */
	char *password;  /* NULL: none */
	bool configured; /* from [xmpp] rooms */
	bool saved;      /* remembered in the catalogue (invited, admin) */
	/* An admin's join not answered yet: remembered once joined (with
	 * asked_nick, NULL: the default), dropped if refused. */
	bool asked;
	char *asked_nick;
	/* Joined for an invitation and not in yet: who is told if the room
	 * refuses the bot (a mediated invitation's from, through a decline;
	 * a direct one's inviter, in a chat). */
	char *invited_by;
	bool invited_direct;
	bool trusted;      /* a room: configured, an admin's join, or checked */
	bool occupant_ids; /* the room advertises XEP-0421 occupant-id */
	char *info_id;     /* id of our disco#info to the room in flight */
	bool subject_seen; /* the subject came before that answer */
	enum room_state state;
	unsigned nick_tries;
	struct backoff rejoin; /* consecutive failed joins */
	int64_t rejoin_at;     /* ms, ROOM_WAIT */
	int64_t joined_at;     /* ms, when our own presence came back */
	int64_t next_ping;     /* ms, next XEP-0410 self-ping */
	char *ping_id;         /* id of the self-ping in flight */
	int64_t ping_sent;     /* ms, when it was sent */
	struct occupant *occ;
	size_t n_occ;
};

/* A private message whose refusal makes us post a fallback to the room. */
struct pending_private {
	char *id;
	char *room;              /* bare, where the fallback goes */
	xmpp_stanza_t *fallback; /* the groupchat message for the room */
	char *requester;         /* the lane of the fallback, or NULL */
	int64_t expires;
};

struct session {
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	xmpp_log_t log; /* libstrophe's log handler, watched (session.c) */
	const struct config *cfg;
	struct session_events events;
	struct session_store store;
	/* Tests (session_test.h): where stanzas go instead of the
	 * connection, or NULL. */
	session_output_fn out;
	void *out_arg;

	/* Connection state. */
	bool started, connected, stopping, stopped, auth_failed;
	char *failure;            /* a fatal problem: the daemon exits 1 */
	struct backoff reconnect; /* the connection's failures in a row */
	int64_t connected_at;     /* ms, when the connection came up */
	int64_t connect_at;       /* ms; 0: no reconnect planned */
	bool sasl_failed;
	char *sasl_condition;
	bool tls_missing;
	char *cert_error;
	char *jid; /* bound full JID */

	/* Stream management (XEP-0198, session.c): whether the last stream
	 * can be resumed (the server said so), whether the stream just
	 * opened was resumed (libstrophe said so), and whether a resumable
	 * stream is down (suspended: the rooms, queues and checks in flight
	 * are kept for it). unsent: what libstrophe had not written when the
	 * connection dropped, written again on the resumed stream. */
	bool sm_resumable, resumed, suspended;
	/* The server reflected this stream's initial presence: from now on
	 * messages to the bare JID reach the bot ("online as" is logged). */
	bool online;
	char **unsent;
	size_t n_unsent;
	int sock_fd; /* the connection's socket, or -1 */
	/* While suspended (since suspended_at), the server's address (the
	 * last connection's peer) is probed with a plain TCP connection
	 * (probe_fd, since probe_started) before an attempt resumes. */
	struct sockaddr_storage peer;
	socklen_t peer_len; /* 0: unknown */
	int64_t suspended_at;
	int probe_fd;
	int64_t probe_started;

	/* XEP-0199 pings to the server: one once nothing came from it for
	 * ping_ms (heard_at: when something last did); one still unanswered
	 * ping_ms later means the connection is dead. */
	int64_t ping_ms;
	int64_t heard_at;
	char *ping_id;

	/* The main thread's timers (cron.h), and the session's: the next
	 * connection attempt, the send queue's pacing, the rooms' timers
	 * (muc.c), the origin checks' timeouts (origin.c), the periodic
	 * housekeeping (expiries, log summaries) and the server pings. */
	struct cron *cron;
	struct cron_timer *t_connect, *t_send, *t_rooms, *t_origin, *t_house,
	    *t_ping;

	/* The paced, fair send queue (sendq.h) and the IQ budget
	 * (budget.h). */
	struct sendq *q;
	double tokens;
	int64_t refilled_at;
	struct budget *iq_budget;

	struct pending_private *pend;
	size_t n_pend;

	/* Rooms. */
	struct room **rooms;
	size_t n_rooms;

	uint64_t occ_serial; /* the last occupancy serial handed out */

	/* Invitations recently accepted and declines recently sent (ms), for
	 * their rate limits; invitations waiting for an origin check. */
	int64_t invite_times[8];
	size_t n_invite_times;
	int64_t decline_times[10];
	size_t n_decline_times;
	struct invite *waiting;
	size_t n_waiting;
	int64_t invite_log_window;      /* ms: start of the log window */
	unsigned invite_log_lines;      /* lines written in it */
	unsigned long invite_log_quiet; /* lines suppressed since */

	/* Which services are room services (origin.c). */
	struct origin_entry *origins;
	size_t n_origins;
	uint64_t origin_clock; /* counts lookups, for the eviction */

	/* Disco. */
	struct strlist features; /* sorted */
	char *caps_ver;
};

/* session.c */
/* Returns the time in ms on the session's clock (its cron's). */
int64_t session_now(const struct session *s);
/* Sends a stanza now, bypassing the queue (answers to the server's own
 * requests); released. */
void session_send_now(struct session *s, xmpp_stanza_t *stanza);
/* Applies s->cfg's [limits] iq_burst and iq_rate (a reload). */
void session_limits_apply(struct session *s);
/* Returns a new unique id (caller frees). */
char *session_new_id(struct session *s);
/* Returns true if message st was delayed (XEP-0203: history, offline
 * storage), that is if it carries a <delay/> from anyone but the bot's
 * own account: the one a server adds to what it kept for a resumed stream
 * (mod_smacks) is not a delay for commands, they are answered. */
bool session_delayed(struct session *s, xmpp_stanza_t *st);

/* muc.c */
struct room *muc_find(struct session *s, const char *jid);
struct room *muc_add(struct session *s, const char *jid, const char *nick,
                     const char *password);
void muc_remove(struct session *s, struct room *r);
void muc_join(struct session *s, struct room *r);
void muc_join_all(struct session *s);
void muc_leave_all(struct session *s, const char *status);
void muc_disconnected(struct session *s);
/* Does what the rooms have to do by now (rejoins, self-pings, rooms
 * ready without a subject) and arms the rooms' timer for the next. */
void muc_tick(struct session *s, int64_t now);
/* Arms the rooms' timer for the earliest thing a room has to do. */
void muc_schedule(struct session *s);
/* Handles a presence from a room; returns true if it was one. */
bool muc_presence(struct session *s, xmpp_stanza_t *st);
/* Handles a message from a room (groupchat or private); returns true if
 * the message came from a room the bot knows. */
bool muc_message(struct session *s, xmpp_stanza_t *st);
/* Handles an IQ result/error that may answer a self-ping. */
bool muc_iq_response(struct session *s, xmpp_stanza_t *st);
/* Forgets a room for good (ban, destruction, leave): drops it from the
 * list and the store. */
void muc_forget(struct session *s, struct room *r, const char *why);
void muc_free(struct room *r);
/* Joins the unchecked rooms on service (remembered from invitations) now
 * that origin.c knows what service is, or forgets them if it is no room
 * service. */
void muc_origin_known(struct session *s, const char *service);
/* Returns the requester key (session_origin.sender) of the occupant with
 * nick in r: its occupant-id if the room provides them, else its real
 * JID, else its occupancy serial; the occupant JID if r does not know it.
 * The caller frees it. */
char *muc_requester_key(struct room *r, const char *nick);
/* The presence stanza (with caps) for joining r, or for the server. */
xmpp_stanza_t *muc_presence_stanza(struct session *s, const char *to);
/* The room functions of session.h (session_join, session_leave,
 * session_rooms_foreach, session_room_announces), for session.c. */
int muc_join_jid(struct session *s, const char *room, const char *nick,
                 char **cause);
int muc_leave_jid(struct session *s, const char *room, char **cause);
void muc_rooms_foreach(struct session *s,
                       void (*fn)(const char *room, void *arg), void *arg);
bool muc_announces(struct session *s, const char *room);
/* Applies the rooms of s->cfg, just reloaded. */
void muc_reconfigure(struct session *s);

/* invite.c */
/* Handles an invitation in message st; returns true if st was one. */
bool invite_message(struct session *s, xmpp_stanza_t *st);
/* Decides the invitations that waited for the check of service. */
void invite_origin_known(struct session *s, const char *service);
/* The room an invitation asked the bot into refused it: says why to by,
 * with a decline through the room, or (direct) in a chat message. */
void invite_join_failed(struct session *s, const char *room, const char *by,
                        bool direct, const char *why);
/* Drops the invitations waiting for a check (the connection is gone). */
void invite_disconnected(struct session *s);
void invite_free(struct session *s);

/* roster.c */
/* Handles a presence subscription request, answer or probe ([xmpp]
 * subscriptions); returns true if st was one. */
bool roster_presence(struct session *s, xmpp_stanza_t *st);

/* origin.c */
enum origin_verdict {
	ORIGIN_ROOM,     /* disco#info shows a conference identity */
	ORIGIN_NOT_ROOM, /* it answered, and it is no room service */
	ORIGIN_UNKNOWN,  /* no answer, or an error: try again later */
	ORIGIN_PENDING,  /* asked; invite_origin_known and muc_origin_known
	                    follow with the answer or the timeout */
};
/* Returns what is known of service (a domain); if nothing is, asks it
 * with disco#info (while connected) and returns ORIGIN_PENDING. */
enum origin_verdict origin_check(struct session *s, const char *service);
/* Records what service is, for the time its kind of verdict is cached. */
void origin_record(struct session *s, const char *service,
                   enum origin_verdict v);
/* Handles the answer to one of our checks; returns true if it was one. */
bool origin_iq_response(struct session *s, xmpp_stanza_t *st);
/* Times out the checks that got no answer and arms the origin timer for
 * the next timeout. */
void origin_tick(struct session *s, int64_t now);
/* Forgets the checks in flight (the connection is gone). */
void origin_disconnected(struct session *s);
void origin_free(struct session *s);

/* disco.c */
void disco_init(struct session *s);
/* Answers the IQs of disco#info, version and ping, in requester's lane of
 * the send queue; returns true if it did. */
bool disco_iq(struct session *s, xmpp_stanza_t *st, const char *requester);
/* Adds the XEP-0115 <c/> element to a presence. */
void disco_add_caps(struct session *s, xmpp_stanza_t *presence);
void disco_add_feature(struct session *s, const char *feature);

#endif
