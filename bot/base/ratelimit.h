/*
 * Per-requester token buckets, so that no one requester can flood the bot:
 * each key (a room occupant or a JID) may send `burst` commands at once, then
 * `rate` per `per_ms`. Past the limit the first refusal says "slow down"
 * (RATELIMIT_WARN) and the next ones are silent (RATELIMIT_SILENT) until a
 * token is back. The table is bounded: idle entries (full buckets) are dropped
 * by ratelimit_expire, and when the table is full the least recently seen entry
 * makes room.
 */
#ifndef FISBOT_RATELIMIT_H
#define FISBOT_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_MAX_ENTRIES 4096

struct ratelimit;

enum ratelimit_verdict {
	RATELIMIT_OK,     /* a token was taken: serve the request */
	RATELIMIT_WARN,   /* over the limit: say "slow down" once */
	RATELIMIT_SILENT, /* over the limit and already warned: ignore */
};

/* Returns a new table: burst tokens, refilled at rate per per_ms. */
struct ratelimit *ratelimit_new(unsigned burst, unsigned rate, uint64_t per_ms);
void ratelimit_free(struct ratelimit *rl);
/* Changes the limits (a reloaded configuration); buckets are kept. */
void ratelimit_configure(struct ratelimit *rl, unsigned burst, unsigned rate,
                         uint64_t per_ms);
/* Takes one token for key at time now_ms (monotonic). When the verdict is
 * not RATELIMIT_OK, *retry_ms (if not NULL) is the wait for the next one. */
enum ratelimit_verdict ratelimit_take(struct ratelimit *rl, const char *key,
                                      uint64_t now_ms, uint64_t *retry_ms);
/* Drops the entries whose bucket is full again at now_ms. */
void ratelimit_expire(struct ratelimit *rl, uint64_t now_ms);
/* Returns the number of entries held (for tests). */
size_t ratelimit_count(const struct ratelimit *rl);

#endif
