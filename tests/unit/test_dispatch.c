/*
 * Unit tests of the plugin host and the dispatcher (host.c, dispatch.c,
 * host_jobs.c, reply.c) with real plugins (help, admin, search, browse,
 * and tests/plugins) loaded with dlopen, and a recording double of the
 * XMPP session. Query handlers run on the host's workers: wait_sent waits
 * for their answers as the main loop would (poll on host_fd, host_poll).
 */
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "catalogue_write.h"
#include "config.h"
#include "fisbot_plugin.h"
#include "host.h"
#include "reply.h"
#include "session_double.h"
#include "version.h"

#define ROOM  "room@conf.example.org"
#define ALICE ROOM "/alice"
/* HOST_IQ_MAX (host_internal.h): the largest IQ queued for a worker. */
#define HOST_IQ_TEST_MAX 65536

static char tmpdir[PATH_MAX], olddir[PATH_MAX];
static uint64_t now;
static bool advance; /* each message comes a second after the last */
static struct config *cfg;
static struct host *host;
static int rescans, reloads;
static int64_t described_id;
static char *described_text;

static uint64_t fake_now(void *arg)
{
	return now;
}

static char *fake_url(void *arg, const struct config *c,
                      const struct cat_file *f)
{
	return xasprintf("http://127.0.0.1:8080/f/TOKEN/%lld",
	                 (long long)f->id);
}

static int fake_rescan(void *arg, char **cause)
{
	rescans++;
	return 0;
}

static int fake_describe(void *arg, int64_t id, const char *text, char **cause)
{
	if (id == 999) {
		*cause = xstrdup("no such file: 999");
		return -1;
	}
	described_id = id;
	free(described_text);
	described_text = xstrdup(text);
	return 0;
}

static int fake_reload(void *arg, char **cause)
{
	reloads++;
	return 0;
}

static const struct host_deps deps = {
    .file_url = fake_url,
    .rescan = fake_rescan,
    .describe = fake_describe,
    .reload = fake_reload,
    .now_ms = fake_now,
};

/* Writes text to the file name. */
static void write_file(const char *name, const char *text)
{
	FILE *fp = fopen(name, "w");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* Loads a configuration with extra lines and the plugins of load. */
static struct config *load_config(const char *load, const char *extra)
{
	struct strlist problems = {0};
	struct config *c;
	char *text = xasprintf("[xmpp]\njid = bot@example.org\n"
	                       "password = secret\n"
	                       "[share]\npath = share\n"
	                       "[admins]\njids = admin@example.org\n"
	                       "[limits]\nburst = 3\nrate = 1/1s\n"
	                       "[plugins]\npath = plugins\nload = %s\n%s",
	                       load, extra);

	write_file("fisbot.conf", text);
	free(text);
	c = config_load("fisbot.conf", &problems);
	for (size_t i = 0; i < problems.n; i++)
		fprintf(stderr, "config: %s\n", problems.v[i]);
	strlist_free(&problems);
	assert_non_null(c);
	return c;
}

/* Links a plugin from dir into ./plugins. */
static void link_plugin(const char *dir, const char *name, const char *as)
{
	char *from = xasprintf("%s/%s.so", dir, name);
	char *to = xasprintf("plugins/%s.so", as != NULL ? as : name);

	assert_int_equal(symlink(from, to), 0);
	free(from);
	free(to);
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/fisbot-test-dispatch-XXXXXX";
	char *cause = NULL;

	if (getcwd(olddir, sizeof(olddir)) == NULL || mkdtemp(tmpl) == NULL ||
	    realpath(tmpl, tmpdir) == NULL || chdir(tmpdir) == -1 ||
	    mkdir("share", 0755) == -1 || mkdir("plugins", 0755) == -1)
		return -1;
	link_plugin(FISBOT_PLUGIN_DIR, "help", NULL);
	link_plugin(FISBOT_PLUGIN_DIR, "admin", NULL);
	link_plugin(FISBOT_PLUGIN_DIR, "ping", NULL);
	link_plugin(FISBOT_PLUGIN_DIR, "search", NULL);
	link_plugin(FISBOT_PLUGIN_DIR, "browse", NULL);
	link_plugin(FISBOT_PLUGIN_DIR, "stats", NULL);
	link_plugin(FISBOT_PLUGIN_DIR, "get", NULL);
	link_plugin(TEST_PLUGIN_DIR, "testcmds", NULL);
	link_plugin(TEST_PLUGIN_DIR, "badversion", NULL);
	link_plugin(TEST_PLUGIN_DIR, "failinit", NULL);
	link_plugin(TEST_PLUGIN_DIR, "dupcmd", NULL);
	link_plugin(TEST_PLUGIN_DIR, "notaplugin", NULL);
	link_plugin(TEST_PLUGIN_DIR, "testcmds", "renamed");
	now = 1000000;
	advance = true;
	rescans = reloads = 0;
	double_setup();
	double_state.rooms[0] = ROOM;
	double_state.n_rooms = 1;
	cfg = load_config("help, admin, testcmds", "");
	host = host_new(cfg, &deps, &cause);
	if (host == NULL) {
		fprintf(stderr, "host_new: %s\n", cause);
		return -1;
	}
	host_set_session(host, double_session());
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	int rc = system(cmd);

	free(cmd);
	host_free(host);
	config_free(cfg);
	double_teardown();
	free(described_text);
	described_text = NULL;
	return chdir(olddir) == -1 || rc != 0 ? -1 : 0;
}

/* --- helpers ------------------------------------------------------------- */

/* Sends body from alice: in the room, privately in the room, or from
 * alice@example.org (or from jid) in a direct chat. */
static void say_as(int place, const char *jid, const char *body)
{
	struct session_origin o = {0};
	char *bare = NULL;

	if (advance)
		now += 1000;
	o.place = place;
	if (place == FB_DIRECT) {
		const char *slash = strchr(jid, '/');

		bare = xstrndup(jid, slash != NULL ? (size_t)(slash - jid)
		                                   : strlen(jid));
		o.from = jid;
		o.sender = bare;
	} else {
		o.from = jid;
		o.room = ROOM;
		o.nick = strrchr(jid, '/') + 1;
		o.sender = jid;
		o.own_nick = "fisbot";
	}
	host_message(host, &o, body);
	free(bare);
}

static void say(int place, const char *body)
{
	say_as(place, place == FB_DIRECT ? "alice@example.org/phone" : ALICE,
	       body);
}

/* Returns a copy of the body of sent stanza i ("" if none). */
static char *body(size_t i)
{
	char *b, *copy;

	assert_true(i < double_state.n_sent);
	assert_non_null(double_state.sent[i].stanza);
	b = xmpp_message_get_body(double_state.sent[i].stanza);
	copy = xstrdup(b != NULL ? b : "");
	if (b != NULL)
		xmpp_free(double_state.ctx, b);
	return copy;
}

/* Asserts that exactly one stanza was sent and that its body is want. */
static void expect_reply(const char *want)
{
	char *b;

	assert_int_equal(double_state.n_sent, 1);
	b = body(0);
	assert_string_equal(b, want);
	free(b);
	double_reset();
}

/* Asserts that exactly one stanza was sent and its body holds want. */
static void expect_reply_has(const char *want)
{
	char *b;

	assert_int_equal(double_state.n_sent, 1);
	b = body(0);
	if (strstr(b, want) == NULL)
		fail_msg("\"%s\" not in \"%s\"", want, b);
	free(b);
	double_reset();
}

static void expect_silence(void)
{
	assert_int_equal(double_state.n_sent, 0);
}

/* Waits (as the main loop does) until n stanzas were sent, and fails
 * after 20 s. */
static void wait_sent(size_t n)
{
	struct timespec start, t;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (double_state.n_sent < n) {
		struct pollfd pfd = {host_fd(host), POLLIN, 0};

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - start.tv_sec > 20)
			fail_msg("%zu stanzas sent, %zu expected",
			         double_state.n_sent, n);
		assert_true(host_busy(host));
		poll(&pfd, 1, 100);
		host_poll(host);
	}
}

/* Waits for one reply and checks that it is want. */
static void wait_reply(const char *want)
{
	wait_sent(1);
	expect_reply(want);
}

/* Returns the serialised size of sent stanza i. */
static size_t stanza_size(size_t i)
{
	char *text;
	size_t len;

	assert_int_equal(
	    xmpp_stanza_to_text(double_state.sent[i].stanza, &text, &len),
	    XMPP_EOK);
	xmpp_free(double_state.ctx, text);
	return len;
}

/* --- tests ---------------------------------------------------------------- */

static void test_places_and_prefix(void **state)
{
	xmpp_stanza_t *m;

	/* A room needs the prefix. */
	say(FB_ROOM, "echo hi");
	expect_silence();
	say(FB_ROOM, "!echo hi");
	assert_int_equal(double_state.n_sent, 1);
	m = double_state.sent[0].stanza;
	/* Answered by MUC private message, with a fallback for the room. */
	assert_true(double_state.sent[0].private_msg);
	assert_string_equal(double_state.sent[0].room, ROOM);
	assert_string_equal(double_state.sent[0].fallback,
	                    "alice: this room does not let me answer you "
	                    "privately; ask me in a direct chat with "
	                    "bot@example.org");
	assert_string_equal(xmpp_stanza_get_to(m), ALICE);
	assert_string_equal(xmpp_stanza_get_type(m), "chat");
	assert_non_null(xmpp_stanza_get_child_by_name_and_ns(
	    m, "x", "http://jabber.org/protocol/muc#user"));
	/* In the requester's lane of the send queue. */
	assert_string_equal(double_state.sent[0].requester, ALICE);
	double_reset();

	/* Private and direct chats: prefix optional, answered in place. */
	say(FB_ROOM_PRIVATE, "two a");
	assert_string_equal(xmpp_stanza_get_to(double_state.sent[0].stanza),
	                    ALICE);
	assert_false(double_state.sent[0].private_msg);
	expect_reply("ok 1");
	say(FB_DIRECT, "two a b");
	m = double_state.sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_to(m), "alice@example.org/phone");
	assert_string_equal(xmpp_stanza_get_type(m), "chat");
	assert_null(xmpp_stanza_get_child_by_name_and_ns(
	    m, "x", "http://jabber.org/protocol/muc#user"));
	expect_reply("ok 2");
	say(FB_DIRECT, "!two a");
	expect_reply("ok 1");
	/* Names ignore case; aliases work. */
	say(FB_DIRECT, "TWO a");
	expect_reply("ok 1");
	say(FB_DIRECT, "say x");
	expect_reply_has("[1]=x");
	/* A one-line reply is its own fallback. */
	say(FB_ROOM, "!two x");
	assert_string_equal(double_state.sent[0].fallback, "alice: ok 1");
	double_reset();
}

static void test_unknown_and_ignored(void **state)
{
	/* Unknown commands: silence in rooms, a hint elsewhere. */
	say(FB_ROOM, "!nosuch");
	expect_silence();
	say(FB_DIRECT, "nosuch arg");
	expect_reply("unknown command: nosuch (say help)");
	say(FB_ROOM_PRIVATE, "!nosuch");
	expect_reply("unknown command: nosuch (say help)");
	say(FB_DIRECT, "@nosuch");
	expect_silence();
	/* Not commands at all. */
	say(FB_DIRECT, "");
	say(FB_DIRECT, "   ");
	say(FB_DIRECT, "hello, bot");
	say(FB_ROOM, "! echo");
	say(FB_ROOM, " !echo");
	say(FB_ROOM, "!echo \xff");
	say(FB_DIRECT, "echo \xc3");
	expect_silence();
	/* A command that replies nothing sends nothing. */
	say(FB_DIRECT, "silent");
	expect_silence();
}

static void test_arguments(void **state)
{
	char *b, *big;

	say(FB_DIRECT, "echo a \"b c\"  d\"e f\" \"\"");
	b = body(0);
	assert_string_equal(b, "argc=5\n[0]=echo\n[1]=a\n[2]=b c\n[3]=de f\n"
	                       "[4]=\nargs=a \"b c\"  d\"e f\" \"\"\n"
	                       "sender=alice@example.org\n"
	                       "real=alice@example.org");
	free(b);
	double_reset();
	say(FB_DIRECT, "echo \"open");
	expect_reply("echo: unterminated quote (usage: echo [ARGS...])");

	/* Arity is checked from the table. */
	say(FB_DIRECT, "two");
	expect_reply("usage: two A [B]");
	say(FB_DIRECT, "two a b c");
	expect_reply("usage: two A [B]");
	say(FB_DIRECT, "big");
	expect_reply("usage: big N");

	/* A 4 KiB line is fine, a longer one is refused. */
	big = xmalloc(8192);
	memset(big, 'x', 8191);
	memcpy(big, "two ", 4);
	big[4096] = '\0';
	say(FB_DIRECT, big);
	expect_reply("ok 1");
	big[4096] = 'x';
	big[8191] = '\0';
	say(FB_DIRECT, big);
	expect_reply("two: command too long (usage: two A [B])");
	free(big);
}

static void test_permissions(void **state)
{
	/* Admin commands: an [admins] JID in a direct chat only. */
	say_as(FB_DIRECT, "admin@example.org/laptop", "secret");
	expect_reply("secret ok");
	say_as(FB_DIRECT, "ADMIN@example.org/laptop", "secret");
	expect_reply("secret ok");
	say(FB_DIRECT, "secret");
	expect_reply("not allowed: secret is for admins, in a direct chat");
	say_as(FB_ROOM_PRIVATE, ROOM "/admin", "secret");
	expect_reply("not allowed: secret is for admins, in a direct chat");
	say_as(FB_DIRECT, "admin@example.org.evil/x", "secret");
	expect_reply("not allowed: secret is for admins, in a direct chat");
	/* Arity is not revealed to those who may not run the command. */
	say(FB_DIRECT, "join a@b c d");
	expect_reply("not allowed: join is for admins, in a direct chat");
}

static void test_help(void **state)
{
	char *b;

	say(FB_DIRECT, "help");
	b = body(0);
	assert_non_null(strstr(b, "commands (the ! in front is optional"));
	assert_non_null(strstr(b, "\nhelp [COMMAND] — "));
	assert_non_null(strstr(b, "\nmore — "));
	assert_non_null(strstr(b, "\ntwo A [B] — one or two arguments"));
	assert_null(strstr(b, "rescan"));
	assert_null(strstr(b, "secret"));
	free(b);
	double_reset();

	say_as(FB_DIRECT, "admin@example.org/x", "help");
	b = body(0);
	assert_non_null(strstr(b, "\nrescan — "));
	assert_non_null(strstr(b, "\njoin ROOM [NICK] — "));
	assert_non_null(strstr(b, "\nsecret — an admin command (admin)"));
	free(b);
	double_reset();

	/* In a room, even admins only see what they may run there. */
	say_as(FB_ROOM, ROOM "/admin", "!help");
	b = body(0);
	assert_non_null(strstr(b, "commands (start each with !; say !help "
	                          "COMMAND for one):"));
	assert_null(strstr(b, "rescan"));
	free(b);
	double_reset();

	say(FB_DIRECT, "help echo");
	expect_reply("usage: echo [ARGS...]\necho the arguments\nalso: say");
	say(FB_DIRECT, "help !SAY");
	expect_reply("usage: echo [ARGS...]\necho the arguments\nalso: say");
	say(FB_DIRECT, "help find");
	expect_reply("usage: find TERMS...\nroom-wide search\n"
	             "in a room, @find asks every bot there");
	say(FB_DIRECT, "help rescan");
	expect_reply("no such command: rescan (say help)");
	say_as(FB_DIRECT, "admin@example.org/x", "help rescan");
	expect_reply("usage: rescan\nbring the catalogue up to date with the "
	             "share\nfor admins, in a direct chat");
	say(FB_DIRECT, "help a b");
	expect_reply("usage: help [COMMAND]");
}

static void test_room_wide(void **state)
{
	struct config *c2;

	say(FB_ROOM, "@find hit");
	assert_true(double_state.sent[0].private_msg);
	expect_reply("#1 hit.txt (1 B)");
	/* No match: silent. */
	say(FB_ROOM, "@find miss");
	expect_silence();
	/* '@' only triggers room-wide commands. */
	say(FB_ROOM, "@echo x");
	expect_silence();

	/* room_replies = room: answers go to the room, room-wide searches
	 * still privately. */
	c2 = load_config("help, admin, testcmds",
	                 "[commands]\nroom_replies = room\n");
	host_reconfigure(host, c2);
	config_free(cfg);
	cfg = c2;
	say(FB_ROOM, "!two x");
	assert_false(double_state.sent[0].private_msg);
	assert_string_equal(xmpp_stanza_get_type(double_state.sent[0].stanza),
	                    "groupchat");
	assert_string_equal(xmpp_stanza_get_to(double_state.sent[0].stanza),
	                    ROOM);
	expect_reply("alice: ok 1");
	/* Replies are sanitised once; a nick cannot make a command. */
	say(FB_ROOM, "!bang");
	expect_reply("alice: " REPLY_GUARD "!danger\n" REPLY_GUARD
	             "@find x\nok\\x01\\xFF");
	say_as(FB_ROOM, ROOM "/!bob", "!two x");
	expect_reply(REPLY_GUARD "!bob: ok 1");
	say_as(FB_ROOM,
	       ROOM "/\x01"
	            "evil",
	       "!two x");
	expect_reply("\\x01evil: ok 1");
	say(FB_ROOM, "!find hit");
	assert_true(double_state.sent[0].private_msg);
	expect_reply("#1 hit.txt (1 B)");
	say(FB_ROOM, "@find hit");
	assert_true(double_state.sent[0].private_msg);
	expect_reply("#1 hit.txt (1 B)");
	/* Private and direct chats are not affected. */
	say(FB_ROOM_PRIVATE, "two x");
	assert_string_equal(xmpp_stanza_get_type(double_state.sent[0].stanza),
	                    "chat");
	expect_reply("ok 1");
}

static void test_reply_bounds(void **state)
{
	char *b;
	size_t n = 0;

	/* One reply per command, however many lines. */
	say(FB_DIRECT, "big 10");
	assert_int_equal(double_state.n_sent, 1);
	b = body(0);
	for (char *p = b; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	assert_int_equal(n, 9);
	free(b);
	double_reset();

	/* 200 KB of lines: one stanza under 64 KiB, marked truncated. */
	say(FB_DIRECT, "big 2000");
	assert_int_equal(double_state.n_sent, 1);
	assert_true(stanza_size(0) <= REPLY_MAX_STANZA);
	assert_true(stanza_size(0) > REPLY_MAX_STANZA / 2);
	b = body(0);
	assert_non_null(strstr(b, "\n" REPLY_TRUNCATED));
	assert_string_equal(b + strlen(b) - strlen(REPLY_TRUNCATED),
	                    REPLY_TRUNCATED);
	free(b);
	double_reset();

	/* One line that grows five-fold when escaped. */
	say(FB_DIRECT, "huge");
	assert_int_equal(double_state.n_sent, 1);
	assert_true(stanza_size(0) <= REPLY_MAX_STANZA);
	b = body(0);
	assert_true(strlen(b) > 10000);
	assert_string_equal(b + strlen(b) - strlen(REPLY_TRUNCATED),
	                    REPLY_TRUNCATED);
	free(b);
	double_reset();

	/* The same in a room, where the body gets "alice: " in front. */
	say(FB_ROOM, "!big 2000");
	assert_true(stanza_size(0) <= REPLY_MAX_STANZA);
	double_reset();
}

static void test_reply_text_safety(void **state)
{
	/* No line starts with the prefix or '@'; controls and invalid
	 * bytes are escaped. */
	say(FB_DIRECT, "bang");
	expect_reply(REPLY_GUARD "!danger\n" REPLY_GUARD "@find x\n"
	                         "ok\\x01\\xFF");
	/* An error replaces the lines. */
	say(FB_DIRECT, "fail");
	expect_reply("no such file: 99");
}

static void test_link(void **state)
{
	xmpp_stanza_t *m, *x, *sfs, *file, *e, *src, *fb;
	char *b, *text;

	say(FB_DIRECT, "link");
	assert_int_equal(double_state.n_sent, 1);
	m = double_state.sent[0].stanza;
	b = body(0);
	assert_string_equal(b, "http://127.0.0.1:8080/f/TOKEN/7");
	free(b);
	x = xmpp_stanza_get_child_by_name_and_ns(m, "x", "jabber:x:oob");
	assert_non_null(x);
	text = xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(x, "url"));
	assert_string_equal(text, "http://127.0.0.1:8080/f/TOKEN/7");
	xmpp_free(double_state.ctx, text);
	text = xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(x, "desc"));
	assert_string_equal(text, "song & dance.ogg (3.0 MiB)");
	xmpp_free(double_state.ctx, text);

	sfs = xmpp_stanza_get_child_by_name_and_ns(m, "file-sharing",
	                                           "urn:xmpp:sfs:0");
	assert_non_null(sfs);
	assert_string_equal(xmpp_stanza_get_attribute(sfs, "disposition"),
	                    "attachment");
	file = xmpp_stanza_get_child_by_name_and_ns(sfs, "file",
	                                            "urn:xmpp:file:metadata:0");
	assert_non_null(file);
	text =
	    xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(file, "name"));
	assert_string_equal(text, "song & dance.ogg");
	xmpp_free(double_state.ctx, text);
	text =
	    xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(file, "size"));
	assert_string_equal(text, "3145728");
	xmpp_free(double_state.ctx, text);
	text = xmpp_stanza_get_text(
	    xmpp_stanza_get_child_by_name(file, "media-type"));
	assert_string_equal(text, "audio/ogg");
	xmpp_free(double_state.ctx, text);
	text =
	    xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(file, "date"));
	assert_string_equal(text, "2023-11-14T22:13:20Z");
	xmpp_free(double_state.ctx, text);
	e = xmpp_stanza_get_child_by_name_and_ns(file, "hash",
	                                         "urn:xmpp:hashes:2");
	assert_non_null(e);
	assert_string_equal(xmpp_stanza_get_attribute(e, "algo"), "sha-256");
	text = xmpp_stanza_get_text(e);
	assert_string_equal(text,
	                    "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=");
	xmpp_free(double_state.ctx, text);
	src = xmpp_stanza_get_child_by_name(sfs, "sources");
	assert_non_null(src);
	e = xmpp_stanza_get_child_by_name_and_ns(
	    src, "url-data", "http://jabber.org/protocol/url-data");
	assert_non_null(e);
	assert_string_equal(xmpp_stanza_get_attribute(e, "target"),
	                    "http://127.0.0.1:8080/f/TOKEN/7");
	fb = xmpp_stanza_get_child_by_name_and_ns(m, "fallback",
	                                          "urn:xmpp:fallback:0");
	assert_non_null(fb);
	assert_string_equal(xmpp_stanza_get_attribute(fb, "for"),
	                    "urn:xmpp:sfs:0");
	double_reset();

	/* In a room: privately, and the fallback does not leak the link. */
	say(FB_ROOM, "!link");
	assert_true(double_state.sent[0].private_msg);
	assert_null(strstr(double_state.sent[0].fallback, "http"));
	double_reset();
}

static void test_more(void **state)
{
	say(FB_DIRECT, "more");
	expect_reply("nothing more to show: say list or search first");
	say(FB_ROOM, "!more");
	expect_silence();

	say(FB_DIRECT, "page");
	expect_reply("page 1");
	/* Another requester has no continuation. */
	say_as(FB_DIRECT, "bob@example.org/x", "more");
	expect_reply("nothing more to show: say list or search first");
	say(FB_DIRECT, "more");
	expect_reply("page 2");
	say(FB_DIRECT, "more");
	expect_reply("page 3");
	say(FB_DIRECT, "more");
	expect_reply("nothing more to show: say list or search first");

	/* A newer answer replaces the continuation; they expire. */
	say(FB_DIRECT, "page");
	say(FB_DIRECT, "page");
	double_reset();
	now += 11 * 60 * 1000;
	host_tick(host);
	say(FB_DIRECT, "more");
	expect_reply("nothing more to show: say list or search first");
	/* Left over at exit: freed by host_free (ASan checks). */
	say(FB_ROOM, "!page");
	double_reset();
}

static void test_rate_limit(void **state)
{
	/* burst = 3, rate = 1/1s. */
	advance = false;
	for (int i = 0; i < 3; i++) {
		say(FB_DIRECT, "two a");
		expect_reply("ok 1");
	}
	say(FB_DIRECT, "two a");
	expect_reply("slow down: try again in 1s");
	for (int i = 0; i < 20; i++)
		say(FB_DIRECT, "two a");
	expect_silence();
	/* Unknown commands in direct chats count too. */
	say(FB_DIRECT, "nosuch");
	expect_silence();
	/* Others are served meanwhile. */
	say_as(FB_DIRECT, "bob@example.org/x", "two b");
	expect_reply("ok 1");
	say(FB_ROOM, "!two a"); /* the room occupant is another requester */
	expect_reply("ok 1");
	/* Refilled after a second. */
	now += 1000;
	say(FB_DIRECT, "two a");
	expect_reply("ok 1");
	say(FB_DIRECT, "two a");
	expect_reply("slow down: try again in 1s");
	/* Silent messages in rooms cost nothing. */
	now += 10000;
	for (int i = 0; i < 10; i++)
		say(FB_ROOM, "!nosuch");
	say(FB_ROOM, "!two a");
	expect_reply("ok 1");
}

/* Builds an IQ from a string. */
static xmpp_stanza_t *iq(const char *xml)
{
	xmpp_stanza_t *s = xmpp_stanza_new_from_string(double_state.ctx, xml);

	assert_non_null(s);
	return s;
}

static void test_iq(void **state)
{
	xmpp_stanza_t *q, *r;

	q = iq("<iq type='get' id='q1' from='carol@example.org/x'>"
	       "<answer xmlns='urn:fisbot:test'/></iq>");
	assert_true(
	    host_iq(host, q, "carol@example.org/x", "carol@example.org"));
	assert_int_equal(double_state.n_sent, 1);
	r = double_state.sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_type(r), "result");
	assert_string_equal(xmpp_stanza_get_id(r), "q1");
	assert_string_equal(xmpp_stanza_get_to(r), "carol@example.org/x");
	assert_non_null(xmpp_stanza_get_child_by_name_and_ns(
	    r, "answer", "urn:fisbot:test"));
	double_reset();
	xmpp_stanza_release(q);

	/* A handler that does not answer: the host answers for it. */
	q = iq("<iq type='set' id='q2'><silent xmlns='urn:fisbot:test'/>"
	       "</iq>");
	assert_true(
	    host_iq(host, q, "carol@example.org/x", "carol@example.org"));
	assert_int_equal(double_state.n_sent, 1);
	r = double_state.sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_type(r), "error");
	assert_string_equal(xmpp_stanza_get_to(r), "carol@example.org/x");
	assert_string_equal(xmpp_stanza_get_id(r), "q2");
	assert_non_null(xmpp_stanza_get_child_by_name(
	    xmpp_stanza_get_child_by_name(r, "error"),
	    "internal-server-error"));
	double_reset();
	xmpp_stanza_release(q);

	/* Unknown namespaces and non-requests are not the host's. */
	q = iq("<iq type='get' id='q3'><query xmlns='urn:other'/></iq>");
	assert_false(
	    host_iq(host, q, "carol@example.org/x", "carol@example.org"));
	xmpp_stanza_release(q);
	q = iq("<iq type='result' id='q4'><answer xmlns='urn:fisbot:test'/>"
	       "</iq>");
	assert_false(
	    host_iq(host, q, "carol@example.org/x", "carol@example.org"));
	xmpp_stanza_release(q);
	q = iq("<iq type='get' id='q5'/>");
	assert_false(
	    host_iq(host, q, "carol@example.org/x", "carol@example.org"));
	xmpp_stanza_release(q);
	expect_silence();

	/* IQs do not take the chat commands' tokens (the session charges
	 * them to its IQ budget first), and the answers go in the lane of
	 * the requester the session names. */
	advance = false;
	q = iq("<iq type='get' id='q6'><answer xmlns='urn:fisbot:test'/></iq>");
	for (int i = 0; i < 20; i++)
		assert_true(host_iq(host, q, "alice@example.org/phone",
		                    "alice@example.org"));
	assert_int_equal(double_state.n_sent, 20);
	for (int i = 0; i < 20; i++) {
		assert_string_equal(
		    xmpp_stanza_get_type(double_state.sent[i].stanza),
		    "result");
		assert_string_equal(double_state.sent[i].requester,
		                    "alice@example.org");
	}
	double_reset();
	assert_true(host_iq(host, q, ROOM "/dave", ROOM "/dave"));
	assert_string_equal(xmpp_stanza_get_to(double_state.sent[0].stanza),
	                    ROOM "/dave");
	assert_string_equal(double_state.sent[0].requester, ROOM "/dave");
	double_reset();
	xmpp_stanza_release(q);
	/* A chat command after them still has its whole burst (3), and
	 * its reply goes in the same requester's lane. */
	for (int i = 0; i < 3; i++) {
		say(FB_DIRECT, "two a");
		assert_string_equal(double_state.sent[0].requester,
		                    "alice@example.org");
		expect_reply("ok 1");
	}
	say(FB_DIRECT, "two a");
	expect_reply_has("slow down");
}

static void test_timers_events_features(void **state)
{
	/* testcmds adds one feature in init: replayed to the session. */
	assert_int_equal(double_state.features, 1);
	host_tick(host);
	say(FB_DIRECT, "counts");
	expect_reply("ticks=0 events=0");
	now += 1000;
	host_tick(host);
	now += 1000;
	host_tick(host);
	now += 1000;
	host_tick(host); /* unregistered after the second run */
	host_event(host, FB_EVENT_FILE_ADDED, 42, NULL);
	host_event(host, FB_EVENT_FILE_REMOVED, 42, NULL);
	say(FB_DIRECT, "counts");
	expect_reply("ticks=2 events=1");
}

static void test_send_room(void **state)
{
	/* Plugins' room messages are sanitised and guarded too. */
	say(FB_DIRECT, "announce");
	assert_int_equal(double_state.n_sent, 1);
	assert_null(double_state.sent[0].stanza);
	assert_string_equal(double_state.sent[0].room, ROOM);
	assert_string_equal(double_state.sent[0].room_text,
	                    REPLY_GUARD "!new\\x01 file");
	double_reset();
}

static void test_admin_plugin(void **state)
{
	const char *admin = "admin@example.org/laptop";

	say_as(FB_DIRECT, admin, "rescan");
	expect_reply("rescan started");
	assert_int_equal(rescans, 1);
	say_as(FB_DIRECT, admin, "reload");
	expect_reply("configuration reloaded");
	assert_int_equal(reloads, 1);
	say_as(FB_DIRECT, admin, "join new@conf.example.org nick2");
	assert_string_equal(double_state.joined, "new@conf.example.org");
	assert_string_equal(double_state.joined_nick, "nick2");
	expect_reply("joining new@conf.example.org");
	say_as(FB_DIRECT, admin, "join refuse@conf.example.org");
	expect_reply("max_rooms reached");
	say_as(FB_DIRECT, admin, "join notaroom");
	expect_reply("not a room JID: notaroom");
	say_as(FB_DIRECT, admin, "leave " ROOM);
	assert_string_equal(double_state.left, ROOM);
	expect_reply("leaving " ROOM);
	say_as(FB_DIRECT, admin, "describe #42   a nice  file");
	expect_reply("#42 described");
	assert_int_equal(described_id, 42);
	assert_string_equal(described_text, "a nice  file");
	say_as(FB_DIRECT, admin, "describe 43 \"quoted text\"");
	expect_reply("#43 described");
	assert_string_equal(described_text, "quoted text");
	say_as(FB_DIRECT, admin, "describe 44 \"\"");
	expect_reply("#44: description removed");
	assert_string_equal(described_text, "");
	say_as(FB_DIRECT, admin, "describe 999 x");
	expect_reply("no such file: 999");
	say_as(FB_DIRECT, admin, "describe abc x");
	expect_reply("not a file id: abc");
	say_as(FB_DIRECT, admin, "describe 1");
	expect_reply("usage: describe ID TEXT");
}

/* Tries to start a host with load; returns the cause (caller frees). */
static char *refused(const char *load)
{
	struct config *c = load_config(load, "");
	char *cause = NULL;
	struct host *h = host_new(c, &deps, &cause);

	assert_null(h);
	assert_non_null(cause);
	config_free(c);
	return cause;
}

static void test_broken_plugins(void **state)
{
	char *cause;

	cause = refused("help, nosuch");
	assert_non_null(strstr(cause, "plugin nosuch: "));
	assert_non_null(strstr(cause, "/plugins/nosuch.so: No such file or "
	                              "directory (see [plugins] path)"));
	free(cause);
	cause = refused("badversion");
	assert_non_null(strstr(cause, "plugin badversion: built for plugin API "
	                              "version"));
	assert_non_null(strstr(cause, "rebuild it"));
	free(cause);
	cause = refused("help, failinit");
	assert_string_equal(cause, "plugin failinit: init failed: the "
	                           "frobnicator is missing");
	free(cause);
	cause = refused("notaplugin");
	assert_non_null(strstr(cause, "is not a fisbot plugin"));
	free(cause);
	cause = refused("renamed");
	assert_non_null(strstr(cause, "calls itself \"testcmds\""));
	free(cause);
	cause = refused("testcmds, dupcmd");
	assert_string_equal(cause, "plugin dupcmd: init failed: cannot "
	                           "register its commands");
	free(cause);
}

static void test_example_plugin(void **state)
{
	struct config *c =
	    load_config("ping", "[plugin \"ping\"]\nreply = PONG\n");
	char *cause = NULL;
	struct host *h = host_new(c, &deps, &cause);
	struct host *saved = host;

	assert_non_null(h);
	host_set_session(h, double_session());
	host = h;
	host_event(h, FB_EVENT_FILE_ADDED, 1, NULL);
	say(FB_DIRECT, "ping hello");
	expect_reply("PONG hello (1 new files since start)");
	say(FB_DIRECT, "dice 3d1");
	expect_reply("usage: roll [NdM] (1-20 dice of 2-1000 faces, e.g. "
	             "2d6)");
	say(FB_DIRECT, "roll 1d2");
	assert_int_equal(double_state.n_sent, 1);
	double_reset();
	host = saved;
	host_free(h);
	config_free(c);
}

/* --- query workers ------------------------------------------------------- */

/* Returns the body of sent stanza i and checks it is want. */
static void check_body(size_t i, const char *want)
{
	char *b = body(i);

	assert_string_equal(b, want);
	free(b);
}

static void test_query_on_worker(void **state)
{
	/* Never answered from host_message: the worker's answer waits for
	 * the main loop (host_poll). */
	say(FB_DIRECT, "sleep 0");
	expect_silence();
	assert_true(host_busy(host));
	wait_reply("slept 0 ms on worker");
	assert_false(host_busy(host));
	host_poll(host); /* nothing left: a no-op */
	expect_silence();
	/* Arity and permission are checked first, on the main thread. */
	say(FB_DIRECT, "sleep");
	expect_reply("usage: sleep MS");
	/* In a room: privately, with the fallback, as any reply. */
	say(FB_ROOM, "!sleep 0");
	wait_sent(1);
	assert_true(double_state.sent[0].private_msg);
	assert_string_equal(double_state.sent[0].fallback,
	                    "alice: slept 0 ms on worker");
	expect_reply("slept 0 ms on worker");
}

static void test_slow_query_holds_up_no_one_else(void **state)
{
	say(FB_DIRECT, "sleep 2000");
	/* Bob's command is answered at once, during Alice's query. */
	say_as(FB_DIRECT, "bob@example.org/x", "two b");
	expect_reply("ok 1");
	/* Carol's query runs on the other worker. */
	say_as(FB_DIRECT, "carol@example.org/x", "sleep 0");
	wait_sent(1);
	assert_string_equal(xmpp_stanza_get_to(double_state.sent[0].stanza),
	                    "carol@example.org/x");
	expect_reply("slept 0 ms on worker");
	wait_reply("slept 2000 ms on worker");
}

static void test_one_requester_in_order(void **state)
{
	/* Alice's later requests wait for her query, even those that run
	 * on the main thread or are errors. */
	say(FB_DIRECT, "sleep 100");
	say(FB_DIRECT, "two a");
	say(FB_DIRECT, "nosuch");
	say(FB_DIRECT, "sleep 0");
	expect_silence();
	wait_sent(4);
	check_body(0, "slept 100 ms on worker");
	check_body(1, "ok 1");
	check_body(2, "unknown command: nosuch (say help)");
	check_body(3, "slept 0 ms on worker");
	double_reset();
}

static void test_more_on_worker(void **state)
{
	/* "more" waits for the query before it and continues it, on a
	 * worker. */
	say(FB_DIRECT, "qpage");
	say(FB_DIRECT, "more");
	expect_silence();
	wait_sent(2);
	check_body(0, "page 1 on worker");
	check_body(1, "page 2 on worker");
	double_reset();
	say_as(FB_DIRECT, "bob@example.org/x", "more");
	expect_reply("nothing more to show: say list or search first");
	say(FB_DIRECT, "more");
	wait_reply("page 3 on worker");
	say(FB_DIRECT, "more");
	expect_reply("nothing more to show: say list or search first");
	/* A main-thread continuation stays on the main thread. */
	say(FB_DIRECT, "page");
	expect_reply("page 1");
	say(FB_DIRECT, "more");
	expect_reply("page 2");
	/* A query's continuation replaces a main-thread one. */
	say(FB_DIRECT, "qpage");
	wait_reply("page 1 on worker");
	say(FB_DIRECT, "more");
	wait_reply("page 2 on worker");
	/* Continuations in flight at exit are freed by host_free (ASan). */
	say(FB_DIRECT, "qpage");
	say(FB_DIRECT, "more");
}

static void test_busy(void **state)
{
	char jid[64];

	/* One requester has at most 32 requests at once. */
	say(FB_DIRECT, "sleep 300");
	for (int i = 1; i < 32; i++)
		say(FB_DIRECT, "two a");
	expect_silence();
	say(FB_DIRECT, "two a");
	expect_reply("busy: try again in a moment");
	say(FB_DIRECT, "sleep 0");
	expect_reply("busy: try again in a moment");
	/* Others are not refused. */
	say_as(FB_DIRECT, "bob@example.org/x", "two b");
	expect_reply("ok 1");
	wait_sent(32);
	check_body(0, "slept 300 ms on worker");
	for (size_t i = 1; i < 32; i++)
		check_body(i, "ok 1");
	double_reset();

	/* In all, 256 requests wait besides those the workers run. */
	say_as(FB_DIRECT, "u0@example.org/x", "sleep 500");
	say_as(FB_DIRECT, "u1@example.org/x", "sleep 500");
	for (int i = 0; i < 256; i++) {
		snprintf(jid, sizeof(jid), "v%d@example.org/x", i);
		say_as(FB_DIRECT, jid, "sleep 0");
	}
	expect_silence();
	say_as(FB_DIRECT, "w@example.org/x", "sleep 0");
	expect_reply("busy: try again in a moment");
	/* Commands that run at once are still answered. */
	say_as(FB_DIRECT, "w@example.org/x", "two a");
	expect_reply("ok 1");
	/* teardown frees what is still queued (ASan checks). */
}

static void test_iq_on_worker(void **state)
{
	xmpp_stanza_t *q, *r, *a, *e;
	char *big;

	q = iq("<iq type='get' id='w1'><answer xmlns='urn:fisbot:test:query' "
	       "ms='50'/></iq>");
	assert_true(
	    host_iq(host, q, "carol@example.org/x", "carol@example.org"));
	/* The worker has its own copy. */
	xmpp_stanza_release(q);
	expect_silence();
	wait_sent(1);
	r = double_state.sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_type(r), "result");
	assert_string_equal(xmpp_stanza_get_id(r), "w1");
	assert_string_equal(xmpp_stanza_get_to(r), "carol@example.org/x");
	a = xmpp_stanza_get_child_by_name_and_ns(r, "answer",
	                                         "urn:fisbot:test:query");
	assert_non_null(a);
	assert_string_equal(xmpp_stanza_get_attribute(a, "thread"), "worker");
	assert_string_equal(xmpp_stanza_get_attribute(a, "from"),
	                    "carol@example.org/x");
	double_reset();

	/* No answer: the host answers for the handler. */
	q = iq("<iq type='set' id='w2'><silent xmlns='urn:fisbot:test:query'/>"
	       "</iq>");
	assert_true(host_iq(host, q, "dave@example.org/x", "dave@example.org"));
	xmpp_stanza_release(q);
	wait_sent(1);
	r = double_state.sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_type(r), "error");
	assert_string_equal(xmpp_stanza_get_id(r), "w2");
	assert_non_null(xmpp_stanza_get_child_by_name(
	    xmpp_stanza_get_child_by_name(r, "error"),
	    "internal-server-error"));
	double_reset();

	/* Too large an answer: resource-constraint; two answers: one. */
	q = iq("<iq type='get' id='w3'><big xmlns='urn:fisbot:test:query'/>"
	       "</iq>");
	assert_true(host_iq(host, q, "erin@example.org/x", "erin@example.org"));
	xmpp_stanza_release(q);
	q = iq("<iq type='get' id='w4'><twice xmlns='urn:fisbot:test:query'/>"
	       "</iq>");
	assert_true(host_iq(host, q, "erin@example.org/x", "erin@example.org"));
	xmpp_stanza_release(q);
	wait_sent(2);
	r = double_state.sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_id(r), "w3");
	assert_string_equal(xmpp_stanza_get_type(r), "error");
	e = xmpp_stanza_get_child_by_name(r, "error");
	assert_non_null(
	    xmpp_stanza_get_child_by_name(e, "resource-constraint"));
	assert_true(stanza_size(0) < REPLY_MAX_STANZA);
	r = double_state.sent[1].stanza;
	assert_string_equal(xmpp_stanza_get_id(r), "w4");
	assert_string_equal(xmpp_stanza_get_type(r), "result");
	double_reset();

	/* A request too large to queue is refused at once. */
	big = xmalloc(HOST_IQ_TEST_MAX + 100);
	snprintf(big, HOST_IQ_TEST_MAX + 100,
	         "<iq type='get' id='w5'><answer xmlns='urn:fisbot:test:query' "
	         "pad='%0*d'/></iq>",
	         HOST_IQ_TEST_MAX, 0);
	q = iq(big);
	free(big);
	assert_true(
	    host_iq(host, q, "frank@example.org/x", "frank@example.org"));
	xmpp_stanza_release(q);
	assert_int_equal(double_state.n_sent, 1);
	r = double_state.sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_type(r), "error");
	assert_non_null(xmpp_stanza_get_child_by_name(
	    xmpp_stanza_get_child_by_name(r, "error"), "policy-violation"));
	double_reset();

	/* A query IQ waits for its sender's slow command. */
	say_as(FB_DIRECT, "gina@example.org/x", "sleep 100");
	q = iq("<iq type='get' id='w6'><answer xmlns='urn:fisbot:test:query'/>"
	       "</iq>");
	assert_true(host_iq(host, q, "gina@example.org/y", "gina@example.org"));
	xmpp_stanza_release(q);
	/* A main-thread IQ does not wait. */
	q = iq("<iq type='get' id='w7'><answer xmlns='urn:fisbot:test'/>"
	       "</iq>");
	assert_true(host_iq(host, q, "gina@example.org/y", "gina@example.org"));
	xmpp_stanza_release(q);
	assert_int_equal(double_state.n_sent, 1);
	assert_string_equal(xmpp_stanza_get_id(double_state.sent[0].stanza),
	                    "w7");
	wait_sent(3);
	check_body(1, "slept 100 ms on worker");
	assert_string_equal(xmpp_stanza_get_id(double_state.sent[2].stanza),
	                    "w6");
	double_reset();

	/* Pending at exit: freed by host_free (ASan). */
	q = iq("<iq type='get' id='w8'><answer xmlns='urn:fisbot:test:query' "
	       "ms='200'/></iq>");
	assert_true(host_iq(host, q, "hank@example.org/x", "hank@example.org"));
	xmpp_stanza_release(q);
}

static void test_main_thread_only_on_worker(void **state)
{
	/* On a worker, rooms_foreach, send_room and rescan do nothing. */
	say(FB_DIRECT, "qmain");
	wait_reply("rooms=0 rescan=-1 (rescan on a query worker is not "
	           "available) on worker");
	assert_int_equal(rescans, 0);
	/* On the main thread they work. */
	say(FB_DIRECT, "announce");
	assert_int_equal(double_state.n_sent, 1);
	assert_string_equal(double_state.sent[0].room, ROOM);
	double_reset();
}

static void test_link_on_worker(void **state)
{
	xmpp_stanza_t *m, *x, *file;
	char *text;

	say(FB_ROOM_PRIVATE, "qlink");
	wait_sent(1);
	m = double_state.sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_to(m), ALICE);
	x = xmpp_stanza_get_child_by_name_and_ns(m, "x", "jabber:x:oob");
	text = xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(x, "desc"));
	assert_string_equal(text, "b & c.txt (10 B)");
	xmpp_free(double_state.ctx, text);
	file = xmpp_stanza_get_child_by_name(
	    xmpp_stanza_get_child_by_name(m, "file-sharing"), "file");
	text =
	    xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(file, "desc"));
	assert_string_equal(text, "a description");
	xmpp_free(double_state.ctx, text);
	expect_reply("http://127.0.0.1:8080/f/TOKEN/8");
}

static void test_config_of_the_request(void **state)
{
	struct config *c2;

	/* A query sees the configuration it came under, even after a
	 * reload (the old one stays valid until it is answered). */
	say(FB_DIRECT, "qconfig 200");
	c2 = load_config("help, admin, testcmds", "[commands]\nprefix = ?\n");
	host_reconfigure(host, c2);
	wait_reply("prefix=! catalogue=no admin=0 on worker");
	config_free(cfg);
	cfg = c2;
	say(FB_DIRECT, "qconfig 0");
	wait_reply("prefix=? catalogue=no admin=0 on worker");
	say_as(FB_DIRECT, "admin@example.org/x", "qconfig 0");
	wait_reply("prefix=? catalogue=no admin=1 on worker");
}

/* Adds a hashed file to c; returns its id. */
static int64_t add_file(struct catalogue *c, const char *path)
{
	struct cat_file f = {.path = (char *)path,
	                     .size = 10,
	                     .mtime_ns = 1000,
	                     .dev = 1,
	                     .ino = 1};
	unsigned char sha[32] = {1};
	bool stale = false;

	assert_int_equal(catalogue_upsert(c, &f), 0);
	assert_int_equal(
	    catalogue_set_hash(c, f.id, 10, 1000, sha, "text/plain", &stale),
	    0);
	return f.id;
}

static void test_real_plugins_on_workers(void **state)
{
	struct config *c = load_config("help, search, browse, stats, get", "");
	struct host_deps d = deps;
	struct host *saved = host;
	struct catalogue *w;
	char *cause = NULL, path[64], *b;

	w = catalogue_open_writer("fisbot.db", &cause);
	assert_non_null(w);
	for (int i = 0; i < 12; i++) {
		snprintf(path, sizeof(path), "music/song%02d.ogg", i);
		add_file(w, path);
	}
	d.database = "fisbot.db";
	d.workers = 3;
	host = host_new(c, &d, &cause);
	if (host == NULL)
		fail_msg("host_new: %s", cause);
	host_set_session(host, double_session());

	say(FB_DIRECT, "search song");
	expect_silence();
	wait_sent(1);
	b = body(0);
	assert_non_null(strstr(b, "#12 music/song11.ogg (10 B)\n"));
	assert_non_null(strstr(b, "\npage 1/2 · 12 results · say !more for "
	                          "the next 2"));
	free(b);
	double_reset();
	say(FB_DIRECT, "more");
	wait_reply("#2 music/song01.ogg (10 B)\n#1 music/song00.ogg (10 B)\n"
	           "page 2/2 · 12 results");
	say(FB_DIRECT, "list");
	wait_reply("music/\npage 1/1 · 1 result");
	say(FB_DIRECT, "info 3");
	wait_sent(1);
	b = body(0);
	assert_true(strncmp(b, "#3 music/song02.ogg (10 B)\nname: song02.ogg",
	                    42) == 0);
	free(b);
	double_reset();
	say(FB_DIRECT, "new 1");
	wait_reply("#12 music/song11.ogg (10 B)");
	say(FB_DIRECT, "get 4");
	wait_reply("http://127.0.0.1:8080/f/TOKEN/4");
	say(FB_DIRECT, "stats");
	wait_sent(1);
	b = body(0);
	assert_true(strncmp(b, "files: 12\nfolders: 1\n", 21) == 0);
	free(b);
	double_reset();
	/* help stays on the main thread. */
	say(FB_DIRECT, "help search");
	assert_int_equal(double_state.n_sent, 1);
	double_reset();

	host_free(host);
	host = saved;
	config_free(c);
	catalogue_close(w);

	/* A catalogue the workers cannot open: the host does not start. */
	c = load_config("help", "");
	d.database = "nosuch/fisbot.db";
	assert_null(host_new(c, &d, &cause));
	assert_non_null(cause);
	free(cause);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_places_and_prefix, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_and_ignored, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_help, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_room_wide, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reply_bounds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reply_text_safety, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_link, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_more, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_iq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timers_events_features, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_send_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admin_plugin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_plugins, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_example_plugin, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_query_on_worker, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_slow_query_holds_up_no_one_else, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_requester_in_order, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_more_on_worker, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_iq_on_worker, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_main_thread_only_on_worker,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_on_worker, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_config_of_the_request, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_real_plugins_on_workers, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
