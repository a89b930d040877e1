/*
 * The main thread's timers (see cron.h).
 *
 * Design note: the bot has a handful of timers (the session's four or
 * five, one for the host, one per plugin timer), so they sit in an array
 * in the order they were added and every question is a linear scan: no
 * heap to keep in order when an owner moves its deadline, which the
 * session does on nearly every stanza it sends. A timer removed while
 * cron_run walks the array is only marked; the array is compacted when
 * the walk is over.
 */
#include <stdlib.h>

#include "clock.h"
#include "cron.h"
#include "fisbot/alloc.h"

struct cron_timer {
	struct cron *cron;
	uint64_t period; /* 0: armed by hand */
	uint64_t due;    /* CRON_NEVER: disarmed */
	cron_fn fn;
	void *arg;
	bool dead; /* removed during cron_run, freed after it */
};

struct cron {
	uint64_t (*now_ms)(void *arg);
	void *arg;
	struct cron_timer **timers;
	size_t n;
	bool running;  /* inside cron_run */
	bool has_dead; /* timers to free once cron_run ends */
};

/* Returns the monotonic clock in milliseconds (clock_now_ms). */
static uint64_t monotonic_ms(void *arg)
{
	(void)arg;
	return (uint64_t)clock_now_ms();
}

struct cron *cron_new(uint64_t (*now_ms)(void *arg), void *arg)
{
	struct cron *c = xcalloc(1, sizeof(*c));

	c->now_ms = now_ms != NULL ? now_ms : monotonic_ms;
	c->arg = arg;
	return c;
}

void cron_free(struct cron *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->timers[i]);
	free(c->timers);
	free(c);
}

uint64_t cron_now(const struct cron *c)
{
	return c->now_ms(c->arg);
}

struct cron_timer *cron_add(struct cron *c, uint64_t period_ms, cron_fn fn,
                            void *arg)
{
	struct cron_timer *t = xcalloc(1, sizeof(*t));

	t->cron = c;
	t->period = period_ms;
	t->due = period_ms > 0 ? cron_now(c) + period_ms : CRON_NEVER;
	t->fn = fn;
	t->arg = arg;
	c->timers = xreallocarray(c->timers, c->n + 1, sizeof(*c->timers));
	c->timers[c->n++] = t;
	return t;
}

/* Drops the dead timers from the array and frees them. */
static void compact(struct cron *c)
{
	size_t j = 0;

	for (size_t i = 0; i < c->n; i++) {
		if (c->timers[i]->dead)
			free(c->timers[i]);
		else
			c->timers[j++] = c->timers[i];
	}
	c->n = j;
	c->has_dead = false;
}

void cron_del(struct cron_timer *t)
{
	struct cron *c;

	if (t == NULL || t->dead)
		return;
	c = t->cron;
	t->dead = true;
	t->due = CRON_NEVER;
	c->has_dead = true;
	if (!c->running)
		compact(c);
}

void cron_at(struct cron_timer *t, uint64_t due_ms)
{
	if (!t->dead)
		t->due = due_ms;
}

void cron_soon(struct cron_timer *t, uint64_t due_ms)
{
	if (!t->dead && due_ms < t->due)
		t->due = due_ms;
}

uint64_t cron_due(const struct cron_timer *t)
{
	return t->due;
}

void cron_run(struct cron *c)
{
	uint64_t now = cron_now(c);
	size_t n = c->n;
	bool was_running = c->running;

	c->running = true;
	/* By index, over the timers there were: fn may add timers (and
	 * move the array); those are not due yet. */
	for (size_t i = 0; i < n && i < c->n; i++) {
		struct cron_timer *t = c->timers[i];

		if (t->dead || t->due > now)
			continue;
		t->due = t->period > 0 ? now + t->period : CRON_NEVER;
		if (!t->fn(t->arg))
			cron_del(t);
	}
	c->running = was_running;
	if (!c->running && c->has_dead)
		compact(c);
}

uint64_t cron_next(const struct cron *c)
{
	uint64_t next = CRON_NEVER;

	for (size_t i = 0; i < c->n; i++)
		if (c->timers[i]->due < next)
			next = c->timers[i]->due;
	return next;
}

uint64_t cron_wait_ms(const struct cron *c, uint64_t cap_ms)
{
	uint64_t next = cron_next(c), now;

	if (next == CRON_NEVER)
		return cap_ms;
	now = cron_now(c);
	if (next <= now)
		return 0;
	return next - now < cap_ms ? next - now : cap_ms;
}
