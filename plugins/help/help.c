/*
 * The help plugin: "help" lists the commands this user may run where it
 * asked, generated from every plugin's command table; "help COMMAND" shows
 * one command's usage and help line. Admin commands are shown only to an
 * [admins] JID in a direct chat, where they can be run, and a command that
 * says it is not available to this requester here (fb_command.available,
 * e.g. upload with uploads off) is not shown at all, nor the download
 * queue's commands where [transfers] has no slots (FB_CMD_TRANSFERS).
 *
 * The list has a stable order, whatever the plugins' load order: browsing
 * (list, more, new), search (search, find), links (get, info, web), then
 * the other commands as registered, then the admin commands.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fisbot_plugin.h"

/* The host's API, set by the host before any handler runs. */
static const struct fb_api *api;

#define HELP_MAX 256 /* commands listed at most */

/* What a walk over the command tables is looking for. */
struct walk {
	struct fb_request *req;
	bool admin;
	const char *want;               /* help COMMAND, or NULL */
	const struct fb_command *found; /* its entry */
	/* help: the visible commands, in registration order */
	const struct fb_command *list[HELP_MAX];
	size_t n;
};

/* The commands listed first, by group: browsing, search, links. */
static const char *const first[] = {
    "list", "more", "new", "search", "find", "get", "info", "web",
};

/* Returns where cmd goes in the list: its place in first[], then the
 * others, then the admin commands. */
static size_t rank(const struct fb_command *cmd)
{
	size_t n = sizeof(first) / sizeof(first[0]);

	for (size_t i = 0; i < n; i++)
		if (strcasecmp(cmd->name, first[i]) == 0)
			return i;
	return cmd->perm == FB_ADMIN ? n + 1 : n;
}

/* Returns true if the requester may run cmd where it asked. */
static bool visible(const struct walk *w, const struct fb_command *cmd)
{
	const struct config *cfg;

	if (cmd->perm == FB_ADMIN && !w->admin)
		return false;
	if (cmd->flags & FB_CMD_TRANSFERS) {
		cfg = api->config(api->req_plugin(w->req));
		if (cfg->transfers.slots == 0 &&
		    cfg->transfers.slots_per_user == 0)
			return false;
	}
	return cmd->available == NULL || cmd->available(w->req);
}

/* Collects the visible commands. */
static void list_one(const struct fb_command *cmd, void *arg)
{
	struct walk *w = arg;

	if (w->n < HELP_MAX && visible(w, cmd))
		w->list[w->n++] = cmd;
}

/* Sorts the n commands of list by rank, keeping the registration order
 * within a rank (an insertion sort: stable, and n is small). */
static void help_sort(const struct fb_command **list, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		const struct fb_command *c = list[i];
		size_t j = i;

		for (; j > 0 && rank(list[j - 1]) > rank(c); j--)
			list[j] = list[j - 1];
		list[j] = c;
	}
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
	struct walk *w = xcalloc(1, sizeof(*w));
	const struct fb_command *c;

	w->req = r;
	w->admin = api->req_is_admin(r);
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
		api->commands_foreach(p, list_one, w);
		help_sort(w->list, w->n);
		for (size_t i = 0; i < w->n; i++)
			api->reply(
			    r, "%s — %s%s", w->list[i]->usage, w->list[i]->help,
			    w->list[i]->perm == FB_ADMIN ? " (admin)" : "");
		free(w);
		return;
	}
	w->want = argv[1];
	/* "help !get" means "help get". */
	if (strncmp(w->want, prefix, strlen(prefix)) == 0 &&
	    w->want[strlen(prefix)] != '\0')
		w->want += strlen(prefix);
	api->commands_foreach(p, find_one, w);
	c = w->found;
	free(w);
	if (c == NULL) {
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
