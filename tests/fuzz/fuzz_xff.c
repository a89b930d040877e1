/* libFuzzer target: X-Forwarded-For as a trusted proxy sends it must never
 * crash the parser, an untrusted peer is never replaced, and the real
 * client's address appended by the proxy always wins; the X-Accel-Redirect
 * path of any name never holds a byte outside the unreserved set but the
 * separators. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot/strlist.h"
#include "http/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns the IPv4 address in ss as a number (0 if not IPv4). */
static uint32_t ipv4(const struct sockaddr_storage *ss)
{
	struct sockaddr_in in4;

	if (ss->ss_family != AF_INET)
		return 0;
	memcpy(&in4, ss, sizeof(in4));
	return ntohl(in4.sin_addr.s_addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proxy *p;
	struct sockaddr_in peer = {0}, other = {0};
	struct sockaddr_storage client;
	char *s = malloc(size + 32), *uri;

	if (p == NULL) {
		struct strlist l = {0};
		char *cause = NULL;

		strlist_add(&l, "127.0.0.0/8");
		strlist_add(&l, "fd00::/8");
		p = proxy_new(&l, 4, &cause);
		strlist_free(&l);
		if (p == NULL)
			abort();
	}
	memcpy(s, data, size);
	s[size] = '\0';
	peer.sin_family = AF_INET;
	peer.sin_addr.s_addr = htonl(0x7f000001);
	proxy_client(p, (struct sockaddr *)&peer, s, &client);
	other.sin_family = AF_INET;
	other.sin_addr.s_addr = htonl(0xcb007101); /* 203.0.113.1 */
	proxy_client(p, (struct sockaddr *)&other, s, &client);
	if (ipv4(&client) != 0xcb007101)
		abort();
	/* What nginx sends: the client's header, then its real address. */
	strcat(s, ",198.51.100.7"); /* strlen(s) <= size: it fits */
	proxy_client(p, (struct sockaddr *)&peer, s, &client);
	if (ipv4(&client) != 0xc6336407)
		abort();
	s[size] = '\0';
	uri = proxy_accel_uri("/x", s);
	for (const char *c = uri; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || strchr("-._~%/", *c) != NULL))
			abort();
	free(uri);
	free(s);
	return 0;
}
