/*
 * The announce plugin: tells rooms about new files. New files
 * (FB_EVENT_FILE_ADDED, sent once a file is hashed) are gathered from the
 * first one on for [announce] batch; then every room that wants
 * announcements gets one message for the whole batch:
 *
 *   3 new files: #51 a.pdf (1.0 MiB), #52 b.ogg (3.0 MiB), #53 c.txt (12 B)
 *
 * naming at most ANNOUNCE_SHOW files (and about ANNOUNCE_BYTES of text),
 * then "and N more". Never one message per file. A file removed before
 * the batch goes out is not announced, nor are the files of the first
 * build of an empty catalogue (a new share of 50,000 files is no news
 * for every room); files added while the bot was down are. With [announce]
 * enabled = no nothing is gathered.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot_plugin.h"
#include "listing.h"

FISBOT_PLUGIN("announce");

#define ANNOUNCE_SHOW  10   /* files named in one message */
#define ANNOUNCE_BYTES 1500 /* about this many bytes of names at most */
#define ANNOUNCE_KEEP  256  /* ids remembered per batch; others counted */
#define TICK_MIN_MS    50
#define TICK_MAX_MS    1000

/* The host's API, set once by fisbot_plugin_init. */
static const struct fb_api *api;

/* The batch being gathered. */
struct announce_state {
	int64_t ids[ANNOUNCE_KEEP];
	size_t n;
	uint64_t extra;  /* new files past ANNOUNCE_KEEP */
	int64_t started; /* clock_now_ms(), when the batch began */
};

/* Returns the milliseconds since t (a clock_now_ms time). */
static uint64_t ms_since(int64_t t)
{
	int64_t ms = clock_now_ms() - t;

	return ms > 0 ? (uint64_t)ms : 0;
}

/* Adds a new file to the batch, or drops a removed one from it. */
static void on_file(struct fb_plugin *p, enum fb_event ev,
                    const struct fb_event_data *data, void *arg)
{
	struct announce_state *st = api->data(p);

	if (ev == FB_EVENT_FILE_REMOVED) {
		for (size_t i = 0; i < st->n; i++) {
			if (st->ids[i] == data->file_id) {
				memmove(&st->ids[i], &st->ids[i + 1],
				        (st->n - i - 1) * sizeof(st->ids[0]));
				st->n--;
				break;
			}
		}
		return;
	}
	/* The first build of an empty catalogue is not news. */
	if (!api->config(p)->announce.enabled || data->first_build)
		return;
	if (st->n == 0 && st->extra == 0)
		st->started = clock_now_ms();
	if (st->n < ANNOUNCE_KEEP)
		st->ids[st->n++] = data->file_id;
	else
		st->extra++;
}

/* Orders ids (qsort). */
static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Returns the announcement for the batch (files in the order they were
 * added, i.e. by id, whatever order hashing finished in), or NULL if none
 * of its files is still there. The caller frees it. */
static char *announcement(struct fb_plugin *p, struct announce_state *st)
{
	struct catalogue *c = api->catalogue(p);
	char *names = NULL, *text, *line;
	size_t len = 0, shown = 0;
	uint64_t total = st->extra, rest;

	qsort(st->ids, st->n, sizeof(st->ids[0]), cmp_id);
	for (size_t i = 0; i < st->n; i++) {
		struct cat_file f = {0};

		if (catalogue_get(c, st->ids[i], &f) != 1 || !f.hashed) {
			cat_file_clear(&f);
			continue;
		}
		total++;
		line = listing_file(&f);
		cat_file_clear(&f);
		if (shown < ANNOUNCE_SHOW &&
		    (shown == 0 || len + strlen(line) + 2 <= ANNOUNCE_BYTES)) {
			if (shown > 0)
				listing_append(&names, &len, ", ");
			listing_append(&names, &len, line);
			shown++;
		}
		free(line);
	}
	if (total == 0)
		return NULL;
	rest = total - shown;
	if (rest > 0)
		text = xasprintf("%" PRIu64 " new %s: %s and %" PRIu64 " more",
		                 total, total == 1 ? "file" : "files", names,
		                 rest);
	else
		text = xasprintf("%" PRIu64 " new %s: %s", total,
		                 total == 1 ? "file" : "files", names);
	free(names);
	return text;
}

/* What send_to_room needs. */
struct send_ctx {
	struct fb_plugin *p;
	const char *text;
};

/* Sends the announcement to room if it wants announcements. */
static void send_to_room(const char *room, void *arg)
{
	struct send_ctx *ctx = arg;

	if (api->room_announces(ctx->p, room))
		api->send_room(ctx->p, room, ctx->text);
}

/* Sends the batch once it has been gathered for [announce] batch. */
static bool tick(struct fb_plugin *p, void *arg)
{
	struct announce_state *st = api->data(p);
	const struct config *cfg = api->config(p);
	struct send_ctx ctx = {.p = p};
	char *text;

	if (st->n == 0 && st->extra == 0)
		return true;
	if (!cfg->announce.enabled) {
		st->n = 0;
		st->extra = 0;
		return true;
	}
	if (ms_since(st->started) < cfg->announce.batch_ms)
		return true;
	text = announcement(p, st);
	st->n = 0;
	st->extra = 0;
	if (text == NULL)
		return true;
	ctx.text = text;
	api->rooms_foreach(p, send_to_room, &ctx);
	free(text);
	return true;
}

int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *a,
                       char **cause)
{
	uint64_t period = a->config(p)->announce.batch_ms / 4;

	api = a;
	if (period < TICK_MIN_MS)
		period = TICK_MIN_MS;
	if (period > TICK_MAX_MS)
		period = TICK_MAX_MS;
	api->set_data(p, xcalloc(1, sizeof(struct announce_state)));
	api->hook(p, FB_EVENT_FILE_ADDED, on_file, NULL);
	api->hook(p, FB_EVENT_FILE_REMOVED, on_file, NULL);
	api->add_timer(p, (unsigned long)period, tick, NULL);
	return 0;
}

void fisbot_plugin_fini(struct fb_plugin *p)
{
	free(api->data(p));
}
