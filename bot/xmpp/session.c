/*
 * The XMPP session's connection: it owns the libstrophe context and
 * connection, connects with the TLS policy of [xmpp], reconnects with a
 * jittered exponential backoff (base/backoff.h), routes incoming stanzas
 * (rooms, invitations, origin checks, disco, and the events for the layer
 * above: messages and IQs) and paces everything it sends.
 *
 * Design notes:
 * - Only the main thread calls into this file; the daemon's loop runs
 *   xmpp_run_once() on session_ctx() and the main thread's timers (the
 *   cron given to session_new). The session's timers are armed only when
 *   there is something to do: the next connection attempt, the next
 *   token of the send queue while stanzas wait, the rooms' next rejoin or
 *   self-ping (muc.c), the next origin check's timeout (origin.c), and a
 *   slow housekeeping one (expiries, log summaries); an idle session
 *   wakes the loop once every REPORT_MS.
 * - libstrophe reports a refused login only as a disconnect, so a log
 *   handler watches its messages for the SASL failure, a missing TLS
 *   offer and a certificate problem; those are fatal (the daemon exits 1),
 *   every other disconnect is retried forever.
 * - Every IQ get/set is charged to its requester's IQ budget (budget.h)
 *   before anything answers it: the sender's bare JID, or the occupant JID
 *   (room/nick) for an IQ sent to the bot's occupant JID in one of its
 *   rooms, the key the rooms use as session_origin.sender. Over budget it
 *   gets wait/resource-constraint, and past the error cap nothing.
 * - What the bot sends goes through a fair queue (sendq.h): one lane per
 *   requester, bounded, served round robin, and the bot's own lane for
 *   what answers nobody. The queue is drained under a token bucket
 *   (SEND_BURST stanzas, then SEND_RATE per second) so a burst of replies
 *   never gets the bot throttled, and only while libstrophe's own send
 *   queue is short (SEND_BACKLOG): if the server reads slowly, the backlog
 *   waits in the fair queue, not in libstrophe's FIFO. No stanza over
 *   FB_MAX_STANZA bytes ever leaves. A quiet requester's answer
 *   overtakes the floods (new lanes are served first), so at SEND_RATE it
 *   waits well under a second (a flood from one JID never delays others'
 *   answers by more than a second); SEND_RATE is 20 stanzas/s
 *   so that even twenty floods at once hold it back about a second, and
 *   20 typical replies (under 500 bytes) a second stay within Prosody's
 *   default c2s budget (10 KiB/s). Drops and refusals are logged as one
 *   summary every REPORT_MS. While stanzas wait, the send timer is armed
 *   for the next token (at most 1000 / SEND_RATE ms away), or, when
 *   libstrophe's backlog is what holds them, BACKLOG_RETRY_MS later.
 * - Stream management (XEP-0198) is libstrophe's: it enables it when the
 *   server offers it, answers the server's <r/> and keeps what the server
 *   has not acknowledged. A dropped connection whose stream can be
 *   resumed (the server said resume="true") leaves the session suspended:
 *   the rooms, the fair queue, the checks in flight and the pending
 *   private messages stay as they are, nothing is reported to the layer
 *   above, and the next connection object gets the old one's SM state
 *   (xmpp_conn_get_sm_state / xmpp_conn_set_sm_state), so libstrophe asks
 *   to resume the stream and resends what the server had not
 *   acknowledged. What libstrophe had queued but not yet written when the
 *   connection dropped is not in its SM state: it is taken off the old
 *   connection and written again once the stream is resumed. libstrophe
 *   tells whether it resumed only in its log ("Session resumed
 *   successfully."), watched like the SASL failures; a stream that was
 *   not resumed (the server restarted, the session expired) is a fresh
 *   one: only then are the rooms left (events) and joined again, and the
 *   queue dropped. Mistaking a resumption for a fresh stream would only
 *   rejoin rooms the bot is in, the harmless side. libstrophe 0.12
 *   forgets the stream's id when an attempt fails, so while suspended
 *   (for PROBE_FOR_MS) each attempt first probes the last connection's
 *   peer address with a non-blocking TCP connect (polled from the
 *   connection timer, never blocking the loop), and only a server that
 *   answers gets the stream.
 * - The socket has TCP_NODELAY: libstrophe writes each stanza (and each
 *   stream management <a/> or <r/>) on its own, so with Nagle's algorithm
 *   a reply written just after an <a/> waited for the server's delayed
 *   ACK, about 40 ms on Linux, on every chat round trip.
 * - A connection can die without TCP noticing (a black hole). A XEP-0199
 *   ping goes to the server once nothing came from it for PING_MS
 *   (FISBOT_TEST_PING_MS in the environment shortens it, for the tests);
 *   if it is still unanswered PING_MS later, the socket is shut down, which
 *   libstrophe sees as a dropped connection (no </stream:stream> is
 *   sent, so the stream can still be resumed): a dead connection is
 *   detected within two ping intervals.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "base/backoff.h"
#include "base/cron.h"
#include "budget.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "fisbot/text.h"
#include "sendq.h"
#include "session.h"
#include "session_int.h"

#define SEND_BURST          20
#define SEND_RATE           20.0 /* stanzas per second once the burst is spent */
#define SEND_BACKLOG        8    /* stanzas libstrophe may hold unwritten */
#define LANE_ITEMS          128  /* stanzas queued for one requester */
#define LANE_BYTES          (2 << 20)
#define QUEUE_ITEMS         4096 /* stanzas queued in all */
#define QUEUE_BYTES         (16 << 20)
#define REPORT_MS           10000
#define BACKLOG_RETRY_MS    20
#define STABLE_MS           60000 /* up this long: the outage is over */
#define PRIVATE_PENDING_MS  60000
#define PRIVATE_PENDING_MAX 256
#define PING_MS             60000 /* silence that makes us ping the server */
#define UNSENT_MAX          256   /* unwritten stanzas kept for a resume */
#define PROBE_POLL_MS       50
#define PROBE_TIMEOUT_MS    5000
#define PROBE_FOR_MS        120000 /* then attempts as usual */

/* The reconnection: 1 s doubling, capped at 10 s for the first 10 minutes
 * of an outage, then at 60 s, with jitter; reset once a connection has
 * held for STABLE_MS. */
static const struct backoff_policy reconnect_policy = {
    .first_ms = 1000,
    .max_ms = 10000,
    .long_after_ms = 600000,
    .long_max_ms = 60000,
    .jitter = true,
};

/* Returns the time in ms on the session's clock (its cron's). */
int64_t session_now(const struct session *s)
{
	return (int64_t)cron_now(s->cron);
}

/* Returns a new unique stanza id (caller frees). */
char *session_new_id(struct session *s)
{
	unsigned char raw[9];
	static const char hex[] = "0123456789abcdef";
	char *id = xmalloc(sizeof(raw) * 2 + 4);
	size_t j = 0;

	(void)s;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		fatalx("RAND_bytes failed");
	id[j++] = 'f';
	id[j++] = 'b';
	for (size_t i = 0; i < sizeof(raw); i++) {
		id[j++] = hex[raw[i] >> 4];
		id[j++] = hex[raw[i] & 15];
	}
	id[j] = '\0';
	return id;
}

/* Serialises st; returns its length, or 0 if it cannot be serialised. */
static size_t stanza_length(xmpp_stanza_t *st, xmpp_ctx_t *ctx)
{
	char *buf = NULL;
	size_t len = 0;

	if (xmpp_stanza_to_text(st, &buf, &len) != XMPP_EOK)
		return 0;
	xmpp_free(ctx, buf);
	return len;
}

/* Returns true if st may leave: serialisable and not too large. */
static bool stanza_fits(struct session *s, xmpp_stanza_t *st, size_t *len)
{
	*len = stanza_length(st, s->ctx);
	if (*len == 0 || *len > FB_MAX_STANZA) {
		log_warnx("not sending a %s stanza of %zu bytes (limit %d)",
		          xmpp_stanza_get_name(st), *len, FB_MAX_STANZA);
		return false;
	}
	return true;
}

/* Hands st (taken) to the connection, or to the tests' output (lane: the
 * send queue's lane it came from). */
static void transmit(struct session *s, xmpp_stanza_t *st, const char *lane)
{
	if (s->out != NULL) {
		s->out(s->out_arg, st, lane);
		return;
	}
	xmpp_send(s->conn, st);
	xmpp_stanza_release(st);
}

void session_send_now(struct session *s, xmpp_stanza_t *stanza)
{
	size_t len;

	if (stanza_fits(s, stanza, &len) && s->connected)
		transmit(s, stanza, NULL);
	else
		xmpp_stanza_release(stanza);
}

/* The send queue's destructor for the stanzas it drops. */
static void stanza_free(void *st)
{
	xmpp_stanza_release(st);
}

/* Sends what the token bucket allows from the queue, in fair order, and
 * arms the send timer for what has to wait. */
static void queue_drain(struct session *s)
{
	int64_t now = session_now(s), wait;
	xmpp_stanza_t *st;
	char *lane;

	s->tokens += (double)(now - s->refilled_at) * SEND_RATE / 1000.0;
	if (s->tokens > SEND_BURST)
		s->tokens = SEND_BURST;
	s->refilled_at = now;
	while (s->connected && s->tokens >= 1.0 &&
	       xmpp_conn_send_queue_len(s->conn) < SEND_BACKLOG &&
	       sendq_items(s->q) > 0) {
		/* The lane only matters to the tests' output. */
		lane = s->out != NULL && sendq_next_lane(s->q) != NULL
		           ? xstrdup(sendq_next_lane(s->q))
		           : NULL;
		st = sendq_pop(s->q);
		transmit(s, st, lane);
		free(lane);
		s->tokens -= 1.0;
	}
	if (!s->connected || sendq_items(s->q) == 0) {
		cron_at(s->t_send, CRON_NEVER);
		return;
	}
	if (s->tokens < 1.0)
		wait = (int64_t)((1.0 - s->tokens) * 1000.0 / SEND_RATE) + 1;
	else
		wait = BACKLOG_RETRY_MS;
	cron_at(s->t_send, (uint64_t)(now + wait));
}

/* The send timer: a token is back (or libstrophe's backlog shrank). */
static bool send_due(void *arg)
{
	queue_drain(arg);
	return true;
}

/* Drops everything queued (the connection is gone). */
static void queue_clear(struct session *s)
{
	if (sendq_items(s->q) > 0)
		log_debug("dropping %zu queued stanzas", sendq_items(s->q));
	sendq_clear(s->q);
	cron_at(s->t_send, CRON_NEVER);
}

void session_send_to(struct session *s, xmpp_stanza_t *stanza,
                     const char *requester)
{
	size_t len;

	/* While a stream is suspended its replies wait for it. */
	if ((!s->connected && !s->suspended) || s->stopping ||
	    !stanza_fits(s, stanza, &len)) {
		xmpp_stanza_release(stanza);
		return;
	}
	sendq_push(s->q, requester, stanza, len);
	queue_drain(s);
}

void session_send(struct session *s, xmpp_stanza_t *stanza)
{
	session_send_to(s, stanza, NULL);
}

/* Forgets the i-th pending private message. */
static void pending_drop(struct session *s, size_t i)
{
	free(s->pend[i].id);
	free(s->pend[i].room);
	if (s->pend[i].fallback != NULL)
		xmpp_stanza_release(s->pend[i].fallback);
	free(s->pend[i].requester);
	s->pend[i] = s->pend[--s->n_pend];
}

void session_send_private(struct session *s, xmpp_stanza_t *stanza,
                          xmpp_stanza_t *fallback, const char *requester)
{
	const char *id = xmpp_stanza_get_id(stanza);
	const char *room = fallback ? xmpp_stanza_get_to(fallback) : NULL;
	struct pending_private *p;

	if (fallback != NULL && room == NULL) {
		xmpp_stanza_release(fallback);
		fallback = NULL;
	}
	if (fallback != NULL) {
		if (id == NULL) {
			char *nid = session_new_id(s);

			xmpp_stanza_set_id(stanza, nid);
			free(nid);
			id = xmpp_stanza_get_id(stanza);
		}
		if (s->n_pend == PRIVATE_PENDING_MAX)
			pending_drop(s, 0);
		s->pend =
		    xreallocarray(s->pend, s->n_pend + 1, sizeof(*s->pend));
		p = &s->pend[s->n_pend++];
		p->id = xstrdup(id);
		p->room = jid_bare(room);
		p->fallback = fallback;
		p->requester = requester != NULL ? xstrdup(requester) : NULL;
		p->expires = session_now(s) + PRIVATE_PENDING_MS;
	}
	session_send_to(s, stanza, requester);
}

/* An error came back for a message: if it refused one of our private
 * messages, the fallback goes to the room. */
static void private_refused(struct session *s, xmpp_stanza_t *st)
{
	const char *id = xmpp_stanza_get_id(st);
	const char *from = xmpp_stanza_get_from(st);
	char *bare;

	if (id == NULL || from == NULL)
		return;
	bare = jid_bare(from);
	for (size_t i = 0; i < s->n_pend; i++) {
		if (strcmp(s->pend[i].id, id) != 0 ||
		    strcasecmp(s->pend[i].room, bare) != 0)
			continue;
		log_debug("private message refused (%s); answering in %s",
		          stanza_error_condition(st), bare);
		session_send_to(s, s->pend[i].fallback, s->pend[i].requester);
		s->pend[i].fallback = NULL;
		pending_drop(s, i);
		break;
	}
	free(bare);
}

/* Plans the next connection attempt after a jittered backoff: capped at
 * 10 s for the first 10 minutes of an outage, then at 60 s. */
static void schedule_reconnect(struct session *s, const char *why)
{
	int64_t now = session_now(s), delay;

	delay = backoff_next(&s->reconnect, now);
	s->connect_at = now + delay;
	cron_at(s->t_connect, (uint64_t)s->connect_at);
	log_warnx("XMPP connection %s; retrying in %.1fs", why,
	          (double)delay / 1000.0);
}

/* Records a problem that retrying cannot fix and stops the loop. */
static void set_failure(struct session *s, char *msg, bool auth)
{
	free(s->failure);
	s->failure = msg;
	s->auth_failed = auth;
	s->connect_at = 0;
	cron_at(s->t_connect, CRON_NEVER);
}

/* Sends our presence to the server (with caps). */
static void send_initial_presence(struct session *s)
{
	session_send(s, muc_presence_stanza(s, NULL));
}

/* Forgets the stanzas kept for a resumed stream. */
static void unsent_clear(struct session *s)
{
	for (size_t i = 0; i < s->n_unsent; i++)
		free(s->unsent[i]);
	free(s->unsent);
	s->unsent = NULL;
	s->n_unsent = 0;
}

/* Takes what libstrophe had queued but not written off the dropped
 * connection, to write it again on the resumed stream. */
static void unsent_take(struct session *s)
{
	char *raw;

	while ((raw = xmpp_conn_send_queue_drop_element(
	            s->conn, XMPP_QUEUE_OLDEST)) != NULL) {
		if (s->n_unsent < UNSENT_MAX) {
			s->unsent = xreallocarray(s->unsent, s->n_unsent + 1,
			                          sizeof(*s->unsent));
			s->unsent[s->n_unsent++] = xstrdup(raw);
		}
		xmpp_free(s->ctx, raw);
	}
}

/* Writes the stanzas kept for the resumed stream, in their order. */
static void unsent_send(struct session *s)
{
	if (s->n_unsent > 0)
		log_debug("writing again %zu stanzas not written before the "
		          "connection dropped",
		          s->n_unsent);
	for (size_t i = 0; s->out == NULL && i < s->n_unsent; i++)
		xmpp_send_raw(s->conn, s->unsent[i], strlen(s->unsent[i]));
	unsent_clear(s);
}

/* The stream is gone for good: rooms are left (events), the queue, the
 * checks in flight and what was kept for a resumption are dropped. */
static void stream_lost(struct session *s)
{
	s->suspended = false;
	queue_clear(s);
	unsent_clear(s);
	muc_disconnected(s);
	invite_disconnected(s);
	origin_disconnected(s);
}

/* Plans the next ping to the server, none in flight. */
static void ping_arm(struct session *s)
{
	free(s->ping_id);
	s->ping_id = NULL;
	cron_at(s->t_ping, (uint64_t)(session_now(s) + s->ping_ms));
}

/* Stops pinging (the connection is gone). */
static void ping_stop(struct session *s)
{
	free(s->ping_id);
	s->ping_id = NULL;
	cron_at(s->t_ping, CRON_NEVER);
}

/* The connection came up, bound to jid (NULL: the configured one): either
 * the suspended stream resumed, and everything carries on, or a fresh
 * stream, and the bot announces itself and joins its rooms. */
static void on_connect(struct session *s, const char *jid, bool secured)
{
	bool resumed = s->resumed && s->suspended;

	s->connected = true;
	s->connected_at = session_now(s);
	s->refilled_at = s->connected_at;
	s->tokens = SEND_BURST;
	free(s->jid);
	s->jid = xstrdup(jid ? jid : s->cfg->xmpp.jid);
	s->heard_at = s->connected_at;
	s->peer_len = sizeof(s->peer);
	if (s->sock_fd < 0 ||
	    getpeername(s->sock_fd, (struct sockaddr *)&s->peer,
	                &s->peer_len) != 0)
		s->peer_len = 0;
	ping_arm(s);
	if (resumed) {
		log_info("stream resumed as %s%s: still in the rooms", s->jid,
		         secured ? " (TLS)" : "");
		s->suspended = false;
		unsent_send(s);
		queue_drain(s);
		muc_schedule(s);
		return;
	}
	if (s->suspended) {
		log_info("the stream could not be resumed: joining the rooms "
		         "again");
		stream_lost(s);
	}
	/* Until the server enables resumption on this stream. */
	s->sm_resumable = false;
	s->online = false;
	log_info("connected as %s%s", s->jid, secured ? " (TLS)" : "");
	send_initial_presence(s);
	muc_join_all(s);
}

/* The connection went away (error: libstrophe's, se: the stream error if
 * any): a stream that can be resumed is suspended, else the rooms are
 * left; unless it was for good, another attempt is planned. */
static void on_disconnect(struct session *s, int error, xmpp_stream_error_t *se)
{
	bool was_connected = s->connected;
	char *why;

	s->connected = false;
	s->sock_fd = -1;
	ping_stop(s);
	/* A connection that held ends the outage; a flapping one does not. */
	if (was_connected && session_now(s) - s->connected_at >= STABLE_MS)
		backoff_reset(&s->reconnect);
	if (!s->stopping && s->sm_resumable &&
	    (was_connected || s->suspended)) {
		if (was_connected)
			s->suspended_at = session_now(s);
		s->suspended = true;
		cron_at(s->t_send, CRON_NEVER);
	} else
		stream_lost(s);
	if (s->stopping) {
		s->stopped = true;
		return;
	}
	if ((se != NULL && se->type == XMPP_SE_NOT_AUTHORIZED) ||
	    (s->sasl_failed && !was_connected)) {
		set_failure(s,
		            xasprintf("authentication failed for %s: %s",
		                      s->cfg->xmpp.jid,
		                      s->sasl_condition ? s->sasl_condition
		                                        : "not-authorized"),
		            true);
		return;
	}
	if (s->tls_missing) {
		set_failure(s,
		            xasprintf("the server of %s offers no TLS and "
		                      "[xmpp] tls = required: refusing to "
		                      "continue without it",
		                      s->cfg->xmpp.jid),
		            false);
		return;
	}
	if (s->cert_error != NULL) {
		set_failure(s,
		            xasprintf("the server certificate for %s is not "
		                      "trusted: %s (see [xmpp] ca_file)",
		                      s->cfg->xmpp.jid, s->cert_error),
		            false);
		return;
	}
	if (se != NULL)
		why = xasprintf("closed by the server (stream error %d%s%s)",
		                (int)se->type, se->text ? ": " : "",
		                se->text ? se->text : "");
	else if (was_connected)
		why = error != 0 ? xasprintf("lost (error %d)%s", error,
		                             s->suspended ? "; resuming" : "")
		                 : xasprintf("lost%s",
		                             s->suspended ? "; resuming" : "");
	else
		why = error != 0 ? xasprintf("failed (error %d)", error)
		                 : xstrdup("failed");
	schedule_reconnect(s, why);
	free(why);
}

/* libstrophe's connection events. */
static void conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                         xmpp_stream_error_t *se, void *arg)
{
	struct session *s = arg;

	if (event == XMPP_CONN_CONNECT)
		on_connect(s, xmpp_conn_get_bound_jid(conn),
		           xmpp_conn_is_secured(conn));
	else if (event != XMPP_CONN_RAW_CONNECT)
		on_disconnect(s, error, se);
}

/* Starts one connection attempt; on immediate failure plans another. */
static void connect_now(struct session *s)
{
	const struct config *cfg = s->cfg;

	s->sasl_failed = false;
	s->resumed = false;
	s->tls_missing = false;
	free(s->sasl_condition);
	s->sasl_condition = NULL;
	free(s->cert_error);
	s->cert_error = NULL;
	if (s->out != NULL)
		return; /* the tests' session never connects */
	log_debug("connecting to %s", cfg->xmpp.server_host
	                                  ? cfg->xmpp.server_host
	                                  : "the JID's domain");
	if (xmpp_connect_client(s->conn, cfg->xmpp.server_host,
	                        cfg->xmpp.server_port, conn_handler,
	                        s) != XMPP_EOK)
		schedule_reconnect(s, "could not start");
}

/* libstrophe's certificate and socket option callbacks have no
 * argument: this maps the one connection of the process back to its
 * session. */
static struct session *conn_session;

/* The certificate could not be verified: remember why and refuse. */
static int certfail_handler(const xmpp_tlscert_t *cert, const char *errormsg)
{
	struct session *s = conn_session;

	if (s != NULL && s->conn == xmpp_tlscert_get_conn(cert)) {
		free(s->cert_error);
		s->cert_error = text_sanitize(errormsg, strlen(errormsg));
	}
	return 0;
}

/* A new socket for the connection: TCP keepalive, no Nagle delay, and
 * its descriptor kept to shut it down if the connection turns out dead. */
static int sockopt_handler(xmpp_conn_t *conn, void *sock)
{
	struct session *s = conn_session;
	int fd = *(int *)sock, on = 1;

	if (s != NULL && s->conn == conn)
		s->sock_fd = fd;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
		log_warnx("TCP_NODELAY on the XMPP socket: %s",
		          strerror(errno));
	return xmpp_sockopt_cb_keepalive(conn, sock);
}

/* Drops a connection that is dead (why: for the log) as if TCP had
 * noticed: the socket is shut down, so libstrophe reports a disconnect
 * without closing the stream, which can then be resumed. */
static void connection_abort(struct session *s, const char *why)
{
	log_warnx("XMPP connection dead: %s; dropping it", why);
	if (s->out != NULL) {
		on_disconnect(s, ETIMEDOUT, NULL);
		return;
	}
	if (s->sock_fd < 0 || shutdown(s->sock_fd, SHUT_RDWR) != 0)
		xmpp_disconnect(s->conn);
}

/* Extracts the condition of a SASL <failure/> from a logged stanza. */
static char *sasl_condition(const char *text)
{
	const char *p = strstr(text, "<failure");
	const char *end;

	if (p == NULL || (p = strchr(p, '>')) == NULL || p[-1] == '/')
		return NULL;
	p++;
	while (*p == ' ' || *p == '\n')
		p++;
	if (*p != '<' || p[1] == '/')
		return NULL;
	p++;
	end = p + strcspn(p, " />");
	if (end == p || end - p > 64)
		return NULL;
	return text_sanitize(p, (size_t)(end - p));
}

/* libstrophe's log lines: watched for the failures it reports only there,
 * and passed on at debug level. */
static void strophe_log(void *arg, xmpp_log_level_t level, const char *area,
                        const char *msg)
{
	struct session *s = arg;

	(void)level;
	if (s == NULL)
		return;
	if (strstr(msg, "TLS is not supported, but set as mandatory") != NULL)
		s->tls_missing = true;
	else if ((strncmp(msg, "SASL ", 5) == 0 &&
	          strstr(msg, " auth failed") != NULL) ||
	         strstr(msg, "Cannot authenticate with known methods") != NULL)
		s->sasl_failed = true;
	else if (strcmp(area, "tls") == 0 &&
	         strstr(msg, "certificate verify failed") != NULL &&
	         s->cert_error == NULL)
		s->cert_error = text_sanitize(msg, strlen(msg));
	else if (strcmp(msg, "Session resumed successfully.") == 0)
		s->resumed = true;
	else if (strncmp(msg, "RECV: <enabled", 14) == 0 &&
	         strstr(msg, XMPP_NS_SM) != NULL)
		s->sm_resumable = strstr(msg, "resume=\"true\"") != NULL ||
		                  strstr(msg, "resume=\"1\"") != NULL;
	else if (strncmp(msg, "RECV: <failure", 14) == 0 &&
	         strstr(msg, "xmpp-sasl") != NULL && s->sasl_condition == NULL)
		s->sasl_condition = sasl_condition(msg);
	if (log_get_level() < LOG_DEBUG)
		return;
	/* Never log what carries credentials. */
	if (strncmp(msg, "SENT: <auth", 11) == 0 ||
	    strncmp(msg, "SENT: <response", 15) == 0)
		return;
	log_debug("libstrophe %s: %.2000s", area, msg);
}

bool session_delayed(struct session *s, xmpp_stanza_t *st)
{
	const char *from;

	for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c != NULL;
	     c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c) ||
		    strcmp(xmpp_stanza_get_name(c), "delay") != 0 ||
		    xmpp_stanza_get_ns(c) == NULL ||
		    strcmp(xmpp_stanza_get_ns(c), NS_DELAY) != 0)
			continue;
		from = xmpp_stanza_get_attribute(c, "from");
		if (from == NULL || strcasecmp(from, s->cfg->xmpp.jid) != 0)
			return true;
	}
	return false;
}

/* Incoming messages. */
static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct session *s = arg;
	const char *type = xmpp_stanza_get_type(st);
	const char *from = xmpp_stanza_get_from(st);
	struct session_origin o = {0};
	char *bare, *own = NULL, *body;

	(void)conn;
	s->heard_at = session_now(s);
	if (from == NULL || s->stopping)
		return 1;
	if (type != NULL && strcmp(type, "error") == 0) {
		private_refused(s, st);
		return 1;
	}
	if (invite_message(s, st) || muc_message(s, st))
		return 1;
	/* Direct chats only: no groupchat or headline, no private message
	 * from a room we are not in, nothing delayed (offline storage). */
	if (type != NULL && strcmp(type, "chat") != 0 &&
	    strcmp(type, "normal") != 0)
		return 1;
	if (session_delayed(s, st) ||
	    stanza_child_ns(st, "x", NS_MUC_USER) != NULL)
		return 1;
	bare = jid_bare(from);
	if (s->jid != NULL)
		own = jid_bare(s->jid);
	body = xmpp_message_get_body(st);
	if (body != NULL && (own == NULL || strcasecmp(bare, own) != 0) &&
	    s->events.message != NULL) {
		o.place = SESSION_DIRECT;
		o.from = from;
		o.real_jid = bare;
		o.sender = bare;
		s->events.message(s->events.arg, &o, body);
	}
	if (body != NULL)
		xmpp_free(s->ctx, body);
	free(own);
	free(bare);
	return 1;
}

/* Incoming presences: subscriptions (roster.c), rooms, and a JID going
 * offline (events.gone). */
static int on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct session *s = arg;
	const char *type = xmpp_stanza_get_type(st);
	const char *from = xmpp_stanza_get_from(st);

	(void)conn;
	s->heard_at = session_now(s);
	/* The server sends a resource's initial presence back to it once
	 * the resource is available (RFC 6121 4.2.2). */
	if (!s->online && type == NULL && from != NULL && s->jid != NULL &&
	    strcmp(from, s->jid) == 0) {
		s->online = true;
		log_info("online as %s", s->jid);
		return 1;
	}
	if (s->stopping || roster_presence(s, st) || muc_presence(s, st))
		return 1;
	if (type != NULL && strcmp(type, "unavailable") == 0 && from != NULL &&
	    s->events.gone != NULL) {
		char *bare = jid_bare(from);

		s->events.gone(s->events.arg, bare);
		free(bare);
	}
	return 1;
}

/* Returns the requester an IQ from from is charged to: the occupant (as
 * for commands, muc_requester_key: a nick change keeps the budget) if it
 * comes from one of our rooms, else the bare JID in lower case. The
 * caller frees it. */
static char *iq_requester(struct session *s, const char *from)
{
	char *key = jid_fold(jid_bare(from));
	const char *nick = jid_resource(from);
	struct room *r;

	if (nick != NULL && (r = muc_find(s, key)) != NULL) {
		free(key);
		key = muc_requester_key(r, nick);
	}
	return key;
}

/* Charges an IQ request to its sender's budget. Returns true if it may be
 * answered; else it was refused (wait/resource-constraint) or dropped. */
static bool iq_admit(struct session *s, xmpp_stanza_t *st, const char *key)
{
	switch (budget_take(s->iq_budget, key, (uint64_t)session_now(s))) {
	case BUDGET_SERVE:
		return true;
	case BUDGET_REFUSE:
		session_send_to(s,
		                xmpp_stanza_reply_error(
		                    st, "wait", "resource-constraint", NULL),
		                key);
		return false;
	case BUDGET_DROP:
	default:
		return false;
	}
}

/* Handles the answer to our ping to the server (a result or an error
 * alike: the connection lives); returns true if it was one. */
static bool ping_response(struct session *s, xmpp_stanza_t *st)
{
	const char *id = xmpp_stanza_get_id(st);
	const char *from = xmpp_stanza_get_from(st);
	char *domain;
	bool ours;

	if (s->ping_id == NULL || id == NULL || strcmp(id, s->ping_id) != 0)
		return false;
	domain = jid_domain(s->cfg->xmpp.jid);
	ours = from == NULL || strcasecmp(from, domain) == 0 ||
	       (s->jid != NULL && strcasecmp(from, s->jid) == 0);
	free(domain);
	if (!ours)
		return false;
	free(s->ping_id);
	s->ping_id = NULL;
	return true;
}

/* Incoming IQs: never an answer to a result or an error; requests are
 * charged to the IQ budget, then the basics are answered here, the rest
 * by the layer above (events.iq), else with an error. */
static int on_iq(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct session *s = arg;
	const char *type = xmpp_stanza_get_type(st);
	const char *from = xmpp_stanza_get_from(st);
	char *key;

	(void)conn;
	s->heard_at = session_now(s);
	if (type == NULL)
		return 1;
	if (strcmp(type, "result") == 0 || strcmp(type, "error") == 0) {
		if (!ping_response(s, st) && !origin_iq_response(s, st))
			muc_iq_response(s, st);
		return 1;
	}
	if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)
		return 1;
	/* No from: the server itself, on behalf of our own account. */
	key = from != NULL ? iq_requester(s, from) : NULL;
	if (key != NULL && !iq_admit(s, st, key))
		goto out;
	if (disco_iq(s, st, key))
		goto out;
	if (s->events.iq != NULL &&
	    s->events.iq(s->events.arg, st, from ? from : "", key))
		goto out;
	session_send_to(
	    s,
	    xmpp_stanza_reply_error(st, "cancel", "service-unavailable", NULL),
	    key);
out:
	free(key);
	return 1;
}

/* Logs what the IQ budget refused and what the send queue dropped since
 * the last call; forgets idle requesters' buckets. */
static void report(struct session *s, int64_t now)
{
	uint64_t refused, dropped, lost;
	const char *who, *lane;
	char *clean;

	budget_report(s->iq_budget, &refused, &dropped, &who);
	if (refused + dropped > 0) {
		clean = text_sanitize(who ? who : "", who ? strlen(who) : 0);
		log_info("IQ budget: %" PRIu64 " IQs refused and %" PRIu64
		         " dropped in the last %ds (the last from %s)",
		         refused, dropped, REPORT_MS / 1000, clean);
		free(clean);
	}
	lost = sendq_drops(s->q, &lane);
	if (lost > 0) {
		clean = text_sanitize(lane ? lane : "the bot itself",
		                      strlen(lane ? lane : "the bot itself"));
		log_warnx("send queue full: %" PRIu64 " stanzas dropped in the "
		          "last %ds (the last for %s)",
		          lost, REPORT_MS / 1000, clean);
		free(clean);
	}
	budget_expire(s->iq_budget, (uint64_t)now);
}

/* Expires private messages that were never refused. */
static void pending_expire(struct session *s, int64_t now)
{
	for (size_t i = 0; i < s->n_pend;) {
		if (s->pend[i].expires <= now)
			pending_drop(s, i);
		else
			i++;
	}
}

static void conn_create(struct session *s);

/* Closes the reachability probe, if any. */
static void probe_close(struct session *s)
{
	if (s->probe_fd >= 0)
		close(s->probe_fd);
	s->probe_fd = -1;
}

/* Starts a connection attempt (resuming the suspended stream, if any). */
static void attempt_now(struct session *s)
{
	conn_create(s);
	connect_now(s);
}

/* Starts a plain TCP connection to the server's address (the last
 * connection's peer): the suspended stream is handed to libstrophe only
 * once the server can be reached, since a failed attempt makes libstrophe
 * 0.12 forget it. */
static void probe_start(struct session *s)
{
	int fd = socket(s->peer.ss_family,
	                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	char *why;

	if (fd < 0) {
		attempt_now(s);
		return;
	}
	if (connect(fd, (struct sockaddr *)&s->peer, s->peer_len) == 0) {
		close(fd);
		attempt_now(s);
		return;
	}
	if (errno != EINPROGRESS) {
		why = xasprintf("failed (%s)", strerror(errno));
		close(fd);
		schedule_reconnect(s, why);
		free(why);
		return;
	}
	s->probe_fd = fd;
	s->probe_started = session_now(s);
	s->connect_at = s->probe_started + PROBE_POLL_MS;
	cron_at(s->t_connect, (uint64_t)s->connect_at);
}

/* Looks at the probe: the server reached, the stream is resumed; refused
 * or too slow, another attempt is planned. */
static void probe_check(struct session *s)
{
	struct pollfd p = {.fd = s->probe_fd, .events = POLLOUT};
	int err = 0, n = poll(&p, 1, 0);
	socklen_t len = sizeof(err);
	int64_t now = session_now(s);
	char *why;

	if (n == 0 && now - s->probe_started < PROBE_TIMEOUT_MS) {
		s->connect_at = now + PROBE_POLL_MS;
		cron_at(s->t_connect, (uint64_t)s->connect_at);
		return;
	}
	if (n == 0)
		err = ETIMEDOUT;
	else if (n < 0 ||
	         getsockopt(s->probe_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	probe_close(s);
	if (err == 0) {
		attempt_now(s);
		return;
	}
	why = xasprintf("failed (%s)", strerror(err));
	schedule_reconnect(s, why);
	free(why);
}

/* The connection timer: the backoff after a failed attempt is over (or
 * the reachability probe is to be looked at). While a stream is
 * suspended, and for PROBE_FOR_MS at most, the server is probed before
 * the stream is handed to an attempt. */
static bool connect_due(void *arg)
{
	struct session *s = arg;

	if (s->failure != NULL || s->stopped || s->stopping || s->connected ||
	    s->connect_at == 0)
		return true;
	s->connect_at = 0;
	if (s->probe_fd >= 0)
		probe_check(s);
	else if (s->suspended && s->out == NULL && s->peer_len > 0 &&
	         session_now(s) - s->suspended_at < PROBE_FOR_MS)
		probe_start(s);
	else
		attempt_now(s);
	return true;
}

/* The housekeeping timer (every REPORT_MS): expires private messages
 * never refused and writes the log summaries. */
static bool house_due(void *arg)
{
	struct session *s = arg;
	int64_t now = session_now(s);

	pending_expire(s, now);
	report(s, now);
	return true;
}

/* The ping timer: sends a ping to the server once nothing came from it
 * for ping_ms, unless the last one is still unanswered: then the
 * connection is dead. */
static bool ping_due(void *arg)
{
	struct session *s = arg;
	xmpp_stanza_t *iq;
	char *domain, *why;

	if (!s->connected || s->stopping)
		return true;
	if (s->ping_id != NULL) {
		why = xasprintf("no answer to a ping in %.1fs",
		                (double)s->ping_ms / 1000.0);
		ping_stop(s);
		connection_abort(s, why);
		free(why);
		return true;
	}
	/* Not idle: what the server sent shows the connection alive. */
	if (session_now(s) - s->heard_at < s->ping_ms) {
		cron_at(s->t_ping, (uint64_t)(s->heard_at + s->ping_ms));
		return true;
	}
	s->ping_id = session_new_id(s);
	iq = xmpp_iq_new(s->ctx, "get", s->ping_id);
	domain = jid_domain(s->cfg->xmpp.jid);
	xmpp_stanza_set_to(iq, domain);
	free(domain);
	xmpp_stanza_add_child_ex(iq, stanza_element(s->ctx, "ping", NS_PING),
	                         0);
	session_send_now(s, iq);
	cron_at(s->t_ping, (uint64_t)(session_now(s) + s->ping_ms));
	return true;
}

/* The rooms' timer (muc.c). */
static bool rooms_due(void *arg)
{
	struct session *s = arg;

	muc_tick(s, session_now(s));
	return true;
}

/* The origin checks' timer (origin.c). */
static bool origin_due(void *arg)
{
	struct session *s = arg;

	origin_tick(s, session_now(s));
	return true;
}

/* Makes a fresh connection object for the next attempt (releasing the
 * old one): every attempt starts clean, picks up reloaded settings, and
 * nothing libstrophe keeps per stream (the bound JID) piles up. */
static void conn_create(struct session *s)
{
	xmpp_sm_state_t *sm = NULL;
	long flags = 0;
	char *full;

	if (s->conn != NULL) {
		/* A suspended stream goes on in the new connection. */
		if (s->suspended && xmpp_conn_is_disconnected(s->conn)) {
			unsent_take(s);
			sm = xmpp_conn_get_sm_state(s->conn);
		}
		xmpp_conn_release(s->conn);
	}
	s->conn = xmpp_conn_new(s->ctx);
	if (s->conn == NULL)
		fatalx("xmpp_conn_new failed");
	s->sock_fd = -1;
	if (sm != NULL && xmpp_conn_set_sm_state(s->conn, sm) != XMPP_EOK)
		xmpp_free_sm_state(sm);

	switch (s->cfg->xmpp.tls) {
	case TLS_REQUIRED:
		flags = XMPP_CONN_FLAG_MANDATORY_TLS;
		break;
	case TLS_DIRECT:
		flags = XMPP_CONN_FLAG_LEGACY_SSL;
		break;
	case TLS_DISABLED:
		flags = XMPP_CONN_FLAG_DISABLE_TLS;
		break;
	}
	xmpp_conn_set_flags(s->conn, flags);
	full =
	    xasprintf("%s/%s", s->cfg->xmpp.jid,
	              s->cfg->xmpp.resource ? s->cfg->xmpp.resource : "fisbot");
	xmpp_conn_set_jid(s->conn, full);
	free(full);
	xmpp_conn_set_pass(s->conn,
	                   s->cfg->xmpp.password ? s->cfg->xmpp.password : "");
	if (s->cfg->xmpp.ca_file != NULL)
		xmpp_conn_set_cafile(s->conn, s->cfg->xmpp.ca_file);
	conn_session = s;
	xmpp_conn_set_certfail_handler(s->conn, certfail_handler);
	xmpp_conn_set_sockopt_callback(s->conn, sockopt_handler);

	xmpp_handler_add(s->conn, on_message, NULL, "message", NULL, s);
	xmpp_handler_add(s->conn, on_presence, NULL, "presence", NULL, s);
	xmpp_handler_add(s->conn, on_iq, NULL, "iq", NULL, s);
}

/* Applies the configuration's IQ limits to the budget. */
void session_limits_apply(struct session *s)
{
	budget_configure(s->iq_budget, s->cfg->limits.iq_burst,
	                 s->cfg->limits.iq_rate, s->cfg->limits.iq_per_ms);
}

struct session *session_new(const struct config *cfg, struct cron *cron,
                            const struct session_events *events, char **cause)
{
	static const struct sendq_limits lim = {
	    .lane_items = LANE_ITEMS,
	    .lane_bytes = LANE_BYTES,
	    .total_items = QUEUE_ITEMS,
	    .total_bytes = QUEUE_BYTES,
	};
	struct session *s;
	const char *env;

	if (!jid_is_bare_room(cfg->xmpp.jid)) {
		*cause = xasprintf("[xmpp] jid: \"%s\" is not a bare JID "
		                   "(user@domain)",
		                   cfg->xmpp.jid);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	backoff_init(&s->reconnect, &reconnect_policy);
	s->cfg = cfg;
	if (events != NULL)
		s->events = *events;
	s->cron = cron;
	s->t_connect = cron_add(cron, 0, connect_due, s);
	s->t_send = cron_add(cron, 0, send_due, s);
	s->t_rooms = cron_add(cron, 0, rooms_due, s);
	s->t_origin = cron_add(cron, 0, origin_due, s);
	s->t_house = cron_add(cron, REPORT_MS, house_due, s);
	s->t_ping = cron_add(cron, 0, ping_due, s);
	s->ping_ms = PING_MS;
	if ((env = getenv("FISBOT_TEST_PING_MS")) != NULL && atoi(env) > 0)
		s->ping_ms = atoi(env);
	s->sock_fd = -1;
	s->probe_fd = -1;
	s->q = sendq_new(&lim, stanza_free);
	s->iq_budget = budget_new(cfg->limits.iq_burst, cfg->limits.iq_rate,
	                          cfg->limits.iq_per_ms);
	s->log.handler = strophe_log;
	s->log.userdata = s;
	s->ctx = xmpp_ctx_new(NULL, &s->log);
	if (s->ctx == NULL)
		fatalx("xmpp_ctx_new failed");
	conn_create(s);

	disco_init(s);
	for (size_t i = 0; i < cfg->xmpp.rooms.n; i++) {
		const char *jid = cfg->xmpp.rooms.v[i];
		const struct room_config *rc = config_room(cfg, jid);
		struct room *r;

		r = muc_add(s, jid, rc && rc->nick ? rc->nick : NULL,
		            rc ? rc->password : NULL);
		if (r != NULL)
			r->configured = r->trusted = true;
	}
	return s;
}

void session_set_store(struct session *s, const struct session_store *st)
{
	s->store = *st;
}

void session_add_saved_room(struct session *s, const char *room,
                            const char *nick)
{
	struct room *r;

	if (!jid_is_bare_room(room)) {
		log_warnx("ignoring a saved room with a bad JID: %s", room);
		return;
	}
	/* Unless it is configured too, it is joined only once its service
	 * shows it is a room service (muc_join): it may come from a forged
	 * invitation. */
	r = muc_find(s, room);
	if (r == NULL)
		r = muc_add(s, room, nick, NULL);
	if (r != NULL)
		r->saved = true;
}

void session_free(struct session *s)
{
	if (s == NULL)
		return;
	/* Nothing is reported from here: the layer above may be gone. A
	 * connection still up is closed first, while everything its
	 * handler touches is there. */
	memset(&s->events, 0, sizeof(s->events));
	s->stopping = true;
	xmpp_conn_release(s->conn);
	s->conn = NULL;
	sendq_free(s->q);
	budget_free(s->iq_budget);
	while (s->n_pend > 0)
		pending_drop(s, 0);
	free(s->pend);
	for (size_t i = 0; i < s->n_rooms; i++)
		muc_free(s->rooms[i]);
	free(s->rooms);
	invite_free(s);
	origin_free(s);
	cron_del(s->t_connect);
	cron_del(s->t_send);
	cron_del(s->t_rooms);
	cron_del(s->t_origin);
	cron_del(s->t_house);
	cron_del(s->t_ping);
	probe_close(s);
	unsent_clear(s);
	free(s->ping_id);
	xmpp_ctx_free(s->ctx);
	if (conn_session == s)
		conn_session = NULL;
	strlist_free(&s->features);
	free(s->caps_ver);
	free(s->failure);
	free(s->sasl_condition);
	free(s->cert_error);
	free(s->jid);
	free(s);
}

int session_start(struct session *s, char **cause)
{
	(void)cause;
	s->started = true;
	connect_now(s);
	return 0;
}

void session_stop(struct session *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->connect_at = 0;
	probe_close(s);
	if (!s->connected) {
		if (s->suspended)
			stream_lost(s);
		s->stopped = true;
		return;
	}
	/* Unavailable presences go out at once, then the stream closes. */
	queue_clear(s);
	muc_leave_all(s, "shutting down");
	xmpp_disconnect(s->conn);
}

bool session_auth_failed(const struct session *s)
{
	return s->auth_failed;
}

bool session_stopped(const struct session *s)
{
	return s->stopped;
}

const char *session_failure(const struct session *s)
{
	return s->failure;
}

xmpp_ctx_t *session_ctx(struct session *s)
{
	return s->ctx;
}

const char *session_jid(struct session *s)
{
	return s->connected ? s->jid : NULL;
}

void session_reconfigure(struct session *s, const struct config *cfg)
{
	const struct config *old = s->cfg;

	s->cfg = cfg;
	session_limits_apply(s);
	if (strcmp(old->xmpp.jid, cfg->xmpp.jid) != 0 ||
	    old->xmpp.tls != cfg->xmpp.tls ||
	    (old->xmpp.server_host == NULL) !=
	        (cfg->xmpp.server_host == NULL) ||
	    (old->xmpp.server_host != NULL &&
	     strcmp(old->xmpp.server_host, cfg->xmpp.server_host) != 0) ||
	    old->xmpp.server_port != cfg->xmpp.server_port) {
		log_warnx("reload: [xmpp] connection settings changed; they "
		          "take effect at the next reconnection");
		s->peer_len = 0; /* no probing of the old address */
	}
	xmpp_conn_set_pass(s->conn,
	                   cfg->xmpp.password ? cfg->xmpp.password : "");
	muc_reconfigure(s);
}

int session_join(struct session *s, const char *room, const char *nick,
                 char **cause)
{
	return muc_join_jid(s, room, nick, cause);
}

int session_leave(struct session *s, const char *room, char **cause)
{
	return muc_leave_jid(s, room, cause);
}

void session_rooms_foreach(struct session *s,
                           void (*fn)(const char *room, void *arg), void *arg)
{
	muc_rooms_foreach(s, fn, arg);
}

bool session_room_announces(struct session *s, const char *room)
{
	return muc_announces(s, room);
}

void session_add_feature(struct session *s, const char *feature)
{
	disco_add_feature(s, feature);
}

/* --- session_test.h ------------------------------------------------------ */

void session_set_output(struct session *s, session_output_fn fn, void *arg)
{
	s->out = fn;
	s->out_arg = arg;
}

void session_test_connect(struct session *s, const char *jid)
{
	s->started = true;
	s->resumed = false;
	on_connect(s, jid, false);
}

void session_test_disconnect(struct session *s)
{
	on_disconnect(s, 0, NULL);
}

void session_test_sm_enabled(struct session *s)
{
	s->sm_resumable = true;
}

void session_test_resume(struct session *s, const char *jid)
{
	s->resumed = true;
	on_connect(s, jid, false);
}

void session_input(struct session *s, xmpp_stanza_t *stanza)
{
	const char *name = xmpp_stanza_get_name(stanza);

	if (name == NULL)
		return;
	if (strcmp(name, "message") == 0)
		on_message(s->conn, stanza, s);
	else if (strcmp(name, "presence") == 0)
		on_presence(s->conn, stanza, s);
	else if (strcmp(name, "iq") == 0)
		on_iq(s->conn, stanza, s);
}
