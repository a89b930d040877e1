/* The bandwidth caps of downloads: chunk reservations on the server's and
 * each connection's schedule, and the thread that wakes waiting
 * connections (see pacer.h). */
#include "pacer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"

/* How far a schedule may lag behind now (us): time lost to late wake-ups
 * (the thread's timer, a busy server thread) is made up within this, so a
 * cap is reached at high rates too; an idle schedule saves no more than
 * this (a burst of at most 50 ms at the cap: 1 % of a 5 s window). */
#define PACER_CATCHUP_US 50000

/* Buckets of the rate counter: the window and the second being filled. */
#define PACER_BUCKETS (PACER_RATE_WINDOW + 2)

struct pacer {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stopping;
	uint64_t max_rate, download_rate;
	int64_t next_us;            /* the server's schedule */
	struct pacer_conn *waiting; /* sorted by due time */
	uint64_t bucket[PACER_BUCKETS];
	int64_t bucket_s[PACER_BUCKETS]; /* the second each bucket counts */
};

struct pacer *pacer_new(void)
{
	struct pacer *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->mu, NULL);
	clock_cond_init(&p->cond);
	return p;
}

void pacer_set_rates(struct pacer *p, uint64_t max_rate, uint64_t download_rate)
{
	pthread_mutex_lock(&p->mu);
	p->max_rate = max_rate;
	p->download_rate = download_rate;
	pthread_mutex_unlock(&p->mu);
}

bool pacer_capped(struct pacer *p)
{
	bool capped;

	pthread_mutex_lock(&p->mu);
	capped = p->max_rate != 0 || p->download_rate != 0;
	pthread_mutex_unlock(&p->mu);
	return capped;
}

/* Returns the chunk for caps max_rate and download_rate (one a twentieth
 * of a second at the smaller), at most want. */
static size_t chunk_size(uint64_t max_rate, uint64_t download_rate, size_t want)
{
	uint64_t r = max_rate;
	uint64_t c;

	if (r == 0 || (download_rate != 0 && download_rate < r))
		r = download_rate;
	c = r / 20;
	if (c < PACER_MIN_CHUNK)
		c = PACER_MIN_CHUNK;
	return c < want ? (size_t)c : want;
}

/* Returns the microseconds n bytes take at rate bytes/s. */
static int64_t duration_us(size_t n, uint64_t rate)
{
	/* n is at most a block: n * 10^6 fits in 64 bits. */
	return (int64_t)((uint64_t)n * 1000000u / rate);
}

size_t pacer_take(struct pacer *p, struct pacer_conn *pc, size_t want,
                  int64_t now_us, int64_t *due_us)
{
	int64_t at, g;
	size_t n;

	if (want == 0)
		return 0;
	pthread_mutex_lock(&p->mu);
	if (pc->granted > 0) {
		n = pc->granted < want ? pc->granted : want;
		pc->granted -= n;
		pthread_mutex_unlock(&p->mu);
		return n;
	}
	if (p->stopping || (p->max_rate == 0 && p->download_rate == 0)) {
		pthread_mutex_unlock(&p->mu);
		return want;
	}
	n = chunk_size(p->max_rate, p->download_rate, want);
	at = now_us;
	if (p->max_rate != 0) {
		/* The server's schedule: chunks one after another. */
		g = p->next_us > now_us - PACER_CATCHUP_US
		        ? p->next_us
		        : now_us - PACER_CATCHUP_US;
		p->next_us = g + duration_us(n, p->max_rate);
		at = g;
	}
	if (p->download_rate != 0) {
		g = pc->next_us > now_us - PACER_CATCHUP_US
		        ? pc->next_us
		        : now_us - PACER_CATCHUP_US;
		pc->next_us = g + duration_us(n, p->download_rate);
		if (g > at)
			at = g;
	}
	/* Within a millisecond is now: not worth a wait. */
	if (at <= now_us + 1000) {
		pthread_mutex_unlock(&p->mu);
		return n;
	}
	pc->granted = n;
	pc->due_us = at;
	*due_us = at;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/* Wakes the waiting connections that are due, until stopped. */
static void *pacer_main(void *arg)
{
	struct pacer *p = arg;
	struct pacer_conn *due;
	struct timespec ts;
	int64_t now;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		now = clock_now_ns() / 1000;
		due = NULL;
		while (p->waiting != NULL &&
		       (p->stopping || p->waiting->due_us <= now)) {
			struct pacer_conn *pc = p->waiting;

			p->waiting = pc->wnext;
			pc->waiting = false;
			pc->wnext = due;
			due = pc;
		}
		if (due != NULL) {
			/* A suspended connection is not freed before it is
			 * resumed: the pointers stay valid unlocked. */
			pthread_mutex_unlock(&p->mu);
			while (due != NULL) {
				struct pacer_conn *pc = due;

				due = pc->wnext;
				pc->wake(pc->arg);
			}
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (p->stopping)
			break;
		if (p->waiting == NULL) {
			pthread_cond_wait(&p->cond, &p->mu);
		} else {
			int64_t ms = (p->waiting->due_us + 999) / 1000;

			ts = clock_timespec(ms);
			pthread_cond_timedwait(&p->cond, &p->mu, &ts);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

bool pacer_wait(struct pacer *p, struct pacer_conn *pc, void (*wake)(void *),
                void *arg)
{
	struct pacer_conn **pp;

	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		pc->granted = 0;
		pthread_mutex_unlock(&p->mu);
		return false;
	}
	if (!p->started) {
		if (pthread_create(&p->thread, NULL, pacer_main, p) != 0)
			fatalx("pacer: cannot start its thread");
		p->started = true;
	}
	pc->wake = wake;
	pc->arg = arg;
	pc->waiting = true;
	for (pp = &p->waiting; *pp != NULL && (*pp)->due_us <= pc->due_us;
	     pp = &(*pp)->wnext)
		;
	pc->wnext = *pp;
	*pp = pc;
	if (p->waiting == pc)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return true;
}

void pacer_forget(struct pacer *p, struct pacer_conn *pc)
{
	pthread_mutex_lock(&p->mu);
	if (pc->waiting) {
		struct pacer_conn **pp = &p->waiting;

		while (*pp != NULL && *pp != pc)
			pp = &(*pp)->wnext;
		if (*pp == pc)
			*pp = pc->wnext;
		pc->waiting = false;
	}
	pthread_mutex_unlock(&p->mu);
}

void pacer_count(struct pacer *p, size_t n, int64_t now_us)
{
	int64_t s = now_us / 1000000;
	size_t i = (size_t)(s % PACER_BUCKETS);

	pthread_mutex_lock(&p->mu);
	if (p->bucket_s[i] != s) {
		p->bucket_s[i] = s;
		p->bucket[i] = 0;
	}
	p->bucket[i] += n;
	pthread_mutex_unlock(&p->mu);
}

uint64_t pacer_rate(struct pacer *p, int64_t now_us)
{
	int64_t s = now_us / 1000000;
	uint64_t sum = 0;

	pthread_mutex_lock(&p->mu);
	for (int64_t k = s - PACER_RATE_WINDOW; k < s; k++) {
		size_t i = (size_t)(k % PACER_BUCKETS);

		if (k >= 0 && p->bucket_s[i] == k)
			sum += p->bucket[i];
	}
	pthread_mutex_unlock(&p->mu);
	return sum / PACER_RATE_WINDOW;
}

void pacer_stop(struct pacer *p)
{
	bool started;

	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	started = p->started;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
	if (started) {
		pthread_join(p->thread, NULL);
		pthread_mutex_lock(&p->mu);
		p->started = false;
		pthread_mutex_unlock(&p->mu);
	}
}

void pacer_free(struct pacer *p)
{
	if (p == NULL)
		return;
	pacer_stop(p);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
