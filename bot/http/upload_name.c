/* Names of uploaded files: cleaning what the user typed, and the
 * alternatives tried when a name is taken. */
#include "upload_name.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/exclude.h"
#include "fisbot/alloc.h"
#include "fisbot/text.h"

/* Longest extension kept whole by upload_name_variant, dot included. */
#define EXT_MAX 16

/* Returns the length of the UTF-8 sequence at s (s is valid UTF-8) and
 * stores its code point in *cp. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xe0) {
		*cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		return 2;
	}
	if (s[0] < 0xf0) {
		*cp = (uint32_t)(s[0] & 0x0f) << 12 |
		      (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		return 3;
	}
	*cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
	      (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	return 4;
}

/* Returns true if code point cp must not appear in a file name. */
static bool unsafe(uint32_t cp)
{
	return cp < 0x20 || cp == '/' || cp == '\\' ||
	       (cp >= 0x7f && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfffe || cp == 0xffff;
}

/* Returns true if code point cp is white space that is trimmed. */
static bool blank(uint32_t cp)
{
	return cp == ' ' || cp == 0xa0 || cp == 0x3000 ||
	       (cp >= 0x2000 && cp <= 0x200b);
}

char *upload_name_clean(const char *name, const struct strlist *exclude,
                        char **cause)
{
	size_t len = name ? strlen(name) : 0, o = 0, i, end;
	const unsigned char *s = (const unsigned char *)name;
	bool leading = true;
	char *out, *shown;
	uint32_t cp;

	if (len == 0) {
		*cause = xstrdup("the name is empty");
		return NULL;
	}
	if (!text_is_utf8(name, len)) {
		*cause = xstrdup("the name is not valid UTF-8");
		return NULL;
	}
	out = xmalloc(len + 1);
	end = 0; /* length of out without trailing blanks */
	for (i = 0; i < len;) {
		size_t n = utf8_decode(s + i, &cp);

		if (leading && (cp == '.' || blank(cp))) {
			i += n;
			continue;
		}
		leading = false;
		if (unsafe(cp)) {
			out[o++] = '_';
		} else {
			memcpy(out + o, s + i, n);
			o += n;
		}
		if (!blank(cp))
			end = o;
		i += n;
	}
	out[end] = '\0';
	if (end == 0) {
		*cause = xstrdup("the name is empty once leading dots and "
		                 "spaces are removed");
		goto fail;
	}
	if (end > UPLOAD_NAME_MAX) {
		*cause =
		    xasprintf("the name is too long (%zu bytes; at most %d)",
		              end, UPLOAD_NAME_MAX);
		goto fail;
	}
	if (exclude != NULL && exclude_name(exclude, out)) {
		shown = text_sanitize(out, end);
		*cause = xasprintf("files named like \"%s\" are not shared "
		                   "([share] exclude); choose another name",
		                   shown);
		free(shown);
		goto fail;
	}
	return out;
fail:
	free(out);
	return NULL;
}

/* Returns where the extension of name starts (its last dot, or the dot of
 * ".tar" before it), or the end of name if it has none worth keeping. */
static size_t ext_start(const char *name)
{
	size_t len = strlen(name);
	const char *dot = strrchr(name, '.');
	size_t at;

	if (dot == NULL || dot == name || len - (size_t)(dot - name) > EXT_MAX)
		return len;
	at = (size_t)(dot - name);
	if (at > 4 && strncasecmp(name + at - 4, ".tar", 4) == 0 &&
	    len - (at - 4) <= EXT_MAX)
		at -= 4;
	return at;
}

char *upload_name_variant(const char *name, unsigned n)
{
	size_t at = ext_start(name);

	return xasprintf("%.*s (%u)%s", (int)at, name, n, name + at);
}
