/* Nodes of XEP-0329 queries <-> raw catalogue paths (see fis_node.h). */
#include "fis_node.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "text.h"

/* Returns the value of n hex digits at s, or -1 if they are not all hex. */
static long hex_value(const char *s, size_t n)
{
	long v = 0;

	for (size_t i = 0; i < n; i++) {
		int d;

		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Appends code point cp (< 0x10000) to o as UTF-8; returns the new end. */
static char *put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xe0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* Undoes text_sanitize's escapes in s into a new string (caller frees), or
 * returns NULL for an unknown or incomplete escape or an escaped NUL. */
static char *unescape(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;
	size_t i = 0;
	long v;

	while (i < len) {
		if (s[i] != '\\') {
			*o++ = s[i++];
			continue;
		}
		if (i + 1 < len && s[i + 1] == '\\') {
			*o++ = '\\';
			i += 2;
		} else if (i + 3 < len && s[i + 1] == 'x' &&
		           (v = hex_value(s + i + 2, 2)) > 0) {
			*o++ = (char)v;
			i += 4;
		} else if (i + 7 < len && s[i + 1] == 'u' && s[i + 2] == '{' &&
		           s[i + 7] == '}' &&
		           (v = hex_value(s + i + 3, 4)) > 0) {
			/* "\u{NNNN}": text_sanitize escapes no character
			 * above U+FFFF. */
			o = put_utf8(o, (uint32_t)v);
			i += 8;
		} else {
			free(out);
			return NULL;
		}
	}
	*o = '\0';
	return out;
}

/* Returns true if the raw path p is relative and has no empty, "." or ".."
 * component. */
static bool path_shape_ok(const char *p)
{
	const char *c = p, *slash;

	for (;;) {
		size_t n;

		slash = strchr(c, '/');
		n = slash != NULL ? (size_t)(slash - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (slash == NULL)
			return true;
		c = slash + 1;
	}
}

int fis_node_to_path(const char *node, char **path)
{
	size_t len = strlen(node);
	char *raw, *again;

	*path = NULL;
	if (len == 0 || len > FIS_NODE_MAX || !text_is_utf8(node, len))
		return -1;
	if ((raw = unescape(node, len)) == NULL)
		return -1;
	/* The canonical spelling only: "\x41" is not "A". */
	again = text_sanitize(raw, strlen(raw));
	if (strcmp(again, node) != 0 || !path_shape_ok(raw)) {
		free(again);
		free(raw);
		return -1;
	}
	free(again);
	*path = raw;
	return 0;
}

char *fis_node_from_path(const char *path)
{
	return text_sanitize(path, strlen(path));
}
