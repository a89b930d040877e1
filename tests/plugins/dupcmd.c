/* A broken plugin for the host's tests: it takes a command name ("echo",
 * from testcmds) that is already registered. */
#include "fisbot_plugin.h"

FISBOT_PLUGIN("dupcmd");

static void cmd_echo(struct fb_request *r, int argc, char **argv)
{
}

static const struct fb_command commands[] = {
    {.name = "echo",
     .usage = "echo",
     .min_args = 0,
     .max_args = 0,
     .help = "a second echo",
     .handler = cmd_echo},
};

int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *api,
                       char **cause)
{
	if (api->register_commands(p, commands, 1) != 0) {
		*cause = xasprintf("cannot register its commands");
		return -1;
	}
	return 0;
}
