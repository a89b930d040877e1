/* A broken plugin for the host's tests: its init fails. */
#include "fisbot_plugin.h"

FISBOT_PLUGIN("failinit");

int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *api,
                       char **cause)
{
	*cause = xasprintf("the frobnicator is missing");
	return -1;
}
