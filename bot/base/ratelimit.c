/*
 * Per-requester token buckets (see ratelimit.h). Tokens are kept in
 * thousandths so that slow rates ("3/10s") refill smoothly without floating
 * point. Entries live in a small chained hash table keyed by the requester,
 * and on a list from the most to the least recently seen, so that making
 * room for a new requester when the table is full costs O(1): a flood from
 * thousands of JIDs never rescans the table once per new JID.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot/alloc.h"
#include "ratelimit.h"

#define NBUCKETS 1024
#define MILLI    1000u

struct rl_entry {
	struct rl_entry *next;          /* hash chain */
	struct rl_entry *newer, *older; /* the recency list */
	char *key;
	uint64_t tokens; /* thousandths of a token */
	uint64_t last_ms;
	bool warned;
};

struct ratelimit {
	struct rl_entry *buckets[NBUCKETS];
	struct rl_entry *newest, *oldest; /* the recency list */
	size_t count;
	unsigned burst, rate;
	uint64_t per_ms;
};

/* FNV-1a over the key. */
static size_t rl_hash(const char *key)
{
	uint64_t h = 1469598103934665603ull;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ull;
	}
	return (size_t)(h % NBUCKETS);
}

/* Clamps the limits to sane values (a zero rate would never refill). */
void ratelimit_configure(struct ratelimit *rl, unsigned burst, unsigned rate,
                         uint64_t per_ms)
{
	rl->burst = burst > 0 ? burst : 1;
	rl->rate = rate > 0 ? rate : 1;
	rl->per_ms = per_ms > 0 ? per_ms : 1;
}

/* Allocates an empty table with the given limits. */
struct ratelimit *ratelimit_new(unsigned burst, unsigned rate, uint64_t per_ms)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	ratelimit_configure(rl, burst, rate, per_ms);
	return rl;
}

/* Frees one entry. */
static void rl_entry_free(struct rl_entry *e)
{
	free(e->key);
	free(e);
}

/* Frees the table and every entry. */
void ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct rl_entry *e = rl->buckets[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			rl_entry_free(e);
		}
	}
	free(rl);
}

/* Adds the tokens earned since e->last_ms, up to the burst. */
static void rl_refill(const struct ratelimit *rl, struct rl_entry *e,
                      uint64_t now_ms)
{
	uint64_t max = (uint64_t)rl->burst * MILLI, elapsed, earned;

	if (now_ms <= e->last_ms)
		return;
	elapsed = now_ms - e->last_ms;
	/* Cap elapsed so the product cannot overflow. */
	if (elapsed > rl->per_ms * (uint64_t)rl->burst)
		elapsed = rl->per_ms * (uint64_t)rl->burst;
	earned = elapsed * rl->rate * MILLI / rl->per_ms;
	if (earned == 0)
		return; /* keep last_ms so small steps add up */
	e->tokens = e->tokens + earned > max ? max : e->tokens + earned;
	/* Advance last_ms by the time the earned tokens cost, so that the
	 * remainder of a partial token is not lost. */
	if (e->tokens == max)
		e->last_ms = now_ms;
	else
		e->last_ms +=
		    earned * rl->per_ms / (rl->rate * (uint64_t)MILLI);
}

/* Takes e off the recency list. */
static void rl_unlink(struct ratelimit *rl, struct rl_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		rl->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		rl->oldest = e->newer;
	e->newer = e->older = NULL;
}

/* Puts e (on no list) at the recent end of the recency list. */
static void rl_push_newest(struct ratelimit *rl, struct rl_entry *e)
{
	e->older = rl->newest;
	e->newer = NULL;
	if (rl->newest != NULL)
		rl->newest->newer = e;
	rl->newest = e;
	if (rl->oldest == NULL)
		rl->oldest = e;
}

/* Removes the least recently seen entry, to make room. */
static void rl_evict_oldest(struct ratelimit *rl)
{
	struct rl_entry *e = rl->oldest, **pp;

	if (e == NULL)
		return;
	for (pp = &rl->buckets[rl_hash(e->key)]; *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	rl_unlink(rl, e);
	rl_entry_free(e);
	rl->count--;
}

/* Takes one token for key (see ratelimit.h). */
enum ratelimit_verdict ratelimit_take(struct ratelimit *rl, const char *key,
                                      uint64_t now_ms, uint64_t *retry_ms)
{
	size_t h = rl_hash(key);
	struct rl_entry *e;
	uint64_t missing;

	for (e = rl->buckets[h]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			break;
	if (e == NULL) {
		if (rl->count >= RATELIMIT_MAX_ENTRIES)
			rl_evict_oldest(rl);
		e = xcalloc(1, sizeof(*e));
		e->key = xstrdup(key);
		e->tokens = (uint64_t)rl->burst * MILLI;
		e->last_ms = now_ms;
		e->next = rl->buckets[h];
		rl->buckets[h] = e;
		rl->count++;
	} else {
		rl_unlink(rl, e);
	}
	rl_push_newest(rl, e);
	rl_refill(rl, e, now_ms);
	if (e->tokens >= MILLI) {
		e->tokens -= MILLI;
		e->warned = false;
		return RATELIMIT_OK;
	}
	if (retry_ms != NULL) {
		missing = MILLI - e->tokens;
		/* Round up: never promise a token before it is there. */
		*retry_ms =
		    (missing * rl->per_ms + (uint64_t)rl->rate * MILLI - 1) /
		    ((uint64_t)rl->rate * MILLI);
		if (now_ms > e->last_ms)
			*retry_ms = *retry_ms > now_ms - e->last_ms
			                ? *retry_ms - (now_ms - e->last_ms)
			                : 0;
	}
	if (!e->warned) {
		e->warned = true;
		return RATELIMIT_WARN;
	}
	return RATELIMIT_SILENT;
}

/* Drops every entry whose bucket has refilled completely. */
void ratelimit_expire(struct ratelimit *rl, uint64_t now_ms)
{
	uint64_t max = (uint64_t)rl->burst * MILLI;

	for (size_t i = 0; i < NBUCKETS; i++) {
		struct rl_entry **pp = &rl->buckets[i];

		while (*pp != NULL) {
			struct rl_entry *e = *pp;

			rl_refill(rl, e, now_ms);
			if (e->tokens >= max) {
				*pp = e->next;
				rl_unlink(rl, e);
				rl_entry_free(e);
				rl->count--;
			} else {
				pp = &e->next;
			}
		}
	}
}

/* Returns the number of entries. */
size_t ratelimit_count(const struct ratelimit *rl)
{
	return rl->count;
}
