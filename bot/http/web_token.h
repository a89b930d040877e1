/*
 * Web tokens: the signed part of a personal link to the web index,
 * {base_url}/w/{token}/, handed out by the "web" command when [web] access
 * is "link".
 *
 * Layout, 33 bytes before encoding (44 base64url characters, no padding):
 *
 *   offset size field
 *        0    1 version (WEB_TOKEN_VERSION: neither a link's nor an
 *               upload's, so no token of one kind works as another)
 *        1    4 key id (as in link tokens, token.h)
 *        5    4 expiry, unix seconds, big-endian; 0 = never expires
 *        9    8 the requester: the first 8 bytes of SHA-256 of its key
 *               (the host's stable requester key), so each link is its
 *               owner's
 *       17   16 MAC: HMAC-SHA256(key, bytes 0..16 || "web"), first 16
 *               bytes
 */
#ifndef FISBOT_WEB_TOKEN_H
#define FISBOT_WEB_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "token.h"

#define WEB_TOKEN_VERSION 3
#define WEB_TOKEN_RAW_LEN 33
#define WEB_TOKEN_LEN     44 /* base64url characters */

/* The outcome of checking a web token. */
enum web_token_status {
	WEB_TOKEN_OK,
	WEB_TOKEN_BAD,     /* not a web token, another key, or forged */
	WEB_TOKEN_EXPIRED, /* genuine but past its expiry */
};

/*
 * Writes the token for requester (any non-empty string) into out
 * (WEB_TOKEN_LEN characters and a NUL), valid from now for lifetime_s
 * seconds (0: never expires). Returns 0, or -1 if the expiry does not fit
 * (after 2106) or the requester is empty.
 */
int web_token_make(const struct token_key *key, const char *requester,
                   time_t now, uint64_t lifetime_s,
                   char out[WEB_TOKEN_LEN + 1]);

/* Checks the len characters at s at time now: format, key id, MAC (in
 * constant time), then expiry. */
enum web_token_status web_token_check(const struct token_key *key,
                                      const char *s, size_t len, time_t now);

#endif
