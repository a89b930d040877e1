/*
 * The web plugin: "web" answers with the address of the web index
 * ([web], SPEC §11): {base_url}/ when access = public, else the
 * requester's personal signed link {base_url}/w/{token}/, valid [web]
 * link_lifetime. The link is a bearer secret, so it is only handed out in
 * a direct chat or a MUC private message, never in a room's groupchat
 * (where a room that refuses private messages would get the answer). The
 * URL comes from the host (api->web_url: the HTTP side's link key); with
 * [web] off the command says so, and help does not list it (nor in a
 * groupchat when the link is personal).
 */
#include <stdbool.h>
#include <stdlib.h>

#include "fisbot_plugin.h"

/* The host's API, set by the host before any handler runs. */
static const struct fb_api *api;

/* web */
static void cmd_web(struct fb_request *r, int argc, char **argv)
{
	const struct config *cfg = api->config(api->req_plugin(r));
	char *url, *cause = NULL;
	uint64_t secs;

	(void)argc;
	(void)argv;
	if (!cfg->web.enabled) {
		api->reply_error(r, "the web index is disabled here");
		return;
	}
	if (cfg->web.access == WEB_LINK && api->req_place(r) == FB_ROOM) {
		api->reply_error(r, "your web link is personal: ask for it in "
		                    "a private message or a direct chat");
		return;
	}
	url = api->web_url(api->req_plugin(r), api->req_sender(r), &cause);
	if (url == NULL) {
		api->reply_error(
		    r, "%s",
		    cause != NULL ? cause : "the web index is not available");
		free(cause);
		return;
	}
	if (cfg->web.access == WEB_PUBLIC) {
		api->reply(r, "the web index: %s", url);
	} else if (cfg->web.link_lifetime_ms == 0) {
		api->reply(r, "your personal link to the web index (keep it "
		              "to yourself):");
		api->reply(r, "%s", url);
	} else {
		secs = cfg->web.link_lifetime_ms / 1000;
		if (secs >= 86400)
			api->reply(r,
			           "your personal link to the web index, valid "
			           "%llu day%s (keep it to yourself):",
			           (unsigned long long)(secs / 86400),
			           secs / 86400 == 1 ? "" : "s");
		else
			api->reply(r,
			           "your personal link to the web index, valid "
			           "%llu s (keep it to yourself):",
			           (unsigned long long)secs);
		api->reply(r, "%s", url);
	}
	free(url);
}

/* Whether r may run web where it asked (fb_command.available): the web
 * index is on, and a personal link is not asked for in a groupchat. */
static bool web_available(struct fb_request *r)
{
	const struct config *cfg = api->config(api->req_plugin(r));

	return cfg->web.enabled &&
	       (cfg->web.access == WEB_PUBLIC || api->req_place(r) != FB_ROOM);
}

static const struct fb_command commands[] = {
    {
        .name = "web",
        .usage = "web",
        .min_args = 0,
        .max_args = 0,
        .perm = FB_ANYONE,
        .help = "your link to the web index (browse, search, feed)",
        .handler = cmd_web,
        .available = web_available,
    },
};

FISBOT_PLUGIN("web", commands);
