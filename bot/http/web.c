/*
 * The web index: routing, the folder and search pages, the Atom feed and
 * the streamed index.json (web.h).
 *
 * Design:
 * - http.c hands every GET or HEAD that is not a file link or an upload to
 *   web_serve, with the server thread's own read-only catalogue
 *   connection. The root is checked first (access = link: a web token,
 *   web_token.h; a bad one is 403, anything outside /w/ 404), then the
 *   rest of the path names a folder ("DIR/"), the stylesheet, the feed or
 *   the full index. The path is only ever a catalogue key: nothing here
 *   touches the file system.
 * - Pages are built from the embedded templates (web_tpl.h). Every name
 *   from the catalogue is text_sanitize'd (as in chat: invalid bytes, bidi
 *   controls, separators shown escaped) and then escaped for HTML by the
 *   renderer; URLs are built from percent-encoded path components. Links
 *   are absolute ({base_url}/... as handed out), download links are
 *   exactly what `get` makes (http_url_for).
 * - Folder pages and searches are pages of WEB_PAGE_SIZE rows from the
 *   catalogue's read API (catalogue_list, catalogue_search with the chat
 *   syntax); the feed is catalogue_newest.
 * - index.json is a libmicrohttpd stream (MHD_SIZE_UNKNOWN, chunked): its
 *   reader fetches WEB_JSON_CHUNK rows at a time by id
 *   (catalogue_tree_after_id, a keyset cursor), formats them into one
 *   reused buffer and hands that out, so memory stays constant whatever the
 *   catalogue's size, and no read transaction stays open between chunks.
 *   The reader runs on the thread that owns the connection, so it may use
 *   that thread's catalogue connection.
 */
#define _GNU_SOURCE
#include "web.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot/alloc.h"
#include "fisbot/catalogue_tree.h"
#include "fisbot/log.h"
#include "fisbot/query.h"
#include "fisbot/text.h"
#include "http.h"
#include "web_token.h"
#include "web_tpl.h"

/* The policy of the HTML pages: no script, no frames, styles and forms of
 * the same origin only. */
#define WEB_CSP_PAGE                                                           \
	"default-src 'none'; style-src 'self'; img-src 'self'; "               \
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
/* The policy of everything else (the feed, the index, the stylesheet). */
#define WEB_CSP_DATA "default-src 'none'; frame-ancestors 'none'"

/* The templates the web index uses, by index. */
enum web_tpl_id {
	T_PAGE,
	T_CRUMB,
	T_ROW_DIR,
	T_ROW_FILE,
	T_ROW_PENDING,
	T_PAGER,
	T_LINK,
	T_STYLE,
	T_FEED,
	T_ENTRY,
	T_COUNT
};

static const char *const tpl_names[T_COUNT] = {
    [T_PAGE] = "page.html",
    [T_CRUMB] = "crumb.html",
    [T_ROW_DIR] = "row_dir.html",
    [T_ROW_FILE] = "row_file.html",
    [T_ROW_PENDING] = "row_pending.html",
    [T_PAGER] = "pager.html",
    [T_LINK] = "link.html",
    [T_STYLE] = "style.css",
    [T_FEED] = "feed.atom",
    [T_ENTRY] = "feed_entry.atom",
};

struct web {
	const struct config *cfg;
	const struct token_key *key;
	char *title; /* [web] title, sanitised */
	const char *tpl[T_COUNT];
	size_t tpl_len[T_COUNT];
};

/* One request being answered. */
struct web_req {
	struct web *w;
	struct MHD_Connection *c;
	struct catalogue *cat;
	char *root; /* the absolute URL of the root, ending in '/' */
	unsigned *status;
	uint64_t *body;
	time_t now;
};

struct web *web_new(const struct config *cfg, const struct token_key *key,
                    char **cause)
{
	struct web *w = xcalloc(1, sizeof(*w));

	w->cfg = cfg;
	w->key = key;
	w->title = cfg->web.title != NULL
	               ? text_sanitize(cfg->web.title, strlen(cfg->web.title))
	               : xstrdup("fisbot");
	for (int i = 0; i < T_COUNT; i++) {
		w->tpl[i] = web_template(tpl_names[i], &w->tpl_len[i]);
		if (w->tpl[i] == NULL) {
			*cause = xasprintf("web: no template %s", tpl_names[i]);
			web_free(w);
			return NULL;
		}
	}
	return w;
}

void web_free(struct web *w)
{
	if (w == NULL)
		return;
	free(w->title);
	free(w);
}

/* Renders template id into out; a template error is a bug (the tests
 * render every template), so it is fatal. */
static void render(struct web *w, enum web_tpl_id id, struct web_buf *out,
                   const struct web_var *vars, size_t n)
{
	char *cause = NULL;

	if (web_render(out, w->tpl[id], w->tpl_len[id], vars, n, &cause) == -1)
		fatalx("web: %s: %s", tpl_names[id], cause);
}

/* Returns true for the bytes a path keeps unencoded in a URL: a path
 * segment's, and '/'. */
static bool path_char(unsigned char c)
{
	return c == '/' || text_url_unreserved(c);
}

/* Returns root followed by path percent-encoded and suffix (caller
 * frees). */
static char *url_of(const char *root, const char *path, const char *suffix)
{
	char *enc = text_pct_encode(path, strlen(path), path_char);
	char *url = xasprintf("%s%s%s", root, enc, suffix);

	free(enc);
	return url;
}

/*
 * Returns the URL of the page of folder dir ("" for the root); with query,
 * ready for a query argument ("...?" or "...&"). With access = public, a
 * folder whose first component is "f" or "u" cannot live below the root's
 * path (those are the file links' and the uploads'), so it is named by
 * ?dir= instead (caller frees).
 */
static char *folder_url(const struct web_req *wr, const char *dir, bool query)
{
	char *enc, *url;

	if (wr->w->cfg->web.access == WEB_PUBLIC && strcspn(dir, "/") == 1 &&
	    (dir[0] == 'f' || dir[0] == 'u')) {
		enc = text_pct_encode(dir, strlen(dir), text_url_unreserved);
		url = xasprintf("%s?dir=%s%s", wr->root, enc, query ? "&" : "");
		free(enc);
		return url;
	}
	if (*dir == '\0')
		return xasprintf("%s%s", wr->root, query ? "?" : "");
	return url_of(wr->root, dir, query ? "/?" : "/");
}

/* Returns the last component of a path. */
static const char *last_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Returns s sanitised as in chat (caller frees). */
static char *clean(const char *s)
{
	return text_sanitize(s, strlen(s));
}

/* Writes t as "YYYY-MM-DD HH:MM" (UTC) into date and as RFC 3339 into
 * iso (each at least 32 bytes). */
static void format_time(int64_t t, char *date, char *iso)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	strftime(date, 32, "%Y-%m-%d %H:%M", &tm);
	strftime(iso, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Returns f's modification time in unix seconds (rounded down). */
static int64_t mtime_s(const struct cat_file *f)
{
	int64_t s = f->mtime_ns / 1000000000;

	return f->mtime_ns < 0 && f->mtime_ns % 1000000000 != 0 ? s - 1 : s;
}

/* Returns true if a media type from the catalogue is safe to show as
 * one. */
static bool media_type_ok(const char *t)
{
	if (t == NULL || *t == '\0' || strchr(t, '/') == NULL)
		return false;
	for (; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f ||
		    *t == '"' || *t == '<' || *t == '>')
			return false;
	return true;
}

/* Queues the response resp with status and the headers every web response
 * carries; csp is its Content-Security-Policy. */
static enum MHD_Result queue(struct web_req *wr, unsigned status,
                             struct MHD_Response *resp, const char *type,
                             const char *csp, const char *cache)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Cache-Control", cache);
	*wr->status = status;
	ret = MHD_queue_response(wr->c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Answers with the bytes of b (taken), of media type type. */
static enum MHD_Result reply_buf(struct web_req *wr, unsigned status,
                                 struct web_buf *b, const char *type,
                                 const char *csp)
{
	struct MHD_Response *resp;

	if (b->s == NULL)
		web_buf_add(b, "");
	*wr->body = b->len;
	resp = MHD_create_response_from_buffer(b->len, b->s,
	                                       MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
		web_buf_free(b);
	memset(b, 0, sizeof(*b));
	return queue(wr, status, resp, type, csp, "no-store");
}

/* Answers with a short text (a constant). */
static enum MHD_Result reply_text(struct web_req *wr, unsigned status,
                                  const char *text)
{
	struct MHD_Response *resp;

	*wr->body = strlen(text);
	resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
	                                       MHD_RESPMEM_PERSISTENT);
	return queue(wr, status, resp, "text/plain; charset=utf-8",
	             WEB_CSP_DATA, "no-store");
}

/* Appends a link (rel, text) to query URL href to out. */
static void add_link(struct web *w, struct web_buf *out, const char *href,
                     const char *rel, const char *text)
{
	const struct web_var v[] = {
	    {"href", href}, {"rel", rel}, {"text", text}};

	render(w, T_LINK, out, v, 3);
}

/* Appends the pager of a page: previous and next links (to base, which
 * ends in '?' or '&', followed by page=N), "page N of pages". */
static void add_pager(struct web *w, struct web_buf *out, const char *base,
                      uint64_t page, const char *pages, bool more)
{
	struct web_buf prev = {0}, next = {0};
	char pagebuf[24], *href;

	if (page > 1) {
		href = xasprintf("%spage=%" PRIu64, base, page - 1);
		add_link(w, &prev, href, "prev", "← previous");
		free(href);
	}
	if (more) {
		href = xasprintf("%spage=%" PRIu64, base, page + 1);
		add_link(w, &next, href, "next", "next →");
		free(href);
	}
	snprintf(pagebuf, sizeof(pagebuf), "%" PRIu64, page);
	const struct web_var v[] = {{"prev", prev.s},
	                            {"next", next.s},
	                            {"page", pagebuf},
	                            {"pages", pages}};

	render(w, T_PAGER, out, v, 4);
	web_buf_free(&prev);
	web_buf_free(&next);
}

/* Appends the row of file f to out; with full, its name is its whole path
 * (search results). */
static void add_file_row(struct web_req *wr, struct web_buf *out,
                         const struct cat_file *f, bool full)
{
	char *name = clean(full ? f->path : last_name(f->path));
	char size[TEXT_SIZE_LEN], date[32], iso[32], id[24], hex[65];
	char *href = NULL, *cause = NULL;

	text_human_size(f->size, size);
	format_time(mtime_s(f), date, iso);
	snprintf(id, sizeof(id), "%" PRId64, f->id);
	if (f->hashed) {
		text_hex(f->sha256, 32, hex);
		href = http_url_for(wr->w->cfg, wr->w->key, f, wr->now, &cause);
		if (href == NULL) {
			log_warnx("web: no link for #%" PRId64 ": %s", f->id,
			          cause);
			free(cause);
		}
	}
	if (href != NULL) {
		char sha12[13];
		const struct web_var v[] = {{"href", href},  {"name", name},
		                            {"id", id},      {"size", size},
		                            {"date", date},  {"iso", iso},
		                            {"sha256", hex}, {"sha12", sha12}};

		memcpy(sha12, hex, 12);
		sha12[12] = '\0';
		render(wr->w, T_ROW_FILE, out, v, 8);
	} else {
		const struct web_var v[] = {{"name", name},
		                            {"id", id},
		                            {"size", size},
		                            {"date", date},
		                            {"iso", iso}};

		render(wr->w, T_ROW_PENDING, out, v, 5);
	}
	free(href);
	free(name);
}

/* Appends the breadcrumbs of folder dir ("" for the root) to out: one
 * link per component, to the folder it ends. */
static void add_crumbs(struct web_req *wr, struct web_buf *out, const char *dir)
{
	const char *p = dir, *slash;

	while (*p) {
		slash = strchr(p, '/');
		if (slash == NULL)
			slash = p + strlen(p);
		char *prefix = xstrndup(dir, (size_t)(slash - dir));
		char *name = xstrndup(p, (size_t)(slash - p));
		char *shown = clean(name);
		char *href = folder_url(wr, prefix, false);
		const struct web_var v[] = {{"href", href}, {"name", shown}};

		render(wr->w, T_CRUMB, out, v, 2);
		free(href);
		free(shown);
		free(prefix);
		free(name);
		p = *slash ? slash + 1 : slash;
	}
}

/* Renders the whole page around rows and pager and answers with it. */
static enum MHD_Result reply_page(struct web_req *wr, unsigned status,
                                  const char *heading, const char *summary,
                                  const char *dir, const char *query,
                                  struct web_buf *rows, struct web_buf *pager)
{
	struct web_buf crumbs = {0}, page = {0};

	add_crumbs(wr, &crumbs, dir);
	const struct web_var v[] = {
	    {"title", wr->w->title}, {"root", wr->root},  {"heading", heading},
	    {"summary", summary},    {"query", query},    {"crumbs", crumbs.s},
	    {"rows", rows->s},       {"pager", pager->s},
	};

	render(wr->w, T_PAGE, &page, v, sizeof(v) / sizeof(v[0]));
	web_buf_free(&crumbs);
	return reply_buf(wr, status, &page, "text/html; charset=utf-8",
	                 WEB_CSP_PAGE);
}

/* Parses ?page=N (1 if absent) into *page. Returns -1 if it is not a
 * number from 1 to 10^9. */
static int page_arg(struct MHD_Connection *c, uint64_t *page)
{
	const char *v =
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "page");
	char *end;
	unsigned long long n;

	*page = 1;
	if (v == NULL)
		return 0;
	if (*v < '1' || *v > '9')
		return -1;
	n = strtoull(v, &end, 10);
	if (*end != '\0' || n > 1000000000ULL)
		return -1;
	*page = n;
	return 0;
}

/* Answers the page of folder dir ("" for the root). */
static enum MHD_Result folder_page(struct web_req *wr, const char *dir)
{
	struct web_buf rows = {0}, pager = {0};
	struct cat_page pg = {0};
	uint64_t page, pages;
	char *heading, *summary, *shown, pagesbuf[24];
	enum MHD_Result ret;
	int rc;

	if (page_arg(wr->c, &page) == -1)
		return reply_text(wr, MHD_HTTP_BAD_REQUEST,
		                  "page must be a number from 1\n");
	rc = catalogue_list(wr->cat, dir, (page - 1) * WEB_PAGE_SIZE,
	                    WEB_PAGE_SIZE, &pg);
	if (rc == 0)
		return reply_text(wr, MHD_HTTP_NOT_FOUND, "no such folder\n");
	if (rc == -1)
		return reply_text(wr, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                  "catalogue error\n");
	for (size_t i = 0; i < pg.n; i++) {
		const struct cat_entry *e = &pg.v[i];

		if (e->is_dir) {
			char *name = clean(last_name(e->dir_path));
			char *href = folder_url(wr, e->dir_path, false);
			const struct web_var v[] = {{"href", href},
			                            {"name", name}};

			render(wr->w, T_ROW_DIR, &rows, v, 2);
			free(href);
			free(name);
		} else
			add_file_row(wr, &rows, &e->file, false);
	}
	pages = (pg.total + WEB_PAGE_SIZE - 1) / WEB_PAGE_SIZE;
	if (pages > 1) {
		char *base = folder_url(wr, dir, true);

		snprintf(pagesbuf, sizeof(pagesbuf), "%" PRIu64, pages);
		add_pager(wr->w, &pager, base, page, pagesbuf, page < pages);
		free(base);
	}
	shown = clean(dir);
	heading = xasprintf("%s/", shown);
	summary = pg.total == 1 ? xstrdup("1 entry")
	                        : xasprintf("%" PRIu64 " entries", pg.total);
	ret = reply_page(wr, MHD_HTTP_OK, heading, summary, dir, "", &rows,
	                 &pager);
	free(shown);
	free(heading);
	free(summary);
	web_buf_free(&rows);
	web_buf_free(&pager);
	cat_page_clear(&pg);
	return ret;
}

/* Answers a search for text (the chat syntax). */
static enum MHD_Result search_page(struct web_req *wr, const char *text)
{
	struct web_buf rows = {0}, pager = {0};
	struct cat_page pg = {0};
	struct query *q = NULL;
	char *cause = NULL, *heading, *summary = NULL, *enc, *base;
	char pagesbuf[32];
	unsigned status = MHD_HTTP_OK;
	uint64_t page, offset, pages;
	enum MHD_Result ret;
	bool more;

	if (page_arg(wr->c, &page) == -1)
		return reply_text(wr, MHD_HTTP_BAD_REQUEST,
		                  "page must be a number from 1\n");
	offset = (page - 1) * WEB_PAGE_SIZE;
	q = query_parse(text, &cause);
	if (q != NULL && catalogue_search(wr->cat, q, offset, WEB_PAGE_SIZE,
	                                  &pg, &cause) != 1)
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	else if (q == NULL)
		status = MHD_HTTP_BAD_REQUEST;
	if (status != MHD_HTTP_OK) {
		summary = clean(cause != NULL ? cause : "search failed");
		goto out;
	}
	for (size_t i = 0; i < pg.n; i++)
		add_file_row(wr, &rows, &pg.v[i].file, true);
	more = offset + pg.n < pg.total ||
	       (pg.total_capped && pg.n == WEB_PAGE_SIZE);
	pages = (pg.total + WEB_PAGE_SIZE - 1) / WEB_PAGE_SIZE;
	if (pages < page)
		pages = page;
	if (pages > 1 || more) {
		snprintf(pagesbuf, sizeof(pagesbuf), "%" PRIu64 "%s", pages,
		         pg.total_capped ? "+" : "");
		enc = text_pct_encode(text, strlen(text), text_url_unreserved);
		base = xasprintf("%s?q=%s&", wr->root, enc);
		add_pager(wr->w, &pager, base, page, pagesbuf, more);
		free(base);
		free(enc);
	}
	if (pg.total == 0)
		summary = xstrdup("no match");
	else
		summary = xasprintf("%" PRIu64 "%s result%s", pg.total,
		                    pg.total_capped ? "+" : "",
		                    pg.total == 1 ? "" : "s");
	if (pg.regex_limited) {
		char *s = xasprintf("%s (a pattern was too costly on some "
		                    "paths, which were skipped)",
		                    summary);

		free(summary);
		summary = s;
	}
out : {
	char *shown = clean(text);

	heading = xasprintf("search: %s", shown);
	ret =
	    reply_page(wr, status, heading, summary, "", shown, &rows, &pager);
	free(shown);
}
	free(heading);
	free(summary);
	free(cause);
	query_free(q);
	web_buf_free(&rows);
	web_buf_free(&pager);
	cat_page_clear(&pg);
	return ret;
}

/* Appends the feed entry of f (hashed) to out. Returns false if it has
 * no link (logged). */
static bool add_entry(struct web_req *wr, struct web_buf *out,
                      const struct cat_file *f)
{
	const struct config *cfg = wr->w->cfg;
	char hex[65], date[32], iso[32], size[TEXT_SIZE_LEN], length[24];
	char *cause = NULL, *href, *eid, *name, *path;

	href = http_url_for(cfg, wr->w->key, f, wr->now, &cause);
	if (href == NULL) {
		log_warnx("web: no link for #%" PRId64 ": %s", f->id, cause);
		free(cause);
		return false;
	}
	name = clean(last_name(f->path));
	path = clean(f->path);
	text_hex(f->sha256, 32, hex);
	eid = xasprintf("%s/feed.atom#%" PRId64 "-%.16s", cfg->http.base_url,
	                f->id, hex);
	format_time(f->added, date, iso);
	snprintf(length, sizeof(length), "%" PRIu64, f->size);
	text_human_size(f->size, size);
	const struct web_var v[] = {
	    {"id", eid},
	    {"name", name},
	    {"updated", iso},
	    {"href", href},
	    {"length", length},
	    {"type", media_type_ok(f->media_type) ? f->media_type
	                                          : "application/octet-stream"},
	    {"path", path},
	    {"size", size},
	    {"sha256", hex},
	};

	render(wr->w, T_ENTRY, out, v, sizeof(v) / sizeof(v[0]));
	free(eid);
	free(href);
	free(name);
	free(path);
	return true;
}

/* Answers feed.atom: the WEB_FEED_SIZE newest files (Atom 1.0, RFC 4287:
 * each entry dated when its file entered the catalogue). */
static enum MHD_Result feed(struct web_req *wr)
{
	const struct config *cfg = wr->w->cfg;
	struct web_buf entries = {0}, out = {0};
	struct cat_page pg = {0};
	char updated[32], date[32], *self, *id;
	int64_t newest = 0;
	enum MHD_Result ret;

	if (catalogue_newest(wr->cat, WEB_FEED_SIZE, &pg) != 1)
		return reply_text(wr, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                  "catalogue error\n");
	for (size_t i = 0; i < pg.n; i++)
		if (add_entry(wr, &entries, &pg.v[i].file) &&
		    pg.v[i].file.added > newest)
			newest = pg.v[i].file.added;
	format_time(newest > 0 ? newest : (int64_t)wr->now, date, updated);
	self = xasprintf("%sfeed.atom", wr->root);
	id = xasprintf("%s/feed.atom", cfg->http.base_url);
	const struct web_var v[] = {
	    {"id", id},     {"title", wr->w->title}, {"updated", updated},
	    {"self", self}, {"home", wr->root},      {"entries", entries.s},
	};

	render(wr->w, T_FEED, &out, v, sizeof(v) / sizeof(v[0]));
	ret = reply_buf(wr, MHD_HTTP_OK, &out,
	                "application/atom+xml; charset=utf-8", WEB_CSP_DATA);
	free(self);
	free(id);
	web_buf_free(&entries);
	cat_page_clear(&pg);
	return ret;
}

/* index.json being streamed. */
struct json_stream {
	struct catalogue *cat;
	int64_t after; /* the last id sent */
	struct web_buf buf;
	size_t pos; /* bytes of buf already handed out */
	bool done;
};

/* Appends the JSON line of f to b. */
static void json_line(struct web_buf *b, const struct cat_file *f)
{
	char num[96], hex[65], *s;

	snprintf(num, sizeof(num), "{\"id\":%" PRId64 ",\"path\":", f->id);
	web_buf_add(b, num);
	s = clean(f->path);
	web_buf_json(b, s);
	free(s);
	text_hex(f->sha256, 32, hex);
	snprintf(num, sizeof(num),
	         ",\"size\":%" PRIu64 ",\"mtime\":%" PRId64 ",\"sha256\":\"",
	         f->size, mtime_s(f));
	web_buf_add(b, num);
	web_buf_add(b, hex);
	web_buf_add(b, "\",\"type\":");
	if (f->media_type != NULL) {
		s = clean(f->media_type);
		web_buf_json(b, s);
		free(s);
	} else
		web_buf_add(b, "null");
	web_buf_add(b, ",\"desc\":");
	if (f->description != NULL) {
		s = clean(f->description);
		web_buf_json(b, s);
		free(s);
	} else
		web_buf_add(b, "null");
	web_buf_add(b, "}\n");
}

/* Refills the stream's buffer with the next chunk of rows. Returns 0 or
 * -1 on a database error. */
static int json_fill(struct json_stream *js)
{
	struct cat_page pg;

	js->buf.len = 0;
	js->pos = 0;
	if (catalogue_tree_after_id(js->cat, js->after, WEB_JSON_CHUNK, &pg) !=
	    1)
		return -1;
	for (size_t i = 0; i < pg.n; i++)
		json_line(&js->buf, &pg.v[i].file);
	if (pg.n > 0)
		js->after = pg.v[pg.n - 1].file.id;
	if (pg.n < WEB_JSON_CHUNK)
		js->done = true;
	cat_page_clear(&pg);
	return 0;
}

/* libmicrohttpd's reader of index.json: hands out the buffer, refilling it
 * a chunk of rows at a time. */
static ssize_t json_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct json_stream *js = cls;
	size_t n;

	(void)pos;
	while (js->pos == js->buf.len) {
		if (js->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (json_fill(js) == -1)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = js->buf.len - js->pos;
	if (n > max)
		n = max;
	memcpy(out, js->buf.s + js->pos, n);
	js->pos += n;
	return (ssize_t)n;
}

/* Frees a stream when its response is done with. */
static void json_free(void *cls)
{
	struct json_stream *js = cls;

	web_buf_free(&js->buf);
	free(js);
}

/* Answers index.json, streamed. */
static enum MHD_Result full_index(struct web_req *wr)
{
	struct json_stream *js = xcalloc(1, sizeof(*js));
	struct MHD_Response *resp;

	js->cat = wr->cat;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
	                                         json_read, js, json_free);
	if (resp == NULL) {
		json_free(js);
		return MHD_NO;
	}
	return queue(wr, MHD_HTTP_OK, resp, "application/x-ndjson",
	             WEB_CSP_DATA, "no-store");
}

/* Answers the stylesheet. */
static enum MHD_Result stylesheet(struct web_req *wr)
{
	struct web *w = wr->w;
	struct MHD_Response *resp;

	*wr->body = w->tpl_len[T_STYLE];
	resp = MHD_create_response_from_buffer(w->tpl_len[T_STYLE],
	                                       (void *)w->tpl[T_STYLE],
	                                       MHD_RESPMEM_PERSISTENT);
	return queue(wr, MHD_HTTP_OK, resp, "text/css; charset=utf-8",
	             WEB_CSP_DATA, "max-age=3600");
}

/* Answers what lies below the root: rest is the path after it. */
static enum MHD_Result below_root(struct web_req *wr, const char *rest)
{
	const char *q, *d;
	size_t len = strlen(rest);
	enum MHD_Result ret;
	char *dir;

	if (strcmp(rest, "style.css") == 0)
		return stylesheet(wr);
	if (wr->cat == NULL)
		return reply_text(wr, MHD_HTTP_SERVICE_UNAVAILABLE,
		                  "the catalogue is unavailable\n");
	if (strcmp(rest, "feed.atom") == 0)
		return feed(wr);
	if (strcmp(rest, "index.json") == 0)
		return full_index(wr);
	if (len > 0 && rest[len - 1] != '/')
		return reply_text(wr, MHD_HTTP_NOT_FOUND, "not found\n");
	q = MHD_lookup_connection_value(wr->c, MHD_GET_ARGUMENT_KIND, "q");
	if (q != NULL && *q != '\0')
		return search_page(wr, q);
	/* ?dir=PATH: a folder named in the query (folder_url). */
	d = MHD_lookup_connection_value(wr->c, MHD_GET_ARGUMENT_KIND, "dir");
	if (len == 0 && d != NULL) {
		if (*d == '\0' || *d == '/' || d[strlen(d) - 1] == '/' ||
		    strstr(d, "//") != NULL)
			return reply_text(wr, MHD_HTTP_NOT_FOUND,
			                  "no such folder\n");
		return folder_page(wr, d);
	}
	dir = xstrndup(rest, len > 0 ? len - 1 : 0);
	if (len > 0 && (dir[0] == '\0' || strstr(rest, "//") != NULL)) {
		free(dir);
		return reply_text(wr, MHD_HTTP_NOT_FOUND, "no such folder\n");
	}
	ret = folder_page(wr, dir);
	free(dir);
	return ret;
}

/* Answers a redirect to location. */
static enum MHD_Result redirect(struct web_req *wr, const char *location)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(0, (void *)"",
	                                       MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Location", location);
	return queue(wr, MHD_HTTP_MOVED_PERMANENTLY, resp,
	             "text/plain; charset=utf-8", WEB_CSP_DATA, "no-store");
}

enum MHD_Result web_serve(struct web *w, struct MHD_Connection *c,
                          struct catalogue *cat, const char *url,
                          const char *method, unsigned *status, uint64_t *body)
{
	struct web_req wr = {w, c, cat, NULL, status, body, time(NULL)};
	const char *base = w->cfg->http.base_url, *tok, *slash;
	enum MHD_Result ret;
	size_t len;

	*body = 0;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(
		    18, (void *)"only GET and HEAD\n", MHD_RESPMEM_PERSISTENT);

		if (resp != NULL)
			MHD_add_response_header(resp, "Allow", "GET, HEAD");
		*body = 18;
		return queue(&wr, MHD_HTTP_METHOD_NOT_ALLOWED, resp,
		             "text/plain; charset=utf-8", WEB_CSP_DATA,
		             "no-store");
	}
	if (w->cfg->web.access == WEB_PUBLIC) {
		if (url[0] != '/')
			return reply_text(&wr, MHD_HTTP_NOT_FOUND,
			                  "not found\n");
		wr.root = xasprintf("%s/", base);
		ret = below_root(&wr, url + 1);
		free(wr.root);
		return ret;
	}
	if (strncmp(url, "/w/", 3) != 0)
		return reply_text(&wr, MHD_HTTP_NOT_FOUND, "not found\n");
	tok = url + 3;
	slash = strchr(tok, '/');
	len = slash ? (size_t)(slash - tok) : strlen(tok);
	switch (web_token_check(w->key, tok, len, wr.now)) {
	case WEB_TOKEN_OK:
		break;
	case WEB_TOKEN_BAD:
		return reply_text(&wr, MHD_HTTP_FORBIDDEN,
		                  "this link is not valid\n");
	case WEB_TOKEN_EXPIRED:
		return reply_text(&wr, MHD_HTTP_GONE,
		                  "this link has expired: ask the bot for a "
		                  "new one (web)\n");
	}
	wr.root = xasprintf("%s/w/%.*s/", base, (int)len, tok);
	if (slash == NULL)
		ret = redirect(&wr, wr.root);
	else
		ret = below_root(&wr, slash + 1);
	free(wr.root);
	return ret;
}

char *web_url_for(const struct config *cfg, const struct token_key *key,
                  const char *requester, time_t now, char **cause)
{
	char tok[WEB_TOKEN_LEN + 1];

	if (!cfg->web.enabled) {
		*cause = xstrdup("the web index is disabled");
		return NULL;
	}
	if (cfg->web.access == WEB_PUBLIC)
		return xasprintf("%s/", cfg->http.base_url);
	if (web_token_make(key, requester, now,
	                   (cfg->web.link_lifetime_ms + 999) / 1000,
	                   tok) == -1) {
		*cause = xstrdup("[web] link_lifetime is too long");
		return NULL;
	}
	return xasprintf("%s/w/%s/", cfg->http.base_url, tok);
}
