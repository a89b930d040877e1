/*
 * The get plugin: "get ID|PATH" answers with a download link. The host
 * builds the message (a body that is exactly the URL, jabber:x:oob and a
 * XEP-0447 file-sharing element); this plugin only finds the file
 * and refuses one that is not hashed yet, since its link could not carry
 * the SHA-256 that clients check. The dispatcher looks the file up
 * (FB_ARG_FILE), on the host's query workers (FB_CMD_QUERY).
 */
#include <inttypes.h>

#include "fisbot_plugin.h"

/* The host's API, set by the host before any handler runs. */
static const struct fb_api *api;

/* get ID|PATH */
static void cmd_get(struct fb_request *req, int argc, char **argv)
{
	const struct cat_file *f = api->req_file(req);

	if (!f->hashed)
		api->reply_error(
		    req, "not ready yet: #%" PRId64 " is being hashed", f->id);
	else
		api->reply_link(req, f);
}

static const struct fb_command commands[] = {
    {
        .name = "get",
        .usage = "get ID|PATH",
        .min_args = 1,
        .max_args = -1,
        .perm = FB_ANYONE,
        .help = "a download link for a file",
        .handler = cmd_get,
        .flags = FB_CMD_QUERY,
        .arg = FB_ARG_FILE,
    },
};

FISBOT_PLUGIN("get", commands);
