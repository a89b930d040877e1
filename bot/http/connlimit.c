/*
 * The HTTP server's connection limits (see connlimit.h for the design).
 *
 * The connections waiting for headers are on two FIFO lists, one per
 * deadline length (new connections: header_ms; kept-alive ones: idle_ms),
 * so each list is ordered by deadline and its head expires first. The
 * reaper sleeps until the earlier of the two heads' deadlines, or the end
 * of the current summary period, and is woken when a list that was empty
 * gets a connection or a period starts.
 */
#define _GNU_SOURCE
#include "connlimit.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"

/* The two waiting lists. */
enum { WAIT_NEW, WAIT_KEPT, WAIT_LISTS, WAIT_NONE = WAIT_LISTS };

/* Connections counted against one key. */
struct ip_count {
	struct connlimit_key key;
	unsigned n;
};

struct connlimit_conn {
	int fd;
	struct ip_count *ip; /* NULL: not counted against its address */
	bool counted;        /* counted in the total */
	bool closing;        /* shut down by the reaper or evicted */
	int list;            /* WAIT_NEW, WAIT_KEPT or WAIT_NONE */
	int64_t since_ms;    /* when it began to wait */
	struct connlimit_conn *prev, *next;
};

struct connlimit {
	struct connlimit_opts o;
	pthread_t reaper;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t wake;
	bool stopping;
	void *per_ip; /* tsearch tree of struct ip_count */
	unsigned total;
	struct {
		struct connlimit_conn *head, *tail;
	} wait[WAIT_LISTS];
	/* The summary period: 0 when none is open. */
	int64_t period_ms;
	uint64_t events[CONNLIMIT_EVENT_COUNT];
	uint64_t evicted, late;
};

void connlimit_key(const struct sockaddr *sa, struct connlimit_key *k)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;

	memset(k, 0, sizeof(*k));
	if (sa != NULL && sa->sa_family == AF_INET) {
		memcpy(&in4, sa, sizeof(in4));
		memcpy(k->addr, &in4.sin_addr, 4);
		k->len = 4;
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		memcpy(&in6, sa, sizeof(in6));
		if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
			memcpy(k->addr, in6.sin6_addr.s6_addr + 12, 4);
			k->len = 4;
		} else {
			memcpy(k->addr, in6.sin6_addr.s6_addr, 8);
			k->len = 8;
		}
	}
}

/* Orders ip_count by key. */
static int cmp_ip(const void *a, const void *b)
{
	const struct ip_count *x = a, *y = b;

	if (x->key.len != y->key.len)
		return x->key.len < y->key.len ? -1 : 1;
	return memcmp(x->key.addr, y->key.addr, x->key.len);
}

/* Returns the deadline of a waiting connection. */
static int64_t deadline(const struct connlimit *cl,
                        const struct connlimit_conn *c)
{
	return c->since_ms +
	       (int64_t)(c->list == WAIT_NEW ? cl->o.header_ms : cl->o.idle_ms);
}

/* Takes c off its waiting list, if it is on one (lock held). */
static void unlist(struct connlimit *cl, struct connlimit_conn *c)
{
	if (c->list == WAIT_NONE)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		cl->wait[c->list].head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		cl->wait[c->list].tail = c->prev;
	c->prev = c->next = NULL;
	c->list = WAIT_NONE;
}

/* Puts c at the end of list l, waiting from now (lock held). */
static void enlist(struct connlimit *cl, struct connlimit_conn *c, int l)
{
	bool was_empty = cl->wait[l].head == NULL;

	c->list = l;
	c->since_ms = clock_now_ms();
	c->next = NULL;
	c->prev = cl->wait[l].tail;
	if (c->prev != NULL)
		c->prev->next = c;
	else
		cl->wait[l].head = c;
	cl->wait[l].tail = c;
	/* Its deadline may come before whatever the reaper waits for. */
	if (was_empty)
		pthread_cond_signal(&cl->wake);
}

/* Stops counting c (lock held). */
static void uncount(struct connlimit *cl, struct connlimit_conn *c)
{
	if (c->counted) {
		cl->total--;
		c->counted = false;
	}
	if (c->ip != NULL && --c->ip->n == 0) {
		struct ip_count *ip = c->ip;

		tdelete(ip, &cl->per_ip, cmp_ip);
		free(ip);
	}
	c->ip = NULL;
}

/* Opens a summary period if none is open (lock held). */
static void period_open(struct connlimit *cl)
{
	if (cl->period_ms != 0)
		return;
	cl->period_ms = clock_now_ms();
	pthread_cond_signal(&cl->wake);
}

/* Shuts c down and stops counting it (lock held). */
static void drop(struct connlimit *cl, struct connlimit_conn *c)
{
	unlist(cl, c);
	uncount(cl, c);
	c->closing = true;
	(void)shutdown(c->fd, SHUT_RDWR);
}

/* Returns the connection that has waited longest for its headers, or
 * NULL (lock held). */
static struct connlimit_conn *longest_waiting(struct connlimit *cl)
{
	struct connlimit_conn *a = cl->wait[WAIT_NEW].head;
	struct connlimit_conn *b = cl->wait[WAIT_KEPT].head;

	if (a == NULL || (b != NULL && b->since_ms < a->since_ms))
		return b;
	return a;
}

struct connlimit_conn *connlimit_open(struct connlimit *cl, int fd,
                                      const struct sockaddr *sa, bool *over)
{
	struct connlimit_conn *c = xcalloc(1, sizeof(*c));
	struct ip_count k = {0}, **found;
	struct connlimit_conn *victim;

	c->fd = fd;
	c->list = WAIT_NONE;
	connlimit_key(sa, &k.key);
	pthread_mutex_lock(&cl->lock);
	/* Full: the longest waiting makes room, even for a newcomer over its
	 * address's limit (which still gets its 503): connections waiting
	 * for headers never pile up past max_total, so libmicrohttpd's own
	 * limit, a margin above, is not reached. */
	if (cl->total >= cl->o.max_total) {
		victim = longest_waiting(cl);
		if (victim != NULL) {
			drop(cl, victim);
			cl->evicted++;
			period_open(cl);
		}
	}
	found = sa ? tfind(&k, &cl->per_ip, cmp_ip) : NULL;
	*over = cl->total >= cl->o.max_total ||
	        (found != NULL && (*found)->n >= cl->o.max_per_ip);
	if (!*over && sa != NULL) {
		found = tsearch(&k, &cl->per_ip, cmp_ip);
		if (found == NULL)
			fatalx("http: out of memory");
		if (*found == &k) {
			*found = xmalloc(sizeof(k));
			**found = k;
		}
		c->ip = *found;
		c->ip->n++;
	}
	c->counted = true;
	cl->total++;
	enlist(cl, c, WAIT_NEW);
	pthread_mutex_unlock(&cl->lock);
	return c;
}

void connlimit_headers(struct connlimit *cl, struct connlimit_conn *c)
{
	pthread_mutex_lock(&cl->lock);
	unlist(cl, c);
	pthread_mutex_unlock(&cl->lock);
}

void connlimit_waiting(struct connlimit *cl, struct connlimit_conn *c)
{
	pthread_mutex_lock(&cl->lock);
	if (!c->closing) {
		unlist(cl, c);
		enlist(cl, c, WAIT_KEPT);
	}
	pthread_mutex_unlock(&cl->lock);
}

void connlimit_close(struct connlimit *cl, struct connlimit_conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&cl->lock);
	unlist(cl, c);
	uncount(cl, c);
	pthread_mutex_unlock(&cl->lock);
	free(c);
}

void connlimit_count(struct connlimit *cl, enum connlimit_event ev)
{
	pthread_mutex_lock(&cl->lock);
	cl->events[ev]++;
	period_open(cl);
	pthread_mutex_unlock(&cl->lock);
}

void connlimit_counts(struct connlimit *cl, const struct sockaddr *sa,
                      unsigned *total, unsigned *per_ip)
{
	struct ip_count k = {0}, **found;

	connlimit_key(sa, &k.key);
	pthread_mutex_lock(&cl->lock);
	found = tfind(&k, &cl->per_ip, cmp_ip);
	*total = cl->total;
	*per_ip = found != NULL ? (*found)->n : 0;
	pthread_mutex_unlock(&cl->lock);
}

/* Writes the summary of the period that ends and closes it. Called with
 * the lock held, which is released while the line is written (a slow log
 * must not hold up the server's threads). */
static void summary(struct connlimit *cl)
{
	uint64_t e[CONNLIMIT_EVENT_COUNT], evicted = cl->evicted,
	                                   late = cl->late, n;

	memcpy(e, cl->events, sizeof(e));
	memset(cl->events, 0, sizeof(cl->events));
	cl->evicted = cl->late = 0;
	cl->period_ms = 0;
	n = e[CONNLIMIT_ANSWERED_503] + e[CONNLIMIT_DROPPED] + evicted + late;
	if (n == 0)
		return;
	pthread_mutex_unlock(&cl->lock);
	log_warnx("http: refused %llu connections over limits in the last "
	          "%d s (%llu answered 503, %llu dropped at accept, %llu "
	          "evicted while waiting for headers, %llu closed with "
	          "headers still incomplete at their deadline)",
	          (unsigned long long)n, CONNLIMIT_SUMMARY_MS / 1000,
	          (unsigned long long)e[CONNLIMIT_ANSWERED_503],
	          (unsigned long long)e[CONNLIMIT_DROPPED],
	          (unsigned long long)evicted, (unsigned long long)late);
	pthread_mutex_lock(&cl->lock);
}

/* The reaper thread: shuts down the connections past their deadline and
 * writes the summaries. */
static void *reaper_main(void *arg)
{
	struct connlimit *cl = arg;
	struct connlimit_conn *c;
	struct timespec ts;
	int64_t now, wake;

	pthread_mutex_lock(&cl->lock);
	while (!cl->stopping) {
		now = clock_now_ms();
		wake = -1;
		for (int l = 0; l < WAIT_LISTS; l++) {
			while ((c = cl->wait[l].head) != NULL &&
			       deadline(cl, c) <= now) {
				drop(cl, c);
				/* An idle kept-alive connection timing out is
				 * no news. */
				if (l == WAIT_NEW) {
					cl->late++;
					period_open(cl);
				}
			}
			if (c != NULL && (wake == -1 || deadline(cl, c) < wake))
				wake = deadline(cl, c);
		}
		if (cl->period_ms != 0 &&
		    cl->period_ms + CONNLIMIT_SUMMARY_MS <= now) {
			summary(cl);
			continue; /* the lists may have changed meanwhile */
		}
		if (cl->period_ms != 0 &&
		    (wake == -1 || cl->period_ms + CONNLIMIT_SUMMARY_MS < wake))
			wake = cl->period_ms + CONNLIMIT_SUMMARY_MS;
		if (wake == -1) {
			pthread_cond_wait(&cl->wake, &cl->lock);
			continue;
		}
		ts = clock_timespec(wake);
		pthread_cond_timedwait(&cl->wake, &cl->lock, &ts);
	}
	if (cl->period_ms != 0)
		summary(cl);
	pthread_mutex_unlock(&cl->lock);
	return NULL;
}

struct connlimit *connlimit_new(const struct connlimit_opts *o, char **cause)
{
	struct connlimit *cl = xcalloc(1, sizeof(*cl));
	int err;

	cl->o = *o;
	pthread_mutex_init(&cl->lock, NULL);
	clock_cond_init(&cl->wake);
	err = pthread_create(&cl->reaper, NULL, reaper_main, cl);
	if (err != 0) {
		*cause =
		    xasprintf("http: cannot start a thread: %s", strerror(err));
		pthread_cond_destroy(&cl->wake);
		pthread_mutex_destroy(&cl->lock);
		free(cl);
		return NULL;
	}
	return cl;
}

/* Frees a node of the per-address tree. */
static void free_ip(void *p)
{
	free(p);
}

void connlimit_free(struct connlimit *cl)
{
	if (cl == NULL)
		return;
	pthread_mutex_lock(&cl->lock);
	cl->stopping = true;
	pthread_cond_signal(&cl->wake);
	pthread_mutex_unlock(&cl->lock);
	pthread_join(cl->reaper, NULL);
	tdestroy(cl->per_ip, free_ip);
	pthread_cond_destroy(&cl->wake);
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}
