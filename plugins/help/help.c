/*
 * The help plugin: "help" lists the commands this user may run, generated
 * from every plugin's command table; "help COMMAND" shows one command's
 * usage and help line. Admin commands are shown only to an [admins] JID in
 * a direct chat, where they can be run; the download queue's commands only
 * where [transfers] has slots (FB_CMD_TRANSFERS).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fisbot_plugin.h"

/* The host's API, set by the host before any handler runs. */
static const struct fb_api *api;

/* What a walk over the command tables is looking for. */
struct walk {
	struct fb_request *req;
	bool admin;
	const char *want;               /* help COMMAND, or NULL */
	const struct fb_command *found; /* its entry */
	size_t shown;
};

/* Returns true if the requester may see cmd. */
static bool visible(const struct walk *w, const struct fb_command *cmd)
{
	const struct config *cfg;

	if (cmd->perm == FB_ADMIN && !w->admin)
		return false;
	if (cmd->flags & FB_CMD_TRANSFERS) {
		cfg = api->config(api->req_plugin(w->req));
		return cfg->transfers.slots != 0 ||
		       cfg->transfers.slots_per_user != 0;
	}
	return true;
}

/* Adds one line per visible command: its usage and help line. */
static void list_one(const struct fb_command *cmd, void *arg)
{
	struct walk *w = arg;

	if (!visible(w, cmd))
		return;
	api->reply(w->req, "%s — %s%s", cmd->usage, cmd->help,
	           cmd->perm == FB_ADMIN ? " (admin)" : "");
	w->shown++;
}

/* Finds the visible command called w->want (name or alias). */
static void find_one(const struct fb_command *cmd, void *arg)
{
	struct walk *w = arg;

	if (w->found != NULL || !visible(w, cmd))
		return;
	if (strcasecmp(cmd->name, w->want) == 0) {
		w->found = cmd;
		return;
	}
	for (const char *const *a = cmd->aliases; a != NULL && *a != NULL; a++)
		if (strcasecmp(*a, w->want) == 0)
			w->found = cmd;
}

/* help [COMMAND] */
static void cmd_help(struct fb_request *r, int argc, char **argv)
{
	struct fb_plugin *p = api->req_plugin(r);
	const char *prefix = api->config(p)->commands.prefix;
	struct walk w = {r, api->req_is_admin(r), NULL, NULL, 0};
	const struct fb_command *c;

	if (argc < 2) {
		if (api->req_place(r) == FB_ROOM)
			api->reply(r,
			           "commands (start each with %s; say %shelp "
			           "COMMAND for one):",
			           prefix, prefix);
		else
			api->reply(r,
			           "commands (the %s in front is optional "
			           "here; say help COMMAND for one):",
			           prefix);
		api->commands_foreach(p, list_one, &w);
		return;
	}
	w.want = argv[1];
	/* "help !get" means "help get". */
	if (strncmp(w.want, prefix, strlen(prefix)) == 0 &&
	    w.want[strlen(prefix)] != '\0')
		w.want += strlen(prefix);
	api->commands_foreach(p, find_one, &w);
	if ((c = w.found) == NULL) {
		api->reply_error(r, "no such command: %s (say help)", argv[1]);
		return;
	}
	api->reply(r, "usage: %s", c->usage);
	api->reply(r, "%s", c->help);
	if (c->aliases != NULL && c->aliases[0] != NULL) {
		char line[256];
		size_t n = 0;

		for (const char *const *a = c->aliases; *a != NULL; a++) {
			int k = snprintf(line + n, sizeof(line) - n, "%s%s",
			                 n > 0 ? ", " : "", *a);

			if (k < 0 || (size_t)k >= sizeof(line) - n)
				break;
			n += (size_t)k;
		}
		api->reply(r, "also: %s", line);
	}
	if (c->flags & FB_CMD_ROOM_WIDE)
		api->reply(r, "in a room, @%s asks every bot there", c->name);
	if (c->perm == FB_ADMIN)
		api->reply(r, "for admins, in a direct chat");
}

static const struct fb_command commands[] = {
    {
        .name = "help",
        .usage = "help [COMMAND]",
        .min_args = 0,
        .max_args = 1,
        .perm = FB_ANYONE,
        .help = "the commands you may run, or one command's usage",
        .handler = cmd_help,
    },
};

FISBOT_PLUGIN("help", commands);
