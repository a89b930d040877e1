/*
 * The file server behind a reverse proxy: which peers are trusted
 * proxies ([http] trusted_proxies), the client a request of theirs is
 * for (the rightmost untrusted address of X-Forwarded-For), and the
 * per-client limit on such requests.
 *
 * - A connection from a trusted proxy carries the requests of many
 *   clients, one after another (nginx keeps its upstream connections
 *   alive and reuses them): it is counted in the total of connections but
 *   not against its address's max_per_ip. Each of its requests is
 *   counted instead, while it is being answered, against its forwarded
 *   client's address (IPv6 per /64, like connections): a client with
 *   max_per_ip requests in progress gets 503 for the next one.
 * - X-Forwarded-For is read from the right: each hop appends the address
 *   it got the request from, so only the entries a trusted proxy wrote
 *   can be believed. The client is the first entry, from the right, that
 *   is not a trusted proxy; with every entry trusted, the leftmost one;
 *   with no header, the peer. An entry that is not an address (garbage,
 *   "unknown", an obfuscated nginx identifier) ends the walk: the request
 *   is counted for the trusted hop that wrote it (the peer, or the entry
 *   on its right), so a malformed header neither names a client of its
 *   choosing nor escapes the limits. Entries may be "a.b.c.d",
 *   "a.b.c.d:port", an IPv6 address, "[v6]" or "[v6]:port"; at most
 *   PROXY_MAX_HOPS are looked at.
 */
#ifndef FISBOT_PROXY_H
#define FISBOT_PROXY_H

#include <stdbool.h>
#include <sys/socket.h>

#include "connlimit.h"
#include "fisbot/strlist.h"

/* Entries of X-Forwarded-For looked at, at most (from the right). */
#define PROXY_MAX_HOPS 32

struct proxy;
struct proxy_hold;

/* Parses the addresses and CIDR blocks of trusted (as [http]
 * trusted_proxies) and limits each forwarded client to max_per_client
 * requests at once. Returns NULL with *cause set on a bad entry. */
struct proxy *proxy_new(const struct strlist *trusted, unsigned max_per_client,
                        char **cause);

/* Frees p; every hold must have been released. NULL is fine. */
void proxy_free(struct proxy *p);

/* Returns true if sa is one of the trusted proxies. NULL p: none are. */
bool proxy_trusted(const struct proxy *p, const struct sockaddr *sa);

/* Sets *client to the client a request from peer with X-Forwarded-For
 * value xff (its headers joined with ", "; NULL if none) is for. */
void proxy_client(const struct proxy *p, const struct sockaddr *peer,
                  const char *xff, struct sockaddr_storage *client);

/* Counts a request for client while it is answered. Returns the hold to
 * release when it ends, or NULL if the client already has max_per_client
 * requests in progress (answer 503). */
struct proxy_hold *proxy_hold(struct proxy *p, const struct sockaddr *client);

/* Ends a request counted by proxy_hold. NULL is fine. */
void proxy_release(struct proxy *p, struct proxy_hold *hold);

/* Returns the hold of a request from a trusted proxy on connection c
 * (whose peer is peer), counted for its forwarded client (every
 * X-Forwarded-For header, in order); sets *over and returns NULL if that
 * client is at its limit. */
struct MHD_Connection;
struct proxy_hold *proxy_request(struct proxy *p, struct MHD_Connection *c,
                                 const struct sockaddr *peer, bool *over);

/* Returns the X-Accel-Redirect value for the file at path (relative to
 * the share): prefix, "/", then path with each component
 * percent-encoded (caller frees). */
char *proxy_accel_uri(const char *prefix, const char *path);

/* Returns the requests in progress counted against client (for tests). */
unsigned proxy_held(struct proxy *p, const struct sockaddr *client);

#endif
