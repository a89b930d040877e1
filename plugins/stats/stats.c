/*
 * The stats plugin: "stats" (files, folders, total size, downloads, bytes
 * served, uptime; the transfers' current rate, slots in use and queue) and "new
 * [N]" (the N most recently added files), both on the host's query workers
 * (FB_CMD_QUERY); the start time is set at init and only read afterwards.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot_plugin.h"
#include "listing.h"

#define NEW_DEFAULT 10
#define NEW_MAX     50 /* "new 1000" shows this many */

/* The host's API, set by the host before init. */
static const struct fb_api *api;

/* The plugin's state: when the bot started (plugins load at start). */
struct stats_state {
	int64_t started; /* clock_now_ms() */
};

/* Returns the seconds since the plugin was loaded. */
static uint64_t uptime(struct fb_plugin *p)
{
	const struct stats_state *st = api->data(p);
	int64_t ms = clock_now_ms() - st->started;

	return ms > 0 ? (uint64_t)ms / 1000 : 0;
}

/* stats */
static void cmd_stats(struct fb_request *req, int argc, char **argv)
{
	struct fb_plugin *p = api->req_plugin(req);
	char a[TEXT_SIZE_LEN], b[TEXT_SIZE_LEN], up[LISTING_DURATION_LEN];
	struct fb_transfers t;
	struct cat_stats s;

	if (catalogue_stats(api->catalogue(p), &s) == -1) {
		api->reply_error(req, "cannot read the catalogue");
		return;
	}
	api->reply(req, "files: %" PRIu64, s.files);
	api->reply(req, "folders: %" PRIu64, s.folders);
	api->reply(req, "total size: %s (%" PRIu64 " bytes)",
	           text_human_size(s.total_size, a), s.total_size);
	api->reply(req, "downloads: %" PRIu64, s.downloads);
	api->reply(req, "bytes served: %s (%" PRIu64 " bytes)",
	           text_human_size(s.bytes_served, b), s.bytes_served);
	api->reply(req, "uptime: %s", listing_duration(uptime(p), up));
	api->transfers(p, &t);
	api->reply(req, "rate: %s/s", text_human_size(t.rate, a));
	if (t.slots != 0)
		api->reply(req, "slots: %u of %u in use", t.slots_used,
		           t.slots);
	else
		api->reply(req, "slots: %u in use (no limit)", t.slots_used);
	api->reply(req, "queue: %u waiting", t.queued);
}

/* new [N] */
static void cmd_new(struct fb_request *req, int argc, char **argv)
{
	struct fb_plugin *p = api->req_plugin(req);
	unsigned long n = NEW_DEFAULT;
	struct cat_page page;
	char *line;

	if (argc > 1) {
		const char *s = argv[1];
		size_t digits = strspn(s, "0123456789");

		if (digits == 0 || s[digits] != '\0' || digits > 9 ||
		    (n = strtoul(s, NULL, 10)) == 0) {
			api->reply_error(req,
			                 "usage: new [N] (N a number "
			                 "from 1 to %d)",
			                 NEW_MAX);
			return;
		}
		if (n > NEW_MAX)
			n = NEW_MAX;
	}
	if (catalogue_newest(api->catalogue(p), (unsigned)n, &page) == -1) {
		api->reply_error(req, "cannot read the catalogue");
		return;
	}
	if (page.n == 0)
		api->reply(req, "no files yet");
	for (size_t i = 0; i < page.n; i++) {
		line = listing_file(&page.v[i].file);
		api->reply(req, "%s", line);
		free(line);
	}
	cat_page_clear(&page);
}

static const struct fb_command commands[] = {
    {
        .name = "stats",
        .usage = "stats",
        .min_args = 0,
        .max_args = 0,
        .perm = FB_ANYONE,
        .help = "files, folders, total size, downloads, bytes served, "
                "uptime, rate, slots and queue",
        .handler = cmd_stats,
        .flags = FB_CMD_QUERY,
    },
    {
        .name = "new",
        .usage = "new [N]",
        .min_args = 0,
        .max_args = 1,
        .perm = FB_ANYONE,
        .help = "the N most recently added files (default 10)",
        .handler = cmd_new,
        .flags = FB_CMD_QUERY,
    },
};

FISBOT_PLUGIN("stats", commands);

/* Notes the start time (the host registered the commands). */
int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *a,
                       char **cause)
{
	struct stats_state *st;

	st = xcalloc(1, sizeof(*st));
	st->started = clock_now_ms();
	api->set_data(p, st);
	return 0;
}

void fisbot_plugin_fini(struct fb_plugin *p)
{
	free(api->data(p));
}
