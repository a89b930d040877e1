/* Result Set Management (XEP-0059): request parsing and reply sets. */
#include "rsm.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fis_xml.h"

/* XML white space. */
static bool xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int rsm_parse_uint(const char *s, uint64_t *v)
{
	uint64_t n = 0;
	size_t digits = 0;

	while (xml_space(*s))
		s++;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		unsigned d = (unsigned)(*s - '0');

		if (n > (UINT64_MAX - d) / 10)
			n = UINT64_MAX;
		else
			n = n * 10 + d;
	}
	while (xml_space(*s))
		s++;
	if (digits == 0 || *s != '\0')
		return -1;
	*v = n;
	return 0;
}

/* Returns the text of element el (never NULL); the caller frees it. */
static char *element_text(xmpp_stanza_t *el)
{
	char *t = fis_xml_text(el);

	return t != NULL ? t : xstrdup("");
}

/* Parses one child of <set/> into r. Returns 0, or -1 with *cause. */
static int parse_child(xmpp_stanza_t *el, struct rsm_req *r, unsigned *seen,
                       char **cause)
{
	static const char *const names[] = {"max", "after", "before", "index"};
	const char *name = xmpp_stanza_get_name(el);
	char *text;
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			break;
	if (i == sizeof(names) / sizeof(names[0])) {
		*cause = xstrdup("unknown element in the RSM set");
		return -1;
	}
	if (*seen & (1u << i)) {
		*cause = xasprintf("repeated <%s/> in the RSM set", names[i]);
		return -1;
	}
	*seen |= 1u << i;
	text = element_text(el);
	switch (i) {
	case 0:
		r->has_max = true;
		if (rsm_parse_uint(text, &r->max) == -1) {
			*cause = xstrdup("RSM max is not a number");
			rc = -1;
		}
		break;
	case 1:
	case 2:
		if (r->from != RSM_FROM_START) {
			*cause = xstrdup("RSM set has more than one of after, "
			                 "before and index");
			rc = -1;
		} else if (i == 2 && text[0] == '\0') {
			r->from = RSM_FROM_END;
		} else if (text[0] != '\0') {
			r->from = i == 1 ? RSM_FROM_AFTER : RSM_FROM_BEFORE;
			r->cursor = text;
			text = NULL;
		}
		/* An empty <after/> means from the start. */
		break;
	case 3:
		if (r->from != RSM_FROM_START) {
			*cause = xstrdup("RSM set has more than one of after, "
			                 "before and index");
			rc = -1;
		} else if (rsm_parse_uint(text, &r->index) == -1) {
			*cause = xstrdup("RSM index is not a number");
			rc = -1;
		} else {
			r->from = RSM_FROM_INDEX;
		}
		break;
	}
	free(text);
	return rc;
}

int rsm_parse(xmpp_stanza_t *query, struct rsm_req *r, char **cause)
{
	xmpp_stanza_t *set = NULL, *el;
	unsigned seen = 0;

	memset(r, 0, sizeof(*r));
	for (el = xmpp_stanza_get_children(query); el != NULL;
	     el = xmpp_stanza_get_next(el)) {
		const char *ns;

		if (!xmpp_stanza_is_tag(el))
			continue;
		ns = xmpp_stanza_get_ns(el);
		if (ns == NULL || strcmp(ns, RSM_NS) != 0 ||
		    strcmp(xmpp_stanza_get_name(el), "set") != 0)
			continue;
		if (set != NULL) {
			*cause = xstrdup("more than one RSM set");
			return -1;
		}
		set = el;
	}
	if (set == NULL)
		return 0;
	r->present = true;
	for (el = xmpp_stanza_get_children(set); el != NULL;
	     el = xmpp_stanza_get_next(el)) {
		if (!xmpp_stanza_is_tag(el))
			continue;
		if (parse_child(el, r, &seen, cause) == -1) {
			rsm_req_clear(r);
			return -1;
		}
	}
	return 0;
}

void rsm_req_clear(struct rsm_req *r)
{
	free(r->cursor);
	memset(r, 0, sizeof(*r));
}

xmpp_stanza_t *rsm_reply(xmpp_ctx_t *ctx, const char *first,
                         uint64_t first_index, const char *last, uint64_t count)
{
	xmpp_stanza_t *set = xmpp_stanza_new(ctx), *el;
	char buf[24];

	xmpp_stanza_set_name(set, "set");
	xmpp_stanza_set_ns(set, RSM_NS);
	if (first != NULL) {
		el = fis_xml_add_text(ctx, set, "first", first);
		snprintf(buf, sizeof(buf), "%" PRIu64, first_index);
		xmpp_stanza_set_attribute(el, "index", buf);
		fis_xml_add_text(ctx, set, "last", last);
	}
	snprintf(buf, sizeof(buf), "%" PRIu64, count);
	fis_xml_add_text(ctx, set, "count", buf);
	return set;
}
