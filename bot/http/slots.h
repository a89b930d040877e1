/*
 * Download slots ([transfers] slots, slots_per_user, slot_hold): which
 * links are being downloaded now, by whom, and whether one more may start.
 *
 * - A slot belongs to a link (its token's MAC, 16 bytes): every connection
 *   of one link (the Range requests of a segmented downloader) shares it.
 *   It is taken when a response with a body starts and given back when
 *   the link's last such response ends, after SLOTS_LINGER_MS (a
 *   downloader between two ranges keeps its slot).
 * - Links carry their requester (a 64-bit tag, token.h; 0 for a link
 *   made without one): slots_per_user counts a requester's links.
 * - A hold keeps a slot for a requester for slot_hold (the chat side's
 *   queue handed it a link): it counts as a slot in use, and the
 *   requester's next download takes it.
 * - When a slot comes free, on_free is called (from the thread that
 *   freed it, without the lock): the chat side then hands the slot to the
 *   queue. Lingering and expired holds are noticed by the next call that
 *   looks (slots_sweep does it from a timer).
 *
 * Every function is thread-safe; times are monotonic milliseconds.
 */
#ifndef FISBOT_SLOTS_H
#define FISBOT_SLOTS_H

#include <stdbool.h>
#include <stdint.h>

#define SLOTS_KEY_LEN   16
#define SLOTS_LINGER_MS 1000

struct slots;

/* Usage now: slots in use (downloads, lingering links and holds). */
struct slots_usage {
	unsigned used;   /* in all */
	unsigned held;   /* of which holds */
	unsigned limit;  /* [transfers] slots; 0 = unlimited */
	unsigned active; /* links with a response being sent */
};

/* Returns an empty table; on_free(arg) is called when a slot frees (may be
 * NULL). */
struct slots *slots_new(void (*on_free)(void *arg), void *arg);
void slots_free(struct slots *s);

/* Sets the limits (0 = unlimited) and the hold time. */
void slots_configure(struct slots *s, unsigned slots, unsigned per_user,
                     uint64_t hold_ms);

/*
 * A response with a body starts on link key of requester user at now.
 * Returns true if it may go (the link holds a slot, now or already), or
 * false if it would exceed a limit; then *retry_s is a guess of when to
 * try again.
 */
bool slots_acquire(struct slots *s, const unsigned char key[SLOTS_KEY_LEN],
                   uint64_t user, int64_t now, unsigned *retry_s);
/* That response ended (whether sent in full or not). */
void slots_release(struct slots *s, const unsigned char key[SLOTS_KEY_LEN],
                   int64_t now);

/* Returns true if a new download by user could start now. */
bool slots_available(struct slots *s, uint64_t user, int64_t now);
/* Holds a slot for user for the configured hold time. */
void slots_hold(struct slots *s, uint64_t user, int64_t now);
/* Drops user's hold, if any (the queued requester cancelled or left). */
void slots_unhold(struct slots *s, uint64_t user, int64_t now);

/* Ends lingering slots and expired holds (calling on_free if any ended). */
void slots_sweep(struct slots *s, int64_t now);
/* Fills *u. */
void slots_get_usage(struct slots *s, int64_t now, struct slots_usage *u);
/* Returns the mean seconds a slot was held, over the last downloads (a
 * default before the first). */
unsigned slots_mean_s(struct slots *s);

#endif
