/*
 * The catalogue in SQLite: opening (checks, schema migrations), reading rows
 * and listings, and the writer's changes. Search is in catalogue_search.c.
 *
 * Design note. Paths are stored as BLOBs, byte for byte as on disk (names
 * need not be UTF-8), with the folder (`dir`) and last component (`name`)
 * beside them so a listing is one index range. Each row also has its folded
 * form (query_fold: sanitised and lowercased): `lname` sorts listings and
 * `lpath` is what searches match, through an external-content FTS5 trigram
 * index (`ldesc`, the folded description, is its second column) that
 * every write of those columns keeps in step (fts_add, fts_del: one row a
 * statement, never from a trigger, see migration 3). Folders have their own
 * table, so empty folders exist; the root ("") is implicit. A folder's contents
 * are the BLOB range ("dir/", "dir0"), '0' being the byte after '/'. Ids come
 * from AUTOINCREMENT and are never reused; renames update paths in place. A
 * file that is not a fisbot catalogue (not SQLite, another application id, a
 * newer schema) is refused and never touched.
 */
#include "catalogue_write.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalogue_int.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "fisbot/query.h"
#include "fisbot/text.h"

#define CATALOGUE_APP_ID  0x66697362 /* "fisb" */
#define CATALOGUE_BUSY_MS 5000

/* Migrations: migrations[i] brings the schema from version i to i + 1. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE files ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " path BLOB NOT NULL UNIQUE,"
    " dir BLOB NOT NULL,"
    " name BLOB NOT NULL,"
    " lname TEXT NOT NULL,"
    " lpath TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " mtime_ns INTEGER NOT NULL,"
    " dev INTEGER NOT NULL,"
    " ino INTEGER NOT NULL,"
    " sha256 BLOB,"
    " media_type TEXT,"
    " description TEXT,"
    " added INTEGER NOT NULL,"
    " downloads INTEGER NOT NULL DEFAULT 0,"
    " bytes_served INTEGER NOT NULL DEFAULT 0,"
    " uploader TEXT);"
    "CREATE INDEX files_by_dir ON files(dir, lname, name);"
    "CREATE INDEX files_by_size ON files(size);"
    "CREATE INDEX files_by_type ON files(media_type);"
    "CREATE INDEX files_by_uploader ON files(uploader)"
    " WHERE uploader IS NOT NULL;"
    "CREATE TABLE dirs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " path BLOB NOT NULL UNIQUE,"
    " parent BLOB NOT NULL,"
    " name BLOB NOT NULL,"
    " lname TEXT NOT NULL);"
    "CREATE INDEX dirs_by_parent ON dirs(parent, lname, name);"
    "CREATE TABLE rooms ("
    " room TEXT PRIMARY KEY,"
    " nick TEXT);"
    "CREATE VIRTUAL TABLE files_fts USING fts5(lpath, content='files',"
    " content_rowid='id', tokenize='trigram case_sensitive 1');"
    "CREATE TRIGGER files_fts_insert AFTER INSERT ON files BEGIN"
    " INSERT INTO files_fts(rowid, lpath) VALUES (new.id, new.lpath);"
    " END;"
    "CREATE TRIGGER files_fts_delete AFTER DELETE ON files BEGIN"
    " INSERT INTO files_fts(files_fts, rowid, lpath)"
    "  VALUES ('delete', old.id, old.lpath);"
    " END;"
    "CREATE TRIGGER files_fts_update AFTER UPDATE OF lpath ON files BEGIN"
    " INSERT INTO files_fts(files_fts, rowid, lpath)"
    "  VALUES ('delete', old.id, old.lpath);"
    " INSERT INTO files_fts(rowid, lpath) VALUES (new.id, new.lpath);"
    " END;",
    /* 1 -> 2: the status-change time, so that a change whose size and
     * mtime were put back (touch -r) is seen. 0 means unknown (rows from
     * before): the first look at the file records it without hashing
     * again if nothing else changed. */
    "ALTER TABLE files ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;",
    /* 2 -> 3: descriptions are searched like paths. `ldesc` is the folded
     * description (NULL when none), a second column of the trigram index:
     * a word matches either column, `desc:` the second only. The index is
     * kept by the writer's own statements, no longer by triggers: an FTS5
     * insert from a trigger (or any statement that may write more than one
     * row) opens a statement savepoint, at which FTS5 writes its pending
     * terms out as a new segment, one per file: 80 us a file instead of
     * 15 (tests/bench/bench_scale.py). */
    "ALTER TABLE files ADD COLUMN ldesc TEXT;"
    "UPDATE files SET ldesc = fisbot_fold(description)"
    " WHERE description IS NOT NULL AND description <> '';"
    "DROP TRIGGER files_fts_insert;"
    "DROP TRIGGER files_fts_delete;"
    "DROP TRIGGER files_fts_update;"
    "DROP TABLE files_fts;"
    "CREATE VIRTUAL TABLE files_fts USING fts5(lpath, ldesc, content='files',"
    " content_rowid='id', tokenize='trigram case_sensitive 1');"
    "INSERT INTO files_fts(files_fts) VALUES ('rebuild');",
    /* 3 -> 4: two-character terms without a scan. Every place a pair of
     * characters occurs in a string of the index is either the start of
     * one of its trigrams, found through the vocabulary (a range of
     * terms), or the string's last two characters, found through these
     * two indexes of the tails. */
    "CREATE INDEX files_by_tail ON files(substr(lpath, -2));"
    "CREATE INDEX files_by_dtail ON files(substr(ldesc, -2))"
    " WHERE ldesc IS NOT NULL;"
    "CREATE VIRTUAL TABLE files_fts_terms USING fts5vocab(files_fts, row);"
    /* and a desc: filter too short for the trigram index reads only the
     * files with a description, newest first. */
    "CREATE INDEX files_described ON files(id) WHERE ldesc IS NOT NULL;",
    /* 4 -> 5: FTS5 keeps the terms of the rows written since its last
     * flush in memory, and writes them out as a new segment (to be merged
     * with the others later) whenever they pass its 'hashsize', 1 MiB by
     * default: a few hundred files' worth of trigrams. With 8 MiB, and the
     * reconcile committing 50,000 rows at a time, `fisbot scan` of
     * 1,000,000 small files takes 10-13 % less time (46.2-47.8 s ->
     * 41.5-42.4 s, tests/bench/bench_scale.py); the writer holds at most
     * that much more while a transaction is open. */
    "INSERT INTO files_fts(files_fts, rank) VALUES ('hashsize', 8388608);",
};
#define CATALOGUE_SCHEMA ((int)(sizeof(migrations) / sizeof(migrations[0])))

static void bind_under(sqlite3_stmt *st, const char *dir, bool with_self);

static const char *const stmt_sql[ST_COUNT] = {
    [ST_GET] = "SELECT " CAT_FILE_COLUMNS " FROM files WHERE id = ?1",
    [ST_GET_BY_PATH] = "SELECT " CAT_FILE_COLUMNS " FROM files WHERE path = ?1",
    [ST_FILE_ID_BY_PATH] =
        "SELECT id, size, mtime_ns, ctime_ns, ino FROM files WHERE path = ?1",
    [ST_INSERT] = "INSERT INTO files (path, dir, name, lname, lpath, size,"
                  " mtime_ns, dev, ino, added, description, uploader,"
                  " ctime_ns, ldesc)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                  " ?12, ?13, fisbot_fold(NULLIF(?11, '')))",
    [ST_UPDATE] = "UPDATE files SET size = ?2, mtime_ns = ?3, dev = ?4,"
                  " ino = ?5, ctime_ns = ?7,"
                  " sha256 = CASE WHEN ?6 THEN NULL ELSE sha256 END,"
                  " media_type = CASE WHEN ?6 THEN NULL ELSE media_type END"
                  " WHERE id = ?1",
    [ST_SET_HASH] = "UPDATE files SET sha256 = ?2, media_type = ?3"
                    " WHERE id = ?1 AND size = ?4 AND mtime_ns = ?5"
                    " AND (?6 IS NULL OR ctime_ns = ?6)"
                    " AND (?7 IS NULL OR path = ?7)",
    [ST_SET_CTIME] = "UPDATE files SET ctime_ns = ?2 WHERE id = ?1",
    [ST_SET_TYPE] = "UPDATE files SET media_type = ?2 WHERE id = ?1"
                    " AND size = ?3 AND mtime_ns = ?4 AND path = ?5"
                    " AND sha256 IS NOT NULL AND media_type IS NULL",
    [ST_UNTYPED] = "SELECT " CAT_FILE_COLUMNS " FROM files WHERE id > ?1"
                   " AND media_type IS NULL AND sha256 IS NOT NULL"
                   " ORDER BY id LIMIT ?2",
    [ST_REMOVE] = "DELETE FROM files WHERE id = ?1",
    [ST_SET_PATH] = "UPDATE files SET path = ?2, dir = ?3, name = ?4,"
                    " lname = ?5, lpath = ?6 WHERE id = ?1",
    [ST_DIR_EXISTS] = "SELECT 1 FROM dirs WHERE path = ?1",
    [ST_DIR_INSERT] = "INSERT OR IGNORE INTO dirs (path, parent, name, lname)"
                      " VALUES (?1, ?2, ?3, ?4)",
    [ST_DIR_SET_PATH] = "UPDATE dirs SET path = ?2, parent = ?3, name = ?4,"
                        " lname = ?5 WHERE id = ?1",
    [ST_FILES_UNDER] =
        "SELECT id, path FROM files WHERE path > ?1 AND path < ?2",
    [ST_DIRS_UNDER] = "SELECT id, path FROM dirs WHERE path = ?3"
                      " OR (path > ?1 AND path < ?2)",
    [ST_REMOVE_FILES_UNDER] = "DELETE FROM files WHERE path > ?1 AND path < ?2",
    [ST_REMOVE_DIRS_UNDER] = "DELETE FROM dirs WHERE path = ?3"
                             " OR (path > ?1 AND path < ?2)",
    [ST_COUNT_DIRS] = "SELECT count(*) FROM dirs WHERE parent = ?1",
    [ST_COUNT_FILES] = "SELECT count(*) FROM files WHERE dir = ?1",
    [ST_LIST_DIRS] = "SELECT path FROM dirs WHERE parent = ?1"
                     " ORDER BY lname, name LIMIT ?2 OFFSET ?3",
    [ST_LIST_FILES] = "SELECT " CAT_FILE_COLUMNS " FROM files WHERE dir = ?1"
                      " ORDER BY lname, name LIMIT ?2 OFFSET ?3",
    [ST_NEWEST] = "SELECT " CAT_FILE_COLUMNS " FROM files"
                  " WHERE sha256 IS NOT NULL ORDER BY id DESC LIMIT ?1",
    [ST_STATS_FILES] = "SELECT count(*), total(size), total(downloads),"
                       " total(bytes_served) FROM files",
    [ST_STATS_DIRS] = "SELECT count(*) FROM dirs",
    [ST_FOREACH] = "SELECT " CAT_FILE_COLUMNS " FROM files ORDER BY path",
    [ST_FOREACH_DIR] = "SELECT path FROM dirs ORDER BY path",
    [ST_FOREACH_UNDER] = "SELECT " CAT_FILE_COLUMNS " FROM files"
                         " WHERE path > ?1 AND path < ?2 ORDER BY path",
    [ST_FOREACH_DIR_UNDER] = "SELECT path FROM dirs"
                             " WHERE path > ?1 AND path < ?2 ORDER BY path",
    [ST_FOREACH_AFTER] = "SELECT " CAT_FILE_COLUMNS " FROM files"
                         " WHERE path > ?1 AND path < ?2"
                         " ORDER BY path LIMIT ?3",
    [ST_FOREACH_AFTER_ALL] = "SELECT " CAT_FILE_COLUMNS " FROM files"
                             " WHERE path > ?1 ORDER BY path LIMIT ?3",
    [ST_USAGE] = "SELECT total(size) FROM files WHERE uploader = ?1",
    [ST_SET_DESC] = "UPDATE files SET description = ?2,"
                    " ldesc = fisbot_fold(NULLIF(?2, '')) WHERE id = ?1",
    [ST_SET_UPLOADER] = "UPDATE files SET uploader = ?2 WHERE id = ?1",
    [ST_ADD_DOWNLOAD] = "UPDATE files SET downloads = downloads + ?2,"
                        " bytes_served = bytes_served + ?3 WHERE id = ?1",
    [ST_ROOM_ADD] = "INSERT OR REPLACE INTO rooms (room, nick)"
                    " VALUES (?1, ?2)",
    [ST_ROOM_REMOVE] = "DELETE FROM rooms WHERE room = ?1",
    [ST_ROOM_LIST] = "SELECT room, nick FROM rooms ORDER BY room",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_FTS_ADD] = "INSERT INTO files_fts(rowid, lpath, ldesc)"
                   " VALUES (?1, ?2, ?3)",
    [ST_FTS_DEL] = "INSERT INTO files_fts(files_fts, rowid, lpath, ldesc)"
                   " VALUES ('delete', ?1, ?2, ?3)",
    [ST_FTS_OF] = "SELECT lpath, ldesc FROM files WHERE id = ?1",
    [ST_FTS_UNDER] = "SELECT id, lpath, ldesc FROM files"
                     " WHERE path > ?1 AND path < ?2",
    [ST_SAVEPOINT] = "SAVEPOINT catalogue",
    [ST_RELEASE] = "RELEASE catalogue",
    [ST_ROLLBACK_TO] = "ROLLBACK TO catalogue",
};

void cat_log_error(struct catalogue *c, const char *what)
{
	int code = sqlite3_errcode(c->db) & 0xff;
	char *msg;

	if (code == SQLITE_FULL)
		msg = xasprintf("catalogue %s: %s: the disk is full (%s): free "
		                "some space on the catalogue's disk",
		                c->path, what, sqlite3_errmsg(c->db));
	else
		msg = xasprintf("catalogue %s: %s: %s", c->path, what,
		                sqlite3_errmsg(c->db));
	if (c->keep_errors) {
		free(c->last_error);
		c->last_error = msg;
		return;
	}
	if (code == SQLITE_FULL)
		log_errorx("%s", msg);
	else
		log_warnx("%s", msg);
	free(msg);
}

void catalogue_keep_errors(struct catalogue *c, bool keep)
{
	c->keep_errors = keep;
}

const char *catalogue_last_error(struct catalogue *c)
{
	return c->last_error;
}

void catalogue_clear_error(struct catalogue *c)
{
	free(c->last_error);
	c->last_error = NULL;
}

sqlite3_stmt *cat_stmt(struct catalogue *c, enum cat_stmt id)
{
	sqlite3_stmt *st = c->stmts[id];

	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return st;
	}
	if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1,
	                       SQLITE_PREPARE_PERSISTENT, &st,
	                       NULL) != SQLITE_OK) {
		cat_log_error(c, "preparing a statement");
		return NULL;
	}
	c->stmts[id] = st;
	return st;
}

/* Returns a copy of the BLOB or TEXT in column col (NULL if NULL). */
static char *column_string(sqlite3_stmt *st, int col)
{
	const void *p;
	int n;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	p = sqlite3_column_blob(st, col);
	n = sqlite3_column_bytes(st, col);
	return xstrndup(p != NULL ? p : "", (size_t)n);
}

void cat_read_file(sqlite3_stmt *st, struct cat_file *f)
{
	const void *sha;

	memset(f, 0, sizeof(*f));
	f->id = sqlite3_column_int64(st, 0);
	f->path = column_string(st, 1);
	f->size = (uint64_t)sqlite3_column_int64(st, 2);
	f->mtime_ns = sqlite3_column_int64(st, 3);
	f->dev = (uint64_t)sqlite3_column_int64(st, 4);
	f->ino = (uint64_t)sqlite3_column_int64(st, 5);
	sha = sqlite3_column_blob(st, 6);
	if (sha != NULL && sqlite3_column_bytes(st, 6) == 32) {
		f->hashed = true;
		memcpy(f->sha256, sha, 32);
	}
	f->media_type = column_string(st, 7);
	f->description = column_string(st, 8);
	f->added = sqlite3_column_int64(st, 9);
	f->downloads = (uint64_t)sqlite3_column_int64(st, 10);
	f->bytes_served = (uint64_t)sqlite3_column_int64(st, 11);
	f->uploader = column_string(st, 12);
	if (sqlite3_column_count(st) > 13)
		f->ctime_ns = sqlite3_column_int64(st, 13);
}

struct cat_entry *cat_page_add(struct cat_page *p)
{
	struct cat_entry *e;

	p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
	e = &p->v[p->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

void cat_file_clear(struct cat_file *f)
{
	if (f == NULL)
		return;
	free(f->path);
	free(f->media_type);
	free(f->description);
	free(f->uploader);
	memset(f, 0, sizeof(*f));
}

void cat_page_clear(struct cat_page *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].dir_path);
		cat_file_clear(&p->v[i].file);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* Binds the NUL-terminated s as a BLOB (paths are bytes). */
static int bind_path(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_blob(st, i, s, (int)strlen(s), SQLITE_TRANSIENT);
}

/* Binds s as TEXT, or NULL if s is NULL. */
static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* Runs a statement that returns no row. Returns 0, or -1 (logged). */
static int run(struct catalogue *c, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		cat_log_error(c, what);
		return -1;
	}
	return 0;
}

/* Runs a fixed statement (no parameters). */
static int run_fixed(struct catalogue *c, enum cat_stmt id, const char *what)
{
	sqlite3_stmt *st = cat_stmt(c, id);

	return st == NULL ? -1 : run(c, st, what);
}

/* Reads one integer pragma or query result into *v. Returns the SQLite
 * result code. */
static int query_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Applies the migrations from the schema version found to the latest, in
 * one transaction. Writes nothing if the schema is the latest already (the
 * writer then starts even on a full disk, and waits for room). Returns 0,
 * or -1 with *cause. */
static int migrate(struct catalogue *c, char **cause)
{
	int64_t version = 0, app = 0;
	char *err = NULL;
	char *sql;

	if (query_int(c->db, "PRAGMA user_version", &version) == SQLITE_OK &&
	    query_int(c->db, "PRAGMA application_id", &app) == SQLITE_OK &&
	    version == CATALOGUE_SCHEMA && app == CATALOGUE_APP_ID)
		return 0;
	if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, &err) !=
	    SQLITE_OK)
		goto fail;
	/* Read it again inside the transaction: another writer may have
	 * migrated meanwhile. */
	if (query_int(c->db, "PRAGMA user_version", &version) != SQLITE_OK)
		goto fail;
	for (int64_t v = version; v < CATALOGUE_SCHEMA; v++) {
		if (sqlite3_exec(c->db, migrations[v], NULL, NULL, &err) !=
		    SQLITE_OK)
			goto fail;
		log_info("catalogue %s: schema upgraded to version %" PRId64,
		         c->path, v + 1);
	}
	sql = xasprintf("PRAGMA application_id = %d; PRAGMA user_version = %d",
	                CATALOGUE_APP_ID, CATALOGUE_SCHEMA);
	if (sqlite3_exec(c->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		free(sql);
		goto fail;
	}
	free(sql);
	if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, &err) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	*cause = xasprintf("%s: cannot set up the catalogue: %s", c->path,
	                   err != NULL ? err : sqlite3_errmsg(c->db));
	sqlite3_free(err);
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Checks that the open file is a fisbot catalogue (or, when writing, a new
 * empty database) of a schema this program knows. Returns 0, or -1 with
 * *cause.
 */
static int check_identity(struct catalogue *c, char **cause)
{
	int64_t app = 0, version = 0, tables = 0;
	int rc;

	rc = query_int(c->db, "PRAGMA application_id", &app);
	if (rc == SQLITE_OK)
		rc = query_int(c->db, "PRAGMA user_version", &version);
	if (rc == SQLITE_OK)
		rc = query_int(c->db, "SELECT count(*) FROM sqlite_master",
		               &tables);
	if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
		*cause = xasprintf("%s is not a fisbot catalogue or is "
		                   "corrupt (%s); refusing to use it",
		                   c->path, sqlite3_errstr(rc));
		return -1;
	}
	if (rc != SQLITE_OK && sqlite3_system_errno(c->db) == ENOSPC) {
		/* Opening a WAL database creates its shared-memory file. */
		*cause = xasprintf("%s: cannot open the catalogue: the disk is "
		                   "full (%s): free some space on the "
		                   "catalogue's disk",
		                   c->path, sqlite3_errmsg(c->db));
		return -1;
	}
	if (rc != SQLITE_OK) {
		*cause = xasprintf("%s: cannot read the catalogue: %s", c->path,
		                   sqlite3_errmsg(c->db));
		return -1;
	}
	if (app == 0 && version == 0 && tables == 0) {
		if (c->writer)
			return 0; /* new: migrate() creates the schema */
		*cause = xasprintf("%s is an empty database, not a fisbot "
		                   "catalogue yet (run fisbot scan)",
		                   c->path);
		return -1;
	}
	if (app != CATALOGUE_APP_ID) {
		*cause = xasprintf("%s is not a fisbot catalogue (another "
		                   "application's SQLite database); refusing "
		                   "to use it",
		                   c->path);
		return -1;
	}
	if (version > CATALOGUE_SCHEMA) {
		*cause = xasprintf("%s has catalogue schema %" PRId64
		                   ", newer than this fisbot knows (%d)",
		                   c->path, version, CATALOGUE_SCHEMA);
		return -1;
	}
	if (version < CATALOGUE_SCHEMA && !c->writer) {
		*cause = xasprintf("%s has the old catalogue schema %" PRId64
		                   "; run fisbot scan to upgrade it",
		                   c->path, version);
		return -1;
	}
	return 0;
}

/* Runs PRAGMA quick_check. Returns 0, or -1 with *cause. */
static int check_integrity(struct catalogue *c, char **cause)
{
	sqlite3_stmt *st;
	const unsigned char *msg;
	int rc;

	rc = sqlite3_prepare_v2(c->db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		msg = sqlite3_column_text(st, 0);
		if (msg != NULL && strcmp((const char *)msg, "ok") == 0) {
			sqlite3_finalize(st);
			return 0;
		}
		*cause =
		    xasprintf("%s is corrupt (%s); refusing to use it "
		              "(restore it, or move it away to start a "
		              "new catalogue)",
		              c->path, msg != NULL ? (const char *)msg : "?");
	} else {
		*cause = xasprintf("%s is corrupt or unreadable (%s); refusing "
		                   "to use it",
		                   c->path, sqlite3_errmsg(c->db));
	}
	sqlite3_finalize(st);
	return -1;
}

/* fisbot_fold(x): query_fold of a TEXT or BLOB (NULL stays NULL). */
static void sql_fold(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const void *p;
	char *folded;

	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	p = sqlite3_value_blob(argv[0]);
	folded = query_fold(p != NULL ? p : "",
	                    (size_t)sqlite3_value_bytes(argv[0]));
	sqlite3_result_text(ctx, folded, -1, free);
}

/* Opens the catalogue at path, as its writer or for reading. */
static struct catalogue *open_as(const char *path, bool writer, char **cause)
{
	struct catalogue *c = xcalloc(1, sizeof(*c));
	int flags = SQLITE_OPEN_NOMUTEX;
	char *err = NULL;
	int rc;

	c->writer = writer;
	c->path = xstrdup(path);
	c->search_ms = CATALOGUE_SEARCH_MS;
	if (!writer) {
		flags |= SQLITE_OPEN_READONLY;
		if (access(path, F_OK) == -1) {
			*cause = xasprintf("no catalogue at %s (%s; run "
			                   "fisbot scan first)",
			                   path, strerror(errno));
			goto fail;
		}
	} else {
		flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	}
	rc = sqlite3_open_v2(path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		*cause = xasprintf("cannot open the catalogue %s: %s", path,
		                   c->db != NULL ? sqlite3_errmsg(c->db)
		                                 : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, CATALOGUE_BUSY_MS);
	if (writer && sqlite3_db_readonly(c->db, "main") == 1) {
		*cause = xasprintf("cannot write the catalogue %s (read-only "
		                   "file)",
		                   path);
		goto fail;
	}
	/* Before the migrations, which use fisbot_fold. */
	if (sqlite3_create_function(c->db, "fisbot_fold", 1,
	                            SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
	                            sql_fold, NULL, NULL) != SQLITE_OK)
		goto sql_fail;
	if (check_identity(c, cause) == -1)
		goto fail;
	if (writer) {
		if (sqlite3_exec(c->db,
		                 "PRAGMA journal_mode = WAL;"
		                 "PRAGMA synchronous = NORMAL;",
		                 NULL, NULL, &err) != SQLITE_OK)
			goto sql_fail;
		if (check_integrity(c, cause) == -1 || migrate(c, cause) == -1)
			goto fail;
	}
	if (sqlite3_exec(c->db, "PRAGMA foreign_keys = ON", NULL, NULL, &err) !=
	    SQLITE_OK)
		goto sql_fail;
	if (sqlite3_create_function(c->db, "fisbot_match", 2,
	                            SQLITE_UTF8 | SQLITE_DETERMINISTIC, c,
	                            cat_sql_match, NULL, NULL) != SQLITE_OK)
		goto sql_fail;
	if (sqlite3_create_function(c->db, "fisbot_in", 2,
	                            SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
	                            cat_sql_in, NULL, NULL) != SQLITE_OK)
		goto sql_fail;
	return c;
sql_fail:
	*cause = xasprintf("%s: %s", path,
	                   err != NULL ? err : sqlite3_errmsg(c->db));
	sqlite3_free(err);
fail:
	catalogue_close(c);
	return NULL;
}

struct catalogue *catalogue_open(const char *path, char **cause)
{
	return open_as(path, false, cause);
}

struct catalogue *catalogue_open_writer(const char *path, char **cause)
{
	return open_as(path, true, cause);
}

void catalogue_close(struct catalogue *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(c->stmts[i]);
	if (c->db != NULL) {
		if (c->writer)
			sqlite3_exec(c->db, "PRAGMA optimize", NULL, NULL,
			             NULL);
		if (sqlite3_close(c->db) != SQLITE_OK)
			log_warnx("catalogue %s: close: %s", c->path,
			          sqlite3_errmsg(c->db));
	}
	free(c->last_error);
	free(c->path);
	free(c);
}

/* --- reading ---------------------------------------------------------- */

/* Steps a statement expected to return at most one file row. */
static int get_one(struct catalogue *c, sqlite3_stmt *st, struct cat_file *out)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		cat_read_file(st, out);
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	cat_log_error(c, "reading a file");
	return -1;
}

int catalogue_get(struct catalogue *c, int64_t id, struct cat_file *out)
{
	sqlite3_stmt *st = cat_stmt(c, ST_GET);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return get_one(c, st, out);
}

int catalogue_get_by_path(struct catalogue *c, const char *path,
                          struct cat_file *out)
{
	sqlite3_stmt *st = cat_stmt(c, ST_GET_BY_PATH);

	if (st == NULL)
		return -1;
	bind_path(st, 1, path);
	return get_one(c, st, out);
}

int catalogue_resolve(struct catalogue *c, const char *id_or_path,
                      struct cat_file *out)
{
	const char *s = id_or_path;
	size_t digits;
	int rc;

	if (s[0] == '#')
		s++;
	digits = strspn(s, "0123456789");
	if (digits > 0 && digits <= 18 && s[digits] == '\0') {
		rc = catalogue_get(c, strtoll(s, NULL, 10), out);
		if (rc != 0 || s != id_or_path)
			return rc;
	}
	/* A path, maybe written with a leading '/'. */
	s = id_or_path;
	while (*s == '/')
		s++;
	return catalogue_get_by_path(c, s, out);
}

/* Appends "label: value" to out, value sanitised, or fallback if value is
 * NULL or empty. */
static void info_field(struct strlist *out, const char *label,
                       const char *value, const char *fallback)
{
	char *clean, *line;

	if (value == NULL || value[0] == '\0') {
		line = xasprintf("%s: %s", label, fallback);
	} else {
		clean = text_sanitize(value, strlen(value));
		line = xasprintf("%s: %s", label, clean);
		free(clean);
	}
	strlist_add(out, line);
	free(line);
}

/* Formats t (unix seconds) as XEP-0082 UTC into date (32 bytes). */
static const char *info_date(int64_t t, char date[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(date, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(date, 32, "%" PRId64, t);
	return date;
}

void catalogue_info_lines(const struct cat_file *f, struct strlist *out)
{
	const char *name = strrchr(f->path, '/');
	char size[TEXT_SIZE_LEN], date[32], hex[65], *line;
	int64_t mtime = f->mtime_ns / 1000000000;

	if (f->mtime_ns < 0 && f->mtime_ns % 1000000000 != 0)
		mtime--; /* floor, before 1970 */
	name = name != NULL ? name + 1 : f->path;
	info_field(out, "name", name, "");
	info_field(out, "path", f->path, "");
	line = xasprintf("size: %s (%" PRIu64 " bytes)",
	                 text_human_size(f->size, size), f->size);
	strlist_add(out, line);
	free(line);
	/* The file's date (as in HTTP, fis and XEP-0447), and when it
	 * entered the catalogue. */
	info_field(out, "modified", info_date(mtime, date), "");
	info_field(out, "added", info_date(f->added, date), "");
	info_field(out, "sha-256",
	           f->hashed ? text_hex(f->sha256, 32, hex) : NULL,
	           "(not computed yet)");
	info_field(out, "type", f->media_type, "(unknown)");
	info_field(out, "description", f->description, "(none)");
	line = xasprintf("downloads: %" PRIu64, f->downloads);
	strlist_add(out, line);
	free(line);
}

int catalogue_is_dir(struct catalogue *c, const char *dir)
{
	sqlite3_stmt *st;
	int rc;

	if (dir[0] == '\0')
		return 1;
	st = cat_stmt(c, ST_DIR_EXISTS);
	if (st == NULL)
		return -1;
	bind_path(st, 1, dir);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	cat_log_error(c, "looking up a folder");
	return -1;
}

/* Runs a count(*) statement whose ?1 is dir. Returns 0 or -1. */
static int count_in(struct catalogue *c, enum cat_stmt id, const char *dir,
                    uint64_t *n)
{
	sqlite3_stmt *st = cat_stmt(c, id);
	int rc;

	if (st == NULL)
		return -1;
	bind_path(st, 1, dir);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		cat_log_error(c, "counting a folder");
		return -1;
	}
	return 0;
}

int catalogue_list(struct catalogue *c, const char *dir, uint64_t offset,
                   unsigned limit, struct cat_page *out)
{
	uint64_t n_dirs, n_files;
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = catalogue_is_dir(c, dir);
	if (rc != 1)
		return rc;
	if (count_in(c, ST_COUNT_DIRS, dir, &n_dirs) == -1 ||
	    count_in(c, ST_COUNT_FILES, dir, &n_files) == -1)
		return -1;
	out->total = n_dirs + n_files;
	if (offset < n_dirs && limit > 0) {
		st = cat_stmt(c, ST_LIST_DIRS);
		if (st == NULL)
			goto fail;
		bind_path(st, 1, dir);
		sqlite3_bind_int64(st, 2, limit);
		sqlite3_bind_int64(st, 3, (int64_t)offset);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct cat_entry *e = cat_page_add(out);

			e->is_dir = true;
			e->dir_path = column_string(st, 0);
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto sql_fail;
	}
	if (out->n < limit) {
		st = cat_stmt(c, ST_LIST_FILES);
		if (st == NULL)
			goto fail;
		bind_path(st, 1, dir);
		sqlite3_bind_int64(st, 2, limit - out->n);
		sqlite3_bind_int64(
		    st, 3, (int64_t)(offset > n_dirs ? offset - n_dirs : 0));
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			cat_read_file(st, &cat_page_add(out)->file);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto sql_fail;
	}
	return 1;
sql_fail:
	cat_log_error(c, "listing a folder");
fail:
	cat_page_clear(out);
	return -1;
}

int catalogue_newest(struct catalogue *c, unsigned n, struct cat_page *out)
{
	sqlite3_stmt *st = cat_stmt(c, ST_NEWEST);
	int rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, n);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cat_read_file(st, &cat_page_add(out)->file);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		cat_log_error(c, "reading the newest files");
		cat_page_clear(out);
		return -1;
	}
	out->total = out->n;
	return 1;
}

int catalogue_stats(struct catalogue *c, struct cat_stats *out)
{
	sqlite3_stmt *st = cat_stmt(c, ST_STATS_FILES);
	int rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->files = (uint64_t)sqlite3_column_int64(st, 0);
		out->total_size = (uint64_t)sqlite3_column_double(st, 1);
		out->downloads = (uint64_t)sqlite3_column_double(st, 2);
		out->bytes_served = (uint64_t)sqlite3_column_double(st, 3);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		goto fail;
	st = cat_stmt(c, ST_STATS_DIRS);
	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		out->folders = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		goto fail;
	return 0;
fail:
	cat_log_error(c, "reading statistics");
	return -1;
}

/* Prepares statement id (not the cached one: the callback may read the
 * catalogue meanwhile), bound to the range under dir unless dir is "". */
static sqlite3_stmt *prepare_range(struct catalogue *c, enum cat_stmt id,
                                   const char *dir)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(c->db, stmt_sql[id], -1, &st, NULL) != SQLITE_OK)
		return NULL;
	if (dir[0] != '\0')
		bind_under(st, dir, false);
	return st;
}

/* catalogue_foreach under dir ("" for all). */
static int foreach_files(struct catalogue *c, const char *dir,
                         int (*fn)(const struct cat_file *f, void *arg),
                         void *arg)
{
	sqlite3_stmt *st = prepare_range(
	    c, dir[0] != '\0' ? ST_FOREACH_UNDER : ST_FOREACH, dir);
	int rc = SQLITE_DONE, stop = 0;

	if (st == NULL) {
		cat_log_error(c, "reading every file");
		return -1;
	}
	while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cat_file f;

		cat_read_file(st, &f);
		stop = fn(&f, arg);
		cat_file_clear(&f);
	}
	if (stop == 0 && rc != SQLITE_DONE) {
		cat_log_error(c, "reading every file");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* catalogue_foreach_dir under dir ("" for all). */
static int foreach_dirs(struct catalogue *c, const char *dir,
                        int (*fn)(const char *dir, void *arg), void *arg)
{
	sqlite3_stmt *st = prepare_range(
	    c, dir[0] != '\0' ? ST_FOREACH_DIR_UNDER : ST_FOREACH_DIR, dir);
	int rc = SQLITE_DONE, stop = 0;

	if (st == NULL) {
		cat_log_error(c, "reading every folder");
		return -1;
	}
	while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *d = column_string(st, 0);

		stop = fn(d, arg);
		free(d);
	}
	if (stop == 0 && rc != SQLITE_DONE) {
		cat_log_error(c, "reading every folder");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int catalogue_foreach(struct catalogue *c,
                      int (*fn)(const struct cat_file *f, void *arg), void *arg)
{
	return foreach_files(c, "", fn, arg);
}

int catalogue_foreach_under(struct catalogue *c, const char *dir,
                            int (*fn)(const struct cat_file *f, void *arg),
                            void *arg)
{
	return foreach_files(c, dir, fn, arg);
}

int catalogue_foreach_after(struct catalogue *c, const char *dir,
                            const char *after, unsigned limit,
                            int (*fn)(const struct cat_file *f, void *arg),
                            void *arg)
{
	sqlite3_stmt *st = NULL;
	size_t n = strlen(dir);
	char *lo = xmalloc(n + 2);
	int rc, stop = 0, count = 0;

	/* Both bounds in the statement: an upper bound the index could not
	 * use would read on past the range to fill the page. */
	if (sqlite3_prepare_v2(
	        c->db, stmt_sql[n ? ST_FOREACH_AFTER : ST_FOREACH_AFTER_ALL],
	        -1, &st, NULL) != SQLITE_OK)
		goto fail;
	/* The range of dir: paths from "dir/" up to "dir0" ('0' follows '/'
	 * in the index's byte order); the whole table for "". */
	memcpy(lo, dir, n);
	lo[n] = '/';
	if (after != NULL)
		sqlite3_bind_blob(st, 1, after, (int)strlen(after),
		                  SQLITE_TRANSIENT);
	else
		sqlite3_bind_blob(st, 1, lo, n ? (int)n + 1 : 0,
		                  SQLITE_TRANSIENT);
	lo[n] = '/' + 1;
	if (n > 0)
		sqlite3_bind_blob(st, 2, lo, (int)n + 1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, (int)limit);
	while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cat_file f;

		cat_read_file(st, &f);
		stop = fn(&f, arg);
		cat_file_clear(&f);
		count++;
	}
	if (stop == 0 && rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	free(lo);
	return count;
fail:
	cat_log_error(c, "reading a range of files");
	sqlite3_finalize(st);
	free(lo);
	return -1;
}

int catalogue_foreach_dir(struct catalogue *c,
                          int (*fn)(const char *dir, void *arg), void *arg)
{
	return foreach_dirs(c, "", fn, arg);
}

int catalogue_foreach_dir_under(struct catalogue *c, const char *dir,
                                int (*fn)(const char *dir, void *arg),
                                void *arg)
{
	return foreach_dirs(c, dir, fn, arg);
}

int catalogue_uploader_usage(struct catalogue *c, const char *uploader,
                             uint64_t *bytes)
{
	sqlite3_stmt *st = cat_stmt(c, ST_USAGE);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, uploader);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*bytes = (uint64_t)sqlite3_column_double(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		cat_log_error(c, "reading an uploader's usage");
		return -1;
	}
	return 0;
}

/* --- writing ---------------------------------------------------------- */

void catalogue_set_cache(struct catalogue *c, unsigned kib)
{
	char *sql = xasprintf("PRAGMA cache_size = -%u", kib ? kib : 2000);

	if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		cat_log_error(c, "setting the cache size");
	if (kib == 0)
		sqlite3_db_release_memory(c->db);
	free(sql);
}

int catalogue_begin(struct catalogue *c)
{
	return run_fixed(c, ST_BEGIN, "beginning a transaction");
}

int catalogue_commit(struct catalogue *c)
{
	return run_fixed(c, ST_COMMIT, "committing");
}

int catalogue_rollback(struct catalogue *c)
{
	/* After some errors (SQLITE_FULL, SQLITE_IOERR...) SQLite has
	 * already rolled the transaction back: nothing left to do. */
	if (sqlite3_get_autocommit(c->db))
		return 0;
	return run_fixed(c, ST_ROLLBACK, "rolling back");
}

int catalogue_fts_fragmented(struct catalogue *c, int *segments)
{
	/* files_fts_idx has an entry for each leaf page on which a term
	 * starts, by segment: the pages of a long doclist have none, but
	 * every segment has such pages in proportion. */
	static const char sql[] =
	    "SELECT count(*), coalesce(max(n), 0), coalesce(sum(n), 0)"
	    " FROM (SELECT count(*) AS n FROM files_fts_idx GROUP BY segid)";
	sqlite3_stmt *st;
	int64_t largest = 0, pages = 0;
	int rc;

	*segments = 0;
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		cat_log_error(c, "reading the search index's segments");
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*segments = sqlite3_column_int(st, 0);
		largest = sqlite3_column_int64(st, 1);
		pages = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		cat_log_error(c, "reading the search index's segments");
		return -1;
	}
	return *segments > 1 && largest * 2 < pages;
}

int catalogue_fts_merge(struct catalogue *c, int pages)
{
	/* A negative count merges every segment, whatever its level, into
	 * one; FTS5 resumes a merge begun by an earlier call. It wrote
	 * nothing (fewer than two changes) once the index is one segment. */
	char *sql = xasprintf("INSERT INTO files_fts(files_fts, rank)"
	                      " VALUES ('merge', %d)",
	                      -(pages > 0 ? pages : 1));
	int before = sqlite3_total_changes(c->db), rc;

	rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		cat_log_error(c, "merging the search index");
		return -1;
	}
	return sqlite3_total_changes(c->db) - before >= 2;
}

/* Splits path into its folder ("" at the top) and name; the caller frees
 * *dir. */
static void split_path(const char *path, char **dir, const char **name)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		*dir = xstrdup("");
		*name = path;
	} else {
		*dir = xstrndup(path, (size_t)(slash - path));
		*name = slash + 1;
	}
}

/* Returns true if path is a usable relative path: not empty, no leading or
 * trailing '/', no empty, "." or ".." component. */
static bool path_ok(const char *path)
{
	const char *p = path;

	if (*p == '\0')
		return false;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

/* Adds one folder row (its parent must be handled by the caller). */
static int dir_insert(struct catalogue *c, const char *dir)
{
	sqlite3_stmt *st = cat_stmt(c, ST_DIR_INSERT);
	const char *name;
	char *parent, *lname;
	int rc;

	if (st == NULL)
		return -1;
	split_path(dir, &parent, &name);
	lname = query_fold(name, strlen(name));
	bind_path(st, 1, dir);
	bind_path(st, 2, parent);
	bind_path(st, 3, name);
	bind_text(st, 4, lname);
	rc = run(c, st, "adding a folder");
	free(parent);
	free(lname);
	return rc;
}

int catalogue_add_dir(struct catalogue *c, const char *dir)
{
	char *buf;
	int rc;

	if (dir[0] == '\0')
		return 0;
	if (!path_ok(dir)) {
		log_warnx("catalogue: bad folder path \"%s\"", dir);
		return -1;
	}
	rc = catalogue_is_dir(c, dir);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	/* Add every ancestor, top first (existing ones are ignored). */
	buf = xstrdup(dir);
	for (char *p = strchr(buf, '/');; p = strchr(p + 1, '/')) {
		if (p != NULL)
			*p = '\0';
		rc = dir_insert(c, buf);
		if (p == NULL || rc == -1)
			break;
		*p = '/';
	}
	free(buf);
	return rc;
}

/* Adds row id's folded path and description (NULL for none) to the
 * trigram index. */
static int fts_add(struct catalogue *c, int64_t id, const char *lpath,
                   const char *ldesc)
{
	sqlite3_stmt *st = cat_stmt(c, ST_FTS_ADD);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, lpath);
	bind_text(st, 3, ldesc);
	return run(c, st, "indexing a file");
}

/* Takes row id out of the trigram index (the values it was indexed with,
 * as an external-content table needs). Returns 0, or -1. */
static int fts_del(struct catalogue *c, int64_t id, const unsigned char *lpath,
                   const unsigned char *ldesc)
{
	sqlite3_stmt *st = cat_stmt(c, ST_FTS_DEL);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, (const char *)lpath, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, (const char *)ldesc, -1, SQLITE_TRANSIENT);
	return run(c, st, "unindexing a file");
}

/* Takes row id out of the trigram index, reading what it was indexed
 * with; *lpath and *ldesc (if not NULL) get copies of those (the caller
 * frees them). Returns 1, 0 if there is no such row, or -1. */
static int fts_del_id(struct catalogue *c, int64_t id, char **lpath,
                      char **ldesc)
{
	sqlite3_stmt *st = cat_stmt(c, ST_FTS_OF);
	char *lp = NULL, *ld = NULL;
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *a = sqlite3_column_text(st, 0);
		const unsigned char *b = sqlite3_column_text(st, 1);

		lp = xstrdup(a != NULL ? (const char *)a : "");
		ld = b != NULL ? xstrdup((const char *)b) : NULL;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			return 0;
		cat_log_error(c, "reading a file");
		return -1;
	}
	if (fts_del(c, id, (const unsigned char *)lp,
	            (const unsigned char *)ld) == -1) {
		free(lp);
		free(ld);
		return -1;
	}
	if (lpath != NULL)
		*lpath = lp;
	else
		free(lp);
	if (ldesc != NULL)
		*ldesc = ld;
	else
		free(ld);
	return 1;
}

/* Opens a savepoint when no transaction is open, so that a row and its
 * index entry change together. Returns 1 if one was opened, 0 if not
 * needed, -1 on error. */
static int atomic_begin(struct catalogue *c)
{
	if (!sqlite3_get_autocommit(c->db))
		return 0;
	return run_fixed(c, ST_SAVEPOINT, "starting a change") == -1 ? -1 : 1;
}

/* Ends what atomic_begin opened (opened: its result): kept if rc is 0,
 * undone if -1. Returns rc, or -1 if ending failed. */
static int atomic_end(struct catalogue *c, int opened, int rc)
{
	if (opened != 1)
		return rc;
	if (rc == -1)
		run_fixed(c, ST_ROLLBACK_TO, "undoing a change");
	if (run_fixed(c, ST_RELEASE, "ending a change") == -1)
		return -1;
	return rc;
}

int catalogue_upsert(struct catalogue *c, struct cat_file *f)
{
	sqlite3_stmt *st;
	const char *name;
	char *dir = NULL, *lname = NULL, *lpath = NULL, *ldesc = NULL;
	int rc, opened, ret = -1;

	if (!path_ok(f->path)) {
		log_warnx("catalogue: bad file path \"%s\"", f->path);
		return -1;
	}
	st = cat_stmt(c, ST_FILE_ID_BY_PATH);
	if (st == NULL)
		return -1;
	bind_path(st, 1, f->path);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		int64_t ctime_ns = sqlite3_column_int64(st, 3);
		/* An unknown ctime (0: a row from before ctimes were kept, or
		 * a caller that has none) is only taken on for the same inode,
		 * whose content may be taken as unchanged. */
		bool changed =
		    (uint64_t)sqlite3_column_int64(st, 1) != f->size ||
		    sqlite3_column_int64(st, 2) != f->mtime_ns ||
		    (ctime_ns != 0 && f->ctime_ns != 0
		         ? ctime_ns != f->ctime_ns
		         : (uint64_t)sqlite3_column_int64(st, 4) != f->ino);

		sqlite3_reset(st);
		st = cat_stmt(c, ST_UPDATE);
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (int64_t)f->size);
		sqlite3_bind_int64(st, 3, f->mtime_ns);
		sqlite3_bind_int64(st, 4, (int64_t)f->dev);
		sqlite3_bind_int64(st, 5, (int64_t)f->ino);
		sqlite3_bind_int(st, 6, changed);
		sqlite3_bind_int64(st, 7, f->ctime_ns);
		if (run(c, st, "updating a file") == -1)
			return -1;
		f->id = id;
		return 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		cat_log_error(c, "looking up a file");
		return -1;
	}

	split_path(f->path, &dir, &name);
	if (catalogue_add_dir(c, dir) == -1)
		goto out;
	lname = query_fold(name, strlen(name));
	lpath = query_fold(f->path, strlen(f->path));
	st = cat_stmt(c, ST_INSERT);
	if (st == NULL)
		goto out;
	f->added = (int64_t)time(NULL);
	bind_path(st, 1, f->path);
	bind_path(st, 2, dir);
	bind_path(st, 3, name);
	bind_text(st, 4, lname);
	bind_text(st, 5, lpath);
	sqlite3_bind_int64(st, 6, (int64_t)f->size);
	sqlite3_bind_int64(st, 7, f->mtime_ns);
	sqlite3_bind_int64(st, 8, (int64_t)f->dev);
	sqlite3_bind_int64(st, 9, (int64_t)f->ino);
	sqlite3_bind_int64(st, 10, f->added);
	bind_text(st, 11, f->description);
	bind_text(st, 12, f->uploader);
	sqlite3_bind_int64(st, 13, f->ctime_ns);
	if (f->description != NULL && f->description[0] != '\0')
		ldesc = query_fold(f->description, strlen(f->description));
	opened = atomic_begin(c);
	if (opened == -1)
		goto out;
	rc = run(c, st, "adding a file");
	if (rc == 0) {
		f->id = sqlite3_last_insert_rowid(c->db);
		rc = fts_add(c, f->id, lpath, ldesc);
	}
	if (atomic_end(c, opened, rc) == -1)
		goto out;
	ret = 0;
out:
	free(dir);
	free(lname);
	free(lpath);
	free(ldesc);
	return ret;
}

int catalogue_set_hash(struct catalogue *c, int64_t id, uint64_t size,
                       int64_t mtime_ns, const unsigned char sha256[32],
                       const char *media_type, bool *stale)
{
	sqlite3_stmt *st = cat_stmt(c, ST_SET_HASH);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_blob(st, 2, sha256, 32, SQLITE_TRANSIENT);
	bind_text(st, 3, media_type);
	sqlite3_bind_int64(st, 4, (int64_t)size);
	sqlite3_bind_int64(st, 5, mtime_ns);
	if (run(c, st, "recording a hash") == -1)
		return -1;
	*stale = sqlite3_changes(c->db) == 0;
	return 0;
}

int catalogue_set_hash_of(struct catalogue *c, const struct cat_file *f,
                          bool *stale)
{
	sqlite3_stmt *st = cat_stmt(c, ST_SET_HASH);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, f->id);
	sqlite3_bind_blob(st, 2, f->sha256, 32, SQLITE_TRANSIENT);
	bind_text(st, 3, f->media_type);
	sqlite3_bind_int64(st, 4, (int64_t)f->size);
	sqlite3_bind_int64(st, 5, f->mtime_ns);
	sqlite3_bind_int64(st, 6, f->ctime_ns);
	bind_path(st, 7, f->path);
	if (run(c, st, "recording a hash") == -1)
		return -1;
	*stale = sqlite3_changes(c->db) == 0;
	return 0;
}

int catalogue_set_type(struct catalogue *c, const struct cat_file *f)
{
	sqlite3_stmt *st = cat_stmt(c, ST_SET_TYPE);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, f->id);
	bind_text(st, 2, f->media_type);
	sqlite3_bind_int64(st, 3, (int64_t)f->size);
	sqlite3_bind_int64(st, 4, f->mtime_ns);
	bind_path(st, 5, f->path);
	return run(c, st, "recording a media type");
}

int catalogue_untyped(struct catalogue *c, int64_t after, unsigned limit,
                      int (*fn)(const struct cat_file *f, void *arg), void *arg)
{
	sqlite3_stmt *st = cat_stmt(c, ST_UNTYPED);
	int rc, stop = 0, count = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int(st, 2, (int)limit);
	while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cat_file f;

		cat_read_file(st, &f);
		stop = fn(&f, arg);
		cat_file_clear(&f);
		count++;
	}
	if (stop == 0 && rc != SQLITE_DONE) {
		cat_log_error(c, "reading the files without a media type");
		count = -1;
	}
	sqlite3_reset(st);
	return count;
}

int catalogue_set_ctime(struct catalogue *c, int64_t id, int64_t ctime_ns)
{
	sqlite3_stmt *st = cat_stmt(c, ST_SET_CTIME);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, ctime_ns);
	return run(c, st, "recording a ctime");
}

/* Runs a statement whose ?1 is an id. */
static int run_id(struct catalogue *c, enum cat_stmt id_stmt, int64_t id,
                  const char *what)
{
	sqlite3_stmt *st = cat_stmt(c, id_stmt);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return run(c, st, what);
}

int catalogue_remove(struct catalogue *c, int64_t id)
{
	int opened = atomic_begin(c), rc;

	if (opened == -1)
		return -1;
	rc = fts_del_id(c, id, NULL, NULL);
	if (rc == 1)
		rc = run_id(c, ST_REMOVE, id, "removing a file");
	return atomic_end(c, opened, rc == -1 ? -1 : 0);
}

/* Binds the BLOB range of everything under dir to ?1 and ?2 ("dir/",
 * "dir0") and dir itself to ?3 if with_self. */
static void bind_under(sqlite3_stmt *st, const char *dir, bool with_self)
{
	size_t n = strlen(dir);
	char *lo = xmalloc(n + 2);

	memcpy(lo, dir, n);
	lo[n] = '/';
	sqlite3_bind_blob(st, 1, lo, (int)n + 1, SQLITE_TRANSIENT);
	lo[n] = '/' + 1;
	sqlite3_bind_blob(st, 2, lo, (int)n + 1, SQLITE_TRANSIENT);
	if (with_self)
		bind_path(st, 3, dir);
	free(lo);
}

int catalogue_remove_tree(struct catalogue *c, const char *dir)
{
	sqlite3_stmt *st;
	int opened, rc;

	if (dir[0] == '\0') {
		log_warnx("catalogue: refusing to remove the whole share");
		return -1;
	}
	opened = atomic_begin(c);
	if (opened == -1)
		return -1;
	/* The index entries first, one statement each (see migration 3). */
	st = cat_stmt(c, ST_FTS_UNDER);
	if (st == NULL)
		return atomic_end(c, opened, -1);
	bind_under(st, dir, false);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (fts_del(c, sqlite3_column_int64(st, 0),
		            sqlite3_column_text(st, 1),
		            sqlite3_column_text(st, 2)) == -1)
			break;
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		if (rc != SQLITE_ROW)
			cat_log_error(c, "reading a folder's files");
		return atomic_end(c, opened, -1);
	}
	st = cat_stmt(c, ST_REMOVE_FILES_UNDER);
	if (st == NULL)
		return atomic_end(c, opened, -1);
	bind_under(st, dir, false);
	if (run(c, st, "removing a folder's files") == -1)
		return atomic_end(c, opened, -1);
	st = cat_stmt(c, ST_REMOVE_DIRS_UNDER);
	if (st == NULL)
		return atomic_end(c, opened, -1);
	bind_under(st, dir, true);
	return atomic_end(c, opened, run(c, st, "removing a folder"));
}

/* Gives row id of files (or dirs if is_dir) the path to. */
static int set_path(struct catalogue *c, bool is_dir, int64_t id,
                    const char *to)
{
	sqlite3_stmt *st;
	const char *name;
	char *dir, *lname, *lpath = NULL, *ldesc = NULL;
	int rc;

	/* Called in catalogue_rename's savepoint. */
	if (!is_dir && fts_del_id(c, id, NULL, &ldesc) == -1)
		return -1;
	st = cat_stmt(c, is_dir ? ST_DIR_SET_PATH : ST_SET_PATH);
	if (st == NULL) {
		free(ldesc);
		return -1;
	}
	split_path(to, &dir, &name);
	lname = query_fold(name, strlen(name));
	sqlite3_bind_int64(st, 1, id);
	bind_path(st, 2, to);
	bind_path(st, 3, dir);
	bind_path(st, 4, name);
	bind_text(st, 5, lname);
	if (!is_dir) {
		lpath = query_fold(to, strlen(to));
		bind_text(st, 6, lpath);
	}
	rc = run(c, st, "renaming");
	if (rc == 0 && !is_dir)
		rc = fts_add(c, id, lpath, ldesc);
	free(dir);
	free(lname);
	free(lpath);
	free(ldesc);
	return rc;
}

struct moved {
	int64_t id;
	char *path;
};

/* Collects the (id, path) rows of statement id_stmt for the folder dir. */
static int collect_under(struct catalogue *c, enum cat_stmt id_stmt,
                         const char *dir, struct moved **v, size_t *n)
{
	sqlite3_stmt *st = cat_stmt(c, id_stmt);
	int rc;

	*v = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	bind_under(st, dir, id_stmt == ST_DIRS_UNDER);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		(*v)[*n].id = sqlite3_column_int64(st, 0);
		(*v)[*n].path = column_string(st, 1);
		(*n)++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		cat_log_error(c, "reading a folder");
		return -1;
	}
	return 0;
}

/* Moves every row of v from prefix from to prefix to. */
static int move_rows(struct catalogue *c, bool is_dir, struct moved *v,
                     size_t n, const char *from, const char *to)
{
	size_t from_len = strlen(from);

	for (size_t i = 0; i < n; i++) {
		char *np = xasprintf("%s%s", to, v[i].path + from_len);
		int rc = set_path(c, is_dir, v[i].id, np);

		free(np);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* Frees what collect_under returned. */
static void moved_free(struct moved *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* The body of catalogue_rename, run inside a savepoint. */
static int rename_rows(struct catalogue *c, const char *from, const char *to)
{
	struct cat_file f = {0}, old = {0};
	struct moved *dirs = NULL, *files = NULL;
	size_t n_dirs = 0, n_files = 0;
	char *to_dir = NULL;
	const char *to_name;
	int rc, is_dir, ret = -1;

	rc = catalogue_get_by_path(c, from, &f);
	if (rc == -1)
		return -1;
	is_dir = rc == 0 ? catalogue_is_dir(c, from) : 0;
	if (is_dir == -1)
		goto out;
	if (rc == 0 && is_dir == 0) {
		ret = 0; /* nothing known at from */
		goto out;
	}
	/* Whatever was at `to` is gone from the disk. */
	rc = catalogue_get_by_path(c, to, &old);
	if (rc == -1 || (rc == 1 && catalogue_remove(c, old.id) == -1))
		goto out;
	rc = catalogue_is_dir(c, to);
	if (rc == -1 || (rc == 1 && catalogue_remove_tree(c, to) == -1))
		goto out;
	split_path(to, &to_dir, &to_name);
	if (catalogue_add_dir(c, to_dir) == -1)
		goto out;
	if (is_dir == 0) {
		ret = set_path(c, false, f.id, to);
		goto out;
	}
	if (collect_under(c, ST_DIRS_UNDER, from, &dirs, &n_dirs) == -1 ||
	    collect_under(c, ST_FILES_UNDER, from, &files, &n_files) == -1 ||
	    move_rows(c, true, dirs, n_dirs, from, to) == -1 ||
	    move_rows(c, false, files, n_files, from, to) == -1)
		goto out;
	ret = 0;
out:
	moved_free(dirs, n_dirs);
	moved_free(files, n_files);
	free(to_dir);
	cat_file_clear(&f);
	cat_file_clear(&old);
	return ret;
}

int catalogue_rename(struct catalogue *c, const char *from, const char *to)
{
	size_t from_len = strlen(from);

	if (!path_ok(from) || !path_ok(to)) {
		log_warnx("catalogue: bad rename \"%s\" -> \"%s\"", from, to);
		return -1;
	}
	if (strcmp(from, to) == 0)
		return 0;
	if (strncmp(to, from, from_len) == 0 && to[from_len] == '/') {
		log_warnx("catalogue: cannot move \"%s\" into itself", from);
		return -1;
	}
	if (run_fixed(c, ST_SAVEPOINT, "renaming") == -1)
		return -1;
	if (rename_rows(c, from, to) == -1) {
		run_fixed(c, ST_ROLLBACK_TO, "renaming");
		run_fixed(c, ST_RELEASE, "renaming");
		return -1;
	}
	return run_fixed(c, ST_RELEASE, "renaming");
}

int catalogue_set_description(struct catalogue *c, int64_t id, const char *text)
{
	sqlite3_stmt *st;
	char *lpath = NULL, *ldesc = NULL;
	int opened = atomic_begin(c), rc;

	if (opened == -1)
		return -1;
	rc = fts_del_id(c, id, &lpath, NULL);
	if (rc != 1) /* no such file: nothing to describe */
		return atomic_end(c, opened, rc == -1 ? -1 : 0);
	rc = -1;
	st = cat_stmt(c, ST_SET_DESC);
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, text);
		rc = run(c, st, "setting a description");
	}
	if (rc == 0 && text != NULL && text[0] != '\0')
		ldesc = query_fold(text, strlen(text));
	if (rc == 0)
		rc = fts_add(c, id, lpath, ldesc);
	free(lpath);
	free(ldesc);
	return atomic_end(c, opened, rc);
}

int catalogue_set_uploader(struct catalogue *c, int64_t id,
                           const char *uploader)
{
	sqlite3_stmt *st = cat_stmt(c, ST_SET_UPLOADER);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, uploader);
	return run(c, st, "setting an uploader");
}

int catalogue_add_download(struct catalogue *c, int64_t id, uint64_t bytes,
                           bool completed)
{
	sqlite3_stmt *st = cat_stmt(c, ST_ADD_DOWNLOAD);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, completed ? 1 : 0);
	sqlite3_bind_int64(st, 3, (int64_t)bytes);
	return run(c, st, "counting a download");
}

/* --- rooms ------------------------------------------------------------- */

int catalogue_room_add(struct catalogue *c, const char *room, const char *nick)
{
	sqlite3_stmt *st = cat_stmt(c, ST_ROOM_ADD);

	if (st == NULL)
		return -1;
	bind_text(st, 1, room);
	bind_text(st, 2, nick);
	return run(c, st, "remembering a room");
}

int catalogue_room_remove(struct catalogue *c, const char *room)
{
	sqlite3_stmt *st = cat_stmt(c, ST_ROOM_REMOVE);

	if (st == NULL)
		return -1;
	bind_text(st, 1, room);
	return run(c, st, "forgetting a room");
}

int catalogue_room_list(struct catalogue *c, struct strlist *rooms,
                        struct strlist *nicks)
{
	sqlite3_stmt *st = cat_stmt(c, ST_ROOM_LIST);
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *room = sqlite3_column_text(st, 0);
		const unsigned char *nick = sqlite3_column_text(st, 1);

		strlist_add(rooms, room != NULL ? (const char *)room : "");
		strlist_add(nicks, nick != NULL ? (const char *)nick : "");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		cat_log_error(c, "reading the rooms");
		return -1;
	}
	return 0;
}
