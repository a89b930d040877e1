/*
 * The HTTP server's connection limits (total, per address, header
 * deadlines; 503 with Retry-After over a limit), apart from
 * libmicrohttpd so that they can be tested on their own.
 *
 * - Counts: connections in total and per client address (IPv4 per
 *   address, IPv6 per /64, an IPv4-mapped IPv6 address as its IPv4
 *   address). A connection over max_per_ip, or over max_total when no
 *   connection can be evicted, is marked "over": the server answers its
 *   request with 503 and closes it. Only connections that are not over
 *   count against their address, so an address has exactly max_per_ip
 *   connections served at once.
 * - Header deadlines: a new connection must have sent complete request
 *   headers header_ms after it was accepted; a kept-alive connection
 *   must have sent the next request's headers idle_ms after the previous
 *   response. The deadline is absolute: bytes trickling in do not move it
 *   (libmicrohttpd's own timeout restarts on every byte). A reaper thread
 *   shuts down (shutdown(2), SHUT_RDWR) the connections past their
 *   deadline; the server's event loop then sees the end of the stream and
 *   closes them.
 * - Eviction: a new connection that finds max_total connections takes the
 *   place of the one that has waited longest for its headers (a new one or
 *   a kept-alive one), which is shut down at once, uncounted. It does so
 *   even if it is over its address's limit (it still gets its 503), so
 *   that connections waiting for headers never pile up past max_total.
 * - A descriptor is only ever shut down under the lock that
 *   connlimit_close also takes, and the server calls connlimit_close
 *   before it closes the descriptor: a descriptor number reused by a later
 *   connection is never touched.
 * - Repeated refusals are not logged one by one: they are counted (503s,
 *   refusals at accept, evictions, new connections past their header
 *   deadline; not idle kept-alive ones closed at idle_ms, which is the
 *   usual idle timeout), and the reaper writes one summary line at most
 *   every CONNLIMIT_SUMMARY_MS.
 *
 * Every function is thread-safe.
 */
#ifndef FISBOT_CONNLIMIT_H
#define FISBOT_CONNLIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* How often at most a summary of refusals is logged (ms). */
#define CONNLIMIT_SUMMARY_MS 10000

struct connlimit_opts {
	unsigned max_total;  /* connections at once */
	unsigned max_per_ip; /* connections at once per address (or /64) */
	uint64_t header_ms;  /* headers complete this long after accept */
	uint64_t idle_ms;    /* next request's headers, after a response */
};

/* What the summary line counts. */
enum connlimit_event {
	CONNLIMIT_ANSWERED_503, /* a connection over a limit got its 503 */
	CONNLIMIT_DROPPED,      /* refused at accept by libmicrohttpd */
	CONNLIMIT_EVENT_COUNT,
};

/* The key a client address is counted under. */
struct connlimit_key {
	unsigned char addr[16];
	unsigned len; /* 4: IPv4, 8: an IPv6 /64, 0: unknown */
};

struct connlimit;
struct connlimit_conn;

/* Starts the limits and their reaper thread. Returns NULL with *cause set
 * (the caller frees it) if the thread cannot start. */
struct connlimit *connlimit_new(const struct connlimit_opts *o, char **cause);

/* Stops the reaper and frees cl; every connection must have been closed
 * (connlimit_close). NULL is fine. */
void connlimit_free(struct connlimit *cl);

/*
 * Records a new connection on socket fd from address sa, waiting for its
 * headers; with sa NULL (an unknown address, or a trusted proxy's
 * connection, whose requests are counted per client: proxy.h), it is
 * counted in the total only. At max_total, evicts the connection
 * that has waited longest for its headers, if any. Sets *over if the new
 * connection is over a limit (its address's, or max_total with none to
 * evict). Returns its record for the calls below.
 */
struct connlimit_conn *connlimit_open(struct connlimit *cl, int fd,
                                      const struct sockaddr *sa, bool *over);

/* The connection's request headers are complete: no deadline while its
 * request is handled and answered. */
void connlimit_headers(struct connlimit *cl, struct connlimit_conn *c);

/* A response on the connection ended; it now waits for the headers of
 * the next request (keep-alive), for at most idle_ms. */
void connlimit_waiting(struct connlimit *cl, struct connlimit_conn *c);

/* The connection is closing: forgets it and frees c. To be called before
 * its descriptor is closed. */
void connlimit_close(struct connlimit *cl, struct connlimit_conn *c);

/* Counts an event for the summary line. */
void connlimit_count(struct connlimit *cl, enum connlimit_event ev);

/* Fills k with the key sa is counted under. */
void connlimit_key(const struct sockaddr *sa, struct connlimit_key *k);

/* Reports the current counts: connections counted in total, and those
 * counted against sa's key (for tests). */
void connlimit_counts(struct connlimit *cl, const struct sockaddr *sa,
                      unsigned *total, unsigned *per_ip);

#endif
