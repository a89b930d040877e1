/*
 * The dispatcher: turns a chat message into at most one command and at
 * most one reply, within the requester's rate limit.
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
 *   5. In the requester's turn, on the handler's thread, the file the
 *      command names (fb_command.arg = FB_ARG_FILE...) is looked up
 *      through that thread's catalogue connection (cmdarg.c): a name that
 *      is missing or unknown is answered there, "no such file: X", and the
 *      handler never sees it; otherwise req_file() is the file.
 *   6. The handler fills the request with reply lines, an error or a link;
 *      the host sends one message for it: to a room occupant by MUC private
 *      message (with a short fallback for the room if the room refuses it),
 *      or to the room itself when [commands] room_replies = room (room-wide
 *      searches always go privately), else back where it came from.
 *
 * "more" is built in: it calls the continuation the requester's last list
 * or search left with set_more (one per requester, for HOST_MORE_LIFETIME).
 *
 * Threads. A request is a job (jobs.c): steps 1-4 happen on the main
 * thread when the message comes; the handler runs in the requester's turn,
 * at once on the main thread, or on a query worker for FB_CMD_QUERY
 * commands (and "more" after one of them). So a request owns copies of
 * everything it needs (origin, arguments, the configuration in force), and
 * what the handler does to it is only recorded: reply lines, an error, a
 * copy of the file to link, the next continuation. The main thread then
 * builds and sends the one message (request_send) and installs the
 * continuation. "more" takes the requester's continuation out of the table
 * at its turn and gives the job's new one back when it is answered, so a
 * continuation's state is only ever used by one thread at a time.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/jid.h"
#include "cmdarg.h"
#include "cmdline.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "fisbot/text.h"
#include "host_internal.h"
#include "reply.h"
#include "store/mediatype.h"

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

/* A request: one command, from the message to its reply (a job, see
 * jobs.c). */
struct fb_request {
	struct host_job job; /* first */
	struct fb_plugin *plugin;
	/* The command to run, or NULL when the answer is decided (an error,
	 * or silence). */
	const struct fb_command *cmd;
	struct cmdline cl;
	struct session_origin o; /* copies, owned */
	char *real_jid;          /* bare, or NULL */
	bool is_admin;
	enum route route;
	bool worker; /* the handler runs on a query worker */
	/* The file the command's argument names (fb_command.arg), looked
	 * up on the handler's thread just before it runs. */
	struct cat_file file;
	bool has_file;
	/* What the handler answered. */
	struct reply_text text;
	char *error;           /* one-line error: wins over everything */
	struct cat_file *link; /* a copy of the file to link: wins over text */
	/* "more": the continuation this request continues (taken out of the
	 * table), and the one it leaves (installed when it is answered). */
	struct host_more taken;
	bool has_taken;
	struct host_more next;
	bool has_next;
};

/* --- the request API ---------------------------------------------------- */

static struct fb_plugin *req_plugin(struct fb_request *r)
{
	return r->plugin;
}

static enum fb_place req_place(struct fb_request *r)
{
	switch (r->o.place) {
	case SESSION_ROOM:
		return FB_ROOM;
	case SESSION_ROOM_PRIVATE:
		return FB_ROOM_PRIVATE;
	case SESSION_DIRECT:
	default:
		return FB_DIRECT;
	}
}

static const char *req_sender(struct fb_request *r)
{
	return r->o.sender;
}

static const char *req_real_jid(struct fb_request *r)
{
	return r->real_jid;
}

static const char *req_room(struct fb_request *r)
{
	return r->o.room;
}

static const char *req_args(struct fb_request *r)
{
	return r->cl.args != NULL ? r->cl.args : "";
}

/* fb_api.req_file: the file the command's argument names, or NULL. */
static const struct cat_file *req_file(struct fb_request *r)
{
	return r->has_file ? &r->file : NULL;
}

/* True if the request may run FB_ADMIN commands: an [admins] JID, in a
 * direct chat (decided when the request came). */
static bool req_is_admin(struct fb_request *r)
{
	return r->is_admin;
}

/* fb_api.reply: appends one line (or several) to the reply. */
static void req_reply(struct fb_request *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void req_reply(struct fb_request *r, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	reply_text_add(&r->text, s, r->job.cfg->commands.prefix);
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
    __attribute__((format(printf, 2, 3)));
static void req_reply_error(struct fb_request *r, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	set_error(r, s);
}

/* Returns a copy of s, or NULL. */
static char *dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Frees a file copied by file_copy. */
static void file_free(struct cat_file *f)
{
	if (f == NULL)
		return;
	cat_file_clear(f);
	free(f);
}

/* Returns a deep copy of f. */
static struct cat_file *file_copy(const struct cat_file *f)
{
	struct cat_file *c = xmalloc(sizeof(*c));

	*c = *f;
	c->path = xstrdup(f->path != NULL ? f->path : "");
	c->media_type = dup_or_null(f->media_type);
	c->description = dup_or_null(f->description);
	c->uploader = dup_or_null(f->uploader);
	return c;
}

/* fb_api.queue_info: the requester's place in the download queue. */
static void req_queue_info(struct fb_request *r, struct fb_queue_info *out)
{
	memset(out, 0, sizeof(*out));
	if (jobs_worker_self() != NULL) {
		log_warnx("queue_info called on a query worker (ignored)");
		return;
	}
	transfers_info(r->job.host, r->o.sender, out);
}

/* fb_api.queue_cancel: takes the requester out of the queue. */
static unsigned req_queue_cancel(struct fb_request *r)
{
	if (jobs_worker_self() != NULL) {
		log_warnx("queue_cancel called on a query worker (ignored)");
		return 0;
	}
	return transfers_drop(r->job.host, r->o.sender, NULL);
}

/* fb_api.reply_link: the reply becomes a download link for f (built when
 * it is sent). */
static void req_reply_link(struct fb_request *r, const struct cat_file *f)
{
	file_free(r->link);
	r->link = file_copy(f);
}

/* Frees one continuation's state and key. */
static void more_free(struct host_more *m)
{
	if (m->free_state != NULL && m->state != NULL)
		m->free_state(m->state);
	free(m->sender);
	m->state = NULL;
	m->sender = NULL;
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

/* fb_api.set_more: records how to continue this requester's answer; the
 * host installs it when the answer is sent (more_install). */
static void req_set_more(struct fb_request *r, fb_more_fn fn, void *state,
                         void (*free_state)(void *state))
{
	/* A second call replaces the first: free its state unless it goes
	 * on, or is the continued one (freed when the request is done). */
	if (r->has_next && r->next.state != state &&
	    !(r->has_taken && r->next.state == r->taken.state))
		more_free(&r->next);
	r->next = (struct host_more){NULL,       r->plugin, fn,       state,
	                             free_state, 0,         r->worker};
	r->has_next = true;
}

/* Main thread, once r is answered: installs the continuation r left
 * (replacing and freeing the requester's older one) and frees the one it
 * continued unless it goes on. */
static void more_install(struct fb_request *r)
{
	struct host *h = r->job.host;
	ssize_t i;

	if (r->has_next) {
		i = more_find(h, r->o.sender);
		if (i >= 0) {
			struct host_more old = h->more[i];

			more_remove(h, (size_t)i);
			if (old.state == r->next.state)
				old.state = NULL; /* the same state goes on */
			more_free(&old);
		}
		if (h->n_more >= HOST_MORE_MAX) {
			size_t oldest = 0;

			for (size_t j = 1; j < h->n_more; j++)
				if (h->more[j].expires_ms <
				    h->more[oldest].expires_ms)
					oldest = j;
			more_free(&h->more[oldest]);
			more_remove(h, oldest);
		}
		r->next.sender = xstrdup(r->o.sender);
		r->next.expires_ms = host_now_ms(h) + HOST_MORE_LIFETIME;
		h->more =
		    xreallocarray(h->more, h->n_more + 1, sizeof(*h->more));
		h->more[h->n_more++] = r->next;
		if (r->has_taken && r->taken.state == r->next.state)
			r->taken.state = NULL;
		r->has_next = false;
	}
	if (r->has_taken) {
		more_free(&r->taken);
		r->has_taken = false;
	}
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
	api->req_file = req_file;
	api->req_is_admin = req_is_admin;
	api->reply = req_reply;
	api->reply_error = req_reply_error;
	api->reply_link = req_reply_link;
	api->queue_info = req_queue_info;
	api->queue_cancel = req_queue_cancel;
	api->set_more = req_set_more;
}

/* --- built-in commands ---------------------------------------------------- */

/* more: the next page of this requester's last list or search. The work
 * is done by more_start and request_run; this handler is never called. */
static void cmd_more(struct fb_request *r, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	set_error(r, xstrdup("nothing more to show"));
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

/* Main thread, at the turn of a "more": takes the requester's continuation
 * out of the table; it runs on the kind of thread that left it. */
static enum job_step more_start(struct fb_request *r)
{
	struct host *h = r->job.host;
	ssize_t i = more_find(h, r->o.sender);

	if (i < 0 || h->more[i].expires_ms <= host_now_ms(h)) {
		/* In a room other bots may hold the continuation: stay
		 * silent there. */
		if (r->o.place != SESSION_ROOM)
			set_error(r,
			          xstrdup("nothing more to show: say list or "
			                  "search first"));
		return JOB_ANSWERED;
	}
	r->taken = h->more[i];
	r->has_taken = true;
	more_remove(h, (size_t)i);
	r->plugin = r->taken.plugin;
	r->worker = r->taken.worker;
	return r->worker ? JOB_WORKER : JOB_MAIN;
}

/* --- sending -------------------------------------------------------------- */

/* Returns the JID and type a stanza for r goes to. */
static void route_target(const struct fb_request *r, const char **type,
                         const char **to, bool *muc_user)
{
	switch (r->route) {
	case ROUTE_ROOM:
		*type = "groupchat";
		*to = r->o.room;
		*muc_user = false;
		break;
	case ROUTE_PRIVATE:
		*type = "chat";
		*to = r->o.from;
		*muc_user = true;
		break;
	case ROUTE_BACK:
	default:
		*type = "chat";
		*to = r->o.from;
		*muc_user = r->o.place == SESSION_ROOM_PRIVATE;
		break;
	}
}

/* Returns the occupant's nick, sanitised and cut to NICK_SHOWN bytes, for
 * "nick: " in front of room messages. The caller frees it. */
static char *shown_nick(const struct fb_request *r)
{
	const char *nick = r->o.nick != NULL ? r->o.nick : "";
	size_t len = text_utf8_prefix(nick, strlen(nick), NICK_SHOWN);

	return text_sanitize(nick, len);
}

/* Returns the nick for "nick: " in front of a message to the room:
 * shown_nick, guarded (REPLY_GUARD in front) if it starts with the prefix
 * or '@', so that the message never looks like a command. The caller
 * frees it. */
static char *room_nick(const struct fb_request *r)
{
	const char *prefix = r->job.cfg->commands.prefix;
	char *nick = shown_nick(r), *s;

	if (nick[0] != '@' && strncmp(nick, prefix, strlen(prefix)) != 0)
		return nick;
	s = xasprintf("%s%s", REPLY_GUARD, nick);
	free(nick);
	return s;
}

/* Returns the short text for the room when it refuses the private reply
 * body (a one-line reply goes there as it is). The caller frees it. */
static char *fallback_text(struct fb_request *r, const char *body, bool is_link)
{
	const char *me = session_jid(r->job.host->session);
	char *bare, *s, *nick = room_nick(r);

	if (!is_link && strchr(body, '\n') == NULL &&
	    strlen(body) <= FALLBACK_MAX) {
		s = xasprintf("%s: %s", nick, body);
		free(nick);
		return s;
	}
	bare = jid_bare(me != NULL ? me : "");
	s = xasprintf("%s: this room does not let me answer you privately; "
	              "ask me in a direct chat%s%s",
	              nick, bare[0] != '\0' ? " with " : "", bare);
	free(bare);
	free(nick);
	return s;
}

/* Returns the download-link message for r->link, or NULL after making the
 * reply an error (no HTTP server). */
static xmpp_stanza_t *link_message(struct fb_request *r)
{
	struct host *h = r->job.host;
	const char *type, *to;
	bool muc_user;
	xmpp_stanza_t *m;
	char *url;

	if (h->deps.file_url == NULL ||
	    (url = h->deps.file_url(h->deps.arg, r->job.cfg, r->link,
	                            r->o.sender)) == NULL) {
		set_error(r, xstrdup("no download link: the HTTP server is "
		                     "not available"));
		return NULL;
	}
	route_target(r, &type, &to, &muc_user);
	m = reply_link_message(session_ctx(h->session), type, to, url, r->link,
	                       muc_user);
	free(url);
	return m;
}

/* Sends the one reply r holds, if any. */
static void request_send(struct fb_request *r)
{
	struct host *h = r->job.host;
	xmpp_ctx_t *ctx = session_ctx(h->session);
	const char *prefix = r->job.cfg->commands.prefix, *type, *to, *body;
	struct reply_text t = {0};
	xmpp_stanza_t *m = NULL;
	bool muc_user, is_link = false;
	char *fallback, *text = NULL;

	route_target(r, &type, &to, &muc_user);
	if (r->error == NULL && r->link != NULL) {
		m = link_message(r);
		is_link = m != NULL;
	}
	if (r->error != NULL) {
		reply_text_add(&t, r->error, prefix);
		body = reply_text_body(&t);
	} else if (is_link) {
		body = NULL;
	} else {
		body = reply_text_body(&r->text);
	}
	if (m == NULL) {
		if (body[0] == '\0')
			goto out; /* nothing to say */
		if (r->route == ROUTE_ROOM) {
			/* "nick: " in front: the body is sanitised and bounded
			 * already, the nick is short. */
			char *nick = room_nick(r);

			text = xasprintf("%s: %s", nick, body);
			free(nick);
			body = text;
		}
		m = reply_message(ctx, type, to, body, muc_user);
	}
	if (r->route == ROUTE_PRIVATE) {
		fallback = fallback_text(r, is_link ? "" : body, is_link);
		session_send_private(
		    h->session, m,
		    reply_message(ctx, "groupchat", r->o.room, fallback, false),
		    r->o.sender);
		free(fallback);
	} else {
		session_send_to(h->session, m, r->o.sender);
	}
out:
	free(text);
	reply_text_clear(&t);
}

/* --- requests as jobs ----------------------------------------------------- */

/* Job, main thread at the request's turn: how it runs. */
static enum job_step request_start(struct host_job *j)
{
	struct fb_request *r = (struct fb_request *)j;

	if (r->cmd == NULL)
		return JOB_ANSWERED;
	if (r->cmd == &dispatch_builtins[0])
		return more_start(r);
	r->worker = (r->cmd->flags & FB_CMD_QUERY) != 0;
	return r->worker ? JOB_WORKER : JOB_MAIN;
}

/* Resolves the command's argument (fb_command.arg) through this thread's
 * catalogue connection. Returns true to run the handler; on false r holds
 * the error. */
static bool request_resolve(struct fb_request *r)
{
	char *error = NULL;
	int rc;

	rc = cmdarg_resolve(host_catalogue(r->job.host), r->cmd, r->cl.argc,
	                    r->cl.argv, r->cl.args, &r->file, &error);
	if (rc == -1) {
		set_error(r, error);
		return false;
	}
	r->has_file = rc == 1;
	if (r->has_file && r->file.hashed && r->file.media_type == NULL)
		/* libmagic's, not found yet by the indexer: on this worker */
		r->file.media_type =
		    mediatype_of_file(r->job.cfg->share.path, r->file.path,
		                      r->file.size, r->file.mtime_ns);
	return true;
}

/* Job: runs the handler (or the continuation), on whichever thread. */
static void request_run(struct host_job *j)
{
	struct fb_request *r = (struct fb_request *)j;

	if (r->has_taken) {
		r->taken.fn(r, r->taken.state);
	} else if (request_resolve(r)) {
		/* Who asks, for the outcomes told later (notice.c): an
		 * admin, on the main thread. */
		if (!r->worker && r->is_admin)
			r->job.host->asking = r->o.from;
		r->cmd->handler(r, r->cl.argc, r->cl.argv);
		if (!r->worker)
			r->job.host->asking = NULL;
	}
}

/* Job, main thread: sends the reply and installs the continuation. */
static void request_finish(struct host_job *j)
{
	struct fb_request *r = (struct fb_request *)j;

	more_install(r);
	if (r->error == NULL && r->link != NULL)
		transfers_get(r->job.host, r);
	request_send(r);
}

/* Job: frees a request (answered or not). */
static void request_free(struct host_job *j)
{
	struct fb_request *r = (struct fb_request *)j;

	if (r->has_next && !(r->has_taken && r->next.state == r->taken.state))
		more_free(&r->next);
	if (r->has_taken)
		more_free(&r->taken);
	file_free(r->link);
	if (r->has_file)
		cat_file_clear(&r->file);
	free(r->error);
	reply_text_clear(&r->text);
	cmdline_clear(&r->cl);
	free((char *)r->o.from);
	free((char *)r->o.room);
	free((char *)r->o.nick);
	free((char *)r->o.real_jid);
	free((char *)r->o.sender);
	free((char *)r->o.own_nick);
	free(r->real_jid);
	free(r);
}

static const struct host_job_ops request_ops = {
    request_start,
    request_run,
    request_finish,
    request_free,
};

/* --- dispatching ---------------------------------------------------------- */

/* Returns a new request for a command of o, taking over cl. */
static struct fb_request *
request_new(struct host *h, const struct session_origin *o, struct cmdline *cl)
{
	struct fb_request *r = xcalloc(1, sizeof(*r));

	r->job.ops = &request_ops;
	r->job.host = h;
	r->job.cfg = h->cfg;
	r->cl = *cl;
	memset(cl, 0, sizeof(*cl));
	r->o.place = o->place;
	r->o.from = xstrdup(o->from);
	r->o.room = dup_or_null(o->room);
	r->o.nick = dup_or_null(o->nick);
	r->o.real_jid = dup_or_null(o->real_jid);
	r->o.sender = xstrdup(o->sender);
	r->o.own_nick = dup_or_null(o->own_nick);
	if (o->real_jid != NULL)
		r->real_jid = jid_bare(o->real_jid);
	else if (o->place == SESSION_DIRECT)
		r->real_jid = jid_bare(o->from);
	r->is_admin = o->place == SESSION_DIRECT &&
	              host_jid_is_admin(h->cfg, r->real_jid);
	return r;
}

struct fb_request *dispatch_detach(struct fb_request *r)
{
	struct cmdline none = {0};
	struct fb_request *q = request_new(r->job.host, &r->o, &none);

	q->route = r->route;
	q->link = r->link;
	r->link = NULL;
	return q;
}

const char *dispatch_link_path(const struct fb_request *r)
{
	return r->link != NULL ? r->link->path : "";
}

void dispatch_send_detached(struct fb_request *r)
{
	r->job.cfg = r->job.host->cfg;
	request_send(r);
	request_free(&r->job);
}

void dispatch_free_detached(struct fb_request *r)
{
	request_free(&r->job);
}

/* Queues r in its requester's turn: run when its earlier requests are
 * answered (at once if there are none). A request that would wait when
 * the queue is full is answered "busy" at once instead. */
static void submit(struct fb_request *r)
{
	struct host *h = r->job.host;
	bool worker = r->cmd != NULL && ((r->cmd->flags & FB_CMD_QUERY) ||
	                                 r->cmd == &dispatch_builtins[0]);

	if (jobs_full(h, r->o.sender, worker)) {
		log_info("busy: a command of %s refused", r->o.sender);
		r->cmd = NULL;
		set_error(r, xstrdup("busy: try again in a moment"));
		request_send(r);
		request_free(&r->job);
		return;
	}
	jobs_submit(h, &r->job, r->o.sender);
}

/* Answers r with the one-line error s (taken), in the requester's turn. */
static void submit_error(struct fb_request *r, char *s)
{
	r->cmd = NULL;
	set_error(r, s);
	submit(r);
}

/* Takes a token from the requester's bucket. Returns true to go on; on
 * false r holds the "slow down" to send, if any. */
static bool charge(struct fb_request *r)
{
	const char *key = r->real_jid != NULL ? r->real_jid : r->o.sender;
	struct host *h = r->job.host;
	uint64_t retry = 0;

	switch (ratelimit_take(h->rl, key, host_now_ms(h), &retry)) {
	case RATELIMIT_OK:
		return true;
	case RATELIMIT_WARN:
		log_info("rate limit: %s slowed down", key);
		set_error(r, xasprintf("slow down: try again in %" PRIu64 "s",
		                       retry / 1000 + (retry % 1000 != 0)));
		return false;
	case RATELIMIT_SILENT:
	default:
		return false;
	}
}

/* Handles one message that may hold a command (see host.h). */
void dispatch_message(struct host *h, const struct session_origin *o,
                      const char *body)
{
	const struct host_cmd *hc;
	const struct fb_command *cmd;
	struct fb_request *r;
	struct cmdline cl;
	int nargs;

	if (body == NULL || o->from == NULL || o->sender == NULL ||
	    (o->place == SESSION_ROOM && o->room == NULL))
		return;
	if (!cmdline_parse(body, strlen(body), h->cfg->commands.prefix,
	                   o->place == SESSION_ROOM, &cl))
		return;

	r = request_new(h, o, &cl);
	hc = host_find_command(h, r->cl.name);
	cmd = hc != NULL ? hc->cmd : NULL;
	if (o->place == SESSION_ROOM)
		r->route = (h->cfg->commands.room_replies == REPLIES_ROOM &&
		            r->cl.trigger != CMDLINE_AT &&
		            (cmd == NULL || !(cmd->flags & FB_CMD_ROOM_WIDE)))
		               ? ROUTE_ROOM
		               : ROUTE_PRIVATE;
	else
		r->route = ROUTE_BACK;

	if (cmd == NULL) {
		/* Never answer unknown commands in rooms: other bots may
		 * know them. */
		if (o->place == SESSION_ROOM || r->cl.trigger == CMDLINE_AT)
			goto drop;
		if (charge(r))
			set_error(r, xasprintf("unknown command: %s (say "
			                       "help)",
			                       r->cl.name));
		goto answered;
	}
	if (r->cl.trigger == CMDLINE_AT && !(cmd->flags & FB_CMD_ROOM_WIDE))
		goto drop;
	if (!charge(r))
		goto answered;
	r->plugin = hc->plugin;
	log_debug("command %s from %s", cmd->name, o->sender);

	if (cmd->perm == FB_ADMIN && !r->is_admin) {
		submit_error(r, xasprintf("not allowed: %s is for admins, in a "
		                          "direct chat",
		                          cmd->name));
		return;
	}
	if (r->cl.error != NULL) {
		submit_error(r, xasprintf("%s: %s (usage: %s)", r->cl.name,
		                          r->cl.error, cmd->usage));
		return;
	}
	nargs = r->cl.argc - 1;
	if (nargs < cmd->min_args ||
	    (cmd->max_args >= 0 && nargs > cmd->max_args)) {
		submit_error(r, xasprintf("usage: %s", cmd->usage));
		return;
	}
	r->cmd = cmd;
	submit(r);
	return;

answered:
	/* An error (or silence) decided here, sent in the requester's
	 * turn. */
	if (r->error != NULL) {
		submit(r);
		return;
	}
drop:
	request_free(&r->job);
}
