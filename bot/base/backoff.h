/*
 * Exponential backoff for retrying what failed. The delay before the next
 * try after n failures in a row (n = 1, 2, 3...) is first_ms * 2^(n-1),
 * capped at max_ms; a policy may raise the cap once the failures have
 * lasted long_after_ms (retry often during a short outage, less often
 * during a long one). With jitter, each delay is a uniformly random point
 * of its upper half, [d/2, d], so that clients that failed together do not
 * all retry together.
 *
 * The indexer uses it for catalogue writes (without jitter: there is one
 * writer), the XMPP session for its reconnection (10 s cap for ten
 * minutes, then 60 s, with jitter) and for room rejoins (with jitter).
 */
#ifndef FISBOT_BACKOFF_H
#define FISBOT_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct backoff_policy {
	int64_t first_ms;      /* the first delay (at least 1) */
	int64_t max_ms;        /* the cap */
	int64_t long_after_ms; /* 0, or: once failing for this long, ... */
	int64_t long_max_ms;   /* ... the cap is this instead */
	bool jitter;           /* random over the upper half of each delay */
};

/* The failures in a row of one thing that is retried. */
struct backoff {
	struct backoff_policy policy;
	unsigned tries;   /* failures in a row (0: none) */
	int64_t since_ms; /* when the first of them happened */
};

/* Sets b up with policy p and no failures. */
void backoff_init(struct backoff *b, const struct backoff_policy *p);

/* Counts a failure at now_ms (a clock_now_ms time) and returns the delay
 * in milliseconds before the next try. */
int64_t backoff_next(struct backoff *b, int64_t now_ms);

/* Forgets the failures: the next one starts again at first_ms. */
void backoff_reset(struct backoff *b);

/*
 * Returns the delay after failure number tries (1 for the first) of an
 * outage that has lasted elapsed_ms, taking the jitter, if the policy has
 * any, from the random bits rnd: backoff_next without its state.
 */
int64_t backoff_delay(const struct backoff_policy *p, unsigned tries,
                      int64_t elapsed_ms, uint64_t rnd);

#endif
