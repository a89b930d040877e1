/*
 * The plugin host and command dispatcher: loads the plugins of [plugins],
 * implements struct fb_api for them, parses chat messages into commands,
 * checks arity, permission and rate limits, generates help, and sends at
 * most one reply per command through the session.
 *
 * Handlers marked as queries (FB_CMD_QUERY, FB_IQ_QUERY) run on the host's
 * query workers; everything else here, and every function of this header,
 * runs on the main thread. The main loop calls host_poll whenever host_fd
 * is readable (or at least every few milliseconds while host_busy) to send
 * the answers the workers finished.
 */
#ifndef FISBOT_HOST_H
#define FISBOT_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <strophe.h>

#include "config.h"
#include "session.h"

struct host;
struct catalogue;
struct fb_upload;

/* What the host needs from the rest of the bot. */
struct host_deps {
	struct catalogue *catalogue; /* main thread, read-only */
	/* The catalogue the query workers each open read-only, or NULL
	 * (then their catalogue() is NULL). */
	const char *database;
	/* Query workers: 0 for the number of CPUs, at least 2, at most
	 * HOST_WORKERS_MAX. */
	unsigned workers;
	/* Builds a download URL for a file (http module) under cfg; caller
	 * frees. Called on query workers too: it must be thread-safe. */
	char *(*file_url)(void *arg, const struct config *cfg,
	                  const struct cat_file *f);
	/* Makes an upload URL under cfg (fb_api.upload_url; the http
	 * module's checks and link key), reading the quota through cat.
	 * Returns 0, or -1 with *cause for the user. Called on query workers
	 * too: it must be thread-safe. NULL: uploads are not available. */
	int (*upload_url)(void *arg, const struct config *cfg,
	                  struct catalogue *cat, const char *uploader,
	                  const char *name, uint64_t size,
	                  struct fb_upload *out, char **cause);
	/* Posts work to the indexer (admin commands). */
	int (*rescan)(void *arg, char **cause);
	int (*describe)(void *arg, int64_t id, const char *text, char **cause);
	/* Re-reads the configuration (SIGHUP, admin reload). */
	int (*reload)(void *arg, char **cause);
	/* Optional: a monotonic clock in ms (tests); NULL: CLOCK_MONOTONIC. */
	uint64_t (*now_ms)(void *arg);
	void *arg;
};

#define HOST_WORKERS_MAX 8

/* Loads every plugin of cfg and starts the query workers. Returns NULL with
 * *cause (a missing plugin, a wrong API version, a failed init): the bot must
 * exit 2. */
struct host *host_new(const struct config *cfg, const struct host_deps *deps,
                      char **cause);
void host_free(struct host *h);
/* Gives the host the session to send through (set once, before start). */
void host_set_session(struct host *h, struct session *s);

/* A message that may hold a command; the session has already dropped
 * delayed, own, error and pre-subject messages. */
void host_message(struct host *h, const struct session_origin *o,
                  const char *body);
/* An IQ get/set the session does not answer itself, already charged to
 * the IQ budget of requester (the send queue's lane for the answer; NULL
 * for the server itself). Returns true if a plugin handled it; false: the
 * session answers service-unavailable. */
bool host_iq(struct host *h, xmpp_stanza_t *iq, const char *from,
             const char *requester);
/* Events from the indexer and the session, forwarded to plugin hooks. */
void host_event(struct host *h, int event, int64_t file_id, const char *room);
/* Runs due plugin timers and expires cursors; called by the main loop. */
void host_tick(struct host *h);
/* Applies a reloaded configuration (limits, admins, plugins' settings).
 * The old one must stay valid while requests that came under it are
 * pending (the daemon keeps every configuration until exit). */
void host_reconfigure(struct host *h, const struct config *cfg);

/* A descriptor (an eventfd) that becomes readable when query workers have
 * finished work for host_poll. */
int host_fd(const struct host *h);
/* Sends the answers the query workers finished and starts what waited for
 * them. Cheap when there is nothing to do. */
void host_poll(struct host *h);
/* True while some request is queued or running on a query worker. */
bool host_busy(const struct host *h);

#endif
