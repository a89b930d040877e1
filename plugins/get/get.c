/*
 * The get plugin: "get ID|PATH" answers with a download link. The host
 * builds the message (a body that is exactly the URL, jabber:x:oob and a
 * XEP-0447 file-sharing element, SPEC §6); this plugin only finds the file
 * and refuses one that is not hashed yet, since its link could not carry
 * the SHA-256 that clients check. It runs on the host's query workers
 * (FB_CMD_QUERY): the lookup reads the catalogue.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot_plugin.h"
#include "listing.h"

FISBOT_PLUGIN("get");

/* The host's API, set once by fisbot_plugin_init. */
static const struct fb_api *api;

/* get ID|PATH */
static void cmd_get(struct fb_request *req, int argc, char **argv)
{
	struct catalogue *c = api->catalogue(api->req_plugin(req));
	char *arg = listing_arg(argc, argv, api->req_args(req));
	struct cat_file f = {0};
	char *s;
	int rc;

	rc = catalogue_resolve(c, arg, &f);
	if (rc == -1) {
		api->reply_error(req, "cannot read the catalogue");
	} else if (rc == 0) {
		s = text_sanitize(arg, strlen(arg));
		api->reply_error(req, "no such file: %s", s);
		free(s);
	} else if (!f.hashed) {
		api->reply_error(
		    req, "not ready yet: #%" PRId64 " is being hashed", f.id);
	} else {
		api->reply_link(req, &f);
	}
	cat_file_clear(&f);
	free(arg);
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
    },
};

int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *a,
                       char **cause)
{
	api = a;
	if (api->register_commands(
	        p, commands, sizeof(commands) / sizeof(commands[0])) == -1) {
		*cause = xstrdup("get: a command name is already taken");
		return -1;
	}
	return 0;
}
