/*
 * Searching the catalogue: one SQL statement built from a parsed query.
 *
 * Design note. Literal text of at least three characters (substring terms,
 * and the literal runs of globs, which must occur in the path too) goes to
 * the FTS5 trigram index, which then drives the query in descending rowid
 * order, so the first page costs a few index reads however many files
 * match. Shorter terms use instr() on the folded path; globs and regexes
 * call query_match_term() through fisbot_match() with the compiled term
 * bound as a pointer; filters are plain comparisons. Results are ordered by
 * id, newest first: ids grow with the date added. Counting is capped at
 * CATALOGUE_COUNT_CAP matches (see catalogue.h), and a progress handler
 * ends any search that runs longer than CATALOGUE_SEARCH_MS.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "catalogue.h"
#include "catalogue_int.h"
#include "query.h"
#include "text.h"

#define FILE_COLUMNS                                                           \
	"f.id, f.path, f.size, f.mtime_ns, f.dev, f.ino, f.sha256, "           \
	"f.media_type, f.description, f.added, f.downloads, "                  \
	"f.bytes_served, f.uploader"

/* A growing string. */
struct buf {
	char *s;
	size_t len, cap;
};

/* Appends n bytes at s to b. */
static void buf_addn(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xreallocarray(b->s, b->cap, 1);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Appends the string s to b. */
static void buf_add(struct buf *b, const char *s)
{
	buf_addn(b, s, strlen(s));
}

/* A value to bind, in the order of the '?' in the SQL. */
struct bind {
	enum { B_TEXT, B_INT, B_TERM } kind;
	const char *text;
	int64_t i;
	const struct query_term *term;
};

/* The SQL of one search, and its bindings. */
struct search_sql {
	struct buf from_where; /* " FROM ... WHERE ..." */
	struct buf match;      /* the FTS5 MATCH expression, if any */
	struct bind binds[2 * QUERY_MAX_TERMS + 8];
	size_t n_binds;
	char *owned[QUERY_MAX_TERMS * 4]; /* strings the binds point to */
	size_t n_owned;
};

/* Returns the number of UTF-8 characters in the n bytes at s. */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t chars = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			chars++;
	return chars;
}

/* Adds the literal s (n bytes, folded) to the MATCH expression as an FTS5
 * string, if it is long enough for the trigram index. Returns true if it
 * was added. */
static bool add_match(struct search_sql *q, const char *s, size_t n)
{
	if (utf8_chars(s, n) < 3)
		return false;
	if (q->match.len > 0)
		buf_add(&q->match, " AND ");
	buf_add(&q->match, "\"");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			buf_add(&q->match, "\"\"");
		else
			buf_addn(&q->match, s + i, 1);
	}
	buf_add(&q->match, "\"");
	return true;
}

/* Adds the literal runs of a (folded) glob to the MATCH expression: text
 * between wildcards and sets, if it is shown as it is in a folded path
 * (valid UTF-8, no backslash or control character). */
static void add_glob_literals(struct search_sql *q, const char *glob)
{
	size_t len = strlen(glob), i = 0;
	char *run = xmalloc(len + 1);
	size_t n = 0;

	for (;;) {
		char ch = i < len ? glob[i] : '\0';
		bool breaks = ch == '\0' || ch == '*' || ch == '?' ||
		              ch == '[' || ch == '\\';

		if (!breaks) {
			run[n++] = ch;
			i++;
			continue;
		}
		if (n > 0 && text_is_clean(run, n))
			add_match(q, run, n);
		n = 0;
		if (ch == '\0')
			break;
		if (ch == '[') {
			/* Skip the set, up to its ']' (a ']' first in the
			 * set is part of it). */
			size_t j = i + 1;

			if (j < len && (glob[j] == '!' || glob[j] == '^'))
				j++;
			if (j < len && glob[j] == ']')
				j++;
			while (j < len && glob[j] != ']')
				j++;
			i = j < len ? j + 1 : i + 1;
		} else {
			i++; /* and an escaped character starts a new run */
		}
	}
	free(run);
}

/* Appends a condition to the WHERE clause. */
static void add_where(struct search_sql *q, const char *cond)
{
	buf_add(&q->from_where, " AND ");
	buf_add(&q->from_where, cond);
}

/* Records a value for the next '?'. */
static struct bind *add_bind(struct search_sql *q)
{
	struct bind *b = &q->binds[q->n_binds++];

	memset(b, 0, sizeof(*b));
	return b;
}

/* Builds the FROM and WHERE clauses of q (and their bindings). */
static void build(struct search_sql *s, const struct query *q)
{
	struct buf where = {0};

	for (size_t i = 0; i < q->n_terms; i++) {
		const struct query_term *t = &q->terms[i];

		if (t->kind == QUERY_SUBSTRING &&
		    add_match(s, t->text, strlen(t->text)))
			continue;
		if (t->kind == QUERY_GLOB)
			add_glob_literals(s, t->text);
		if (t->kind == QUERY_SUBSTRING) {
			buf_add(&where, " AND instr(f.lpath, ?) > 0");
		} else {
			buf_add(&where, " AND fisbot_match(?, f.lpath)");
		}
	}

	/* The MATCH expression is the first binding when there is one. */
	if (s->match.len > 0) {
		buf_add(&s->from_where,
		        " FROM files_fts CROSS JOIN files f"
		        " ON f.id = files_fts.rowid"
		        " WHERE files_fts MATCH ? AND f.sha256 IS NOT NULL");
		add_bind(s)->text = s->match.s;
	} else {
		buf_add(&s->from_where,
		        " FROM files f WHERE f.sha256 IS NOT NULL");
	}
	if (where.len > 0)
		buf_add(&s->from_where, where.s);
	free(where.s);
	for (size_t i = 0; i < q->n_terms; i++) {
		const struct query_term *t = &q->terms[i];

		if (t->kind == QUERY_SUBSTRING) {
			if (utf8_chars(t->text, strlen(t->text)) >= 3)
				continue;
			add_bind(s)->text = t->text;
		} else {
			struct bind *b = add_bind(s);

			b->kind = B_TERM;
			b->term = t;
		}
	}

	if (q->min_size > 0) {
		add_where(s, "f.size >= ?");
		add_bind(s)->kind = B_INT;
		s->binds[s->n_binds - 1].i =
		    q->min_size > INT64_MAX ? INT64_MAX : (int64_t)q->min_size;
	}
	if (q->max_size < UINT64_MAX) {
		add_where(s, "f.size <= ?");
		add_bind(s)->kind = B_INT;
		s->binds[s->n_binds - 1].i =
		    q->max_size > INT64_MAX ? INT64_MAX : (int64_t)q->max_size;
	}
	if (q->type != NULL && strchr(q->type, '/') != NULL) {
		add_where(s, "f.media_type = ?");
		add_bind(s)->text = q->type;
	} else if (q->type != NULL) {
		/* A major type: the range ["audio/", "audio0"). */
		char *lo = xasprintf("%s/", q->type);
		char *hi = xasprintf("%s0", q->type);

		add_where(s, "f.media_type >= ? AND f.media_type < ?");
		add_bind(s)->text = lo;
		add_bind(s)->text = hi;
		s->owned[s->n_owned++] = lo;
		s->owned[s->n_owned++] = hi;
	}
	if (q->new_within_ms > 0) {
		int64_t now = (int64_t)time(NULL);
		int64_t back = (int64_t)(q->new_within_ms / 1000);

		add_where(s, "f.added >= ?");
		add_bind(s)->kind = B_INT;
		s->binds[s->n_binds - 1].i =
		    q->new_within_ms / 1000 > (uint64_t)now ? 0 : now - back;
	}
	if (q->desc != NULL) {
		add_where(s, "instr(fisbot_fold(f.description), ?) > 0");
		add_bind(s)->text = q->desc;
	}
}

/* Frees what build() allocated. */
static void search_sql_free(struct search_sql *s)
{
	free(s->from_where.s);
	free(s->match.s);
	for (size_t i = 0; i < s->n_owned; i++)
		free(s->owned[i]);
}

/* Prepares sql and binds s's values, then *extra integer values. */
static sqlite3_stmt *prepare(struct catalogue *c, const char *sql,
                             const struct search_sql *s, const int64_t *extra,
                             int n_extra)
{
	sqlite3_stmt *st;
	int i = 1;

	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		cat_log_error(c, "preparing a search");
		return NULL;
	}
	for (size_t k = 0; k < s->n_binds; k++, i++) {
		const struct bind *b = &s->binds[k];

		if (b->kind == B_TEXT)
			sqlite3_bind_text(st, i, b->text, -1, SQLITE_STATIC);
		else if (b->kind == B_INT)
			sqlite3_bind_int64(st, i, b->i);
		else
			sqlite3_bind_pointer(st, i, (void *)b->term,
			                     "fisbot_term", NULL);
	}
	for (int k = 0; k < n_extra; k++, i++)
		sqlite3_bind_int64(st, i, extra[k]);
	return st;
}

/* The progress handler: interrupts a search past its deadline. */
static int search_progress(void *arg)
{
	struct catalogue *c = arg;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > c->deadline.tv_sec ||
	    (now.tv_sec == c->deadline.tv_sec &&
	     now.tv_nsec >= c->deadline.tv_nsec)) {
		c->timed_out = true;
		return 1;
	}
	return 0;
}

/* Sets *cause for a failed step (rc) of a search. */
static void step_failed(struct catalogue *c, int rc, char **cause)
{
	if (c->timed_out) {
		*cause = xasprintf("search took too long (more than %d s): "
		                   "try more precise terms",
		                   CATALOGUE_SEARCH_MS / 1000);
		return;
	}
	cat_log_error(c, "searching");
	*cause = xstrdup("search failed (database error)");
}

int catalogue_search(struct catalogue *c, const struct query *q,
                     uint64_t offset, unsigned limit, struct cat_page *out,
                     char **cause)
{
	struct search_sql s = {0};
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	int64_t extra[2];
	int rc, ret = -1;

	memset(out, 0, sizeof(*out));
	build(&s, q);
	clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	c->deadline.tv_sec += CATALOGUE_SEARCH_MS / 1000;
	c->deadline.tv_nsec += (CATALOGUE_SEARCH_MS % 1000) * 1000000L;
	if (c->deadline.tv_nsec >= 1000000000L) {
		c->deadline.tv_sec++;
		c->deadline.tv_nsec -= 1000000000L;
	}
	c->timed_out = false;
	sqlite3_progress_handler(c->db, 1000, search_progress, c);

	/* The page. */
	sql = xasprintf("SELECT " FILE_COLUMNS "%s ORDER BY %s DESC"
	                " LIMIT ? OFFSET ?",
	                s.from_where.s,
	                s.match.len > 0 ? "files_fts.rowid" : "f.id");
	extra[0] = limit;
	extra[1] = offset > INT64_MAX ? INT64_MAX : (int64_t)offset;
	st = prepare(c, sql, &s, extra, 2);
	if (st == NULL) {
		*cause = xstrdup("search failed (database error)");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cat_read_file(st, &cat_page_add(out)->file);
	if (rc != SQLITE_DONE) {
		step_failed(c, rc, cause);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	free(sql);
	sql = NULL;

	/* The count, unless the page already shows where the matches end. */
	if (out->n < limit && (offset == 0 || out->n > 0)) {
		out->total = offset + out->n;
	} else {
		sql = xasprintf("SELECT count(*) FROM (SELECT 1%s LIMIT ?)",
		                s.from_where.s);
		extra[0] = CATALOGUE_COUNT_CAP + 1;
		st = prepare(c, sql, &s, extra, 1);
		if (st == NULL) {
			*cause = xstrdup("search failed (database error)");
			goto out;
		}
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			step_failed(c, rc, cause);
			goto out;
		}
		out->total = (uint64_t)sqlite3_column_int64(st, 0);
		if (out->total > CATALOGUE_COUNT_CAP) {
			out->total = CATALOGUE_COUNT_CAP;
			out->total_capped = true;
		}
		if (out->total < offset + out->n) {
			/* Paging past the cap: at least what was seen. */
			out->total = offset + out->n;
			out->total_capped = out->n == limit;
		}
	}
	ret = 1;
out:
	sqlite3_progress_handler(c->db, 0, NULL, NULL);
	sqlite3_finalize(st);
	free(sql);
	search_sql_free(&s);
	if (ret == -1)
		cat_page_clear(out);
	return ret;
}
