/*
 * The dispatcher: turns a chat message into at most one command and at
 * most one reply (SPEC §6, §9).
 *
 *   1. cmdline_parse decides whether the body is a command (the prefix is
 *      required in rooms, optional in private and direct chats; "@NAME" is
 *      a room-wide trigger for FB_CMD_ROOM_WIDE commands).
 *   2. The name is looked up exactly, by name or alias, ignoring case (no
 *      unique-prefix matching: in a room with several bots an abbreviation
 *      would run someone else's command). An unknown command is ignored in
 *      a room and answered "unknown command: x (say help)" elsewhere.
 *   3. The requester's token bucket is charged; past it, one "slow down"
 *      and then silence.
 *   4. Permission (FB_ADMIN: an [admins] JID in a direct chat) and arity
 *      are checked here, from the table, with "usage: ..." errors.
 *   5. The handler fills the request with reply lines, an error or a link;
 *      the host sends one message for it: to a room occupant by MUC private
 *      message (with a short fallback for the room if the room refuses it),
 *      or to the room itself when [commands] room_replies = room (room-wide
 *      searches always go privately), else back where it came from.
 *
 * "more" is built in: it calls the continuation the requester's last list
 * or search left with set_more (one per requester, for HOST_MORE_LIFETIME).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "cmdline.h"
#include "host_internal.h"
#include "log.h"
#include "reply.h"
#include "text.h"

/* Longest reply that still goes to the room as the fallback of a refused
 * private message. */
#define FALLBACK_MAX 200
/* Bytes of a nick shown in front of a room message. */
#define NICK_SHOWN 64

/* Where a reply goes. */
enum route {
	ROUTE_PRIVATE, /* MUC private message, fallback to the room */
	ROUTE_ROOM,    /* groupchat to the room, "nick: " in front */
	ROUTE_BACK,    /* a chat message back to the sender */
};

struct fb_request {
	struct host *host;
	struct fb_plugin *plugin;
	const struct session_origin *o;
	const char *args;
	char *real_jid; /* bare, or NULL */
	enum route route;
	struct reply_text text;
	char *error;         /* one-line error: wins over everything */
	xmpp_stanza_t *link; /* a download link: wins over text */
};

/* --- the request API ---------------------------------------------------- */

static struct fb_plugin *req_plugin(struct fb_request *r)
{
	return r->plugin;
}

static enum fb_place req_place(struct fb_request *r)
{
	return (enum fb_place)r->o->place;
}

static const char *req_sender(struct fb_request *r)
{
	return r->o->sender;
}

static const char *req_real_jid(struct fb_request *r)
{
	return r->real_jid;
}

static const char *req_room(struct fb_request *r)
{
	return r->o->room;
}

static const char *req_args(struct fb_request *r)
{
	return r->args;
}

/* True if the request may run FB_ADMIN commands: an [admins] JID, in a
 * direct chat. */
static bool req_is_admin(struct fb_request *r)
{
	return r->o->place == FB_DIRECT &&
	       host_jid_is_admin(r->host, r->real_jid);
}

/* fb_api.reply: appends one line (or several) to the reply. */
static void req_reply(struct fb_request *r, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	reply_text_add(&r->text, s, r->host->cfg->commands.prefix);
	free(s);
}

/* Replaces the reply with the one-line error s (taken). */
static void set_error(struct fb_request *r, char *s)
{
	char *nl;

	/* One line: cut at the first newline. */
	if ((nl = strchr(s, '\n')) != NULL)
		*nl = '\0';
	free(r->error);
	r->error = s;
}

/* fb_api.reply_error: the reply becomes this one-line error. */
static void req_reply_error(struct fb_request *r, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	set_error(r, s);
}

/* Returns the JID and type a stanza for r goes to. */
static void route_target(const struct fb_request *r, const char **type,
                         const char **to, bool *muc_user)
{
	switch (r->route) {
	case ROUTE_ROOM:
		*type = "groupchat";
		*to = r->o->room;
		*muc_user = false;
		break;
	case ROUTE_PRIVATE:
		*type = "chat";
		*to = r->o->from;
		*muc_user = true;
		break;
	case ROUTE_BACK:
	default:
		*type = "chat";
		*to = r->o->from;
		*muc_user = r->o->place == FB_ROOM_PRIVATE;
		break;
	}
}

/* fb_api.reply_link: the reply becomes a download link for f. */
static void req_reply_link(struct fb_request *r, const struct cat_file *f)
{
	struct host *h = r->host;
	const char *type, *to;
	bool muc_user;
	char *url;

	if (h->deps.file_url == NULL ||
	    (url = h->deps.file_url(h->deps.arg, f)) == NULL) {
		set_error(r, xstrdup("no download link: the HTTP server is "
		                     "not available"));
		return;
	}
	route_target(r, &type, &to, &muc_user);
	if (r->link != NULL)
		xmpp_stanza_release(r->link);
	r->link = reply_link_message(session_ctx(h->session), type, to, url, f,
	                             muc_user);
	free(url);
}

/* Frees one continuation's state and key. */
static void more_free(struct host_more *m)
{
	if (m->free_state != NULL && m->state != NULL)
		m->free_state(m->state);
	free(m->sender);
}

/* Returns the index of sender's continuation, or -1. */
static ssize_t more_find(const struct host *h, const char *sender)
{
	for (size_t i = 0; i < h->n_more; i++)
		if (strcmp(h->more[i].sender, sender) == 0)
			return (ssize_t)i;
	return -1;
}

/* Removes entry i from the table (without freeing it). */
static void more_remove(struct host *h, size_t i)
{
	h->more[i] = h->more[h->n_more - 1];
	h->n_more--;
}

/* fb_api.set_more: remembers how to continue this requester's answer. */
static void req_set_more(struct fb_request *r, fb_more_fn fn, void *state,
                         void (*free_state)(void *state))
{
	struct host *h = r->host;
	ssize_t i = more_find(h, r->o->sender);
	uint64_t now = host_now_ms(h);

	if (i >= 0) {
		struct host_more old = h->more[i];

		more_remove(h, (size_t)i);
		if (old.state == state)
			old.state = NULL; /* the same state continues */
		more_free(&old);
	}
	if (h->n_more >= HOST_MORE_MAX) {
		size_t oldest = 0;

		for (size_t j = 1; j < h->n_more; j++)
			if (h->more[j].expires_ms < h->more[oldest].expires_ms)
				oldest = j;
		more_free(&h->more[oldest]);
		more_remove(h, oldest);
	}
	h->more = xreallocarray(h->more, h->n_more + 1, sizeof(*h->more));
	h->more[h->n_more++] = (struct host_more){
	    xstrdup(r->o->sender),   r->plugin, fn, state, free_state,
	    now + HOST_MORE_LIFETIME};
}

/* Drops expired continuations (see host_internal.h). */
void dispatch_expire(struct host *h, uint64_t now_ms)
{
	for (size_t i = 0; i < h->n_more;) {
		if (now_ms == UINT64_MAX || h->more[i].expires_ms <= now_ms) {
			struct host_more m = h->more[i];

			more_remove(h, i);
			more_free(&m);
		} else {
			i++;
		}
	}
	if (h->n_more == 0) {
		free(h->more);
		h->more = NULL;
	}
}

/* Fills the request part of the API. */
void dispatch_fill_api(struct fb_api *api)
{
	api->req_plugin = req_plugin;
	api->req_place = req_place;
	api->req_sender = req_sender;
	api->req_real_jid = req_real_jid;
	api->req_room = req_room;
	api->req_args = req_args;
	api->req_is_admin = req_is_admin;
	api->reply = req_reply;
	api->reply_error = req_reply_error;
	api->reply_link = req_reply_link;
	api->set_more = req_set_more;
}

/* --- built-in commands ---------------------------------------------------- */

/* more: the next page of this requester's last list or search. */
static void cmd_more(struct fb_request *r, int argc, char **argv)
{
	struct host *h = r->host;
	ssize_t i = more_find(h, r->o->sender);
	struct host_more m;

	if (i < 0 || h->more[i].expires_ms <= host_now_ms(h)) {
		/* In a room other bots may hold the continuation: stay
		 * silent there. */
		if (r->o->place != FB_ROOM)
			set_error(r,
			          xstrdup("nothing more to show: say list or "
			                  "search first"));
		return;
	}
	m = h->more[i];
	more_remove(h, (size_t)i);
	r->plugin = m.plugin;
	m.fn(r, m.state);
	/* The continuation may have stored the same state again. */
	i = more_find(h, r->o->sender);
	if (i >= 0 && h->more[i].state == m.state)
		m.state = NULL;
	more_free(&m);
}

const struct fb_command dispatch_builtins[] = {
    {
        .name = "more",
        .usage = "more",
        .min_args = 0,
        .max_args = 0,
        .perm = FB_ANYONE,
        .help = "the next page of your last list or search",
        .handler = cmd_more,
    },
};
const size_t dispatch_n_builtins =
    sizeof(dispatch_builtins) / sizeof(dispatch_builtins[0]);

/* --- sending -------------------------------------------------------------- */

/* Returns the bare JID of jid; the caller frees it. */
static char *bare_jid(const char *jid)
{
	const char *slash = strchr(jid, '/');

	return xstrndup(jid,
	                slash != NULL ? (size_t)(slash - jid) : strlen(jid));
}

/* Returns the occupant's nick, sanitised and cut to NICK_SHOWN bytes, for
 * "nick: " in front of room messages. The caller frees it. */
static char *shown_nick(const struct fb_request *r)
{
	const char *nick = r->o->nick != NULL ? r->o->nick : "";
	size_t len = text_utf8_prefix(nick, strlen(nick), NICK_SHOWN);

	return text_sanitize(nick, len);
}

/* Returns the short text for the room when it refuses the private reply
 * body (a one-line reply goes there as it is). The caller frees it. */
static char *fallback_text(struct fb_request *r, const char *body, bool is_link)
{
	const char *me = session_jid(r->host->session);
	char *bare, *s, *nick = shown_nick(r);

	if (!is_link && strchr(body, '\n') == NULL &&
	    strlen(body) <= FALLBACK_MAX) {
		s = xasprintf("%s: %s", nick, body);
		free(nick);
		return s;
	}
	bare = bare_jid(me != NULL ? me : "");
	s = xasprintf("%s: this room does not let me answer you privately; "
	              "ask me in a direct chat%s%s",
	              nick, bare[0] != '\0' ? " with " : "", bare);
	free(bare);
	free(nick);
	return s;
}

/* Sends the one reply r holds, if any. */
static void request_send(struct fb_request *r)
{
	struct host *h = r->host;
	xmpp_ctx_t *ctx = session_ctx(h->session);
	const char *prefix = h->cfg->commands.prefix, *type, *to, *body;
	struct reply_text t = {0};
	xmpp_stanza_t *m;
	bool muc_user, is_link = false;
	char *fallback, *text = NULL;

	route_target(r, &type, &to, &muc_user);
	if (r->error != NULL) {
		reply_text_add(&t, r->error, prefix);
		body = reply_text_body(&t);
		m = NULL;
	} else if (r->link != NULL) {
		m = r->link;
		r->link = NULL;
		is_link = true;
		body = NULL;
	} else {
		body = reply_text_body(&r->text);
		m = NULL;
	}
	if (m == NULL) {
		if (body[0] == '\0')
			goto out; /* nothing to say */
		if (r->route == ROUTE_ROOM) {
			/* "nick: " in front: the body is sanitised and bounded
			 * already, the nick is short. */
			char *nick = shown_nick(r);
			bool guard = nick[0] == '@' ||
			             strncmp(nick, prefix, strlen(prefix)) == 0;

			text = xasprintf("%s%s: %s", guard ? REPLY_GUARD : "",
			                 nick, body);
			free(nick);
			body = text;
		}
		m = reply_message(ctx, type, to, body, muc_user);
	}
	if (r->route == ROUTE_PRIVATE) {
		fallback = fallback_text(r, is_link ? "" : body, is_link);
		session_send_private(h->session, m, r->o->room, fallback,
		                     r->o->sender);
		free(fallback);
	} else {
		session_send_to(h->session, m, r->o->sender);
	}
out:
	free(text);
	reply_text_clear(&t);
}

/* Sends a one-line error for a command that did not reach its handler. */
static void send_error(struct fb_request *r, char *s)
{
	set_error(r, s);
	request_send(r);
}

/* --- dispatching ---------------------------------------------------------- */

/* Takes a token from the requester's bucket. Returns true to go on; on
 * false a "slow down" may already have been sent. */
static bool charge(struct fb_request *r)
{
	const char *key = r->real_jid != NULL ? r->real_jid : r->o->sender;
	uint64_t retry = 0;

	switch (
	    ratelimit_take(r->host->rl, key, host_now_ms(r->host), &retry)) {
	case RATELIMIT_OK:
		return true;
	case RATELIMIT_WARN:
		log_info("rate limit: %s slowed down", key);
		send_error(r, xasprintf("slow down: try again in %" PRIu64 "s",
		                        retry / 1000 + (retry % 1000 != 0)));
		return false;
	case RATELIMIT_SILENT:
	default:
		return false;
	}
}

/* Handles one message that may hold a command (see host.h). */
void host_message(struct host *h, const struct session_origin *o,
                  const char *body)
{
	const struct host_cmd *hc;
	const struct fb_command *cmd;
	struct fb_request r = {0};
	struct cmdline cl;
	int nargs;

	if (h->session == NULL || body == NULL || o->from == NULL ||
	    o->sender == NULL || (o->place == FB_ROOM && o->room == NULL))
		return;
	if (!cmdline_parse(body, strlen(body), h->cfg->commands.prefix,
	                   o->place == FB_ROOM, &cl))
		return;

	r.host = h;
	r.o = o;
	r.args = cl.args;
	if (o->real_jid != NULL)
		r.real_jid = bare_jid(o->real_jid);
	else if (o->place == FB_DIRECT)
		r.real_jid = bare_jid(o->from);
	hc = host_find_command(h, cl.name);
	cmd = hc != NULL ? hc->cmd : NULL;
	if (o->place == FB_ROOM)
		r.route = (h->cfg->commands.room_replies == REPLIES_ROOM &&
		           cl.trigger != CMDLINE_AT &&
		           (cmd == NULL || !(cmd->flags & FB_CMD_ROOM_WIDE)))
		              ? ROUTE_ROOM
		              : ROUTE_PRIVATE;
	else
		r.route = ROUTE_BACK;

	if (cmd == NULL) {
		/* Never answer unknown commands in rooms: other bots may
		 * know them. */
		if (o->place == FB_ROOM || cl.trigger == CMDLINE_AT)
			goto out;
		if (charge(&r))
			send_error(&r, xasprintf("unknown command: %s (say "
			                         "help)",
			                         cl.name));
		goto out;
	}
	if (cl.trigger == CMDLINE_AT && !(cmd->flags & FB_CMD_ROOM_WIDE))
		goto out;
	if (!charge(&r))
		goto out;
	r.plugin = hc->plugin;
	log_debug("command %s from %s", cmd->name, o->sender);

	if (cmd->perm == FB_ADMIN && !req_is_admin(&r)) {
		send_error(&r, xasprintf("not allowed: %s is for admins, in a "
		                         "direct chat",
		                         cmd->name));
		goto out;
	}
	if (cl.error != NULL) {
		send_error(&r, xasprintf("%s: %s (usage: %s)", cl.name,
		                         cl.error, cmd->usage));
		goto out;
	}
	nargs = cl.argc - 1;
	if (nargs < cmd->min_args ||
	    (cmd->max_args >= 0 && nargs > cmd->max_args)) {
		send_error(&r, xasprintf("usage: %s", cmd->usage));
		goto out;
	}
	cmd->handler(&r, cl.argc, cl.argv);
	request_send(&r);
out:
	if (r.link != NULL)
		xmpp_stanza_release(r.link);
	free(r.error);
	free(r.real_jid);
	reply_text_clear(&r.text);
	cmdline_clear(&cl);
}
