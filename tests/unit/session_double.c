/* A recording test double of the XMPP session (see session_double.h). */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "session_double.h"

struct double_state double_state;

/* Any non-NULL pointer does: the double keeps its state in double_state. */
struct session *double_session(void)
{
	return (struct session *)&double_state;
}

void double_setup(void)
{
	memset(&double_state, 0, sizeof(double_state));
	double_state.ctx = xmpp_ctx_new(NULL, NULL);
}

void double_reset(void)
{
	for (size_t i = 0; i < double_state.n_sent; i++) {
		struct double_sent *s = &double_state.sent[i];

		if (s->stanza != NULL)
			xmpp_stanza_release(s->stanza);
		free(s->room);
		free(s->fallback);
		free(s->room_text);
		free(s->requester);
		memset(s, 0, sizeof(*s));
	}
	double_state.n_sent = 0;
	free(double_state.joined);
	free(double_state.joined_nick);
	free(double_state.left);
	double_state.joined = double_state.joined_nick = NULL;
	double_state.left = NULL;
}

void double_teardown(void)
{
	double_reset();
	xmpp_ctx_free(double_state.ctx);
	double_state.ctx = NULL;
}

/* Records one sent item; aborts when the table is full. */
static struct double_sent *record(void)
{
	if (double_state.n_sent >= DOUBLE_MAX_SENT)
		abort();
	return &double_state.sent[double_state.n_sent++];
}

xmpp_ctx_t *session_ctx(struct session *s)
{
	return double_state.ctx;
}

const char *session_jid(struct session *s)
{
	return "bot@example.org/fisbot";
}

void session_send(struct session *s, xmpp_stanza_t *stanza)
{
	record()->stanza = stanza;
}

void session_send_to(struct session *s, xmpp_stanza_t *stanza,
                     const char *requester)
{
	struct double_sent *d = record();

	d->stanza = stanza;
	d->requester = requester != NULL ? xstrdup(requester) : NULL;
}

void session_send_private(struct session *s, xmpp_stanza_t *stanza,
                          const char *room, const char *fallback,
                          const char *requester)
{
	struct double_sent *d = record();

	d->stanza = stanza;
	d->requester = requester != NULL ? xstrdup(requester) : NULL;
	d->private_msg = true;
	d->room = xstrdup(room);
	d->fallback = xstrdup(fallback);
}

int session_join(struct session *s, const char *room, const char *nick,
                 char **cause)
{
	if (strcmp(room, "refuse@conf.example.org") == 0) {
		*cause = xstrdup("max_rooms reached");
		return -1;
	}
	double_state.joined = xstrdup(room);
	double_state.joined_nick = nick != NULL ? xstrdup(nick) : NULL;
	return 0;
}

int session_leave(struct session *s, const char *room, char **cause)
{
	double_state.left = xstrdup(room);
	return 0;
}

void session_rooms_foreach(struct session *s,
                           void (*fn)(const char *room, void *arg), void *arg)
{
	for (size_t i = 0; i < double_state.n_rooms; i++)
		fn(double_state.rooms[i], arg);
}

bool session_room_announces(struct session *s, const char *room)
{
	return true;
}

void session_send_room(struct session *s, const char *room, const char *text)
{
	struct double_sent *d = record();

	d->room = xstrdup(room);
	d->room_text = xstrdup(text);
}

void session_add_feature(struct session *s, const char *feature)
{
	double_state.features++;
}
