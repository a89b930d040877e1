/*
 * The IQ budget: every IQ get/set a requester sends takes a token
 * from its own bucket ([limits] iq_burst, then iq_rate). Past it the IQ is
 * refused with a wait/resource-constraint error, and those errors are
 * themselves capped per requester (iq_burst a minute): beyond that the IQ
 * is dropped without an answer. Both tables are ratelimit tables, so they
 * are bounded in memory however many JIDs send.
 */
#ifndef FISBOT_BUDGET_H
#define FISBOT_BUDGET_H

#include <stddef.h>
#include <stdint.h>

struct budget;

enum budget_verdict {
	BUDGET_SERVE,  /* within the budget: answer the IQ */
	BUDGET_REFUSE, /* over it: answer wait/resource-constraint */
	BUDGET_DROP,   /* over it and over the error cap: no answer */
};

/* Returns a new budget: burst IQs at once, then rate per per_ms. */
struct budget *budget_new(unsigned burst, unsigned rate, uint64_t per_ms);
void budget_free(struct budget *b);
/* Changes the limits (a reloaded configuration); buckets are kept. */
void budget_configure(struct budget *b, unsigned burst, unsigned rate,
                      uint64_t per_ms);
/* Charges one IQ from key at now_ms (monotonic) and says what to do. */
enum budget_verdict budget_take(struct budget *b, const char *key,
                                uint64_t now_ms);
/* Drops the buckets that are full again (idle requesters). */
void budget_expire(struct budget *b, uint64_t now_ms);
/* Returns how many IQs were refused and dropped since the last call, and
 * resets the counts; *last (if not NULL) is the last requester over its
 * budget (inside b, valid until the next budget_take), or NULL. */
void budget_report(struct budget *b, uint64_t *refused, uint64_t *dropped,
                   const char **last);
/* Returns the number of requesters held, both tables together (tests). */
size_t budget_count(const struct budget *b);

#endif
