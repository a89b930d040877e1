/*
 * FB_EXPORT marks what the fisbot executable exports to plugins: the
 * functions of the public headers that plugins may call (the catalogue's
 * read functions, the search syntax, text, units, log, allocation, a few
 * configuration lookups) and, in a plugin, its entry points (FISBOT_PLUGIN,
 * fisbot_plugin_init, fisbot_plugin_fini). The core and the plugins are
 * built with -fvisibility=hidden, so nothing else crosses the boundary.
 */
#ifndef FISBOT_EXPORT_H
#define FISBOT_EXPORT_H

#define FB_EXPORT __attribute__((visibility("default")))

#endif
