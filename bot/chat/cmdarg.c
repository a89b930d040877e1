/* The arguments the dispatcher resolves for a command (rules in cmdarg.h). */
#include "cmdarg.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot/alloc.h"
#include "fisbot/text.h"

/* Returns true for the white space that separates arguments. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Returns the name FB_ARG_FILE reads: the only argument, or the raw text
 * trimmed if there are several; "" if there is none or every argument is
 * empty (""). The caller frees it. */
static char *whole_argument(int argc, char **argv, const char *raw)
{
	bool empty = true;
	size_t len;

	if (argc == 2)
		return xstrdup(argv[1]);
	for (int i = 1; i < argc; i++)
		empty = empty && argv[i][0] == '\0';
	if (empty || raw == NULL)
		return xstrdup("");
	while (is_space(*raw))
		raw++;
	len = strlen(raw);
	while (len > 0 && is_space(raw[len - 1]))
		len--;
	return xstrndup(raw, len);
}

/* Returns "no such file: NAME", NAME sanitised and cut. */
static char *no_such_file(const char *name)
{
	size_t len = strlen(name);
	size_t shown = text_utf8_prefix(name, len, CMDARG_ECHO_MAX);
	char *clean = text_sanitize(name, shown);
	char *s =
	    xasprintf("no such file: %s%s", clean, shown < len ? "…" : "");

	free(clean);
	return s;
}

/* Resolves cmd's file argument (see cmdarg.h). */
int cmdarg_resolve(struct catalogue *c, const struct fb_command *cmd, int argc,
                   char **argv, const char *raw, struct cat_file *out,
                   char **error)
{
	char *name;
	int rc;

	switch (cmd->arg) {
	case FB_ARG_FILE:
		name = whole_argument(argc, argv, raw);
		break;
	case FB_ARG_FILE_FIRST:
		name = xstrdup(argc >= 2 ? argv[1] : "");
		break;
	case FB_ARG_NONE:
	default:
		return 0;
	}
	if (name[0] == '\0') {
		*error = xasprintf("usage: %s", cmd->usage);
		free(name);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	rc = c != NULL ? catalogue_resolve(c, name, out) : -1;
	if (rc == 1) {
		free(name);
		return 1;
	}
	cat_file_clear(out);
	*error =
	    rc == 0 ? no_such_file(name) : xstrdup("cannot read the catalogue");
	free(name);
	return -1;
}
