/*
 * The search plugin: "search TERMS..." pages through the files that match
 * (newest first; "more" continues), and "find TERMS..." is the room-wide
 * search: "@find" or "!find" in a room, answered privately with up
 * to find_max_results files and silent when nothing matches, so that every
 * bot in a room can answer the same question without noise.
 *
 * Both use the core's query parser (query.h) on the raw argument text, and
 * run on the host's query workers (FB_CMD_QUERY), as "more" after them.
 */
#include <inttypes.h>
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

/* Where a search continues on "more". */
struct search_cursor {
	struct query *q;
	uint64_t offset; /* first match of the next page */
	bool done;       /* the last page was shown */
};

/* Frees a cursor (the host calls it when the cursor expires). */
static void cursor_free(void *state)
{
	struct search_cursor *cur = state;

	if (cur == NULL)
		return;
	query_free(cur->q);
	free(cur);
}

static void show_page(struct fb_request *req, struct query *q, uint64_t offset);

/* Continues a search: the next page, or a note that there is none. */
static void search_more(struct fb_request *req, void *state)
{
	struct search_cursor *cur = state;
	struct query *q;

	if (cur->done || cur->q == NULL) {
		api->reply_error(req, "nothing more to show");
		return;
	}
	/* The query moves to the new page's cursor. */
	q = cur->q;
	cur->q = NULL;
	cur->done = true;
	show_page(req, q, cur->offset);
}

/* Replies with the page of matches of q (which it takes over) at offset,
 * and leaves a cursor for "more". */
static void show_page(struct fb_request *req, struct query *q, uint64_t offset)
{
	struct fb_plugin *p = api->req_plugin(req);
	const struct config *cfg = api->config(p);
	unsigned size =
	    cfg->commands.page_size > 0 ? cfg->commands.page_size : 10;
	struct listing_page pg = {.offset = offset, .page_size = size};
	struct search_cursor *cur;
	struct cat_page page;
	char *cause = NULL, *line;

	if (catalogue_search(api->catalogue(p), q, offset, size, &page,
	                     &cause) == -1) {
		api->reply_error(req, "%s",
		                 cause != NULL ? cause : "search failed");
		free(cause);
		query_free(q);
		return;
	}
	if (page.n == 0 && offset == 0 && (line = still_indexing(p)) != NULL) {
		api->reply_error(req, "%s", line);
		free(line);
	} else if (page.n == 0 && page.regex_limited)
		api->reply_error(req,
		                 "%s (regex too complex for some paths: "
		                 "they were skipped)",
		                 offset == 0 ? "no match"
		                             : "nothing more to show");
	else if (page.n == 0)
		api->reply_error(req, offset == 0 ? "no match"
		                                  : "nothing more to show");
	for (size_t i = 0; i < page.n; i++) {
		line = listing_file(&page.v[i].file);
		api->reply(req, "%s", line);
		free(line);
	}
	pg.shown = page.n;
	pg.total = page.total;
	pg.capped = page.total_capped;
	if (page.n > 0) {
		line = listing_footer(&pg, cfg->commands.prefix);
		api->reply(req, "%s", line);
		free(line);
		if (page.regex_limited)
			api->reply(req, "regex too complex for some paths: "
			                "they were skipped");
	}
	cat_page_clear(&page);

	cur = xcalloc(1, sizeof(*cur));
	cur->q = q;
	cur->offset = offset + pg.shown;
	cur->done = !listing_has_more(&pg);
	api->set_more(req, search_more, cur, cursor_free);
}

/* search TERMS... */
static void cmd_search(struct fb_request *req, int argc, char **argv)
{
	char *cause = NULL;
	struct query *q;

	q = query_parse(api->req_args(req), &cause);
	if (q == NULL) {
		api->reply_error(req, "bad search: %s", cause);
		free(cause);
		return;
	}
	if (query_is_empty(q)) {
		api->reply_error(req, "usage: search TERMS...");
		query_free(q);
		return;
	}
	show_page(req, q, 0);
}

/* find TERMS...: the room-wide search. In a room every failure is silent
 * (other bots may have the answer); in a private or direct chat a bad or
 * too short query gets a hint. */
static void cmd_find(struct fb_request *req, int argc, char **argv)
{
	struct fb_plugin *p = api->req_plugin(req);
	const struct config *cfg = api->config(p);
	bool in_room = api->req_place(req) == FB_ROOM;
	unsigned max = cfg->commands.find_max_results;
	unsigned min = cfg->commands.find_min_length;
	struct cat_page page = {0};
	char *cause = NULL, *line;
	struct query *q;

	q = query_parse(api->req_args(req), &cause);
	if (q == NULL) {
		if (!in_room)
			api->reply_error(req, "bad search: %s", cause);
		free(cause);
		return;
	}
	if (query_is_empty(q) || query_longest_literal(q) < min) {
		if (!in_room)
			api->reply_error(req,
			                 "usage: find TERMS... (a word of at "
			                 "least %u characters)",
			                 min);
		goto out;
	}
	if (max == 0)
		max = 1;
	if (catalogue_search(api->catalogue(p), q, 0, max, &page, &cause) ==
	    -1) {
		if (!in_room)
			api->reply_error(
			    req, "%s", cause != NULL ? cause : "search failed");
		free(cause);
		goto out;
	}
	for (size_t i = 0; i < page.n; i++) {
		line = listing_file(&page.v[i].file);
		api->reply(req, "%s", line);
		free(line);
	}
	if (page.n > 0 && (page.total > page.n || page.total_capped)) {
		char *args = text_sanitize(api->req_args(req),
		                           strlen(api->req_args(req)));
		uint64_t rest = page.total > page.n ? page.total - page.n : 0;

		api->reply(req, "… and %" PRIu64 "%s more: say %ssearch %s",
		           rest, page.total_capped ? "+" : "",
		           cfg->commands.prefix, args);
		free(args);
	}
	cat_page_clear(&page);
out:
	query_free(q);
}

static const struct fb_command commands[] = {
    {
        .name = "search",
        .usage = "search TERMS...",
        .min_args = 1,
        .max_args = -1,
        .perm = FB_ANYONE,
        .help = "files matching every term (words, \"phrases\", *.globs, "
                "/PCRE2 regex/, size:>10M, type:audio, new:7d, "
                "desc:WORD), newest first",
        .handler = cmd_search,
        .flags = FB_CMD_QUERY,
    },
    {
        .name = "find",
        .usage = "find TERMS...",
        .min_args = 1,
        .max_args = -1,
        .perm = FB_ANYONE,
        .help = "room-wide search (@find in a room): every bot with "
                "matches answers privately",
        .handler = cmd_find,
        .flags = FB_CMD_ROOM_WIDE | FB_CMD_QUERY,
    },
};

FISBOT_PLUGIN("search", commands);
