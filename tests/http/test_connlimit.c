/* Unit tests for the HTTP connection limits (connlimit.h): the address
 * keys (IPv6 per /64), exact per-address counts, absolute header deadlines
 * and eviction. Connections are socket pairs: a connection shut down by
 * the limits shows as the end of the stream on its peer. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/connlimit.h"

/* A fake client address. */
struct addr {
	struct sockaddr_storage ss;
};

/* Returns an address from its text (IPv4 or IPv6). */
static struct addr addr(const char *text)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.ss;

		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&a.ss;

		in4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &in4->sin_addr), 1);
	}
	return a;
}

#define SA(a) ((const struct sockaddr *)&(a).ss)

/* Returns true if the keys of two addresses are the same. */
static bool same_key(const char *x, const char *y)
{
	struct addr a = addr(x), b = addr(y);
	struct connlimit_key ka, kb;

	connlimit_key(SA(a), &ka);
	connlimit_key(SA(b), &kb);
	return ka.len == kb.len && memcmp(ka.addr, kb.addr, ka.len) == 0;
}

static void test_keys(void **state)
{
	struct connlimit_key k;
	struct addr a;

	(void)state;
	assert_true(same_key("192.0.2.1", "192.0.2.1"));
	assert_false(same_key("192.0.2.1", "192.0.2.2"));
	/* IPv6: one /64 is one client. */
	assert_true(same_key("2001:db8:1:2::1", "2001:db8:1:2:ffff:1:2:3"));
	assert_true(same_key("2001:db8:1:2::", "2001:db8:1:2:8000::"));
	assert_false(same_key("2001:db8:1:2::1", "2001:db8:1:3::1"));
	assert_false(same_key("2001:db8::1", "2001:db9::1"));
	/* An IPv4-mapped address is its IPv4 address, not ::ffff:0:0/64,
	 * which would lump every IPv4 client together. */
	assert_true(same_key("::ffff:192.0.2.1", "192.0.2.1"));
	assert_false(same_key("::ffff:192.0.2.1", "::ffff:192.0.2.2"));
	/* Families never mix. */
	assert_false(same_key("::c000:201", "192.0.2.1"));
	connlimit_key(NULL, &k);
	assert_int_equal(k.len, 0);
	a = addr("2001:db8::1");
	connlimit_key(SA(a), &k);
	assert_int_equal(k.len, 8);
}

/* A connection under test: its record, its socket and its peer's end. */
struct conn {
	struct connlimit_conn *c;
	int fd, peer;
	bool over;
};

/* Opens a connection from address text. */
static struct conn open_conn(struct connlimit *cl, const char *text)
{
	struct addr a = addr(text);
	struct conn k;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	k.fd = sv[0];
	k.peer = sv[1];
	k.c = connlimit_open(cl, k.fd, SA(a), &k.over);
	return k;
}

/* Closes a connection as the server would: forgotten, then closed. */
static void close_conn(struct connlimit *cl, struct conn *k)
{
	connlimit_close(cl, k->c);
	close(k->fd);
	close(k->peer);
}

/* Returns true if the connection was shut down within ms (its peer reads
 * the end of the stream). */
static bool shut_within(const struct conn *k, int ms)
{
	struct pollfd p = {.fd = k->peer, .events = POLLIN};
	char c;

	return poll(&p, 1, ms) == 1 && recv(k->peer, &c, 1, 0) == 0;
}

/* Returns the counts for address text. */
static void counts(struct connlimit *cl, const char *text, unsigned *total,
                   unsigned *per_ip)
{
	struct addr a = addr(text);

	connlimit_counts(cl, SA(a), total, per_ip);
}

static void test_per_ip_exact(void **state)
{
	struct connlimit_opts o = {100, 3, 60000, 60000};
	struct connlimit *cl;
	struct conn k[8];
	unsigned total, per_ip;
	char *cause = NULL;

	(void)state;
	cl = connlimit_new(&o, &cause);
	assert_non_null(cl);
	for (int i = 0; i < 3; i++) {
		k[i] = open_conn(cl, "192.0.2.7");
		assert_false(k[i].over);
	}
	k[3] = open_conn(cl, "192.0.2.7");
	assert_true(k[3].over);
	k[4] = open_conn(cl, "192.0.2.8");
	assert_false(k[4].over);
	/* Only the connections served count against the address. */
	counts(cl, "192.0.2.7", &total, &per_ip);
	assert_int_equal(total, 5);
	assert_int_equal(per_ip, 3);
	/* The refused one leaving frees nothing; a served one does. */
	close_conn(cl, &k[3]);
	k[3] = open_conn(cl, "192.0.2.7");
	assert_true(k[3].over);
	close_conn(cl, &k[3]);
	close_conn(cl, &k[0]);
	k[0] = open_conn(cl, "192.0.2.7");
	assert_false(k[0].over);
	counts(cl, "192.0.2.7", &total, &per_ip);
	assert_int_equal(per_ip, 3);
	/* IPv6: the third address of one /64 is over, another /64 is not. */
	k[5] = open_conn(cl, "2001:db8:0:1::1");
	k[6] = open_conn(cl, "2001:db8:0:1::2");
	k[7] = open_conn(cl, "2001:db8:0:1:abcd::3");
	assert_false(k[5].over || k[6].over || k[7].over);
	k[3] = open_conn(cl, "2001:db8:0:1::4");
	assert_true(k[3].over);
	close_conn(cl, &k[3]);
	k[3] = open_conn(cl, "2001:db8:0:2::1");
	assert_false(k[3].over);
	for (int i = 0; i < 8; i++)
		close_conn(cl, &k[i]);
	counts(cl, "192.0.2.7", &total, &per_ip);
	assert_int_equal(total, 0);
	assert_int_equal(per_ip, 0);
	connlimit_free(cl);
}

static void test_header_deadline(void **state)
{
	struct connlimit_opts o = {100, 100, 200, 400};
	struct connlimit *cl;
	struct conn slow, fast;
	unsigned total, per_ip;
	char *cause = NULL;

	(void)state;
	cl = connlimit_new(&o, &cause);
	assert_non_null(cl);
	slow = open_conn(cl, "192.0.2.1");
	fast = open_conn(cl, "192.0.2.1");
	connlimit_headers(cl, fast.c);
	/* The one still waiting for its headers is shut down (generous
	 * bound: the machine may be loaded), and uncounted at once. */
	assert_true(shut_within(&slow, 5000));
	counts(cl, "192.0.2.1", &total, &per_ip);
	assert_int_equal(total, 1);
	assert_int_equal(per_ip, 1);
	/* The one being answered has no deadline... */
	assert_false(shut_within(&fast, 600));
	/* ...until its response ends: then it waits for the next request's
	 * headers, for idle_ms. */
	connlimit_waiting(cl, fast.c);
	assert_true(shut_within(&fast, 5000));
	close_conn(cl, &slow);
	close_conn(cl, &fast);
	connlimit_free(cl);
}

static void test_eviction(void **state)
{
	struct connlimit_opts o = {3, 3, 60000, 60000};
	struct connlimit *cl;
	struct conn a, b, c, d, e, f;
	unsigned total, per_ip;
	char *cause = NULL;

	(void)state;
	cl = connlimit_new(&o, &cause);
	assert_non_null(cl);
	a = open_conn(cl, "192.0.2.1");
	b = open_conn(cl, "192.0.2.2");
	c = open_conn(cl, "192.0.2.3");
	connlimit_headers(cl, b.c); /* being answered: never evicted */
	/* Full: the newcomer takes the place of the one that has waited
	 * longest for its headers. */
	d = open_conn(cl, "192.0.2.4");
	assert_false(d.over);
	assert_true(shut_within(&a, 1000));
	assert_false(shut_within(&c, 0));
	counts(cl, "192.0.2.1", &total, &per_ip);
	assert_int_equal(total, 3);
	assert_int_equal(per_ip, 0);
	/* A kept-alive connection waiting for its next request counts as
	 * waiting since its response ended. */
	connlimit_headers(cl, c.c);
	connlimit_waiting(cl, c.c);
	e = open_conn(cl, "192.0.2.5");
	assert_false(e.over);
	assert_true(shut_within(&d, 1000));
	assert_false(shut_within(&c, 0));
	/* None waiting: the newcomer is over the limit. */
	connlimit_headers(cl, c.c);
	connlimit_headers(cl, e.c);
	f = open_conn(cl, "192.0.2.6");
	assert_true(f.over);
	assert_false(shut_within(&b, 0) || shut_within(&c, 0) ||
	             shut_within(&e, 0));
	close_conn(cl, &a);
	close_conn(cl, &b);
	close_conn(cl, &c);
	close_conn(cl, &d);
	close_conn(cl, &e);
	close_conn(cl, &f);
	connlimit_free(cl);
}

/* A newcomer over its address's limit makes room too when all is full,
 * so that connections waiting for headers never pile up. */
static void test_eviction_over_per_ip(void **state)
{
	struct connlimit_opts o = {2, 1, 60000, 60000};
	struct connlimit *cl;
	struct conn a, b, c;
	unsigned total, per_ip;
	char *cause = NULL;

	(void)state;
	cl = connlimit_new(&o, &cause);
	assert_non_null(cl);
	a = open_conn(cl, "192.0.2.1");
	connlimit_headers(cl, a.c);
	b = open_conn(cl, "192.0.2.2");
	c = open_conn(cl, "192.0.2.1");
	assert_true(c.over);
	assert_true(shut_within(&b, 1000));
	counts(cl, "192.0.2.1", &total, &per_ip);
	assert_int_equal(total, 2);
	assert_int_equal(per_ip, 1);
	close_conn(cl, &a);
	close_conn(cl, &b);
	close_conn(cl, &c);
	connlimit_free(cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_per_ip_exact),
	    cmocka_unit_test(test_header_deadline),
	    cmocka_unit_test(test_eviction),
	    cmocka_unit_test(test_eviction_over_per_ip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
