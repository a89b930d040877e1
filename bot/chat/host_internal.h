/*
 * What host.c (plugins, registration, IQs, events, timers) and dispatch.c
 * (chat commands and their replies) share. Nothing outside these two files
 * includes this header.
 */
#ifndef FISBOT_HOST_INTERNAL_H
#define FISBOT_HOST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fisbot_plugin.h"
#include "host.h"
#include "ratelimit.h"

/* One loaded plugin (the built-in commands have one too, dl == NULL). */
struct fb_plugin {
	struct host *host;
	char *name;
	void *dl;
	void *data;
	void (*fini)(struct fb_plugin *p);
};

/* A registered command and the plugin that owns it. */
struct host_cmd {
	const struct fb_command *cmd;
	struct fb_plugin *plugin;
};

struct host_iqh {
	char *xmlns;
	fb_iq_fn fn;
	void *arg;
	struct fb_plugin *plugin;
};

struct host_hook {
	enum fb_event ev;
	fb_event_fn fn;
	void *arg;
	struct fb_plugin *plugin;
};

struct host_timer {
	uint64_t period_ms, due_ms;
	fb_timer_fn fn;
	void *arg;
	struct fb_plugin *plugin;
	bool dead;
};

/* A requester's continuation for "more". */
struct host_more {
	char *sender;
	struct fb_plugin *plugin;
	fb_more_fn fn;
	void *state;
	void (*free_state)(void *state);
	uint64_t expires_ms;
};

#define HOST_MORE_MAX      1024   /* continuations kept at once */
#define HOST_MORE_LIFETIME 600000 /* ms: 10 minutes */

struct host {
	const struct config *cfg;
	struct host_deps deps;
	struct session *session;
	struct fb_api api;

	struct fb_plugin **plugins;
	size_t n_plugins;
	struct fb_plugin builtin;       /* owns "more" */
	struct fb_plugin *initialising; /* the plugin in init, or NULL */

	struct host_cmd *cmds;
	size_t n_cmds;
	struct host_iqh *iqs;
	size_t n_iqs;
	struct host_hook *hooks;
	size_t n_hooks;
	struct host_timer *timers;
	size_t n_timers;
	struct host_more *more;
	size_t n_more;

	struct strlist features; /* disco features, replayed to the session */

	struct ratelimit *rl;
	uint64_t next_expire_ms;
};

/* host.c */
/* Returns the time in ms on the host's monotonic clock. */
uint64_t host_now_ms(const struct host *h);
/* Returns the command called name (or one of its aliases), or NULL. */
const struct host_cmd *host_find_command(const struct host *h,
                                         const char *name);
/* Returns true if bare JID jid is one of [admins]. */
bool host_jid_is_admin(const struct host *h, const char *jid);

/* dispatch.c */
/* The built-in commands ("more"), registered by host_new. */
extern const struct fb_command dispatch_builtins[];
extern const size_t dispatch_n_builtins;
/* Fills the request functions of api (req_*, reply*, set_more). */
void dispatch_fill_api(struct fb_api *api);
/* Drops the continuations that expired by now_ms (all if now_ms is
 * UINT64_MAX). */
void dispatch_expire(struct host *h, uint64_t now_ms);

#endif
