/* Internals shared by catalogue.c (schema, reading, writing) and
 * catalogue_search.c (search). Not for other modules. */
#ifndef FISBOT_CATALOGUE_INT_H
#define FISBOT_CATALOGUE_INT_H

#include <sqlite3.h>

#include "catalogue_write.h"

/* The prepared statements kept by every connection. */
enum cat_stmt {
	ST_GET,
	ST_GET_BY_PATH,
	ST_FILE_ID_BY_PATH,
	ST_INSERT,
	ST_UPDATE,
	ST_SET_HASH,
	ST_SET_CTIME,
	ST_SET_TYPE,
	ST_UNTYPED,
	ST_REMOVE,
	ST_SET_PATH,
	ST_DIR_EXISTS,
	ST_DIR_INSERT,
	ST_DIR_SET_PATH,
	ST_FILES_UNDER,
	ST_DIRS_UNDER,
	ST_REMOVE_FILES_UNDER,
	ST_REMOVE_DIRS_UNDER,
	ST_COUNT_DIRS,
	ST_COUNT_FILES,
	ST_LIST_DIRS,
	ST_LIST_FILES,
	ST_NEWEST,
	ST_STATS_FILES,
	ST_STATS_DIRS,
	ST_FOREACH,
	ST_FOREACH_DIR,
	ST_FOREACH_UNDER,
	ST_FOREACH_DIR_UNDER,
	ST_FOREACH_AFTER,
	ST_FOREACH_AFTER_ALL,
	ST_USAGE,
	ST_SET_DESC,
	ST_SET_UPLOADER,
	ST_ADD_DOWNLOAD,
	ST_ROOM_ADD,
	ST_ROOM_REMOVE,
	ST_ROOM_LIST,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_FTS_ADD,
	ST_FTS_DEL,
	ST_FTS_OF,
	ST_FTS_UNDER,
	ST_COUNT
};

struct catalogue {
	sqlite3 *db;
	bool writer; /* catalogue_open_writer */
	char *path;
	sqlite3_stmt *stmts[ST_COUNT];
	unsigned search_ms;  /* time limit of a search */
	int64_t deadline_ms; /* of the running search (clock_deadline_ms) */
	bool timed_out;
	bool regex_limited; /* a glob or regex hit a limit in this search */
	const char *plan;   /* how the last search read the files (tests) */
	bool keep_errors;   /* catalogue_keep_errors */
	char *last_error;
};

/* The columns read into a struct cat_file by cat_read_file, in order. */
#define CAT_FILE_COLUMNS                                                       \
	"id, path, size, mtime_ns, dev, ino, sha256, media_type, "             \
	"description, added, downloads, bytes_served, uploader, ctime_ns"

/* Returns statement id of c, prepared on first use and reset; NULL on error
 * (logged). */
sqlite3_stmt *cat_stmt(struct catalogue *c, enum cat_stmt id);
/* Fills f from the CAT_FILE_COLUMNS of st's current row (a statement may
 * leave the last column, ctime_ns, out: f->ctime_ns is then 0). */
void cat_read_file(sqlite3_stmt *st, struct cat_file *f);
/* Logs a database error about what (or keeps it: catalogue_keep_errors). */
void cat_log_error(struct catalogue *c, const char *what);
/* Appends an entry to page p and returns it (zeroed). */
struct cat_entry *cat_page_add(struct cat_page *p);
/* The SQL function fisbot_match(term, lpath) of connection c (its user
 * data): query_match for a term bound as a pointer by the search. */
void cat_sql_match(sqlite3_context *ctx, int argc, sqlite3_value **argv);
/* The SQL function fisbot_in(set, id): whether id is in a set of ids bound
 * as a pointer by the search. */
void cat_sql_in(sqlite3_context *ctx, int argc, sqlite3_value **argv);

#endif
