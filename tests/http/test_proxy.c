/* Unit tests for the reverse-proxy support (proxy.h): trusted addresses
 * and blocks, the client named by X-Forwarded-For (the rightmost
 * untrusted entry), malformed headers (fuzzed: never a crash, never a
 * client of the sender's choosing), the per-client request counts and the
 * X-Accel-Redirect path. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "fisbot/alloc.h"
#include "fisbot/strlist.h"
#include "http/proxy.h"

/* Writes the address in text into ss. */
static void addr(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)ss;

		in4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &in4->sin_addr), 1);
	}
}

/* Formats the address in ss (static buffer). */
static const char *text_of(const struct sockaddr_storage *ss)
{
	static char buf[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		          buf, sizeof(buf));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6,
		          &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
		          sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "family %d", ss->ss_family);
	return buf;
}

/* Returns a proxy trusting the comma-separated list. */
static struct proxy *make(const char *list, unsigned max)
{
	struct strlist l = {0};
	char *copy = xstrdup(list), *save = NULL, *tok;
	struct proxy *p;
	char *cause = NULL;

	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save))
		strlist_add(&l, tok);
	p = proxy_new(&l, max, &cause);
	assert_non_null(p);
	strlist_free(&l);
	free(copy);
	return p;
}

/* Returns the client (as text) for a request from peer with xff. */
static const char *client(struct proxy *p, const char *peer, const char *xff)
{
	struct sockaddr_storage ps, cs;

	addr(peer, &ps);
	proxy_client(p, (struct sockaddr *)&ps, xff, &cs);
	return text_of(&cs);
}

static void test_trusted(void **state)
{
	struct proxy *p =
	    make("127.0.0.1,10.0.0.0/8,fd00::/64,192.168.1.0/25", 1);
	struct sockaddr_storage ss;
	static const struct {
		const char *a;
		bool trusted;
	} cases[] = {
	    {"127.0.0.1", true},      {"127.0.0.2", false},
	    {"10.200.3.4", true},     {"11.0.0.1", false},
	    {"192.168.1.127", true},  {"192.168.1.128", false},
	    {"fd00::1", true},        {"fd00::ffff:1", true},
	    {"fd00:0:0:1::1", false}, {"::ffff:127.0.0.1", true},
	    {"::1", false},
	};
	char *cause = NULL;
	struct strlist bad = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		addr(cases[i].a, &ss);
		assert_int_equal(proxy_trusted(p, (struct sockaddr *)&ss),
		                 cases[i].trusted);
	}
	proxy_free(p);
	/* No list: nothing is trusted. */
	p = make("", 1);
	addr("127.0.0.1", &ss);
	assert_false(proxy_trusted(p, (struct sockaddr *)&ss));
	assert_false(proxy_trusted(NULL, (struct sockaddr *)&ss));
	proxy_free(p);
	/* A bad entry is a clear error. */
	strlist_add(&bad, "10.0.0.0/33");
	assert_null(proxy_new(&bad, 1, &cause));
	assert_non_null(strstr(cause, "10.0.0.0/33"));
	free(cause);
	strlist_free(&bad);
}

static void test_client(void **state)
{
	struct proxy *p = make("127.0.0.0/8,::1", 1);
	static const struct {
		const char *peer, *xff, *want;
	} cases[] = {
	    /* Not a trusted peer: its header means nothing. */
	    {"203.0.113.9", "1.2.3.4", "203.0.113.9"},
	    /* No header, or an empty one: the peer. */
	    {"127.0.0.1", NULL, "127.0.0.1"},
	    {"127.0.0.1", "", "127.0.0.1"},
	    {"127.0.0.1", "1.2.3.4", "1.2.3.4"},
	    /* The rightmost untrusted one: what the client wrote itself
	     * (left of it) is not believed. */
	    {"127.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4"},
	    {"127.0.0.1", "6.6.6.6,1.2.3.4,127.0.0.7", "1.2.3.4"},
	    {"127.0.0.1", "6.6.6.6 ,\t1.2.3.4\t, ::1 ", "1.2.3.4"},
	    /* Every entry trusted: the leftmost. */
	    {"127.0.0.1", "127.0.0.3, 127.0.0.2", "127.0.0.3"},
	    /* Ports and brackets. */
	    {"127.0.0.1", "1.2.3.4:5678", "1.2.3.4"},
	    {"127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"},
	    {"127.0.0.1", "[2001:db8::2]", "2001:db8::2"},
	    {"127.0.0.1", "2001:db8::3", "2001:db8::3"},
	    {"127.0.0.1", "::ffff:1.2.3.4", "1.2.3.4"},
	    {"::1", "1.2.3.4", "1.2.3.4"},
	    {"::ffff:127.0.0.1", "1.2.3.4", "1.2.3.4"},
	    /* Malformed: counted for the trusted hop that wrote it. */
	    {"127.0.0.1", "garbage", "127.0.0.1"},
	    {"127.0.0.1", "unknown, 127.0.0.5", "127.0.0.5"},
	    {"127.0.0.1", "1.2.3.4, garbage", "127.0.0.1"},
	    {"127.0.0.1", "1.2.3.4:", "127.0.0.1"},
	    {"127.0.0.1", "1.2.3.4:x", "127.0.0.1"},
	    {"127.0.0.1", "[2001:db8::1", "127.0.0.1"},
	    {"127.0.0.1", "[2001:db8::1]x", "127.0.0.1"},
	    {"127.0.0.1", "[1.2.3.4]", "127.0.0.1"},
	    {"127.0.0.1", "1.2.3.4.5", "127.0.0.1"},
	    {"127.0.0.1", "01.2.3.4", "127.0.0.1"},
	    {"127.0.0.1", "1.2.3.4/8", "127.0.0.1"},
	    {"127.0.0.1", "1.2.3.4 5.6.7.8", "127.0.0.1"},
	    {"127.0.0.1", ",", "127.0.0.1"},
	    {"127.0.0.1", ",,, ,", "127.0.0.1"},
	    {"127.0.0.1", "1.2.3.4,", "1.2.3.4"},
	    {"127.0.0.1", "[]", "127.0.0.1"},
	    {"127.0.0.1", "[", "127.0.0.1"},
	    {"127.0.0.1", "]:1", "127.0.0.1"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = client(p, cases[i].peer, cases[i].xff);

		if (strcmp(got, cases[i].want) != 0)
			fail_msg(
			    "peer %s, X-Forwarded-For \"%s\": got %s, want "
			    "%s",
			    cases[i].peer,
			    cases[i].xff ? cases[i].xff : "(none)", got,
			    cases[i].want);
	}
	proxy_free(p);
}

static void test_many_hops(void **state)
{
	struct proxy *p = make("127.0.0.0/8", 1);
	char *xff = xstrdup("9.9.9.9");
	char *next;

	(void)state;
	/* The client, then more trusted hops than are looked at: counted
	 * for the last hop looked at, never for the client the leftmost
	 * entry names. */
	for (int i = 0; i < 2 * PROXY_MAX_HOPS; i++) {
		next = xasprintf("%s, 127.0.0.%d", xff, 2 + i % 200);
		free(xff);
		xff = next;
	}
	assert_string_not_equal(client(p, "127.0.0.1", xff), "9.9.9.9");
	assert_int_equal(strncmp(client(p, "127.0.0.1", xff), "127.", 4), 0);
	free(xff);
	/* A huge header is walked from the right only as far as needed. */
	xff = xmalloc(1 << 20);
	memset(xff, ',', (1 << 20) - 16);
	strcpy(xff + (1 << 20) - 16, "1.2.3.4");
	assert_string_equal(client(p, "127.0.0.1", xff), "1.2.3.4");
	free(xff);
	proxy_free(p);
}

/* Returns true if text, split at commas, has an entry that contains the
 * address want. */
static bool named_in(const char *text, const char *want)
{
	return strstr(text, want) != NULL;
}

static void test_fuzz(void **state)
{
	static const char alphabet[] = "0123456789abcdef.:,[] \tx";
	struct proxy *p = make("127.0.0.0/8,10.0.0.0/8,fd00::/16", 1);
	unsigned seed = 16;
	char buf[160];

	(void)state;
	for (int iter = 0; iter < 200000; iter++) {
		size_t len = (size_t)rand_r(&seed) % (sizeof(buf) - 1);
		const char *got;

		for (size_t i = 0; i < len; i++) {
			int r = rand_r(&seed);

			/* Mostly the alphabet, sometimes any byte. */
			buf[i] = (r & 0xf00) == 0
			             ? (char)(1 + r % 255)
			             : alphabet[r % (sizeof(alphabet) - 1)];
		}
		buf[len] = '\0';
		got = client(p, "127.0.0.1", buf);
		/* The client is the peer or an address the header names. */
		/* An IPv4 address has one spelling (inet_pton takes no
		 * leading zeros): it is in the header as it is. IPv6 ones
		 * have several; the other tests cover them. */
		if (strcmp(got, "127.0.0.1") != 0 && strchr(got, ':') == NULL &&
		    !named_in(buf, got))
			fail_msg("\"%s\" gave %s", buf, got);
		/* An untrusted peer is never replaced. */
		assert_string_equal(client(p, "203.0.113.1", buf),
		                    "203.0.113.1");
	}
	/* Appending the real client's address always wins, whatever came
	 * before it (what nginx's $proxy_add_x_forwarded_for does). */
	for (int iter = 0; iter < 50000; iter++) {
		size_t len = (size_t)rand_r(&seed) % 100;
		char full[200];

		for (size_t i = 0; i < len; i++)
			buf[i] =
			    alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		buf[len] = '\0';
		snprintf(full, sizeof(full), "%s, 198.51.100.7", buf);
		assert_string_equal(client(p, "127.0.0.1", full),
		                    "198.51.100.7");
	}
	proxy_free(p);
}

static void test_holds(void **state)
{
	struct proxy *p = make("127.0.0.1", 2);
	struct sockaddr_storage a, a2, b, v6a, v6b;
	struct proxy_hold *h1, *h2, *h3, *h4;

	(void)state;
	addr("1.2.3.4", &a);
	addr("1.2.3.4", &a2);
	addr("5.6.7.8", &b);
	addr("2001:db8:1:2::1", &v6a);
	addr("2001:db8:1:2::ffff", &v6b);
	h1 = proxy_hold(p, (struct sockaddr *)&a);
	h2 = proxy_hold(p, (struct sockaddr *)&a2);
	assert_non_null(h1);
	assert_non_null(h2);
	assert_null(proxy_hold(p, (struct sockaddr *)&a));
	assert_int_equal(proxy_held(p, (struct sockaddr *)&a), 2);
	/* Another client is counted on its own. */
	h3 = proxy_hold(p, (struct sockaddr *)&b);
	assert_non_null(h3);
	proxy_release(p, h1);
	h1 = proxy_hold(p, (struct sockaddr *)&a);
	assert_non_null(h1);
	/* IPv6 per /64. */
	h4 = proxy_hold(p, (struct sockaddr *)&v6a);
	assert_non_null(h4);
	proxy_release(p, proxy_hold(p, (struct sockaddr *)&v6b));
	assert_int_equal(proxy_held(p, (struct sockaddr *)&v6b), 1);
	proxy_release(p, h1);
	proxy_release(p, h2);
	proxy_release(p, h3);
	proxy_release(p, h4);
	proxy_release(p, NULL);
	assert_int_equal(proxy_held(p, (struct sockaddr *)&a), 0);
	proxy_free(p);
}

static void test_accel_uri(void **state)
{
	static const struct {
		const char *prefix, *path, *want;
	} cases[] = {
	    {"/fisbot-files", "a.bin", "/fisbot-files/a.bin"},
	    {"/x", "dir/sub/a b.bin", "/x/dir/sub/a%20b.bin"},
	    {"/x", "q?#%+&;.bin", "/x/q%3F%23%25%2B%26%3B.bin"},
	    {"/x", "\xc3\x9c.txt", "/x/%C3%9C.txt"},
	    {"/x", "..\\..", "/x/..%5C.."},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = proxy_accel_uri(cases[i].prefix, cases[i].path);

		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trusted),   cmocka_unit_test(test_client),
	    cmocka_unit_test(test_many_hops), cmocka_unit_test(test_fuzz),
	    cmocka_unit_test(test_holds),     cmocka_unit_test(test_accel_uri),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
