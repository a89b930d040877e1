/* Answers of the fis plugin's handlers: errors and the size budget. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fis.h"

/* Bytes kept free beside the envelope: the server may add or rewrite
 * addresses (a room's occupant JID) and namespaces. */
#define ENVELOPE_MARGIN 1536

int fis_reply_error(struct fis_reply *r, const char *type,
                    const char *condition, const char *text)
{
	if (r->payload != NULL)
		xmpp_stanza_release(r->payload);
	free(r->text);
	r->payload = NULL;
	r->type = type;
	r->condition = condition;
	r->text = text != NULL ? xstrdup(text) : NULL;
	return -1;
}

void fis_reply_clear(struct fis_reply *r)
{
	if (r->payload != NULL)
		xmpp_stanza_release(r->payload);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

/* Returns the length of attribute name of st, or 0. */
static size_t attr_len(xmpp_stanza_t *st, const char *name)
{
	const char *v = xmpp_stanza_get_attribute(st, name);

	return v != NULL ? strlen(v) : 0;
}

size_t fis_reply_budget(xmpp_stanza_t *iq)
{
	/* "&quot;" is the longest escape: 6 bytes for one. */
	size_t envelope =
	    ENVELOPE_MARGIN + 6 * (attr_len(iq, "id") + attr_len(iq, "from") +
	                           attr_len(iq, "to"));

	return envelope >= FB_MAX_STANZA ? 0 : FB_MAX_STANZA - envelope;
}

xmpp_stanza_t *fis_reply_payload_of(xmpp_stanza_t *iq, const char *name,
                                    const char *ns)
{
	for (xmpp_stanza_t *el = xmpp_stanza_get_children(iq); el != NULL;
	     el = xmpp_stanza_get_next(el)) {
		const char *n, *s;

		if (!xmpp_stanza_is_tag(el))
			continue;
		n = xmpp_stanza_get_name(el);
		s = xmpp_stanza_get_ns(el);
		if (n != NULL && s != NULL && strcmp(n, name) == 0 &&
		    strcmp(s, ns) == 0)
			return el;
	}
	return NULL;
}

size_t fis_reply_fit(const size_t *sizes, size_t n, size_t budget,
                     bool from_back)
{
	size_t used = 0, k;

	for (k = 0; k < n; k++) {
		size_t s = sizes[from_back ? n - 1 - k : k];

		if (s > budget - used)
			break;
		used += s;
	}
	return k;
}

int fis_reply_cursor(const char *s, int64_t *id)
{
	size_t digits = strspn(s, "0123456789");

	if (digits == 0 || digits > 18 || s[digits] != '\0')
		return -1;
	*id = strtoll(s, NULL, 10);
	return 0;
}
