/*
 * The bot itself (fisbot without a subcommand): starts the indexer (the
 * catalogue's one writer, with its watcher and an initial reconcile), the
 * HTTP server, the plugin host and the XMPP session, then runs the main
 * loop until SIGTERM/SIGINT.
 *
 * Threads: the main thread owns libstrophe and everything that touches a
 * stanza (session, host, plugins) and a read-only catalogue connection.
 * The host's query workers (jobs.c) run searches, listings and counts
 * on connections of their own and hand the answers back through host_poll.
 * The indexer's thread reports files added and removed through
 * struct event_queue (a mutex-protected list), which the main loop drains
 * between xmpp_run_once() iterations; HTTP threads only post to the
 * indexer. Signals are blocked in every thread and read from a signalfd by
 * the main loop.
 *
 * The main loop. libstrophe's xmpp_run_once() waits in its own select() on
 * the connection only, so nothing else can wake it: idle, the loop wakes
 * every LOOP_TIMEOUT_MS (the session's own timer ticks every 100 ms
 * anyway); while the host has requests with its workers it waits at most
 * BUSY_TIMEOUT_MS, so that a finished answer is sent within that. A
 * message that comes meanwhile wakes the select() at once, and the
 * dispatcher answers it (or queues it) at once, whatever the workers do.
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

#include "alloc.h"
#include "catalogue.h"
#include "cli.h"
#include "config.h"
#include "fisbot_plugin.h"
#include "host.h"
#include "http.h"
#include "indexer.h"
#include "log.h"
#include "session.h"
#include "token.h"

#define LOOP_TIMEOUT_MS 50
#define BUSY_TIMEOUT_MS 2
#define STOP_GRACE_MS   3000

/* One event from the indexer's thread for the main thread. */
struct event {
	enum fb_event kind;
	int64_t id;
	struct event *next;
};

/* The cross-thread queue: the indexer appends, the main loop drains. */
struct event_queue {
	pthread_mutex_t lock;
	struct event *head, *tail;
};

struct daemon {
	struct config *cfg;       /* the configuration in force */
	struct config *first_cfg; /* the one at start (main frees it) */
	struct config **old_cfg;  /* replaced ones: other threads may still
	                             read them, freed at exit */
	size_t n_old_cfg;
	bool verbose;
	struct event_queue events;
	struct indexer *ix;
	struct catalogue *cat; /* main thread, read-only */
	struct token_key *key;
	struct http *http;
	struct host *host;
	struct session *session;
};

/* Called on the indexer's thread: queues the event for the main loop. */
static void on_indexer_event(const struct indexer_event *ev, void *arg)
{
	struct event_queue *q = arg;
	struct event *e = xcalloc(1, sizeof(*e));

	e->kind = ev->kind == INDEXER_FILE_READY ? FB_EVENT_FILE_ADDED
	                                         : FB_EVENT_FILE_REMOVED;
	e->id = ev->id;
	pthread_mutex_lock(&q->lock);
	if (q->tail != NULL)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	pthread_mutex_unlock(&q->lock);
}

/* Hands every queued event to the host (main thread). */
static void events_drain(struct daemon *d)
{
	struct event *e, *next;

	pthread_mutex_lock(&d->events.lock);
	e = d->events.head;
	d->events.head = d->events.tail = NULL;
	pthread_mutex_unlock(&d->events.lock);
	for (; e != NULL; e = next) {
		next = e->next;
		host_event(d->host, e->kind, e->id, NULL);
		free(e);
	}
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

/* HTTP thread: an upload was stored; the indexer records its uploader. */
static void on_upload(void *arg, const char *path, const char *uploader)
{
	struct daemon *d = arg;

	indexer_post_uploader(d->ix, path, uploader);
}

/* Host, on any thread: a download URL for f under cfg (the key is never
 * changed once loaded). */
static char *file_url(void *arg, const struct config *cfg,
                      const struct cat_file *f)
{
	struct daemon *d = arg;
	char *cause = NULL, *url;

	url = http_url_for(cfg, d->key, f, time(NULL), &cause);
	if (url == NULL) {
		log_warnx("no URL for file %lld: %s", (long long)f->id, cause);
		free(cause);
	}
	return url;
}

/* Host (admin rescan). */
static int do_rescan(void *arg, char **cause)
{
	struct daemon *d = arg;

	(void)cause;
	indexer_post_rescan(d->ix);
	return 0;
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

/* Returns true if two string lists hold the same strings in order. */
static bool strlist_equal(const struct strlist *a, const struct strlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
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
	if (strcmp(o->share.path, n->share.path) != 0 ||
	    strcmp(o->share.database, n->share.database) != 0 ||
	    !strlist_equal(&o->share.exclude, &n->share.exclude) ||
	    strcmp(o->http.base_url, n->http.base_url) != 0 ||
	    o->http.listen_port != n->http.listen_port ||
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
	host_reconfigure(d->host, n);
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
			if (do_reload(d, &cause) != 0) {
				log_warnx("reload failed: %s", cause);
				free(cause);
			}
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
	int sig;

	for (;;) {
		xmpp_run_once(ctx, host_busy(d->host) ? BUSY_TIMEOUT_MS
		                                      : LOOP_TIMEOUT_MS);
		host_poll(d->host);
		events_drain(d);
		host_tick(d->host);
		if (session_failure(d->session) != NULL) {
			fprintf(stderr, "fisbot: %s\n",
			        session_failure(d->session));
			return 1;
		}
		sig = signals_read(d, sfd);
		if (sig != 0) {
			log_info("%s: leaving rooms and stopping",
			         sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
	}
	session_stop(d->session);
	for (int waited = 0;
	     !session_stopped(d->session) && waited < STOP_GRACE_MS;
	     waited += LOOP_TIMEOUT_MS)
		xmpp_run_once(ctx, LOOP_TIMEOUT_MS);
	return 0;
}

int daemon_run(struct config *cfg, bool verbose)
{
	struct daemon d = {.cfg = cfg, .first_cfg = cfg, .verbose = verbose};
	struct indexer_options iopt = {0};
	struct http_hooks hooks = {0};
	struct host_deps deps = {0};
	struct session_store store = {0};
	sigset_t oldmask;
	char *cause = NULL;
	int sfd, rc = 1;

	pthread_mutex_init(&d.events.lock, NULL);
	/* Before any thread starts, so that every thread inherits the mask. */
	sfd = signals_setup(&oldmask);
	if (sfd == -1) {
		fprintf(stderr, "fisbot: signalfd: %s\n", strerror(errno));
		return 1;
	}
	xmpp_initialize();

	iopt.watch = true;
	iopt.notify = on_indexer_event;
	iopt.notify_arg = &d.events;
	d.ix = indexer_start(cfg, &iopt, &cause);
	if (d.ix == NULL)
		goto fail;
	d.cat = catalogue_open(cfg->share.database, CATALOGUE_READ, &cause);
	if (d.cat == NULL)
		goto fail;
	d.key = token_key_load(cfg->http.secret_file, &cause);
	if (d.key == NULL)
		goto fail;
	hooks.on_download = on_download;
	hooks.on_stale = on_stale;
	hooks.on_upload = on_upload;
	hooks.arg = &d;
	d.http = http_start(cfg, d.key, &hooks, &cause);
	if (d.http == NULL)
		goto fail;

	deps.catalogue = d.cat;
	deps.database = cfg->share.database;
	deps.file_url = file_url;
	deps.rescan = do_rescan;
	deps.describe = do_describe;
	deps.reload = do_reload;
	deps.arg = &d;
	d.host = host_new(cfg, &deps, &cause);
	if (d.host == NULL) {
		rc = 2;
		goto fail;
	}
	d.session = session_new(cfg, d.host, &cause);
	if (d.session == NULL) {
		rc = 2;
		goto fail;
	}
	host_set_session(d.host, d.session);
	store.room_add = store_room_add;
	store.room_remove = store_room_remove;
	store.arg = &d;
	session_set_store(d.session, &store);
	load_saved_rooms(&d);
	if (session_start(d.session, &cause) != 0)
		goto fail;
	log_info("fisbot running: share %s, HTTP port %u", cfg->share.path,
	         (unsigned)http_port(d.http));

	rc = main_loop(&d, sfd);
	goto out;

fail:
	fprintf(stderr, "fisbot: %s\n", cause ? cause : "cannot start");
	free(cause);
out:
	/* Plugins first (they may hold catalogue rows), the connection, the
	 * HTTP threads, then the indexer commits and stops. */
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
	while (d.events.head != NULL) {
		struct event *e = d.events.head;

		d.events.head = e->next;
		free(e);
	}
	pthread_mutex_destroy(&d.events.lock);
	xmpp_shutdown();
	close(sfd);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	return rc;
}
