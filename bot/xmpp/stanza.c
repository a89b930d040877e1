/*
 * Small helpers over libstrophe's stanzas (see stanza.h).
 */
#include "stanza.h"

#include <string.h>

/* Returns the first child element of st named name (any name if NULL) in
 * namespace ns. */
xmpp_stanza_t *stanza_child_ns(xmpp_stanza_t *st, const char *name,
                               const char *ns)
{
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c != NULL;
	     c = xmpp_stanza_get_next(c)) {
		const char *cns = xmpp_stanza_get_ns(c);
		const char *cname = xmpp_stanza_get_name(c);

		if (!xmpp_stanza_is_tag(c) || cns == NULL ||
		    strcmp(cns, ns) != 0)
			continue;
		if (name == NULL || (cname != NULL && strcmp(cname, name) == 0))
			return c;
	}
	return NULL;
}

/* Returns the defined condition of an error stanza ("conflict"), or "". */
const char *stanza_error_condition(xmpp_stanza_t *st)
{
	xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");
	xmpp_stanza_t *c;
	const char *name;

	if (err == NULL)
		return "";
	c = stanza_child_ns(err, NULL, NS_STANZAS);
	if (c == NULL || (name = xmpp_stanza_get_name(c)) == NULL)
		return "";
	return name;
}

/* Returns a new element <name xmlns=ns/> (ns may be NULL). */
xmpp_stanza_t *stanza_element(xmpp_ctx_t *ctx, const char *name, const char *ns)
{
	xmpp_stanza_t *e = xmpp_stanza_new(ctx);

	xmpp_stanza_set_name(e, name);
	if (ns != NULL)
		xmpp_stanza_set_ns(e, ns);
	return e;
}

/* Adds a new element to parent; returns it. */
xmpp_stanza_t *stanza_add_element(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
                                  const char *name, const char *ns)
{
	xmpp_stanza_t *e = stanza_element(ctx, name, ns);

	xmpp_stanza_add_child_ex(parent, e, 0);
	return e;
}

/* Adds <name xmlns=ns>text</name> to parent; returns it. */
xmpp_stanza_t *stanza_add_text(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
                               const char *name, const char *ns,
                               const char *text)
{
	xmpp_stanza_t *e = stanza_add_element(ctx, parent, name, ns);
	xmpp_stanza_t *t = xmpp_stanza_new(ctx);

	xmpp_stanza_set_text(t, text);
	xmpp_stanza_add_child_ex(e, t, 0);
	return e;
}

/* Builds an IQ error answering id (see stanza.h). */
xmpp_stanza_t *stanza_iq_error(xmpp_ctx_t *ctx, const char *id, const char *to,
                               const char *type, const char *condition,
                               const char *text)
{
	xmpp_stanza_t *r = xmpp_iq_new(ctx, "error", id);
	xmpp_stanza_t *e;

	xmpp_stanza_set_to(r, to);
	e = stanza_add_element(ctx, r, "error", NULL);
	xmpp_stanza_set_type(e, type);
	stanza_add_element(ctx, e, condition, NS_STANZAS);
	if (text != NULL)
		stanza_add_text(ctx, e, "text", NS_STANZAS, text);
	return r;
}
