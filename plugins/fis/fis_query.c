/*
 * XEP-0329 File Information Sharing: answers <query xmlns='urn:xmpp:fis:0'/>.
 *
 * Design note. Without RSM a query lists one folder as the XEP shows it:
 * subfolders as <directory name='NAME'/>, files as <file/> named by their
 * last component, cut to page_limit (the reply then carries an RSM <set/>
 * with the full count). With RSM the listing is flattened: every file under
 * the folder at any depth, in path order, each named by its path from the
 * share root, no <directory/>; a page starts at an index or after/before a
 * cursor, which is a file's catalogue id (stable across renames), and the
 * reply carries first/last/count. A cursor that is not a file under the
 * folder any more (removed, moved away, from another listing) gets
 * item-not-found. Every page is also cut to the byte budget of the reply
 * (fis_reply_budget): items are measured serialized, and a page read
 * backwards (before) keeps the items nearest its cursor.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "catalogue_tree.h"
#include "fis.h"
#include "fis_node.h"
#include "fis_xml.h"
#include "rsm.h"
#include "text.h"

/* Room kept for the reply's RSM <set/> (three 20-digit numbers). */
#define SET_RESERVE 256

/* Returns the last component of path. */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* Returns true if path is under folder dir ("" is the root). */
static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return n == 0 ||
	       (strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1]);
}

/* Starts the reply <query/>, echoing node if given. */
static xmpp_stanza_t *new_query(xmpp_ctx_t *ctx, const char *node)
{
	xmpp_stanza_t *q = xmpp_stanza_new(ctx);

	xmpp_stanza_set_name(q, "query");
	xmpp_stanza_set_ns(q, FIS_NS);
	if (node != NULL)
		xmpp_stanza_set_attribute(q, "node", node);
	return q;
}

/* Builds the <file/> of f named by the display form of name (raw bytes). */
static xmpp_stanza_t *file_item(xmpp_ctx_t *ctx, const struct cat_file *f,
                                const char *name)
{
	char *shown = text_sanitize(name, strlen(name));
	xmpp_stanza_t *el = fis_xml_file(ctx, f, shown);

	free(shown);
	return el;
}

/* Builds <directory name='...'/> for the folder at path. */
static xmpp_stanza_t *dir_item(xmpp_ctx_t *ctx, const char *path)
{
	const char *name = base_name(path);
	char *shown = text_sanitize(name, strlen(name));
	xmpp_stanza_t *el = xmpp_stanza_new(ctx);

	xmpp_stanza_set_name(el, "directory");
	xmpp_stanza_set_attribute(el, "name", shown);
	free(shown);
	return el;
}

/* Items built for a reply, with their serialized sizes. */
struct items {
	xmpp_stanza_t **v;
	size_t *size;
	size_t n;
};

/* Appends el to it, measuring it. */
static void items_add(struct items *it, xmpp_stanza_t *el)
{
	it->v = xreallocarray(it->v, it->n + 1, sizeof(*it->v));
	it->size = xreallocarray(it->size, it->n + 1, sizeof(*it->size));
	it->v[it->n] = el;
	it->size[it->n] = fis_xml_size(el);
	it->n++;
}

/* Moves the items that fit in budget into parent (from the back if
 * from_back, keeping their order) and releases the rest. Returns the
 * index in it of the first item kept and sets *kept. */
static size_t items_move(struct items *it, xmpp_stanza_t *parent, size_t budget,
                         bool from_back, size_t *kept)
{
	size_t k = fis_reply_fit(it->size, it->n, budget, from_back);
	size_t start = from_back ? it->n - k : 0;

	for (size_t i = 0; i < it->n; i++) {
		if (i >= start && i < start + k)
			fis_xml_adopt(parent, it->v[i]);
		else
			xmpp_stanza_release(it->v[i]);
	}
	free(it->v);
	free(it->size);
	memset(it, 0, sizeof(*it));
	*kept = k;
	return start;
}

/* Returns the budget left for items in a reply whose empty form is q. */
static size_t items_budget(const struct fis_env *env, xmpp_stanza_t *q)
{
	size_t base = fis_xml_size(q) + SET_RESERVE;

	return base >= env->max_payload ? 0 : env->max_payload - base;
}

/* Answers a query for one file. */
static int answer_file(const struct fis_env *env, const char *node,
                       const struct cat_file *f, struct fis_reply *r)
{
	xmpp_stanza_t *q = new_query(env->ctx, node);

	fis_xml_adopt(q, file_item(env->ctx, f, base_name(f->path)));
	if (fis_xml_size(q) > env->max_payload) {
		xmpp_stanza_release(q);
		return fis_reply_error(r, "cancel", "not-acceptable",
		                       "the answer would be too large");
	}
	r->payload = q;
	return 0;
}

/* Answers a folder listing without RSM: a page of dir, cut to the limit
 * and the budget, with the full count when it is cut. */
static int answer_folder(const struct fis_env *env, const char *node,
                         const char *dir, struct fis_reply *r)
{
	struct cat_page page;
	struct items it = {0};
	xmpp_stanza_t *q;
	size_t kept;

	if (catalogue_list(env->cat, dir, 0, env->page_limit, &page) != 1)
		return fis_reply_error(r, "wait", "internal-server-error",
		                       "the catalogue cannot be read");
	q = new_query(env->ctx, node);
	for (size_t i = 0; i < page.n; i++) {
		const struct cat_entry *e = &page.v[i];

		items_add(&it, e->is_dir ? dir_item(env->ctx, e->dir_path)
		                         : file_item(env->ctx, &e->file,
		                                     base_name(e->file.path)));
	}
	items_move(&it, q, items_budget(env, q), false, &kept);
	if (kept < page.total)
		fis_xml_adopt(q,
		              rsm_reply(env->ctx, NULL, 0, NULL, page.total));
	cat_page_clear(&page);
	r->payload = q;
	return 0;
}

/* Checks an RSM cursor: the id of a file under dir. Sets *path (caller
 * frees). Returns 1, 0 if it is not usable, -1 on a database error. */
static int check_cursor(const struct fis_env *env, const char *dir,
                        const char *cursor, char **path)
{
	struct cat_file f;
	int64_t id;
	int rc;

	if (fis_reply_cursor(cursor, &id) == -1)
		return 0;
	rc = catalogue_get(env->cat, id, &f);
	if (rc != 1)
		return rc;
	if (!is_under(f.path, dir)) {
		cat_file_clear(&f);
		return 0;
	}
	*path = f.path;
	f.path = NULL;
	cat_file_clear(&f);
	return 1;
}

/* Answers a flattened listing of every file under dir, paged with RSM. */
static int answer_tree(const struct fis_env *env, const char *node,
                       const char *dir, const struct rsm_req *rsm,
                       struct fis_reply *r)
{
	enum cat_tree_from from = CAT_TREE_INDEX;
	uint64_t limit = env->page_limit, offset = 0, first_index = 0;
	char *cursor = NULL, first[24], last[24];
	struct cat_page page;
	struct items it = {0};
	xmpp_stanza_t *q;
	size_t start, kept;
	int rc;

	if (rsm->has_max && rsm->max < limit)
		limit = rsm->max;
	switch (rsm->from) {
	case RSM_FROM_START:
		break;
	case RSM_FROM_INDEX:
		offset = rsm->index;
		break;
	case RSM_FROM_END:
		from = CAT_TREE_END;
		break;
	case RSM_FROM_AFTER:
	case RSM_FROM_BEFORE:
		rc = check_cursor(env, dir, rsm->cursor, &cursor);
		if (rc == -1)
			goto db_fail;
		if (rc == 0)
			return fis_reply_error(r, "cancel", "item-not-found",
			                       "unknown or stale RSM cursor");
		from = rsm->from == RSM_FROM_AFTER ? CAT_TREE_AFTER
		                                   : CAT_TREE_BEFORE;
		break;
	}
	if (catalogue_tree_page(env->cat, dir, from, cursor, offset,
	                        (unsigned)limit, &page) != 1)
		goto db_fail;
	q = new_query(env->ctx, node);
	for (size_t i = 0; i < page.n; i++)
		items_add(&it, file_item(env->ctx, &page.v[i].file,
		                         page.v[i].file.path));
	start =
	    items_move(&it, q, items_budget(env, q),
	               from == CAT_TREE_BEFORE || from == CAT_TREE_END, &kept);
	if (kept == 0) {
		fis_xml_adopt(q,
		              rsm_reply(env->ctx, NULL, 0, NULL, page.total));
	} else {
		if (from == CAT_TREE_INDEX) {
			first_index = offset;
		} else if (catalogue_tree_rank(env->cat, dir,
		                               page.v[start].file.path,
		                               &first_index) != 1) {
			xmpp_stanza_release(q);
			cat_page_clear(&page);
			goto db_fail;
		}
		snprintf(first, sizeof(first), "%" PRId64,
		         page.v[start].file.id);
		snprintf(last, sizeof(last), "%" PRId64,
		         page.v[start + kept - 1].file.id);
		fis_xml_adopt(q, rsm_reply(env->ctx, first, first_index, last,
		                           page.total));
	}
	cat_page_clear(&page);
	free(cursor);
	r->payload = q;
	return 0;
db_fail:
	free(cursor);
	return fis_reply_error(r, "wait", "internal-server-error",
	                       "the catalogue cannot be read");
}

int fis_query_answer(const struct fis_env *env, xmpp_stanza_t *iq,
                     struct fis_reply *r)
{
	const char *type = xmpp_stanza_get_type(iq), *node;
	xmpp_stanza_t *query = fis_reply_payload_of(iq, "query", FIS_NS);
	struct rsm_req rsm;
	struct cat_file f;
	char *cause = NULL, *path = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	if (query == NULL)
		return fis_reply_error(r, "modify", "bad-request",
		                       "no fis query");
	if (type == NULL || strcmp(type, "get") != 0)
		return fis_reply_error(r, "modify", "bad-request",
		                       "a fis query is an IQ get");
	if (env->max_payload < 4096)
		return fis_reply_error(r, "modify", "bad-request",
		                       "the request's id or addresses are too "
		                       "long to answer");
	if (rsm_parse(query, &rsm, &cause) == -1) {
		fis_reply_error(r, "modify", "bad-request", cause);
		free(cause);
		return -1;
	}
	node = xmpp_stanza_get_attribute(query, "node");
	if (node != NULL && fis_node_to_path(node, &path) == -1) {
		rsm_req_clear(&rsm);
		return fis_reply_error(r, "cancel", "item-not-found",
		                       "no such file or folder");
	}
	if (path != NULL) {
		rc = catalogue_get_by_path(env->cat, path, &f);
		if (rc == 1) {
			rc = answer_file(env, node, &f, r);
			cat_file_clear(&f);
			goto done;
		}
		if (rc == 0)
			rc = catalogue_is_dir(env->cat, path);
		if (rc != 1) {
			if (rc == 0)
				fis_reply_error(r, "cancel", "item-not-found",
				                "no such file or folder");
			else
				fis_reply_error(r, "wait",
				                "internal-server-error",
				                "the catalogue cannot be read");
			rc = -1;
			goto done;
		}
	}
	if (rsm.present)
		rc = answer_tree(env, node, path != NULL ? path : "", &rsm, r);
	else
		rc = answer_folder(env, node, path != NULL ? path : "", r);
done:
	free(path);
	rsm_req_clear(&rsm);
	return rc;
}
