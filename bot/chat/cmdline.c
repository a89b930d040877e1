/*
 * The command-line parser of chat messages (rules in cmdline.h). It works on
 * untrusted bytes of any length: every read is bounded by len, nothing is
 * assumed NUL-terminated, and the output is bounded by CMDLINE_MAX and
 * CMDLINE_MAX_ARGS.
 */
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "fisbot/alloc.h"
#include "fisbot/text.h"

/* Returns true for the white space that separates arguments. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Returns true for a byte allowed in a command name. */
static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Frees what cmdline_parse stored in c. */
void cmdline_clear(struct cmdline *c)
{
	if (c->argv != NULL)
		for (int i = 0; i < c->argc; i++)
			free(c->argv[i]);
	free(c->argv);
	free(c->args);
	free(c->name);
	memset(c, 0, sizeof(*c));
}

/* Splits the len bytes at s into c->argv[1..]. Returns NULL, or an error. */
static const char *split_args(const char *s, size_t len, struct cmdline *c)
{
	size_t i = 0;
	char *buf = xmalloc(len + 1);

	while (i < len) {
		size_t n = 0;
		bool quoted = false;

		while (i < len && is_space(s[i]))
			i++;
		if (i == len)
			break;
		if (c->argc - 1 >= CMDLINE_MAX_ARGS) {
			free(buf);
			return "too many arguments";
		}
		while (i < len && (quoted || !is_space(s[i]))) {
			if (s[i] == '"')
				quoted = !quoted;
			else
				buf[n++] = s[i];
			i++;
		}
		if (quoted) {
			free(buf);
			return "unterminated quote";
		}
		c->argv[c->argc++] = xstrndup(buf, n);
	}
	free(buf);
	return NULL;
}

/* Parses one chat message body (see cmdline.h). */
bool cmdline_parse(const char *body, size_t len, const char *prefix,
                   bool prefix_required, struct cmdline *out)
{
	size_t plen = strlen(prefix), i, start, end;
	const char *rest;

	memset(out, 0, sizeof(*out));
	if (len == 0 || plen == 0 || !text_is_utf8(body, len))
		return false;
	if (body[0] == '@' && (plen != 1 || prefix[0] != '@')) {
		out->trigger = CMDLINE_AT;
		i = 1;
	} else if (len >= plen && memcmp(body, prefix, plen) == 0) {
		out->trigger = CMDLINE_PREFIX;
		i = plen;
	} else if (!prefix_required) {
		out->trigger = CMDLINE_BARE;
		for (i = 0; i < len && is_space(body[i]); i++)
			;
	} else {
		return false;
	}
	start = i;
	while (i < len && i - start <= CMDLINE_MAX_NAME &&
	       is_name_char(body[i]))
		i++;
	if (i == start || i - start > CMDLINE_MAX_NAME ||
	    (i < len && !is_space(body[i])))
		return false;
	out->name = xstrndup(body + start, i - start);
	out->argv = xcalloc(CMDLINE_MAX_ARGS + 2, sizeof(char *));
	out->argv[0] = xstrdup(out->name);
	out->argc = 1;
	if (len > CMDLINE_MAX) {
		out->args = xstrdup("");
		out->error = "command too long";
		return true;
	}
	/* The raw argument text, trimmed at both ends. */
	while (i < len && is_space(body[i]))
		i++;
	end = len;
	while (end > i && is_space(body[end - 1]))
		end--;
	rest = body + i;
	out->args = xstrndup(rest, end - i);
	if (memchr(rest, '\0', end - i) != NULL) {
		out->error = "NUL byte in the command";
		return true;
	}
	out->error = split_args(rest, end - i, out);
	return true;
}
