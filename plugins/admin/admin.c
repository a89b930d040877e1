/*
 * The admin plugin: rescan, join ROOM [NICK], leave ROOM,
 * describe ID TEXT and reload, for [admins] JIDs in a direct chat only (the
 * dispatcher checks FB_ADMIN before a handler runs, and looks up the file
 * describe names: FB_ARG_FILE_FIRST). Each asks the host to act and
 * answers with one line: what was done, or why it was not. Two outcomes
 * come later, from the host to the admin who asked: a rescan's counts
 * when it is over (after "rescan started"), and a join's result ("joined
 * ROOM", or why not), which is then the join's only answer.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot_plugin.h"

/* The host's API, set by the host before any handler runs. */
static const struct fb_api *api;

/* Answers r with "done" (NULL: nothing now, the host tells the outcome
 * later) or with the cause of a failed action. */
static void answer(struct fb_request *r, int rc, char *cause, const char *done)
{
	if (rc == 0) {
		if (done != NULL)
			api->reply(r, "%s", done);
	} else {
		api->reply_error(r, "%s",
		                 cause != NULL ? cause : "failed (no reason)");
	}
	free(cause);
}

/* Returns true if s looks like a bare room JID (room@service). */
static bool is_room_jid(const char *s)
{
	const char *at = strchr(s, '@');

	return at != NULL && at != s && at[1] != '\0' &&
	       strchr(at + 1, '@') == NULL && strchr(s, '/') == NULL &&
	       strlen(s) <= 1023;
}

/* rescan */
static void cmd_rescan(struct fb_request *r, int argc, char **argv)
{
	char *cause = NULL;
	int rc = api->rescan(api->req_plugin(r), &cause);

	/* The counts follow when it is over. */
	answer(r, rc, cause, "rescan started");
}

/* join ROOM [NICK]: the one answer is the outcome ("joined ROOM", or why
 * not), which the host sends when the room has answered. */
static void cmd_join(struct fb_request *r, int argc, char **argv)
{
	char *cause = NULL;
	int rc;

	if (!is_room_jid(argv[1])) {
		api->reply_error(r, "not a room JID: %s", argv[1]);
		return;
	}
	rc = api->join_room(api->req_plugin(r), argv[1],
	                    argc > 2 ? argv[2] : NULL, &cause);
	answer(r, rc, cause, NULL);
}

/* leave ROOM */
static void cmd_leave(struct fb_request *r, int argc, char **argv)
{
	char *cause = NULL, *done;
	int rc;

	if (!is_room_jid(argv[1])) {
		api->reply_error(r, "not a room JID: %s", argv[1]);
		return;
	}
	rc = api->leave_room(api->req_plugin(r), argv[1], &cause);
	done = xasprintf("leaving %s", argv[1]);
	answer(r, rc, cause, done);
	free(done);
}

/* Returns the raw argument text after its first argument, which is
 * skipped as the host splits it (white space outside "double quotes" ends
 * it), and the white space after it. */
static const char *after_first(const char *raw)
{
	bool quoted = false;

	raw += strspn(raw, " \t\r\n");
	for (; *raw != '\0' && (quoted || strchr(" \t\r\n", *raw) == NULL);
	     raw++)
		if (*raw == '"')
			quoted = !quoted;
	return raw + strspn(raw, " \t\r\n");
}

/* describe ID|PATH TEXT: TEXT is the rest of the line as typed (one quoted
 * argument loses its quotes); an empty TEXT ("") removes the description. */
static void cmd_describe(struct fb_request *r, int argc, char **argv)
{
	int64_t id = api->req_file(r)->id;
	const char *text;
	char *cause = NULL, *done;
	int rc;

	if (argc == 3)
		text = argv[2];
	else
		text = after_first(api->req_args(r));
	rc = api->describe(api->req_plugin(r), id, text, &cause);
	/* One style for both: "#42: description set" / "... cleared". */
	done = xasprintf("#%" PRId64 ": description %s", id,
	                 text[0] != '\0' ? "set" : "cleared");
	answer(r, rc, cause, done);
	free(done);
}

/* reload */
static void cmd_reload(struct fb_request *r, int argc, char **argv)
{
	char *cause = NULL;
	int rc = api->reload(api->req_plugin(r), &cause);

	answer(r, rc, cause, "configuration reloaded");
}

static const struct fb_command commands[] = {
    {
        .name = "rescan",
        .usage = "rescan",
        .min_args = 0,
        .max_args = 0,
        .perm = FB_ADMIN,
        .help = "bring the catalogue up to date with the share",
        .handler = cmd_rescan,
    },
    {
        .name = "join",
        .usage = "join ROOM [NICK]",
        .min_args = 1,
        .max_args = 2,
        .perm = FB_ADMIN,
        .help = "join a room (and remember it)",
        .handler = cmd_join,
    },
    {
        .name = "leave",
        .usage = "leave ROOM",
        .min_args = 1,
        .max_args = 1,
        .perm = FB_ADMIN,
        .help = "leave a room (and forget it)",
        .handler = cmd_leave,
    },
    {
        .name = "describe",
        .usage = "describe ID TEXT",
        .min_args = 2,
        .max_args = -1,
        .perm = FB_ADMIN,
        .help = "set a file's description (\"\" removes it)",
        .handler = cmd_describe,
        .arg = FB_ARG_FILE_FIRST,
    },
    {
        .name = "reload",
        .usage = "reload",
        .min_args = 0,
        .max_args = 0,
        .perm = FB_ADMIN,
        .help = "re-read the configuration",
        .handler = cmd_reload,
    },
};

FISBOT_PLUGIN("admin", commands);
