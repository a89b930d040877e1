/* A broken plugin for the host's tests: its declared command table has a
 * file argument that may be missing (min_args 0), which the host refuses.
 * It has no init. */
#include "fisbot_plugin.h"

static const struct fb_api *api;

static void cmd_bad(struct fb_request *r, int argc, char **argv)
{
	api->reply(r, "never");
}

static const struct fb_command commands[] = {
    {
        .name = "bad",
        .usage = "bad [ID]",
        .min_args = 0,
        .max_args = 1,
        .help = "a file argument that may be missing",
        .handler = cmd_bad,
        .arg = FB_ARG_FILE,
    },
};

FISBOT_PLUGIN("badtable", commands);
