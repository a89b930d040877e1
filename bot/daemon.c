/*
 * The bot itself (fisbot without a subcommand): starts the indexer (the
 * catalogue's one writer, with its watcher and an initial reconcile), the
 * HTTP server, the XMPP session and the plugin host on top of it, then runs
 * the main loop until SIGTERM/SIGINT.
 *
 * Wiring, one way: the session is created first, with the events it
 * reports (session_events) pointing here, where they are handed to the
 * host (host_message, host_iq, host_room); the host is created on the
 * session. Neither knows the daemon; the session does not know the host.
 *
 * Threads: the main thread owns libstrophe and everything that touches a
 * stanza (session, host, plugins) and a read-only catalogue connection.
 * Other threads hand work to the main thread through one queue, the inbox
 * (queue.h): the indexer's thread posts files added and removed, the
 * host's query workers (jobs.c) their finished answers, the HTTP threads
 * "a download slot may be free" (one such item at a time); each item runs
 * on the main thread when the loop runs the inbox. Otherwise HTTP threads
 * only post to the indexer. Signals are blocked in every thread and read from a
 * signalfd by the main loop.
 *
 * The main loop. Every timer of the main thread is in one cron (cron.h):
 * the session's (reconnects, send pacing, rooms, origin checks,
 * housekeeping) and the host's (plugin timers, expiries). Each pass runs
 * the inbox and what is due, then waits in xmpp_run_once() until the next
 * deadline. libstrophe's xmpp_run_once() waits in its own select() on the
 * connection only (and shortens the wait for its own timers): neither the
 * inbox's eventfd nor the signalfd can wake it. So the wait is bounded:
 * by IDLE_WAIT_MS when nothing is outstanding (an event from the indexer
 * or a signal waits that long at most), and by BUSY_WAIT_MS while the
 * host has requests with its workers, so that a finished answer is sent
 * within that. A stanza that comes meanwhile wakes the select() at once,
 * and the dispatcher answers it (or queues it) at once, whatever the
 * workers do. Idle and connected, the bot wakes a few times a second and
 * uses no measurable CPU.
 *
 * systemd (Type=notify): sd_notify() reports READY=1 once the catalogue
 * is open, the HTTP server listens and the session has started (so a unit
 * ordered after fisbot finds its links served), RELOADING=1 then READY=1
 * around a SIGHUP reload, and STOPPING=1 on SIGTERM/SIGINT. Without
 * NOTIFY_SOCKET (not started by systemd) these do nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <strophe.h>
#include <systemd/sd-daemon.h>

#include "base/clock.h"
#include "base/cron.h"
#include "base/queue.h"
#include "chat/host.h"
#include "cli/cli.h"
#include "fisbot/alloc.h"
#include "fisbot/catalogue.h"
#include "fisbot/config.h"
#include "fisbot/fisbot_plugin.h"
#include "fisbot/log.h"
#include "http/http.h"
#include "http/token.h"
#include "http/upload.h"
#include "http/web.h"
#include "index/indexer.h"
#include "xmpp/session.h"

#define IDLE_WAIT_MS  250
#define BUSY_WAIT_MS  2
#define STOP_GRACE_MS 3000
#define STOP_WAIT_MS  50

struct daemon;

/* One event from the indexer's thread for the main thread (an item of
 * the inbox). */
struct event {
	struct queue_item item; /* first */
	struct daemon *d;
	enum indexer_event_kind kind;
	int64_t id;
	bool first_build; /* INDEXER_FILE_READY */
	char *text;       /* INDEXER_RESCAN_DONE: what the admins are told */
};

struct daemon {
	struct config *cfg;       /* the configuration in force */
	struct config *first_cfg; /* the one at start (main frees it) */
	struct config **old_cfg;  /* replaced ones: other threads may still
	                             read them, freed at exit */
	size_t n_old_cfg;
	bool verbose;
	struct cron *cron;   /* the main thread's timers */
	struct queue *inbox; /* work for the main thread from the others */
	struct indexer *ix;
	struct catalogue *cat; /* main thread, read-only */
	struct token_key *key;
	struct http *http;
	struct host *host;
	struct session *session;
	int slot_event; /* a slot event is in the inbox (atomic) */
};

/* A download slot may be free (an item of the inbox). */
struct slot_event {
	struct queue_item item; /* first */
	struct daemon *d;
};

/* Main thread, from the inbox: hands an indexer event to the host. */
static void event_run(struct queue_item *item)
{
	struct event *e = (struct event *)item;

	switch (e->kind) {
	case INDEXER_FILE_READY:
		host_file_added(e->d->host, e->id, e->first_build);
		break;
	case INDEXER_FILE_REMOVED:
		host_file_removed(e->d->host, e->id);
		break;
	case INDEXER_RESCAN_DONE:
		host_rescan_done(e->d->host, e->text);
		break;
	}
	free(e->text);
	free(e);
}

/* Called on the indexer's thread: posts the event to the main thread. */
static void on_indexer_event(const struct indexer_event *ev, void *arg)
{
	struct daemon *d = arg;
	struct event *e = xcalloc(1, sizeof(*e));

	e->item.run = event_run;
	e->d = d;
	e->kind = ev->kind;
	e->id = ev->id;
	e->first_build = ev->first_build;
	if (ev->kind == INDEXER_RESCAN_DONE)
		e->text = xasprintf("rescan done: added %llu, changed %llu, "
		                    "removed %llu, unchanged %llu",
		                    (unsigned long long)ev->counts.added,
		                    (unsigned long long)ev->counts.changed,
		                    (unsigned long long)ev->counts.removed,
		                    (unsigned long long)ev->counts.unchanged);
	queue_push(d->inbox, &e->item);
}

/* Session event: a message that may hold a command. */
static void on_message(void *arg, const struct session_origin *o,
                       const char *body)
{
	struct daemon *d = arg;

	host_message(d->host, o, body);
}

/* Session event: an IQ for the plugins. */
static bool on_iq(void *arg, xmpp_stanza_t *iq, const char *from,
                  const char *requester)
{
	struct daemon *d = arg;

	return host_iq(d->host, iq, from, requester);
}

/* Session event: a room joined or left. */
static void on_room(void *arg, enum session_room_event kind, const char *room)
{
	struct daemon *d = arg;

	host_room(d->host, kind, room);
}

/* Main thread, from the inbox: lets the queue take a free slot. */
static void slot_event_run(struct queue_item *item)
{
	struct slot_event *e = (struct slot_event *)item;
	struct daemon *d = e->d;

	free(e);
	__atomic_store_n(&d->slot_event, 0, __ATOMIC_RELEASE);
	host_slot_freed(d->host);
}

/* HTTP thread: a download slot may have come free; one event in the
 * inbox at a time. */
static void on_slot_free(void *arg)
{
	struct daemon *d = arg;
	struct slot_event *e;

	if (__atomic_exchange_n(&d->slot_event, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	e = xcalloc(1, sizeof(*e));
	e->item.run = slot_event_run;
	e->d = d;
	queue_push(d->inbox, &e->item);
}

/* Session event: a requester left its room or went offline. */
static void on_gone(void *arg, const char *sender)
{
	struct daemon *d = arg;

	host_gone(d->host, sender);
}

/* Host: could a download by requester take a slot now? */
static bool slot_available(void *arg, const char *requester)
{
	struct daemon *d = arg;

	return http_slot_available(d->http, requester);
}

/* Host: holds (or gives back) a slot for a requester handed a link. */
static void slot_hold(void *arg, const char *requester, bool hold)
{
	struct daemon *d = arg;

	http_slot_hold(d->http, requester, hold);
}

/* Host, any thread: the transfers' figures for stats. */
static void transfers(void *arg, uint64_t *rate, unsigned *used,
                      unsigned *slots, unsigned *mean_slot_s)
{
	struct daemon *d = arg;
	struct http_transfers t;

	http_transfers(d->http, &t);
	*rate = t.rate;
	*used = t.slots_used;
	*slots = t.slots;
	*mean_slot_s = t.mean_slot_s;
}

/* Session event: an admin's join failed. */
static void on_join_failed(void *arg, const char *room, const char *why)
{
	struct daemon *d = arg;

	host_join_failed(d->host, room, why);
}

/* HTTP thread: a download ended. */
static void on_download(void *arg, int64_t id, uint64_t bytes, bool completed)
{
	struct daemon *d = arg;

	indexer_post_download(d->ix, id, bytes, completed);
}

/* HTTP thread: a file is not on disk as catalogued. */
static void on_stale(void *arg, int64_t id, const char *path)
{
	struct daemon *d = arg;

	(void)id;
	indexer_post_path(d->ix, path);
}

/* HTTP thread: is a file waiting to be hashed again? */
static bool is_pending(void *arg, int64_t id, unsigned char prev[32],
                       bool *has_prev)
{
	struct daemon *d = arg;

	return indexer_pending(d->ix, id, prev, has_prev);
}

/* HTTP thread: an upload was stored; the indexer records its uploader. */
static void on_upload(void *arg, const char *path, const char *uploader)
{
	struct daemon *d = arg;

	indexer_post_uploader(d->ix, path, uploader);
}

/* Host, on any thread: a download URL for f under cfg (the key is never
 * changed once loaded). */
static char *file_url(void *arg, const struct config *cfg,
                      const struct cat_file *f, const char *requester)
{
	struct daemon *d = arg;
	char *cause = NULL, *url;

	url = http_url_for_requester(cfg, d->key, f, requester, time(NULL),
	                             &cause);
	if (url == NULL) {
		log_warnx("no URL for file %lld: %s", (long long)f->id, cause);
		free(cause);
	}
	return url;
}

/* Host, on any thread: an upload URL for uploader under cfg, signed with
 * the link key (loaded once, at start); cat is the calling thread's
 * catalogue connection, for the quota. */
static int upload_url(void *arg, const struct config *cfg,
                      struct catalogue *cat, const char *uploader,
                      const char *name, uint64_t size, struct fb_upload *out,
                      char **cause)
{
	struct daemon *d = arg;

	if (cat == NULL) {
		*cause = xstrdup("uploads are not available now");
		return -1;
	}
	out->url = upload_offer(cfg, d->key, cat, uploader, name, size,
	                        time(NULL), &out->name, cause);
	if (out->url == NULL)
		return -1;
	out->lifetime_s = UPLOAD_URL_LIFETIME;
	return 0;
}

/* Host, on any thread: the web index's URL for requester under cfg. */
static char *web_url(void *arg, const struct config *cfg, const char *requester,
                     char **cause)
{
	struct daemon *d = arg;

	return web_url_for(cfg, d->key, requester, time(NULL), cause);
}

/* Host (admin rescan). */
static int do_rescan(void *arg, char **cause)
{
	struct daemon *d = arg;

	(void)cause;
	indexer_post_rescan_report(d->ix);
	return 0;
}

/* Host, on any thread: is the first build of an empty catalogue
 * running? */
static bool is_indexing(void *arg, uint64_t *files)
{
	struct daemon *d = arg;

	return d->ix != NULL && indexer_first_build(d->ix, files);
}

/* Host (admin describe). */
static int do_describe(void *arg, int64_t id, const char *text, char **cause)
{
	struct daemon *d = arg;
	struct cat_file f = {0};
	int found = catalogue_get(d->cat, id, &f);

	cat_file_clear(&f);
	if (found != 1) {
		*cause = found == 0
		             ? xasprintf("no such file: %lld", (long long)id)
		             : xstrdup("catalogue error");
		return -1;
	}
	indexer_post_describe(d->ix, id, text);
	return 0;
}

/* Session store: remembers a room joined by invitation. */
static int store_room_add(void *arg, const char *room, const char *nick)
{
	struct daemon *d = arg;

	indexer_post_room(d->ix, room, nick, true);
	return 0;
}

/* Session store: forgets a remembered room. */
static int store_room_remove(void *arg, const char *room)
{
	struct daemon *d = arg;

	indexer_post_room(d->ix, room, NULL, false);
	return 0;
}

/* Logs what a reload changes besides rooms (the session logs those). */
static void log_changes(const struct config *o, const struct config *n)
{
	if (!strlist_equal(&o->admins.jids, &n->admins.jids))
		log_info("reload: [admins] changed");
	if (o->invites.accept != n->invites.accept ||
	    !strlist_equal(&o->invites.allow, &n->invites.allow) ||
	    o->invites.max_rooms != n->invites.max_rooms)
		log_info("reload: [invites] changed");
	if (o->limits.burst != n->limits.burst ||
	    o->limits.rate != n->limits.rate ||
	    o->limits.per_ms != n->limits.per_ms ||
	    o->limits.iq_burst != n->limits.iq_burst ||
	    o->limits.iq_rate != n->limits.iq_rate ||
	    o->limits.iq_per_ms != n->limits.iq_per_ms)
		log_info("reload: [limits] changed");
	if (strcmp(o->commands.prefix, n->commands.prefix) != 0 ||
	    o->commands.page_size != n->commands.page_size ||
	    o->commands.room_replies != n->commands.room_replies)
		log_info("reload: [commands] changed");
	if (o->announce.enabled != n->announce.enabled ||
	    o->announce.batch_ms != n->announce.batch_ms)
		log_info("reload: [announce] changed");
	if (o->log.level != n->log.level)
		log_info("reload: [log] level changed");
	if (memcmp(&o->transfers, &n->transfers, sizeof(o->transfers)) != 0)
		log_info("reload: [transfers] changed (the queue stays)");
	if (strcmp(o->share.path, n->share.path) != 0 ||
	    strcmp(o->share.database, n->share.database) != 0 ||
	    !strlist_equal(&o->share.exclude, &n->share.exclude) ||
	    strcmp(o->http.base_url, n->http.base_url) != 0 ||
	    o->http.listen_port != n->http.listen_port ||
	    !strlist_equal(&o->http.trusted_proxies,
	                   &n->http.trusted_proxies) ||
	    o->http.offload != n->http.offload ||
	    strcmp(o->http.offload_prefix, n->http.offload_prefix) != 0 ||
	    !strlist_equal(&o->plugins.load, &n->plugins.load))
		log_warnx("reload: [share], [http] and [plugins] load changes "
		          "take effect at the next start");
}

/* Re-reads the configuration file and applies what is safe to apply. */
static int do_reload(void *arg, char **cause)
{
	struct daemon *d = arg;
	struct strlist problems = {0};
	struct config *n;
	char *reason = NULL;

	n = config_load(d->cfg->file, &problems);
	if (n == NULL) {
		for (size_t i = 0; i < problems.n; i++)
			log_warnx("reload: %s", problems.v[i]);
		*cause = xasprintf("%s; the old configuration stays",
		                   problems.n > 0 ? problems.v[0]
		                                  : "cannot read the file");
		strlist_free(&problems);
		return -1;
	}
	log_info("reloading %s", n->file);
	log_changes(d->cfg, n);
	if (!d->verbose)
		log_set_level(n->log.level);
	session_reconfigure(d->session, n);
	http_reconfigure(d->http, n);
	host_reconfigure(d->host, n);
	if (http_reload(d->http, n, &reason) == -1) {
		log_warnx("reload: %s", reason);
		free(reason);
	}
	/* The indexer and the HTTP threads keep reading the first one (main
	 * frees it); later ones are kept until exit, as strings of theirs
	 * may still be held. */
	if (d->cfg != d->first_cfg) {
		d->old_cfg = xreallocarray(d->old_cfg, d->n_old_cfg + 1,
		                           sizeof(*d->old_cfg));
		d->old_cfg[d->n_old_cfg++] = d->cfg;
	}
	d->cfg = n;
	return 0;
}

/* Blocks the signals the main loop handles and returns a signalfd. */
static int signals_setup(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, old) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Reads pending signals: returns the last terminating one, or 0; reloads
 * on SIGHUP. */
static int signals_read(struct daemon *d, int sfd)
{
	struct signalfd_siginfo si;
	int term = 0;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			char *cause = NULL;

			log_info("SIGHUP: reloading the configuration");
			sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
			           (unsigned long long)clock_now_ns() / 1000);
			if (do_reload(d, &cause) != 0) {
				log_warnx("reload failed: %s", cause);
				free(cause);
			}
			sd_notify(0, "READY=1");
		} else {
			term = (int)si.ssi_signo;
		}
	}
	return term;
}

/* Adds the rooms remembered in the catalogue to the session. */
static void load_saved_rooms(struct daemon *d)
{
	struct strlist rooms = {0}, nicks = {0};

	if (catalogue_room_list(d->cat, &rooms, &nicks) != 0) {
		log_warnx("could not read the remembered rooms");
		return;
	}
	for (size_t i = 0; i < rooms.n; i++)
		session_add_saved_room(d->session, rooms.v[i],
		                       i < nicks.n && *nicks.v[i] ? nicks.v[i]
		                                                  : NULL);
	if (rooms.n > 0)
		log_info("%zu remembered room(s) to rejoin", rooms.n);
	strlist_free(&rooms);
	strlist_free(&nicks);
}

/* Runs the main loop until a signal or a fatal session failure; returns
 * the exit code. */
static int main_loop(struct daemon *d, int sfd)
{
	xmpp_ctx_t *ctx = session_ctx(d->session);
	uint64_t wait;
	int sig;

	for (;;) {
		queue_run(d->inbox);
		cron_run(d->cron);
		if (session_failure(d->session) != NULL) {
			fprintf(stderr, "fisbot: %s\n",
			        session_failure(d->session));
			return 1;
		}
		sig = signals_read(d, sfd);
		if (sig != 0) {
			log_info("%s: leaving rooms and stopping",
			         sig == SIGTERM ? "SIGTERM" : "SIGINT");
			sd_notify(0, "STOPPING=1");
			break;
		}
		/* Until the next deadline; see the design note for the
		 * bounds. */
		wait = cron_wait_ms(d->cron, IDLE_WAIT_MS);
		if (!queue_empty(d->inbox))
			wait = 0;
		else if (host_busy(d->host) && wait > BUSY_WAIT_MS)
			wait = BUSY_WAIT_MS;
		xmpp_run_once(ctx, (unsigned long)wait);
	}
	session_stop(d->session);
	for (int waited = 0;
	     !session_stopped(d->session) && waited < STOP_GRACE_MS;
	     waited += STOP_WAIT_MS)
		xmpp_run_once(ctx, STOP_WAIT_MS);
	return 0;
}

int daemon_run(struct config *cfg, bool verbose)
{
	struct daemon d = {.cfg = cfg, .first_cfg = cfg, .verbose = verbose};
	struct indexer_options iopt = {0};
	struct http_hooks hooks = {0};
	struct host_deps deps = {0};
	struct session_store store = {0};
	const struct session_events events = {
	    .message = on_message,
	    .iq = on_iq,
	    .room = on_room,
	    .gone = on_gone,
	    .join_failed = on_join_failed,
	    .arg = &d,
	};
	sigset_t oldmask;
	char *cause = NULL;
	int sfd, rc = 1;

	/* Before any thread starts, so that every thread inherits the mask. */
	sfd = signals_setup(&oldmask);
	if (sfd == -1) {
		fprintf(stderr, "fisbot: signalfd: %s\n", strerror(errno));
		return 1;
	}
	xmpp_initialize();
	d.cron = cron_new(NULL, NULL);
	d.inbox = queue_new(&cause);
	if (d.inbox == NULL)
		goto fail;

	iopt.watch = true;
	iopt.type_later = true;
	iopt.merge_index = true;
	iopt.notify = on_indexer_event;
	iopt.notify_arg = &d;
	d.ix = indexer_start(cfg, &iopt, &cause);
	if (d.ix == NULL)
		goto fail;
	d.cat = catalogue_open(cfg->share.database, &cause);
	if (d.cat == NULL)
		goto fail;
	d.key = token_key_load(cfg->http.secret_file, &cause);
	if (d.key == NULL)
		goto fail;
	hooks.on_download = on_download;
	hooks.on_stale = on_stale;
	hooks.on_upload = on_upload;
	hooks.is_pending = is_pending;
	hooks.on_slot_free = on_slot_free;
	hooks.arg = &d;
	d.http = http_start(cfg, d.key, &hooks, &cause);
	if (d.http == NULL)
		goto fail;

	deps.catalogue = d.cat;
	deps.database = cfg->share.database;
	deps.file_url = file_url;
	deps.upload_url = upload_url;
	deps.web_url = web_url;
	deps.slot_available = slot_available;
	deps.slot_hold = slot_hold;
	deps.transfers = transfers;
	deps.rescan = do_rescan;
	deps.indexing = is_indexing;
	deps.describe = do_describe;
	deps.reload = do_reload;
	deps.arg = &d;
	deps.cron = d.cron;
	deps.inbox = d.inbox;
	/* The session reports nothing before session_start: the host is
	 * there by then. */
	d.session = session_new(cfg, d.cron, &events, &cause);
	if (d.session == NULL) {
		rc = 2;
		goto fail;
	}
	d.host = host_new(cfg, d.session, &deps, &cause);
	if (d.host == NULL) {
		rc = 2;
		goto fail;
	}
	store.room_add = store_room_add;
	store.room_remove = store_room_remove;
	store.arg = &d;
	session_set_store(d.session, &store);
	load_saved_rooms(&d);
	if (session_start(d.session, &cause) != 0)
		goto fail;
	log_info("fisbot running: share %s, HTTP port %u", cfg->share.path,
	         (unsigned)http_port(d.http));
	sd_notifyf(0, "READY=1\nSTATUS=running, HTTP port %u",
	           (unsigned)http_port(d.http));

	rc = main_loop(&d, sfd);
	goto out;

fail:
	fprintf(stderr, "fisbot: %s\n", cause ? cause : "cannot start");
	free(cause);
out:
	/* Plugins first (they may hold catalogue rows), the session under
	 * them (which reports nothing once it is being freed), the HTTP
	 * threads, then the indexer commits and stops. */
	host_free(d.host);
	session_free(d.session);
	http_stop(d.http);
	catalogue_close(d.cat);
	if (d.ix != NULL)
		indexer_stop(d.ix);
	token_key_free(d.key);
	for (size_t i = 0; i < d.n_old_cfg; i++)
		config_free(d.old_cfg[i]);
	free(d.old_cfg);
	if (d.cfg != cfg)
		config_free(d.cfg);
	/* Events the indexer posted after the host was gone: dropped. */
	if (d.inbox != NULL) {
		struct queue_item *e = queue_take(d.inbox), *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	queue_free(d.inbox);
	cron_free(d.cron);
	xmpp_shutdown();
	close(sfd);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	return rc;
}
