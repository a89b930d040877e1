/*
 * JIDs, for the configuration, the session and the chat layer alike
 * (jid.h): the bare part, the resource, the domain, and what is wrong with
 * a string as a bare JID.
 */
#include "jid.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "fisbot/alloc.h"
#include "fisbot/text.h"

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

/* Lower-cases jid's ASCII letters in place. */
char *jid_fold(char *jid)
{
	for (char *p = jid; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return jid;
}

/* Returns a new lower-case string: the domain part of jid. */
char *jid_domain(const char *jid)
{
	const char *at = strchr(jid, '@');
	const char *start = at != NULL ? at + 1 : jid;

	return jid_fold(xstrndup(start, strcspn(start, "/")));
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

/* Returns a description of what is wrong with domain d, or NULL. */
const char *jid_domain_problem(const char *d)
{
	size_t len = strlen(d), label = 0;

	if (len == 0)
		return "has no domain";
	if (len > 1023)
		return "has a domain longer than 1023 bytes";
	if (d[0] == '[') {
		struct in6_addr a6;
		char buf[INET6_ADDRSTRLEN + 1];

		if (d[len - 1] != ']' || len - 2 >= sizeof(buf))
			return "has a bad IPv6 domain";
		memcpy(buf, d + 1, len - 2);
		buf[len - 2] = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1
		           ? NULL
		           : "has a bad IPv6 domain";
	}
	if (!text_is_utf8(d, len))
		return "is not valid UTF-8";
	for (const char *p = d;; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '.' || c == '\0') {
			if (label == 0)
				return "has an empty domain label";
			if (label > 63)
				return "has a domain label longer than 63 "
				       "bytes";
			if (p[-1] == '-' || p[-(ptrdiff_t)label] == '-')
				return "has a domain label that starts or "
				       "ends with '-'";
			if (c == '\0')
				return NULL;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-' || c == '_' || c >= 0x80))
			return "has a character not allowed in a domain";
		label++;
	}
}

/* Returns a description of what is wrong with jid as a bare JID (node
 * required unless domain_ok), or NULL if it is fine. */
const char *jid_problem(const char *jid, bool domain_ok)
{
	const char *at = strchr(jid, '@');
	size_t len = strlen(jid);

	if (len == 0)
		return "is empty";
	if (strchr(jid, '/') != NULL)
		return "has a resource (a bare JID is needed here)";
	if (!text_is_clean(jid, len))
		return "has control characters or invalid UTF-8";
	if (at == NULL)
		return domain_ok ? jid_domain_problem(jid)
		                 : "is not a bare JID (node@domain)";
	if (at == jid)
		return "has an empty node before '@'";
	if (at - jid > 1023)
		return "has a node longer than 1023 bytes";
	for (const char *p = jid; p < at; p++)
		if (strchr("\"&':<>@ \t", *p) != NULL)
			return "has a character not allowed in a JID node";
	return jid_domain_problem(at + 1);
}
