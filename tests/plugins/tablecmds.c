/*
 * A plugin for the host's unit tests that has no fisbot_plugin_init: its
 * command table is declared with FISBOT_PLUGIN("tablecmds", commands), so
 * the host sets its api and registers the table itself. Its commands take
 * file arguments the dispatcher resolves (FB_ARG_FILE on a query worker,
 * FB_ARG_FILE_FIRST on the main thread) and say what they got. Never
 * installed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot_plugin.h"

/* Set by the host before it registers the table. */
static const struct fb_api *api;

/* Replies "#ID PATH" for the resolved file, then what follows. */
static void reply_file(struct fb_request *r, const char *rest)
{
	const struct cat_file *f = api->req_file(r);
	char *path = text_sanitize(f->path, strlen(f->path));

	api->reply(r, "#%" PRId64 " %s%s%s", f->id, path,
	           rest != NULL ? " rest=" : "", rest != NULL ? rest : "");
	free(path);
}

/* hello: no argument to resolve. */
static void cmd_hello(struct fb_request *r, int argc, char **argv)
{
	api->reply(r, "hello from a plugin without init (file: %s)",
	           api->req_file(r) == NULL ? "none" : "set");
}

/* whichfile ID|PATH, on a query worker. */
static void cmd_whichfile(struct fb_request *r, int argc, char **argv)
{
	reply_file(r, NULL);
}

/* firstfile ID|PATH [WORD], on the main thread. */
static void cmd_firstfile(struct fb_request *r, int argc, char **argv)
{
	reply_file(r, argc > 2 ? argv[2] : "");
}

static const struct fb_command commands[] = {
    {
        .name = "hello",
        .usage = "hello",
        .min_args = 0,
        .max_args = 0,
        .help = "says hello",
        .handler = cmd_hello,
    },
    {
        .name = "whichfile",
        .usage = "whichfile ID|PATH",
        .min_args = 1,
        .max_args = -1,
        .help = "the file an argument names",
        .handler = cmd_whichfile,
        .flags = FB_CMD_QUERY,
        .arg = FB_ARG_FILE,
    },
    {
        .name = "firstfile",
        .usage = "firstfile ID|PATH [WORD]",
        .min_args = 1,
        .max_args = 2,
        .help = "the file the first argument names",
        .handler = cmd_firstfile,
        .arg = FB_ARG_FILE_FIRST,
    },
};

FISBOT_PLUGIN("tablecmds", commands);
