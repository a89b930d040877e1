/*
 * Unit tests of the plugin host and the dispatcher (host.c, dispatch.c,
 * reply.c) with real plugins (help, admin, and tests/plugins) loaded with
 * dlopen, and a recording double of the XMPP session.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "config.h"
#include "fisbot_plugin.h"
#include "host.h"
#include "reply.h"
#include "session_double.h"
#include "version.h"

#define ROOM  "room@conf.example.org"
#define ALICE ROOM "/alice"

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

static char *fake_url(void *arg, const struct cat_file *f)
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
