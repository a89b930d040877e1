/*
 * An example third-party fisbot plugin: "ping [TEXT]" answers "pong" (or
 * the [plugin "ping"] reply setting) followed by TEXT, and "roll [NdM]"
 * rolls dice. It shows the whole life of a plugin: a const command table
 * declared with FISBOT_PLUGIN (the host registers it), init with a setting
 * and state, a hook, and fini. It includes fisbot_plugin.h only. See
 * README.md next to it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot_plugin.h"

/* The host's API: FISBOT_PLUGIN below has the host set it before init. */
static const struct fb_api *api;

/* The plugin's state, kept with api->set_data. */
struct ping {
	const char *word;     /* what ping answers */
	uint64_t files_added; /* counted by the hook, shown by ping */
	uint32_t seed;        /* for roll */
};

/* ping [TEXT] */
static void cmd_ping(struct fb_request *r, int argc, char **argv)
{
	struct ping *st = api->data(api->req_plugin(r));
	const char *text = api->req_args(r);

	api->reply(r, "%s%s%s (%llu new files since start)", st->word,
	           text[0] != '\0' ? " " : "", text,
	           (unsigned long long)st->files_added);
}

/* Returns the next pseudo-random number (xorshift; dice need no more). */
static uint32_t next_random(struct ping *st)
{
	st->seed ^= st->seed << 13;
	st->seed ^= st->seed >> 17;
	st->seed ^= st->seed << 5;
	return st->seed;
}

/* roll [NdM]: N dice (1-20) of M faces (2-1000); default 1d6. */
static void cmd_roll(struct fb_request *r, int argc, char **argv)
{
	struct ping *st = api->data(api->req_plugin(r));
	unsigned n = 1, m = 6, total = 0;
	char line[512];
	size_t len = 0;
	char extra;

	if (argc > 1 && (sscanf(argv[1], "%ud%u%c", &n, &m, &extra) != 2 ||
	                 n < 1 || n > 20 || m < 2 || m > 1000)) {
		api->reply_error(r, "usage: roll [NdM] (1-20 dice of 2-1000 "
		                    "faces, e.g. 2d6)");
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned v = next_random(st) % m + 1;

		total += v;
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%u",
		                        i > 0 ? " + " : "", v);
	}
	if (n > 1)
		api->reply(r, "%s = %u", line, total);
	else
		api->reply(r, "%s", line);
}

/* Counts files added to the catalogue. */
static void on_file_added(struct fb_plugin *p, enum fb_event ev,
                          const struct fb_event_data *d, void *arg)
{
	struct ping *st = api->data(p);

	st->files_added++;
}

static const char *const roll_aliases[] = {"dice", NULL};

static const struct fb_command commands[] = {
    {
        .name = "ping",
        .usage = "ping [TEXT]",
        .min_args = 0,
        .max_args = -1,
        .perm = FB_ANYONE,
        .help = "answers pong (to check the bot is alive)",
        .handler = cmd_ping,
    },
    {
        .name = "roll",
        .aliases = roll_aliases,
        .usage = "roll [NdM]",
        .min_args = 0,
        .max_args = 1,
        .perm = FB_ANYONE,
        .help = "roll dice, e.g. roll 2d6",
        .handler = cmd_roll,
    },
};

/* Declares the plugin "ping" (its file is ping.so) and its commands. */
FISBOT_PLUGIN("ping", commands);

/* Reads the settings, sets up the state and the hook (the host has
 * registered the commands already). */
int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *a,
                       char **cause)
{
	struct ping *st;
	const char *word;

	if (a->version != FB_API_VERSION) {
		*cause = xasprintf("host API version %u", a->version);
		return -1;
	}
	word = api->setting(p, "reply");
	if (word != NULL && (word[0] == '\0' || strlen(word) > 64)) {
		*cause = xasprintf("[plugin \"ping\"] reply: 1 to 64 "
		                   "characters");
		return -1;
	}
	st = xcalloc(1, sizeof(*st));
	st->word = word != NULL ? word : "pong";
	st->seed = (uint32_t)(uintptr_t)st ^ 0x9e3779b9u;
	if (st->seed == 0)
		st->seed = 1;
	api->set_data(p, st);
	api->hook(p, FB_EVENT_FILE_ADDED, on_file_added, NULL);
	return 0;
}

/* Frees the state. */
void fisbot_plugin_fini(struct fb_plugin *p)
{
	free(api->data(p));
}
