/* A broken plugin for the host's tests: built for another API version. */
#include "fisbot_plugin.h"

FB_EXPORT const unsigned fisbot_plugin_api_version = FB_API_VERSION + 1;
FB_EXPORT const char fisbot_plugin_name[] = "badversion";

int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *api,
                       char **cause)
{
	return 0;
}
