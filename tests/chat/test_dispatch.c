/*
 * Unit tests of the plugin host and the dispatcher (host.c, dispatch.c,
 * jobs.c, reply.c) with real plugins (help, admin, search, browse,
 * and tests/plugins) loaded with dlopen, on top of the real XMPP session,
 * not connected (session_test.h): the tests hand it stanzas as the server
 * would, its events reach the host as in the daemon, and what it would
 * send to the server is recorded, with the send queue's lane. Timers run
 * on a test clock (now). Query handlers run on the host's workers:
 * wait_sent waits for their answers as the main loop would (poll on the
 * inbox's descriptor, queue_run, the cron).
 */
#include <dlfcn.h>
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

#include "base/cron.h"
#include "base/fsutil.h"
#include "base/queue.h"
#include "chat/host.h"
#include "chat/reply.h"
#include "fisbot/alloc.h"
#include "fisbot/config.h"
#include "fisbot/fisbot_plugin.h"
#include "fisbot/log.h"
#include "store/catalogue_write.h"
#include "version.h"
#include "xmpp/session.h"
#include "xmpp/session_test.h"

#define ROOM     "room@conf.example.org"
#define ALICE    ROOM "/alice"
#define BOT      "bot@example.org/fisbot"
#define MUC_USER "http://jabber.org/protocol/muc#user"
#define MAX_SENT 512

static char tmpdir[PATH_MAX], olddir[PATH_MAX];
static uint64_t now;
static bool advance; /* each message comes a second after the last */
static struct config *cfg;
static struct host *host;
static struct cron *cron;   /* on the test clock, now */
static struct queue *inbox; /* where the workers post finished work */
static struct session *session;
static xmpp_ctx_t *ctx; /* the session's */

/* One stanza the session sent, and the send queue's lane it came from. */
static struct {
	xmpp_stanza_t *stanza;
	char *lane;
} sent[MAX_SENT];
static size_t n_sent;
static int rescans, reloads;
static int64_t described_id;
static char *described_text;

static uint64_t fake_now(void *arg)
{
	return now;
}

static char last_requester[256]; /* of the last fake_url */

static char *fake_url(void *arg, const struct config *c,
                      const struct cat_file *f, const char *requester)
{
	snprintf(last_requester, sizeof(last_requester), "%s",
	         requester != NULL ? requester : "(none)");
	return xasprintf("http://127.0.0.1:8080/f/TOKEN/%lld",
	                 (long long)f->id);
}

/* Fake download slots: free_slots of them, for anyone; holds take one. */
static int free_slots;
static char last_hold[256];

static bool fake_slot_available(void *arg, const char *requester)
{
	return free_slots > 0;
}

static void fake_slot_hold(void *arg, const char *requester, bool hold)
{
	free_slots += hold ? -1 : 1;
	snprintf(last_hold, sizeof(last_hold), "%s%s", hold ? "" : "-",
	         requester);
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

static struct host_deps deps = {
    .file_url = fake_url,
    .rescan = fake_rescan,
    .describe = fake_describe,
    .reload = fake_reload,
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
	                       "password = secret\nrooms = " ROOM "\n"
	                       "[share]\npath = share\n"
	                       "[admins]\njids = admin@example.org\n"
	                       "[limits]\nburst = 3\nrate = 1/1s\n"
	                       "[invites]\nmax_rooms = 2\n"
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

/* Applies the configuration c to the session and the host, as the
 * daemon's reload does, and frees the old one. */
static void reconfigure(struct config *c)
{
	session_reconfigure(session, c);
	host_reconfigure(host, c);
	config_free(cfg);
	cfg = c;
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

/* --- the session's side ------------------------------------------------ */

/* The session's output: records what it sends. */
static void record(void *arg, xmpp_stanza_t *stanza, const char *lane)
{
	(void)arg;
	if (n_sent >= MAX_SENT)
		abort();
	sent[n_sent].stanza = stanza;
	sent[n_sent].lane = lane != NULL ? xstrdup(lane) : NULL;
	n_sent++;
}

/* Forgets what was sent. */
static void sent_reset(void)
{
	for (size_t i = 0; i < n_sent; i++) {
		xmpp_stanza_release(sent[i].stanza);
		free(sent[i].lane);
	}
	n_sent = 0;
}

/* The session's events, handed to the host as the daemon does. */
static void on_message(void *arg, const struct session_origin *o,
                       const char *body)
{
	(void)arg;
	host_message(host, o, body);
}

static bool on_iq(void *arg, xmpp_stanza_t *iq, const char *from,
                  const char *requester)
{
	(void)arg;
	return host_iq(host, iq, from, requester);
}

static void on_room(void *arg, enum session_room_event kind, const char *room)
{
	(void)arg;
	host_room(host, kind, room);
}

static void on_gone(void *arg, const char *sender)
{
	(void)arg;
	host_gone(host, sender);
}

static void on_join_failed(void *arg, const char *room, const char *why)
{
	(void)arg;
	host_join_failed(host, room, why);
}

static const struct session_events events = {
    .message = on_message,
    .iq = on_iq,
    .room = on_room,
    .gone = on_gone,
    .join_failed = on_join_failed,
};

/* Hands the stanza xml to the session as if the server sent it. */
static void input(const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);

	assert_non_null(st);
	session_input(session, st);
	xmpp_stanza_release(st);
}

/* Connects the session (acted out) and has it enter ROOM as fisbot: its
 * presence comes back, the room answers its disco#info, the subject
 * comes. Then forgets what the session sent. */
static void enter_room(void)
{
	const char *info_id = NULL;
	char *xml;

	session_test_connect(session, BOT);
	for (size_t i = 0; i < n_sent; i++)
		if (strcmp(xmpp_stanza_get_name(sent[i].stanza), "iq") == 0 &&
		    strcmp(xmpp_stanza_get_to(sent[i].stanza), ROOM) == 0)
			info_id = xmpp_stanza_get_id(sent[i].stanza);
	assert_non_null(info_id);
	input("<presence from='" ROOM "/fisbot'><x xmlns='" MUC_USER
	      "'><item affiliation='none' role='participant'/>"
	      "<status code='110'/></x></presence>");
	xml = xasprintf("<iq type='result' id='%s' from='" ROOM
	                "'><query xmlns='http://jabber.org/protocol/"
	                "disco#info'/></iq>",
	                info_id);
	input(xml);
	free(xml);
	input("<message type='groupchat' from='" ROOM "'><subject>hi"
	      "</subject></message>");
	sent_reset();
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
	link_plugin(FISBOT_PLUGIN_DIR, "upload", NULL);
	link_plugin(TEST_PLUGIN_DIR, "testcmds", NULL);
	link_plugin(TEST_PLUGIN_DIR, "tablecmds", NULL);
	link_plugin(TEST_PLUGIN_DIR, "badtable", NULL);
	link_plugin(TEST_PLUGIN_DIR, "badversion", NULL);
	link_plugin(TEST_PLUGIN_DIR, "failinit", NULL);
	link_plugin(TEST_PLUGIN_DIR, "dupcmd", NULL);
	link_plugin(TEST_PLUGIN_DIR, "noentry", NULL);
	link_plugin(TEST_PLUGIN_DIR, "notaplugin", NULL);
	link_plugin(TEST_PLUGIN_DIR, "testcmds", "renamed");
	now = 1000000;
	advance = true;
	rescans = reloads = 0;
	cron = cron_new(fake_now, NULL);
	inbox = queue_new(&cause);
	if (inbox == NULL)
		return -1;
	deps.cron = cron;
	deps.inbox = inbox;
	cfg = load_config("help, admin, testcmds", "");
	/* As in the daemon: the session, then the host on top of it. */
	session = session_new(cfg, cron, &events, &cause);
	if (session == NULL) {
		fprintf(stderr, "session_new: %s\n", cause);
		return -1;
	}
	ctx = session_ctx(session);
	session_set_output(session, record, NULL);
	host = host_new(cfg, session, &deps, &cause);
	if (host == NULL) {
		fprintf(stderr, "host_new: %s\n", cause);
		return -1;
	}
	enter_room();
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	int rc = system(cmd);

	free(cmd);
	host_free(host);
	sent_reset(); /* stanzas of the session's context */
	session_free(session);
	config_free(cfg);
	/* The host took its finished jobs out of the inbox. */
	if (!queue_empty(inbox))
		rc = -1;
	queue_free(inbox);
	cron_free(cron);
	free(described_text);
	described_text = NULL;
	return chdir(olddir) == -1 || rc != 0 ? -1 : 0;
}

/* --- helpers ------------------------------------------------------------- */

/* Sends body from alice: in the room, privately in the room, or from
 * alice@example.org (or from jid) in a direct chat, as a message stanza
 * built without parsing (bodies may hold invalid UTF-8). */
static void say_as(int place, const char *jid, const char *body)
{
	xmpp_stanza_t *m;

	if (advance)
		now += 1000;
	m = xmpp_message_new(ctx, place == FB_ROOM ? "groupchat" : "chat", BOT,
	                     NULL);
	xmpp_stanza_set_from(m, jid);
	xmpp_message_set_body(m, body);
	if (place == FB_ROOM_PRIVATE) {
		xmpp_stanza_t *x = xmpp_stanza_new(ctx);

		xmpp_stanza_set_name(x, "x");
		xmpp_stanza_set_ns(x, MUC_USER);
		xmpp_stanza_add_child_ex(m, x, 0);
	}
	session_input(session, m);
	xmpp_stanza_release(m);
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

	assert_true(i < n_sent);
	b = xmpp_message_get_body(sent[i].stanza);
	copy = xstrdup(b != NULL ? b : "");
	if (b != NULL)
		xmpp_free(ctx, b);
	return copy;
}

/* Returns the body of sent stanza i and checks it is want. */
static void check_body(size_t i, const char *want)
{
	char *b = body(i);

	assert_string_equal(b, want);
	free(b);
}

/* Asserts that exactly one stanza was sent and that its body is want. */
static void expect_reply(const char *want)
{
	char *b;

	assert_int_equal(n_sent, 1);
	b = body(0);
	assert_string_equal(b, want);
	free(b);
	sent_reset();
}

/* Asserts that exactly one stanza was sent and its body holds want. */
static void expect_reply_has(const char *want)
{
	char *b;

	assert_int_equal(n_sent, 1);
	b = body(0);
	if (strstr(b, want) == NULL)
		fail_msg("\"%s\" not in \"%s\"", want, b);
	free(b);
	sent_reset();
}

static void expect_silence(void)
{
	assert_int_equal(n_sent, 0);
}

/* Refuses sent message i as a room refuses a private message, and
 * returns the body of what the session then says in the room instead (its
 * fallback), or NULL if it says nothing; that message is forgotten. */
static char *refuse(size_t i)
{
	size_t before = n_sent;
	char *xml, *b;

	assert_true(i < n_sent);
	xml = xasprintf("<message type='error' id='%s' from='%s'><error "
	                "type='cancel'><not-acceptable xmlns='urn:ietf:"
	                "params:xml:ns:xmpp-stanzas'/></error></message>",
	                xmpp_stanza_get_id(sent[i].stanza),
	                xmpp_stanza_get_to(sent[i].stanza));
	input(xml);
	free(xml);
	if (n_sent == before)
		return NULL;
	assert_int_equal(n_sent, before + 1);
	assert_string_equal(xmpp_stanza_get_type(sent[before].stanza),
	                    "groupchat");
	assert_string_equal(xmpp_stanza_get_to(sent[before].stanza), ROOM);
	b = body(before);
	xmpp_stanza_release(sent[before].stanza);
	free(sent[before].lane);
	n_sent--;
	return b;
}

/* Asserts that sent message i is a private message with a fallback for
 * the room, and that the fallback is want. */
static void expect_fallback(size_t i, const char *want)
{
	char *b = refuse(i);

	assert_non_null(b);
	assert_string_equal(b, want);
	free(b);
}

/* Asserts that sent message i went privately to an occupant, with a
 * fallback for the room. */
static void expect_private(size_t i)
{
	char *b = refuse(i);

	assert_non_null(b);
	free(b);
}

/* Waits (as the main loop does) until n stanzas were sent, and fails
 * after 20 s: runs the inbox when the workers post to it, and the timers
 * when the session's pacing holds stanzas back (the test clock jumps to
 * the next deadline, if it is near). */
static void wait_sent(size_t n)
{
	struct timespec start, t;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (n_sent < n) {
		struct pollfd pfd = {queue_fd(inbox), POLLIN, 0};

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - start.tv_sec > 20)
			fail_msg("%zu stanzas sent, %zu expected", n_sent, n);
		if (cron_next(cron) <= now + 100) {
			if (cron_next(cron) > now)
				now = cron_next(cron);
			cron_run(cron);
			continue;
		}
		assert_true(host_busy(host));
		poll(&pfd, 1, 100);
		queue_run(inbox);
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

	assert_int_equal(xmpp_stanza_to_text(sent[i].stanza, &text, &len),
	                 XMPP_EOK);
	xmpp_free(ctx, text);
	return len;
}

static int64_t add_file(struct catalogue *c, const char *path);

/* Starts a second host with the plugins of load, a catalogue fisbot.db
 * (its writer connection *w serves the main thread; the workers open their
 * own) holding the files of paths, and makes it the one say() talks to.
 * end_with_catalogue puts the first one back. */
static struct host *saved_host;
static struct config *saved_cfg;

static struct catalogue *
start_with_catalogue(const char *load, const char *const *paths, size_t n)
{
	struct host_deps d = deps;
	struct catalogue *w;
	char *cause = NULL;

	w = catalogue_open_writer("fisbot.db", &cause);
	if (w == NULL)
		fail_msg("catalogue_open: %s", cause);
	for (size_t i = 0; i < n; i++)
		add_file(w, paths[i]);
	d.catalogue = w;
	d.database = "fisbot.db";
	d.workers = 2;
	saved_host = host;
	saved_cfg = cfg;
	cfg = load_config(load, "");
	/* On the same session: its events go to whichever host is current. */
	host = host_new(cfg, session, &d, &cause);
	if (host == NULL)
		fail_msg("host_new: %s", cause);
	return w;
}

static void end_with_catalogue(struct catalogue *w)
{
	host_free(host);
	config_free(cfg);
	host = saved_host;
	cfg = saved_cfg;
	catalogue_close(w);
}

/* --- tests ---------------------------------------------------------------- */

static void test_places_and_prefix(void **state)
{
	xmpp_stanza_t *m;

	/* A room needs the prefix. */
	say(FB_ROOM, "echo hi");
	expect_silence();
	say(FB_ROOM, "!echo hi");
	assert_int_equal(n_sent, 1);
	m = sent[0].stanza;
	/* Answered by MUC private message, with a fallback for the room
	 * (said there if the room refuses the private message). */
	assert_string_equal(xmpp_stanza_get_to(m), ALICE);
	assert_string_equal(xmpp_stanza_get_type(m), "chat");
	assert_non_null(xmpp_stanza_get_child_by_name_and_ns(
	    m, "x", "http://jabber.org/protocol/muc#user"));
	/* In the requester's lane of the send queue. */
	assert_string_equal(sent[0].lane, ALICE);
	expect_fallback(0, "alice: this room does not let me answer you "
	                   "privately; ask me in a direct chat with "
	                   "bot@example.org");
	/* Once only. */
	assert_null(refuse(0));
	sent_reset();

	/* Private and direct chats: prefix optional, answered in place. */
	say(FB_ROOM_PRIVATE, "two a");
	assert_string_equal(xmpp_stanza_get_to(sent[0].stanza), ALICE);
	assert_null(refuse(0)); /* no fallback */
	expect_reply("ok 1");
	say(FB_DIRECT, "two a b");
	m = sent[0].stanza;
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
	expect_fallback(0, "alice: ok 1");
	sent_reset();
	/* The fallback is the reply as it was guarded, not escaped again,
	 * and a nick that looks like a command is guarded too. */
	say(FB_ROOM, "!line !x");
	expect_fallback(0, "alice: " REPLY_GUARD "!x");
	sent_reset();
	say_as(FB_ROOM, ROOM "/!bob", "!two x");
	expect_fallback(0, REPLY_GUARD "!bob: ok 1");
	sent_reset();
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
	sent_reset();
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
	sent_reset();

	say_as(FB_DIRECT, "admin@example.org/x", "help");
	b = body(0);
	assert_non_null(strstr(b, "\nrescan — "));
	assert_non_null(strstr(b, "\njoin ROOM [NICK] — "));
	assert_non_null(strstr(b, "\nsecret — an admin command (admin)"));
	free(b);
	sent_reset();

	/* In a room, even admins only see what they may run there. */
	say_as(FB_ROOM, ROOM "/admin", "!help");
	b = body(0);
	assert_non_null(strstr(b, "commands (start each with !; say !help "
	                          "COMMAND for one):"));
	assert_null(strstr(b, "rescan"));
	free(b);
	sent_reset();

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

/* Returns the command names help lists to jid at place, one word each,
 * space-separated (static). */
static const char *help_names(int place, const char *jid)
{
	static char names[512];
	char *b, *line, *save = NULL;
	size_t n = 0;

	say_as(place, jid, place == FB_ROOM ? "!help" : "help");
	assert_int_equal(n_sent, 1);
	b = body(0);
	sent_reset();
	names[0] = '\0';
	/* The first line is the header. */
	strtok_r(b, "\n", &save);
	while ((line = strtok_r(NULL, "\n", &save)) != NULL)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%.*s",
		                      n > 0 ? " " : "", (int)strcspn(line, " "),
		                      line);
	free(b);
	return names;
}

/* help lists what the asker may run where it asks, in a stable order:
 * browsing, search, links, the rest as registered, then admin commands;
 * upload only where uploads are on and the asker may upload. */
static void test_help_order_and_upload(void **state)
{
	struct config *c =
	    load_config("admin, upload, stats, help, get, search, browse",
	                "[upload]\nenabled = yes\nallow = alice@example.org\n");
	struct host *saved = host;
	char *cause = NULL;

	host = host_new(c, session, &deps, &cause);
	if (host == NULL)
		fail_msg("host_new: %s", cause);
	assert_string_equal(help_names(FB_DIRECT, "alice@example.org/phone"),
	                    "list more new search find get info upload stats "
	                    "help");
	/* Not allowed to upload, or in a groupchat: no upload. */
	assert_string_equal(help_names(FB_DIRECT, "bob@example.org/phone"),
	                    "list more new search find get info stats help");
	assert_string_equal(help_names(FB_ROOM, ALICE),
	                    "list more new search find get info stats help");
	/* Admins, in a direct chat: their commands come last. */
	assert_string_equal(help_names(FB_DIRECT, "admin@example.org/x"),
	                    "list more new search find get info stats help "
	                    "rescan join leave describe reload");
	say_as(FB_DIRECT, "bob@example.org/phone", "help upload");
	expect_reply("no such command: upload (say help)");
	host_free(host);
	config_free(c);

	/* Uploads off: nobody sees upload. */
	c = load_config("help, upload, get",
	                "[upload]\nenabled = no\nallow = alice@example.org\n");
	host = host_new(c, session, &deps, &cause);
	if (host == NULL)
		fail_msg("host_new: %s", cause);
	assert_string_equal(help_names(FB_DIRECT, "alice@example.org/phone"),
	                    "more get help");
	host_free(host);
	host = saved;
	config_free(c);
}

static void test_room_wide(void **state)
{
	struct config *c2;

	say(FB_ROOM, "@find hit");
	expect_private(0);
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
	reconfigure(c2);
	say(FB_ROOM, "!two x");
	assert_string_equal(xmpp_stanza_get_type(sent[0].stanza), "groupchat");
	assert_string_equal(xmpp_stanza_get_to(sent[0].stanza), ROOM);
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
	expect_private(0);
	expect_reply("#1 hit.txt (1 B)");
	say(FB_ROOM, "@find hit");
	expect_private(0);
	expect_reply("#1 hit.txt (1 B)");
	/* Private and direct chats are not affected. */
	say(FB_ROOM_PRIVATE, "two x");
	assert_string_equal(xmpp_stanza_get_type(sent[0].stanza), "chat");
	expect_reply("ok 1");
}

static void test_reply_bounds(void **state)
{
	char *b;
	size_t n = 0;

	/* One reply per command, however many lines. */
	say(FB_DIRECT, "big 10");
	assert_int_equal(n_sent, 1);
	b = body(0);
	for (char *p = b; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	assert_int_equal(n, 9);
	free(b);
	sent_reset();

	/* 200 KB of lines: one stanza under 64 KiB, marked truncated. */
	say(FB_DIRECT, "big 2000");
	assert_int_equal(n_sent, 1);
	assert_true(stanza_size(0) <= FB_MAX_STANZA);
	assert_true(stanza_size(0) > FB_MAX_STANZA / 2);
	b = body(0);
	assert_non_null(strstr(b, "\n" REPLY_TRUNCATED));
	assert_string_equal(b + strlen(b) - strlen(REPLY_TRUNCATED),
	                    REPLY_TRUNCATED);
	free(b);
	sent_reset();

	/* One line that grows five-fold when escaped. */
	say(FB_DIRECT, "huge");
	assert_int_equal(n_sent, 1);
	assert_true(stanza_size(0) <= FB_MAX_STANZA);
	b = body(0);
	assert_true(strlen(b) > 10000);
	assert_string_equal(b + strlen(b) - strlen(REPLY_TRUNCATED),
	                    REPLY_TRUNCATED);
	free(b);
	sent_reset();

	/* The same in a room, where the body gets "alice: " in front. */
	say(FB_ROOM, "!big 2000");
	assert_true(stanza_size(0) <= FB_MAX_STANZA);
	sent_reset();
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
	assert_int_equal(n_sent, 1);
	m = sent[0].stanza;
	b = body(0);
	assert_string_equal(b, "http://127.0.0.1:8080/f/TOKEN/7");
	free(b);
	x = xmpp_stanza_get_child_by_name_and_ns(m, "x", "jabber:x:oob");
	assert_non_null(x);
	text = xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(x, "url"));
	assert_string_equal(text, "http://127.0.0.1:8080/f/TOKEN/7");
	xmpp_free(ctx, text);
	text = xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(x, "desc"));
	assert_string_equal(text, "song & dance.ogg (3.0 MiB)");
	xmpp_free(ctx, text);

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
	xmpp_free(ctx, text);
	text =
	    xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(file, "size"));
	assert_string_equal(text, "3145728");
	xmpp_free(ctx, text);
	text = xmpp_stanza_get_text(
	    xmpp_stanza_get_child_by_name(file, "media-type"));
	assert_string_equal(text, "audio/ogg");
	xmpp_free(ctx, text);
	text =
	    xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(file, "date"));
	assert_string_equal(text, "2023-11-14T22:13:20Z");
	xmpp_free(ctx, text);
	e = xmpp_stanza_get_child_by_name_and_ns(file, "hash",
	                                         "urn:xmpp:hashes:2");
	assert_non_null(e);
	assert_string_equal(xmpp_stanza_get_attribute(e, "algo"), "sha-256");
	text = xmpp_stanza_get_text(e);
	assert_string_equal(text,
	                    "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=");
	xmpp_free(ctx, text);
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
	sent_reset();

	/* In a room: privately, and the fallback does not leak the link. */
	say(FB_ROOM, "!link");
	b = refuse(0);
	assert_non_null(b);
	assert_null(strstr(b, "http"));
	free(b);
	sent_reset();
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
	sent_reset();
	now += 11 * 60 * 1000;
	cron_run(cron);
	sent_reset(); /* the session's self-ping in ROOM, meanwhile */
	say(FB_DIRECT, "more");
	expect_reply("nothing more to show: say list or search first");
	/* Left over at exit: freed by host_free (ASan checks). */
	say(FB_ROOM, "!page");
	sent_reset();
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
	xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, xml);

	assert_non_null(s);
	return s;
}

/* Hands q to the session as sent to the bot by from (q is kept). */
static void send_iq(xmpp_stanza_t *q, const char *from)
{
	xmpp_stanza_set_from(q, from);
	xmpp_stanza_set_to(q, BOT);
	session_input(session, q);
}

/* Asserts that sent stanza i is an IQ error with condition cond. */
static void expect_iq_error(size_t i, const char *id, const char *cond)
{
	xmpp_stanza_t *r = sent[i].stanza;

	assert_string_equal(xmpp_stanza_get_type(r), "error");
	assert_string_equal(xmpp_stanza_get_id(r), id);
	assert_non_null(xmpp_stanza_get_child_by_name(
	    xmpp_stanza_get_child_by_name(r, "error"), cond));
}

static void test_iq(void **state)
{
	xmpp_stanza_t *q, *r;

	q = iq("<iq type='get' id='q1'><answer xmlns='urn:fisbot:test'/>"
	       "</iq>");
	send_iq(q, "carol@example.org/x");
	assert_int_equal(n_sent, 1);
	r = sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_type(r), "result");
	assert_string_equal(xmpp_stanza_get_id(r), "q1");
	assert_string_equal(xmpp_stanza_get_to(r), "carol@example.org/x");
	assert_non_null(xmpp_stanza_get_child_by_name_and_ns(
	    r, "answer", "urn:fisbot:test"));
	sent_reset();
	xmpp_stanza_release(q);

	/* A handler that does not answer: the host answers for it. */
	q = iq("<iq type='set' id='q2'><silent xmlns='urn:fisbot:test'/>"
	       "</iq>");
	send_iq(q, "carol@example.org/x");
	assert_int_equal(n_sent, 1);
	assert_string_equal(xmpp_stanza_get_to(sent[0].stanza),
	                    "carol@example.org/x");
	expect_iq_error(0, "q2", "internal-server-error");
	sent_reset();
	xmpp_stanza_release(q);

	/* Unknown namespaces and requests without a payload are not the
	 * host's: the session refuses them; results are answered by no
	 * one. */
	q = iq("<iq type='get' id='q3'><query xmlns='urn:other'/></iq>");
	send_iq(q, "carol@example.org/x");
	xmpp_stanza_release(q);
	q = iq("<iq type='result' id='q4'><answer xmlns='urn:fisbot:test'/>"
	       "</iq>");
	send_iq(q, "carol@example.org/x");
	xmpp_stanza_release(q);
	q = iq("<iq type='get' id='q5'/>");
	send_iq(q, "carol@example.org/x");
	xmpp_stanza_release(q);
	assert_int_equal(n_sent, 2);
	expect_iq_error(0, "q3", "service-unavailable");
	expect_iq_error(1, "q5", "service-unavailable");
	sent_reset();

	/* IQs do not take the chat commands' tokens (the session charges
	 * them to its IQ budget first), and the answers go in the lane of
	 * the requester the session names. */
	advance = false;
	now += 1000; /* the send queue's burst is back */
	q = iq("<iq type='get' id='q6'><answer xmlns='urn:fisbot:test'/></iq>");
	for (int i = 0; i < 20; i++)
		send_iq(q, "alice@example.org/phone");
	assert_int_equal(n_sent, 20);
	for (int i = 0; i < 20; i++) {
		assert_string_equal(xmpp_stanza_get_type(sent[i].stanza),
		                    "result");
		assert_string_equal(sent[i].lane, "alice@example.org");
	}
	sent_reset();
	now += 1000;
	send_iq(q, ROOM "/dave");
	assert_string_equal(xmpp_stanza_get_to(sent[0].stanza), ROOM "/dave");
	assert_string_equal(sent[0].lane, ROOM "/dave");
	sent_reset();
	xmpp_stanza_release(q);
	/* A chat command after them still has its whole burst (3), and
	 * its reply goes in the same requester's lane. */
	for (int i = 0; i < 3; i++) {
		say(FB_DIRECT, "two a");
		assert_string_equal(sent[0].lane, "alice@example.org");
		expect_reply("ok 1");
	}
	say(FB_DIRECT, "two a");
	expect_reply_has("slow down");
}

/* Returns the index of the first sent stanza named name to to, or -1. */
static int find_sent(const char *name, const char *to)
{
	for (size_t i = 0; i < n_sent; i++)
		if (strcmp(xmpp_stanza_get_name(sent[i].stanza), name) == 0 &&
		    xmpp_stanza_get_to(sent[i].stanza) != NULL &&
		    strcmp(xmpp_stanza_get_to(sent[i].stanza), to) == 0)
			return (int)i;
	return -1;
}

/* Returns true if the session's disco#info answer lists feature. */
static bool disco_lists(const char *feature)
{
	xmpp_stanza_t *q = iq("<iq type='get' id='d1'><query xmlns='"
	                      "http://jabber.org/protocol/disco#info'/></iq>");
	xmpp_stanza_t *c;
	bool found = false;

	send_iq(q, "carol@example.org/x");
	xmpp_stanza_release(q);
	assert_int_equal(n_sent, 1);
	assert_string_equal(xmpp_stanza_get_type(sent[0].stanza), "result");
	c = xmpp_stanza_get_child_by_name(sent[0].stanza, "query");
	for (c = xmpp_stanza_get_children(c); c != NULL;
	     c = xmpp_stanza_get_next(c)) {
		const char *var = xmpp_stanza_get_attribute(c, "var");

		if (var != NULL && strcmp(var, feature) == 0)
			found = true;
	}
	sent_reset();
	return found;
}

static void test_timers_events_features(void **state)
{
	/* testcmds adds its feature in init, straight to the session. */
	assert_true(disco_lists("urn:fisbot:test"));
	assert_false(disco_lists("urn:fisbot:nosuch"));
	cron_run(cron);
	say(FB_DIRECT, "counts");
	expect_reply("ticks=0 events=0");
	now += 1000;
	cron_run(cron);
	now += 1000;
	cron_run(cron);
	now += 1000;
	cron_run(cron); /* unregistered after the second run */
	host_file_added(host, 42, false);
	host_file_removed(host, 42);
	say(FB_DIRECT, "counts");
	expect_reply("ticks=2 events=1");
}

static void test_send_room(void **state)
{
	/* Plugins' room messages are sanitised and guarded too. */
	say(FB_DIRECT, "announce");
	assert_int_equal(n_sent, 1);
	assert_string_equal(xmpp_stanza_get_type(sent[0].stanza), "groupchat");
	assert_string_equal(xmpp_stanza_get_to(sent[0].stanza), ROOM);
	expect_reply(REPLY_GUARD "!new\\x01 file");
}

static void test_admin_plugin(void **state)
{
	const char *admin = "admin@example.org/laptop";
	const char *paths[44];
	char names[44][16];
	struct catalogue *w;
	char *xml;
	int i;

	/* Files #1 to #44, #44 being "dir/b c.bin". */
	for (i = 0; i < 43; i++) {
		snprintf(names[i], sizeof(names[i]), "f%02d", i + 1);
		paths[i] = names[i];
	}
	paths[43] = "dir/b c.bin";
	w = start_with_catalogue("help, admin", paths, 44);

	say_as(FB_DIRECT, admin, "rescan");
	expect_reply("rescan started");
	assert_int_equal(rescans, 1);
	/* The end of the rescan is told to the admin who asked, once. */
	host_rescan_done(host, "rescan done: added 1, changed 0, removed 0, "
	                       "unchanged 43");
	assert_int_equal(n_sent, 1);
	assert_string_equal(xmpp_stanza_get_to(sent[0].stanza), admin);
	expect_reply(
	    "rescan done: added 1, changed 0, removed 0, unchanged 43");
	host_rescan_done(host, "rescan done: again");
	assert_int_equal(n_sent, 0);
	say_as(FB_DIRECT, admin, "reload");
	expect_reply("configuration reloaded");
	assert_int_equal(reloads, 1);
	/* A refusal is told to the admin who asked, and the room is not
	 * kept (max_rooms is 2: the next join has room). */
	say_as(FB_DIRECT, admin, "join banned@conf.example.org");
	sent_reset();
	input("<presence from='banned@conf.example.org/fisbot' type='error'>"
	      "<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:"
	      "xmpp-stanzas'/></error></presence>");
	expect_reply("cannot join banned@conf.example.org: banned");
	/* The session joins (presence to the occupant JID); the one reply
	 * is the outcome, when the room has answered. */
	say_as(FB_DIRECT, admin, "join new@conf.example.org nick2");
	assert_int_equal(n_sent, 2);
	assert_true(find_sent("presence", "new@conf.example.org/nick2") >= 0);
	i = find_sent("iq", "new@conf.example.org");
	assert_true(i >= 0);
	xml = xasprintf("<iq type='result' id='%s' from='new@conf.example.org'"
	                "><query xmlns='http://jabber.org/protocol/"
	                "disco#info'/></iq>",
	                xmpp_stanza_get_id(sent[i].stanza));
	sent_reset();
	input("<presence from='new@conf.example.org/nick2'><x xmlns='" MUC_USER
	      "'><item affiliation='none' role='participant'/>"
	      "<status code='110'/></x></presence>");
	input(xml);
	free(xml);
	assert_int_equal(n_sent, 0);
	input("<message type='groupchat' from='new@conf.example.org'><subject>"
	      "hi</subject></message>");
	expect_reply("joined new@conf.example.org");
	say_as(FB_DIRECT, admin, "join new@conf.example.org");
	expect_reply("already in new@conf.example.org");
	/* [invites] max_rooms = 2: the session refuses a third. */
	say_as(FB_DIRECT, admin, "join third@conf.example.org");
	expect_reply("already in 2 rooms (max_rooms)");
	say_as(FB_DIRECT, admin, "join notaroom");
	expect_reply("not a room JID: notaroom");
	say_as(FB_DIRECT, admin, "leave " ROOM);
	assert_int_equal(n_sent, 2);
	assert_int_equal(find_sent("presence", ROOM "/fisbot"), 0);
	assert_string_equal(xmpp_stanza_get_type(sent[0].stanza),
	                    "unavailable");
	check_body(1, "leaving " ROOM);
	sent_reset();
	say_as(FB_DIRECT, admin, "leave " ROOM);
	expect_reply("not in " ROOM);
	say_as(FB_DIRECT, admin, "describe #42   a nice  file");
	expect_reply("#42: description set");
	assert_int_equal(described_id, 42);
	assert_string_equal(described_text, "a nice  file");
	say_as(FB_DIRECT, admin, "describe 43 \"quoted text\"");
	expect_reply("#43: description set");
	assert_string_equal(described_text, "quoted text");
	say_as(FB_DIRECT, admin, "describe 44 \"\"");
	expect_reply("#44: description cleared");
	assert_string_equal(described_text, "");
	/* The dispatcher looks the file up (FB_ARG_FILE_FIRST), on the main
	 * thread: by path too, and with one wording when it is not there. */
	say_as(FB_DIRECT, admin, "describe \"dir/b c.bin\" a  text");
	expect_reply("#44: description set");
	assert_int_equal(described_id, 44);
	assert_string_equal(described_text, "a  text");
	say_as(FB_DIRECT, admin, "describe 999 x");
	expect_reply("no such file: 999");
	say_as(FB_DIRECT, admin, "describe abc x");
	expect_reply("no such file: abc");
	say_as(FB_DIRECT, admin, "describe \"\" x");
	expect_reply("usage: describe ID TEXT");
	say_as(FB_DIRECT, admin, "describe 1");
	expect_reply("usage: describe ID TEXT");
	/* Permission comes before the lookup. */
	say(FB_DIRECT, "describe 999 x");
	expect_reply("not allowed: describe is for admins, in a direct chat");
	end_with_catalogue(w);
}

static void test_table_plugin(void **state)
{
	static const char *const paths[] = {"a.bin", "dir/b c.bin"};
	struct catalogue *w;
	void *dl;

	/* tablecmds has no init: FISBOT_PLUGIN("tablecmds", commands)
	 * declares its table, the host sets its api and registers it. */
	dl = dlopen(TEST_PLUGIN_DIR "/tablecmds.so", RTLD_NOW | RTLD_LOCAL);
	assert_non_null(dl);
	assert_null(dlsym(dl, "fisbot_plugin_init"));
	assert_non_null(dlsym(dl, "fisbot_plugin_table"));
	dlclose(dl);

	w = start_with_catalogue("help, tablecmds", paths, 2);
	say(FB_DIRECT, "hello");
	expect_reply("hello from a plugin without init (file: none)");
	say(FB_DIRECT, "help whichfile");
	expect_reply("usage: whichfile ID|PATH\nthe file an argument names");

	/* FB_ARG_FILE, resolved on a query worker. */
	say(FB_DIRECT, "whichfile 1");
	expect_silence();
	wait_reply("#1 a.bin");
	say(FB_DIRECT, "whichfile #2");
	wait_reply("#2 dir/b c.bin");
	say(FB_DIRECT, "whichfile dir/b c.bin");
	wait_reply("#2 dir/b c.bin");
	say(FB_ROOM_PRIVATE, "whichfile \"/dir/b c.bin\"");
	wait_reply("#2 dir/b c.bin");
	say(FB_DIRECT, "whichfile 99");
	wait_reply("no such file: 99");
	say(FB_DIRECT, "whichfile ../a.bin");
	wait_reply("no such file: ../a.bin");
	say(FB_DIRECT, "whichfile \x1b[2J\xe2\x80\xae");
	wait_reply("no such file: \\x1B[2J\\u{202E}");
	say(FB_DIRECT, "whichfile");
	expect_reply("usage: whichfile ID|PATH");
	say(FB_DIRECT, "whichfile \"\"");
	wait_reply("usage: whichfile ID|PATH");

	/* FB_ARG_FILE_FIRST, on the main thread (answered at once). */
	say(FB_DIRECT, "firstfile #1 word");
	expect_reply("#1 a.bin rest=word");
	say(FB_DIRECT, "firstfile \"dir/b c.bin\"");
	expect_reply("#2 dir/b c.bin rest=");
	say(FB_DIRECT, "firstfile dir/b c.bin");
	expect_reply("no such file: dir/b");
	end_with_catalogue(w);
}

/* Tries to start a host with load; returns the cause (caller frees). */
static char *refused(const char *load)
{
	struct config *c = load_config(load, "");
	char *cause = NULL;
	struct host *h = host_new(c, session, &deps, &cause);

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
	/* A declared table is checked like a registered one. */
	cause = refused("help, badtable");
	assert_string_equal(cause, "plugin badtable: command \"bad\": a file "
	                           "argument needs min_args of at least 1");
	free(cause);
	cause = refused("testcmds, tablecmds, noentry");
	assert_non_null(strstr(cause, "plugin noentry: "));
	assert_non_null(strstr(cause, "has neither a command table "
	                              "(FISBOT_PLUGIN(name, commands)) nor "
	                              "fisbot_plugin_init"));
	free(cause);
}

static void test_example_plugin(void **state)
{
	struct config *c =
	    load_config("ping", "[plugin \"ping\"]\nreply = PONG\n");
	char *cause = NULL;
	struct host *h = host_new(c, session, &deps, &cause);
	struct host *saved = host;

	assert_non_null(h);
	host = h;
	host_file_added(h, 1, false);
	say(FB_DIRECT, "ping hello");
	expect_reply("PONG hello (1 new files since start)");
	say(FB_DIRECT, "dice 3d1");
	expect_reply("usage: roll [NdM] (1-20 dice of 2-1000 faces, e.g. "
	             "2d6)");
	say(FB_DIRECT, "roll 1d2");
	assert_int_equal(n_sent, 1);
	sent_reset();
	host = saved;
	host_free(h);
	config_free(c);
}

/* --- query workers ------------------------------------------------------- */

static void test_query_on_worker(void **state)
{
	/* Never answered from host_message: the worker's answer waits for
	 * the main loop (queue_run). */
	say(FB_DIRECT, "sleep 0");
	expect_silence();
	assert_true(host_busy(host));
	wait_reply("slept 0 ms on worker");
	assert_false(host_busy(host));
	assert_int_equal(queue_run(inbox), 0); /* nothing left */
	expect_silence();
	/* Arity and permission are checked first, on the main thread. */
	say(FB_DIRECT, "sleep");
	expect_reply("usage: sleep MS");
	/* In a room: privately, with the fallback, as any reply. */
	say(FB_ROOM, "!sleep 0");
	wait_sent(1);
	expect_fallback(0, "alice: slept 0 ms on worker");
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
	assert_string_equal(xmpp_stanza_get_to(sent[0].stanza),
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
	sent_reset();
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
	sent_reset();
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
	sent_reset();

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
	send_iq(q, "carol@example.org/x");
	/* The worker has its own copy. */
	xmpp_stanza_release(q);
	expect_silence();
	wait_sent(1);
	r = sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_type(r), "result");
	assert_string_equal(xmpp_stanza_get_id(r), "w1");
	assert_string_equal(xmpp_stanza_get_to(r), "carol@example.org/x");
	a = xmpp_stanza_get_child_by_name_and_ns(r, "answer",
	                                         "urn:fisbot:test:query");
	assert_non_null(a);
	assert_string_equal(xmpp_stanza_get_attribute(a, "thread"), "worker");
	assert_string_equal(xmpp_stanza_get_attribute(a, "from"),
	                    "carol@example.org/x");
	sent_reset();

	/* No answer: the host answers for the handler. */
	q = iq("<iq type='set' id='w2'><silent xmlns='urn:fisbot:test:query'/>"
	       "</iq>");
	send_iq(q, "dave@example.org/x");
	xmpp_stanza_release(q);
	wait_sent(1);
	r = sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_type(r), "error");
	assert_string_equal(xmpp_stanza_get_id(r), "w2");
	assert_non_null(xmpp_stanza_get_child_by_name(
	    xmpp_stanza_get_child_by_name(r, "error"),
	    "internal-server-error"));
	sent_reset();

	/* Too large an answer: resource-constraint; two answers: one. */
	q = iq("<iq type='get' id='w3'><big xmlns='urn:fisbot:test:query'/>"
	       "</iq>");
	send_iq(q, "erin@example.org/x");
	xmpp_stanza_release(q);
	q = iq("<iq type='get' id='w4'><twice xmlns='urn:fisbot:test:query'/>"
	       "</iq>");
	send_iq(q, "erin@example.org/x");
	xmpp_stanza_release(q);
	wait_sent(2);
	r = sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_id(r), "w3");
	assert_string_equal(xmpp_stanza_get_type(r), "error");
	e = xmpp_stanza_get_child_by_name(r, "error");
	assert_non_null(
	    xmpp_stanza_get_child_by_name(e, "resource-constraint"));
	assert_true(stanza_size(0) < FB_MAX_STANZA);
	r = sent[1].stanza;
	assert_string_equal(xmpp_stanza_get_id(r), "w4");
	assert_string_equal(xmpp_stanza_get_type(r), "result");
	sent_reset();

	/* A request too large to queue is refused at once. */
	big = xmalloc(FB_MAX_STANZA + 100);
	snprintf(big, FB_MAX_STANZA + 100,
	         "<iq type='get' id='w5'><answer xmlns='urn:fisbot:test:query' "
	         "pad='%0*d'/></iq>",
	         FB_MAX_STANZA, 0);
	q = iq(big);
	free(big);
	send_iq(q, "frank@example.org/x");
	xmpp_stanza_release(q);
	assert_int_equal(n_sent, 1);
	r = sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_type(r), "error");
	assert_non_null(xmpp_stanza_get_child_by_name(
	    xmpp_stanza_get_child_by_name(r, "error"), "policy-violation"));
	sent_reset();

	/* A query IQ waits for its sender's slow command. */
	say_as(FB_DIRECT, "gina@example.org/x", "sleep 100");
	q = iq("<iq type='get' id='w6'><answer xmlns='urn:fisbot:test:query'/>"
	       "</iq>");
	send_iq(q, "gina@example.org/y");
	xmpp_stanza_release(q);
	/* A main-thread IQ does not wait. */
	q = iq("<iq type='get' id='w7'><answer xmlns='urn:fisbot:test'/>"
	       "</iq>");
	send_iq(q, "gina@example.org/y");
	xmpp_stanza_release(q);
	assert_int_equal(n_sent, 1);
	assert_string_equal(xmpp_stanza_get_id(sent[0].stanza), "w7");
	wait_sent(3);
	check_body(1, "slept 100 ms on worker");
	assert_string_equal(xmpp_stanza_get_id(sent[2].stanza), "w6");
	sent_reset();

	/* Pending at exit: freed by host_free (ASan). */
	q = iq("<iq type='get' id='w8'><answer xmlns='urn:fisbot:test:query' "
	       "ms='200'/></iq>");
	send_iq(q, "hank@example.org/x");
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
	assert_int_equal(n_sent, 1);
	assert_string_equal(xmpp_stanza_get_to(sent[0].stanza), ROOM);
	sent_reset();
}

static void test_link_on_worker(void **state)
{
	xmpp_stanza_t *m, *x, *file;
	char *text;

	say(FB_ROOM_PRIVATE, "qlink");
	wait_sent(1);
	m = sent[0].stanza;
	assert_string_equal(xmpp_stanza_get_to(m), ALICE);
	x = xmpp_stanza_get_child_by_name_and_ns(m, "x", "jabber:x:oob");
	text = xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(x, "desc"));
	assert_string_equal(text, "b & c.txt (10 B)");
	xmpp_free(ctx, text);
	file = xmpp_stanza_get_child_by_name(
	    xmpp_stanza_get_child_by_name(m, "file-sharing"), "file");
	text =
	    xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(file, "desc"));
	assert_string_equal(text, "a description");
	xmpp_free(ctx, text);
	expect_reply("http://127.0.0.1:8080/f/TOKEN/8");
}

static void test_config_of_the_request(void **state)
{
	struct config *c2;

	/* A query sees the configuration it came under, even after a
	 * reload (the old one stays valid until it is answered). */
	say(FB_DIRECT, "qconfig 200");
	c2 = load_config("help, admin, testcmds", "[commands]\nprefix = ?\n");
	session_reconfigure(session, c2);
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

/* The download queue: a get with no slot free waits and says so; a slot
 * that frees hands the first waiting requester its link and holds the
 * slot for it; queue, cancel, leaving the room, queue_per_user, and the
 * queue kept across a reload. */
static void test_transfer_queue(void **state)
{
	static const char *const extra = "[transfers]\nslots = 1\n"
	                                 "queue = 3\nqueue_per_user = 2\n";
	struct config *c = load_config("help, get", extra), *c2, *c3;
	struct host_deps d = deps;
	struct host *saved = host;
	struct catalogue *w;
	char *cause = NULL, *b;
	xmpp_stanza_t *x;

	w = catalogue_open_writer("fisbot.db", &cause);
	assert_non_null(w);
	add_file(w, "music/a.ogg");
	d.database = "fisbot.db";
	d.workers = 2;
	d.slot_available = fake_slot_available;
	d.slot_hold = fake_slot_hold;
	host = host_new(c, session, &d, &cause);
	if (host == NULL)
		fail_msg("host_new: %s", cause);

	/* help lists queue and cancel where there are slots. */
	say(FB_DIRECT, "help");
	b = body(0);
	assert_non_null(strstr(b, "\nqueue — your place in the download "
	                          "queue"));
	assert_non_null(strstr(b, "\ncancel — leave the download queue"));
	free(b);
	sent_reset();

	/* A slot free: the link at once, carrying its requester. */
	free_slots = 1;
	say(FB_DIRECT, "get 1");
	wait_reply("http://127.0.0.1:8080/f/TOKEN/1");
	assert_string_equal(last_requester, "alice@example.org");

	/* None free: bob waits, then carol (in the room). */
	free_slots = 0;
	say_as(FB_DIRECT, "bob@example.org/pc", "get 1");
	wait_reply("all 1 slots are busy: you are #1 in the queue (about 1 "
	           "min); !queue, !cancel");
	input("<presence from='" ROOM "/carol'><x xmlns='" MUC_USER
	      "'><item affiliation='none' role='participant'/></x>"
	      "</presence>");
	say_as(FB_ROOM_PRIVATE, ROOM "/carol", "get 1");
	wait_sent(1);
	b = body(0);
	assert_string_equal(b, "all 1 slots are busy: you are #2 in the "
	                       "queue (about 2 min); !queue, !cancel");
	free(b);
	sent_reset();
	say_as(FB_DIRECT, "bob@example.org/pc", "queue");
	expect_reply("you are #1 in the queue of 2 (about 1 min): "
	             "music/a.ogg; !cancel to leave it");
	say_as(FB_DIRECT, "dave@example.org/pc", "queue");
	expect_reply("you are not in the queue (2 waiting)");

	/* A slot frees: bob gets the message get would have sent. */
	free_slots = 1;
	host_slot_freed(host);
	assert_int_equal(n_sent, 1);
	assert_string_equal(xmpp_stanza_get_to(sent[0].stanza),
	                    "bob@example.org/pc");
	check_body(0, "http://127.0.0.1:8080/f/TOKEN/1");
	x = xmpp_stanza_get_child_by_name_and_ns(sent[0].stanza, "x",
	                                         "jabber:x:oob");
	assert_non_null(x);
	assert_non_null(xmpp_stanza_get_child_by_name_and_ns(
	    sent[0].stanza, "file-sharing", "urn:xmpp:sfs:0"));
	sent_reset();
	assert_string_equal(last_hold, "bob@example.org");
	assert_string_equal(last_requester, "bob@example.org");
	assert_int_equal(free_slots, 0);

	/* carol leaves the room: her place goes; nothing is sent her. */
	input("<presence type='unavailable' from='" ROOM
	      "/carol'><x xmlns='" MUC_USER
	      "'><item affiliation='none' role='none'/></x></presence>");
	free_slots = 1;
	host_slot_freed(host);
	expect_silence();

	/* cancel, and queue_per_user. */
	free_slots = 0;
	say_as(FB_DIRECT, "dave@example.org/pc", "get 1");
	wait_sent(1);
	sent_reset();
	say_as(FB_DIRECT, "dave@example.org/pc", "get 1");
	wait_sent(1);
	check_body(0, "all 1 slots are busy: you are #1 in the queue (about "
	              "1 min); !queue, !cancel");
	sent_reset();
	say_as(FB_DIRECT, "dave@example.org/pc", "get 1");
	wait_reply("you already have 2 requests in the queue (!queue, "
	           "!cancel)");
	say_as(FB_DIRECT, "dave@example.org/pc", "cancel");
	expect_reply("you left the queue (2 requests)");
	say_as(FB_DIRECT, "dave@example.org/pc", "cancel");
	expect_reply("you are not in the queue");
	free_slots = 1;
	host_slot_freed(host);
	expect_silence();

	/* An offline JID loses its place too. */
	free_slots = 0;
	say_as(FB_DIRECT, "erin@example.org/pc", "get 1");
	wait_sent(1);
	sent_reset();
	input("<presence type='unavailable' from='erin@example.org/pc'/>");
	free_slots = 1;
	host_slot_freed(host);
	expect_silence();

	/* The queue survives a reload. */
	free_slots = 0;
	say_as(FB_DIRECT, "frank@example.org/pc", "get 1");
	wait_sent(1);
	sent_reset();
	c2 = load_config("help, get", extra);
	host_reconfigure(host, c2);
	free_slots = 1;
	host_slot_freed(host);
	assert_int_equal(n_sent, 1);
	assert_string_equal(xmpp_stanza_get_to(sent[0].stanza),
	                    "frank@example.org/pc");
	sent_reset();

	/* The queue is full at 3. */
	free_slots = 0;
	say_as(FB_DIRECT, "g1@example.org/pc", "get 1");
	say_as(FB_DIRECT, "g2@example.org/pc", "get 1");
	say_as(FB_DIRECT, "g3@example.org/pc", "get 1");
	wait_sent(3);
	sent_reset();
	say_as(FB_DIRECT, "g4@example.org/pc", "get 1");
	wait_reply("all download slots are busy and the queue is full: try "
	           "again later");

	/* Without slots, help does not offer them. */
	c3 = load_config("help, get", "");
	host_reconfigure(host, c3);
	say(FB_DIRECT, "help");
	b = body(0);
	assert_null(strstr(b, "\nqueue — "));
	assert_null(strstr(b, "\ncancel — "));
	assert_non_null(strstr(b, "\nget ID|PATH — "));
	free(b);
	sent_reset();

	host_free(host);
	host = saved;
	config_free(c);
	config_free(c2);
	config_free(c3);
	catalogue_close(w);
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
	host = host_new(c, session, &d, &cause);
	if (host == NULL)
		fail_msg("host_new: %s", cause);

	say(FB_DIRECT, "search song");
	expect_silence();
	wait_sent(1);
	b = body(0);
	assert_non_null(strstr(b, "#12 music/song11.ogg (10 B)\n"));
	assert_non_null(strstr(b, "\npage 1/2 · 12 results · say !more for "
	                          "the next 2"));
	free(b);
	sent_reset();
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
	sent_reset();
	say(FB_DIRECT, "new 1");
	wait_reply("#12 music/song11.ogg (10 B)");
	say(FB_DIRECT, "get 4");
	wait_reply("http://127.0.0.1:8080/f/TOKEN/4");
	say(FB_DIRECT, "stats");
	wait_sent(1);
	b = body(0);
	assert_true(strncmp(b, "files: 12\nfolders: 1\n", 21) == 0);
	free(b);
	sent_reset();
	/* A type only libmagic tells, not found yet by the indexer: info
	 * asks it (on the query worker). */
	{
		struct cat_file f = {.path = (char *)"run", .dev = 1, .ino = 2};
		unsigned char sha[32] = {2};
		bool stale = true;
		struct stat st;
		FILE *fp = fopen("share/run", "w");

		assert_non_null(fp);
		fputs("#!/bin/sh\necho hello\n", fp);
		assert_int_equal(fclose(fp), 0);
		assert_int_equal(stat("share/run", &st), 0);
		f.size = (uint64_t)st.st_size;
		f.mtime_ns = fsutil_mtime_ns(&st);
		assert_int_equal(catalogue_upsert(w, &f), 0);
		assert_int_equal(catalogue_set_hash(w, f.id, f.size, f.mtime_ns,
		                                    sha, NULL, &stale),
		                 0);
		assert_false(stale);
		say(FB_DIRECT, "info run");
		wait_sent(1);
		b = body(0);
		assert_non_null(strstr(b, "\ntype: text/x-shellscript\n"));
		free(b);
		sent_reset();
		assert_int_equal(unlink("share/run"), 0);
	}
	/* help stays on the main thread. */
	say(FB_DIRECT, "help search");
	assert_int_equal(n_sent, 1);
	sent_reset();

	host_free(host);
	host = saved;
	config_free(c);
	catalogue_close(w);

	/* A catalogue the workers cannot open: the host does not start. */
	c = load_config("help", "");
	d.database = "nosuch/fisbot.db";
	assert_null(host_new(c, session, &d, &cause));
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
	    cmocka_unit_test_setup_teardown(test_help_order_and_upload, setup,
	                                    teardown),
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
	    cmocka_unit_test_setup_teardown(test_table_plugin, setup, teardown),
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
	    cmocka_unit_test_setup_teardown(test_transfer_queue, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_real_plugins_on_workers, setup,
	                                    teardown),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
