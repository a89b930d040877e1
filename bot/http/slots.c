/* Download slots: a small table of the links being downloaded, the holds
 * of the queue, and the limits (see slots.h). */
#include "slots.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot/alloc.h"

/* The mean slot time before any download ended (s). */
#define SLOTS_DEFAULT_MEAN_S 60

struct slot {
	unsigned char key[SLOTS_KEY_LEN];
	uint64_t user;
	unsigned conns;    /* responses being sent */
	int64_t started;   /* when it was taken */
	int64_t idle_from; /* conns 0 since (lingering) */
};

struct hold {
	uint64_t user;
	int64_t until;
};

struct slots {
	pthread_mutex_t mu;
	void (*on_free)(void *arg);
	void *arg;
	unsigned limit, per_user;
	uint64_t hold_ms;
	struct slot *v;
	size_t n, cap;
	struct hold *holds;
	size_t n_holds, cap_holds;
	double mean_s; /* moving mean of slot times; 0 before the first */
};

struct slots *slots_new(void (*on_free)(void *arg), void *arg)
{
	struct slots *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->mu, NULL);
	s->on_free = on_free;
	s->arg = arg;
	return s;
}

void slots_free(struct slots *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->v);
	free(s->holds);
	free(s);
}

void slots_configure(struct slots *s, unsigned slots, unsigned per_user,
                     uint64_t hold_ms)
{
	pthread_mutex_lock(&s->mu);
	s->limit = slots;
	s->per_user = per_user;
	s->hold_ms = hold_ms;
	pthread_mutex_unlock(&s->mu);
}

/* Drops lingering slots past SLOTS_LINGER_MS and expired holds; returns
 * how many went. Locked. */
static unsigned expire(struct slots *s, int64_t now)
{
	unsigned gone = 0;

	for (size_t i = 0; i < s->n;) {
		struct slot *sl = &s->v[i];

		if (sl->conns == 0 && now - sl->idle_from >= SLOTS_LINGER_MS) {
			double t = (double)(sl->idle_from - sl->started) / 1000;

			s->mean_s =
			    s->mean_s == 0 ? t : s->mean_s * 0.8 + t * 0.2;
			s->v[i] = s->v[--s->n];
			gone++;
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < s->n_holds;) {
		if (now >= s->holds[i].until) {
			s->holds[i] = s->holds[--s->n_holds];
			gone++;
		} else {
			i++;
		}
	}
	return gone;
}

/* Returns the slots and holds of user. Locked. */
static unsigned user_count(const struct slots *s, uint64_t user)
{
	unsigned n = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].user == user)
			n++;
	for (size_t i = 0; i < s->n_holds; i++)
		if (s->holds[i].user == user)
			n++;
	return n;
}

/* Returns user's hold, or NULL. Locked. */
static struct hold *find_hold(struct slots *s, uint64_t user)
{
	for (size_t i = 0; i < s->n_holds; i++)
		if (s->holds[i].user == user)
			return &s->holds[i];
	return NULL;
}

/* Returns true if a new slot for user fits the limits (a hold of user's
 * is counted as free for it). Locked. */
static bool fits(const struct slots *s, uint64_t user, bool has_hold)
{
	size_t used = s->n + s->n_holds - (has_hold ? 1 : 0);
	unsigned mine = user_count(s, user) - (has_hold ? 1 : 0);

	if (s->limit != 0 && used >= s->limit)
		return false;
	if (s->per_user != 0 && user != 0 && mine >= s->per_user)
		return false;
	return true;
}

/* Calls on_free if n slots came free. Unlocked. */
static void notify(struct slots *s, unsigned n)
{
	if (n > 0 && s->on_free != NULL)
		s->on_free(s->arg);
}

bool slots_acquire(struct slots *s, const unsigned char key[SLOTS_KEY_LEN],
                   uint64_t user, int64_t now, unsigned *retry_s)
{
	struct hold *h;
	unsigned gone;
	bool ok = true;

	pthread_mutex_lock(&s->mu);
	gone = expire(s, now);
	for (size_t i = 0; i < s->n; i++) {
		if (memcmp(s->v[i].key, key, SLOTS_KEY_LEN) == 0) {
			s->v[i].conns++;
			goto out;
		}
	}
	h = user != 0 ? find_hold(s, user) : NULL;
	if (!fits(s, user, h != NULL)) {
		ok = false;
		*retry_s = SLOTS_LINGER_MS / 1000 + 4;
		goto out;
	}
	if (h != NULL)
		*h = s->holds[--s->n_holds];
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
	memcpy(s->v[s->n].key, key, SLOTS_KEY_LEN);
	s->v[s->n].user = user;
	s->v[s->n].conns = 1;
	s->v[s->n].started = now;
	s->n++;
out:
	pthread_mutex_unlock(&s->mu);
	notify(s, gone);
	return ok;
}

void slots_release(struct slots *s, const unsigned char key[SLOTS_KEY_LEN],
                   int64_t now)
{
	bool idle = false;
	unsigned gone;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++) {
		if (memcmp(s->v[i].key, key, SLOTS_KEY_LEN) == 0) {
			if (s->v[i].conns > 0 && --s->v[i].conns == 0) {
				s->v[i].idle_from = now;
				idle = true;
			}
			break;
		}
	}
	gone = expire(s, now);
	pthread_mutex_unlock(&s->mu);
	/* A link that went idle frees its slot after the linger: say so
	 * now, the listener looks again once it is over. */
	notify(s, gone + (idle ? 1 : 0));
}

bool slots_available(struct slots *s, uint64_t user, int64_t now)
{
	unsigned gone;
	bool ok;

	pthread_mutex_lock(&s->mu);
	gone = expire(s, now);
	ok = fits(s, user, user != 0 && find_hold(s, user) != NULL);
	pthread_mutex_unlock(&s->mu);
	(void)gone; /* the caller is the listener */
	return ok;
}

void slots_hold(struct slots *s, uint64_t user, int64_t now)
{
	struct hold *h;

	pthread_mutex_lock(&s->mu);
	if ((h = find_hold(s, user)) == NULL) {
		if (s->n_holds == s->cap_holds) {
			s->cap_holds = s->cap_holds ? s->cap_holds * 2 : 8;
			s->holds = xreallocarray(s->holds, s->cap_holds,
			                         sizeof(*s->holds));
		}
		h = &s->holds[s->n_holds++];
		h->user = user;
	}
	h->until = now + (int64_t)s->hold_ms;
	pthread_mutex_unlock(&s->mu);
}

void slots_unhold(struct slots *s, uint64_t user, int64_t now)
{
	struct hold *h;
	bool gone = false;

	pthread_mutex_lock(&s->mu);
	if ((h = find_hold(s, user)) != NULL) {
		*h = s->holds[--s->n_holds];
		gone = true;
	}
	(void)now;
	pthread_mutex_unlock(&s->mu);
	notify(s, gone ? 1 : 0);
}

void slots_sweep(struct slots *s, int64_t now)
{
	unsigned gone;

	pthread_mutex_lock(&s->mu);
	gone = expire(s, now);
	pthread_mutex_unlock(&s->mu);
	notify(s, gone);
}

void slots_get_usage(struct slots *s, int64_t now, struct slots_usage *u)
{
	pthread_mutex_lock(&s->mu);
	expire(s, now);
	u->used = (unsigned)(s->n + s->n_holds);
	u->held = (unsigned)s->n_holds;
	u->limit = s->limit;
	u->active = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].conns > 0)
			u->active++;
	pthread_mutex_unlock(&s->mu);
}

unsigned slots_mean_s(struct slots *s)
{
	double m;

	pthread_mutex_lock(&s->mu);
	m = s->mean_s;
	pthread_mutex_unlock(&s->mu);
	if (m == 0)
		return SLOTS_DEFAULT_MEAN_S;
	return m < 1 ? 1 : (unsigned)(m + 0.5);
}
