/*
 * Search over XMPP (XEP-0055 with a XEP-0004 data form, paged with
 * XEP-0059): answers <query xmlns='jabber:iq:search'/>.
 *
 * Design note. A get returns the form; a set carries it back filled in.
 * Its fields become one core query (query.h): `name` is the chat search
 * syntax (words, "phrases", globs, /regex/, filters), `regex` one more
 * regex term, `desc`, `type`, `min-size` and `max-size` the filters. The
 * result is a `result` form: <reported/> names the columns (id, path,
 * size, date, sha-256 in hex, url) and each match is an <item/>. Matches
 * come newest first (catalogue_search), which pages by offset. An RSM
 * cursor (first/last) is "ID:POS", a file id and the position it had; a
 * page after or before it checks that the match at POS is still ID (one
 * probe), else finds ID again by bisection on the position (ids decrease
 * along the list), so a cursor stays exact while files come and go, and a
 * cursor that is no longer a match gets item-not-found. A bare "ID" is
 * accepted too (bisection). The count of a
 * search is capped by the catalogue (CATALOGUE_COUNT_CAP) and is then a
 * lower bound, which XEP-0059 allows.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fis.h"
#include "fis_xml.h"
#include "query.h"
#include "rsm.h"
#include "text.h"
#include "units.h"

#define DATA_NS "jabber:x:data"

/* Room kept for the reply's RSM <set/>. */
#define SET_RESERVE 256

/* The fields of the search form. */
static const struct {
	const char *var, *label;
} form_fields[] = {
    {"name", "Path or description contains (words, \"phrases\", *.globs, "
             "/regex/, size:>10M, type:audio, new:7d, desc:WORD)"},
    {"desc", "Description contains"},
    {"type", "Media type (audio, image/png)"},
    {"regex", "Path matches this regular expression (PCRE2)"},
    {"min-size", "At least this size (e.g. 10M)"},
    {"max-size", "At most this size (e.g. 1G)"},
};
#define N_FORM_FIELDS (sizeof(form_fields) / sizeof(form_fields[0]))

/* The columns of the result form. */
static const struct {
	const char *var, *label;
} result_fields[] = {
    {"id", "Id"},     {"path", "Path"},       {"size", "Size (bytes)"},
    {"date", "Date"}, {"sha-256", "SHA-256"}, {"url", "Download URL"},
};
#define N_RESULT_FIELDS (sizeof(result_fields) / sizeof(result_fields[0]))

/* Adds <field var type label/> to parent and returns it. */
static xmpp_stanza_t *add_field(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
                                const char *var, const char *type,
                                const char *label)
{
	xmpp_stanza_t *f = xmpp_stanza_new(ctx);

	xmpp_stanza_set_name(f, "field");
	xmpp_stanza_set_attribute(f, "var", var);
	if (type != NULL)
		xmpp_stanza_set_attribute(f, "type", type);
	if (label != NULL)
		xmpp_stanza_set_attribute(f, "label", label);
	fis_xml_adopt(parent, f);
	return f;
}

/* Starts the reply: <query xmlns='jabber:iq:search'/> holding a form of
 * form_type with its hidden FORM_TYPE field. Sets *x to the form. */
static xmpp_stanza_t *new_reply(xmpp_ctx_t *ctx, const char *form_type,
                                xmpp_stanza_t **x)
{
	xmpp_stanza_t *q = xmpp_stanza_new(ctx), *f;

	xmpp_stanza_set_name(q, "query");
	xmpp_stanza_set_ns(q, SEARCH_NS);
	*x = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(*x, "x");
	xmpp_stanza_set_ns(*x, DATA_NS);
	xmpp_stanza_set_type(*x, form_type);
	fis_xml_adopt(q, *x);
	f = add_field(ctx, *x, "FORM_TYPE", "hidden", NULL);
	fis_xml_add_text(ctx, f, "value", SEARCH_NS);
	return q;
}

/* Answers a get: the instructions and the empty form. */
static int answer_form(const struct fis_env *env, struct fis_reply *r)
{
	static const char instructions[] =
	    "Fill in the form to search the shared files; every field is "
	    "optional and a file must match all of them.";
	xmpp_stanza_t *x, *q = new_reply(env->ctx, "form", &x);

	fis_xml_add_text(env->ctx, q, "instructions", instructions);
	fis_xml_add_text(env->ctx, x, "title", "Search files");
	fis_xml_add_text(env->ctx, x, "instructions", instructions);
	for (size_t i = 0; i < N_FORM_FIELDS; i++)
		add_field(env->ctx, x, form_fields[i].var, "text-single",
		          form_fields[i].label);
	r->payload = q;
	return 0;
}

/* Sets *cause to a copy of message about field var with its value shown
 * safely, and returns -1. */
static int field_error(char **cause, const char *var, const char *value,
                       const char *message)
{
	size_t len = strlen(value);
	char *shown = text_sanitize(value, text_utf8_prefix(value, len, 64));

	*cause = xasprintf("%s: \"%s%s\": %s", var, shown,
	                   len > 64 ? "..." : "", message);
	free(shown);
	return -1;
}

/* Checks a media type ("audio" or "audio/ogg"). */
static bool type_ok(const char *v)
{
	size_t len = strlen(v), slashes = 0;

	if (len == 0 || len > QUERY_MAX_TYPE || v[0] == '/' ||
	    v[len - 1] == '/')
		return false;
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '/')
			slashes++;
		else if (!isalnum((unsigned char)*p) &&
		         strchr("!#$&^_.+-", *p) == NULL)
			return false;
	}
	return slashes <= 1;
}

/* Applies the value of field var to q. Returns 0, or -1 with *cause. */
static int apply_field(struct query *q, const char *var, const char *value,
                       char **cause)
{
	struct query *sub;
	uint64_t size;
	char *err = NULL;

	if (strcmp(var, "name") == 0) {
		if ((sub = query_parse(value, &err)) == NULL) {
			field_error(cause, var, value, err);
			free(err);
			return -1;
		}
		/* The form's other fields are applied after, on top. */
		for (size_t i = 0; i < sub->n_terms; i++) {
			if (query_add_term(q, sub->terms[i].kind,
			                   sub->terms[i].text, &err) == -1) {
				query_free(sub);
				field_error(cause, var, value, err);
				free(err);
				return -1;
			}
		}
		if (sub->min_size > q->min_size)
			q->min_size = sub->min_size;
		if (sub->max_size < q->max_size)
			q->max_size = sub->max_size;
		if (sub->type != NULL) {
			free(q->type);
			q->type = xstrdup(sub->type);
		}
		if (sub->new_within_ms != 0)
			q->new_within_ms = sub->new_within_ms;
		if (sub->desc != NULL)
			query_set_desc(q, sub->desc);
		query_free(sub);
	} else if (strcmp(var, "regex") == 0) {
		if (query_add_term(q, QUERY_REGEX, value, &err) == -1) {
			field_error(cause, var, value, err);
			free(err);
			return -1;
		}
	} else if (strcmp(var, "desc") == 0) {
		if (strlen(value) > QUERY_MAX_TERM)
			return field_error(cause, var, value, "too long");
		query_set_desc(q, value);
	} else if (strcmp(var, "type") == 0) {
		if (!type_ok(value))
			return field_error(cause, var, value,
			                   "not a media type (e.g. audio, "
			                   "image/png)");
		free(q->type);
		q->type = xstrdup(value);
		for (char *p = q->type; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
	} else if (strcmp(var, "min-size") == 0 ||
	           strcmp(var, "max-size") == 0) {
		if (units_parse_size(value, &size) == -1)
			return field_error(
			    cause, var, value,
			    "not a size (e.g. 512, 10K, 5M, 2G)");
		if (var[1] == 'i' && size > q->min_size)
			q->min_size = size;
		else if (var[1] == 'a' && size < q->max_size)
			q->max_size = size;
	} else {
		return field_error(cause, "form", var, "unknown field");
	}
	return 0;
}

/* Builds the query of a submitted form x. Returns it, or NULL with
 * *cause. */
static struct query *form_query(xmpp_stanza_t *x, char **cause)
{
	struct query *q = query_new();
	const char *type = xmpp_stanza_get_type(x);
	unsigned seen = 0;

	if (type == NULL || strcmp(type, "submit") != 0) {
		*cause = xstrdup("the form must be of type submit");
		goto fail;
	}
	for (xmpp_stanza_t *f = xmpp_stanza_get_children(x); f != NULL;
	     f = xmpp_stanza_get_next(f)) {
		xmpp_stanza_t *v;
		const char *var;
		char *value;
		size_t i;
		int rc;

		if (!xmpp_stanza_is_tag(f) ||
		    strcmp(xmpp_stanza_get_name(f), "field") != 0)
			continue;
		var = xmpp_stanza_get_attribute(f, "var");
		if (var == NULL) {
			*cause = xstrdup("a form field has no var");
			goto fail;
		}
		v = xmpp_stanza_get_child_by_name(f, "value");
		value = v != NULL ? fis_xml_text(v) : NULL;
		if (value == NULL)
			value = xstrdup("");
		if (strcmp(var, "FORM_TYPE") == 0) {
			rc = strcmp(value, SEARCH_NS) == 0
			         ? 0
			         : field_error(cause, var, value,
			                       "not " SEARCH_NS);
			free(value);
			if (rc == -1)
				goto fail;
			continue;
		}
		for (i = 0; i < N_FORM_FIELDS; i++)
			if (strcmp(var, form_fields[i].var) == 0)
				break;
		if (i < N_FORM_FIELDS && (seen & (1u << i))) {
			field_error(cause, "form", var, "field given twice");
			free(value);
			goto fail;
		}
		if (i < N_FORM_FIELDS)
			seen |= 1u << i;
		rc = value[0] == '\0' && i < N_FORM_FIELDS
		         ? 0
		         : apply_field(q, var, value, cause);
		free(value);
		if (rc == -1)
			goto fail;
	}
	if (q->min_size > q->max_size) {
		*cause = xstrdup("min-size is larger than max-size");
		goto fail;
	}
	return q;
fail:
	query_free(q);
	return NULL;
}

/* Sets *id to the id of the match at position k, or returns 0 if there is
 * none. Returns 1, 0, or -1 with *cause. */
static int probe(const struct fis_env *env, const struct query *q, uint64_t k,
                 int64_t *id, char **cause)
{
	struct cat_page page;

	if (catalogue_search(env->cat, q, k, 1, &page, cause) == -1)
		return -1;
	if (page.n == 0) {
		cat_page_clear(&page);
		return 0;
	}
	*id = page.v[0].file.id;
	cat_page_clear(&page);
	return 1;
}

/* Parses a search cursor "ID" or "ID:POS" (POS: where ID was). Returns 0
 * (*hint is UINT64_MAX without POS), or -1 if s is not one. */
static int parse_cursor(const char *s, int64_t *id, uint64_t *hint)
{
	const char *colon = strchr(s, ':');
	char *head;
	int rc;

	*hint = UINT64_MAX;
	if (colon == NULL)
		return fis_reply_cursor(s, id);
	if (colon[1] < '0' || colon[1] > '9' || strlen(colon + 1) > 19 ||
	    rsm_parse_uint(colon + 1, hint) == -1)
		return -1;
	head = xstrndup(s, (size_t)(colon - s));
	rc = fis_reply_cursor(head, id);
	free(head);
	return rc;
}

/* Finds the position of file id among the matches of q (ids decrease with
 * the position), trying hint first. Returns 1 with *pos, 0 if id is not a
 * match, or -1 with *cause. */
static int locate(const struct fis_env *env, const struct query *q, int64_t id,
                  uint64_t hint, uint64_t total, bool capped, uint64_t *pos,
                  char **cause)
{
	uint64_t lo = 0, hi = total;
	int64_t v;
	int rc;

	if (hint != UINT64_MAX) {
		if ((rc = probe(env, q, hint, &v, cause)) == -1)
			return -1;
		if (rc == 1 && v == id) {
			*pos = hint;
			return 1;
		}
	}
	/* With a capped count the end is further: find it. */
	while (capped) {
		if ((rc = probe(env, q, hi, &v, cause)) == -1)
			return -1;
		if (rc == 0 || v <= id || hi > UINT64_MAX / 4)
			break;
		lo = hi + 1;
		hi *= 2;
	}
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if ((rc = probe(env, q, mid, &v, cause)) == -1)
			return -1;
		if (rc == 1 && v > id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if ((rc = probe(env, q, lo, &v, cause)) != 1)
		return rc;
	if (v != id)
		return 0;
	*pos = lo;
	return 1;
}

/* Sets *n to the number of matches of q, known to be at least known
 * (a capped count): the first position with no match, found by doubling
 * and bisection. Returns 0, or -1 with *cause. */
static int count_all(const struct fis_env *env, const struct query *q,
                     uint64_t known, uint64_t *n, char **cause)
{
	uint64_t lo = known, hi = known > 0 ? known * 2 : 1;
	int64_t v;
	int rc;

	while ((rc = probe(env, q, hi, &v, cause)) == 1 &&
	       hi < UINT64_MAX / 4) {
		lo = hi + 1;
		hi *= 2;
	}
	if (rc == -1)
		return -1;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if ((rc = probe(env, q, mid, &v, cause)) == -1)
			return -1;
		if (rc == 1)
			lo = mid + 1;
		else
			hi = mid;
	}
	*n = lo;
	return 0;
}

/* Adds <field var><value>text</value></field> to item. */
static void add_value(xmpp_ctx_t *ctx, xmpp_stanza_t *item, const char *var,
                      const char *text)
{
	fis_xml_add_text(ctx, add_field(ctx, item, var, NULL, NULL), "value",
	                 text);
}

/* Builds the <item/> of one match. */
static xmpp_stanza_t *result_item(const struct fis_env *env,
                                  const struct cat_file *f)
{
	xmpp_stanza_t *item = xmpp_stanza_new(env->ctx);
	char buf[FIS_DATE_LEN > 65 ? FIS_DATE_LEN : 65], *s;

	xmpp_stanza_set_name(item, "item");
	snprintf(buf, sizeof(buf), "%" PRId64, f->id);
	add_value(env->ctx, item, "id", buf);
	s = text_sanitize(f->path, strlen(f->path));
	add_value(env->ctx, item, "path", s);
	free(s);
	snprintf(buf, sizeof(buf), "%" PRIu64, f->size);
	add_value(env->ctx, item, "size", buf);
	add_value(env->ctx, item, "date", fis_xml_date(f->mtime_ns, buf));
	for (size_t i = 0; i < 32; i++)
		snprintf(buf + 2 * i, 3, "%02x", f->sha256[i]);
	add_value(env->ctx, item, "sha-256", f->hashed ? buf : "");
	s = env->file_url != NULL ? env->file_url(env->url_arg, f) : NULL;
	if (s != NULL) {
		char *clean = text_sanitize(s, strlen(s));

		add_value(env->ctx, item, "url", clean);
		free(clean);
		free(s);
	}
	return item;
}

/* Runs the search and builds the result form. */
static int answer_search(const struct fis_env *env, const struct query *q,
                         const struct rsm_req *rsm, struct fis_reply *r)
{
	uint64_t limit = env->page_limit, offset = 0, pos = 0, hint;
	struct cat_page page = {0};
	xmpp_stanza_t *x, *q_el, *rep, **items = NULL;
	size_t *sizes = NULL, base, budget, kept = 0, start = 0;
	bool backward = false;
	char *cause = NULL, first[48], last[48];
	int64_t id = 0;
	int rc;

	if (rsm->has_max && rsm->max < limit)
		limit = rsm->max;
	/* The first page gives the count (and is the answer without a
	 * cursor). */
	if (catalogue_search(env->cat, q, 0, (unsigned)limit, &page, &cause) ==
	    -1)
		goto search_fail;
	if (rsm->from == RSM_FROM_AFTER || rsm->from == RSM_FROM_BEFORE) {
		if (parse_cursor(rsm->cursor, &id, &hint) == -1)
			goto stale;
		rc = locate(env, q, id, hint, page.total, page.total_capped,
		            &pos, &cause);
		if (rc == -1)
			goto search_fail;
		if (rc == 0)
			goto stale;
	}
	switch (rsm->from) {
	case RSM_FROM_START:
		break;
	case RSM_FROM_INDEX:
		offset = rsm->index;
		break;
	case RSM_FROM_AFTER:
		offset = pos + 1;
		break;
	case RSM_FROM_BEFORE:
		offset = pos > limit ? pos - limit : 0;
		limit = pos - offset;
		backward = true;
		break;
	case RSM_FROM_END:
		/* The last page needs the real count. */
		if (page.total_capped &&
		    count_all(env, q, page.total, &page.total, &cause) == -1)
			goto search_fail;
		offset = page.total > limit ? page.total - limit : 0;
		backward = true;
		break;
	}
	if (offset != 0 || rsm->from == RSM_FROM_BEFORE) {
		uint64_t total = page.total;
		bool capped = page.total_capped;

		cat_page_clear(&page);
		if (catalogue_search(env->cat, q, offset, (unsigned)limit,
		                     &page, &cause) == -1)
			goto search_fail;
		if (capped && page.total < total)
			page.total = total;
	}
	/* A capped count is a lower bound: at least what this page shows. */
	if (page.total < offset + page.n)
		page.total = offset + page.n;

	q_el = new_reply(env->ctx, "result", &x);
	rep = xmpp_stanza_new(env->ctx);
	xmpp_stanza_set_name(rep, "reported");
	for (size_t i = 0; i < N_RESULT_FIELDS; i++)
		add_field(env->ctx, rep, result_fields[i].var, "text-single",
		          result_fields[i].label);
	fis_xml_adopt(x, rep);
	base = fis_xml_size(q_el) + SET_RESERVE;
	budget = base >= env->max_payload ? 0 : env->max_payload - base;
	if (page.n > 0) {
		items = xreallocarray(NULL, page.n, sizeof(*items));
		sizes = xreallocarray(NULL, page.n, sizeof(*sizes));
	}
	for (size_t i = 0; i < page.n; i++) {
		items[i] = result_item(env, &page.v[i].file);
		sizes[i] = fis_xml_size(items[i]);
	}
	kept = fis_reply_fit(sizes, page.n, budget, backward);
	start = backward ? page.n - kept : 0;
	for (size_t i = 0; i < page.n; i++) {
		if (i >= start && i < start + kept)
			fis_xml_adopt(x, items[i]);
		else
			xmpp_stanza_release(items[i]);
	}
	if (kept > 0) {
		snprintf(first, sizeof(first), "%" PRId64 ":%" PRIu64,
		         page.v[start].file.id, offset + start);
		snprintf(last, sizeof(last), "%" PRId64 ":%" PRIu64,
		         page.v[start + kept - 1].file.id,
		         offset + start + kept - 1);
		fis_xml_adopt(q_el, rsm_reply(env->ctx, first, offset + start,
		                              last, page.total));
	} else {
		fis_xml_adopt(q_el,
		              rsm_reply(env->ctx, NULL, 0, NULL, page.total));
	}
	free(items);
	free(sizes);
	cat_page_clear(&page);
	r->payload = q_el;
	return 0;
stale:
	cat_page_clear(&page);
	return fis_reply_error(r, "cancel", "item-not-found",
	                       "unknown or stale RSM cursor");
search_fail:
	cat_page_clear(&page);
	fis_reply_error(r, "wait", "resource-constraint",
	                cause != NULL ? cause : "search failed");
	free(cause);
	return -1;
}

int search_form_answer(const struct fis_env *env, xmpp_stanza_t *iq,
                       struct fis_reply *r)
{
	const char *type = xmpp_stanza_get_type(iq);
	xmpp_stanza_t *query = fis_reply_payload_of(iq, "query", SEARCH_NS);
	xmpp_stanza_t *x;
	struct rsm_req rsm;
	struct query *q;
	char *cause = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	if (query == NULL || type == NULL)
		return fis_reply_error(r, "modify", "bad-request",
		                       "no search query");
	if (env->max_payload < 4096)
		return fis_reply_error(r, "modify", "bad-request",
		                       "the request's id or addresses are too "
		                       "long to answer");
	if (strcmp(type, "get") == 0)
		return answer_form(env, r);
	x = fis_reply_payload_of(query, "x", DATA_NS);
	if (x == NULL)
		return fis_reply_error(r, "modify", "bad-request",
		                       "submit the data form (jabber:x:data); "
		                       "the legacy search fields are not "
		                       "supported");
	if (rsm_parse(query, &rsm, &cause) == -1) {
		fis_reply_error(r, "modify", "bad-request", cause);
		free(cause);
		return -1;
	}
	if ((q = form_query(x, &cause)) == NULL) {
		fis_reply_error(r, "modify", "bad-request", cause);
		free(cause);
		rsm_req_clear(&rsm);
		return -1;
	}
	rc = answer_search(env, q, &rsm, r);
	query_free(q);
	rsm_req_clear(&rsm);
	return rc;
}
