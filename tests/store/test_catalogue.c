/* Unit tests for the catalogue: a temporary database per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fisbot/alloc.h"
#include "fisbot/config.h"
#include "fisbot/query.h"
#include "store/catalogue_write.h"

struct fixture {
	char dir[64];
	char *db;
	struct catalogue *c;
};

static int setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	char *cause = NULL;

	strcpy(fx->dir, "/tmp/fisbot-test-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->db = xasprintf("%s/fisbot.db", fx->dir);
	fx->c = catalogue_open_writer(fx->db, &cause);
	if (fx->c == NULL) {
		fprintf(stderr, "%s\n", cause);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char *cmd;

	catalogue_close(fx->c);
	cmd = xasprintf("rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fx->dir);
	free(cmd);
	free(fx->db);
	free(fx);
	return 0;
}

/* Adds a file of size bytes at path; returns its id. */
static int64_t add(struct catalogue *c, const char *path, uint64_t size)
{
	struct cat_file f = {0};

	f.path = (char *)path;
	f.size = size;
	f.mtime_ns = 1000;
	f.dev = 1;
	f.ino = (uint64_t)strlen(path);
	assert_int_equal(catalogue_upsert(c, &f), 0);
	assert_true(f.id > 0);
	return f.id;
}

/* Adds a hashed file with a media type; returns its id. */
static int64_t add_hashed(struct catalogue *c, const char *path, uint64_t size,
                          const char *type)
{
	unsigned char sha[32];
	int64_t id = add(c, path, size);
	bool stale = true;

	memset(sha, (int)(id & 0xff), sizeof(sha));
	assert_int_equal(
	    catalogue_set_hash(c, id, size, 1000, sha, type, &stale), 0);
	assert_false(stale);
	return id;
}

static void test_upsert_get_resolve(void **state)
{
	struct fixture *fx = *state;
	struct catalogue *c = fx->c;
	struct cat_file f = {0}, g = {0};
	unsigned char sha[32];
	bool stale;
	int64_t id, id2;

	id = add(c, "music/live/song.ogg", 3 << 20);
	assert_int_equal(catalogue_get(c, id, &g), 1);
	assert_string_equal(g.path, "music/live/song.ogg");
	assert_int_equal(g.size, 3 << 20);
	assert_false(g.hashed);
	assert_null(g.media_type);
	assert_true(g.added > 0);
	cat_file_clear(&g);

	/* The same path again: same id, no new row. */
	id2 = add(c, "music/live/song.ogg", 3 << 20);
	assert_int_equal(id, id2);

	/* Hash, then a stale hash (size changed meanwhile). */
	memset(sha, 0xab, sizeof(sha));
	assert_int_equal(
	    catalogue_set_hash(c, id, 3 << 20, 1000, sha, "audio/ogg", &stale),
	    0);
	assert_false(stale);
	assert_int_equal(
	    catalogue_set_hash(c, id, 5, 1000, sha, "audio/ogg", &stale), 0);
	assert_true(stale);
	assert_int_equal(catalogue_get(c, id, &g), 1);
	assert_true(g.hashed);
	assert_memory_equal(g.sha256, sha, 32);
	assert_string_equal(g.media_type, "audio/ogg");
	cat_file_clear(&g);

	/* Unchanged size and mtime keep the hash; a change clears it. */
	add(c, "music/live/song.ogg", 3 << 20);
	assert_int_equal(catalogue_get(c, id, &g), 1);
	assert_true(g.hashed);
	cat_file_clear(&g);
	add(c, "music/live/song.ogg", 4 << 20);
	assert_int_equal(catalogue_get(c, id, &g), 1);
	assert_false(g.hashed);
	assert_null(g.media_type);
	cat_file_clear(&g);

	/* Resolve by id, #id and path (with or without a leading '/'). */
	assert_int_equal(catalogue_resolve(c, "music/live/song.ogg", &f), 1);
	assert_int_equal(f.id, id);
	cat_file_clear(&f);
	assert_int_equal(catalogue_resolve(c, "/music/live/song.ogg", &f), 1);
	cat_file_clear(&f);
	{
		char buf[32];

		snprintf(buf, sizeof(buf), "#%lld", (long long)id);
		assert_int_equal(catalogue_resolve(c, buf, &f), 1);
		assert_int_equal(f.id, id);
		cat_file_clear(&f);
		assert_int_equal(catalogue_resolve(c, buf + 1, &f), 1);
		cat_file_clear(&f);
	}
	assert_int_equal(catalogue_resolve(c, "99", &f), 0);
	assert_int_equal(catalogue_resolve(c, "#99", &f), 0);
	assert_int_equal(catalogue_resolve(c, "nope.txt", &f), 0);
	/* A file named like a number is found by path. */
	id2 = add(c, "77", 1);
	assert_int_equal(catalogue_resolve(c, "77", &f), 1);
	assert_int_equal(f.id, id2);
	cat_file_clear(&f);

	/* The folders were created with the file. */
	assert_int_equal(catalogue_is_dir(c, ""), 1);
	assert_int_equal(catalogue_is_dir(c, "music"), 1);
	assert_int_equal(catalogue_is_dir(c, "music/live"), 1);
	assert_int_equal(catalogue_is_dir(c, "music/li"), 0);

	/* Bad paths are refused. */
	f.path = (char *)"../etc/passwd";
	assert_int_equal(catalogue_upsert(c, &f), -1);
	f.path = (char *)"a//b";
	assert_int_equal(catalogue_upsert(c, &f), -1);
	f.path = (char *)"/abs";
	assert_int_equal(catalogue_upsert(c, &f), -1);
}

static void test_raw_bytes(void **state)
{
	struct fixture *fx = *state;
	struct cat_file f = {0};
	struct cat_page p;
	const char *bad = "odd/\xff\xfe name\x01.txt";
	char *cause = NULL;
	struct query *q;
	int64_t id;

	id = add_hashed(fx->c, bad, 10, "text/plain");
	assert_int_equal(catalogue_get_by_path(fx->c, bad, &f), 1);
	assert_int_equal(f.id, id);
	assert_string_equal(f.path, bad);
	cat_file_clear(&f);
	/* Searchable as shown: invalid bytes as \xNN. */
	q = query_parse("\\xff\\xfe", &cause);
	assert_non_null(q);
	assert_int_equal(catalogue_search(fx->c, q, 0, 10, &p, &cause), 1);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.v[0].file.path, bad);
	cat_page_clear(&p);
	query_free(q);
}

static void test_ids_never_reused(void **state)
{
	struct fixture *fx = *state;
	struct catalogue *c = fx->c;
	struct cat_file f = {0};
	int64_t a, b, a2;

	a = add(c, "a.txt", 1);
	b = add(c, "b.txt", 1);
	assert_int_equal(catalogue_remove(c, b), 0);
	assert_int_equal(catalogue_get(c, b, &f), 0);
	assert_int_equal(catalogue_remove(c, a), 0);
	a2 = add(c, "a.txt", 1);
	assert_true(a2 > b);
	/* Across a reopen too. */
	assert_int_equal(catalogue_remove(c, a2), 0);
	catalogue_close(c);
	{
		char *cause = NULL;

		fx->c = c = catalogue_open_writer(fx->db, &cause);
		assert_non_null(c);
	}
	assert_true(add(c, "c.txt", 1) > a2);
}

/* Checks that the trigram index agrees with the rows (FTS5's own
 * integrity check compares an external-content index with its table). */
static void check_index(const char *db)
{
	sqlite3 *h;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_exec(h,
	                 "INSERT INTO files_fts(files_fts) VALUES "
	                 "('integrity-check')",
	                 NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("trigram index out of step: %s", sqlite3_errmsg(h));
	sqlite3_close(h);
}

static void test_rename(void **state)
{
	struct fixture *fx = *state;
	struct catalogue *c = fx->c;
	struct cat_file f = {0};
	struct cat_page p;
	struct query *q;
	char *cause = NULL;
	int64_t ids[50], other, lone;
	char path[64];

	assert_int_equal(catalogue_begin(c), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(path, sizeof(path), "old/sub%d/file%02d.txt", i % 3,
		         i);
		ids[i] = add_hashed(c, path, (uint64_t)i, "text/plain");
	}
	assert_int_equal(catalogue_add_dir(c, "old/empty"), 0);
	other = add_hashed(c, "older/keep.txt", 1, "text/plain");
	assert_int_equal(catalogue_commit(c), 0);

	assert_int_equal(catalogue_rename(c, "old", "new/place"), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(path, sizeof(path), "new/place/sub%d/file%02d.txt",
		         i % 3, i);
		assert_int_equal(catalogue_get(c, ids[i], &f), 1);
		assert_string_equal(f.path, path);
		assert_true(f.hashed); /* not to be hashed again */
		cat_file_clear(&f);
	}
	assert_int_equal(catalogue_is_dir(c, "old"), 0);
	assert_int_equal(catalogue_is_dir(c, "old/sub1"), 0);
	assert_int_equal(catalogue_is_dir(c, "new"), 1);
	assert_int_equal(catalogue_is_dir(c, "new/place/sub1"), 1);
	assert_int_equal(catalogue_is_dir(c, "new/place/empty"), 1);
	/* "older" shares the prefix "old" but is not under it. */
	assert_int_equal(catalogue_get(c, other, &f), 1);
	assert_string_equal(f.path, "older/keep.txt");
	cat_file_clear(&f);

	/* The search index follows. */
	q = query_parse("new/place/sub2", &cause);
	assert_int_equal(catalogue_search(c, q, 0, 100, &p, &cause), 1);
	assert_int_equal(p.total, 16);
	cat_page_clear(&p);
	query_free(q);
	q = query_parse("old/", &cause);
	assert_int_equal(catalogue_search(c, q, 0, 100, &p, &cause), 1);
	assert_int_equal(p.total, 0);
	cat_page_clear(&p);
	query_free(q);

	/* A file renamed over another replaces it. */
	lone = add(c, "x.txt", 1);
	assert_int_equal(catalogue_rename(c, "x.txt", "older/keep.txt"), 0);
	assert_int_equal(catalogue_get(c, other, &f), 0);
	assert_int_equal(catalogue_get_by_path(c, "older/keep.txt", &f), 1);
	assert_int_equal(f.id, lone);
	cat_file_clear(&f);
	/* Unknown source: nothing happens. */
	assert_int_equal(catalogue_rename(c, "ghost", "ghost2"), 0);
	/* Into itself: refused. */
	assert_int_equal(catalogue_rename(c, "new", "new/x"), -1);

	check_index(fx->db);

	/* remove_tree */
	assert_int_equal(catalogue_remove_tree(c, "new"), 0);
	assert_int_equal(catalogue_get(c, ids[0], &f), 0);
	assert_int_equal(catalogue_is_dir(c, "new/place"), 0);
	assert_int_equal(catalogue_is_dir(c, "older"), 1);
	check_index(fx->db);
}

static void test_list(void **state)
{
	struct fixture *fx = *state;
	struct catalogue *c = fx->c;
	struct cat_page p;
	const char *expect[] = {"d/Alpha", "d/beta",  "d/Gamma",
	                        "d/a.txt", "d/B.txt", "d/c.txt"};

	add(c, "d/c.txt", 1);
	add(c, "d/B.txt", 1);
	add(c, "d/a.txt", 1);
	add(c, "d/beta/x", 1);
	assert_int_equal(catalogue_add_dir(c, "d/Gamma"), 0);
	assert_int_equal(catalogue_add_dir(c, "d/Alpha"), 0);
	add(c, "top.txt", 1);

	/* Everything: folders first, by name (case-insensitive). */
	assert_int_equal(catalogue_list(c, "d", 0, 100, &p), 1);
	assert_int_equal(p.total, 6);
	assert_int_equal(p.n, 6);
	for (size_t i = 0; i < 6; i++) {
		const char *got =
		    p.v[i].is_dir ? p.v[i].dir_path : p.v[i].file.path;

		assert_string_equal(got, expect[i]);
		assert_int_equal(p.v[i].is_dir, i < 3);
	}
	cat_page_clear(&p);
	/* Pages across the folder/file boundary. */
	for (unsigned off = 0; off < 7; off++) {
		assert_int_equal(catalogue_list(c, "d", off, 2, &p), 1);
		assert_int_equal(p.total, 6);
		assert_int_equal(p.n, off >= 6 ? 0 : off == 5 ? 1 : 2);
		for (size_t i = 0; i < p.n; i++) {
			const char *got =
			    p.v[i].is_dir ? p.v[i].dir_path : p.v[i].file.path;

			assert_string_equal(got, expect[off + i]);
		}
		cat_page_clear(&p);
	}
	/* The root; an unknown folder. */
	assert_int_equal(catalogue_list(c, "", 0, 10, &p), 1);
	assert_int_equal(p.total, 2);
	assert_true(p.v[0].is_dir);
	assert_string_equal(p.v[0].dir_path, "d");
	assert_string_equal(p.v[1].file.path, "top.txt");
	cat_page_clear(&p);
	assert_int_equal(catalogue_list(c, "nope", 0, 10, &p), 0);
	/* An empty folder. */
	assert_int_equal(catalogue_list(c, "d/Gamma", 0, 10, &p), 1);
	assert_int_equal(p.total, 0);
	assert_int_equal(p.n, 0);
	cat_page_clear(&p);
}

/* Runs query text and checks the paths of the results, in order. */
static void expect_search(struct catalogue *c, const char *text,
                          const char *const *paths, size_t n)
{
	struct cat_page p;
	struct query *q;
	char *cause = NULL;

	q = query_parse(text, &cause);
	if (q == NULL)
		fail_msg("%s: %s", text, cause);
	assert_int_equal(catalogue_search(c, q, 0, 100, &p, &cause), 1);
	if (p.n != n) {
		for (size_t i = 0; i < p.n; i++)
			fprintf(stderr, "got %s\n", p.v[i].file.path);
		fail_msg("%s: %zu results, expected %zu", text, p.n, n);
	}
	assert_int_equal(p.total, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(p.v[i].file.path, paths[n - 1 - i]);
	cat_page_clear(&p);
	query_free(q);
}

#define EXPECT(c, text, ...)                                                   \
	do {                                                                   \
		static const char *const e_[] = {__VA_ARGS__};                 \
		expect_search(c, text, e_, sizeof(e_) / sizeof(e_[0]));        \
	} while (0)
#define EXPECT_NONE(c, text) expect_search(c, text, NULL, 0)

static void test_search(void **state)
{
	struct fixture *fx = *state;
	struct catalogue *c = fx->c;
	int64_t id;

	/* Oldest first here; results come newest first (EXPECT lists them
	 * in the order they were added). */
	add_hashed(c, "music/Live/Song One.ogg", 3 << 20, "audio/ogg");
	add_hashed(c, "music/studio/song2.mp3", 5 << 20, "audio/mpeg");
	add_hashed(c, "pics/cat.PNG", 200 << 10, "image/png");
	add_hashed(c, "pics/dog.jpg", 2 << 10, "image/jpeg");
	add_hashed(c, "docs/a \"quoted\" name.txt", 10, "text/plain");
	add_hashed(c, "docs/Éte.txt", 11, "text/plain");
	add(c, "music/unhashed song.ogg", 1); /* never in results */

	EXPECT(c, "song", "music/Live/Song One.ogg", "music/studio/song2.mp3");
	EXPECT(c, "SONG music", "music/Live/Song One.ogg",
	       "music/studio/song2.mp3");
	EXPECT(c, "so", "music/Live/Song One.ogg", "music/studio/song2.mp3");
	EXPECT(c, "g2", "music/studio/song2.mp3");
	EXPECT(c, "\"song one\"", "music/Live/Song One.ogg");
	EXPECT(c, "\"g o\"", "music/Live/Song One.ogg");
	EXPECT(c, "\"quoted\"", "docs/a \"quoted\" name.txt");
	EXPECT(c, "quoted\"", "docs/a \"quoted\" name.txt"); /* FTS quoting */
	EXPECT(c, "d\"", "docs/a \"quoted\" name.txt");
	EXPECT(c, "éte", "docs/Éte.txt");
	EXPECT(c, "ÉTE", "docs/Éte.txt");
	EXPECT_NONE(c, "song nothing");
	EXPECT(c, "*.png", "pics/cat.PNG");
	EXPECT(c, "*.PNG", "pics/cat.PNG");
	EXPECT(c, "song?.mp3", "music/studio/song2.mp3");
	EXPECT(c, "[cd]*", "pics/cat.PNG", "pics/dog.jpg");
	EXPECT_NONE(c, "pics*"); /* globs match the name only */
	EXPECT(c, "/^music/.*[0-9]/", "music/studio/song2.mp3");
	EXPECT(c, "/CAT|dog/", "pics/cat.PNG", "pics/dog.jpg");
	EXPECT(c, "size:>1M", "music/Live/Song One.ogg",
	       "music/studio/song2.mp3");
	EXPECT(c, "size:>=5M", "music/studio/song2.mp3");
	EXPECT_NONE(c, "size:>5M");
	EXPECT(c, "size:<1K", "docs/a \"quoted\" name.txt", "docs/Éte.txt");
	EXPECT(c, "size:<=10", "docs/a \"quoted\" name.txt");
	EXPECT(c, "size:200K", "pics/cat.PNG");
	EXPECT(c, "type:audio", "music/Live/Song One.ogg",
	       "music/studio/song2.mp3");
	EXPECT(c, "type:audio/mpeg", "music/studio/song2.mp3");
	EXPECT(c, "type:image size:<100K", "pics/dog.jpg");
	EXPECT_NONE(c, "type:video");
	EXPECT(c, "new:1h song", "music/Live/Song One.ogg",
	       "music/studio/song2.mp3");

	/* The description filter (the XMPP form). */
	{
		struct query *q = query_new();
		struct cat_page p;
		char *cause = NULL;

		id = add_hashed(c, "misc/x.bin", 1, "application/octet-stream");
		assert_int_equal(catalogue_set_description(c, id, "A Fine Cat"),
		                 0);
		query_set_desc(q, "FINE");
		assert_int_equal(catalogue_search(c, q, 0, 10, &p, &cause), 1);
		assert_int_equal(p.n, 1);
		assert_int_equal(p.v[0].file.id, id);
		assert_string_equal(p.v[0].file.description, "A Fine Cat");
		cat_page_clear(&p);
		query_free(q);
	}
}

/* Words match the description as well as the path; desc: matches the
 * description only; a changed or removed description is searched as it
 * is now. */
static void test_search_descriptions(void **state)
{
	struct fixture *fx = *state;
	struct catalogue *c = fx->c;
	int64_t live, cat, plain;
	char *cause = NULL;

	live = add_hashed(c, "music/track01.ogg", 3 << 20, "audio/ogg");
	cat = add_hashed(c, "misc/x.bin", 1, "application/octet-stream");
	plain = add_hashed(c, "docs/concert notes.txt", 10, "text/plain");
	add_hashed(c, "docs/other.txt", 10, "text/plain");
	assert_int_equal(
	    catalogue_set_description(c, live, "Live at the Olympia, 1998"), 0);
	assert_int_equal(catalogue_set_description(c, cat, "A Fine Cat"), 0);
	assert_int_equal(catalogue_set_description(c, plain, "x1"), 0);

	/* Long words (the trigram index) and short ones (a scan). */
	EXPECT(c, "olympia", "music/track01.ogg");
	EXPECT(c, "OLYMPIA track", "music/track01.ogg");
	EXPECT(c, "\"fine cat\"", "misc/x.bin");
	EXPECT(c, "x1", "docs/concert notes.txt");
	EXPECT(c, "98", "music/track01.ogg");
	/* A word in the path or in the description. */
	EXPECT(c, "concert", "docs/concert notes.txt");
	EXPECT(c, "olympia type:audio", "music/track01.ogg");
	EXPECT_NONE(c, "olympia type:text");
	/* desc: looks at the description only. */
	EXPECT(c, "desc:olympia", "music/track01.ogg");
	EXPECT(c, "desc:\"at the olympia\"", "music/track01.ogg");
	EXPECT(c, "desc:cat", "misc/x.bin");
	EXPECT(c, "desc:x1", "docs/concert notes.txt");
	EXPECT_NONE(c, "desc:concert");
	EXPECT_NONE(c, "desc:track");
	EXPECT(c, "desc:live *.ogg", "music/track01.ogg");
	/* Globs and regexes stay on the path. */
	EXPECT_NONE(c, "*olympia*");
	EXPECT_NONE(c, "/olympia/");
	/* A new description replaces the old one in the index. */
	assert_int_equal(catalogue_set_description(c, live, "Studio"), 0);
	EXPECT_NONE(c, "olympia");
	EXPECT(c, "studio", "music/track01.ogg");
	assert_int_equal(catalogue_set_description(c, live, ""), 0);
	EXPECT_NONE(c, "studio");
	/* A renamed file keeps its description, still searchable. */
	assert_int_equal(catalogue_rename(c, "misc/x.bin", "misc/y.bin"), 0);
	EXPECT(c, "fine", "misc/y.bin");
	EXPECT(c, "desc:fine y.bin", "misc/y.bin");
	/* Bad desc: filters. */
	assert_null(query_parse("desc:", &cause));
	assert_non_null(strstr(cause, "empty description"));
	free(cause);
	assert_null(query_parse("desc:a desc:b", &cause));
	assert_non_null(strstr(cause, "only one desc:"));
	free(cause);
	assert_null(query_parse("desc:\"open", &cause));
	assert_non_null(strstr(cause, "unterminated quote"));
	free(cause);
	check_index(fx->db);
}

static void test_search_pages(void **state)
{
	struct fixture *fx = *state;
	struct catalogue *c = fx->c;
	struct cat_page p;
	struct query *q;
	char *cause = NULL;
	char path[64];
	int64_t last = 0, big;

	assert_int_equal(catalogue_begin(c), 0);
	for (int i = 0; i < CATALOGUE_COUNT_CAP + 50; i++) {
		snprintf(path, sizeof(path), "many/file%05d.dat", i);
		last = add_hashed(c, path, 1, "application/octet-stream");
	}
	assert_int_equal(catalogue_commit(c), 0);

	q = query_parse("file0", &cause);
	assert_non_null(q);
	/* Page 1: newest first, total capped. */
	assert_int_equal(catalogue_search(c, q, 0, 10, &p, &cause), 1);
	assert_int_equal(p.n, 10);
	assert_int_equal(p.v[0].file.id, last);
	assert_int_equal(p.v[1].file.id, last - 1);
	assert_int_equal(p.total, CATALOGUE_COUNT_CAP);
	assert_true(p.total_capped);
	cat_page_clear(&p);
	/* The last page: exact. */
	assert_int_equal(
	    catalogue_search(c, q, CATALOGUE_COUNT_CAP + 45, 10, &p, &cause),
	    1);
	assert_int_equal(p.n, 5);
	assert_int_equal(p.total, CATALOGUE_COUNT_CAP + 50);
	assert_false(p.total_capped);
	assert_int_equal(p.v[4].file.id, last - CATALOGUE_COUNT_CAP - 49);
	cat_page_clear(&p);
	query_free(q);

	/* A small exact count in the middle. */
	q = query_parse("file0001", &cause);
	assert_int_equal(catalogue_search(c, q, 3, 2, &p, &cause), 1);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.total, 10);
	assert_false(p.total_capped);
	cat_page_clear(&p);
	query_free(q);

	/* Filters over more rows than the count cap take the other plans:
	 * the trigram index with filters, a scan counted through the size
	 * or type index, and a rare filter over a common one. */
	big = add_hashed(c, "many/big.dat", 5000, "application/x-big");
	q = query_parse("file0001 size:1 type:application", &cause);
	assert_int_equal(catalogue_search(c, q, 0, 5, &p, &cause), 1);
	assert_int_equal(p.n, 5);
	assert_int_equal(p.total, 10);
	cat_page_clear(&p);
	query_free(q);
	q = query_parse("size:<2 type:application/octet-stream", &cause);
	assert_int_equal(catalogue_search(c, q, 0, 5, &p, &cause), 1);
	assert_int_equal(p.v[0].file.id, last);
	assert_int_equal(p.total, CATALOGUE_COUNT_CAP);
	assert_true(p.total_capped);
	cat_page_clear(&p);
	query_free(q);
	q = query_parse("type:application", &cause);
	assert_int_equal(catalogue_search(c, q, 0, 5, &p, &cause), 1);
	assert_string_equal(p.v[0].file.path, "many/big.dat");
	assert_true(p.total_capped);
	cat_page_clear(&p);
	query_free(q);
	q = query_parse("size:>1 type:application", &cause);
	assert_int_equal(catalogue_search(c, q, 0, 5, &p, &cause), 1);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.total, 1);
	cat_page_clear(&p);
	query_free(q);
	q = query_parse("type:application/x-big file", &cause);
	assert_int_equal(catalogue_search(c, q, 0, 5, &p, &cause), 1);
	assert_int_equal(p.n, 0);
	cat_page_clear(&p);
	query_free(q);
	q = query_parse("/file0{3}1[0-9]/ *.dat", &cause);
	assert_int_equal(catalogue_search(c, q, 0, 100, &p, &cause), 1);
	assert_int_equal(p.n, 10);
	assert_int_equal(p.total, 10);
	cat_page_clear(&p);
	query_free(q);

	/* A search past its time limit stops with a message. */
	catalogue_set_search_limit(c, 0);
	q = query_parse("/[9][.]da[t]$/", &cause);
	assert_int_equal(catalogue_search(c, q, 0, 5000, &p, &cause), -1);
	assert_non_null(strstr(cause, "search took too long"));
	assert_int_equal(p.n, 0);
	free(cause);
	cause = NULL;
	catalogue_set_search_limit(c, CATALOGUE_SEARCH_MS);
	assert_int_equal(catalogue_search(c, q, 0, 5000, &p, &cause), 1);
	assert_int_equal(p.n, (CATALOGUE_COUNT_CAP + 50) / 10);
	cat_page_clear(&p);
	query_free(q);

	/* Newest. */
	assert_int_equal(catalogue_newest(c, 3, &p), 1);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.v[0].file.id, big);
	assert_int_equal(p.v[1].file.id, last);
	cat_page_clear(&p);
}

static void test_stats_and_downloads(void **state)
{
	struct fixture *fx = *state;
	struct catalogue *c = fx->c;
	struct cat_stats st;
	struct cat_file f = {0};
	uint64_t bytes = 99;
	int64_t a, b;

	a = add_hashed(c, "a/x.bin", 100, "application/octet-stream");
	b = add(c, "a/b/y.bin", 50);
	assert_int_equal(catalogue_add_download(c, a, 100, true), 0);
	assert_int_equal(catalogue_add_download(c, a, 30, false), 0);
	assert_int_equal(catalogue_stats(c, &st), 0);
	assert_int_equal(st.files, 2);
	assert_int_equal(st.folders, 2);
	assert_int_equal(st.total_size, 150);
	assert_int_equal(st.downloads, 1);
	assert_int_equal(st.bytes_served, 130);
	assert_int_equal(catalogue_get(c, a, &f), 1);
	assert_int_equal(f.downloads, 1);
	assert_int_equal(f.bytes_served, 130);
	cat_file_clear(&f);

	assert_int_equal(catalogue_set_uploader(c, b, "ann@example.org"), 0);
	assert_int_equal(catalogue_uploader_usage(c, "ann@example.org", &bytes),
	                 0);
	assert_int_equal(bytes, 50);
	assert_int_equal(catalogue_uploader_usage(c, "bob@example.org", &bytes),
	                 0);
	assert_int_equal(bytes, 0);
}

/* Counts calls of foreach callbacks. */
static int count_file(const struct cat_file *f, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int count_dir(const char *dir, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int stop_at_first(const struct cat_file *f, void *arg)
{
	(*(int *)arg)++;
	return 1;
}

static void test_foreach(void **state)
{
	struct fixture *fx = *state;
	int n = 0;

	add(fx->c, "a/1", 1);
	add(fx->c, "a/b/2", 1);
	add_hashed(fx->c, "3", 1, "text/plain");
	assert_int_equal(catalogue_foreach(fx->c, count_file, &n), 0);
	assert_int_equal(n, 3);
	n = 0;
	assert_int_equal(catalogue_foreach(fx->c, stop_at_first, &n), 0);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(catalogue_foreach_dir(fx->c, count_dir, &n), 0);
	assert_int_equal(n, 2);

	/* Under a folder: its rows only ("a0" sorts right after "a/"). */
	add(fx->c, "a0", 1);
	add(fx->c, "ab/4", 1);
	n = 0;
	assert_int_equal(catalogue_foreach_under(fx->c, "a", count_file, &n),
	                 0);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(catalogue_foreach_under(fx->c, "a/b", count_file, &n),
	                 0);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(catalogue_foreach_under(fx->c, "", count_file, &n), 0);
	assert_int_equal(n, 5);
	n = 0;
	assert_int_equal(catalogue_foreach_dir_under(fx->c, "a", count_dir, &n),
	                 0);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(catalogue_foreach_dir_under(fx->c, "", count_dir, &n),
	                 0);
	assert_int_equal(n, 3);
}

static void test_rooms(void **state)
{
	struct fixture *fx = *state;
	struct strlist rooms = {0}, nicks = {0};

	assert_int_equal(catalogue_room_add(fx->c, "b@muc.example", NULL), 0);
	assert_int_equal(catalogue_room_add(fx->c, "a@muc.example", "bot"), 0);
	assert_int_equal(catalogue_room_add(fx->c, "c@muc.example", "x"), 0);
	assert_int_equal(catalogue_room_remove(fx->c, "c@muc.example"), 0);
	assert_int_equal(catalogue_room_add(fx->c, "a@muc.example", "bot2"), 0);
	assert_int_equal(catalogue_room_list(fx->c, &rooms, &nicks), 0);
	assert_int_equal(rooms.n, 2);
	assert_string_equal(rooms.v[0], "a@muc.example");
	assert_string_equal(nicks.v[0], "bot2");
	assert_string_equal(rooms.v[1], "b@muc.example");
	assert_string_equal(nicks.v[1], "");
	strlist_free(&rooms);
	strlist_free(&nicks);
}

/* Writes len bytes of data to path. */
static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void test_refuse_foreign(void **state)
{
	struct fixture *fx = *state;
	char *path = xasprintf("%s/other.db", fx->dir);
	char *cause = NULL;
	char junk[4096];
	sqlite3 *db;
	struct stat sb;

	/* Not a database at all: refused, left as it was. */
	memset(junk, 'x', sizeof(junk));
	write_file(path, junk, sizeof(junk));
	assert_null(catalogue_open_writer(path, &cause));
	assert_non_null(strstr(cause, "not a fisbot catalogue"));
	free(cause);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, sizeof(junk));
	assert_null(catalogue_open(path, &cause));
	free(cause);

	/* Another application's database. */
	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(catalogue_open_writer(path, &cause));
	assert_non_null(strstr(cause, "not a fisbot catalogue"));
	free(cause);

	/* A newer schema. */
	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "PRAGMA application_id = 1718186850;"
	                              "PRAGMA user_version = 999;"
	                              "CREATE TABLE t(x)",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	assert_null(catalogue_open_writer(path, &cause));
	assert_non_null(strstr(cause, "newer"));
	free(cause);

	/* A catalogue the writer cannot write (not as root: root may). */
	if (geteuid() != 0) {
		struct catalogue *tmp;

		unlink(path);
		tmp = catalogue_open_writer(path, &cause);
		assert_non_null(tmp);
		catalogue_close(tmp);
		assert_int_equal(chmod(path, 0444), 0);
		assert_null(catalogue_open_writer(path, &cause));
		assert_non_null(strstr(cause, "read-only"));
		free(cause);
		chmod(path, 0644);
	}

	/* Missing, for a reader. */
	unlink(path);
	assert_null(catalogue_open(path, &cause));
	assert_non_null(strstr(cause, "no catalogue"));
	free(cause);
	free(path);
}

static void test_refuse_corrupt(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	char junk[4096];
	int64_t id = 0;
	int fd;

	/* A catalogue with enough rows for several pages. */
	assert_int_equal(catalogue_begin(fx->c), 0);
	for (int i = 0; i < 2000; i++) {
		char path[64];

		snprintf(path, sizeof(path), "dir%d/some-file-%d.dat", i % 7,
		         i);
		id = add_hashed(fx->c, path, (uint64_t)i, "text/plain");
	}
	assert_int_equal(catalogue_commit(fx->c), 0);
	assert_true(id > 0);
	catalogue_close(fx->c);
	fx->c = NULL;

	/* Scribble over pages in the middle (not the header). */
	memset(junk, 0x5a, sizeof(junk));
	fd = open(fx->db, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 8192),
	                 (ssize_t)sizeof(junk));
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 40960),
	                 (ssize_t)sizeof(junk));
	close(fd);
	assert_null(catalogue_open_writer(fx->db, &cause));
	assert_non_null(strstr(cause, "corrupt"));
	free(cause);
	fx->c = catalogue_open_writer(":memory:", &cause);
	assert_non_null(fx->c);
}

static void test_reader_while_writing(void **state)
{
	struct fixture *fx = *state;
	struct catalogue *r;
	struct cat_file f = {0};
	struct cat_page p;
	struct query *q;
	char *cause = NULL;
	int64_t a, b;

	a = add_hashed(fx->c, "one.txt", 1, "text/plain");
	r = catalogue_open(fx->db, &cause);
	assert_non_null(r);
	/* The writer holds a transaction; the reader sees the old state. */
	assert_int_equal(catalogue_begin(fx->c), 0);
	b = add_hashed(fx->c, "two.txt", 1, "text/plain");
	assert_int_equal(catalogue_get(r, a, &f), 1);
	cat_file_clear(&f);
	assert_int_equal(catalogue_get(r, b, &f), 0);
	q = query_parse("txt", &cause);
	assert_int_equal(catalogue_search(r, q, 0, 10, &p, &cause), 1);
	assert_int_equal(p.total, 1);
	cat_page_clear(&p);
	assert_int_equal(catalogue_commit(fx->c), 0);
	assert_int_equal(catalogue_get(r, b, &f), 1);
	cat_file_clear(&f);
	assert_int_equal(catalogue_search(r, q, 0, 10, &p, &cause), 1);
	assert_int_equal(p.total, 2);
	cat_page_clear(&p);
	query_free(q);
	/* The reader cannot write. */
	f.path = (char *)"three.txt";
	assert_int_equal(catalogue_upsert(r, &f), -1);
	catalogue_close(r);
}

/* Reads one integer from the database at path with sql. */
static int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Takes the catalogue at path back to schema 2 (before searchable
 * descriptions), as a version of that schema wrote it. */
static void downgrade_to_2(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(
	        db,
	        "DROP TABLE IF EXISTS files_fts_terms;"
	        "DROP INDEX IF EXISTS files_by_tail;"
	        "DROP INDEX IF EXISTS files_by_dtail;"
	        "DROP INDEX IF EXISTS files_described;"
	        "DROP TRIGGER IF EXISTS files_fts_insert;"
	        "DROP TRIGGER IF EXISTS files_fts_delete;"
	        "DROP TRIGGER IF EXISTS files_fts_update;"
	        "DROP TABLE files_fts;"
	        "ALTER TABLE files DROP COLUMN ldesc;"
	        "CREATE VIRTUAL TABLE files_fts USING fts5(lpath,"
	        " content='files', content_rowid='id',"
	        " tokenize='trigram case_sensitive 1');"
	        "INSERT INTO files_fts(files_fts) VALUES ('rebuild');"
	        "CREATE TRIGGER files_fts_insert AFTER INSERT ON files BEGIN"
	        " INSERT INTO files_fts(rowid, lpath) VALUES (new.id, "
	        "new.lpath);"
	        " END;"
	        "CREATE TRIGGER files_fts_delete AFTER DELETE ON files BEGIN"
	        " INSERT INTO files_fts(files_fts, rowid, lpath)"
	        "  VALUES ('delete', old.id, old.lpath);"
	        " END;"
	        "CREATE TRIGGER files_fts_update AFTER UPDATE OF lpath ON files"
	        " BEGIN"
	        " INSERT INTO files_fts(files_fts, rowid, lpath)"
	        "  VALUES ('delete', old.id, old.lpath);"
	        " INSERT INTO files_fts(rowid, lpath) VALUES (new.id, "
	        "new.lpath);"
	        " END;"
	        "PRAGMA user_version = 2",
	        NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
}

/* A catalogue of schema 2 is upgraded in place: its descriptions become
 * searchable, paths are still found, and later changes keep the index in
 * step. */
static void test_desc_migration(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	int64_t id, other;

	id = add_hashed(fx->c, "old/song.ogg", 10, "audio/ogg");
	other = add_hashed(fx->c, "old/plain.txt", 10, "text/plain");
	assert_int_equal(catalogue_set_description(fx->c, id, "Rare Demo"), 0);
	catalogue_close(fx->c);
	fx->c = NULL;
	downgrade_to_2(fx->db);
	assert_int_equal(sql_int(fx->db,
	                         "SELECT count(*) FROM pragma_table_info"
	                         "('files') WHERE name = 'ldesc'"),
	                 0);

	assert_null(catalogue_open(fx->db, &cause));
	assert_non_null(strstr(cause, "old catalogue schema 2"));
	free(cause);
	fx->c = catalogue_open_writer(fx->db, &cause);
	assert_non_null(fx->c);
	assert_int_equal(sql_int(fx->db, "PRAGMA user_version"), 5);
	EXPECT(fx->c, "rare", "old/song.ogg");
	EXPECT(fx->c, "desc:demo", "old/song.ogg");
	EXPECT(fx->c, "plain", "old/plain.txt");
	EXPECT(fx->c, "old", "old/song.ogg", "old/plain.txt");
	assert_int_equal(catalogue_set_description(fx->c, other, "Rarer"), 0);
	EXPECT(fx->c, "rare", "old/song.ogg", "old/plain.txt");
	assert_int_equal(catalogue_remove(fx->c, id), 0);
	EXPECT(fx->c, "rare", "old/plain.txt");
	check_index(fx->db);
}

#define FTS_HASHSIZE_SQL "SELECT v FROM files_fts_config WHERE k = 'hashsize'"

/* The trigram index's pending terms may take 8 MiB before FTS5 writes them
 * out as a segment: in a new catalogue, and in one of schema 4 once the
 * writer has upgraded it. Its rows are still found and the index agrees
 * with the table. */
static void test_fts_hashsize(void **state)
{
	struct fixture *fx = *state;
	char *cause = NULL;
	sqlite3 *db;

	add_hashed(fx->c, "some/song.ogg", 10, "audio/ogg");
	assert_int_equal(sql_int(fx->db, FTS_HASHSIZE_SQL), 8 << 20);
	catalogue_close(fx->c);
	fx->c = NULL;
	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "DELETE FROM files_fts_config"
	                              " WHERE k = 'hashsize';"
	                              "PRAGMA user_version = 4",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sql_int(fx->db, FTS_HASHSIZE_SQL), -1);

	assert_null(catalogue_open(fx->db, &cause));
	assert_non_null(strstr(cause, "old catalogue schema 4"));
	free(cause);
	fx->c = catalogue_open_writer(fx->db, &cause);
	assert_non_null(fx->c);
	assert_int_equal(sql_int(fx->db, "PRAGMA user_version"), 5);
	assert_int_equal(sql_int(fx->db, FTS_HASHSIZE_SQL), 8 << 20);
	add_hashed(fx->c, "some/other.ogg", 10, "audio/ogg");
	EXPECT(fx->c, "song", "some/song.ogg");
	EXPECT(fx->c, "some", "some/song.ogg", "some/other.ogg");
	check_index(fx->db);
}

static void test_ctime_migration(void **state)
{
	struct fixture *fx = *state;
	struct cat_file f = {0};
	char *cause = NULL;
	sqlite3 *db;
	int64_t id;

	/* A catalogue of schema 1 (before ctimes), with a hashed file. */
	id = add_hashed(fx->c, "old.txt", 10, "text/plain");
	catalogue_close(fx->c);
	fx->c = NULL;
	downgrade_to_2(fx->db);
	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "ALTER TABLE files DROP COLUMN ctime_ns;"
	                              "PRAGMA user_version = 1",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);

	/* A reader asks for the upgrade; the writer upgrades in place. */
	assert_null(catalogue_open(fx->db, &cause));
	assert_non_null(strstr(cause, "old catalogue schema 1"));
	free(cause);
	fx->c = catalogue_open_writer(fx->db, &cause);
	assert_non_null(fx->c);
	assert_true(sql_int(fx->db, "PRAGMA user_version") >= 2);
	assert_int_equal(catalogue_get(fx->c, id, &f), 1);
	assert_true(f.hashed);
	assert_int_equal(f.ctime_ns, 0); /* unknown */
	cat_file_clear(&f);

	/* The first look records the ctime and keeps the hash (same inode,
	 * size and mtime); a later ctime change is a change. */
	f.path = (char *)"old.txt";
	f.size = 10;
	f.mtime_ns = 1000;
	f.dev = 1;
	f.ino = strlen("old.txt");
	f.ctime_ns = 5000;
	assert_int_equal(catalogue_upsert(fx->c, &f), 0);
	assert_int_equal(f.id, id);
	memset(&f, 0, sizeof(f));
	assert_int_equal(catalogue_get(fx->c, id, &f), 1);
	assert_true(f.hashed);
	assert_int_equal(f.ctime_ns, 5000);
	cat_file_clear(&f);
	f.path = (char *)"old.txt";
	f.size = 10;
	f.mtime_ns = 1000;
	f.dev = 1;
	f.ino = strlen("old.txt");
	f.ctime_ns = 6000;
	assert_int_equal(catalogue_upsert(fx->c, &f), 0);
	memset(&f, 0, sizeof(f));
	assert_int_equal(catalogue_get(fx->c, id, &f), 1);
	assert_false(f.hashed);
	assert_int_equal(f.ctime_ns, 6000);
	cat_file_clear(&f);
}

static void test_ctime_unknown_other_inode(void **state)
{
	struct fixture *fx = *state;
	struct cat_file f = {0};
	int64_t id = add_hashed(fx->c, "a.txt", 10, "text/plain");

	/* ctime unknown, another inode: another file, hash cleared. */
	f.path = (char *)"a.txt";
	f.size = 10;
	f.mtime_ns = 1000;
	f.dev = 1;
	f.ino = 4242;
	f.ctime_ns = 7000;
	assert_int_equal(catalogue_upsert(fx->c, &f), 0);
	memset(&f, 0, sizeof(f));
	assert_int_equal(catalogue_get(fx->c, id, &f), 1);
	assert_false(f.hashed);
	cat_file_clear(&f);
}

static void test_set_hash_of_and_ctime(void **state)
{
	struct fixture *fx = *state;
	struct cat_file f = {0}, h = {0};
	bool stale = false;

	f.path = (char *)"b.txt";
	f.size = 3;
	f.mtime_ns = 1000;
	f.ctime_ns = 2000;
	f.ino = 9;
	assert_int_equal(catalogue_upsert(fx->c, &f), 0);
	h.id = f.id;
	h.path = (char *)"b.txt";
	h.size = 3;
	h.mtime_ns = 1000;
	memset(h.sha256, 0xab, sizeof(h.sha256));
	h.media_type = (char *)"text/plain";

	/* Another ctime (touch -r after an edit): stale. */
	h.ctime_ns = 1999;
	assert_int_equal(catalogue_set_hash_of(fx->c, &h, &stale), 0);
	assert_true(stale);
	/* Another path (an id given again after a rollback): stale. */
	h.ctime_ns = 2000;
	h.path = (char *)"c.txt";
	assert_int_equal(catalogue_set_hash_of(fx->c, &h, &stale), 0);
	assert_true(stale);
	h.path = (char *)"b.txt";
	assert_int_equal(catalogue_set_hash_of(fx->c, &h, &stale), 0);
	assert_false(stale);

	/* A rename's new ctime keeps the hash. */
	assert_int_equal(catalogue_rename(fx->c, "b.txt", "d.txt"), 0);
	assert_int_equal(catalogue_set_ctime(fx->c, f.id, 3000), 0);
	memset(&f, 0, sizeof(f));
	assert_int_equal(catalogue_get_by_path(fx->c, "d.txt", &f), 1);
	assert_true(f.hashed);
	assert_int_equal(f.ctime_ns, 3000);
	assert_int_equal(f.sha256[0], 0xab);
	cat_file_clear(&f);
}

static void test_keep_errors(void **state)
{
	struct fixture *fx = *state;

	assert_null(catalogue_last_error(fx->c));
	catalogue_keep_errors(fx->c, true);
	/* COMMIT without a transaction fails: kept, not logged. */
	assert_int_equal(catalogue_commit(fx->c), -1);
	assert_non_null(catalogue_last_error(fx->c));
	assert_non_null(strstr(catalogue_last_error(fx->c), "committing"));
	assert_non_null(strstr(catalogue_last_error(fx->c), fx->db));
	catalogue_clear_error(fx->c);
	assert_null(catalogue_last_error(fx->c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_upsert_get_resolve, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_raw_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ids_never_reused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search_descriptions, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_stats_and_downloads, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rooms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuse_foreign, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_refuse_corrupt, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_desc_migration, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_fts_hashsize, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctime_migration, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_ctime_unknown_other_inode,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_hash_of_and_ctime, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_keep_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_while_writing, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
