/*
 * The browse plugin: "list [DIR]" shows a page of a folder of the share
 * (folders first, then files) and "more" continues it; "info ID|PATH"
 * shows everything the catalogue knows about one file (which the
 * dispatcher looks up: FB_ARG_FILE). Both run on the host's query workers
 * (FB_CMD_QUERY), as "more" after "list".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot_plugin.h"
#include "listing.h"

/* The host's API, set by the host before any handler runs. */
static const struct fb_api *api;

/* Where a listing continues on "more". */
struct browse_cursor {
	char *dir;       /* catalogue folder, "" for the root */
	uint64_t offset; /* first entry of the next page */
	bool done;       /* the last page was shown */
};

/* Frees a cursor (the host calls it when the cursor expires). */
static void cursor_free(void *state)
{
	struct browse_cursor *cur = state;

	if (cur == NULL)
		return;
	free(cur->dir);
	free(cur);
}

static void show_page(struct fb_request *req, char *dir, uint64_t offset);

/* Continues a listing: the next page, or a note that there is none. */
static void list_more(struct fb_request *req, void *state)
{
	struct browse_cursor *cur = state;
	char *dir;

	if (cur->done) {
		api->reply_error(req, "nothing more to show");
		return;
	}
	/* The new page gets a cursor of its own; this one stays intact
	 * until the host frees it. */
	dir = xstrdup(cur->dir);
	show_page(req, dir, cur->offset);
}

/* Replies with the page of dir (which it takes over) at offset, and
 * leaves a cursor for "more". */
static void show_page(struct fb_request *req, char *dir, uint64_t offset)
{
	struct fb_plugin *p = api->req_plugin(req);
	const struct config *cfg = api->config(p);
	struct catalogue *c = api->catalogue(p);
	unsigned size =
	    cfg->commands.page_size > 0 ? cfg->commands.page_size : 10;
	struct listing_page pg = {.offset = offset, .page_size = size};
	struct browse_cursor *cur;
	struct cat_page page;
	char *line;
	int rc;

	rc = catalogue_list(c, dir, offset, size, &page);
	if (rc == -1) {
		api->reply_error(req, "cannot read the catalogue");
		free(dir);
		return;
	}
	if (rc == 0) {
		line = text_sanitize(dir, strlen(dir));
		api->reply_error(req, "no such folder: %s", line);
		free(line);
		free(dir);
		return;
	}
	if (page.total == 0) {
		line = listing_dir(dir);
		api->reply(req, "%s is empty",
		           dir[0] == '\0' ? "the share" : line);
		free(line);
	} else if (page.n == 0) {
		api->reply_error(req, "nothing more to show");
	}
	for (size_t i = 0; i < page.n; i++) {
		const struct cat_entry *e = &page.v[i];

		line = e->is_dir ? listing_dir(e->dir_path)
		                 : listing_file(&e->file);
		api->reply(req, "%s", line);
		free(line);
	}
	pg.shown = page.n;
	pg.total = page.total;
	if (page.n > 0) {
		line = listing_footer(&pg, cfg->commands.prefix);
		api->reply(req, "%s", line);
		free(line);
	}
	cat_page_clear(&page);

	cur = xcalloc(1, sizeof(*cur));
	cur->dir = dir;
	cur->offset = offset + pg.shown;
	cur->done = !listing_has_more(&pg);
	api->set_more(req, list_more, cur, cursor_free);
}

/* list [DIR] */
static void cmd_list(struct fb_request *req, int argc, char **argv)
{
	char *arg = listing_arg(argc, argv, api->req_args(req));
	char *dir = listing_folder(arg);

	free(arg);
	show_page(req, dir, 0);
}

/* Replies "label: value" with value sanitised, or fallback if NULL. */
static void reply_field(struct fb_request *req, const char *label,
                        const char *value, const char *fallback)
{
	char *s;

	if (value == NULL || value[0] == '\0') {
		api->reply(req, "%s: %s", label, fallback);
		return;
	}
	s = text_sanitize(value, strlen(value));
	api->reply(req, "%s: %s", label, s);
	free(s);
}

/* info ID|PATH */
static void cmd_info(struct fb_request *req, int argc, char **argv)
{
	const struct cat_file *f = api->req_file(req);
	char size[TEXT_SIZE_LEN], date[LISTING_DATE_LEN], hex[65];
	const char *name;
	char *line;

	name = strrchr(f->path, '/');
	name = name != NULL ? name + 1 : f->path;
	line = listing_file(f);
	api->reply(req, "%s", line);
	free(line);
	reply_field(req, "name", name, "");
	reply_field(req, "path", f->path, "");
	api->reply(req, "size: %s (%" PRIu64 " bytes)",
	           text_human_size(f->size, size), f->size);
	api->reply(req, "date: %s", listing_date(f->added, date));
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", f->sha256[i]);
	api->reply(req, "sha-256: %s", f->hashed ? hex : "(not computed yet)");
	reply_field(req, "type", f->media_type, "(unknown)");
	reply_field(req, "description", f->description, "(none)");
	api->reply(req, "downloads: %" PRIu64, f->downloads);
}

static const char *const list_aliases[] = {"ls", NULL};

static const struct fb_command commands[] = {
    {
        .name = "list",
        .aliases = list_aliases,
        .usage = "list [DIR]",
        .min_args = 0,
        .max_args = -1,
        .perm = FB_ANYONE,
        .help = "a page of a folder of the share (folders first, then files)",
        .handler = cmd_list,
        .flags = FB_CMD_QUERY,
    },
    {
        .name = "info",
        .usage = "info ID|PATH",
        .min_args = 1,
        .max_args = -1,
        .perm = FB_ANYONE,
        .help = "name, path, size, date, SHA-256, media type, description "
                "and downloads of a file",
        .handler = cmd_info,
        .flags = FB_CMD_QUERY,
        .arg = FB_ARG_FILE,
    },
};

FISBOT_PLUGIN("browse", commands);
