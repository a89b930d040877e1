/*
 * The bandwidth caps of downloads ([transfers] max_rate for all of them
 * together, download_rate for each connection), apart from libmicrohttpd
 * so that the arithmetic can be tested on its own.
 *
 * - Reservations, not a bucket that fills up: every chunk a connection
 *   is about to send is given a start time on two schedules, the server's
 *   (one chunk after another at max_rate) and the connection's own (at
 *   download_rate); the chunk may go at the later of the two. Each
 *   connection has at most one chunk reserved, so connections waiting on
 *   the server's schedule take turns chunk by chunk: concurrent downloads
 *   share max_rate evenly. A schedule that fell behind now (a late
 *   wake-up, an idle connection) starts again from now less 50 ms: time
 *   lost to late wake-ups is made up, time unused is not saved up beyond
 *   that, so no burst exceeds 50 ms at the cap.
 * - Chunks are a twentieth of the smallest cap (between PACER_MIN_CHUNK
 *   and the caller's block), so a connection waits about 50 ms between
 *   chunks and the rate over any window of a second or more is the cap.
 * - Waiting: the caller suspends its connection (libmicrohttpd's
 *   MHD_suspend_connection) and hands it to pacer_wait with the time it
 *   may go on; the pacer's thread sleeps until the earliest such time and
 *   calls the wake function then (MHD_resume_connection). No busy loop,
 *   no thread per download; without caps pacer_take answers at once and
 *   nothing waits.
 * - The bytes sent are counted in one-second buckets for the current rate
 *   (stats).
 *
 * Every function is thread-safe.
 */
#ifndef FISBOT_PACER_H
#define FISBOT_PACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PACER_MIN_CHUNK 4096
/* Seconds over which pacer_rate averages. */
#define PACER_RATE_WINDOW 5

struct pacer;

/* One connection's schedule and waiting state (zeroed by its owner). */
struct pacer_conn {
	int64_t next_us; /* its own schedule: the next chunk's start */
	size_t granted;  /* bytes reserved, to send when woken */
	bool waiting;    /* in the pacer's list, until woken */
	int64_t due_us;
	void (*wake)(void *arg);
	void *arg;
	struct pacer_conn *wnext;
};

/* Returns a pacer with no caps; its thread starts with the first wait. */
struct pacer *pacer_new(void);
/* Wakes every waiting connection and stops the thread: from now on
 * nothing waits (the server stops after this, so that no connection is
 * left suspended). */
void pacer_stop(struct pacer *p);
/* Frees the pacer (stopped first if it was not); NULL is fine. */
void pacer_free(struct pacer *p);

/* Sets the caps in bytes/s (0 = none); takes effect with the next
 * chunk. */
void pacer_set_rates(struct pacer *p, uint64_t max_rate,
                     uint64_t download_rate);
/* Returns true if either cap is set. */
bool pacer_capped(struct pacer *p);

/*
 * Asks for up to want bytes for connection pc at now_us (monotonic,
 * microseconds). Returns how many it may send now (at least 1, at most
 * want), or 0 if it must wait: then *due_us is when, and the bytes are
 * reserved for it (the call after the wait returns them at once). Once
 * stopped (pacer_stop), never 0.
 */
size_t pacer_take(struct pacer *p, struct pacer_conn *pc, size_t want,
                  int64_t now_us, int64_t *due_us);

/*
 * Calls wake(arg) from the pacer's thread at pc's due time (the one
 * pacer_take gave). Returns false if the pacer is stopping: then the
 * caller must not wait (nothing will wake it).
 */
bool pacer_wait(struct pacer *p, struct pacer_conn *pc, void (*wake)(void *),
                void *arg);

/* Forgets pc (its connection ended): it is never woken after this. */
void pacer_forget(struct pacer *p, struct pacer_conn *pc);

/* Counts n bytes sent at now_us. */
void pacer_count(struct pacer *p, size_t n, int64_t now_us);
/* Returns the bytes/s sent over the last PACER_RATE_WINDOW full seconds
 * before now_us. */
uint64_t pacer_rate(struct pacer *p, int64_t now_us);

#endif
