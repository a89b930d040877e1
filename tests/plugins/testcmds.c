/*
 * A plugin for the host's unit tests: commands that exercise arity,
 * permissions, replies (many lines, long lines, errors, links, lines that
 * start with the prefix), room-wide searches, "more", an IQ namespace, a
 * timer and an event hook; and query handlers (FB_CMD_QUERY, FB_IQ_QUERY)
 * that say which thread they ran on. Never installed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fisbot_plugin.h"

FISBOT_PLUGIN("testcmds");

static const struct fb_api *api;
static int ticks, events;
static pthread_t main_thread; /* the thread that ran init */

/* Returns "worker" on a query worker, "main" on the main thread. */
static const char *thread_name(void)
{
	return pthread_equal(pthread_self(), main_thread) ? "main" : "worker";
}

/* Sleeps ms milliseconds. */
static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1)
		;
}

/* echo ARGS...: the arguments as parsed, one per line. */
static void cmd_echo(struct fb_request *r, int argc, char **argv)
{
	api->reply(r, "argc=%d", argc);
	for (int i = 0; i < argc; i++)
		api->reply(r, "[%d]=%s", i, argv[i]);
	api->reply(r, "args=%s", api->req_args(r));
	api->reply(r, "sender=%s", api->req_sender(r));
	api->reply(r, "real=%s",
	           api->req_real_jid(r) != NULL ? api->req_real_jid(r)
	                                        : "(none)");
}

static void cmd_two(struct fb_request *r, int argc, char **argv)
{
	api->reply(r, "ok %d", argc - 1);
}

/* line TEXT: TEXT as one reply line. */
static void cmd_line(struct fb_request *r, int argc, char **argv)
{
	api->reply(r, "%s", api->req_args(r));
}

/* big N: N lines of about 100 bytes. */
static void cmd_big(struct fb_request *r, int argc, char **argv)
{
	int n = atoi(argv[1]);

	for (int i = 0; i < n; i++)
		api->reply(
		    r, "line %06d %s", i,
		    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
		    "abcdefghijklmnopqrstuvwxyzabcdefghijkl");
}

/* huge: one line of 40000 '&' (200000 bytes once escaped). */
static void cmd_huge(struct fb_request *r, int argc, char **argv)
{
	char *s = malloc(40001);

	memset(s, '&', 40000);
	s[40000] = '\0';
	api->reply(r, "%s", s);
	free(s);
}

static void cmd_secret(struct fb_request *r, int argc, char **argv)
{
	api->reply(r, "secret ok");
}

/* find TERMS...: a room-wide search that matches only "hit". */
static void cmd_find(struct fb_request *r, int argc, char **argv)
{
	if (strcmp(argv[1], "hit") == 0)
		api->reply(r, "#1 hit.txt (1 B)");
}

/* A continuation: pages 2 and 3, then stops. */
static void page_more(struct fb_request *r, void *state)
{
	int *page = state;

	(*page)++;
	api->reply(r, "page %d", *page);
	if (*page < 3)
		api->set_more(r, page_more, page, free);
}

static void cmd_page(struct fb_request *r, int argc, char **argv)
{
	int *page = malloc(sizeof(*page));

	*page = 1;
	api->reply(r, "page 1");
	api->set_more(r, page_more, page, free);
}

/* link: a download link for a made-up file. */
static void cmd_link(struct fb_request *r, int argc, char **argv)
{
	struct cat_file f = {0};

	f.id = 7;
	f.path = (char *)"music/song & dance.ogg";
	f.size = 3145728;
	f.mtime_ns = 1700000000LL * 1000000000LL;
	f.hashed = true;
	memset(f.sha256, 0xab, sizeof(f.sha256));
	f.media_type = (char *)"audio/ogg";
	api->reply(r, "this line is dropped for the link");
	api->reply_link(r, &f);
}

/* fail: lines, then an error that replaces them. */
static void cmd_fail(struct fb_request *r, int argc, char **argv)
{
	api->reply(r, "partial");
	api->reply_error(r, "no such file: %s", "99");
}

/* bang: lines that another bot could take for commands. */
static void cmd_bang(struct fb_request *r, int argc, char **argv)
{
	api->reply(r, "!danger");
	api->reply(r, "@find x");
	api->reply(r, "ok\x01\xff");
}

static void cmd_silent(struct fb_request *r, int argc, char **argv)
{
}

static void cmd_counts(struct fb_request *r, int argc, char **argv)
{
	api->reply(r, "ticks=%d events=%d", ticks, events);
}

/* Sends a line to one room. */
static void announce_one(const char *room, void *arg)
{
	struct fb_request *r = arg;

	if (api->room_announces(api->req_plugin(r), room))
		api->send_room(api->req_plugin(r), room, "!new\x01 file");
}

/* announce: a line to every room that wants announcements. */
static void cmd_announce(struct fb_request *r, int argc, char **argv)
{
	api->rooms_foreach(api->req_plugin(r), announce_one, r);
}

/* sleep MS: a slow query (on a worker). */
static void cmd_sleep(struct fb_request *r, int argc, char **argv)
{
	long ms = atol(argv[1]);

	sleep_ms(ms);
	api->reply(r, "slept %ld ms on %s", ms, thread_name());
}

/* A query continuation: pages 2 and 3, saying where they ran. */
static void qpage_more(struct fb_request *r, void *state)
{
	int *page = state;

	(*page)++;
	api->reply(r, "page %d on %s", *page, thread_name());
	if (*page < 3)
		api->set_more(r, qpage_more, page, free);
}

/* qpage: a paginated query. */
static void cmd_qpage(struct fb_request *r, int argc, char **argv)
{
	int *page = malloc(sizeof(*page));

	*page = 1;
	api->reply(r, "page 1 on %s", thread_name());
	api->set_more(r, qpage_more, page, free);
}

/* qlink: cmd_link on a worker, from a file that is gone once it returns. */
static void cmd_qlink(struct fb_request *r, int argc, char **argv)
{
	struct cat_file f = {0};

	f.id = 8;
	f.path = strdup("a/b & c.txt");
	f.size = 10;
	f.hashed = true;
	f.media_type = strdup("text/plain");
	f.description = strdup("a description");
	api->reply_link(r, &f);
	cat_file_clear(&f);
}

/* Counts rooms (rooms_foreach). */
static void count_room(const char *room, void *arg)
{
	(*(int *)arg)++;
}

/* qmain: main-thread functions called on a worker do nothing. */
static void cmd_qmain(struct fb_request *r, int argc, char **argv)
{
	struct fb_plugin *p = api->req_plugin(r);
	char *cause = NULL;
	int rooms = 0, rc;

	api->rooms_foreach(p, count_room, &rooms);
	api->send_room(p, "room@conf.example.org", "from a worker");
	rc = api->rescan(p, &cause);
	api->reply(r, "rooms=%d rescan=%d (%s) on %s", rooms, rc,
	           cause != NULL ? cause : "", thread_name());
	free(cause);
}

/* qconfig MS: the prefix of the configuration in force, read after MS ms,
 * and whether the worker has a catalogue. */
static void cmd_qconfig(struct fb_request *r, int argc, char **argv)
{
	struct fb_plugin *p = api->req_plugin(r);

	sleep_ms(atol(argv[1]));
	api->reply(r, "prefix=%s catalogue=%s admin=%d on %s",
	           api->config(p)->commands.prefix,
	           api->catalogue(p) != NULL ? "yes" : "no",
	           api->req_is_admin(r), thread_name());
}

static const char *const echo_aliases[] = {"say", NULL};

static const struct fb_command commands[] = {
    {.name = "echo",
     .aliases = echo_aliases,
     .usage = "echo [ARGS...]",
     .min_args = 0,
     .max_args = -1,
     .help = "echo the arguments",
     .handler = cmd_echo},
    {.name = "two",
     .usage = "two A [B]",
     .min_args = 1,
     .max_args = 2,
     .help = "one or two arguments",
     .handler = cmd_two},
    {.name = "line",
     .usage = "line TEXT...",
     .min_args = 1,
     .max_args = -1,
     .help = "the text as one line",
     .handler = cmd_line},
    {.name = "big",
     .usage = "big N",
     .min_args = 1,
     .max_args = 1,
     .help = "N lines",
     .handler = cmd_big},
    {.name = "huge",
     .usage = "huge",
     .min_args = 0,
     .max_args = 0,
     .help = "one huge line",
     .handler = cmd_huge},
    {.name = "secret",
     .usage = "secret",
     .min_args = 0,
     .max_args = 0,
     .perm = FB_ADMIN,
     .help = "an admin command",
     .handler = cmd_secret},
    {.name = "find",
     .usage = "find TERMS...",
     .min_args = 1,
     .max_args = -1,
     .help = "room-wide search",
     .handler = cmd_find,
     .flags = FB_CMD_ROOM_WIDE},
    {.name = "page",
     .usage = "page",
     .min_args = 0,
     .max_args = 0,
     .help = "paginated",
     .handler = cmd_page},
    {.name = "link",
     .usage = "link",
     .min_args = 0,
     .max_args = 0,
     .help = "a link",
     .handler = cmd_link},
    {.name = "fail",
     .usage = "fail",
     .min_args = 0,
     .max_args = 0,
     .help = "an error",
     .handler = cmd_fail},
    {.name = "bang",
     .usage = "bang",
     .min_args = 0,
     .max_args = 0,
     .help = "prefix lines",
     .handler = cmd_bang},
    {.name = "silent",
     .usage = "silent",
     .min_args = 0,
     .max_args = 0,
     .help = "no reply",
     .handler = cmd_silent},
    {.name = "announce",
     .usage = "announce",
     .min_args = 0,
     .max_args = 0,
     .help = "a line to every room",
     .handler = cmd_announce},
    {.name = "counts",
     .usage = "counts",
     .min_args = 0,
     .max_args = 0,
     .help = "timer and event counts",
     .handler = cmd_counts},
    {.name = "sleep",
     .usage = "sleep MS",
     .min_args = 1,
     .max_args = 1,
     .help = "a slow query",
     .handler = cmd_sleep,
     .flags = FB_CMD_QUERY},
    {.name = "qpage",
     .usage = "qpage",
     .min_args = 0,
     .max_args = 0,
     .help = "a paginated query",
     .handler = cmd_qpage,
     .flags = FB_CMD_QUERY},
    {.name = "qlink",
     .usage = "qlink",
     .min_args = 0,
     .max_args = 0,
     .help = "a link from a query",
     .handler = cmd_qlink,
     .flags = FB_CMD_QUERY},
    {.name = "qmain",
     .usage = "qmain",
     .min_args = 0,
     .max_args = 0,
     .help = "main-thread calls from a query",
     .handler = cmd_qmain,
     .flags = FB_CMD_QUERY},
    {.name = "qconfig",
     .usage = "qconfig MS",
     .min_args = 1,
     .max_args = 1,
     .help = "the configuration a query sees",
     .handler = cmd_qconfig,
     .flags = FB_CMD_QUERY},
};

/* IQs of urn:fisbot:test: <answer/> gets a result, <silent/> nothing. */
static void on_iq(struct fb_iq *iq, void *arg)
{
	xmpp_stanza_t *q = xmpp_stanza_get_children(api->iq_stanza(iq));
	xmpp_stanza_t *payload;

	if (strcmp(xmpp_stanza_get_name(q), "answer") != 0)
		return;
	payload = xmpp_stanza_new(api->iq_ctx(iq));
	xmpp_stanza_set_name(payload, "answer");
	xmpp_stanza_set_ns(payload, "urn:fisbot:test");
	api->iq_result(iq, payload);
}

/* IQs of urn:fisbot:test:query, on a worker: <answer/> gets a result
 * saying where it ran (after sleeping ms='...'), <silent/> nothing,
 * <big/> a result over 64 KiB, <twice/> two answers. */
static void on_query_iq(struct fb_iq *iq, void *arg)
{
	xmpp_stanza_t *q = xmpp_stanza_get_children(api->iq_stanza(iq));
	const char *name = xmpp_stanza_get_name(q);
	const char *ms = xmpp_stanza_get_attribute(q, "ms");
	xmpp_ctx_t *ctx = api->iq_ctx(iq);
	xmpp_stanza_t *payload;

	if (ms != NULL)
		sleep_ms(atol(ms));
	if (strcmp(name, "silent") == 0)
		return;
	payload = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(payload, "answer");
	xmpp_stanza_set_ns(payload, "urn:fisbot:test:query");
	xmpp_stanza_set_attribute(payload, "thread", thread_name());
	xmpp_stanza_set_attribute(payload, "from", api->iq_from(iq));
	if (strcmp(name, "big") == 0) {
		char *s = malloc(70001);
		xmpp_stanza_t *t = xmpp_stanza_new(ctx);

		memset(s, 'x', 70000);
		s[70000] = '\0';
		xmpp_stanza_set_text(t, s);
		xmpp_stanza_add_child_ex(payload, t, 0);
		free(s);
	}
	api->iq_result(iq, payload);
	if (strcmp(name, "twice") == 0)
		api->iq_error(iq, "cancel", "conflict", NULL);
}

static bool on_tick(struct fb_plugin *p, void *arg)
{
	return ++ticks < 2; /* runs twice, then unregisters */
}

static void on_event(struct fb_plugin *p, enum fb_event ev,
                     const struct fb_event_data *d, void *arg)
{
	if (ev == FB_EVENT_FILE_ADDED && d->file_id == 42)
		events++;
}

int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *a,
                       char **cause)
{
	api = a;
	ticks = events = 0;
	main_thread = pthread_self();
	if (api->register_commands(
	        p, commands, sizeof(commands) / sizeof(commands[0])) != 0 ||
	    api->register_iq(p, "urn:fisbot:test", on_iq, NULL, 0) != 0 ||
	    api->register_iq(p, "urn:fisbot:test:query", on_query_iq, NULL,
	                     FB_IQ_QUERY) != 0) {
		*cause = xasprintf("cannot register");
		return -1;
	}
	api->add_feature(p, "urn:fisbot:test");
	api->add_timer(p, 1000, on_tick, NULL);
	api->hook(p, FB_EVENT_FILE_ADDED, on_event, NULL);
	return 0;
}
