/* Exponential backoff with a cap, a longer cap for long outages, and
 * jitter. */
#include "backoff.h"

#include <limits.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include "clock.h"

/* Returns random bits for the jitter (not secret: only spread). */
static uint64_t jitter_bits(void)
{
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint64_t)clock_now_ns() * 0x9E3779B97F4A7C15u;
	return r;
}

void backoff_init(struct backoff *b, const struct backoff_policy *p)
{
	memset(b, 0, sizeof(*b));
	b->policy = *p;
}

int64_t backoff_delay(const struct backoff_policy *p, unsigned tries,
                      int64_t elapsed_ms, uint64_t rnd)
{
	int64_t cap = p->max_ms, delay = p->first_ms > 0 ? p->first_ms : 1;

	if (p->long_after_ms > 0 && elapsed_ms >= p->long_after_ms)
		cap = p->long_max_ms;
	for (unsigned i = 1; i < tries && delay < cap && delay <= INT64_MAX / 2;
	     i++)
		delay *= 2;
	if (delay > cap)
		delay = cap;
	if (p->jitter && delay > 1)
		delay = delay / 2 + (int64_t)(rnd % (uint64_t)(delay / 2 + 1));
	return delay;
}

int64_t backoff_next(struct backoff *b, int64_t now_ms)
{
	if (b->tries == 0)
		b->since_ms = now_ms;
	if (b->tries < UINT_MAX)
		b->tries++;
	return backoff_delay(&b->policy, b->tries, now_ms - b->since_ms,
	                     b->policy.jitter ? jitter_bits() : 0);
}

void backoff_reset(struct backoff *b)
{
	b->tries = 0;
	b->since_ms = 0;
}
