/*
 * The get plugin: "get ID|PATH" answers with a download link. The host
 * builds the message (a body that is exactly the URL, jabber:x:oob and a
 * XEP-0447 file-sharing element); this plugin only finds the file
 * and refuses one that is not hashed yet, since its link could not carry
 * the SHA-256 that clients check. The dispatcher looks the file up
 * (FB_ARG_FILE), on the host's query workers (FB_CMD_QUERY).
 *
 * With [transfers] slots, the host may queue the link instead of sending
 * it (all slots busy) and answer with the requester's place; "queue"
 * shows that place and "cancel" leaves the queue (both on the main
 * thread, which owns the queue).
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

/* queue */
static void cmd_queue(struct fb_request *req, int argc, char **argv)
{
	const char *prefix = api->config(api->req_plugin(req))->commands.prefix;
	struct fb_queue_info qi;

	api->queue_info(req, &qi);
	if (!qi.enabled && qi.waiting == 0) {
		api->reply(req, "there is no download queue: every get is "
		                "answered at once");
		return;
	}
	if (qi.position == 0) {
		api->reply(req, "you are not in the queue (%u waiting)",
		           qi.waiting);
		return;
	}
	api->reply(req,
	           "you are #%u in the queue of %u (about %u min): %s%s; "
	           "%scancel to leave it",
	           qi.position, qi.waiting, (qi.eta_s + 59) / 60, qi.first,
	           qi.mine > 1 ? " and more" : "", prefix);
}

/* cancel */
static void cmd_cancel(struct fb_request *req, int argc, char **argv)
{
	unsigned n = api->queue_cancel(req);

	if (n == 0)
		api->reply(req, "you are not in the queue");
	else
		api->reply(req, "you left the queue (%u request%s)", n,
		           n == 1 ? "" : "s");
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
    {
        .name = "queue",
        .usage = "queue",
        .min_args = 0,
        .max_args = 0,
        .perm = FB_ANYONE,
        .help = "your place in the download queue",
        .handler = cmd_queue,
        .flags = FB_CMD_TRANSFERS,
    },
    {
        .name = "cancel",
        .usage = "cancel",
        .min_args = 0,
        .max_args = 0,
        .perm = FB_ANYONE,
        .help = "leave the download queue",
        .handler = cmd_cancel,
        .flags = FB_CMD_TRANSFERS,
    },
};

FISBOT_PLUGIN("get", commands);
