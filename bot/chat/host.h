/*
 * The plugin host and command dispatcher: loads the plugins of [plugins],
 * implements struct fb_api for them, parses chat messages into commands,
 * checks arity, permission and rate limits, generates help, and sends at
 * most one reply per command through the session (and, later, the outcome
 * of an admin's rescan or join to the admin who asked: notice.c).
 *
 * The host sits on top of the XMPP session (session.h), which it is given
 * when it is created: it sends through it, adds the plugins' disco
 * features to it and joins and leaves rooms with it. What the session
 * reports (struct session_events) reaches the host through host_message,
 * host_iq and host_room, called by whoever created both (the daemon).
 *
 * Handlers marked as queries (FB_CMD_QUERY, FB_IQ_QUERY) run on the host's
 * query workers; everything else here, and every function of this header,
 * runs on the main thread. The workers hand what they finished to the
 * main thread's inbox (deps.inbox), which the main loop runs (queue_run):
 * the answers are sent from there. Plugin timers and the host's expiries
 * are timers of the main thread's cron (deps.cron).
 */
#ifndef FISBOT_HOST_H
#define FISBOT_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <strophe.h>

#include "fisbot/config.h"
#include "xmpp/session.h"

struct host;
struct cat_file;
struct catalogue;
struct cron;
struct fb_upload;
struct queue;

/* What the host needs from the rest of the bot. */
struct host_deps {
	struct catalogue *catalogue; /* main thread, read-only */
	/* The catalogue the query workers each open read-only, or NULL
	 * (then their catalogue() is NULL). */
	const char *database;
	/* Query workers: 0 for the number of CPUs, at least 2, at most
	 * HOST_WORKERS_MAX. */
	unsigned workers;
	/* Builds a download URL for a file (http module) under cfg, carrying
	 * requester (a requester's key, or NULL) for its download slots;
	 * caller frees. Called on query workers too: it must be
	 * thread-safe. */
	char *(*file_url)(void *arg, const struct config *cfg,
	                  const struct cat_file *f, const char *requester);
	/* Makes an upload URL under cfg (fb_api.upload_url; the http
	 * module's checks and link key), reading the quota through cat.
	 * Returns 0, or -1 with *cause for the user. Called on query workers
	 * too: it must be thread-safe. NULL: uploads are not available. */
	int (*upload_url)(void *arg, const struct config *cfg,
	                  struct catalogue *cat, const char *uploader,
	                  const char *name, uint64_t size,
	                  struct fb_upload *out, char **cause);
	/* Makes the URL of the web index for requester under cfg
	 * (fb_api.web_url). Returns NULL with *cause for the user. Called on
	 * query workers too: it must be thread-safe. NULL: no web index. */
	char *(*web_url)(void *arg, const struct config *cfg,
	                 const char *requester, char **cause);
	/* Download slots (the http module's; NULL: no queue): whether a
	 * download by requester could start now, holding a slot for a
	 * requester handed a link (or giving the hold back), and the
	 * figures stats shows (thread-safe). */
	bool (*slot_available)(void *arg, const char *requester);
	void (*slot_hold)(void *arg, const char *requester, bool hold);
	void (*transfers)(void *arg, uint64_t *rate, unsigned *used,
	                  unsigned *slots, unsigned *mean_slot_s);
	/* Posts work to the indexer (admin commands); a rescan's end comes
	 * back as host_rescan_done. */
	int (*rescan)(void *arg, char **cause);
	/* True while the first build of an empty catalogue runs, with the
	 * files catalogued so far (fb_api.indexing). Called on query
	 * workers too: it must be thread-safe. NULL: never. */
	bool (*indexing)(void *arg, uint64_t *files);
	int (*describe)(void *arg, int64_t id, const char *text, char **cause);
	/* Re-reads the configuration (SIGHUP, admin reload). */
	int (*reload)(void *arg, char **cause);
	void *arg;
	/* Required: the main thread's timers (their clock is the host's),
	 * and its inbox, where the query workers post finished work. */
	struct cron *cron;
	struct queue *inbox;
};

#define HOST_WORKERS_MAX 8

/* Loads every plugin of cfg on top of session (which must outlive the
 * host) and starts the query workers. Returns NULL with *cause (a missing
 * plugin, a wrong API version, a failed init): the bot must exit 2. */
struct host *host_new(const struct config *cfg, struct session *session,
                      const struct host_deps *deps, char **cause);
void host_free(struct host *h);

/* The session's events (struct session_events):
 * a message that may hold a command; the session has already dropped
 * delayed, own, error and pre-subject messages. */
void host_message(struct host *h, const struct session_origin *o,
                  const char *body);
/* An IQ get/set the session does not answer itself, already charged to
 * the IQ budget of requester (the send queue's lane for the answer; NULL
 * for the server itself). Returns true if a plugin handled it; false: the
 * session answers service-unavailable. */
bool host_iq(struct host *h, xmpp_stanza_t *iq, const char *from,
             const char *requester);
/* A requester (a session_origin sender key) left its room or went
 * offline: it loses its place in the download queue. */
void host_gone(struct host *h, const char *sender);
/* A download slot may have come free (from the inbox): the queue's first
 * waiting requesters are handed their links. */
void host_slot_freed(struct host *h);
/* The bot joined or left room: the plugins' FB_EVENT_ROOM_* hooks (and a
 * room left takes its occupants out of the download queue). */
void host_room(struct host *h, enum session_room_event kind, const char *room);

/* The session's event join_failed: a room an admin asked to join refused
 * the bot (why); the admin is told. */
void host_join_failed(struct host *h, const char *room, const char *why);

/* The indexer's events (FB_EVENT_FILE_ADDED and _REMOVED hooks): a file
 * was catalogued (hashed; first_build: by the first build of an empty
 * catalogue), or left the catalogue. */
void host_file_added(struct host *h, int64_t id, bool first_build);
void host_file_removed(struct host *h, int64_t id);
/* The rescan admins asked for is over: text (its counts) goes to each of
 * them. */
void host_rescan_done(struct host *h, const char *text);
/* Applies a reloaded configuration (limits, admins, plugins' settings).
 * The old one must stay valid while requests that came under it are
 * pending (the daemon keeps every configuration until exit). */
void host_reconfigure(struct host *h, const struct config *cfg);

/* True while some request is queued or running on a query worker: its
 * answer will come through the inbox. */
bool host_busy(const struct host *h);

#endif
