/*
 * Unit tests for the fis plugin's request handling: RSM parsing, nodes,
 * and the XEP-0329 and jabber:iq:search handlers against a temporary
 * catalogue, driven with stanzas parsed from text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strophe.h>

#include "fis.h"
#include "fis_node.h"
#include "fis_xml.h"
#include "fisbot/alloc.h"
#include "rsm.h"
#include "store/catalogue_write.h"

struct fixture {
	char dir[64];
	char *db;
	struct catalogue *c;
	xmpp_ctx_t *ctx;
	struct fis_env env;
};

/* A fake URL maker: "http://127.0.0.1/f/ID". */
static char *fake_url(void *arg, const struct cat_file *f)
{
	(void)arg;
	return xasprintf("http://127.0.0.1/f/%" PRId64, f->id);
}

static int setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	char *cause = NULL;

	strcpy(fx->dir, "/tmp/fisbot-fis-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->db = xasprintf("%s/fisbot.db", fx->dir);
	fx->c = catalogue_open_writer(fx->db, &cause);
	if (fx->c == NULL) {
		fprintf(stderr, "%s\n", cause);
		return -1;
	}
	xmpp_initialize();
	fx->ctx = xmpp_ctx_new(NULL, NULL);
	fx->env.ctx = fx->ctx;
	fx->env.cat = fx->c;
	fx->env.page_limit = 100;
	fx->env.max_payload = 60000;
	fx->env.file_url = fake_url;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char *cmd;

	catalogue_close(fx->c);
	xmpp_ctx_free(fx->ctx);
	xmpp_shutdown();
	cmd = xasprintf("rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fx->dir);
	free(cmd);
	free(fx->db);
	free(fx);
	return 0;
}

/* Adds a hashed file; its hash is its id repeated. Returns its id. */
static int64_t add(struct catalogue *c, const char *path, uint64_t size)
{
	struct cat_file f = {0};
	unsigned char sha[32];
	bool stale = true;

	f.path = (char *)path;
	f.size = size;
	f.mtime_ns = 1700000000LL * 1000000000LL;
	f.dev = 1;
	f.ino = (uint64_t)strlen(path);
	assert_int_equal(catalogue_upsert(c, &f), 0);
	memset(sha, (int)(f.id & 0xff), sizeof(sha));
	assert_int_equal(catalogue_set_hash(c, f.id, size, f.mtime_ns, sha,
	                                    "text/plain", &stale),
	                 0);
	assert_false(stale);
	return f.id;
}

/* Parses an <iq/> from text (asserting it parses). */
static xmpp_stanza_t *iq(struct fixture *fx, const char *text)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(fx->ctx, text);

	assert_non_null(st);
	return st;
}

/* Runs a fis query; returns the reply (caller clears it). */
static int fis(struct fixture *fx, const char *text, struct fis_reply *r)
{
	xmpp_stanza_t *st = iq(fx, text);
	int rc = fis_query_answer(&fx->env, st, r);

	xmpp_stanza_release(st);
	if (rc == 0)
		assert_true(fis_xml_size(r->payload) <= fx->env.max_payload);
	return rc;
}

/* Runs a search IQ. */
static int search(struct fixture *fx, const char *text, struct fis_reply *r)
{
	xmpp_stanza_t *st = iq(fx, text);
	int rc = search_form_answer(&fx->env, st, r);

	xmpp_stanza_release(st);
	if (rc == 0)
		assert_true(fis_xml_size(r->payload) <= fx->env.max_payload);
	return rc;
}

/* Returns the number of children of st named name. */
static size_t count_children(xmpp_stanza_t *st, const char *name)
{
	size_t n = 0;

	for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c != NULL;
	     c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c) &&
		    strcmp(xmpp_stanza_get_name(c), name) == 0)
			n++;
	return n;
}

/* Returns the text of child name of the RSM set of q (caller frees), or
 * NULL. */
static char *set_value(xmpp_stanza_t *q, const char *name)
{
	xmpp_stanza_t *set = xmpp_stanza_get_child_by_ns(q, RSM_NS), *el;

	if (set == NULL)
		return NULL;
	el = xmpp_stanza_get_child_by_name(set, name);
	return el != NULL ? fis_xml_text(el) : NULL;
}

/* Returns the text of child name of element el (caller frees). */
static char *child_text(xmpp_stanza_t *el, const char *name)
{
	xmpp_stanza_t *c = xmpp_stanza_get_child_by_name(el, name);

	assert_non_null(c);
	return fis_xml_text(c);
}

/* Returns the index attribute of the RSM <first/> of q. */
static uint64_t first_index(xmpp_stanza_t *q)
{
	xmpp_stanza_t *set = xmpp_stanza_get_child_by_ns(q, RSM_NS);
	const char *index;

	assert_non_null(set);
	index = xmpp_stanza_get_attribute(
	    xmpp_stanza_get_child_by_name(set, "first"), "index");
	assert_non_null(index);
	return strtoull(index, NULL, 10);
}

/* Asserts r is an error with condition cond. */
static void assert_error(struct fis_reply *r, const char *cond)
{
	assert_null(r->payload);
	assert_non_null(r->condition);
	assert_string_equal(r->condition, cond);
	fis_reply_clear(r);
}

/* --- RSM ------------------------------------------------------------- */

/* Parses "<query><set xmlns=RSM>body</set></query>" (or body alone if
 * raw). */
static int parse_rsm(xmpp_ctx_t *ctx, const char *body, struct rsm_req *r,
                     char **cause)
{
	char *text =
	    xasprintf("<query xmlns='urn:xmpp:fis:0'>%s</query>", body);
	xmpp_stanza_t *q = xmpp_stanza_new_from_string(ctx, text);
	int rc;

	assert_non_null(q);
	rc = rsm_parse(q, r, cause);
	xmpp_stanza_release(q);
	free(text);
	return rc;
}

#define SET(x) "<set xmlns='http://jabber.org/protocol/rsm'>" x "</set>"

static void test_rsm_parse(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = {
	    SET("<max>abc</max>"),
	    SET("<max>-1</max>"),
	    SET("<max></max>"),
	    SET("<max>1 2</max>"),
	    SET("<max>+5</max>"),
	    SET("<max>1</max><max>2</max>"),
	    SET("<after>1</after><before>2</before>"),
	    SET("<index>1</index><after>2</after>"),
	    SET("<after>2</after><index>1</index>"),
	    SET("<index>x</index>"),
	    SET("<first>1</first>"),
	    SET("") SET(""),
	};
	struct rsm_req r;
	char *cause = NULL;

	assert_int_equal(parse_rsm(fx->ctx, "", &r, &cause), 0);
	assert_false(r.present);
	rsm_req_clear(&r);

	assert_int_equal(parse_rsm(fx->ctx, SET(""), &r, &cause), 0);
	assert_true(r.present);
	assert_false(r.has_max);
	assert_int_equal(r.from, RSM_FROM_START);
	rsm_req_clear(&r);

	assert_int_equal(parse_rsm(fx->ctx,
	                           SET("<max> 10 </max><after>42</after>"), &r,
	                           &cause),
	                 0);
	assert_true(r.has_max);
	assert_int_equal(r.max, 10);
	assert_int_equal(r.from, RSM_FROM_AFTER);
	assert_string_equal(r.cursor, "42");
	rsm_req_clear(&r);

	assert_int_equal(parse_rsm(fx->ctx, SET("<before/>"), &r, &cause), 0);
	assert_int_equal(r.from, RSM_FROM_END);
	rsm_req_clear(&r);

	assert_int_equal(
	    parse_rsm(fx->ctx, SET("<before>7</before>"), &r, &cause), 0);
	assert_int_equal(r.from, RSM_FROM_BEFORE);
	assert_string_equal(r.cursor, "7");
	rsm_req_clear(&r);

	assert_int_equal(
	    parse_rsm(fx->ctx, SET("<index>300</index>"), &r, &cause), 0);
	assert_int_equal(r.from, RSM_FROM_INDEX);
	assert_int_equal(r.index, 300);
	rsm_req_clear(&r);

	/* A huge max saturates (the handler caps it). */
	assert_int_equal(parse_rsm(fx->ctx,
	                           SET("<max>99999999999999999999999</max>"),
	                           &r, &cause),
	                 0);
	assert_true(r.max == UINT64_MAX);
	rsm_req_clear(&r);

	/* An empty <after/> is the start. */
	assert_int_equal(parse_rsm(fx->ctx, SET("<after/>"), &r, &cause), 0);
	assert_int_equal(r.from, RSM_FROM_START);
	rsm_req_clear(&r);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cause = NULL;
		assert_int_equal(parse_rsm(fx->ctx, bad[i], &r, &cause), -1);
		assert_non_null(cause);
		assert_null(r.cursor);
		free(cause);
	}
}

/* --- nodes ----------------------------------------------------------- */

static void test_node(void **state)
{
	static const char *const bad[] = {
	    "",         "/etc/passwd", "..",      "../x",      "a/../b",
	    "a/..",     ".",           "./a",     "a//b",      "a/",
	    "\\x41",    "\\q",         "\\",      "\\x0",      "\\x00",
	    "\\u0000",  "a\\x2Fb",     "\\xzz",   "\\u00",     "\\x2E\\x2E",
	    "\xff\xfe", "\xc0\xaf",    "a\\x0a", /* lowercase: not canonical
	                                          */
	    "\\u0085",  "\\u{0000}",   "\\u{41}", "\\u{0041}", "\\u{202e}",
	    "\\u{202E", "\\u{10FFFF}",
	};
	static const char *const raw[] = {
	    "a",
	    "music/live/song.ogg",
	    "back\\slash",
	    "bad\xff\xfe/name",
	    "ctl\x01\x1f\x7f",
	    "c1\xc2\x85here",
	    "\xef\xbf\xbe",
	    "été/日本.txt",
	    "quote\"'<&>",
	    "bidi\xe2\x80\xaegpj.exe",
	    "zw\xe2\x80\x8b\xef\xbb\xbf/line\xe2\x80\xa8sep",
	};
	char *path, *node, *big;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		path = (char *)1;
		assert_int_equal(fis_node_to_path(bad[i], &path), -1);
		assert_null(path);
	}
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		node = fis_node_from_path(raw[i]);
		assert_int_equal(fis_node_to_path(node, &path), 0);
		assert_string_equal(path, raw[i]);
		free(path);
		free(node);
	}
	assert_int_equal(fis_node_to_path("bad\\xFF\\xFE/name", &path), 0);
	assert_string_equal(path, "bad\xff\xfe/name");
	free(path);

	/* 4 KiB is the limit. */
	big = xmalloc(FIS_NODE_MAX + 2);
	memset(big, 'a', FIS_NODE_MAX + 1);
	big[FIS_NODE_MAX + 1] = '\0';
	assert_int_equal(fis_node_to_path(big, &path), -1);
	big[FIS_NODE_MAX] = '\0';
	assert_int_equal(fis_node_to_path(big, &path), 0);
	free(path);
	free(big);
}

/* --- XEP-0329 -------------------------------------------------------- */

#define FISQ(attrs, body)                                                      \
	"<iq type='get' id='q1' from='a@b/c'><query "                          \
	"xmlns='urn:xmpp:fis:0'" attrs ">" body "</query></iq>"

static void test_fis_listing(void **state)
{
	struct fixture *fx = *state;
	struct fis_reply r;
	xmpp_stanza_t *f, *h;
	char *s, *b64;
	int64_t id;

	add(fx->c, "top.txt", 5);
	id = add(fx->c, "music/live/song.ogg", 3000);
	add(fx->c, "music/a.ogg", 10);
	add(fx->c, "docs/x.pdf", 10);
	add(fx->c, "bad\xff/name.txt", 1);

	/* The root: folders and top-level files. */
	assert_int_equal(fis(fx, FISQ("", ""), &r), 0);
	assert_int_equal(count_children(r.payload, "directory"), 3);
	assert_int_equal(count_children(r.payload, "file"), 1);
	assert_null(xmpp_stanza_get_child_by_ns(r.payload, RSM_NS));
	assert_null(xmpp_stanza_get_attribute(r.payload, "node"));
	fis_reply_clear(&r);

	/* A folder. */
	assert_int_equal(fis(fx, FISQ(" node='music'", ""), &r), 0);
	assert_string_equal(xmpp_stanza_get_attribute(r.payload, "node"),
	                    "music");
	assert_int_equal(count_children(r.payload, "directory"), 1);
	assert_string_equal(
	    xmpp_stanza_get_attribute(
	        xmpp_stanza_get_child_by_name(r.payload, "directory"), "name"),
	    "live");
	assert_int_equal(count_children(r.payload, "file"), 1);
	fis_reply_clear(&r);

	/* A folder with an invalid byte, by its escaped node. */
	assert_int_equal(fis(fx, FISQ(" node='bad\\xFF'", ""), &r), 0);
	assert_int_equal(count_children(r.payload, "file"), 1);
	fis_reply_clear(&r);

	/* One file, in full. */
	assert_int_equal(fis(fx, FISQ(" node='music/live/song.ogg'", ""), &r),
	                 0);
	f = xmpp_stanza_get_child_by_name(r.payload, "file");
	assert_non_null(f);
	assert_string_equal(xmpp_stanza_get_ns(f), FIS_FILE_NS);
	s = child_text(f, "name");
	assert_string_equal(s, "song.ogg");
	free(s);
	s = child_text(f, "size");
	assert_string_equal(s, "3000");
	free(s);
	s = child_text(f, "date");
	assert_string_equal(s, "2023-11-14T22:13:20Z");
	free(s);
	s = child_text(f, "media-type");
	assert_string_equal(s, "text/plain");
	free(s);
	h = xmpp_stanza_get_child_by_name(f, "hash");
	assert_string_equal(xmpp_stanza_get_ns(h), FIS_HASHES_NS);
	assert_string_equal(xmpp_stanza_get_attribute(h, "algo"), "sha-256");
	{
		unsigned char sha[32];

		memset(sha, (int)(id & 0xff), sizeof(sha));
		b64 = xmpp_base64_encode(fx->ctx, sha, 32);
		s = fis_xml_text(h);
		assert_string_equal(s, b64);
		free(s);
		xmpp_free(fx->ctx, b64);
	}
	fis_reply_clear(&r);

	/* Bad nodes and unknown paths. */
	assert_int_equal(fis(fx, FISQ(" node='../etc'", ""), &r), -1);
	assert_error(&r, "item-not-found");
	assert_int_equal(fis(fx, FISQ(" node='/music'", ""), &r), -1);
	assert_error(&r, "item-not-found");
	assert_int_equal(fis(fx, FISQ(" node=''", ""), &r), -1);
	assert_error(&r, "item-not-found");
	assert_int_equal(fis(fx, FISQ(" node='nope'", ""), &r), -1);
	assert_error(&r, "item-not-found");
	assert_int_equal(fis(fx, FISQ(" node='music/'", ""), &r), -1);
	assert_error(&r, "item-not-found");
	/* Garbage RSM. */
	assert_int_equal(fis(fx, FISQ("", SET("<max>x</max>")), &r), -1);
	assert_error(&r, "bad-request");
	/* Not a get. */
	assert_int_equal(fis(fx,
	                     "<iq type='set' id='1'><query "
	                     "xmlns='urn:xmpp:fis:0'/></iq>",
	                     &r),
	                 -1);
	assert_error(&r, "bad-request");
}

/* Pages through the flattened listing of node with RSM after-cursors (or
 * indexes), asserting every file comes exactly once, in order; returns the
 * number of files seen. */
static size_t page_all(struct fixture *fx, const char *node, unsigned max,
                       bool by_index, size_t expect)
{
	char *seen = xcalloc(expect + 1, 1), *last = NULL, *prev_name = NULL;
	size_t total = 0;
	struct fis_reply r;

	for (int guard = 0; guard < 10000; guard++) {
		char *text, *count, *first;
		xmpp_stanza_t *c;
		size_t n = 0;

		if (by_index)
			text = xasprintf(
			    FISQ(" node='%s'",
			         SET("<max>%u</max><index>%zu</index>")),
			    node, max, total);
		else if (last != NULL)
			text = xasprintf(
			    FISQ(" node='%s'",
			         SET("<max>%u</max><after>%s</after>")),
			    node, max, last);
		else
			text =
			    xasprintf(FISQ(" node='%s'", SET("<max>%u</max>")),
			              node, max);
		assert_int_equal(fis(fx, text, &r), 0);
		free(text);
		count = set_value(r.payload, "count");
		assert_non_null(count);
		assert_int_equal(strtoull(count, NULL, 10), expect);
		free(count);
		for (c = xmpp_stanza_get_children(r.payload); c != NULL;
		     c = xmpp_stanza_get_next(c)) {
			char *name;
			unsigned k;

			if (strcmp(xmpp_stanza_get_name(c), "file") != 0)
				continue;
			name = child_text(c, "name");
			/* Flattened: the path from the root, in order. */
			assert_int_equal(strncmp(name, node, strlen(node)), 0);
			if (prev_name != NULL)
				assert_true(strcmp(prev_name, name) < 0);
			assert_int_equal(
			    sscanf(strrchr(name, '/'), "/f%u.txt", &k), 1);
			assert_true(k < expect);
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
			free(prev_name);
			prev_name = name;
			n++;
		}
		assert_int_equal(count_children(r.payload, "directory"), 0);
		if (n == 0) {
			assert_null(set_value(r.payload, "first"));
			fis_reply_clear(&r);
			break;
		}
		assert_true(n <= max);
		first = set_value(r.payload, "first");
		assert_non_null(first);
		free(first);
		assert_int_equal(first_index(r.payload), total);
		total += n;
		free(last);
		last = set_value(r.payload, "last");
		fis_reply_clear(&r);
	}
	free(last);
	free(prev_name);
	for (size_t k = 0; k < expect; k++)
		assert_int_equal(seen[k], 1);
	free(seen);
	return total;
}

static void test_fis_rsm(void **state)
{
	struct fixture *fx = *state;
	struct fis_reply r;
	char path[64], *s, *text;
	int64_t outside, removed;

	assert_int_equal(catalogue_begin(fx->c), 0);
	for (unsigned k = 0; k < 250; k++) {
		/* Spread over subfolders: the listing is flattened. */
		if (k % 3 == 0)
			snprintf(path, sizeof(path), "big/f%03u.txt", k);
		else
			snprintf(path, sizeof(path), "big/s%u/f%03u.txt", k % 3,
			         k);
		add(fx->c, path, k);
	}
	for (unsigned k = 0; k < 150; k++) {
		snprintf(path, sizeof(path), "flat/%03u", k);
		add(fx->c, path, k);
	}
	outside = add(fx->c, "other/o.txt", 1);
	removed = add(fx->c, "big/zz/removed.txt", 1);
	assert_int_equal(catalogue_commit(fx->c), 0);
	assert_int_equal(catalogue_remove(fx->c, removed), 0);

	assert_int_equal(page_all(fx, "big", 100, false, 250), 250);
	assert_int_equal(page_all(fx, "big", 7, false, 250), 250);
	assert_int_equal(page_all(fx, "big", 100, true, 250), 250);

	/* Without RSM: cut to the page limit, with the count. */
	assert_int_equal(fis(fx, FISQ(" node='flat'", ""), &r), 0);
	assert_int_equal(count_children(r.payload, "file"), 100);
	s = set_value(r.payload, "count");
	assert_string_equal(s, "150");
	free(s);
	fis_reply_clear(&r);

	/* max=0: only the count. */
	assert_int_equal(fis(fx, FISQ(" node='big'", SET("<max>0</max>")), &r),
	                 0);
	assert_int_equal(count_children(r.payload, "file"), 0);
	s = set_value(r.payload, "count");
	assert_string_equal(s, "250");
	free(s);
	assert_null(set_value(r.payload, "first"));
	fis_reply_clear(&r);

	/* A huge max is capped to the page limit. */
	assert_int_equal(
	    fis(fx, FISQ(" node='big'", SET("<max>99999999999999999999</max>")),
	        &r),
	    0);
	assert_int_equal(count_children(r.payload, "file"), 100);
	fis_reply_clear(&r);

	/* The last page, and the page before an item. */
	assert_int_equal(
	    fis(fx, FISQ(" node='big'", SET("<max>10</max><before/>")), &r), 0);
	assert_int_equal(count_children(r.payload, "file"), 10);
	assert_int_equal(first_index(r.payload), 240);
	s = set_value(r.payload, "first");
	fis_reply_clear(&r);
	text = xasprintf(
	    FISQ(" node='big'", SET("<max>10</max><before>%s</before>")), s);
	free(s);
	assert_int_equal(fis(fx, text, &r), 0);
	free(text);
	assert_int_equal(count_children(r.payload, "file"), 10);
	assert_int_equal(first_index(r.payload), 230);
	fis_reply_clear(&r);

	/* Stale, foreign and garbage cursors. */
	text = xasprintf(FISQ(" node='big'", SET("<after>%" PRId64 "</after>")),
	                 removed);
	assert_int_equal(fis(fx, text, &r), -1);
	free(text);
	assert_error(&r, "item-not-found");
	text = xasprintf(FISQ(" node='big'", SET("<after>%" PRId64 "</after>")),
	                 outside);
	assert_int_equal(fis(fx, text, &r), -1);
	free(text);
	assert_error(&r, "item-not-found");
	assert_int_equal(
	    fis(fx, FISQ(" node='big'", SET("<after>zzz</after>")), &r), -1);
	assert_error(&r, "item-not-found");
	assert_int_equal(
	    fis(fx,
	        FISQ(" node='big'",
	             SET("<after>99999999999999999999999</after>")),
	        &r),
	    -1);
	assert_error(&r, "item-not-found");
	/* The root sees every file; an index past the end is an empty
	 * page. */
	assert_int_equal(fis(fx, FISQ("", SET("<index>100000</index>")), &r),
	                 0);
	assert_int_equal(count_children(r.payload, "file"), 0);
	s = set_value(r.payload, "count");
	assert_string_equal(s, "401");
	free(s);
	fis_reply_clear(&r);
}

static void test_fis_budget(void **state)
{
	struct fixture *fx = *state;
	struct fis_reply r;
	char path[600];
	size_t n;

	/* Long names: 100 of them cannot fit in 20000 bytes. */
	for (unsigned k = 0; k < 120; k++) {
		memset(path, 'n', sizeof(path));
		snprintf(path, 10, "d/%03u", k);
		path[9] = 'n';
		path[500] = '\0';
		add(fx->c, path, k);
	}
	fx->env.max_payload = 20000;
	assert_int_equal(fis(fx, FISQ(" node='d'", SET("<max>100</max>")), &r),
	                 0);
	n = count_children(r.payload, "file");
	assert_true(n > 10 && n < 100);
	assert_true(fis_xml_size(r.payload) <= 20000);
	fis_reply_clear(&r);
	assert_int_equal(fis(fx, FISQ(" node='d'", ""), &r), 0);
	assert_true(count_children(r.payload, "file") < 100);
	assert_non_null(xmpp_stanza_get_child_by_ns(r.payload, RSM_NS));
	fis_reply_clear(&r);

	/* An envelope too large to answer in 64 KiB. */
	fx->env.max_payload = 100;
	assert_int_equal(fis(fx, FISQ("", ""), &r), -1);
	assert_error(&r, "bad-request");
}

/* --- jabber:iq:search ------------------------------------------------ */

#define SEARCHQ(type, body)                                                    \
	"<iq type='" type "' id='s1'><query xmlns='jabber:iq:search'>" body    \
	"</query></iq>"
#define FORM(fields)                                                           \
	"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "       \
	"type='hidden'><value>jabber:iq:search</value></field>" fields "</x>"
#define FIELD(var, value)                                                      \
	"<field var='" var "'><value>" value "</value></field>"

/* Returns st serialized (caller frees with xmpp_free). */
static char *serialize(xmpp_stanza_t *st)
{
	char *buf = NULL;
	size_t len;

	if (xmpp_stanza_to_text(st, &buf, &len) != XMPP_EOK)
		return NULL;
	return buf;
}

/* Returns the number of <item/> of a search result. */
static size_t result_items(struct fis_reply *r)
{
	xmpp_stanza_t *x =
	    xmpp_stanza_get_child_by_ns(r->payload, "jabber:x:data");

	assert_non_null(x);
	assert_string_equal(xmpp_stanza_get_type(x), "result");
	assert_non_null(xmpp_stanza_get_child_by_name(x, "reported"));
	return count_children(x, "item");
}

static void test_search_form(void **state)
{
	struct fixture *fx = *state;
	struct fis_reply r;
	xmpp_stanza_t *x, *item;
	char *s, *last = NULL, *text;
	char seen[300] = {0};
	size_t total = 0;

	assert_int_equal(catalogue_begin(fx->c), 0);
	for (unsigned k = 0; k < 250; k++) {
		char path[64];

		snprintf(path, sizeof(path), "songs/s%03u.ogg", k);
		add(fx->c, path, k * 1024);
	}
	add(fx->c, "other/readme.txt", 1);
	assert_int_equal(catalogue_commit(fx->c), 0);

	/* The form. */
	assert_int_equal(search(fx, SEARCHQ("get", ""), &r), 0);
	x = xmpp_stanza_get_child_by_ns(r.payload, "jabber:x:data");
	assert_string_equal(xmpp_stanza_get_type(x), "form");
	assert_int_equal(count_children(x, "field"), 7);
	assert_non_null(
	    xmpp_stanza_get_child_by_name(r.payload, "instructions"));
	fis_reply_clear(&r);

	/* A search with fields. */
	assert_int_equal(
	    search(fx,
	           SEARCHQ("set",
	                   FORM(FIELD("name", "s01") FIELD("min-size", "11K")
	                            FIELD("max-size", "15K"))),
	           &r),
	    0);
	/* s010..s019 of 10K..19K, at least 11K and at most 15K. */
	assert_int_equal(result_items(&r), 5);
	x = xmpp_stanza_get_child_by_ns(r.payload, "jabber:x:data");
	item = xmpp_stanza_get_child_by_name(x, "item");
	s = serialize(item);
	assert_non_null(strstr(s, "songs/s015.ogg"));
	assert_non_null(strstr(s, "http://127.0.0.1/f/"));
	xmpp_free(fx->ctx, s);
	fis_reply_clear(&r);

	/* Bad values. */
	assert_int_equal(
	    search(fx, SEARCHQ("set", FORM(FIELD("min-size", "lots"))), &r),
	    -1);
	assert_non_null(strstr(r.text, "min-size"));
	assert_error(&r, "bad-request");
	assert_int_equal(
	    search(fx, SEARCHQ("set", FORM(FIELD("regex", "(("))), &r), -1);
	assert_error(&r, "bad-request");
	assert_int_equal(
	    search(fx, SEARCHQ("set", FORM(FIELD("name", "\"open"))), &r), -1);
	assert_error(&r, "bad-request");
	assert_int_equal(
	    search(fx, SEARCHQ("set", FORM(FIELD("colour", "red"))), &r), -1);
	assert_error(&r, "bad-request");
	assert_int_equal(search(fx, SEARCHQ("set", ""), &r), -1);
	assert_error(&r, "bad-request");
	assert_int_equal(
	    search(fx, SEARCHQ("set", FORM(FIELD("type", "a b"))), &r), -1);
	assert_error(&r, "bad-request");

	/* Paging through every .ogg with after-cursors. */
	for (int guard = 0; guard < 100; guard++) {
		size_t n;

		if (last == NULL)
			text =
			    xstrdup(SEARCHQ("set", FORM(FIELD("name", "*.ogg"))
			                               SET("<max>40</max>")));
		else
			text = xasprintf(
			    SEARCHQ("set",
			            FORM(FIELD("name", "*.ogg"))
			                SET("<max>40</max><after>%s</after>")),
			    last);
		assert_int_equal(search(fx, text, &r), 0);
		free(text);
		n = result_items(&r);
		if (n == 0) {
			fis_reply_clear(&r);
			break;
		}
		x = xmpp_stanza_get_child_by_ns(r.payload, "jabber:x:data");
		for (item = xmpp_stanza_get_children(x); item != NULL;
		     item = xmpp_stanza_get_next(item)) {
			unsigned k;

			if (strcmp(xmpp_stanza_get_name(item), "item") != 0)
				continue;
			s = serialize(item);
			assert_non_null(strstr(s, "songs/s"));
			assert_int_equal(
			    sscanf(strstr(s, "songs/s"), "songs/s%u", &k), 1);
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
			xmpp_free(fx->ctx, s);
		}
		total += n;
		free(last);
		last = set_value(r.payload, "last");
		fis_reply_clear(&r);
	}
	free(last);
	assert_int_equal(total, 250);

	/* A cursor with a wrong position still finds its file; a bad one
	 * does not. */
	assert_int_equal(search(fx,
	                        SEARCHQ("set", FORM(FIELD("name", "*.ogg"))
	                                           SET("<max>5</max><after>"
	                                               "200:7</after>")),
	                        &r),
	                 0);
	assert_int_equal(first_index(r.payload), 51);
	fis_reply_clear(&r);
	assert_int_equal(search(fx,
	                        SEARCHQ("set", FORM(FIELD("name", "*.ogg"))
	                                           SET("<after>200:x</after>")),
	                        &r),
	                 -1);
	assert_error(&r, "item-not-found");

	/* A stale cursor. */
	assert_int_equal(search(fx,
	                        SEARCHQ("set", FORM(FIELD("name", "*.ogg")) SET(
	                                           "<after>999999</after>")),
	                        &r),
	                 -1);
	assert_error(&r, "item-not-found");
	/* max=0: the count. */
	assert_int_equal(search(fx,
	                        SEARCHQ("set", FORM(FIELD("name", "*.ogg"))
	                                           SET("<max>0</max>")),
	                        &r),
	                 0);
	assert_int_equal(result_items(&r), 0);
	s = set_value(r.payload, "count");
	/* The catalogue's count is capped (then a lower bound). */
	assert_int_equal(strtoull(s, NULL, 10),
	                 250 < CATALOGUE_COUNT_CAP ? 250 : CATALOGUE_COUNT_CAP);
	free(s);
	fis_reply_clear(&r);

	/* The last page is the oldest matches, whatever the cap. */
	assert_int_equal(search(fx,
	                        SEARCHQ("set", FORM(FIELD("name", "*.ogg")) SET(
	                                           "<max>10</max><before/>")),
	                        &r),
	                 0);
	assert_int_equal(result_items(&r), 10);
	assert_int_equal(first_index(r.payload), 240);
	s = set_value(r.payload, "count");
	assert_string_equal(s, "250");
	free(s);
	fis_reply_clear(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rsm_parse, setup, teardown),
	    cmocka_unit_test(test_node),
	    cmocka_unit_test_setup_teardown(test_fis_listing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fis_rsm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fis_budget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search_form, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
