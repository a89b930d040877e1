/*
 * The command-line parser of chat messages: decides whether a
 * message body is a command and splits it into a name and arguments. It
 * knows nothing of the command tables; the dispatcher looks the name up.
 *
 *   "!get 42"        the prefix, then the name and its arguments
 *   "get 42"         the same without the prefix (private and direct chats)
 *   "@find x y"      a room-wide trigger (only for FB_CMD_ROOM_WIDE commands)
 *
 * The prefix (or '@') must be the body's very first byte, and the name must
 * follow it at once; "! get" is not a command. Names are 1 to
 * CMDLINE_MAX_NAME ASCII letters, digits, '-' or '_'. Arguments are split on
 * ASCII white space (space, tab, CR, LF); "double quotes" keep white space
 * inside an argument and are removed (a"b c" is one argument "ab c"; "" is
 * an empty argument). There is no backslash escape.
 */
#ifndef FISBOT_CMDLINE_H
#define FISBOT_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#define CMDLINE_MAX      4096 /* bytes of a command line */
#define CMDLINE_MAX_ARGS 64   /* arguments after the name */
#define CMDLINE_MAX_NAME 32   /* bytes of a command name */

/* How the command was introduced. */
enum cmdline_trigger {
	CMDLINE_PREFIX, /* the configured prefix */
	CMDLINE_BARE,   /* no prefix (private and direct chats) */
	CMDLINE_AT,     /* '@': a room-wide search */
};

struct cmdline {
	enum cmdline_trigger trigger;
	char *name; /* as typed */
	int argc;   /* argv[0] is the name; argv[argc] is NULL */
	char **argv;
	char *args; /* the raw argument text, trimmed (may be "") */
	/* NULL, or why the arguments could not be split: the name is still
	 * set so that the dispatcher can decide whether to say it. */
	const char *error;
};

/*
 * Parses the len bytes of body. prefix is the command prefix (non-empty);
 * prefix_required is true in rooms. Returns true and fills *out (free it
 * with cmdline_clear) if body is a command, false if it is not one (then
 * *out is empty). Bodies that are not valid UTF-8 are never commands.
 */
bool cmdline_parse(const char *body, size_t len, const char *prefix,
                   bool prefix_required, struct cmdline *out);
/* Frees what cmdline_parse stored in c. */
void cmdline_clear(struct cmdline *c);

#endif
