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

/* Returns what to answer instead of "nothing found" while the first build
 * of an empty catalogue runs (caller frees), else NULL. */
static char *still_indexing(struct fb_plugin *p)
{
	uint64_t files = 0;

	if (!api->indexing(p, &files))
		return NULL;
	return listing_indexing(files);
}

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
	if ((rc == 0 || page.total == 0) &&
	    (line = still_indexing(p)) != NULL) {
		/* Not there (yet): the first scan is still running. */
		api->reply_error(req, "%s", line);
		free(line);
		if (rc == 1)
			cat_page_clear(&page);
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

/* info ID|PATH */
static void cmd_info(struct fb_request *req, int argc, char **argv)
{
	const struct cat_file *f = api->req_file(req);
	struct strlist lines = {0};
	char *line;

	line = listing_file(f);
	api->reply(req, "%s", line);
	free(line);
	catalogue_info_lines(f, &lines);
	for (size_t i = 0; i < lines.n; i++)
		api->reply(req, "%s", lines.v[i]);
	strlist_free(&lines);
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
