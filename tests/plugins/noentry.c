/* A broken plugin for the host's tests: FISBOT_PLUGIN without a command
 * table, and no init either, so nothing would ever run. */
#include "fisbot_plugin.h"

FISBOT_PLUGIN("noentry");
