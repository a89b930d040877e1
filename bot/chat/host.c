/*
 * The plugin host: loads the plugins named by [plugins] load from the
 * plugin folder with dlopen(RTLD_NOW | RTLD_LOCAL), checks the API version
 * and name each one declares, sets its api and registers the command table
 * FISBOT_PLUGIN declares (if any), calls its init (if any) with the struct
 * fb_api built here, and keeps what it registers: commands (looked up by
 * dispatch.c), IQ handlers by namespace, event hooks and timers.
 *
 * Design note. A plugin that cannot be loaded is a configuration error: the
 * bot refuses to start (host_new returns NULL, the daemon exits 2) rather
 * than run without a command its users expect. The plugin folder is
 * [plugins] path if set, else the build tree's plugin folder when the
 * running executable is the one in the build tree, else the installed one.
 * IQs reach the host already charged to their sender's IQ budget (the
 * session's, [limits] iq_burst and iq_rate), not to the chat commands'
 * buckets; their answers go in the sender's lane of the send queue.
 *
 * Threads. Handlers registered with FB_IQ_QUERY run on a query worker
 * (jobs.c): the main thread serialises the IQ to text, the worker
 * parses it again with xmpp_stanza_new_from_string in its own libstrophe
 * context, the handler builds its payload there, and the worker serialises
 * the whole answer (result, or error) to text, size-checked; the main
 * thread parses that text in the session's context and sends it. That
 * costs the main thread one parse of the answer (about 1.4 ms for a 64 KiB
 * one, the largest there is), and keeps libstrophe objects per thread. The
 * API functions that belong to the main thread refuse to run on a worker
 * (on_worker).
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "fisbot/text.h"
#include "host_internal.h"
#include "reply.h"
#include "version.h"
#include "xmpp/stanza.h"

#define PLUGIN_NAME_MAX 64
#define EXPIRE_MS       10000 /* how often buckets and continuations expire */

/* One IQ being answered by a plugin. */
struct fb_iq {
	struct host *host;
	xmpp_stanza_t *stanza;
	const char *from;
	const char *requester; /* the send queue's lane for the answer */
	xmpp_ctx_t *ctx;       /* where the answer is built */
	/* On a worker, the answer goes here, serialised; NULL: it is sent at
	 * once. */
	char **answer;
	bool answered;
};

/* An IQ for a query worker (a job, see jobs.c). */
struct iq_job {
	struct host_job job; /* first */
	fb_iq_fn fn;
	void *arg;
	struct fb_plugin *plugin;
	char *ns;
	char *from, *id;
	char *requester; /* the send queue's lane for the answer, or NULL */
	char *text;      /* the IQ, serialised */
	char *answer;    /* the answer, serialised (by the worker) */
};

/* --- clock, lookups ----------------------------------------------------- */

/* Returns the time in ms on the main thread's cron (see host_deps). */
uint64_t host_now_ms(const struct host *h)
{
	return cron_now(h->deps.cron);
}

/* Returns true if name is cmd's name or one of its aliases. */
static bool command_is(const struct fb_command *cmd, const char *name)
{
	if (strcasecmp(cmd->name, name) == 0)
		return true;
	for (const char *const *a = cmd->aliases; a != NULL && *a != NULL; a++)
		if (strcasecmp(*a, name) == 0)
			return true;
	return false;
}

/* Looks a command up by name or alias (case-insensitive, exact). */
const struct host_cmd *host_find_command(const struct host *h, const char *name)
{
	for (size_t i = 0; i < h->n_cmds; i++)
		if (command_is(h->cmds[i].cmd, name))
			return &h->cmds[i];
	return NULL;
}

/* Returns true if jid is listed in [admins] jids (case-insensitive). */
bool host_jid_is_admin(const struct config *cfg, const char *jid)
{
	const struct strlist *l = &cfg->admins.jids;

	if (jid == NULL)
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], jid) == 0)
			return true;
	return false;
}

/* Returns the configuration for this thread (see host_internal.h). */
const struct config *host_config(const struct host *h)
{
	struct host_worker *w = jobs_worker_self();

	if (w != NULL && w->host == h && w->job != NULL)
		return w->job->cfg;
	return h->cfg;
}

/* Returns true (and logs it) if a main-thread function what is called on
 * a query worker: the caller then does nothing. */
static bool on_worker(const struct fb_plugin *p, const char *what)
{
	if (jobs_worker_self() == NULL)
		return false;
	log_warnx("plugin %s called %s on a query worker (ignored): it "
	          "belongs to the main thread",
	          p->name, what);
	return true;
}

/* --- registration ------------------------------------------------------- */

/* Returns true if name is a usable command name. */
static bool valid_command_name(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return false;
	for (; name[n] != '\0'; n++)
		if (!((name[n] >= 'a' && name[n] <= 'z') ||
		      (name[n] >= '0' && name[n] <= '9') || name[n] == '-' ||
		      name[n] == '_'))
			return false;
	return n > 0 && n <= 32;
}

/* Checks one table entry; returns NULL or what is wrong with it. */
static const char *check_command(const struct host *h,
                                 const struct fb_command *c,
                                 const char **taken_by)
{
	if (!valid_command_name(c->name))
		return "a name of 1-32 lowercase letters, digits, - or _ is "
		       "needed";
	for (const char *const *a = c->aliases; a != NULL && *a != NULL; a++)
		if (!valid_command_name(*a))
			return "an alias is not a valid command name";
	if (c->usage == NULL || c->help == NULL || c->handler == NULL)
		return "usage, help and handler are required";
	if (c->min_args < 0 || (c->max_args >= 0 && c->max_args < c->min_args))
		return "the argument counts are inconsistent";
	if (c->perm != FB_ANYONE && c->perm != FB_ADMIN)
		return "unknown permission level";
	if (c->arg != FB_ARG_NONE && c->arg != FB_ARG_FILE &&
	    c->arg != FB_ARG_FILE_FIRST)
		return "unknown argument kind";
	if (c->arg != FB_ARG_NONE && c->min_args < 1)
		return "a file argument needs min_args of at least 1";
	for (size_t i = 0; i < h->n_cmds; i++) {
		const struct fb_command *o = h->cmds[i].cmd;

		if (command_is(o, c->name)) {
			*taken_by = h->cmds[i].plugin->name;
			return "the name is already taken";
		}
		for (const char *const *a = c->aliases; a != NULL && *a != NULL;
		     a++) {
			if (command_is(o, *a)) {
				*taken_by = h->cmds[i].plugin->name;
				return "an alias is already taken";
			}
		}
	}
	return NULL;
}

/* Adds p's const table of n commands, all or nothing. Returns 0, or -1
 * with *cause saying which entry is wrong. */
static int register_table(struct host *h, struct fb_plugin *p,
                          const struct fb_command *cmds, size_t n, char **cause)
{
	size_t first = h->n_cmds;

	if (cmds == NULL && n > 0) {
		*cause =
		    xasprintf("plugin %s: its command table is NULL", p->name);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *taken_by = NULL;
		const char *why = check_command(h, &cmds[i], &taken_by);
		char *name;

		if (why != NULL) {
			name = text_sanitize(
			    cmds[i].name != NULL ? cmds[i].name : "(null)",
			    cmds[i].name != NULL ? strnlen(cmds[i].name, 64)
			                         : 6);
			*cause = xasprintf(
			    "plugin %s: command \"%s\": %s%s%s", p->name, name,
			    why, taken_by != NULL ? " by plugin " : "",
			    taken_by != NULL ? taken_by : "");
			free(name);
			h->n_cmds = first;
			return -1;
		}
		h->cmds =
		    xreallocarray(h->cmds, h->n_cmds + 1, sizeof(*h->cmds));
		h->cmds[h->n_cmds].cmd = &cmds[i];
		h->cmds[h->n_cmds].plugin = p;
		h->n_cmds++;
	}
	return 0;
}

/* fb_api.register_commands: adds a const table of commands. */
static int api_register_commands(struct fb_plugin *p,
                                 const struct fb_command *cmds, size_t n)
{
	struct host *h = p->host;
	char *cause = NULL;

	if (on_worker(p, "register_commands"))
		return -1;
	if (h->initialising != p && p != &h->builtin) {
		log_errorx("plugin %s: commands can only be registered during "
		           "init",
		           p->name);
		return -1;
	}
	if (register_table(h, p, cmds, n, &cause) != 0) {
		log_errorx("%s", cause);
		free(cause);
		return -1;
	}
	return 0;
}

/* fb_api.register_iq: routes IQs of namespace xmlns to fn. */
static int api_register_iq(struct fb_plugin *p, const char *xmlns, fb_iq_fn fn,
                           void *arg, unsigned flags)
{
	struct host *h = p->host;

	if (on_worker(p, "register_iq"))
		return -1;
	if ((flags & ~(unsigned)FB_IQ_QUERY) != 0) {
		log_errorx("plugin %s: IQ namespace %s: unknown flags %#x",
		           p->name, xmlns, flags);
		return -1;
	}
	for (size_t i = 0; i < h->n_iqs; i++) {
		if (strcmp(h->iqs[i].xmlns, xmlns) == 0) {
			log_errorx("plugin %s: IQ namespace %s is already "
			           "handled by plugin %s",
			           p->name, xmlns, h->iqs[i].plugin->name);
			return -1;
		}
	}
	h->iqs = xreallocarray(h->iqs, h->n_iqs + 1, sizeof(*h->iqs));
	h->iqs[h->n_iqs] = (struct host_iqh){xstrdup(xmlns), fn, arg, p, flags};
	h->n_iqs++;
	return 0;
}

/* fb_api.add_feature: a disco#info feature. */
static void api_add_feature(struct fb_plugin *p, const char *feature)
{
	struct host *h = p->host;

	if (on_worker(p, "add_feature"))
		return;
	session_add_feature(h->session, feature);
}

/* fb_api.hook: calls fn on event ev. */
static void api_hook(struct fb_plugin *p, enum fb_event ev, fb_event_fn fn,
                     void *arg)
{
	struct host *h = p->host;

	if (on_worker(p, "hook"))
		return;
	h->hooks = xreallocarray(h->hooks, h->n_hooks + 1, sizeof(*h->hooks));
	h->hooks[h->n_hooks++] = (struct host_hook){ev, fn, arg, p};
}

/* Forgets the i-th plugin timer (its cron timer is gone already). */
static void timer_drop(struct host *h, size_t i)
{
	free(h->timers[i]);
	h->timers[i] = h->timers[--h->n_timers];
}

/* A plugin timer is due (a cron timer): runs it; a timer whose fn
 * returns false is forgotten. */
static bool timer_run(void *arg)
{
	struct host_timer *t = arg;
	struct host *h = t->host;

	if (t->fn(t->plugin, t->arg))
		return true;
	for (size_t i = 0; i < h->n_timers; i++)
		if (h->timers[i] == t) {
			timer_drop(h, i);
			break;
		}
	return false;
}

/* fb_api.add_timer: calls fn every period_ms (a timer of the cron). */
static void api_add_timer(struct fb_plugin *p, unsigned long period_ms,
                          fb_timer_fn fn, void *arg)
{
	struct host *h = p->host;
	struct host_timer *t;

	if (on_worker(p, "add_timer"))
		return;
	t = xcalloc(1, sizeof(*t));
	*t = (struct host_timer){h, NULL, fn, arg, p};
	t->ct =
	    cron_add(h->deps.cron, period_ms > 0 ? period_ms : 1, timer_run, t);
	h->timers =
	    xreallocarray(h->timers, h->n_timers + 1, sizeof(*h->timers));
	h->timers[h->n_timers++] = t;
}

static void api_set_data(struct fb_plugin *p, void *data)
{
	if (on_worker(p, "set_data"))
		return;
	p->data = data;
}

static void *api_data(struct fb_plugin *p)
{
	return p->data;
}

/* --- context ------------------------------------------------------------ */

static const struct config *api_config(struct fb_plugin *p)
{
	return host_config(p->host);
}

/* fb_api.setting: a key of the plugin's [plugin "NAME"] section. */
static const char *api_setting(struct fb_plugin *p, const char *key)
{
	const struct plugin_config *pc =
	    config_plugin(host_config(p->host), p->name);

	if (pc == NULL)
		return NULL;
	for (size_t i = 0; i < pc->keys.n && i < pc->values.n; i++)
		if (strcmp(pc->keys.v[i], key) == 0)
			return pc->values.v[i];
	return NULL;
}

/* Returns the catalogue connection of this thread (see host_internal.h). */
struct catalogue *host_catalogue(const struct host *h)
{
	struct host_worker *w = jobs_worker_self();

	if (w != NULL && w->host == h)
		return w->cat;
	return h->deps.catalogue;
}

/* fb_api.catalogue: the worker's own connection, or the main thread's. */
static struct catalogue *api_catalogue(struct fb_plugin *p)
{
	return host_catalogue(p->host);
}

/* fb_api.file_url: a download URL, or NULL if there is no HTTP server. */
static char *api_file_url(struct fb_plugin *p, const struct cat_file *f)
{
	struct host *h = p->host;

	if (h->deps.file_url == NULL)
		return NULL;
	return h->deps.file_url(h->deps.arg, host_config(h), f, NULL);
}

/* fb_api.transfers: rate, slots and queue now (any thread). */
static void api_transfers(struct fb_plugin *p, struct fb_transfers *out)
{
	struct host *h = p->host;
	unsigned mean;

	memset(out, 0, sizeof(*out));
	if (h->deps.transfers != NULL)
		h->deps.transfers(h->deps.arg, &out->rate, &out->slots_used,
		                  &out->slots, &mean);
	out->queued = (unsigned)__atomic_load_n(&h->tq.n, __ATOMIC_RELAXED);
}

/* fb_api.upload_url: a one-time upload URL, after the upload checks. */
static int api_upload_url(struct fb_plugin *p, const char *uploader,
                          const char *name, uint64_t size,
                          struct fb_upload *out, char **cause)
{
	struct host *h = p->host;

	memset(out, 0, sizeof(*out));
	if (h->deps.upload_url == NULL) {
		*cause = xstrdup("uploads are not available now");
		return -1;
	}
	return h->deps.upload_url(h->deps.arg, host_config(h),
	                          host_catalogue(h), uploader, name, size, out,
	                          cause);
}

/* fb_api.web_url: the URL of the web index for requester. */
static char *api_web_url(struct fb_plugin *p, const char *requester,
                         char **cause)
{
	struct host *h = p->host;

	if (h->deps.web_url == NULL) {
		*cause = xstrdup("the web index is not available");
		return NULL;
	}
	return h->deps.web_url(h->deps.arg, host_config(h), requester, cause);
}

/* --- IQs ----------------------------------------------------------------- */

static xmpp_stanza_t *api_iq_stanza(struct fb_iq *iq)
{
	return iq->stanza;
}

static xmpp_ctx_t *api_iq_ctx(struct fb_iq *iq)
{
	return iq->ctx;
}

static const char *api_iq_from(struct fb_iq *iq)
{
	return iq->from;
}

/* Returns a new IQ error to to in answer to the IQ id, built in ctx, its
 * text (if any) sanitised. */
static xmpp_stanza_t *iq_error_stanza(xmpp_ctx_t *ctx, const char *id,
                                      const char *to, const char *type,
                                      const char *condition, const char *text)
{
	char *clean = text != NULL ? text_sanitize(text, strlen(text)) : NULL;
	xmpp_stanza_t *r = stanza_iq_error(ctx, id, to, type, condition, clean);

	free(clean);
	return r;
}

/* Sends an IQ error to from in answer to stanza (never to an error), in
 * requester's lane. */
static void send_iq_error(struct host *h, xmpp_stanza_t *stanza,
                          const char *from, const char *requester,
                          const char *type, const char *condition,
                          const char *text)
{
	session_send_to(h->session,
	                iq_error_stanza(session_ctx(h->session),
	                                xmpp_stanza_get_id(stanza), from, type,
	                                condition, text),
	                requester);
}

/* Returns stanza serialised (a string to free), or NULL; sets *len. */
static char *stanza_text(xmpp_ctx_t *ctx, xmpp_stanza_t *stanza, size_t *len)
{
	char *buf = NULL, *text;

	*len = 0;
	if (xmpp_stanza_to_text(stanza, &buf, len) != XMPP_EOK)
		return NULL;
	text = xstrndup(buf, *len);
	xmpp_free(ctx, buf);
	return text;
}

/* Hands the answer r to an IQ over: sends it, or on a worker stores it
 * serialised (text, if given, is r serialised already; taken). */
static void iq_answer(struct fb_iq *iq, xmpp_stanza_t *r, char *text)
{
	size_t len;

	if (iq->answer == NULL) {
		free(text);
		session_send_to(iq->host->session, r, iq->requester);
		return;
	}
	if (text == NULL)
		text = stanza_text(iq->ctx, r, &len);
	xmpp_stanza_release(r);
	free(*iq->answer);
	*iq->answer = text;
}

/* fb_api.iq_result: answers with payload (released here). */
static void api_iq_result(struct fb_iq *iq, xmpp_stanza_t *payload)
{
	const char *id = xmpp_stanza_get_id(iq->stanza);
	xmpp_stanza_t *r;
	char *text;
	size_t len;

	if (iq->answered) {
		log_warnx("an IQ handler answered twice (result dropped)");
		if (payload != NULL)
			xmpp_stanza_release(payload);
		return;
	}
	iq->answered = true;
	r = xmpp_iq_new(iq->ctx, "result", id);
	xmpp_stanza_set_to(r, iq->from);
	if (payload != NULL)
		xmpp_stanza_add_child_ex(r, payload, 0);
	/* No stanza the bot sends exceeds 64 KiB: refuse a bigger one. */
	text = stanza_text(iq->ctx, r, &len);
	if (text != NULL && len > FB_MAX_STANZA) {
		log_warnx("an IQ answer of %zu bytes to %s is too large", len,
		          iq->from);
		xmpp_stanza_release(r);
		free(text);
		text = NULL;
		r = iq_error_stanza(iq->ctx, id, iq->from, "cancel",
		                    "resource-constraint",
		                    "the answer is too large");
	}
	iq_answer(iq, r, text);
}

/* fb_api.iq_error: answers with an error. */
static void api_iq_error(struct fb_iq *iq, const char *type,
                         const char *condition, const char *text)
{
	if (iq->answered) {
		log_warnx("an IQ handler answered twice (error dropped)");
		return;
	}
	iq->answered = true;
	iq_answer(iq,
	          iq_error_stanza(iq->ctx, xmpp_stanza_get_id(iq->stanza),
	                          iq->from, type, condition, text),
	          NULL);
}

/* Calls handler for the IQ q; answers for a handler that does not. */
static void iq_call(const struct host_iqh *handler, struct fb_iq *q)
{
	handler->fn(q, handler->arg);
	if (!q->answered) {
		log_warnx("plugin %s did not answer an IQ (%s)",
		          handler->plugin->name, handler->xmlns);
		q->answered = true;
		iq_answer(q,
		          iq_error_stanza(q->ctx, xmpp_stanza_get_id(q->stanza),
		                          q->from, "cancel",
		                          "internal-server-error", NULL),
		          NULL);
	}
}

/* Job: an IQ always runs on a worker. */
static enum job_step iq_job_start(struct host_job *j)
{
	(void)j;
	return JOB_WORKER;
}

/* Job, on a worker: parses the IQ again in the worker's own context and
 * runs the handler, which leaves its answer serialised in the job. */
static void iq_job_run(struct host_job *j)
{
	struct iq_job *q = (struct iq_job *)j;
	struct host_worker *w = jobs_worker_self();
	const struct host_iqh handler = {q->ns, q->fn, q->arg, q->plugin, 0};
	xmpp_ctx_t *ctx = w->ctx;
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, q->text);
	struct fb_iq iq = {j->host, st,         q->from, q->requester,
	                   ctx,     &q->answer, false};
	size_t len;

	if (st == NULL) {
		xmpp_stanza_t *r =
		    iq_error_stanza(ctx, q->id, q->from, "cancel",
		                    "internal-server-error", NULL);

		log_warnx("an IQ from %s could not be parsed again", q->from);
		q->answer = stanza_text(ctx, r, &len);
		xmpp_stanza_release(r);
		return;
	}
	iq_call(&handler, &iq);
	xmpp_stanza_release(st);
}

/* Job, main thread: sends the answer the worker left. */
static void iq_job_finish(struct host_job *j)
{
	struct iq_job *q = (struct iq_job *)j;
	struct host *h = j->host;
	xmpp_stanza_t *r = NULL;

	if (q->answer != NULL)
		r = xmpp_stanza_new_from_string(session_ctx(h->session),
		                                q->answer);
	if (r == NULL) {
		log_warnx("plugin %s left no answer to an IQ (%s)",
		          q->plugin->name, q->ns);
		r = iq_error_stanza(session_ctx(h->session), q->id, q->from,
		                    "cancel", "internal-server-error", NULL);
	}
	session_send_to(h->session, r, q->requester);
}

/* Job: frees an IQ job. */
static void iq_job_free(struct host_job *j)
{
	struct iq_job *q = (struct iq_job *)j;

	free(q->ns);
	free(q->from);
	free(q->id);
	free(q->requester);
	free(q->text);
	free(q->answer);
	free(q);
}

static const struct host_job_ops iq_job_ops = {
    iq_job_start,
    iq_job_run,
    iq_job_finish,
    iq_job_free,
};

/* Queues the IQ iq from from (charged to its budget already) for a query
 * worker in requester key's turn, or answers "busy"; the answer goes in
 * requester's lane. */
static void iq_submit(struct host *h, const struct host_iqh *handler,
                      xmpp_stanza_t *iq, const char *from,
                      const char *requester, const char *key)
{
	xmpp_ctx_t *ctx = session_ctx(h->session);
	struct iq_job *q;
	char *text;
	size_t len;

	if (jobs_full(h, key, true)) {
		send_iq_error(h, iq, from, requester, "wait",
		              "resource-constraint",
		              "busy: try again in a moment");
		return;
	}
	text = stanza_text(ctx, iq, &len);
	if (text == NULL || len > HOST_IQ_MAX) {
		free(text);
		send_iq_error(h, iq, from, requester, "modify",
		              "policy-violation", "the request is too large");
		return;
	}
	q = xcalloc(1, sizeof(*q));
	q->job.ops = &iq_job_ops;
	q->job.host = h;
	q->job.cfg = h->cfg;
	q->fn = handler->fn;
	q->arg = handler->arg;
	q->plugin = handler->plugin;
	q->ns = xstrdup(handler->xmlns);
	q->from = xstrdup(from);
	q->requester = requester != NULL ? xstrdup(requester) : NULL;
	q->id = xmpp_stanza_get_id(iq) != NULL ? xstrdup(xmpp_stanza_get_id(iq))
	                                       : NULL;
	q->text = text;
	jobs_submit(h, &q->job, key);
}

/* Hands an IQ get/set to the plugin registered for its namespace. */
bool host_iq(struct host *h, xmpp_stanza_t *iq, const char *from,
             const char *requester)
{
	const char *type = xmpp_stanza_get_type(iq), *ns;
	xmpp_stanza_t *child;
	struct host_iqh *handler = NULL;
	struct fb_iq q;

	if (type == NULL ||
	    (strcmp(type, "get") != 0 && strcmp(type, "set") != 0) ||
	    from == NULL)
		return false;
	for (child = xmpp_stanza_get_children(iq); child != NULL;
	     child = xmpp_stanza_get_next(child))
		if (xmpp_stanza_is_tag(child))
			break;
	if (child == NULL || (ns = xmpp_stanza_get_ns(child)) == NULL)
		return false;
	for (size_t i = 0; i < h->n_iqs; i++)
		if (strcmp(h->iqs[i].xmlns, ns) == 0)
			handler = &h->iqs[i];
	if (handler == NULL)
		return false;

	if (handler->flags & FB_IQ_QUERY) {
		/* The worker queue keeps one requester's IQs in order. */
		iq_submit(h, handler, iq, from, requester,
		          requester != NULL ? requester : from);
	} else {
		q = (struct fb_iq){
		    h,    iq,   from, requester, session_ctx(h->session),
		    NULL, false};
		iq_call(handler, &q);
	}
	return true;
}

/* --- rooms and admin actions ---------------------------------------------- */

static void api_rooms_foreach(struct fb_plugin *p,
                              void (*fn)(const char *room, void *arg),
                              void *arg)
{
	if (on_worker(p, "rooms_foreach"))
		return;
	session_rooms_foreach(p->host->session, fn, arg);
}

static bool api_room_announces(struct fb_plugin *p, const char *room)
{
	if (on_worker(p, "room_announces"))
		return false;
	return session_room_announces(p->host->session, room);
}

/* fb_api.send_room: text to a room, sanitised, guarded and bounded. */
static void api_send_room(struct fb_plugin *p, const char *room,
                          const char *text)
{
	struct reply_text t = {0};

	if (on_worker(p, "send_room"))
		return;
	reply_text_add(&t, text, p->host->cfg->commands.prefix);
	session_send(p->host->session,
	             reply_message(session_ctx(p->host->session), "groupchat",
	                           room, reply_text_body(&t), false));
	reply_text_clear(&t);
}

/* Sets *cause for an action that needs what is not there. */
static int unavailable(char **cause, const char *what)
{
	*cause = xasprintf("%s is not available", what);
	return -1;
}

/* What room_in looks for among the bot's rooms. */
struct room_look {
	const char *room;
	bool found;
};

/* session_rooms_foreach callback: is it the room looked for? */
static void room_look(const char *room, void *arg)
{
	struct room_look *l = arg;

	if (strcasecmp(room, l->room) == 0)
		l->found = true;
}

/* Returns true if the bot is in room now. */
static bool room_in(struct host *h, const char *room)
{
	struct room_look l = {room, false};

	session_rooms_foreach(h->session, room_look, &l);
	return l.found;
}

/* fb_api.join_room: the admin who asks is told the outcome later (joined,
 * or why not: notice.c); a room the bot is in already is an error now. */
static int api_join_room(struct fb_plugin *p, const char *room,
                         const char *nick, char **cause)
{
	struct host *h = p->host;

	if (on_worker(p, "join_room"))
		return unavailable(cause, "join_room on a query worker");
	if (session_join(h->session, room, nick, cause) == -1)
		return -1;
	if (room_in(h, room)) {
		*cause = xasprintf("already in %s", room);
		return -1;
	}
	if (h->asking != NULL)
		notice_wait(h, room, h->asking);
	return 0;
}

static int api_leave_room(struct fb_plugin *p, const char *room, char **cause)
{
	if (on_worker(p, "leave_room"))
		return unavailable(cause, "leave_room on a query worker");
	return session_leave(p->host->session, room, cause);
}

static int api_rescan(struct fb_plugin *p, char **cause)
{
	struct host *h = p->host;

	if (on_worker(p, "rescan"))
		return unavailable(cause, "rescan on a query worker");
	if (h->deps.rescan == NULL)
		return unavailable(cause, "rescan");
	if (h->deps.rescan(h->deps.arg, cause) == -1)
		return -1;
	if (h->asking != NULL)
		notice_wait(h, NULL, h->asking);
	return 0;
}

/* fb_api.indexing [any thread]. */
static bool api_indexing(struct fb_plugin *p, uint64_t *files)
{
	struct host *h = p->host;

	*files = 0;
	return h->deps.indexing != NULL && h->deps.indexing(h->deps.arg, files);
}

static int api_describe(struct fb_plugin *p, int64_t id, const char *text,
                        char **cause)
{
	struct host *h = p->host;

	if (on_worker(p, "describe"))
		return unavailable(cause, "describe on a query worker");
	if (h->deps.describe == NULL)
		return unavailable(cause, "describe");
	return h->deps.describe(h->deps.arg, id, text, cause);
}

static int api_reload(struct fb_plugin *p, char **cause)
{
	struct host *h = p->host;

	if (on_worker(p, "reload"))
		return unavailable(cause, "reload on a query worker");
	if (h->deps.reload == NULL)
		return unavailable(cause, "reload");
	return h->deps.reload(h->deps.arg, cause);
}

/* fb_api.commands_foreach: every command, in registration order. */
static void api_commands_foreach(struct fb_plugin *p,
                                 void (*fn)(const struct fb_command *cmd,
                                            void *arg),
                                 void *arg)
{
	struct host *h = p->host;

	for (size_t i = 0; i < h->n_cmds; i++)
		fn(h->cmds[i].cmd, arg);
}

/* --- loading ------------------------------------------------------------- */

/* Returns true if name is a usable plugin name (a file name, no path). */
static bool valid_plugin_name(const char *name)
{
	size_t n = 0;

	for (; name[n] != '\0'; n++)
		if (!((name[n] >= 'a' && name[n] <= 'z') ||
		      (name[n] >= 'A' && name[n] <= 'Z') ||
		      (name[n] >= '0' && name[n] <= '9') || name[n] == '-' ||
		      name[n] == '_'))
			return false;
	return n > 0 && n <= PLUGIN_NAME_MAX;
}

/* Returns the folder plugins are loaded from (see the design note). The
 * caller frees it. */
static char *plugin_dir(const struct config *cfg)
{
	char exe[PATH_MAX], *slash, *candidate, *a, *b;
	ssize_t n;
	bool build_tree = false;

	if (cfg->plugins.path != NULL && cfg->plugins.path[0] != '\0')
		return xstrdup(cfg->plugins.path);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL)
			*slash = '\0';
		candidate = xasprintf("%s/../plugins", exe);
		a = realpath(candidate, NULL);
		b = realpath(FISBOT_PLUGIN_DIR, NULL);
		build_tree = a != NULL && b != NULL && strcmp(a, b) == 0;
		free(candidate);
		free(a);
		free(b);
	}
	return xstrdup(build_tree ? FISBOT_PLUGIN_DIR
	                          : FISBOT_INSTALL_PLUGIN_DIR);
}

/* Loads and initialises one plugin. Returns it, or NULL with *cause. */
static struct fb_plugin *plugin_load(struct host *h, const char *dir,
                                     const char *name, char **cause)
{
	struct fb_plugin *p = NULL;
	const unsigned *version;
	const char *declared;
	const struct fb_plugin_table *table;
	int (*init)(struct fb_plugin *, const struct fb_api *, char **);
	char *path = NULL, *why = NULL;
	void *dl = NULL;

	if (!valid_plugin_name(name)) {
		*cause = xasprintf("[plugins] load: \"%s\" is not a plugin "
		                   "name (letters, digits, - and _)",
		                   name);
		return NULL;
	}
	path = xasprintf("%s/%s.so", dir, name);
	if (access(path, F_OK) != 0) {
		*cause = xasprintf("plugin %s: %s: %s (see [plugins] path)",
		                   name, path, strerror(errno));
		goto fail;
	}
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		*cause =
		    xasprintf("plugin %s: cannot load it: %s", name, dlerror());
		goto fail;
	}
	version = dlsym(dl, "fisbot_plugin_api_version");
	declared = dlsym(dl, "fisbot_plugin_name");
	if (version == NULL || declared == NULL) {
		*cause = xasprintf("plugin %s: %s is not a fisbot plugin (it "
		                   "lacks FISBOT_PLUGIN())",
		                   name, path);
		goto fail;
	}
	if (*version != FB_API_VERSION) {
		*cause =
		    xasprintf("plugin %s: built for plugin API version %u, "
		              "but this fisbot has version %u: rebuild it",
		              name, *version, (unsigned)FB_API_VERSION);
		goto fail;
	}
	if (strnlen(declared, PLUGIN_NAME_MAX + 1) > PLUGIN_NAME_MAX ||
	    strcmp(declared, name) != 0) {
		char *d = text_sanitize(declared,
		                        strnlen(declared, PLUGIN_NAME_MAX + 1));

		*cause = xasprintf("plugin %s: %s calls itself \"%s\"", name,
		                   path, d);
		free(d);
		goto fail;
	}
	/* Known to have this version's layout only now. */
	table = dlsym(dl, "fisbot_plugin_table");
	*(void **)&init = dlsym(dl, "fisbot_plugin_init");
	if (table == NULL && init == NULL) {
		*cause = xasprintf("plugin %s: %s has neither a command table "
		                   "(FISBOT_PLUGIN(name, commands)) nor "
		                   "fisbot_plugin_init",
		                   name, path);
		goto fail;
	}

	p = xcalloc(1, sizeof(*p));
	p->host = h;
	p->name = xstrdup(name);
	p->dl = dl;
	*(void **)&p->fini = dlsym(dl, "fisbot_plugin_fini");
	if (table != NULL) {
		/* Its api first: handlers and init use it. */
		if (table->api != NULL)
			*table->api = &h->api;
		if (register_table(h, p, table->commands, table->n_commands,
		                   cause) != 0)
			goto fail;
	}
	h->initialising = p;
	if (init != NULL && init(p, &h->api, &why) != 0) {
		h->initialising = NULL;
		*cause = xasprintf("plugin %s: init failed: %s", name,
		                   why != NULL ? why : "(no reason given)");
		free(why);
		goto fail;
	}
	h->initialising = NULL;
	free(path);
	return p;

fail:
	if (p != NULL) {
		/* Forget what the failed plugin registered. */
		size_t j = 0;

		for (size_t i = 0; i < h->n_cmds; i++)
			if (h->cmds[i].plugin != p)
				h->cmds[j++] = h->cmds[i];
		h->n_cmds = j;
		j = 0;
		for (size_t i = 0; i < h->n_iqs; i++) {
			if (h->iqs[i].plugin != p)
				h->iqs[j++] = h->iqs[i];
			else
				free(h->iqs[i].xmlns);
		}
		h->n_iqs = j;
		j = 0;
		for (size_t i = 0; i < h->n_hooks; i++)
			if (h->hooks[i].plugin != p)
				h->hooks[j++] = h->hooks[i];
		h->n_hooks = j;
		for (size_t i = h->n_timers; i-- > 0;) {
			if (h->timers[i]->plugin != p)
				continue;
			cron_del(h->timers[i]->ct);
			timer_drop(h, i);
		}
		free(p->name);
		free(p);
	}
	if (dl != NULL)
		dlclose(dl);
	free(path);
	return NULL;
}

/* Fills the host's side of the API. */
static void fill_api(struct fb_api *api)
{
	api->version = FB_API_VERSION;
	api->register_commands = api_register_commands;
	api->register_iq = api_register_iq;
	api->add_feature = api_add_feature;
	api->hook = api_hook;
	api->add_timer = api_add_timer;
	api->set_data = api_set_data;
	api->data = api_data;
	api->config = api_config;
	api->setting = api_setting;
	api->catalogue = api_catalogue;
	api->file_url = api_file_url;
	api->upload_url = api_upload_url;
	api->web_url = api_web_url;
	api->iq_stanza = api_iq_stanza;
	api->iq_ctx = api_iq_ctx;
	api->iq_from = api_iq_from;
	api->iq_result = api_iq_result;
	api->iq_error = api_iq_error;
	api->rooms_foreach = api_rooms_foreach;
	api->room_announces = api_room_announces;
	api->send_room = api_send_room;
	api->join_room = api_join_room;
	api->leave_room = api_leave_room;
	api->rescan = api_rescan;
	api->describe = api_describe;
	api->reload = api_reload;
	api->commands_foreach = api_commands_foreach;
	api->transfers = api_transfers;
	api->indexing = api_indexing;
	dispatch_fill_api(api);
}

/* The expiry timer: forgets full buckets and expired continuations. */
static bool expire_due(void *arg)
{
	struct host *h = arg;
	uint64_t now = host_now_ms(h);

	ratelimit_expire(h->rl, now);
	dispatch_expire(h, now);
	return true;
}

/* Loads every plugin of cfg (see host.h). */
struct host *host_new(const struct config *cfg, struct session *session,
                      const struct host_deps *deps, char **cause)
{
	struct host *h = xcalloc(1, sizeof(*h));
	char *dir;

	h->cfg = cfg;
	h->session = session;
	h->deps = *deps;
	fill_api(&h->api);
	h->builtin.host = h;
	h->builtin.name = xstrdup("fisbot");
	h->rl = ratelimit_new(cfg->limits.burst, cfg->limits.rate,
	                      cfg->limits.per_ms);
	h->expire = cron_add(deps->cron, EXPIRE_MS, expire_due, h);
	if (api_register_commands(&h->builtin, dispatch_builtins,
	                          dispatch_n_builtins) != 0)
		fatalx("the built-in commands do not register");

	dir = plugin_dir(cfg);
	for (size_t i = 0; i < cfg->plugins.load.n; i++) {
		const char *name = cfg->plugins.load.v[i];
		struct fb_plugin *p;

		for (size_t j = 0; j < h->n_plugins; j++) {
			if (strcmp(h->plugins[j]->name, name) == 0) {
				*cause = xasprintf("[plugins] load: plugin %s "
				                   "is named twice",
				                   name);
				goto fail;
			}
		}
		p = plugin_load(h, dir, name, cause);
		if (p == NULL)
			goto fail;
		h->plugins = xreallocarray(h->plugins, h->n_plugins + 1,
		                           sizeof(*h->plugins));
		h->plugins[h->n_plugins++] = p;
		log_debug("plugin %s loaded from %s", name, dir);
	}
	free(dir);
	dir = NULL;
	/* After the plugins: workers run what they registered. */
	if (jobs_start(h, cause) != 0)
		goto fail;
	return h;

fail:
	free(dir);
	host_free(h);
	return NULL;
}

/* Calls every plugin's fini, then unloads them and frees the host. */
void host_free(struct host *h)
{
	if (h == NULL)
		return;
	/* Workers first: they run plugins' code, and pending requests hold
	 * plugins' state. */
	jobs_stop(h);
	transfers_clear(h);
	dispatch_expire(h, UINT64_MAX);
	for (size_t i = h->n_plugins; i-- > 0;)
		if (h->plugins[i]->fini != NULL)
			h->plugins[i]->fini(h->plugins[i]);
	for (size_t i = 0; i < h->n_iqs; i++)
		free(h->iqs[i].xmlns);
	free(h->iqs);
	free(h->cmds);
	free(h->hooks);
	for (size_t i = 0; i < h->n_timers; i++) {
		cron_del(h->timers[i]->ct);
		free(h->timers[i]);
	}
	free(h->timers);
	cron_del(h->expire);
	free(h->more);
	for (size_t i = h->n_plugins; i-- > 0;) {
		dlclose(h->plugins[i]->dl);
		free(h->plugins[i]->name);
		free(h->plugins[i]);
	}
	free(h->plugins);
	free(h->builtin.name);
	ratelimit_free(h->rl);
	notice_free(h);
	free(h);
}

/* --- events, timers, configuration ---------------------------------------- */

/* Calls the hooks of an event. */
static void hooks_run(struct host *h, enum fb_event ev, int64_t file_id,
                      const char *room, bool first_build)
{
	struct fb_event_data d = {file_id, room, first_build};

	for (size_t i = 0; i < h->n_hooks; i++)
		if (h->hooks[i].ev == ev)
			h->hooks[i].fn(h->hooks[i].plugin, ev, &d,
			               h->hooks[i].arg);
}

/* The session joined or left a room. */
void host_room(struct host *h, enum session_room_event kind, const char *room)
{
	if (kind == SESSION_ROOM_LEFT)
		transfers_drop(h, NULL, room);
	hooks_run(h,
	          kind == SESSION_ROOM_JOINED ? FB_EVENT_ROOM_JOINED
	                                      : FB_EVENT_ROOM_LEFT,
	          0, room, false);
	if (kind == SESSION_ROOM_JOINED)
		notice_joined(h, room);
}

/* The indexer catalogued a file. */
void host_file_added(struct host *h, int64_t id, bool first_build)
{
	hooks_run(h, FB_EVENT_FILE_ADDED, id, NULL, first_build);
}

/* A file left the catalogue. */
void host_file_removed(struct host *h, int64_t id)
{
	hooks_run(h, FB_EVENT_FILE_REMOVED, id, NULL, false);
}

/* Hands a chat message to the dispatcher (dispatch.c). */
void host_message(struct host *h, const struct session_origin *o,
                  const char *body)
{
	dispatch_message(h, o, body);
}

bool host_busy(const struct host *h)
{
	return jobs_busy(h);
}

/* Applies a reloaded configuration. */
void host_reconfigure(struct host *h, const struct config *cfg)
{
	h->cfg = cfg;
	ratelimit_configure(h->rl, cfg->limits.burst, cfg->limits.rate,
	                    cfg->limits.per_ms);
	/* The queue stays; new limits may admit some of it. */
	if (h->tq.head != NULL && h->deps.slot_available != NULL)
		transfers_pump(h);
}

void host_gone(struct host *h, const char *sender)
{
	transfers_drop(h, sender, NULL);
}

void host_slot_freed(struct host *h)
{
	if (h->tq.head != NULL && h->deps.slot_available != NULL)
		transfers_pump(h);
}
