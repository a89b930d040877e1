/*
 * A plugin for the host's unit tests: commands that exercise arity,
 * permissions, replies (many lines, long lines, errors, links, lines that
 * start with the prefix), room-wide searches, "more", an IQ namespace, a
 * timer and an event hook. Never installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot_plugin.h"

FISBOT_PLUGIN("testcmds");

static const struct fb_api *api;
static int ticks, events;

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
	if (api->register_commands(
	        p, commands, sizeof(commands) / sizeof(commands[0])) != 0 ||
	    api->register_iq(p, "urn:fisbot:test", on_iq, NULL) != 0) {
		*cause = xasprintf("cannot register");
		return -1;
	}
	api->add_feature(p, "urn:fisbot:test");
	api->add_timer(p, 1000, on_tick, NULL);
	api->hook(p, FB_EVENT_FILE_ADDED, on_event, NULL);
	return 0;
}
