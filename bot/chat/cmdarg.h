/*
 * The arguments the dispatcher resolves for a command before its handler
 * runs (struct fb_command .arg), like tmux's targets: the file a command
 * names by ID or PATH is looked up here, once, with one set of errors,
 * instead of in each handler.
 */
#ifndef FISBOT_CMDARG_H
#define FISBOT_CMDARG_H

#include "fisbot/catalogue.h"
#include "fisbot/fisbot_plugin.h"

/* Bytes of what the user typed that "no such file: ..." shows at most
 * (before escaping); longer names are cut and end with "…". */
#define CMDARG_ECHO_MAX 200

/*
 * Resolves the argument of cmd (argv[0..argc-1] as parsed, raw the
 * argument text) through the catalogue connection c. Returns 0 if cmd
 * takes no argument to resolve (FB_ARG_NONE; out is untouched), 1 with
 * *out filled (free it with cat_file_clear), or -1 with *error, the
 * one-line answer for the user (the caller frees it): "usage: USAGE" when
 * the name is missing or empty, "no such file: NAME" (sanitised, cut at
 * CMDARG_ECHO_MAX bytes), or "cannot read the catalogue" (also when c is
 * NULL).
 */
int cmdarg_resolve(struct catalogue *c, const struct fb_command *cmd, int argc,
                   char **argv, const char *raw, struct cat_file *out,
                   char **error);

#endif
