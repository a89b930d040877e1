/*
 * The file server behind a reverse proxy (see proxy.h for the design).
 *
 * Trusted proxies are kept as a list of prefixes (address bytes and a
 * length in bits), IPv4-mapped IPv6 peers compared as IPv4. The requests
 * in progress per client are counted in a tsearch tree keyed like the
 * connection limits (connlimit_key: IPv4 address, IPv6 /64), under one
 * mutex; a key is removed when its count falls to zero.
 */
#define _GNU_SOURCE
#include "proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "fisbot/text.h"

/* One trusted address or block. */
struct prefix {
	unsigned char addr[16];
	int family; /* AF_INET or AF_INET6 */
	unsigned bits;
};

/* Requests in progress for one client key. */
struct proxy_hold {
	struct connlimit_key key;
	unsigned n;
};

struct proxy {
	struct prefix *trusted;
	size_t n_trusted;
	unsigned max;
	pthread_mutex_t lock; /* guards clients */
	void *clients;        /* tsearch tree of struct proxy_hold */
};

/* Parses an address ("a.b.c.d" or an IPv6 one) into addr and *family. */
static bool parse_ip(const char *s, unsigned char addr[16], int *family)
{
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		return true;
	}
	return false;
}

/* Parses "ADDR" or "ADDR/BITS" into pf. */
static bool parse_prefix(const char *s, struct prefix *pf)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long bits;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (!parse_ip(buf, pf->addr, &pf->family))
		return false;
	pf->bits = pf->family == AF_INET ? 32 : 128;
	if (slash == NULL)
		return true;
	if (!isdigit((unsigned char)slash[1]))
		return false;
	bits = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || bits > pf->bits)
		return false;
	pf->bits = (unsigned)bits;
	return true;
}

struct proxy *proxy_new(const struct strlist *trusted, unsigned max_per_client,
                        char **cause)
{
	struct proxy *p = xcalloc(1, sizeof(*p));

	p->max = max_per_client;
	pthread_mutex_init(&p->lock, NULL);
	if (trusted->n > 0)
		p->trusted =
		    xreallocarray(NULL, trusted->n, sizeof(*p->trusted));
	for (size_t i = 0; i < trusted->n; i++) {
		if (!parse_prefix(trusted->v[i], &p->trusted[i])) {
			*cause = xasprintf("[http] trusted_proxies: \"%s\" is "
			                   "not an address or a CIDR block",
			                   trusted->v[i]);
			proxy_free(p);
			return NULL;
		}
		p->n_trusted++;
	}
	return p;
}

/* Frees a node of the clients tree (proxy_free). */
static void free_hold(void *node)
{
	free(node);
}

void proxy_free(struct proxy *p)
{
	if (p == NULL)
		return;
	tdestroy(p->clients, free_hold);
	pthread_mutex_destroy(&p->lock);
	free(p->trusted);
	free(p);
}

/* Returns true if the first bits of a and b are the same. */
static bool same_bits(const unsigned char *a, const unsigned char *b,
                      unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* Returns true if the address (family, bytes) is trusted. */
static bool addr_trusted(const struct proxy *p, int family,
                         const unsigned char *addr)
{
	for (size_t i = 0; i < p->n_trusted; i++)
		if (p->trusted[i].family == family &&
		    same_bits(p->trusted[i].addr, addr, p->trusted[i].bits))
			return true;
	return false;
}

/* Reads the family and bytes of sa, an IPv4-mapped IPv6 address as IPv4.
 * Returns false for other families. */
static bool sa_bytes(const struct sockaddr *sa, int *family,
                     unsigned char addr[16])
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		memcpy(&in4, sa, sizeof(in4));
		memcpy(addr, &in4.sin_addr, 4);
		*family = AF_INET;
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	memcpy(&in6, sa, sizeof(in6));
	if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
		memcpy(addr, in6.sin6_addr.s6_addr + 12, 4);
		*family = AF_INET;
	} else {
		memcpy(addr, in6.sin6_addr.s6_addr, 16);
		*family = AF_INET6;
	}
	return true;
}

bool proxy_trusted(const struct proxy *p, const struct sockaddr *sa)
{
	unsigned char addr[16];
	int family;

	return p != NULL && p->n_trusted > 0 && sa_bytes(sa, &family, addr) &&
	       addr_trusted(p, family, addr);
}

/* Writes the address (family, bytes) into ss as a sockaddr, port 0. */
static void make_sa(int family, const unsigned char *addr,
                    struct sockaddr_storage *ss)
{
	struct sockaddr_in in4 = {0};
	struct sockaddr_in6 in6 = {0};

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		in4.sin_family = AF_INET;
		memcpy(&in4.sin_addr, addr, 4);
		memcpy(ss, &in4, sizeof(in4));
	} else {
		in6.sin6_family = AF_INET6;
		memcpy(&in6.sin6_addr, addr, 16);
		memcpy(ss, &in6, sizeof(in6));
	}
}

/* Parses one X-Forwarded-For entry (s, len bytes, trimmed): an address,
 * "a.b.c.d:port", "[v6]" or "[v6]:port". */
static bool parse_entry(const char *s, size_t len, int *family,
                        unsigned char addr[16])
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *colon, *close;
	size_t i;

	if (len == 0 || len >= sizeof(buf))
		return false;
	if (s[0] == '[') {
		close = memchr(s, ']', len);
		if (close == NULL)
			return false;
		i = (size_t)(close - s);
		if (i + 1 < len) { /* "]:port" */
			if (s[i + 1] != ':' || i + 2 == len)
				return false;
			for (size_t j = i + 2; j < len; j++)
				if (!isdigit((unsigned char)s[j]))
					return false;
		}
		memcpy(buf, s + 1, i - 1);
		buf[i - 1] = '\0';
		return inet_pton(AF_INET6, buf, addr) == 1 &&
		       (*family = AF_INET6, true);
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	colon = strchr(buf, ':');
	if (colon != NULL && strchr(colon + 1, ':') == NULL &&
	    strchr(buf, '.') != NULL) {
		/* "a.b.c.d:port" */
		if (colon[1] == '\0')
			return false;
		for (const char *d = colon + 1; *d; d++)
			if (!isdigit((unsigned char)*d))
				return false;
		buf[colon - buf] = '\0';
		if (inet_pton(AF_INET, buf, addr) != 1)
			return false;
		*family = AF_INET;
		return true;
	}
	if (!parse_ip(buf, addr, family))
		return false;
	if (*family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((void *)addr)) {
		memmove(addr, addr + 12, 4);
		*family = AF_INET;
	}
	return true;
}

/* Returns true if c may appear unencoded in a component of an
 * X-Accel-Redirect path: the unreserved characters only, so that nginx,
 * which decodes the value once, finds the exact name. */
static bool accel_keep(unsigned char c)
{
	return text_url_unreserved(c);
}

/* Returns true for the spaces allowed around list elements (OWS). */
static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

void proxy_client(const struct proxy *p, const struct sockaddr *peer,
                  const char *xff, struct sockaddr_storage *client)
{
	unsigned char hop[16], addr[16];
	const char *end, *start;
	int hop_family, family;
	size_t len;

	memset(client, 0, sizeof(*client));
	if (!sa_bytes(peer, &hop_family, hop)) {
		if (peer != NULL && peer->sa_family == AF_INET6)
			memcpy(client, peer, sizeof(struct sockaddr_in6));
		else if (peer != NULL && peer->sa_family == AF_INET)
			memcpy(client, peer, sizeof(struct sockaddr_in));
		return;
	}
	if (p == NULL || xff == NULL || !addr_trusted(p, hop_family, hop))
		goto done;
	end = xff + strlen(xff);
	for (unsigned hops = 0; end > xff; hops++) {
		/* The entry before end: from after the previous ',' on. */
		start = end;
		while (start > xff && start[-1] != ',')
			start--;
		len = (size_t)(end - start);
		end = start > xff ? start - 1 : xff;
		while (len > 0 && is_ows(*start))
			start++, len--;
		while (len > 0 && is_ows(start[len - 1]))
			len--;
		if (len == 0 && end > xff)
			continue; /* an empty element ("a, , b") */
		if (hops >= PROXY_MAX_HOPS ||
		    !parse_entry(start, len, &family, addr))
			break; /* counted for the hop that wrote it */
		memcpy(hop, addr, 16);
		hop_family = family;
		if (!addr_trusted(p, family, addr))
			break;
	}
done:
	make_sa(hop_family, hop, client);
}

/* Orders the clients tree by key. */
static int cmp_hold(const void *a, const void *b)
{
	const struct proxy_hold *x = a, *y = b;

	if (x->key.len != y->key.len)
		return x->key.len < y->key.len ? -1 : 1;
	return memcmp(x->key.addr, y->key.addr, x->key.len);
}

struct proxy_hold *proxy_hold(struct proxy *p, const struct sockaddr *client)
{
	struct proxy_hold k = {0}, **found;

	connlimit_key(client, &k.key);
	pthread_mutex_lock(&p->lock);
	found = tsearch(&k, &p->clients, cmp_hold);
	if (found == NULL)
		fatalx("http: out of memory");
	if (*found == &k) {
		*found = xmalloc(sizeof(k));
		**found = k;
	}
	if ((*found)->n >= p->max) {
		if ((*found)->n == 0) { /* max 0: nothing is allowed */
			struct proxy_hold *node = *found;

			tdelete(node, &p->clients, cmp_hold);
			free(node);
		}
		pthread_mutex_unlock(&p->lock);
		return NULL;
	}
	(*found)->n++;
	pthread_mutex_unlock(&p->lock);
	return *found;
}

void proxy_release(struct proxy *p, struct proxy_hold *hold)
{
	if (hold == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	if (--hold->n == 0) {
		tdelete(hold, &p->clients, cmp_hold);
		free(hold);
	}
	pthread_mutex_unlock(&p->lock);
}

unsigned proxy_held(struct proxy *p, const struct sockaddr *client)
{
	struct proxy_hold k = {0}, **found;
	unsigned n;

	connlimit_key(client, &k.key);
	pthread_mutex_lock(&p->lock);
	found = tfind(&k, &p->clients, cmp_hold);
	n = found ? (*found)->n : 0;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* The X-Forwarded-For headers of a request, joined (proxy_request). */
struct xff_join {
	char *v;
	size_t len;
};

/* Appends one X-Forwarded-For header's value to a join. */
static enum MHD_Result join_xff(void *cls, enum MHD_ValueKind kind,
                                const char *key, const char *value)
{
	struct xff_join *j = cls;
	size_t n;

	(void)kind;
	if (key == NULL || value == NULL ||
	    strcasecmp(key, "X-Forwarded-For") != 0)
		return MHD_YES;
	n = strlen(value);
	j->v = xreallocarray(j->v, 1, j->len + n + 3);
	if (j->len > 0) {
		memcpy(j->v + j->len, ", ", 2);
		j->len += 2;
	}
	memcpy(j->v + j->len, value, n + 1);
	j->len += n;
	return MHD_YES;
}

struct proxy_hold *proxy_request(struct proxy *p, struct MHD_Connection *c,
                                 const struct sockaddr *peer, bool *over)
{
	struct xff_join j = {NULL, 0};
	struct sockaddr_storage client;
	struct proxy_hold *hold;

	MHD_get_connection_values(c, MHD_HEADER_KIND, join_xff, &j);
	proxy_client(p, peer, j.v, &client);
	free(j.v);
	hold = proxy_hold(p, (struct sockaddr *)&client);
	*over = hold == NULL;
	return hold;
}

char *proxy_accel_uri(const char *prefix, const char *path)
{
	size_t cap = strlen(prefix) + 2, len;
	const char *s = path, *slash;
	char *out = xmalloc(cap), *enc;

	len = (size_t)snprintf(out, cap, "%s", prefix);
	do {
		slash = strchr(s, '/');
		enc = text_pct_encode(
		    s, slash ? (size_t)(slash - s) : strlen(s), accel_keep);
		cap = len + strlen(enc) + 2;
		out = xreallocarray(out, 1, cap);
		len += (size_t)snprintf(out + len, cap - len, "/%s", enc);
		free(enc);
		s = slash ? slash + 1 : NULL;
	} while (s != NULL);
	return out;
}
