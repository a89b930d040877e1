/*
 * Unit tests for the command plugins (browse, search, get, stats,
 * announce), their shared output format (plugins/listing.c), and the file
 * arguments the dispatcher resolves for them (chat/cmdarg.c).
 *
 * The plugins are the real shared objects of the build tree, loaded with
 * dlopen() by a small fake host that implements struct fb_api: it
 * registers the table FISBOT_PLUGIN declares and calls init if there is
 * one, as the host does, resolves file arguments with the dispatcher's
 * code, records each reply, keeps one "more" continuation, and runs hooks
 * and timers on demand. The catalogue is a real one in a temporary folder.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "chat/cmdarg.h"
#include "chat/cmdline.h"
#include "fisbot/fisbot_plugin.h"
#include "listing.h"
#include "store/catalogue_write.h"

#ifndef FISBOT_PLUGIN_DIR
#define FISBOT_PLUGIN_DIR "plugins"
#endif

#define MAX_CMDS  8
#define MAX_SENT  16
#define MAX_ROOMS 4

/* --- the fake host ------------------------------------------------------ */

struct fb_plugin {
	const char *name;
	void *dl;
	void *data;
	const struct fb_command *cmds;
	size_t n_cmds;
	fb_event_fn hooks[4];
	fb_timer_fn timer;
	unsigned long period;
};

struct fb_request {
	struct fb_plugin *p;
	enum fb_place place;
	const char *args;
	char *out;            /* the reply's lines, '\n'-separated */
	bool error;           /* the reply is an error */
	int64_t link;         /* reply_link's file id, or 0 */
	struct cat_file file; /* the resolved file argument */
	bool has_file;
};

/* Everything the fake host knows, for one test. */
static struct fake {
	char dir[80];
	struct config cfg;
	struct catalogue *cat;
	struct fb_plugin plugins[5];
	size_t n_plugins;
	/* the one "more" continuation */
	fb_more_fn more_fn;
	void *more_state;
	void (*more_free)(void *);
	/* rooms and what was sent to them */
	const char *rooms[MAX_ROOMS];
	bool announces[MAX_ROOMS];
	size_t n_rooms;
	char *sent[MAX_SENT];
	const char *sent_room[MAX_SENT];
	size_t n_sent;
	/* the transfers and the download queue, as the host would say */
	struct fb_transfers tr;
	struct fb_queue_info qi;
	unsigned n_cancel; /* what queue_cancel takes out */
	unsigned cancels;  /* calls of queue_cancel */
	/* the first build of an empty catalogue runs, with files so far */
	bool indexing;
	uint64_t indexed;
} fk;

static int fk_register_commands(struct fb_plugin *p,
                                const struct fb_command *cmds, size_t n)
{
	p->cmds = cmds;
	p->n_cmds = n;
	return 0;
}

static void fk_hook(struct fb_plugin *p, enum fb_event ev, fb_event_fn fn,
                    void *arg)
{
	p->hooks[ev] = fn;
}

static void fk_add_timer(struct fb_plugin *p, unsigned long period_ms,
                         fb_timer_fn fn, void *arg)
{
	p->timer = fn;
	p->period = period_ms;
}

static void fk_set_data(struct fb_plugin *p, void *data)
{
	p->data = data;
}

static void *fk_data(struct fb_plugin *p)
{
	return p->data;
}

static const struct config *fk_config(struct fb_plugin *p)
{
	return &fk.cfg;
}

static struct catalogue *fk_catalogue(struct fb_plugin *p)
{
	return fk.cat;
}

static struct fb_plugin *fk_req_plugin(struct fb_request *r)
{
	return r->p;
}

static enum fb_place fk_req_place(struct fb_request *r)
{
	return r->place;
}

static const char *fk_req_args(struct fb_request *r)
{
	return r->args;
}

static const struct cat_file *fk_req_file(struct fb_request *r)
{
	return r->has_file ? &r->file : NULL;
}

/* Appends a formatted line to r->out. */
static void add_line(struct fb_request *r, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void add_line(struct fb_request *r, const char *fmt, va_list ap)
{
	char *line = xvasprintf(fmt, ap);
	char *out;

	/* What a plugin hands over must already be clean text. */
	assert_true(text_is_utf8(line, strlen(line)));
	assert_null(strchr(line, '\n'));
	out =
	    r->out == NULL ? xstrdup(line) : xasprintf("%s\n%s", r->out, line);
	free(r->out);
	free(line);
	r->out = out;
}

static void fk_reply(struct fb_request *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fk_reply(struct fb_request *r, const char *fmt, ...)
{
	va_list ap;

	assert_false(r->error);
	va_start(ap, fmt);
	add_line(r, fmt, ap);
	va_end(ap);
}

static void fk_reply_error(struct fb_request *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fk_reply_error(struct fb_request *r, const char *fmt, ...)
{
	va_list ap;

	free(r->out);
	r->out = NULL;
	r->error = true;
	va_start(ap, fmt);
	add_line(r, fmt, ap);
	va_end(ap);
}

static void fk_reply_link(struct fb_request *r, const struct cat_file *f)
{
	assert_true(f->hashed);
	r->link = f->id;
}

/* Stricter than the host (which frees the old one once the answer is
 * sent): a new continuation replaces and frees the old one at once, so a
 * plugin must not touch its old state after set_more. */
static void fk_set_more(struct fb_request *r, fb_more_fn fn, void *state,
                        void (*free_state)(void *))
{
	if (fk.more_free != NULL)
		fk.more_free(fk.more_state);
	fk.more_fn = fn;
	fk.more_state = state;
	fk.more_free = free_state;
}

static void fk_rooms_foreach(struct fb_plugin *p,
                             void (*fn)(const char *room, void *arg), void *arg)
{
	for (size_t i = 0; i < fk.n_rooms; i++)
		fn(fk.rooms[i], arg);
}

static bool fk_room_announces(struct fb_plugin *p, const char *room)
{
	for (size_t i = 0; i < fk.n_rooms; i++)
		if (strcmp(fk.rooms[i], room) == 0)
			return fk.announces[i];
	fail_msg("unknown room %s", room);
	return false;
}

static void fk_send_room(struct fb_plugin *p, const char *room,
                         const char *text)
{
	assert_true(fk.n_sent < MAX_SENT);
	fk.sent_room[fk.n_sent] = room;
	fk.sent[fk.n_sent++] = xstrdup(text);
}

static void fk_transfers(struct fb_plugin *p, struct fb_transfers *out)
{
	*out = fk.tr;
}

static void fk_queue_info(struct fb_request *r, struct fb_queue_info *out)
{
	*out = fk.qi;
}

static unsigned fk_queue_cancel(struct fb_request *r)
{
	fk.cancels++;
	return fk.n_cancel;
}

static bool fk_indexing(struct fb_plugin *p, uint64_t *files)
{
	*files = fk.indexed;
	return fk.indexing;
}

static const struct fb_api fk_api = {
    .version = FB_API_VERSION,
    .register_commands = fk_register_commands,
    .hook = fk_hook,
    .add_timer = fk_add_timer,
    .set_data = fk_set_data,
    .data = fk_data,
    .config = fk_config,
    .catalogue = fk_catalogue,
    .req_plugin = fk_req_plugin,
    .req_place = fk_req_place,
    .req_args = fk_req_args,
    .req_file = fk_req_file,
    .reply = fk_reply,
    .reply_error = fk_reply_error,
    .reply_link = fk_reply_link,
    .set_more = fk_set_more,
    .rooms_foreach = fk_rooms_foreach,
    .room_announces = fk_room_announces,
    .send_room = fk_send_room,
    .queue_info = fk_queue_info,
    .queue_cancel = fk_queue_cancel,
    .transfers = fk_transfers,
    .indexing = fk_indexing,
};

/* Loads plugin name.so: registers the table FISBOT_PLUGIN declares and
 * runs init, either of which may be missing (not both). */
static struct fb_plugin *load(const char *name)
{
	struct fb_plugin *p = &fk.plugins[fk.n_plugins++];
	int (*init)(struct fb_plugin *, const struct fb_api *, char **);
	const struct fb_plugin_table *table;
	const unsigned *version;
	char *path, *cause = NULL;

	path = xasprintf("%s/%s.so", FISBOT_PLUGIN_DIR, name);
	p->name = name;
	p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (p->dl == NULL)
		fail_msg("dlopen %s: %s", path, dlerror());
	free(path);
	version = dlsym(p->dl, "fisbot_plugin_api_version");
	assert_non_null(version);
	assert_int_equal(*version, FB_API_VERSION);
	assert_string_equal((const char *)dlsym(p->dl, "fisbot_plugin_name"),
	                    name);
	table = dlsym(p->dl, "fisbot_plugin_table");
	*(void **)&init = dlsym(p->dl, "fisbot_plugin_init");
	assert_true(table != NULL || init != NULL);
	if (table != NULL) {
		assert_non_null(table->api);
		*table->api = &fk_api;
		fk_register_commands(p, table->commands, table->n_commands);
	}
	if (init != NULL)
		assert_int_equal(init(p, &fk_api, &cause), 0);
	return p;
}

/* Runs "NAME ARGS" like the dispatcher would (arity from the table) and
 * returns the request with its reply; the caller frees it with done(). */
static struct fb_request *run(enum fb_place place, const char *text)
{
	struct fb_request *r = xcalloc(1, sizeof(*r));
	char *copy = xstrdup(text), *argv[32], *cause = NULL;
	const char *sp = strchr(text, ' ');
	int argc = 0;

	/* Split on spaces, "double quotes" kept together, as the host does. */
	for (char *t = copy; *t != '\0' && argc < 32;) {
		char *w = t;

		while (*t == ' ')
			t++;
		if (*t == '\0')
			break;
		argv[argc++] = w;
		for (bool quoted = false; *t != '\0' && (quoted || *t != ' ');
		     t++) {
			if (*t == '"')
				quoted = !quoted;
			else
				*w++ = *t;
		}
		if (*t == ' ')
			t++;
		*w = '\0';
	}
	r->place = place;
	r->args = sp != NULL ? sp + 1 : "";
	if (strcmp(argv[0], "more") == 0) {
		assert_non_null(fk.more_fn);
		r->p = &fk.plugins[0];
		fk.more_fn(r, fk.more_state);
		goto out;
	}
	for (size_t i = 0; i < fk.n_plugins; i++) {
		struct fb_plugin *p = &fk.plugins[i];

		for (size_t j = 0; j < p->n_cmds; j++) {
			const struct fb_command *cmd = &p->cmds[j];

			if (strcmp(cmd->name, argv[0]) != 0)
				continue;
			r->p = p;
			if (argc - 1 < cmd->min_args ||
			    (cmd->max_args >= 0 && argc - 1 > cmd->max_args))
				fail_msg("bad arity for %s", text);
			/* The dispatcher's step before the handler. */
			switch (cmdarg_resolve(fk.cat, cmd, argc, argv, r->args,
			                       &r->file, &cause)) {
			case -1:
				r->out = cause;
				r->error = true;
				goto out;
			case 1:
				r->has_file = true;
				break;
			default:
				break;
			}
			cmd->handler(r, argc, argv);
			goto out;
		}
	}
	fail_msg("no command %s", argv[0]);
out:
	free(copy);
	return r;
}

static void done(struct fb_request *r)
{
	if (r->has_file)
		cat_file_clear(&r->file);
	free(r->out);
	free(r);
}

/* Runs text and checks the whole reply. */
static void expect(enum fb_place place, const char *text, const char *want)
{
	struct fb_request *r = run(place, text);

	if (want == NULL)
		assert_null(r->out);
	else if (r->out == NULL)
		fail_msg("\"%s\": no reply, wanted \"%s\"", text, want);
	else
		assert_string_equal(r->out, want);
	done(r);
}

/* Adds a file to the catalogue; hashed ones get a SHA-256 of 0x11.. and
 * media type text/plain. Returns its id. */
static int64_t add_file(const char *path, uint64_t size, bool hashed)
{
	struct cat_file f = {.path = (char *)path,
	                     .size = size,
	                     .mtime_ns = 1000,
	                     .dev = 1,
	                     .ino = 1};
	unsigned char sha[32];
	bool stale = false;

	assert_int_equal(catalogue_upsert(fk.cat, &f), 0);
	if (hashed) {
		memset(sha, 0x11, sizeof(sha));
		assert_int_equal(catalogue_set_hash(fk.cat, f.id, size, 1000,
		                                    sha, "text/plain", &stale),
		                 0);
		assert_false(stale);
	}
	return f.id;
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char *path, *cause = NULL;

	memset(&fk, 0, sizeof(fk));
	snprintf(fk.dir, sizeof(fk.dir), "%s/fisbot-test-commands-XXXXXX",
	         tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	assert_non_null(mkdtemp(fk.dir));
	path = xasprintf("%s/fisbot.db", fk.dir);
	fk.cat = catalogue_open_writer(path, &cause);
	free(path);
	if (fk.cat == NULL)
		fail_msg("catalogue_open: %s", cause);
	fk.cfg.commands.prefix = (char *)"!";
	fk.cfg.commands.page_size = 10;
	fk.cfg.commands.find_min_length = 3;
	fk.cfg.commands.find_max_results = 5;
	fk.cfg.announce.enabled = true;
	fk.cfg.announce.batch_ms = 0;
	for (size_t i = 0; i < 5; i++) {
		static const char *const names[] = {"browse", "search", "get",
		                                    "stats", "announce"};

		load(names[i]);
	}
	return 0;
}

static int teardown(void **state)
{
	char *cmd;

	if (fk.more_free != NULL)
		fk.more_free(fk.more_state);
	for (size_t i = 0; i < fk.n_plugins; i++) {
		void (*fini)(struct fb_plugin *);

		*(void **)&fini = dlsym(fk.plugins[i].dl, "fisbot_plugin_fini");
		if (fini != NULL)
			fini(&fk.plugins[i]);
		dlclose(fk.plugins[i].dl);
	}
	for (size_t i = 0; i < fk.n_sent; i++)
		free(fk.sent[i]);
	catalogue_close(fk.cat);
	cmd = xasprintf("rm -rf '%s'", fk.dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

/* --- listing.c ------------------------------------------------------------ */

static char *footer(uint64_t offset, size_t shown, uint64_t total, bool capped)
{
	struct listing_page pg = {offset, shown, total, capped, 10};

	return listing_footer(&pg, "!");
}

static void check_footer(uint64_t offset, size_t shown, uint64_t total,
                         bool capped, const char *want)
{
	char *s = footer(offset, shown, total, capped);

	assert_string_equal(s, want);
	free(s);
}

static void test_listing_footer(void **state)
{
	check_footer(0, 10, 27, false,
	             "page 1/3 · 27 results · say !more for the next 10");
	check_footer(10, 10, 27, false,
	             "page 2/3 · 27 results · say !more for the next 7");
	check_footer(20, 7, 27, false, "page 3/3 · 27 results");
	check_footer(0, 1, 1, false, "page 1/1 · 1 result");
	check_footer(0, 10, 10, false, "page 1/1 · 10 results");
	check_footer(0, 10, 11, false,
	             "page 1/2 · 11 results · say !more for the next 1");
	check_footer(0, 10, 1000, true,
	             "page 1 · 1000+ results · say !more for the next 10");
	check_footer(1000, 4, 1000, true, "page 101 · 1000+ results");
	/* The catalogue shrank between two pages. */
	check_footer(20, 3, 5, false, "page 3/3 · 5 results");
}

static void test_listing_lines(void **state)
{
	struct cat_file f = {.id = 42,
	                     .path = (char *)"music/live/song.ogg",
	                     .size = 3 * 1024 * 1024};
	char *s;

	s = listing_file(&f);
	assert_string_equal(s, "#42 music/live/song.ogg (3.0 MiB)");
	free(s);
	f.path = (char *)"bad\n\x01name\xff.txt";
	f.size = 12;
	s = listing_file(&f);
	assert_string_equal(s, "#42 bad\\x0A\\x01name\\xFF.txt (12 B)");
	free(s);
	s = listing_dir("music/live/encores");
	assert_string_equal(s, "music/live/encores/");
	free(s);
	s = listing_dir("evil\x1b[31m");
	assert_string_equal(s, "evil\\x1B[31m/");
	free(s);
}

static void test_listing_args(void **state)
{
	char a0[] = "list", a1[] = "my", a2[] = "music";
	char *argv[] = {a0, a1, a2};
	char *s;

	s = listing_arg(1, argv, "");
	assert_string_equal(s, "");
	free(s);
	s = listing_arg(2, argv, "my");
	assert_string_equal(s, "my");
	free(s);
	s = listing_arg(3, argv, "  my music \t");
	assert_string_equal(s, "my music");
	free(s);
	s = listing_folder("/music/live//");
	assert_string_equal(s, "music/live");
	free(s);
	s = listing_folder(".");
	assert_string_equal(s, "");
	free(s);
	s = listing_folder("/");
	assert_string_equal(s, "");
	free(s);
}

static void test_listing_times(void **state)
{
	char buf[LISTING_DURATION_LEN], date[LISTING_DATE_LEN];

	assert_string_equal(listing_duration(0, buf), "0s");
	assert_string_equal(listing_duration(59, buf), "59s");
	assert_string_equal(listing_duration(61, buf), "1m 1s");
	assert_string_equal(listing_duration(3600, buf), "1h 0m");
	assert_string_equal(
	    listing_duration(3 * 86400 + 4 * 3600 + 5 * 60, buf), "3d 4h 5m");
	assert_string_equal(listing_date(0, date), "1970-01-01T00:00:00Z");
	assert_string_equal(listing_date(1700000000, date),
	                    "2023-11-14T22:13:20Z");
}

/* --- browse --------------------------------------------------------------- */

static void test_list_folders_first(void **state)
{
	add_file("b.txt", 12, true);
	add_file("a/x.ogg", 3 * 1024 * 1024, true);
	add_file("c/y.ogg", 1024, false);
	add_file("a.txt", 1, true);

	expect(FB_DIRECT, "list",
	       "a/\nc/\n#4 a.txt (1 B)\n#1 b.txt (12 B)\n"
	       "page 1/1 · 4 results");
	expect(FB_ROOM, "list /a/",
	       "#2 a/x.ogg (3.0 MiB)\npage 1/1 · 1 result");
	expect(FB_ROOM_PRIVATE, "list c",
	       "#3 c/y.ogg (1.0 KiB)\n"
	       "page 1/1 · 1 result");
	expect(FB_DIRECT, "list nope", "no such folder: nope");
	expect(FB_DIRECT, "list bad\x01", "no such folder: bad\\x01");
	/* The last page was shown: "more" says so. */
	expect(FB_DIRECT, "more", "nothing more to show");
}

static void test_list_empty(void **state)
{
	expect(FB_DIRECT, "list", "the share is empty");
	assert_int_equal(catalogue_add_dir(fk.cat, "void"), 0);
	expect(FB_DIRECT, "list", "void/\npage 1/1 · 1 result");
	expect(FB_DIRECT, "list void", "void/ is empty");
}

/* While the first build of an empty catalogue runs, an empty answer says
 * so; a match is shown as usual. */
static void test_still_indexing(void **state)
{
	char *line;

	fk.indexing = true;
	fk.indexed = 12345;
	expect(FB_DIRECT, "search nothing",
	       "still indexing: 12,345 files so far");
	expect(FB_ROOM, "list", "still indexing: 12,345 files so far");
	expect(FB_DIRECT, "list not/yet",
	       "still indexing: 12,345 files so far");
	fk.indexed = 1;
	expect(FB_DIRECT, "search nothing", "still indexing: 1 file so far");
	add_file("found.txt", 3, true);
	expect(FB_DIRECT, "search found",
	       "#1 found.txt (3 B)\npage 1/1 · 1 result");
	fk.indexing = false;
	expect(FB_DIRECT, "search nothing", "no match");
	expect(FB_DIRECT, "list not/yet", "no such folder: not/yet");
	line = listing_indexing(0);
	assert_string_equal(line, "still indexing: 0 files so far");
	free(line);
}

static void test_list_three_pages(void **state)
{
	char path[64], want[1024];
	size_t len;

	for (int i = 0; i < 27; i++) {
		snprintf(path, sizeof(path), "many/f%02d.txt", i);
		add_file(path, 100, true);
	}
	for (int page = 0; page < 3; page++) {
		struct fb_request *r =
		    run(FB_ROOM, page == 0 ? "list many" : "more");

		len = 0;
		for (int i = page * 10; i < 27 && i < page * 10 + 10; i++)
			len += (size_t)snprintf(want + len, sizeof(want) - len,
			                        "#%d many/f%02d.txt (100 B)\n",
			                        i + 1, i);
		snprintf(want + len, sizeof(want) - len, "%s",
		         page == 0 ? "page 1/3 · 27 results · say !more for "
		                     "the next 10"
		         : page == 1 ? "page 2/3 · 27 results · say !more for "
		                       "the next 7"
		                     : "page 3/3 · 27 results");
		assert_string_equal(r->out, want);
		done(r);
	}
	expect(FB_ROOM, "more", "nothing more to show");
}

static void test_info(void **state)
{
	int64_t id = add_file("docs/r\xc3\xa9sum\xc3\xa9.pdf", 1536, true);
	struct fb_request *r;
	char want[1024], date[LISTING_DATE_LEN];
	struct cat_file f = {0};

	assert_int_equal(catalogue_set_description(fk.cat, id, "my CV\n"), 0);
	assert_int_equal(catalogue_get(fk.cat, id, &f), 1);
	snprintf(
	    want, sizeof(want),
	    "#1 docs/r\xc3\xa9sum\xc3\xa9.pdf (1.5 KiB)\n"
	    "name: r\xc3\xa9sum\xc3\xa9.pdf\n"
	    "path: docs/r\xc3\xa9sum\xc3\xa9.pdf\n"
	    "size: 1.5 KiB (1536 bytes)\n"
	    "modified: 1970-01-01T00:00:00Z\n" /* mtime_ns 1000 */
	    "added: %s\n"
	    "sha-256: "
	    "1111111111111111111111111111111111111111111111111111111111111111"
	    "\n"
	    "type: text/plain\n"
	    "description: my CV\\x0A\n"
	    "downloads: 0",
	    listing_date(f.added, date));
	cat_file_clear(&f);
	r = run(FB_DIRECT, "info 1");
	assert_string_equal(r->out, want);
	done(r);
	r = run(FB_ROOM, "info #1");
	assert_string_equal(r->out, want);
	done(r);
	r = run(FB_ROOM_PRIVATE, "info /docs/r\xc3\xa9sum\xc3\xa9.pdf");
	assert_string_equal(r->out, want);
	done(r);

	add_file("wait.iso", 5, false);
	r = run(FB_DIRECT, "info wait.iso");
	assert_non_null(strstr(r->out, "\nsha-256: (not computed yet)\n"));
	assert_non_null(strstr(r->out, "\ntype: (unknown)\n"));
	assert_non_null(strstr(r->out, "\ndescription: (none)\n"));
	done(r);

	expect(FB_DIRECT, "info 99", "no such file: 99");
	expect(FB_DIRECT, "info no such thing", "no such file: no such thing");
}

/* --- search --------------------------------------------------------------- */

static void test_search_pages(void **state)
{
	char path[64];
	struct fb_request *r;

	for (int i = 0; i < 23; i++) {
		snprintf(path, sizeof(path), "song%02d.ogg", i);
		add_file(path, 10, true);
	}
	add_file("other.txt", 10, true);
	add_file("song-unhashed.ogg", 10, false);

	/* Newest first. */
	r = run(FB_ROOM, "search SONG");
	assert_true(
	    strncmp(r->out, "#23 song22.ogg (10 B)\n#22 song21.ogg", 36) == 0);
	assert_non_null(strstr(
	    r->out, "\npage 1/3 · 23 results · say !more for the next 10"));
	done(r);
	r = run(FB_ROOM, "more");
	assert_true(strncmp(r->out, "#13 song12.ogg (10 B)\n", 22) == 0);
	done(r);
	r = run(FB_ROOM, "more");
	assert_string_equal(r->out,
	                    "#3 song02.ogg (10 B)\n#2 song01.ogg (10 B)\n"
	                    "#1 song00.ogg (10 B)\n"
	                    "page 3/3 · 23 results");
	done(r);
	expect(FB_ROOM, "more", "nothing more to show");

	expect(FB_DIRECT, "search other",
	       "#24 other.txt (10 B)\n"
	       "page 1/1 · 1 result");
	expect(FB_DIRECT, "search nothing-like-this", "no match");
	/* A new search replaces the old continuation. */
	expect(FB_DIRECT, "more", "nothing more to show");
	expect(FB_DIRECT, "search \"unterminated",
	       "bad search: unterminated quote");
	expect(FB_DIRECT, "search size:>1K", "no match");
}

static void test_find(void **state)
{
	char path[64];

	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "tune%d.ogg", i);
		add_file(path, 10, true);
	}
	/* Silent when nothing matches, everywhere. */
	expect(FB_ROOM, "find nomatch", NULL);
	expect(FB_DIRECT, "find nomatch", NULL);
	/* Too short: silent in a room, a hint elsewhere. */
	expect(FB_ROOM, "find tu", NULL);
	expect(FB_ROOM, "find *.ogg", NULL);
	expect(FB_DIRECT, "find tu",
	       "usage: find TERMS... (a word of at least 3 characters)");
	expect(FB_ROOM_PRIVATE, "find \"bad", "bad search: unterminated quote");
	expect(FB_ROOM, "find \"bad", NULL);
	/* At most find_max_results (5), then how many more. */
	expect(FB_ROOM, "find tune",
	       "#8 tune7.ogg (10 B)\n#7 tune6.ogg (10 B)\n#6 tune5.ogg (10 B)\n"
	       "#5 tune4.ogg (10 B)\n#4 tune3.ogg (10 B)\n"
	       "… and 3 more: say !search tune");
	expect(FB_ROOM, "find tune3", "#4 tune3.ogg (10 B)");
}

/* --- get ------------------------------------------------------------------ */

static void test_get(void **state)
{
	struct fb_request *r;

	add_file("a.bin", 10, true);
	add_file("dir/b c.bin", 10, true);
	add_file("hashing.bin", 10, false);

	r = run(FB_ROOM, "get 1");
	assert_null(r->out);
	assert_int_equal(r->link, 1);
	done(r);
	r = run(FB_DIRECT, "get dir/b c.bin");
	assert_int_equal(r->link, 2);
	done(r);
	r = run(FB_ROOM_PRIVATE, "get \"dir/b c.bin\"");
	assert_int_equal(r->link, 2);
	done(r);
	expect(FB_DIRECT, "get 3", "not ready yet: #3 is being hashed");
	expect(FB_DIRECT, "get 99", "no such file: 99");
	expect(FB_DIRECT, "get \x1b[2J", "no such file: \\x1B[2J");
}

/* --- file arguments (the dispatcher's, cmdarg.c) ---------------------------
 */

static void cmd_unused(struct fb_request *r, int argc, char **argv)
{
	fail_msg("a resolver test ran a handler");
}

/* "w ID|PATH": the whole argument text names a file. */
static const struct fb_command whole_cmd = {
    .name = "w",
    .usage = "w ID|PATH",
    .min_args = 1,
    .max_args = -1,
    .help = "whole",
    .handler = cmd_unused,
    .arg = FB_ARG_FILE,
};

/* "f ID TEXT": the first argument names a file. */
static const struct fb_command first_cmd = {
    .name = "f",
    .usage = "f ID TEXT",
    .min_args = 1,
    .max_args = -1,
    .help = "first",
    .handler = cmd_unused,
    .arg = FB_ARG_FILE_FIRST,
};

/* Parses body as the dispatcher does (cmdline_parse) and resolves cmd's
 * argument through c. Returns the file's id, or 0 with the error in
 * *error (the caller frees it); -2 if there was nothing to resolve. */
static int64_t resolve_in(struct catalogue *c, const struct fb_command *cmd,
                          const char *body, char **error)
{
	struct cmdline cl;
	struct cat_file f = {0};
	int64_t id;
	int rc;

	*error = NULL;
	assert_true(cmdline_parse(body, strlen(body), "!", false, &cl));
	assert_null(cl.error);
	rc = cmdarg_resolve(c, cmd, cl.argc, cl.argv, cl.args, &f, error);
	cmdline_clear(&cl);
	if (rc == 0) {
		assert_null(*error);
		return -2;
	}
	if (rc == -1) {
		assert_non_null(*error);
		/* One line, clean text, bounded. */
		assert_true(text_is_utf8(*error, strlen(*error)));
		assert_null(strpbrk(*error, "\n\r\x1b"));
		assert_true(strlen(*error) <= 16 + 4 * CMDARG_ECHO_MAX + 3);
		return 0;
	}
	assert_int_equal(rc, 1);
	assert_null(*error);
	assert_non_null(f.path);
	id = f.id;
	cat_file_clear(&f);
	return id;
}

static int64_t resolve(const struct fb_command *cmd, const char *body,
                       char **error)
{
	return resolve_in(fk.cat, cmd, body, error);
}

/* Checks that body resolves to the file id. */
static void expect_file(const struct fb_command *cmd, const char *body,
                        int64_t id)
{
	char *error = NULL;
	int64_t got = resolve(cmd, body, &error);

	if (got != id)
		fail_msg("\"%s\": got #%" PRId64 " (%s), wanted #%" PRId64,
		         body, got, error != NULL ? error : "no error", id);
}

/* Checks that body is refused with exactly want. */
static void expect_refused(const struct fb_command *cmd, const char *body,
                           const char *want)
{
	char *error = NULL;

	if (resolve(cmd, body, &error) != 0)
		fail_msg("\"%s\": resolved, wanted \"%s\"", body, want);
	assert_string_equal(error, want);
	free(error);
}

static void test_file_argument_id_and_path(void **state)
{
	add_file("a.bin", 10, true);        /* #1 */
	add_file("dir/b c.bin", 10, true);  /* #2 */
	add_file("hashing.bin", 10, false); /* #3: not hashed yet */
	add_file("7", 10, true);            /* #4: a name of digits */
	add_file("d\xc3\xa9j\xc3\xa0 vu.txt", 1, true); /* #5 */

	/* By id, with or without '#'. */
	expect_file(&whole_cmd, "w 1", 1);
	expect_file(&whole_cmd, "w #2", 2);
	expect_file(&whole_cmd, "w 3", 3); /* resolved; get checks hashed */
	/* By path: one argument, quoted, or the whole text unquoted, with
	 * or without a leading '/', surrounding space trimmed. */
	expect_file(&whole_cmd, "w a.bin", 1);
	expect_file(&whole_cmd, "w \"dir/b c.bin\"", 2);
	expect_file(&whole_cmd, "w dir/b c.bin", 2);
	expect_file(&whole_cmd, "w   /dir/b c.bin  ", 2);
	expect_file(&whole_cmd, "w d\xc3\xa9j\xc3\xa0 vu.txt", 5);
	/* Digits are an id first, then a path; "#7" is only an id. */
	expect_file(&whole_cmd, "w 7", 4);
	expect_refused(&whole_cmd, "w #7", "no such file: #7");
	/* The first argument only; the rest is the handler's. */
	expect_file(&first_cmd, "f 2 a nice file", 2);
	expect_file(&first_cmd, "f #1 x", 1);
	expect_file(&first_cmd, "f \"dir/b c.bin\" a text", 2);
	expect_file(&first_cmd, "f a.bin", 1);
	expect_refused(&first_cmd, "f dir/b c.bin", "no such file: dir/b");
	/* A command without a file argument: nothing is looked up. */
	{
		struct fb_command none = whole_cmd;
		char *error = NULL;

		none.arg = FB_ARG_NONE;
		assert_int_equal(resolve(&none, "w 1", &error), -2);
	}
}

static void test_file_argument_missing(void **state)
{
	add_file("a.bin", 10, true);

	expect_refused(&whole_cmd, "w", "usage: w ID|PATH");
	expect_refused(&whole_cmd, "w \"\"", "usage: w ID|PATH");
	expect_refused(&whole_cmd, "w \"\" \"\"", "usage: w ID|PATH");
	expect_refused(&first_cmd, "f", "usage: f ID TEXT");
	expect_refused(&first_cmd, "f \"\" text", "usage: f ID TEXT");
	expect_refused(&whole_cmd, "w 99", "no such file: 99");
	expect_refused(&whole_cmd, "w #99", "no such file: #99");
	expect_refused(&whole_cmd, "w no such thing",
	               "no such file: no such thing");
	expect_refused(&whole_cmd, "w 0", "no such file: 0");
	expect_refused(&whole_cmd, "w #", "no such file: #");
	expect_refused(&whole_cmd, "w -1", "no such file: -1");
	/* Past 18 digits it is a path, and none has that name. */
	expect_refused(&whole_cmd, "w 99999999999999999999999",
	               "no such file: 99999999999999999999999");
}

static void test_file_argument_hostile(void **state)
{
	char *error = NULL, *body, *want, longname[4001];
	struct cmdline cl;

	add_file("a.bin", 10, true);
	add_file("dir/b.bin", 10, true);

	/* Names are catalogue paths, never resolved on disk: nothing
	 * outside the share, no "..", no second slash. */
	expect_refused(&whole_cmd, "w ../../etc/passwd",
	               "no such file: ../../etc/passwd");
	expect_refused(&whole_cmd, "w /etc/passwd",
	               "no such file: /etc/passwd");
	expect_refused(&whole_cmd, "w dir/../a.bin",
	               "no such file: dir/../a.bin");
	expect_refused(&whole_cmd, "w ./a.bin", "no such file: ./a.bin");
	expect_refused(&whole_cmd, "w dir//b.bin", "no such file: dir//b.bin");
	expect_refused(&whole_cmd, "w a.bin/", "no such file: a.bin/");
	expect_refused(&whole_cmd, "w %", "no such file: %");
	expect_refused(&whole_cmd, "w _.bin", "no such file: _.bin");
	expect_refused(&whole_cmd, "w a.bin' OR '1'='1",
	               "no such file: a.bin' OR '1'='1");
	/* Controls, bidi overrides and invalid bytes are escaped. */
	expect_refused(&whole_cmd, "w \x1b[2J\xe2\x80\xae",
	               "no such file: \\x1B[2J\\u{202E}");
	/* A long name is echoed cut, not whole. */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	body = xasprintf("w %s", longname);
	want = xasprintf("no such file: %.*s…", CMDARG_ECHO_MAX, longname);
	expect_refused(&whole_cmd, body, want);
	free(body);
	free(want);
	/* A name cut in the middle of a character keeps it whole or not at
	 * all. */
	memset(longname, 'y', CMDARG_ECHO_MAX - 1);
	strcpy(longname + CMDARG_ECHO_MAX - 1, "\xc3\xa9tail");
	body = xasprintf("w %s", longname);
	assert_int_equal(resolve(&whole_cmd, body, &error), 0);
	assert_true(text_is_utf8(error, strlen(error)));
	assert_non_null(strstr(error, "y…"));
	free(error);
	free(body);
	/* No catalogue connection: an error, not a crash. */
	assert_true(cmdline_parse("w 1", 3, "!", false, &cl));
	{
		struct cat_file f = {0};

		assert_int_equal(cmdarg_resolve(NULL, &whole_cmd, cl.argc,
		                                cl.argv, cl.args, &f, &error),
		                 -1);
	}
	assert_string_equal(error, "cannot read the catalogue");
	free(error);
	cmdline_clear(&cl);
}

/* --- stats ---------------------------------------------------------------- */

static void test_stats(void **state)
{
	char path[64];
	struct fb_request *r;

	for (int i = 0; i < 60; i++) {
		snprintf(path, sizeof(path), "d%d/n%02d", i % 2, i);
		add_file(path, 1024, true);
	}
	assert_int_equal(catalogue_add_download(fk.cat, 1, 1024, true), 0);
	r = run(FB_DIRECT, "stats");
	assert_string_equal(r->out, "files: 60\nfolders: 2\n"
	                            "total size: 60.0 KiB (61440 bytes)\n"
	                            "downloads: 1\n"
	                            "bytes served: 1.0 KiB (1024 bytes)\n"
	                            "uptime: 0s\n"
	                            "rate: 0 B/s\n"
	                            "slots: 0 in use (no limit)\n"
	                            "queue: 0 waiting");
	done(r);
	fk.tr = (struct fb_transfers){2 * 1024 * 1024, 3, 4, 7};
	r = run(FB_DIRECT, "stats");
	assert_non_null(strstr(r->out, "uptime: 0s\nrate: 2.0 MiB/s\n"
	                               "slots: 3 of 4 in use\n"
	                               "queue: 7 waiting"));
	done(r);
	expect(FB_ROOM, "new 2", "#60 d1/n59 (1.0 KiB)\n#59 d0/n58 (1.0 KiB)");
	r = run(FB_ROOM, "new");
	assert_int_equal(strlen(r->out) - strlen(strchr(r->out, '\n')),
	                 strlen("#60 d1/n59 (1.0 KiB)"));
	done(r);
	r = run(FB_ROOM, "new 1000");
	{
		size_t lines = 1;

		for (const char *s = r->out; *s != '\0'; s++)
			lines += *s == '\n';
		assert_int_equal(lines, 50);
	}
	done(r);
	expect(FB_DIRECT, "new 0", "usage: new [N] (N a number from 1 to 50)");
	expect(FB_DIRECT, "new x", "usage: new [N] (N a number from 1 to 50)");
}

static void test_new_empty(void **state)
{
	expect(FB_DIRECT, "new", "no files yet");
	expect(FB_DIRECT, "stats",
	       "files: 0\nfolders: 0\n"
	       "total size: 0 B (0 bytes)\n"
	       "downloads: 0\n"
	       "bytes served: 0 B (0 bytes)\n"
	       "uptime: 0s\n"
	       "rate: 0 B/s\n"
	       "slots: 0 in use (no limit)\n"
	       "queue: 0 waiting");
}

/* --- the download queue ------------------------------------------------- */

static void test_queue_cancel(void **state)
{
	expect(FB_DIRECT, "queue",
	       "there is no download queue: every get is answered at once");
	fk.qi = (struct fb_queue_info){.enabled = true, .waiting = 3};
	expect(FB_DIRECT, "queue", "you are not in the queue (3 waiting)");
	fk.qi = (struct fb_queue_info){true, 2, 1, 3, 150, "music/a.ogg"};
	expect(FB_ROOM, "queue",
	       "you are #2 in the queue of 3 (about 3 min): music/a.ogg; "
	       "!cancel to leave it");
	fk.qi.mine = 2;
	expect(FB_ROOM, "queue",
	       "you are #2 in the queue of 3 (about 3 min): music/a.ogg and "
	       "more; !cancel to leave it");
	expect(FB_DIRECT, "cancel", "you are not in the queue");
	fk.n_cancel = 2;
	expect(FB_DIRECT, "cancel", "you left the queue (2 requests)");
	assert_int_equal(fk.cancels, 2);
}

/* --- threads ------------------------------------------------------------- */

static void test_query_flags(void **state)
{
	/* Searches, listings and counts run on the host's query workers;
	 * announce's hooks and timer stay on the main thread. */
	static const char *const queries[] = {"list", "info",  "search", "find",
	                                      "get",  "stats", "new"};
	size_t seen = 0;

	for (size_t i = 0; i < fk.n_plugins; i++) {
		for (size_t j = 0; j < fk.plugins[i].n_cmds; j++) {
			const struct fb_command *cmd = &fk.plugins[i].cmds[j];
			bool query = false;

			for (size_t k = 0;
			     k < sizeof(queries) / sizeof(*queries); k++)
				query |= strcmp(cmd->name, queries[k]) == 0;
			if (((cmd->flags & FB_CMD_QUERY) != 0) != query)
				fail_msg("%s: FB_CMD_QUERY is %s", cmd->name,
				         query ? "missing" : "set");
			seen += query;
		}
	}
	assert_int_equal(seen, sizeof(queries) / sizeof(*queries));
}

/* --- announce ------------------------------------------------------------- */

static struct fb_plugin *announce_plugin(void)
{
	return &fk.plugins[4];
}

/* Tells the announce plugin about a file event. */
static void event(enum fb_event ev, int64_t id)
{
	struct fb_plugin *p = announce_plugin();
	struct fb_event_data d = {.file_id = id};

	assert_non_null(p->hooks[ev]);
	p->hooks[ev](p, ev, &d, NULL);
}

static void tick(void)
{
	struct fb_plugin *p = announce_plugin();

	assert_true(p->timer(p, NULL));
}

static void add_rooms(void)
{
	fk.rooms[0] = "a@conf.localhost";
	fk.announces[0] = true;
	fk.rooms[1] = "quiet@conf.localhost";
	fk.announces[1] = false;
	fk.rooms[2] = "b@conf.localhost";
	fk.announces[2] = true;
	fk.n_rooms = 3;
}

static void test_announce_batch(void **state)
{
	add_rooms();
	int64_t a = add_file("a.pdf", 1024 * 1024, true);
	int64_t b = add_file("music/b.ogg", 3 << 20, true);

	/* Hashing may finish in any order; the message is by id. */
	event(FB_EVENT_FILE_ADDED, add_file("c\x07.txt", 12, true));
	event(FB_EVENT_FILE_ADDED, b);
	event(FB_EVENT_FILE_ADDED, a);
	tick();
	assert_int_equal(fk.n_sent, 2);
	assert_string_equal(fk.sent_room[0], "a@conf.localhost");
	assert_string_equal(fk.sent_room[1], "b@conf.localhost");
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(fk.sent[i],
		                    "3 new files: #1 a.pdf (1.0 MiB), #2 "
		                    "music/b.ogg (3.0 MiB), #3 c\\x07.txt "
		                    "(12 B)");
	/* Nothing new: nothing sent. */
	tick();
	assert_int_equal(fk.n_sent, 2);
	event(FB_EVENT_FILE_ADDED, add_file("one.txt", 1, true));
	tick();
	assert_int_equal(fk.n_sent, 4);
	assert_string_equal(fk.sent[3], "1 new file: #4 one.txt (1 B)");
}

static void test_announce_cap(void **state)
{
	char path[64];

	add_rooms();
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "f%03d", i);
		event(FB_EVENT_FILE_ADDED, add_file(path, 1, true));
	}
	/* A removed file is not announced. */
	assert_int_equal(catalogue_remove(fk.cat, 1), 0);
	event(FB_EVENT_FILE_REMOVED, 1);
	tick();
	assert_int_equal(fk.n_sent, 2);
	assert_string_equal(fk.sent[0],
	                    "299 new files: #2 f001 (1 B), #3 f002 (1 B), "
	                    "#4 f003 (1 B), #5 f004 (1 B), #6 f005 (1 B), "
	                    "#7 f006 (1 B), #8 f007 (1 B), #9 f008 (1 B), "
	                    "#10 f009 (1 B), #11 f010 (1 B) and 289 more");
}

static void test_announce_long_names(void **state)
{
	char path[400];

	add_rooms();
	for (int i = 0; i < 6; i++) {
		memset(path, 'a' + i, 300);
		path[300] = '\0';
		event(FB_EVENT_FILE_ADDED, add_file(path, 1, true));
	}
	tick();
	assert_int_equal(fk.n_sent, 2);
	/* About ANNOUNCE_BYTES of names: four of 300-odd bytes. */
	assert_non_null(strstr(fk.sent[0], " and 2 more"));
	assert_true(strlen(fk.sent[0]) < 1600);
}

static void test_announce_waits_for_batch(void **state)
{
	add_rooms();
	fk.cfg.announce.batch_ms = 60000;
	event(FB_EVENT_FILE_ADDED, add_file("a", 1, true));
	tick();
	assert_int_equal(fk.n_sent, 0);
}

/* The files of the first build of an empty catalogue are not announced;
 * the others are. */
static void test_announce_first_build(void **state)
{
	struct fb_plugin *p;
	struct fb_event_data d = {.first_build = true};

	add_rooms();
	p = announce_plugin();
	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "old%d", i);
		d.file_id = add_file(name, 1, true);
		p->hooks[FB_EVENT_FILE_ADDED](p, FB_EVENT_FILE_ADDED, &d, NULL);
	}
	tick();
	assert_int_equal(fk.n_sent, 0);
	event(FB_EVENT_FILE_ADDED, add_file("new", 1, true));
	tick();
	assert_int_equal(fk.n_sent, 2);
	assert_string_equal(fk.sent[0], "1 new file: #4 new (1 B)");
}

static void test_announce_disabled(void **state)
{
	add_rooms();
	fk.cfg.announce.enabled = false;
	event(FB_EVENT_FILE_ADDED, add_file("a", 1, true));
	tick();
	fk.cfg.announce.enabled = true;
	tick();
	assert_int_equal(fk.n_sent, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_listing_footer),
	    cmocka_unit_test(test_listing_lines),
	    cmocka_unit_test(test_listing_args),
	    cmocka_unit_test(test_listing_times),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_list_folders_first),
	    T(test_list_empty),
	    T(test_still_indexing),
	    T(test_list_three_pages),
	    T(test_info),
	    T(test_search_pages),
	    T(test_find),
	    T(test_get),
	    T(test_file_argument_id_and_path),
	    T(test_file_argument_missing),
	    T(test_file_argument_hostile),
	    T(test_stats),
	    T(test_queue_cancel),
	    T(test_new_empty),
	    T(test_query_flags),
	    T(test_announce_batch),
	    T(test_announce_cap),
	    T(test_announce_long_names),
	    T(test_announce_waits_for_batch),
	    T(test_announce_first_build),
	    T(test_announce_disabled),
#undef T
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
