/*
 * JIDs as the session handles them: the bare part, the resource, the
 * domain (lower case, for the per-service origin checks) and whether a
 * string is usable as a room's bare JID. No stringprep: JIDs are compared
 * as the server wrote them, rooms case-insensitively.
 */
#include <string.h>

#include "fisbot/alloc.h"
#include "fisbot/text.h"
#include "session_int.h"

/* Returns a new string: the bare part of jid. */
char *jid_bare(const char *jid)
{
	const char *slash = strchr(jid, '/');

	return slash ? xstrndup(jid, (size_t)(slash - jid)) : xstrdup(jid);
}

/* Returns the resource of jid (inside jid), or NULL. */
const char *jid_resource(const char *jid)
{
	const char *slash = strchr(jid, '/');

	return slash ? slash + 1 : NULL;
}

/* Returns a new lower-case string: the domain part of jid. */
char *jid_domain(const char *jid)
{
	const char *at = strchr(jid, '@');
	const char *start = at != NULL ? at + 1 : jid;
	char *d = xstrndup(start, strcspn(start, "/"));

	for (char *p = d; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* Returns true if jid is a usable bare JID: node@domain, no resource, no
 * white space, clean UTF-8, a sane length. */
bool jid_is_bare_room(const char *jid)
{
	size_t len = strlen(jid);
	const char *at = strchr(jid, '@');

	if (len == 0 || len > 1023 || at == NULL || at == jid ||
	    at[1] == '\0' || strchr(at + 1, '@') != NULL ||
	    strchr(jid, '/') != NULL || !text_is_clean(jid, len))
		return false;
	for (const char *p = jid; *p != '\0'; p++)
		if (*p == ' ' || *p == '<' || *p == '>' || *p == '"' ||
		    *p == '&' || *p == '\'')
			return false;
	return true;
}
