/* A fixture for the session's unit tests (see session_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fisbot/alloc.h"
#include "session_fixture.h"

/* The test clock. */
static uint64_t sfx_clock(void *arg)
{
	return ((struct sfx *)arg)->now;
}

/* Returns a copy of s, or NULL. */
static char *copy(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Returns true if stanza is the bot's XEP-0199 ping to its server. */
static bool server_ping(xmpp_stanza_t *stanza)
{
	const char *to = xmpp_stanza_get_to(stanza);
	const char *type = xmpp_stanza_get_type(stanza);

	return strcmp(xmpp_stanza_get_name(stanza), "iq") == 0 &&
	       type != NULL && strcmp(type, "get") == 0 && to != NULL &&
	       strcmp(to, "localhost") == 0 &&
	       xmpp_stanza_get_child_by_ns(stanza, "urn:xmpp:ping") != NULL;
}

/* Records a stanza the session sent; a ping to the server is counted
 * and, unless the server is a black hole, answered at once. */
static void on_output(void *arg, xmpp_stanza_t *stanza, const char *lane)
{
	struct sfx *f = arg;
	xmpp_stanza_t *pong;

	if (server_ping(stanza)) {
		f->pings++;
		if (!f->black_hole) {
			pong = xmpp_iq_new(session_ctx(f->s), "result",
			                   xmpp_stanza_get_id(stanza));
			xmpp_stanza_set_from(pong, "localhost");
			session_input(f->s, pong);
			xmpp_stanza_release(pong);
		}
		xmpp_stanza_release(stanza);
		return;
	}
	assert_true(f->n_sent < SFX_MAX);
	f->sent[f->n_sent] = stanza;
	f->lane[f->n_sent] = copy(lane);
	f->n_sent++;
}

/* Returns the next event slot. */
static struct sfx_event *event_new(struct sfx *f, char kind)
{
	struct sfx_event *e;

	assert_true(f->n_ev < SFX_MAX);
	e = &f->ev[f->n_ev++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	return e;
}

static void on_message(void *arg, const struct session_origin *o,
                       const char *body)
{
	struct sfx_event *e = event_new(arg, 'm');

	e->place = o->place;
	e->from = copy(o->from);
	e->room = copy(o->room);
	e->nick = copy(o->nick);
	e->real_jid = copy(o->real_jid);
	e->sender = copy(o->sender);
	e->own_nick = copy(o->own_nick);
	e->body = copy(body);
}

static bool on_iq(void *arg, xmpp_stanza_t *iq, const char *from,
                  const char *requester)
{
	struct sfx *f = arg;
	struct sfx_event *e = event_new(f, 'q');

	(void)iq;
	e->from = copy(from);
	e->requester = copy(requester);
	return f->iq_handled;
}

static void on_room(void *arg, enum session_room_event kind, const char *room)
{
	struct sfx_event *e =
	    event_new(arg, kind == SESSION_ROOM_JOINED ? 'j' : 'l');

	e->room = copy(room);
}

static void on_join_failed(void *arg, const char *room, const char *why)
{
	struct sfx_event *e = event_new(arg, 'f');

	e->room = copy(room);
	e->body = copy(why);
}

static int store_add(void *arg, const char *room, const char *nick)
{
	struct sfx *f = arg;

	(void)nick;
	assert_true(f->n_stored < SFX_MAX);
	f->stored[f->n_stored++] = xstrdup(room);
	return 0;
}

static int store_remove(void *arg, const char *room)
{
	struct sfx *f = arg;

	assert_true(f->n_forgotten < SFX_MAX);
	f->forgotten[f->n_forgotten++] = xstrdup(room);
	return 0;
}

struct sfx *sfx_new(const char *conf)
{
	struct sfx *f = xcalloc(1, sizeof(*f));
	struct strlist problems = {0};
	struct session_events ev = {.message = on_message,
	                            .iq = on_iq,
	                            .room = on_room,
	                            .join_failed = on_join_failed,
	                            .arg = f};
	struct session_store store = {store_add, store_remove, f};
	char *cause = NULL, *path;
	FILE *fp;

	strcpy(f->dir, "/tmp/fisbot-test-session-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	path = xasprintf("%s/fisbot.conf", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp,
	        "[xmpp]\njid = bot@localhost\npassword = secret\n%s\n"
	        "[share]\npath = share\n",
	        conf);
	assert_int_equal(fclose(fp), 0);
	f->cfg = config_load(path, &problems);
	for (size_t i = 0; i < problems.n; i++)
		fprintf(stderr, "config: %s\n", problems.v[i]);
	assert_non_null(f->cfg);
	strlist_free(&problems);
	unlink(path);
	free(path);
	f->now = 1000000;
	f->cron = cron_new(sfx_clock, f);
	f->s = session_new(f->cfg, f->cron, &ev, &cause);
	assert_non_null(f->s);
	f->ctx = session_ctx(f->s);
	session_set_output(f->s, on_output, f);
	session_set_store(f->s, &store);
	return f;
}

/* Frees the strings of the events. */
static void events_clear(struct sfx *f)
{
	for (size_t i = 0; i < f->n_ev; i++) {
		struct sfx_event *e = &f->ev[i];

		free(e->from);
		free(e->room);
		free(e->nick);
		free(e->real_jid);
		free(e->sender);
		free(e->own_nick);
		free(e->body);
		free(e->requester);
	}
	f->n_ev = 0;
}

void sfx_reset(struct sfx *f)
{
	for (size_t i = 0; i < f->n_sent; i++) {
		xmpp_stanza_release(f->sent[i]);
		free(f->lane[i]);
	}
	f->n_sent = 0;
	events_clear(f);
}

void sfx_free(struct sfx *f)
{
	sfx_reset(f);
	session_free(f->s);
	cron_free(f->cron);
	config_free(f->cfg);
	for (size_t i = 0; i < f->n_stored; i++)
		free(f->stored[i]);
	for (size_t i = 0; i < f->n_forgotten; i++)
		free(f->forgotten[i]);
	rmdir(f->dir);
	free(f);
}

void sfx_connect(struct sfx *f)
{
	session_test_connect(f->s, SFX_BOT);
}

void sfx_input(struct sfx *f, const char *fmt, ...)
{
	va_list ap;
	char *xml;
	xmpp_stanza_t *st;

	va_start(ap, fmt);
	xml = xvasprintf(fmt, ap);
	va_end(ap);
	st = xmpp_stanza_new_from_string(f->ctx, xml);
	if (st == NULL)
		fail_msg("not a stanza: %s", xml);
	free(xml);
	session_input(f->s, st);
	xmpp_stanza_release(st);
}

void sfx_advance(struct sfx *f, uint64_t ms)
{
	f->now += ms;
	cron_run(f->cron);
}

/* Returns true if a (may be NULL) is b (NULL: anything). */
static bool matches(const char *a, const char *b)
{
	if (b == NULL)
		return true;
	if (*b == '\0')
		return a == NULL;
	return a != NULL && strcmp(a, b) == 0;
}

int sfx_find(const struct sfx *f, const char *name, const char *to,
             const char *type)
{
	for (size_t i = 0; i < f->n_sent; i++)
		if (matches(xmpp_stanza_get_name(f->sent[i]), name) &&
		    matches(xmpp_stanza_get_to(f->sent[i]), to) &&
		    matches(xmpp_stanza_get_type(f->sent[i]), type))
			return (int)i;
	return -1;
}

size_t sfx_count(const struct sfx *f, const char *name, const char *to)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_sent; i++)
		if (matches(xmpp_stanza_get_name(f->sent[i]), name) &&
		    matches(xmpp_stanza_get_to(f->sent[i]), to))
			n++;
	return n;
}

int sfx_event(const struct sfx *f, char kind)
{
	for (size_t i = 0; i < f->n_ev; i++)
		if (f->ev[i].kind == kind)
			return (int)i;
	return -1;
}

const char *sfx_text(const struct sfx *f, size_t i, const char *name)
{
	static char buf[4096];
	xmpp_stanza_t *c;
	char *t;

	assert_true(i < f->n_sent);
	buf[0] = '\0';
	c = xmpp_stanza_get_child_by_name(f->sent[i], name);
	if (c == NULL || (t = xmpp_stanza_get_text(c)) == NULL)
		return buf;
	snprintf(buf, sizeof(buf), "%s", t);
	xmpp_free(f->ctx, t);
	return buf;
}

void sfx_enter(struct sfx *f, const char *room, const char *nick,
               bool occupant_ids)
{
	int i = sfx_find(f, "iq", room, "get");

	assert_true(i >= 0);
	sfx_input(f,
	          "<presence from='%s/%s'><x xmlns='http://jabber.org/"
	          "protocol/muc#user'><item affiliation='none' "
	          "role='participant'/><status code='110'/></x></presence>",
	          room, nick);
	sfx_input(f,
	          "<iq type='result' id='%s' from='%s'><query xmlns='http://"
	          "jabber.org/protocol/disco#info'>%s</query></iq>",
	          xmpp_stanza_get_id(f->sent[i]), room,
	          occupant_ids ? "<feature var='urn:xmpp:occupant-id:0'/>"
	                       : "");
	sfx_input(f,
	          "<message type='groupchat' from='%s'><subject>hello"
	          "</subject></message>",
	          room);
	assert_true(sfx_event(f, 'j') >= 0);
	sfx_reset(f);
}
