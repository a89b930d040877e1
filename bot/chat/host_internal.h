/*
 * What host.c (plugins, registration, IQs, events, timers), dispatch.c
 * (chat commands and their replies) and jobs.c (the query workers and the
 * requesters' turns) share. Nothing outside these files includes this
 * header.
 */
#ifndef FISBOT_HOST_INTERNAL_H
#define FISBOT_HOST_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cron.h"
#include "base/queue.h"
#include "base/ratelimit.h"
#include "fisbot/fisbot_plugin.h"
#include "host.h"

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
	unsigned flags; /* FB_IQ_* */
};

struct host_hook {
	enum fb_event ev;
	fb_event_fn fn;
	void *arg;
	struct fb_plugin *plugin;
};

/* A plugin's timer: a timer of the main thread's cron. */
struct host_timer {
	struct host *host;
	struct cron_timer *ct;
	fb_timer_fn fn;
	void *arg;
	struct fb_plugin *plugin;
};

/* A requester's continuation for "more". */
struct host_more {
	char *sender;
	struct fb_plugin *plugin;
	fb_more_fn fn;
	void *state;
	void (*free_state)(void *state);
	uint64_t expires_ms;
	bool worker; /* fn runs on a query worker */
};

#define HOST_MORE_MAX      1024   /* continuations kept at once */
#define HOST_MORE_LIFETIME 600000 /* ms: 10 minutes */

#define HOST_QUEUE_MAX 256 /* requests waiting for their turn, in all */
#define HOST_LANE_MAX  32  /* requests of one requester at once */
#define HOST_IQ_MAX    FB_MAX_STANZA /* bytes of an IQ queued for a worker */

/* How a job runs once it is its requester's turn. */
enum job_step {
	JOB_MAIN,     /* on the main thread, at once */
	JOB_WORKER,   /* on a query worker */
	JOB_ANSWERED, /* nothing to run: its answer is ready */
};

/* Where a job is (the main thread's view). */
enum job_state {
	JOB_WAITING, /* behind its requester's earlier jobs */
	JOB_OUT,     /* with the query workers */
	JOB_DONE,    /* run: its answer is ready */
};

struct host_job;

/* What one kind of job (a command, an IQ) does at each step. */
struct host_job_ops {
	/* Main thread, at the job's turn: decides how it runs. */
	enum job_step (*start)(struct host_job *j);
	/* Runs the handler, on a query worker or the main thread. */
	void (*run)(struct host_job *j);
	/* Main thread: sends the answer. */
	void (*finish)(struct host_job *j);
	/* Main thread: frees the job (answered or not). */
	void (*free)(struct host_job *j);
};

struct host_lane;

/* One request answered in its requester's turn: the first member of a
 * command (struct fb_request) or an IQ job (host.c). */
struct host_job {
	/* First: in the workers' queue, then in the main thread's inbox
	 * (one at a time). */
	struct queue_item item;
	const struct host_job_ops *ops;
	struct host *host;
	const struct config *cfg; /* in force when the request came */
	enum job_state state;     /* main thread */
	struct host_lane *lane;
	struct host_job *next; /* in its lane (main thread) */
};

/* A request waiting in the download queue: its link, to send when a
 * slot frees (transfers.c). */
struct host_waiting {
	struct fb_request *r; /* detached (dispatch_detach) */
	char *sender;
	char *room; /* or NULL */
	int64_t since_ms;
	struct host_waiting *next;
};

/* The download queue (main thread; n also read by the workers). */
struct host_transfers {
	struct host_waiting *head;
	size_t n;
	struct cron_timer *timer; /* looks for free slots while non-empty */
};

/* One requester's jobs, oldest first (main thread). */
struct host_lane {
	char *key;
	struct host_job *head, *tail;
	size_t n;
	struct host_lane *next;
};

/* One query worker. */
struct host_worker {
	struct host *host;
	pthread_t thread;
	bool started;
	struct catalogue *cat; /* its own read-only connection, or NULL */
	xmpp_ctx_t *ctx;       /* its own libstrophe context */
	struct host_job *job;  /* the job it runs (its own thread only) */
};

/* The query workers, their queue and the requesters' lanes. */
struct host_pool {
	struct queue *queued; /* jobs for the workers; NULL until jobs_start */
	struct host_worker *workers;
	size_t n_workers;
	/* Main thread only. */
	struct host_lane *lanes;
	size_t n_jobs; /* in all lanes */
	size_t n_out;  /* with the workers */
};

struct host {
	const struct config *cfg;
	struct host_deps deps;
	struct session *session; /* below the host, given to host_new */
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
	struct host_timer **timers;
	size_t n_timers;
	struct cron_timer *expire; /* rate limits and continuations */
	struct host_more *more;
	size_t n_more;

	struct ratelimit *rl;

	struct host_pool pool;
	struct host_transfers tq;

	/* The admin whose command runs now on the main thread (its full
	 * JID), or NULL; and the admins waiting for an outcome
	 * (notice.c). */
	const char *asking;
	struct host_notice *notices;
	size_t n_notices;
};

/* host.c */
/* Returns the time in ms on the host's clock (the cron's). */
uint64_t host_now_ms(const struct host *h);
/* Returns the command called name (or one of its aliases), or NULL. */
const struct host_cmd *host_find_command(const struct host *h,
                                         const char *name);
/* Returns true if bare JID jid is one of cfg's [admins]. */
bool host_jid_is_admin(const struct config *cfg, const char *jid);
/* Returns the configuration a handler on this thread works with: the one
 * its request came under on a query worker, else the host's. */
const struct config *host_config(const struct host *h);
/* Returns the catalogue connection of this thread: a query worker's own,
 * else the main thread's (deps.catalogue; may be NULL). */
struct catalogue *host_catalogue(const struct host *h);

/* notice.c */
/* Records that the admin jid (a full JID) waits for the outcome of a join
 * of room, or of a rescan (room NULL). */
void notice_wait(struct host *h, const char *room, const char *jid);
/* The bot is in room: tells the admins who asked. */
void notice_joined(struct host *h, const char *room);
void notice_free(struct host *h);

/* dispatch.c */
/* The built-in commands ("more"), registered by host_new. */
extern const struct fb_command dispatch_builtins[];
extern const size_t dispatch_n_builtins;
/* Fills the request functions of api (req_*, reply*, set_more). */
void dispatch_fill_api(struct fb_api *api);
/* Turns a chat message into at most one command (see host_message). */
void dispatch_message(struct host *h, const struct session_origin *o,
                      const char *body);
/* Drops the continuations that expired by now_ms (all if now_ms is
 * UINT64_MAX). */
void dispatch_expire(struct host *h, uint64_t now_ms);

/* Returns a new request that holds r's link (taken from r) and where to
 * send it, to send later with dispatch_send_detached. */
struct fb_request *dispatch_detach(struct fb_request *r);
/* Returns the path of a detached request's file. */
const char *dispatch_link_path(const struct fb_request *r);
/* Sends a detached request's link under the host's configuration now,
 * then frees it. */
void dispatch_send_detached(struct fb_request *r);
/* Frees a detached request unsent. */
void dispatch_free_detached(struct fb_request *r);

/* transfers.c */
/* At a get's answer (main thread): if no slot is free for its requester,
 * or others wait, queues r's link and makes the reply the queue's line
 * (or an error if the queue is full); else leaves r as it is. */
void transfers_get(struct host *h, struct fb_request *r);
/* Hands the links of the first waiting requesters that a free slot
 * admits. */
void transfers_pump(struct host *h);
/* Takes sender's requests out of the queue (room: every occupant of room
 * if sender is NULL); returns how many. */
unsigned transfers_drop(struct host *h, const char *sender, const char *room);
/* Fills out for sender. */
void transfers_info(struct host *h, const char *sender,
                    struct fb_queue_info *out);
/* Frees the queue (host_free). */
void transfers_clear(struct host *h);

/* jobs.c */
/* Starts the query workers (deps.workers of them, each with a read-only
 * connection to deps.database). Returns 0, or -1 with *cause. */
int jobs_start(struct host *h, char **cause);
/* Stops and joins the workers and frees every job not answered yet. */
void jobs_stop(struct host *h);
/* Returns the worker the calling thread is, or NULL (the main thread). */
struct host_worker *jobs_worker_self(void);
/* Returns true if a job of requester key would wait (key has jobs
 * already, or worker: it needs a worker) and there is no room for it:
 * the caller answers "busy" instead of submitting it. */
bool jobs_full(const struct host *h, const char *key, bool worker);
/* Gives j (cfg, ops and host set) to requester key's lane; it runs in its
 * turn, at once if the lane was empty. */
void jobs_submit(struct host *h, struct host_job *j, const char *key);
/* Returns true while some job is queued or runs on a worker. */
bool jobs_busy(const struct host *h);

#endif
