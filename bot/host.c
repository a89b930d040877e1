/*
 * The plugin host: loads the plugins named by [plugins] load from the
 * plugin folder with dlopen(RTLD_NOW | RTLD_LOCAL), checks the API version
 * and name each one declares, calls its init with the struct fb_api built
 * here, and keeps what it registers: commands (looked up by dispatch.c),
 * IQ handlers by namespace, event hooks and timers.
 *
 * Design note. A plugin that cannot be loaded is a configuration error: the
 * bot refuses to start (host_new returns NULL, the daemon exits 2) rather
 * than run without a command its users expect. The plugin folder is
 * [plugins] path if set, else the build tree's plugin folder when the
 * running executable is the one in the build tree, else the installed one.
 * IQs reach the host already charged to their sender's IQ budget (the
 * session's, [limits] iq_burst and iq_rate), not to the chat commands'
 * buckets; their answers go in the sender's lane of the send queue.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "host_internal.h"
#include "log.h"
#include "reply.h"
#include "text.h"
#include "version.h"

#define PLUGIN_NAME_MAX 64
#define NS_STANZAS      "urn:ietf:params:xml:ns:xmpp-stanzas"

/* One IQ being answered by a plugin. */
struct fb_iq {
	struct host *host;
	xmpp_stanza_t *stanza;
	const char *from;
	const char *requester; /* the send queue's lane for the answer */
	bool answered;
};

/* --- clock, lookups ----------------------------------------------------- */

/* Returns the monotonic time in ms (or the test clock of the deps). */
uint64_t host_now_ms(const struct host *h)
{
	struct timespec ts;

	if (h->deps.now_ms != NULL)
		return h->deps.now_ms(h->deps.arg);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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
bool host_jid_is_admin(const struct host *h, const char *jid)
{
	const struct strlist *l = &h->cfg->admins.jids;

	if (jid == NULL)
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], jid) == 0)
			return true;
	return false;
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

/* fb_api.register_commands: adds a const table of commands. */
static int api_register_commands(struct fb_plugin *p,
                                 const struct fb_command *cmds, size_t n)
{
	struct host *h = p->host;
	size_t first = h->n_cmds;

	if (h->initialising != p && p != &h->builtin) {
		log_errorx("plugin %s: commands can only be registered during "
		           "init",
		           p->name);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *taken_by = NULL;
		const char *why = check_command(h, &cmds[i], &taken_by);

		if (why != NULL) {
			log_errorx("plugin %s: command \"%s\": %s%s%s", p->name,
			           cmds[i].name != NULL ? cmds[i].name
			                                : "(null)",
			           why, taken_by != NULL ? " by plugin " : "",
			           taken_by != NULL ? taken_by : "");
			h->n_cmds = first; /* all or nothing */
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

/* fb_api.register_iq: routes IQs of namespace xmlns to fn. */
static int api_register_iq(struct fb_plugin *p, const char *xmlns, fb_iq_fn fn,
                           void *arg)
{
	struct host *h = p->host;

	for (size_t i = 0; i < h->n_iqs; i++) {
		if (strcmp(h->iqs[i].xmlns, xmlns) == 0) {
			log_errorx("plugin %s: IQ namespace %s is already "
			           "handled by plugin %s",
			           p->name, xmlns, h->iqs[i].plugin->name);
			return -1;
		}
	}
	h->iqs = xreallocarray(h->iqs, h->n_iqs + 1, sizeof(*h->iqs));
	h->iqs[h->n_iqs] = (struct host_iqh){xstrdup(xmlns), fn, arg, p};
	h->n_iqs++;
	return 0;
}

/* fb_api.add_feature: a disco#info feature. */
static void api_add_feature(struct fb_plugin *p, const char *feature)
{
	struct host *h = p->host;

	if (strlist_contains(&h->features, feature))
		return;
	strlist_add(&h->features, feature);
	/* Features added during init reach the session in host_set_session. */
	if (h->session != NULL)
		session_add_feature(h->session, feature);
}

/* fb_api.hook: calls fn on event ev. */
static void api_hook(struct fb_plugin *p, enum fb_event ev, fb_event_fn fn,
                     void *arg)
{
	struct host *h = p->host;

	h->hooks = xreallocarray(h->hooks, h->n_hooks + 1, sizeof(*h->hooks));
	h->hooks[h->n_hooks++] = (struct host_hook){ev, fn, arg, p};
}

/* fb_api.add_timer: calls fn every period_ms (from host_tick). */
static void api_add_timer(struct fb_plugin *p, unsigned long period_ms,
                          fb_timer_fn fn, void *arg)
{
	struct host *h = p->host;
	uint64_t period = period_ms > 0 ? period_ms : 1;

	h->timers =
	    xreallocarray(h->timers, h->n_timers + 1, sizeof(*h->timers));
	h->timers[h->n_timers++] = (struct host_timer){
	    period, host_now_ms(h) + period, fn, arg, p, false};
}

static void api_set_data(struct fb_plugin *p, void *data)
{
	p->data = data;
}

static void *api_data(struct fb_plugin *p)
{
	return p->data;
}

/* --- context ------------------------------------------------------------ */

static const struct config *api_config(struct fb_plugin *p)
{
	return p->host->cfg;
}

/* fb_api.setting: a key of the plugin's [plugin "NAME"] section. */
static const char *api_setting(struct fb_plugin *p, const char *key)
{
	const struct plugin_config *pc = config_plugin(p->host->cfg, p->name);

	if (pc == NULL)
		return NULL;
	for (size_t i = 0; i < pc->keys.n && i < pc->values.n; i++)
		if (strcmp(pc->keys.v[i], key) == 0)
			return pc->values.v[i];
	return NULL;
}

static struct catalogue *api_catalogue(struct fb_plugin *p)
{
	return p->host->deps.catalogue;
}

/* fb_api.file_url: a download URL, or NULL if there is no HTTP server. */
static char *api_file_url(struct fb_plugin *p, const struct cat_file *f)
{
	struct host *h = p->host;

	if (h->deps.file_url == NULL)
		return NULL;
	return h->deps.file_url(h->deps.arg, f);
}

/* --- IQs ----------------------------------------------------------------- */

static xmpp_stanza_t *api_iq_stanza(struct fb_iq *iq)
{
	return iq->stanza;
}

static xmpp_ctx_t *api_iq_ctx(struct fb_iq *iq)
{
	return session_ctx(iq->host->session);
}

static const char *api_iq_from(struct fb_iq *iq)
{
	return iq->from;
}

/* Sends an IQ error to from in answer to stanza (never to an error), in
 * requester's lane. */
static void send_iq_error(struct host *h, xmpp_stanza_t *stanza,
                          const char *from, const char *requester,
                          const char *type, const char *condition,
                          const char *text)
{
	xmpp_ctx_t *ctx = session_ctx(h->session);
	xmpp_stanza_t *r, *e, *c;

	r = xmpp_iq_new(ctx, "error", xmpp_stanza_get_id(stanza));
	xmpp_stanza_set_to(r, from);
	e = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(e, "error");
	xmpp_stanza_set_type(e, type);
	c = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(c, condition);
	xmpp_stanza_set_ns(c, NS_STANZAS);
	xmpp_stanza_add_child_ex(e, c, 0);
	if (text != NULL) {
		char *clean = text_sanitize(text, strlen(text));
		xmpp_stanza_t *t = xmpp_stanza_new(ctx), *body;

		xmpp_stanza_set_name(t, "text");
		xmpp_stanza_set_ns(t, NS_STANZAS);
		body = xmpp_stanza_new(ctx);
		xmpp_stanza_set_text(body, clean);
		xmpp_stanza_add_child_ex(t, body, 0);
		xmpp_stanza_add_child_ex(e, t, 0);
		free(clean);
	}
	xmpp_stanza_add_child_ex(r, e, 0);
	session_send_to(h->session, r, requester);
}

/* fb_api.iq_result: answers with payload (released here). */
static void api_iq_result(struct fb_iq *iq, xmpp_stanza_t *payload)
{
	xmpp_ctx_t *ctx = session_ctx(iq->host->session);
	xmpp_stanza_t *r;
	char *text = NULL;
	size_t len = 0;

	if (iq->answered) {
		log_warnx("an IQ handler answered twice (result dropped)");
		if (payload != NULL)
			xmpp_stanza_release(payload);
		return;
	}
	iq->answered = true;
	r = xmpp_iq_new(ctx, "result", xmpp_stanza_get_id(iq->stanza));
	xmpp_stanza_set_to(r, iq->from);
	if (payload != NULL)
		xmpp_stanza_add_child_ex(r, payload, 0);
	/* No stanza the bot sends exceeds 64 KiB: refuse a bigger one. */
	if (xmpp_stanza_to_text(r, &text, &len) == XMPP_EOK &&
	    len > REPLY_MAX_STANZA) {
		log_warnx("an IQ answer of %zu bytes to %s is too large", len,
		          iq->from);
		xmpp_stanza_release(r);
		r = NULL;
		send_iq_error(iq->host, iq->stanza, iq->from, iq->requester,
		              "cancel", "resource-constraint",
		              "the answer is too large");
	}
	if (text != NULL)
		xmpp_free(ctx, text);
	if (r != NULL)
		session_send_to(iq->host->session, r, iq->requester);
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
	send_iq_error(iq->host, iq->stanza, iq->from, iq->requester, type,
	              condition, text);
}

/* Hands an IQ get/set to the plugin registered for its namespace. */
bool host_iq(struct host *h, xmpp_stanza_t *iq, const char *from,
             const char *requester)
{
	const char *type = xmpp_stanza_get_type(iq), *ns;
	xmpp_stanza_t *child;
	struct host_iqh *handler = NULL;
	struct fb_iq q;

	if (h->session == NULL || type == NULL ||
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

	q = (struct fb_iq){h, iq, from, requester, false};
	handler->fn(&q, handler->arg);
	if (!q.answered) {
		log_warnx("plugin %s did not answer an IQ (%s)",
		          handler->plugin->name, ns);
		send_iq_error(h, iq, from, requester, "cancel",
		              "internal-server-error", NULL);
	}
	return true;
}

/* --- rooms and admin actions ---------------------------------------------- */

static void api_rooms_foreach(struct fb_plugin *p,
                              void (*fn)(const char *room, void *arg),
                              void *arg)
{
	if (p->host->session != NULL)
		session_rooms_foreach(p->host->session, fn, arg);
}

static bool api_room_announces(struct fb_plugin *p, const char *room)
{
	return p->host->session != NULL &&
	       session_room_announces(p->host->session, room);
}

/* fb_api.send_room: text to a room, sanitised, guarded and bounded. */
static void api_send_room(struct fb_plugin *p, const char *room,
                          const char *text)
{
	struct reply_text t = {0};

	if (p->host->session == NULL)
		return;
	reply_text_add(&t, text, p->host->cfg->commands.prefix);
	session_send_room(p->host->session, room, reply_text_body(&t));
	reply_text_clear(&t);
}

/* Sets *cause for an action that needs what is not there. */
static int unavailable(char **cause, const char *what)
{
	*cause = xasprintf("%s is not available", what);
	return -1;
}

static int api_join_room(struct fb_plugin *p, const char *room,
                         const char *nick, char **cause)
{
	if (p->host->session == NULL)
		return unavailable(cause, "the XMPP session");
	return session_join(p->host->session, room, nick, cause);
}

static int api_leave_room(struct fb_plugin *p, const char *room, char **cause)
{
	if (p->host->session == NULL)
		return unavailable(cause, "the XMPP session");
	return session_leave(p->host->session, room, cause);
}

static int api_rescan(struct fb_plugin *p, char **cause)
{
	struct host *h = p->host;

	if (h->deps.rescan == NULL)
		return unavailable(cause, "rescan");
	return h->deps.rescan(h->deps.arg, cause);
}

static int api_describe(struct fb_plugin *p, int64_t id, const char *text,
                        char **cause)
{
	struct host *h = p->host;

	if (h->deps.describe == NULL)
		return unavailable(cause, "describe");
	return h->deps.describe(h->deps.arg, id, text, cause);
}

static int api_reload(struct fb_plugin *p, char **cause)
{
	struct host *h = p->host;

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
	*(void **)&init = dlsym(dl, "fisbot_plugin_init");
	if (version == NULL || declared == NULL || init == NULL) {
		*cause = xasprintf("plugin %s: %s is not a fisbot plugin (it "
		                   "lacks FISBOT_PLUGIN() or "
		                   "fisbot_plugin_init)",
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

	p = xcalloc(1, sizeof(*p));
	p->host = h;
	p->name = xstrdup(name);
	p->dl = dl;
	*(void **)&p->fini = dlsym(dl, "fisbot_plugin_fini");
	h->initialising = p;
	if (init(p, &h->api, &why) != 0) {
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
		j = 0;
		for (size_t i = 0; i < h->n_timers; i++)
			if (h->timers[i].plugin != p)
				h->timers[j++] = h->timers[i];
		h->n_timers = j;
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
	dispatch_fill_api(api);
}

/* Loads every plugin of cfg (see host.h). */
struct host *host_new(const struct config *cfg, const struct host_deps *deps,
                      char **cause)
{
	struct host *h = xcalloc(1, sizeof(*h));
	char *dir;

	h->cfg = cfg;
	if (deps != NULL)
		h->deps = *deps;
	fill_api(&h->api);
	h->builtin.host = h;
	h->builtin.name = xstrdup("fisbot");
	h->rl = ratelimit_new(cfg->limits.burst, cfg->limits.rate,
	                      cfg->limits.per_ms);
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
	return h;

fail:
	free(dir);
	host_free(h);
	return NULL;
}

/* Gives the host the session it sends through. */
void host_set_session(struct host *h, struct session *s)
{
	h->session = s;
	for (size_t i = 0; i < h->features.n; i++)
		session_add_feature(s, h->features.v[i]);
}

/* Calls every plugin's fini, then unloads them and frees the host. */
void host_free(struct host *h)
{
	if (h == NULL)
		return;
	dispatch_expire(h, UINT64_MAX);
	for (size_t i = h->n_plugins; i-- > 0;)
		if (h->plugins[i]->fini != NULL)
			h->plugins[i]->fini(h->plugins[i]);
	for (size_t i = 0; i < h->n_iqs; i++)
		free(h->iqs[i].xmlns);
	free(h->iqs);
	free(h->cmds);
	free(h->hooks);
	free(h->timers);
	free(h->more);
	for (size_t i = h->n_plugins; i-- > 0;) {
		dlclose(h->plugins[i]->dl);
		free(h->plugins[i]->name);
		free(h->plugins[i]);
	}
	free(h->plugins);
	free(h->builtin.name);
	strlist_free(&h->features);
	ratelimit_free(h->rl);
	free(h);
}

/* --- events, timers, configuration ---------------------------------------- */

/* Calls the hooks of an event. */
void host_event(struct host *h, int event, int64_t file_id, const char *room)
{
	struct fb_event_data d = {file_id, room};

	for (size_t i = 0; i < h->n_hooks; i++)
		if ((int)h->hooks[i].ev == event)
			h->hooks[i].fn(h->hooks[i].plugin, (enum fb_event)event,
			               &d, h->hooks[i].arg);
}

/* Runs the timers that are due and expires old state. */
void host_tick(struct host *h)
{
	uint64_t now = host_now_ms(h);
	size_t j = 0;

	/* By index: a timer may add timers (and move the array). */
	for (size_t i = 0; i < h->n_timers; i++) {
		struct host_timer *t = &h->timers[i];

		if (t->dead || now < t->due_ms)
			continue;
		t->due_ms = now + t->period_ms;
		if (!t->fn(t->plugin, t->arg))
			h->timers[i].dead = true;
	}
	for (size_t i = 0; i < h->n_timers; i++)
		if (!h->timers[i].dead)
			h->timers[j++] = h->timers[i];
	h->n_timers = j;

	if (now >= h->next_expire_ms) {
		ratelimit_expire(h->rl, now);
		dispatch_expire(h, now);
		h->next_expire_ms = now + 10000;
	}
}

/* Applies a reloaded configuration. */
void host_reconfigure(struct host *h, const struct config *cfg)
{
	h->cfg = cfg;
	ratelimit_configure(h->rl, cfg->limits.burst, cfg->limits.rate,
	                    cfg->limits.per_ms);
}
