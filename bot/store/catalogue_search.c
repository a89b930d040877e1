/*
 * Searching the catalogue: SQL statements built from a parsed query.
 *
 * Design note. Results come newest first, by id (ids grow with the date
 * added), so the first page is cheap whenever the rows are read in id
 * order and matches are not rare. A glob that begins with two characters
 * or more that no name at the root begins with is searched with "/" and
 * them as one more literal (leads_apply()): rare where the word alone is
 * common, and long enough for the trigram index. The plan (choose()):
 *  - a size range or media type that holds at most CATALOGUE_COUNT_CAP
 *    rows (found by a capped count on its index) drives the search through
 *    its index; those few rows are sorted;
 *  - otherwise literal text of at least three characters (substring terms,
 *    which match the path or the description; what a glob or regex needs,
 *    query_term.must, in the path; a desc: filter, in the description)
 *    goes to the FTS5 trigram index, which yields rows in descending id
 *    order (choose_fts()). FTS5 reads a phrase through every one of its
 *    trigrams' doclists, and several phrases through all of theirs, so:
 *    with several literals, the longest is counted first, and if it is in
 *    at most RARE_DRIVE rows those rows alone are read (their ids bound in
 *    the statement, DRIVE_IDS) and the others tested on them (a rare word
 *    in a glob, two rare words). With a size range or media type that is
 *    not dense among the newest rows, and literals that are not rare
 *    (estimated by their rarest trigram in the newest rows): a filter of at
 *    most FILTER_DRIVE rows has its ids read from its index and those rows
 *    tested (DRIVE_IDS); a larger one, when the count would read the table
 *    for many rows of the trigram index that fail the filter, is read into
 *    a set of ids (a bitmap, fisbot_in()) and the trigram index is read
 *    for the rarest trigram alone, the set tested before the table is read
 *    and every literal after;
 *  - otherwise a desc: filter reads the described files through their
 *    index, if they are few;
 *  - otherwise a two-character word that the newest rows show rare reads
 *    the rows that hold that pair: the trigrams that start with it (a
 *    range of the index's vocabulary, files_fts_terms) and the strings
 *    that end with it (the indexes of the last two characters of lpath
 *    and ldesc), in descending id order;
 *  - otherwise the table is read in descending id order.
 * Substring terms shorter than three characters use instr() on the folded
 * path and description; globs and regexes call query_match() through
 * fisbot_match() (cat_sql_match) with the compiled term bound as a pointer;
 * filters not driving the plan are written "+column" so SQLite does not read
 * through their index. The count is capped at CATALOGUE_COUNT_CAP + 1 rows and
 * is skipped when the page shows where the matches end, or taken with the
 * page (a window over every row) by plans that read every row they may
 * match. A plan through the trigram index whose count reads the same
 * reads its matches oldest first up to the cap (fts_oldest_first()): if
 * there are no more, they are the page and the count; other plans whose
 * count reads what the page reads read on past the page to the cap and
 * count what they stepped. Otherwise the count is a statement of its own;
 * without literals it reads the size or type index, where every row passes
 * that filter, or the filter's ids if it has few (DRIVE_IDS). A
 * progress handler, and fisbot_match after each match, end any search
 * running longer than CATALOGUE_SEARCH_MS. A path on which a glob or regex
 * hit a PCRE2 limit does not match, and the page says so (regex_limited).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "catalogue_int.h"
#include "fisbot/alloc.h"
#include "fisbot/catalogue.h"
#include "fisbot/query.h"
#include "fisbot/text.h"

/* The newest rows a two-character word is looked for in, and the matches
 * among them that make it common enough to be searched by a scan. */
#define PAIR_PROBE_ROWS 4096
#define PAIR_DENSE      32
/* A desc: filter without literals for the trigram index reads the
 * described files through their index if there are at most this many. */
#define DESCRIBED_FEW 20000
/* The literals of a query with several are counted up to RARE_DRIVE + 1
 * rows each, the longest first (RARE_TRIES of them at most), until one is
 * in at most RARE_DRIVE rows: the search then reads that one's rows
 * (DRIVE_IDS) and tests the others on them (the others' doclists may be
 * long, and FTS5 reads them through). */
#define RARE_DRIVE 600
#define RARE_TRIES 1
/* A size range or media type with literals: a filter of at most
 * FILTER_DRIVE rows drives the search when the literals are in more rows;
 * one of at most FILTER_SET rows, where the newest FILTER_PROBE rows show
 * it is not dense, is read into a set of ids that the rows of the trigram
 * index are tested against before the table is read. */
#define FILTER_DRIVE 2000
#define FILTER_SET   65536
#define FILTER_PROBE 1024
/* Reading an id from an index costs about a sixth of what reading a row of
 * the table in id order for the filter's test does. */
#define SET_WORTH 6
/* The greatest id such a set holds (its bitmap: 8 MiB). */
#define SET_MAX_ID ((int64_t)1 << 26)
/* With such a set, the trigram index is read for the rarest trigram of the
 * literals (among the first TRIGRAM_TRIES, counted in the newest
 * TRIGRAM_SAMPLE rows) instead of the literals. */
#define TRIGRAM_TRIES  6
#define TRIGRAM_SAMPLE 16384

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

/* The ids of the rows in a size range or media type: a bitmap of
 * [0, max]. */
struct id_set {
	uint8_t *bits;
	int64_t max;
};

/* A value to bind, in the order of the '?' in the SQL. */
struct bind {
	enum { B_TEXT, B_INT, B_TERM, B_SET } kind;
	const char *text;
	int64_t i;
	const struct query_term *term;
	const struct id_set *set;
};

/* How a search reads the files: by the trigram index, in id order, or
 * through the index of a rare size range or media type. */
enum driver {
	DRIVE_SCAN,
	DRIVE_FTS,
	DRIVE_SIZE,
	DRIVE_TYPE,
	DRIVE_PAIR,
	DRIVE_DESC,
	DRIVE_IDS
};

/* The SQL of one search, and its bindings. */
struct search_sql {
	struct buf from_where; /* " FROM ... WHERE ..." */
	struct buf match;      /* the FTS5 MATCH expression, if any */
	struct bind *binds;
	size_t n_binds;
	char *owned[2]; /* strings the binds point to */
	size_t n_owned;
};

/* How one search reads the files. */
struct plan {
	enum driver page, count; /* for the page, for its count */
	char *pair_match;        /* DRIVE_PAIR: see build() */
	long rare;               /* the literal ids are of (-1: a filter's) */
	int64_t *ids;            /* DRIVE_IDS: the rows read, newest first */
	size_t n_ids;
	struct id_set *set; /* DRIVE_FTS: the filter's rows, or NULL */
	char *trigram;      /* DRIVE_FTS: the only one looked up, or NULL */
	const char *trigram_col; /* its literal's column */
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

/* Appends the n bytes at s to b as an FTS5 string. */
static void add_phrase(struct buf *b, const char *s, size_t n)
{
	buf_add(b, "\"");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			buf_add(b, "\"\"");
		else
			buf_addn(b, s + i, 1);
	}
	buf_add(b, "\"");
}

/* Adds the literal s (n bytes, folded) to the MATCH expression as an FTS5
 * string, limited to the column col (NULL: the path or the description),
 * if it is long enough for the trigram index. Returns true if it was
 * added. */
static bool add_match(struct search_sql *q, const char *col, const char *s,
                      size_t n)
{
	if (utf8_chars(s, n) < 3)
		return false;
	if (q->match.len > 0)
		buf_add(&q->match, " AND ");
	if (col != NULL) {
		buf_add(&q->match, col);
		buf_add(&q->match, " : ");
	}
	add_phrase(&q->match, s, n);
	return true;
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
	struct bind *b;

	q->binds = xreallocarray(q->binds, q->n_binds + 1, sizeof(*q->binds));
	b = &q->binds[q->n_binds++];
	memset(b, 0, sizeof(*b));
	return b;
}

/* Records a text value for the next '?'. */
static void bind_text(struct search_sql *s, const char *v)
{
	add_bind(s)->text = v;
}

/* Records an integer value for the next '?'. */
static void bind_int(struct search_sql *s, int64_t v)
{
	struct bind *b = add_bind(s);

	b->kind = B_INT;
	b->i = v;
}

/* Adds a condition with one text value. */
static void where_text(struct search_sql *s, const char *cond, const char *v)
{
	add_where(s, cond);
	bind_text(s, v);
}

/* Adds a condition with one integer value. */
static void where_int(struct search_sql *s, const char *cond, int64_t v)
{
	add_where(s, cond);
	bind_int(s, v);
}

/* Clamps a size to SQLite's integers. */
static int64_t size_value(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* The two ends of a major type's range ("audio/", "audio0"), owned by s. */
static void type_range(struct search_sql *s, const char *type, const char **lo,
                       const char **hi)
{
	char *l = xasprintf("%s/", type), *h = xasprintf("%s0", type);

	s->owned[s->n_owned++] = l;
	s->owned[s->n_owned++] = h;
	*lo = l;
	*hi = h;
}

/* Returns the first substring term of q of two characters, else a desc:
 * filter of two characters (*in_desc: to be found in the description
 * only), else NULL. */
static const char *pair_term(const struct query *q, bool *in_desc)
{
	*in_desc = false;
	for (size_t i = 0; i < q->n_terms; i++) {
		const struct query_term *t = &q->terms[i];

		if (t->kind == QUERY_SUBSTRING &&
		    utf8_chars(t->text, strlen(t->text)) == 2)
			return t->text;
	}
	if (q->desc != NULL && utf8_chars(q->desc, strlen(q->desc)) == 2) {
		*in_desc = true;
		return q->desc;
	}
	return NULL;
}

/* A literal of a query for the trigram index: the column it must be in
 * (NULL: the path or the description) and its folded text. */
struct literal {
	const char *col;
	const char *text;
};

/* Returns true if text is long enough for the trigram index. */
static bool is_literal(const char *text)
{
	return utf8_chars(text, strlen(text)) >= 3;
}

/* Returns the literals of q for the trigram index (*n of them; the caller
 * frees the array), in the order build() meets them: each substring term
 * and the literals of each glob or regex, then the desc: filter. */
static struct literal *literals(const struct query *q, size_t *n)
{
	struct literal *v = NULL;

	*n = 0;
	for (size_t i = 0; i < q->n_terms; i++) {
		const struct query_term *t = &q->terms[i];

		if (t->kind == QUERY_SUBSTRING && is_literal(t->text)) {
			v = xreallocarray(v, *n + 1, sizeof(*v));
			v[(*n)++] = (struct literal){NULL, t->text};
		}
		for (size_t k = 0; k < t->n_must; k++) {
			if (!is_literal(t->must[k]))
				continue;
			v = xreallocarray(v, *n + 1, sizeof(*v));
			v[(*n)++] = (struct literal){"lpath", t->must[k]};
		}
	}
	if (q->desc != NULL && is_literal(q->desc)) {
		v = xreallocarray(v, *n + 1, sizeof(*v));
		v[(*n)++] = (struct literal){"ldesc", q->desc};
	}
	return v;
}

/* Returns true if text, when it is a literal (then the *k-th of its query,
 * counted in *k), is in the MATCH expression of a search read through
 * driver (every literal is if rare is -1, only the rare-th if it is not
 * negative, none if it is -2), or is the rare-th whose rows DRIVE_IDS
 * reads. */
static bool in_match(enum driver driver, long rare, size_t *k, const char *text)
{
	if (!is_literal(text))
		return false;
	(*k)++;
	if (driver == DRIVE_IDS)
		return rare >= 0 && (size_t)rare == *k - 1;
	return driver == DRIVE_FTS &&
	       (rare == -1 || (rare >= 0 && (size_t)rare == *k - 1));
}

/* Builds the FROM and WHERE clauses of q (and their bindings), read in the
 * order chosen by driver; for DRIVE_PAIR, pair_match is the MATCH of the
 * trigrams that start with the pair (NULL if there are none). With
 * DRIVE_FTS, only the rare-th literal is looked up in the trigram index if
 * rare is not -1 (the others are tested on each row), and the rows must be
 * in set, if not NULL, before the table is read; if p->trigram is not
 * NULL, only that trigram is, and every literal is tested on each row.
 * DRIVE_IDS reads the rows of p->ids (those of the rare-th literal, or of
 * a filter). */
static void build(struct search_sql *s, const struct query *q,
                  enum driver driver, const struct plan *p)
{
	const char *pair_match = p->pair_match;
	const struct id_set *set = p->set;
	long rare = p->trigram != NULL ? -2 : p->rare;
	const char *pre;
	size_t k = 0;

	if (driver == DRIVE_FTS) {
		if (p->trigram != NULL)
			add_match(s, p->trigram_col, p->trigram,
			          strlen(p->trigram));
		for (size_t i = 0; i < q->n_terms; i++) {
			const struct query_term *t = &q->terms[i];

			if (t->kind == QUERY_SUBSTRING &&
			    in_match(driver, rare, &k, t->text))
				add_match(s, NULL, t->text, strlen(t->text));
			for (size_t m = 0; m < t->n_must; m++)
				if (in_match(driver, rare, &k, t->must[m]))
					add_match(s, "lpath", t->must[m],
					          strlen(t->must[m]));
		}
		if (q->desc != NULL && in_match(driver, rare, &k, q->desc))
			add_match(s, "ldesc", q->desc, strlen(q->desc));
		buf_add(&s->from_where, " FROM files_fts CROSS JOIN files f"
		                        " ON f.id = files_fts.rowid"
		                        " WHERE files_fts MATCH ?");
		add_bind(s)->text = s->match.s;
		if (set != NULL) {
			struct bind *b;

			add_where(s, "fisbot_in(?, files_fts.rowid)");
			b = add_bind(s);
			b->kind = B_SET;
			b->set = set;
		}
		add_where(s, "f.sha256 IS NOT NULL");
	} else if (driver == DRIVE_PAIR) {
		bool in_desc;
		const char *pair = pair_term(q, &in_desc);

		buf_add(&s->from_where, " FROM files f WHERE f.id IN (");
		if (pair_match != NULL) {
			buf_add(&s->from_where,
			        "SELECT rowid FROM files_fts WHERE files_fts"
			        " MATCH ? UNION ALL ");
			bind_text(s, pair_match);
		}
		if (!in_desc) {
			buf_add(
			    &s->from_where,
			    "SELECT id FROM files WHERE substr(lpath, -2) = ?"
			    " UNION ALL ");
			bind_text(s, pair);
		}
		buf_add(&s->from_where,
		        "SELECT id FROM files WHERE ldesc IS NOT NULL AND"
		        " substr(ldesc, -2) = ?) AND f.sha256 IS NOT NULL");
		bind_text(s, pair);
	} else if (driver == DRIVE_IDS) {
		buf_add(&s->from_where, " FROM files f WHERE f.id IN (");
		for (size_t i = 0; i < p->n_ids; i++) {
			buf_add(&s->from_where, i > 0 ? ", ?" : "?");
			bind_int(s, p->ids[i]);
		}
		buf_add(&s->from_where, ") AND f.sha256 IS NOT NULL");
	} else if (driver == DRIVE_DESC) {
		buf_add(&s->from_where,
		        " FROM files f INDEXED BY files_described"
		        " WHERE f.ldesc IS NOT NULL AND f.sha256 IS NOT NULL");
	} else {
		buf_add(&s->from_where,
		        driver == DRIVE_SIZE   ? " FROM files f INDEXED BY"
		                                 " files_by_size"
		        : driver == DRIVE_TYPE ? " FROM files f INDEXED BY"
		                                 " files_by_type"
		                               : " FROM files f");
		buf_add(&s->from_where, " WHERE f.sha256 IS NOT NULL");
	}
	k = 0;
	for (size_t i = 0; i < q->n_terms; i++) {
		const struct query_term *t = &q->terms[i];

		if (t->kind == QUERY_SUBSTRING) {
			/* A word is in the path or the description. */
			if (!in_match(driver, rare, &k, t->text)) {
				where_text(s,
				           "(instr(f.lpath, ?) > 0 OR"
				           " instr(f.ldesc, ?) > 0)",
				           t->text);
				bind_text(s, t->text);
			}
			continue;
		}
		/* A cheap test of the literals before the regex. */
		for (size_t m = 0; m < t->n_must; m++)
			if (!in_match(driver, rare, &k, t->must[m]))
				where_text(s, "instr(f.lpath, ?) > 0",
				           t->must[m]);
		add_where(s, "fisbot_match(?, f.lpath)");
		add_bind(s)->kind = B_TERM;
		s->binds[s->n_binds - 1].term = t;
	}

	/* "+" keeps SQLite from reading through the index of a column that
	 * is not the driver. */
	pre = driver == DRIVE_SIZE ? "" : "+";
	if (q->min_size > 0 || driver == DRIVE_SIZE) {
		char *cond = xasprintf("%sf.size >= ?", pre);

		where_int(s, cond, size_value(q->min_size));
		free(cond);
	}
	if (q->max_size < UINT64_MAX) {
		char *cond = xasprintf("%sf.size <= ?", pre);

		where_int(s, cond, size_value(q->max_size));
		free(cond);
	}
	pre = driver == DRIVE_TYPE ? "" : "+";
	if (q->type != NULL && strchr(q->type, '/') != NULL) {
		char *cond = xasprintf("%sf.media_type = ?", pre);

		where_text(s, cond, q->type);
		free(cond);
	} else if (q->type != NULL) {
		const char *lo, *hi;
		char *cond = xasprintf("%sf.media_type >= ?", pre);

		type_range(s, q->type, &lo, &hi);
		where_text(s, cond, lo);
		free(cond);
		cond = xasprintf("%sf.media_type < ?", pre);
		where_text(s, cond, hi);
		free(cond);
	}
	if (q->new_within_ms > 0) {
		int64_t now = (int64_t)time(NULL);
		uint64_t back = q->new_within_ms / 1000;

		where_int(s, "f.added >= ?",
		          back > (uint64_t)now ? 0 : now - (int64_t)back);
	}
	if (q->desc != NULL && !in_match(driver, rare, &k, q->desc))
		where_text(s, "instr(f.ldesc, ?) > 0", q->desc);
}

/* Frees what build() allocated. */
static void search_sql_free(struct search_sql *s)
{
	free(s->from_where.s);
	free(s->match.s);
	free(s->binds);
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
		else if (b->kind == B_TERM)
			sqlite3_bind_pointer(st, i, (void *)b->term,
			                     "fisbot_term", NULL);
		else
			sqlite3_bind_pointer(st, i, (void *)b->set,
			                     "fisbot_set", NULL);
	}
	for (int k = 0; k < n_extra; k++, i++)
		sqlite3_bind_int64(st, i, extra[k]);
	return st;
}

/* Returns true (and notes it) if the running search is past its
 * deadline. */
static bool past_deadline(struct catalogue *c)
{
	if (clock_past(c->deadline_ms)) {
		c->timed_out = true;
		return true;
	}
	return false;
}

/* The progress handler: interrupts a search past its deadline. */
static int search_progress(void *arg)
{
	return past_deadline(arg) ? 1 : 0;
}

void cat_sql_match(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct catalogue *c = sqlite3_user_data(ctx);
	const struct query_term *t =
	    sqlite3_value_pointer(argv[0], "fisbot_term");
	const unsigned char *path = sqlite3_value_text(argv[1]);
	int rc;

	if (t == NULL || path == NULL) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	rc = query_match(t, (const char *)path);
	if (rc == -1)
		c->regex_limited = true;
	/* The progress handler runs between rows only; a match may take
	 * up to QUERY_MATCH_MS, so check the deadline after each. */
	if (past_deadline(c)) {
		sqlite3_result_error(ctx, "search took too long", -1);
		return;
	}
	sqlite3_result_int(ctx, rc == 1);
}

/* Sets *cause for a failed step (rc) of a search. */
static void step_failed(struct catalogue *c, int rc, char **cause)
{
	if (c->timed_out && c->regex_limited) {
		*cause = xasprintf("regex too complex: the search took more "
		                   "than %u ms (simplify the regex or glob)",
		                   c->search_ms);
		return;
	}
	if (c->timed_out) {
		*cause = xasprintf("search took too long (more than %u ms): "
		                   "try more precise terms",
		                   c->search_ms);
		return;
	}
	cat_log_error(c, "searching");
	*cause = xstrdup("search failed (database error)");
}

/* Appends to s "SELECT what FROM files" and the conditions of q's size
 * range (driver DRIVE_SIZE) or media type (DRIVE_TYPE), read through that
 * index, or with pre "+" tested on the rows read otherwise. */
static void filter_sql(struct search_sql *s, const struct query *q,
                       enum driver driver, const char *what, const char *pre)
{
	const char *lo, *hi;
	char *sql;

	if (driver == DRIVE_SIZE) {
		sql = xasprintf("SELECT %s FROM files%s WHERE %ssize >= ? AND"
		                " %ssize <= ?",
		                what, *pre ? "" : " INDEXED BY files_by_size",
		                pre, pre);
		bind_int(s, size_value(q->min_size));
		bind_int(s, size_value(q->max_size));
	} else if (strchr(q->type, '/') != NULL) {
		sql = xasprintf("SELECT %s FROM files%s WHERE %smedia_type = ?",
		                what, *pre ? "" : " INDEXED BY files_by_type",
		                pre);
		bind_text(s, q->type);
	} else {
		sql = xasprintf("SELECT %s FROM files%s WHERE %smedia_type >= ?"
		                " AND %smedia_type < ?",
		                what, *pre ? "" : " INDEXED BY files_by_type",
		                pre, pre);
		type_range(s, q->type, &lo, &hi);
		bind_text(s, lo);
		bind_text(s, hi);
	}
	buf_add(&s->from_where, sql);
	free(sql);
}

/* Runs the SQL of s, which yields one integer, with the extra integer
 * values; returns it, or UINT64_MAX on error. */
static uint64_t run_count(struct catalogue *c, const struct search_sql *s,
                          const int64_t *extra, int n_extra)
{
	sqlite3_stmt *st = prepare(c, s->from_where.s, s, extra, n_extra);
	uint64_t n = UINT64_MAX;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Counts, up to cap, the rows of the size range or the media type of q
 * (driver DRIVE_SIZE or DRIVE_TYPE), reading that index only. Returns the
 * count, or UINT64_MAX on error. */
static uint64_t estimate(struct catalogue *c, const struct query *q,
                         enum driver driver, uint64_t cap)
{
	struct search_sql s = {0};
	uint64_t n;

	buf_add(&s.from_where, "SELECT count(*) FROM (");
	filter_sql(&s, q, driver, "1", "");
	buf_add(&s.from_where, " LIMIT ?)");
	n = run_count(c, &s, (const int64_t[]){(int64_t)cap}, 1);
	search_sql_free(&s);
	return n;
}

/* Returns an estimate of the rows in the size range or media type of q
 * (driver): the share of the newest FILTER_PROBE files in it, times the
 * greatest id (*max_id). UINT64_MAX on error. */
static uint64_t filter_probe(struct catalogue *c, const struct query *q,
                             enum driver driver, uint64_t *max_id)
{
	struct search_sql s = {0};
	uint64_t n, probe;

	buf_add(&s.from_where, "SELECT max(id) FROM files");
	*max_id = run_count(c, &s, NULL, 0);
	search_sql_free(&s);
	memset(&s, 0, sizeof(s));
	if (*max_id == UINT64_MAX)
		return UINT64_MAX;
	probe = *max_id < FILTER_PROBE ? *max_id : FILTER_PROBE;
	buf_add(&s.from_where, "SELECT count(*) FROM (");
	filter_sql(&s, q, driver, "1", "+");
	buf_add(&s.from_where, " AND id > ?)");
	n = run_count(c, &s, (const int64_t[]){(int64_t)(*max_id - probe)}, 1);
	search_sql_free(&s);
	if (n == UINT64_MAX || *max_id > UINT64_MAX / (FILTER_PROBE + 1))
		return UINT64_MAX;
	return probe == 0 ? 0 : n * *max_id / probe;
}

/* Returns true if a statement may bind n more values than a search's
 * own (a list of ids). */
static bool ids_fit(struct catalogue *c, size_t n)
{
	int max = sqlite3_limit(c->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1);

	return max > 0 && n + 1024 <= (size_t)max;
}

/* Compares two ids, the greater first. */
static int cmp_id_desc(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Reads into p->ids (newest first) the ids of the rows in the size range or
 * media type of q (driver), from that index, if there are at most
 * FILTER_DRIVE (else none). Returns how many there are, up to
 * FILTER_DRIVE + 1, or UINT64_MAX on error. */
static uint64_t filter_ids(struct catalogue *c, const struct query *q,
                           enum driver driver, struct plan *p)
{
	struct search_sql s = {0};
	sqlite3_stmt *st;
	int64_t *ids;
	uint64_t n = 0;
	int rc;

	if (!ids_fit(c, FILTER_DRIVE))
		return UINT64_MAX;
	ids = xcalloc(FILTER_DRIVE + 1, sizeof(*ids));

	filter_sql(&s, q, driver, "id", "");
	buf_add(&s.from_where, " LIMIT ?");
	st = prepare(c, s.from_where.s, &s, (const int64_t[]){FILTER_DRIVE + 1},
	             1);
	if (st == NULL) {
		search_sql_free(&s);
		free(ids);
		return UINT64_MAX;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n <= FILTER_DRIVE)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	search_sql_free(&s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		free(ids);
		return UINT64_MAX;
	}
	if (n > FILTER_DRIVE) {
		free(ids);
		return n;
	}
	qsort(ids, (size_t)n, sizeof(*ids), cmp_id_desc);
	p->ids = ids;
	p->n_ids = (size_t)n;
	return n;
}

/* Frees set (NULL is fine). */
static void id_set_free(struct id_set *set)
{
	if (set != NULL)
		free(set->bits);
	free(set);
}

/* Returns the set of the ids in the size range or media type of q (driver),
 * read from that index, or NULL if there are more than FILTER_SET or on
 * error. */
static struct id_set *read_set(struct catalogue *c, const struct query *q,
                               enum driver driver)
{
	struct search_sql s = {0};
	struct id_set *set = NULL;
	sqlite3_stmt *st = NULL;
	uint64_t n = 0;
	int64_t max;
	int rc;

	buf_add(&s.from_where, "SELECT max(id) FROM files");
	max = (int64_t)run_count(c, &s, NULL, 0);
	search_sql_free(&s);
	memset(&s, 0, sizeof(s));
	if (max < 0 || max > SET_MAX_ID)
		return NULL; /* an error, or ids too large for a bitmap */
	set = xcalloc(1, sizeof(*set));
	set->max = max;
	set->bits = xcalloc((size_t)(max / 8) + 1, 1);
	filter_sql(&s, q, driver, "id", "");
	buf_add(&s.from_where, " LIMIT ?");
	st = prepare(c, s.from_where.s, &s, (const int64_t[]){FILTER_SET + 1},
	             1);
	if (st == NULL)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);

		if (++n > FILTER_SET || id < 0 || id > max)
			goto fail; /* too many, or written meanwhile */
		set->bits[id >> 3] |= (uint8_t)(1u << (id & 7));
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	search_sql_free(&s);
	return set;
fail:
	sqlite3_finalize(st);
	search_sql_free(&s);
	id_set_free(set);
	return NULL;
}

void cat_sql_in(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct id_set *set = sqlite3_value_pointer(argv[0], "fisbot_set");
	sqlite3_int64 id = sqlite3_value_int64(argv[1]);

	(void)argc;
	sqlite3_result_int(ctx, set != NULL && id >= 0 && id <= set->max &&
	                            ((set->bits[id >> 3] >> (id & 7)) & 1));
}

/* Reads, up to cap, the ids of the rows of the trigram index that hold the
 * literal l, newest first, into *ids (the caller frees it). Returns how
 * many, or UINT64_MAX on error. */
static uint64_t literal_rows(struct catalogue *c, const struct literal *l,
                             uint64_t cap, int64_t **ids)
{
	struct search_sql s = {0};
	sqlite3_stmt *st;
	uint64_t n = 0;
	int rc;

	*ids = NULL;
	add_match(&s, l->col, l->text, strlen(l->text));
	buf_add(&s.from_where, "SELECT rowid FROM files_fts WHERE files_fts"
	                       " MATCH ? ORDER BY rowid DESC LIMIT ?");
	bind_text(&s, s.match.s);
	st = prepare(c, s.from_where.s, &s, (const int64_t[]){(int64_t)cap}, 1);
	if (st == NULL) {
		search_sql_free(&s);
		return UINT64_MAX;
	}
	*ids = xcalloc((size_t)cap, sizeof(**ids));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < cap)
		(*ids)[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	search_sql_free(&s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		free(*ids);
		*ids = NULL;
		return UINT64_MAX;
	}
	return n;
}

/* Returns true if q has literals for the trigram index. */
static bool has_literals(const struct query *q)
{
	if (q->desc != NULL && utf8_chars(q->desc, strlen(q->desc)) >= 3)
		return true;
	for (size_t i = 0; i < q->n_terms; i++) {
		const struct query_term *t = &q->terms[i];

		if (t->n_must > 0 ||
		    (t->kind == QUERY_SUBSTRING &&
		     utf8_chars(t->text, strlen(t->text)) >= 3))
			return true;
	}
	return false;
}

/* Returns true if the newest PAIR_PROBE_ROWS files hold at least
 * PAIR_DENSE that contain pair (in the description only, if in_desc): a scan in
 * id order then fills a page and reaches the count's cap soon. An error counts
 * as dense (the scan is exact, only slower). */
static bool pair_dense(struct catalogue *c, const char *pair, bool in_desc)
{
	sqlite3_stmt *st;
	bool dense = true;

	if (sqlite3_prepare_v2(c->db,
	                       in_desc ? "SELECT count(*) FROM (SELECT 1 FROM"
	                                 " files WHERE id > (SELECT max(id)"
	                                 " FROM files) - ?1 AND"
	                                 " instr(ldesc, ?2) > 0 LIMIT ?3)"
	                               : "SELECT count(*) FROM (SELECT 1 FROM"
	                                 " files WHERE id > (SELECT max(id)"
	                                 " FROM files) - ?1 AND"
	                                 " (instr(lpath, ?2) > 0 OR"
	                                 " instr(ldesc, ?2) > 0) LIMIT ?3)",
	                       -1, &st, NULL) != SQLITE_OK) {
		cat_log_error(c, "preparing a search");
		return true;
	}
	sqlite3_bind_int(st, 1, PAIR_PROBE_ROWS);
	sqlite3_bind_text(st, 2, pair, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, PAIR_DENSE);
	if (sqlite3_step(st) == SQLITE_ROW)
		dense = sqlite3_column_int(st, 0) >= PAIR_DENSE;
	sqlite3_finalize(st);
	return dense;
}

/* Returns in *match the MATCH expression of the trigrams of the index that
 * start with the two characters pair ("xqa" OR "xqb" ...; in the
 * description only if in_desc; NULL if there are none), read from the
 * index's vocabulary as a range of terms. Returns -1 on a database
 * error. */
static int pair_trigrams(struct catalogue *c, const char *pair, bool in_desc,
                         char **match)
{
	struct buf m = {0};
	sqlite3_stmt *st;
	/* No UTF-8 character starts with a byte above 0xf4 0x8f. */
	char *hi = xasprintf("%s\xf4\x90", pair);
	size_t n = strlen(pair);
	int rc;

	*match = NULL;
	if (sqlite3_prepare_v2(c->db,
	                       "SELECT term FROM files_fts_terms"
	                       " WHERE term >= ?1 AND term < ?2",
	                       -1, &st, NULL) != SQLITE_OK) {
		cat_log_error(c, "preparing a search");
		free(hi);
		return -1;
	}
	sqlite3_bind_text(st, 1, pair, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (t == NULL || strncmp(t, pair, n) != 0)
			continue;
		if (m.len > 0)
			buf_add(&m, " OR ");
		add_phrase(&m, t, strlen(t));
	}
	sqlite3_finalize(st);
	free(hi);
	if (rc != SQLITE_DONE) {
		cat_log_error(c, "searching");
		free(m.s);
		return -1;
	}
	if (m.s != NULL && in_desc) {
		*match = xasprintf("ldesc : (%s)", m.s);
		free(m.s);
	} else {
		*match = m.s;
	}
	return 0;
}

/* Returns true if at most DESCRIBED_FEW files have a description (counted
 * on their index, up to that). */
static bool few_described(struct catalogue *c)
{
	sqlite3_stmt *st;
	bool few = false;

	if (sqlite3_prepare_v2(c->db,
	                       "SELECT count(*) FROM (SELECT 1 FROM files"
	                       " INDEXED BY files_described WHERE ldesc IS NOT"
	                       " NULL LIMIT ?1)",
	                       -1, &st, NULL) != SQLITE_OK) {
		cat_log_error(c, "preparing a search");
		return false;
	}
	sqlite3_bind_int(st, 1, DESCRIBED_FEW + 1);
	if (sqlite3_step(st) == SQLITE_ROW)
		few = sqlite3_column_int(st, 0) <= DESCRIBED_FEW;
	sqlite3_finalize(st);
	return few;
}

/* Returns the number of bytes of the first three UTF-8 characters at s,
 * or 0 if it has fewer. */
static size_t trigram_len(const char *s)
{
	size_t i = 0;

	for (int chars = 0; chars < 3; chars++) {
		if (s[i] == '\0')
			return 0;
		i++;
		while (((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
	}
	return i;
}

/* Returns the number of distinct trigrams of the literal text: the more,
 * the likelier it is rare ("kakaka" has two, "kaloka" four). */
static size_t trigrams(const char *text)
{
	size_t n = 0, len;

	for (const char *t = text; (len = trigram_len(t)) > 0;) {
		bool seen = false;

		for (const char *u = text; u < t && !seen;) {
			seen = strncmp(u, t, len) == 0 && trigram_len(u) == len;
			u++;
			while (((unsigned char)*u & 0xc0) == 0x80)
				u++;
		}
		n += !seen;
		t++;
		while (((unsigned char)*t & 0xc0) == 0x80)
			t++;
	}
	return n;
}

/* Looks for a rare literal of q among the first RARE_TRIES (one more if a
 * glob begins with one), a glob's leading literal then those with the most
 * distinct trigrams first (the likeliest to be rare): if one is in at most
 * RARE_DRIVE rows, the search reads those (p: DRIVE_IDS) and returns
 * true. */
static bool choose_rare(struct catalogue *c, const struct query *q,
                        struct plan *p)
{
	size_t n_lit, *order, *distinct, tries = RARE_TRIES;
	struct literal *lit = literals(q, &n_lit);
	bool found = false;

	if (!ids_fit(c, RARE_DRIVE))
		n_lit = 0;
	order = xcalloc(n_lit, sizeof(*order));
	distinct = xcalloc(n_lit, sizeof(*distinct));
	for (size_t i = 0; i < n_lit; i++) {
		/* A glob's leading literal first: "/" and the start of a name
		 * (leads_apply). */
		bool first = lit[i].text[0] == '/';
		size_t k = i;

		distinct[i] = trigrams(lit[i].text) + (first ? 1000 : 0);
		tries += first && tries == RARE_TRIES;
		while (k > 0 && distinct[order[k - 1]] < distinct[i]) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
	}
	free(distinct);
	for (size_t i = 0; i < n_lit && i < tries && !found; i++) {
		int64_t *ids;
		uint64_t n =
		    literal_rows(c, &lit[order[i]], RARE_DRIVE + 1, &ids);

		if (n <= RARE_DRIVE) {
			p->page = p->count = DRIVE_IDS;
			p->rare = (long)order[i];
			p->ids = ids;
			p->n_ids = (size_t)n;
			found = true;
		} else {
			free(ids);
		}
	}
	free(order);
	free(lit);
	return found;
}

/* Chooses the trigram of q's literals (the first TRIGRAM_TRIES of them)
 * found in the fewest of the newest TRIGRAM_SAMPLE rows of the trigram
 * index (max_id: the greatest id), to be read alone there instead of the
 * literals, whose phrases make FTS5 read every trigram's doclist through:
 * p->trigram and p->trigram_col. Returns an estimate of its rows in the
 * whole index, or UINT64_MAX (and no trigram) on error. */
static uint64_t choose_trigram(struct catalogue *c, const struct query *q,
                               struct plan *p, uint64_t max_id)
{
	size_t n_lit, tries = 0;
	struct literal *lit = literals(q, &n_lit);
	uint64_t best = UINT64_MAX;
	uint64_t sample = max_id < TRIGRAM_SAMPLE ? max_id : TRIGRAM_SAMPLE;
	int64_t from = (int64_t)(max_id - sample);

	for (size_t i = 0; i < n_lit && tries < TRIGRAM_TRIES; i++) {
		const char *t = lit[i].text;

		for (size_t len;
		     (len = trigram_len(t)) > 0 && tries < TRIGRAM_TRIES;
		     tries++) {
			struct search_sql s = {0};
			uint64_t n;

			add_match(&s, lit[i].col, t, len);
			buf_add(&s.from_where,
			        "SELECT count(*) FROM files_fts WHERE"
			        " files_fts MATCH ? AND rowid > ?");
			bind_text(&s, s.match.s);
			n = run_count(c, &s, &from, 1);
			search_sql_free(&s);
			if (n == UINT64_MAX) {
				free(p->trigram);
				p->trigram = NULL;
				free(lit);
				return UINT64_MAX;
			}
			if (n < best) {
				best = n;
				free(p->trigram);
				p->trigram = xstrndup(t, len);
				p->trigram_col = lit[i].col;
			}
			/* The next character. */
			t++;
			while (((unsigned char)*t & 0xc0) == 0x80)
				t++;
		}
	}
	free(lit);
	if (best == UINT64_MAX || sample == 0 ||
	    max_id > UINT64_MAX / (TRIGRAM_SAMPLE + 1))
		return best == UINT64_MAX ? UINT64_MAX : best;
	return best * max_id / sample;
}

/*
 * Chooses how a search with literals for the trigram index reads the
 * files (p->page = p->count = DRIVE_FTS on entry: the rows of every
 * literal, in id order); by_size and by_type are the estimates of its size
 * range and media type (UINT64_MAX if it has none), both over
 * CATALOGUE_COUNT_CAP. A filter dense among the newest files is left to
 * be tested on each row. Otherwise, and with several literals, a rare
 * literal's rows are read alone (choose_rare: FTS5 would read the others'
 * doclists through). Otherwise a filter of at most FILTER_DRIVE rows is
 * read through its index, and those rows tested (DRIVE_IDS); a larger one
 * is read into a set of ids if that is cheaper than reading the table for
 * each row of the trigram index until the count's cap.
 */
static void choose_fts(struct catalogue *c, const struct query *q,
                       uint64_t by_size, uint64_t by_type, struct plan *p)
{
	bool filter = by_size != UINT64_MAX || by_type != UINT64_MAX;
	enum driver fd = by_size <= by_type ? DRIVE_SIZE : DRIVE_TYPE;
	uint64_t rows = UINT64_MAX, max_id = 0, entries, least;
	size_t n_lit;

	free(literals(q, &n_lit));
	if (filter) {
		/* How many rows the filter has: from the newest rows. */
		rows = filter_probe(c, q, fd, &max_id);
		if (rows > FILTER_SET)
			filter = false; /* dense, or an error */
	}
	if (n_lit > 1 && choose_rare(c, q, p))
		return;
	if (!filter)
		return;
	/* The fewest rows the literals can be in: those of their rarest
	 * trigram, estimated from the newest rows. */
	least = choose_trigram(c, q, p, max_id);
	if (least > RARE_DRIVE) {
		if (filter_ids(c, q, fd, p) <= FILTER_DRIVE) {
			p->page = p->count = DRIVE_IDS;
		} else {
			if (rows <= FILTER_DRIVE)
				rows = FILTER_DRIVE + 1;
			/* The rows of the trigram index read to fill the
			 * count: until the cap's share of the filter's rows
			 * among all, or the trigram's. */
			entries = CATALOGUE_COUNT_CAP * max_id / rows;
			if (entries > least)
				entries = least;
			if (rows < SET_WORTH * entries)
				p->set = read_set(c, q, fd);
		}
	}
	if (p->set == NULL) {
		free(p->trigram);
		p->trigram = NULL;
	}
}

/*
 * Chooses how to read the files for q's page and for its count. A size
 * range or media type that holds few rows drives both through its index
 * (the few rows are sorted). Otherwise the page comes in id order, from
 * the trigram index if q has literals for it (choose_fts), else from the
 * table; the count reads the trigram index too, or else the index of a
 * size or type filter, where every row passes that filter, so it reaches
 * the cap sooner than a scan in id order. Without such literals, a desc:
 * filter reads the described files through their index when they are
 * few; a query whose only text is two-character words (or a desc: filter
 * of two), the first of them rare among the newest files, reads the rows
 * that contain that pair (trigrams that start with it, strings that end
 * with it: p->pair_match) instead of the table.
 */
static void choose(struct catalogue *c, const struct query *q, struct plan *p)
{
	const char *pair;
	bool in_desc;

	uint64_t by_size = UINT64_MAX, by_type = UINT64_MAX;

	p->rare = -1;
	if (q->min_size > 0 || q->max_size < UINT64_MAX)
		by_size = estimate(c, q, DRIVE_SIZE, CATALOGUE_COUNT_CAP + 1);
	if (q->type != NULL)
		by_type = estimate(c, q, DRIVE_TYPE, CATALOGUE_COUNT_CAP + 1);
	if (by_size <= CATALOGUE_COUNT_CAP && by_size <= by_type) {
		p->page = p->count = DRIVE_SIZE;
	} else if (by_type <= CATALOGUE_COUNT_CAP) {
		p->page = p->count = DRIVE_TYPE;
	} else if (has_literals(q)) {
		p->page = p->count = DRIVE_FTS;
		choose_fts(c, q, by_size, by_type, p);
	} else if (q->desc != NULL && few_described(c)) {
		p->page = p->count = DRIVE_DESC;
	} else if ((pair = pair_term(q, &in_desc)) != NULL &&
	           !pair_dense(c, pair, in_desc) &&
	           pair_trigrams(c, pair, in_desc, &p->pair_match) == 0) {
		p->page = p->count = DRIVE_PAIR;
	} else if ((by_size != UINT64_MAX || by_type != UINT64_MAX) &&
	           filter_ids(c, q,
	                      by_size <= by_type ? DRIVE_SIZE : DRIVE_TYPE,
	                      p) <= FILTER_DRIVE) {
		p->page = p->count = DRIVE_IDS;
	} else {
		p->page = DRIVE_SCAN;
		p->count = by_size != UINT64_MAX   ? DRIVE_SIZE
		           : by_type != UINT64_MAX ? DRIVE_TYPE
		                                   : DRIVE_SCAN;
	}
}

/* Returns the name of plan p, for tests. */
static const char *plan_name(const struct plan *p)
{
	switch (p->page) {
	case DRIVE_SCAN:
		return "scan";
	case DRIVE_FTS:
		return p->trigram != NULL ? "fts set trigram"
		       : p->set != NULL   ? "fts set"
		                          : "fts";
	case DRIVE_SIZE:
		return "size";
	case DRIVE_TYPE:
		return "type";
	case DRIVE_PAIR:
		return "pair";
	case DRIVE_DESC:
		return "desc";
	case DRIVE_IDS:
		return p->rare >= 0 ? "ids literal" : "ids filter";
	}
	return "?";
}

/* Sets *hi to the least string above every string that begins with lit
 * (lit with its last byte that can grow grown); returns false if there is
 * none (every byte is 0xff). */
static bool prefix_upper(const char *lit, char **hi)
{
	*hi = xstrdup(lit);
	for (size_t i = strlen(lit); i-- > 0;) {
		if ((unsigned char)(*hi)[i] < 0xff) {
			(*hi)[i] = (char)((unsigned char)(*hi)[i] + 1);
			(*hi)[i + 1] = '\0';
			return true;
		}
	}
	return false;
}

/* Returns true if a name at the root of the share begins with the n bytes
 * at lead (or if the catalogue cannot tell). */
static bool root_name_begins(struct catalogue *c, const char *lead, size_t n)
{
	char *lit = xstrndup(lead, n), *hi;
	bool bounded = prefix_upper(lit, &hi), found = true;
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(c->db,
	                       bounded
	                           ? "SELECT 1 FROM files WHERE dir = x'' AND"
	                             " lname >= ?1 AND lname < ?2 LIMIT 1"
	                           : "SELECT 1 FROM files WHERE dir = x'' AND"
	                             " lname >= ?1 LIMIT 1",
	                       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, lit, -1, SQLITE_STATIC);
		if (bounded)
			sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
		found = sqlite3_step(st) != SQLITE_DONE;
		sqlite3_finalize(st);
	}
	free(lit);
	free(hi);
	return found;
}

/*
 * Copies q into *lq, where each glob that begins with a literal of two
 * characters or more that no name at the root begins with gets "/" and
 * that literal as its first literal: every name it matches is in a
 * folder, so its path holds it. Three bytes or more, it is a literal for
 * the trigram index even when the glob begins with two characters
 * (`th*.ogg`), and rarer than the bare literal. leads_free frees what
 * this allocates.
 */
static void leads_apply(struct catalogue *c, const struct query *q,
                        struct query *lq)
{
	*lq = *q;
	lq->terms = xcalloc(q->n_terms + 1, sizeof(*lq->terms));
	if (q->n_terms > 0)
		memcpy(lq->terms, q->terms, q->n_terms * sizeof(*q->terms));
	for (size_t i = 0; i < q->n_terms; i++) {
		struct query_term *t = &lq->terms[i];
		size_t n = strcspn(t->text, "*?[\\"), k = 1;
		char **must;

		if (t->kind != QUERY_GLOB || utf8_chars(t->text, n) < 2 ||
		    root_name_begins(c, t->text, n))
			continue;
		must = xcalloc(t->n_must + 1, sizeof(*must));
		must[0] = xmalloc(n + 2);
		must[0][0] = '/';
		memcpy(must[0] + 1, t->text, n);
		must[0][n + 1] = '\0';
		for (size_t m = 0; m < t->n_must; m++)
			if (m > 0 || strlen(t->must[m]) != n ||
			    strncmp(t->must[m], t->text, n) != 0)
				must[k++] = t->must[m];
		t->must = must;
		t->n_must = k;
	}
}

/* Frees what leads_apply allocated for lq, a copy of q. */
static void leads_free(const struct query *q, struct query *lq)
{
	for (size_t i = 0; i < q->n_terms; i++) {
		if (lq->terms[i].must == q->terms[i].must)
			continue;
		free(lq->terms[i].must[0]);
		free(lq->terms[i].must);
	}
	free(lq->terms);
}

/*
 * For a plan read through the trigram index (s: its FROM and WHERE): reads
 * its matches oldest first, up to the count's cap plus one. FTS5 reads a
 * doclist newest first by loading it whole: the 421 rows that hold both
 * literals of a `*word*.ogg` at 1,000,000 files took 13-15 ms newest
 * first, 8 ms oldest first, more than a page newest first (which stops
 * early) and a count oldest first together; oldest first, the matches are
 * read once. If they are at most CATALOGUE_COUNT_CAP, they are the count
 * (out->total), and the page at offset is taken from them, newest first:
 * returns 1. Returns 0 if there are more (out untouched), -1 on error with
 * *cause.
 */
static int fts_oldest_first(struct catalogue *c, const struct search_sql *s,
                            uint64_t offset, unsigned limit,
                            struct cat_page *out, char **cause)
{
	struct cat_page all = {0};
	int64_t cap = CATALOGUE_COUNT_CAP + 1;
	char *sql = xasprintf("SELECT " FILE_COLUMNS "%s ORDER BY"
	                      " files_fts.rowid LIMIT ?",
	                      s->from_where.s);
	sqlite3_stmt *st = prepare(c, sql, s, &cap, 1);
	int rc, ret = -1;

	free(sql);
	if (st == NULL) {
		*cause = xstrdup("search failed (database error)");
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cat_read_file(st, &cat_page_add(&all)->file);
	if (rc != SQLITE_DONE) {
		step_failed(c, rc, cause);
	} else if (all.n > CATALOGUE_COUNT_CAP) {
		ret = 0;
	} else {
		/* Newest first: from the end. */
		for (uint64_t k = offset; k < all.n && k < offset + limit;
		     k++) {
			struct cat_entry *e = &all.v[all.n - 1 - k];

			*cat_page_add(out) = *e;
			memset(e, 0, sizeof(*e));
		}
		out->total = all.n;
		ret = 1;
	}
	sqlite3_finalize(st);
	cat_page_clear(&all);
	return ret;
}

void catalogue_set_search_limit(struct catalogue *c, unsigned ms)
{
	c->search_ms = ms;
}

int catalogue_search(struct catalogue *c, const struct query *q0,
                     uint64_t offset, unsigned limit, struct cat_page *out,
                     char **cause)
{
	struct query lq, *q = &lq;
	struct search_sql s = {0};
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	struct plan plan = {0};
	uint64_t all = 0, rows, stepped = 0;
	bool whole, along, fts_first, txn;
	int64_t extra[2];
	int rc, ret = -1;

	memset(out, 0, sizeof(*out));
	c->deadline_ms = clock_deadline_ms((int64_t)c->search_ms);
	c->timed_out = false;
	c->regex_limited = false;
	sqlite3_progress_handler(c->db, 1000, search_progress, c);
	/* One read transaction: the plan's ids and sets, the page and its
	 * count see the same catalogue. */
	txn = sqlite3_get_autocommit(c->db) &&
	      sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
	leads_apply(c, q0, &lq);
	choose(c, q, &plan);
	c->plan = plan_name(&plan);
	build(&s, q, plan.page, &plan);

	/* The page. Plans that read every row they may match (to sort
	 * them) count them too, with a window over all of them (and a
	 * zero for the column of cat_read_file after FILE_COLUMNS). */
	whole = plan.page == DRIVE_SIZE || plan.page == DRIVE_TYPE ||
	        (plan.page == DRIVE_IDS && plan.rare >= 0);
	/* Through the trigram index, when the count reads the same: its
	 * matches oldest first, up to the cap; if they are no more, they are
	 * the page and the count. */
	fts_first = plan.page == DRIVE_FTS && plan.count == DRIVE_FTS &&
	            offset <= CATALOGUE_COUNT_CAP;
	if (fts_first) {
		rc = fts_oldest_first(c, &s, offset, limit, out, cause);
		if (rc != 0) {
			out->regex_limited = c->regex_limited;
			ret = rc;
			goto out;
		}
	}
	/* The others, when the count reads the same rows in the same order,
	 * read on past the page up to the count's cap and count what they
	 * stepped: a search whose matches are more than a page but few reads
	 * them once, not once for the page and again for the count. */
	along = !whole && plan.count == plan.page && plan.page != DRIVE_FTS &&
	        offset < CATALOGUE_COUNT_CAP + 1;
	rows = limit;
	if (along && CATALOGUE_COUNT_CAP + 1 - offset > rows)
		rows = CATALOGUE_COUNT_CAP + 1 - offset;
	sql = xasprintf("SELECT " FILE_COLUMNS "%s%s ORDER BY %s DESC"
	                " LIMIT ? OFFSET ?",
	                whole ? ", 0, count(*) OVER ()" : "", s.from_where.s,
	                plan.page == DRIVE_FTS ? "files_fts.rowid" : "f.id");
	extra[0] = (int64_t)rows;
	extra[1] = offset > INT64_MAX ? INT64_MAX : (int64_t)offset;
	st = prepare(c, sql, &s, extra, 2);
	if (st == NULL) {
		*cause = xstrdup("search failed (database error)");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (stepped++ >= limit)
			continue;
		cat_read_file(st, &cat_page_add(out)->file);
		if (whole)
			all = (uint64_t)sqlite3_column_int64(st, 14);
	}
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
	} else if (((whole || along) && out->n > 0) || fts_first) {
		/* fts_first: more than the cap. */
		out->total = fts_first ? CATALOGUE_COUNT_CAP + 1
		             : whole   ? all
		                       : offset + stepped;
		if (out->total > CATALOGUE_COUNT_CAP) {
			out->total = CATALOGUE_COUNT_CAP;
			out->total_capped = true;
		}
		if (out->total < offset + out->n) {
			out->total = offset + out->n;
			out->total_capped = out->n == limit;
		}
	} else {
		if (plan.count != plan.page) {
			search_sql_free(&s);
			memset(&s, 0, sizeof(s));
			build(&s, q, plan.count, &plan);
		}
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
	out->regex_limited = c->regex_limited;
	ret = 1;
out:
	sqlite3_progress_handler(c->db, 0, NULL, NULL);
	sqlite3_finalize(st);
	if (txn && !sqlite3_get_autocommit(c->db) &&
	    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	free(sql);
	search_sql_free(&s);
	free(plan.pair_match);
	free(plan.ids);
	free(plan.trigram);
	id_set_free(plan.set);
	leads_free(q0, &lq);
	if (ret == -1)
		cat_page_clear(out);
	return ret;
}
