/*
 * The IQ budget (see budget.h): two ratelimit tables, one for the IQs and
 * one for the errors that refuse them, and counts for the log summary.
 */
#include <stdlib.h>
#include <string.h>

#include "base/ratelimit.h"
#include "budget.h"
#include "fisbot/alloc.h"

#define ERRORS_PER_MS 60000 /* the error cap: iq_burst per minute */

struct budget {
	struct ratelimit *iqs;
	struct ratelimit *errors;
	uint64_t refused, dropped;
	char *last; /* the last requester over its budget */
};

/* Allocates a budget with empty tables. */
struct budget *budget_new(unsigned burst, unsigned rate, uint64_t per_ms)
{
	struct budget *b = xcalloc(1, sizeof(*b));

	b->iqs = ratelimit_new(burst, rate, per_ms);
	b->errors = ratelimit_new(burst, burst, ERRORS_PER_MS);
	return b;
}

/* Frees the budget and its tables. */
void budget_free(struct budget *b)
{
	if (b == NULL)
		return;
	ratelimit_free(b->iqs);
	ratelimit_free(b->errors);
	free(b->last);
	free(b);
}

/* Applies new limits to both tables. */
void budget_configure(struct budget *b, unsigned burst, unsigned rate,
                      uint64_t per_ms)
{
	ratelimit_configure(b->iqs, burst, rate, per_ms);
	ratelimit_configure(b->errors, burst, burst, ERRORS_PER_MS);
}

/* Charges the IQ bucket, then (over it) the error bucket. */
enum budget_verdict budget_take(struct budget *b, const char *key,
                                uint64_t now_ms)
{
	if (ratelimit_take(b->iqs, key, now_ms, NULL) == RATELIMIT_OK)
		return BUDGET_SERVE;
	if (b->last == NULL || strcmp(b->last, key) != 0) {
		free(b->last);
		b->last = xstrdup(key);
	}
	if (ratelimit_take(b->errors, key, now_ms, NULL) == RATELIMIT_OK) {
		b->refused++;
		return BUDGET_REFUSE;
	}
	b->dropped++;
	return BUDGET_DROP;
}

/* Forgets the requesters whose buckets are full again. */
void budget_expire(struct budget *b, uint64_t now_ms)
{
	ratelimit_expire(b->iqs, now_ms);
	ratelimit_expire(b->errors, now_ms);
}

/* Hands out and resets the counts. */
void budget_report(struct budget *b, uint64_t *refused, uint64_t *dropped,
                   const char **last)
{
	*refused = b->refused;
	*dropped = b->dropped;
	if (last != NULL)
		*last = b->last;
	b->refused = 0;
	b->dropped = 0;
}

/* Returns the entries of both tables. */
size_t budget_count(const struct budget *b)
{
	return ratelimit_count(b->iqs) + ratelimit_count(b->errors);
}
