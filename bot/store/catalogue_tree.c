/*
 * Flattened listings of the catalogue (see catalogue_tree.h). The files of
 * a folder at any depth are the BLOB range ("dir/", "dir0") of the unique
 * index on files.path, so every page is one index range scan and a cursor
 * page costs the same wherever it starts.
 */
#include "fisbot/catalogue_tree.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue_int.h"
#include "fisbot/alloc.h"

/* Prepares sql on c. Returns NULL on error (logged). */
static sqlite3_stmt *prepare(struct catalogue *c, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		cat_log_error(c, "preparing a tree listing");
		return NULL;
	}
	return st;
}

/* The SQL condition for "under dir" using ?1 and ?2 (always TRUE for the
 * root, where ?1 and ?2 are unused). */
static const char *under_sql(const char *dir)
{
	return dir[0] == '\0' ? "(?1 IS NULL AND ?2 IS NULL)"
	                      : "(path > ?1 AND path < ?2)";
}

/* Binds ?1 and ?2 to the bounds of dir: "dir/" and "dir0". */
static void bind_under(sqlite3_stmt *st, const char *dir)
{
	size_t n = strlen(dir);
	char *lo;

	if (n == 0) {
		sqlite3_bind_null(st, 1);
		sqlite3_bind_null(st, 2);
		return;
	}
	lo = xmalloc(n + 1);
	memcpy(lo, dir, n);
	lo[n] = '/';
	sqlite3_bind_blob(st, 1, lo, (int)n + 1, SQLITE_TRANSIENT);
	lo[n] = '0';
	sqlite3_bind_blob(st, 2, lo, (int)n + 1, SQLITE_TRANSIENT);
	free(lo);
}

/* Runs a count statement. Returns 1 or -1. */
static int run_count(struct catalogue *c, sqlite3_stmt *st, uint64_t *n)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	else
		cat_log_error(c, "counting files");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : -1;
}

int catalogue_tree_count(struct catalogue *c, const char *dir, uint64_t *n)
{
	char *sql =
	    xasprintf("SELECT count(*) FROM files WHERE %s", under_sql(dir));
	sqlite3_stmt *st = prepare(c, sql);

	free(sql);
	if (st == NULL)
		return -1;
	bind_under(st, dir);
	return run_count(c, st, n);
}

int catalogue_tree_rank(struct catalogue *c, const char *dir, const char *path,
                        uint64_t *n)
{
	char *sql = xasprintf("SELECT count(*) FROM files WHERE %s AND "
	                      "path < ?3",
	                      under_sql(dir));
	sqlite3_stmt *st = prepare(c, sql);

	free(sql);
	if (st == NULL)
		return -1;
	bind_under(st, dir);
	sqlite3_bind_blob(st, 3, path, (int)strlen(path), SQLITE_TRANSIENT);
	return run_count(c, st, n);
}

/* Reverses the entries of p. */
static void reverse(struct cat_page *p)
{
	for (size_t i = 0, j = p->n; i + 1 < j; i++, j--) {
		struct cat_entry t = p->v[i];

		p->v[i] = p->v[j - 1];
		p->v[j - 1] = t;
	}
}

int catalogue_tree_page(struct catalogue *c, const char *dir,
                        enum cat_tree_from from, const char *path,
                        uint64_t offset, unsigned limit, struct cat_page *out)
{
	const char *cond = "", *order = "ASC";
	sqlite3_stmt *st;
	char *sql;
	int rc;

	memset(out, 0, sizeof(*out));
	if (catalogue_tree_count(c, dir, &out->total) == -1)
		return -1;
	if (limit == 0)
		return 1;
	switch (from) {
	case CAT_TREE_INDEX:
		break;
	case CAT_TREE_AFTER:
		cond = " AND path > ?3";
		break;
	case CAT_TREE_BEFORE:
		cond = " AND path < ?3";
		order = "DESC";
		break;
	case CAT_TREE_END:
		order = "DESC";
		break;
	}
	sql = xasprintf("SELECT " CAT_FILE_COLUMNS " FROM files WHERE %s%s"
	                " ORDER BY path %s LIMIT ?4 OFFSET ?5",
	                under_sql(dir), cond, order);
	st = prepare(c, sql);
	free(sql);
	if (st == NULL)
		return -1;
	bind_under(st, dir);
	if (from == CAT_TREE_AFTER || from == CAT_TREE_BEFORE)
		sqlite3_bind_blob(st, 3, path, (int)strlen(path),
		                  SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, limit);
	sqlite3_bind_int64(st, 5,
	                   from == CAT_TREE_INDEX && offset < INT64_MAX
	                       ? (int64_t)offset
	                       : (from == CAT_TREE_INDEX ? INT64_MAX : 0));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cat_read_file(st, &cat_page_add(out)->file);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cat_log_error(c, "listing files");
		cat_page_clear(out);
		return -1;
	}
	if (from == CAT_TREE_BEFORE || from == CAT_TREE_END)
		reverse(out);
	return 1;
}

int catalogue_tree_after_id(struct catalogue *c, int64_t after_id,
                            unsigned limit, struct cat_page *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	st = prepare(c, "SELECT " CAT_FILE_COLUMNS " FROM files WHERE id > ?1"
	                " AND sha256 IS NOT NULL ORDER BY id LIMIT ?2");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, after_id);
	sqlite3_bind_int64(st, 2, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cat_read_file(st, &cat_page_add(out)->file);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cat_log_error(c, "reading files by id");
		cat_page_clear(out);
		return -1;
	}
	out->total = out->n;
	return 1;
}
