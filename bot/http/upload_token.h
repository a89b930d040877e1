/*
 * Upload tokens: the signed part of a one-time upload URL
 * {base_url}/u/{token}/{name} handed out by the "upload" command.
 *
 * Layout before base64url encoding (no padding):
 *
 *   offset size field
 *        0    1 version (UPLOAD_TOKEN_VERSION, never TOKEN_VERSION)
 *        1    4 key id (as in link tokens, token.h)
 *        5    8 nonce: random; the upload's one-time identity
 *       13    4 issued, unix seconds, big-endian
 *       17    4 expires, unix seconds, big-endian
 *       21    8 size in bytes, big-endian
 *       29    8 the uploader's quota in bytes when the URL was made
 *       37    1 length n of the uploader's bare JID (1..255)
 *       38    n the uploader's bare JID
 *     38+n   16 MAC: HMAC-SHA256(key, bytes 0..37+n || name), first 16
 *               bytes
 *
 * The name is not in the token but in the URL, and is covered by the MAC,
 * so neither the name nor the size nor the uploader can be changed. The
 * quota travels with the token so that the HTTP side applies the limits
 * the URL was given under, even after a configuration reload. The
 * version byte differs from a link token's, and each parser refuses the
 * other's version, so a download link never works as an upload URL nor
 * the other way round. The tokens are stateless; which nonces were used is
 * the HTTP side's business (upload.h).
 */
#ifndef FISBOT_UPLOAD_TOKEN_H
#define FISBOT_UPLOAD_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "token.h"

#define UPLOAD_TOKEN_VERSION 2
#define UPLOAD_TOKEN_FIXED   38 /* bytes before the uploader */
#define UPLOAD_TOKEN_MAC_LEN 16
#define UPLOAD_TOKEN_JID_MAX 255
/* The longest token, in base64url characters. */
#define UPLOAD_TOKEN_MAX_CHARS                                                 \
	(((UPLOAD_TOKEN_FIXED + UPLOAD_TOKEN_JID_MAX + UPLOAD_TOKEN_MAC_LEN) * \
	      4 +                                                              \
	  2) /                                                                 \
	 3)

struct upload_token {
	uint32_t key_id;
	unsigned char nonce[8];
	uint32_t issued, expires; /* unix seconds */
	uint64_t size;
	uint64_t quota;
	char uploader[UPLOAD_TOKEN_JID_MAX + 1];
	unsigned char mac[UPLOAD_TOKEN_MAC_LEN];
};

/*
 * Makes a token for uploader to store size bytes as name within quota
 * bytes in all, valid from now for lifetime_s seconds, with a fresh random
 * nonce. Returns the token in
 * base64url (the caller frees it), or NULL if the uploader is empty or too
 * long, the expiry does not fit, or no random bytes could be had.
 */
char *upload_token_make(const struct token_key *key, const char *uploader,
                        const char *name, uint64_t size, uint64_t quota,
                        time_t now, uint64_t lifetime_s);

/*
 * Decodes the len characters at s into *out. Returns 0, or -1 if s is not
 * an upload token (wrong characters or length, another version, an
 * uploader that is empty or holds a NUL). The MAC is not checked here.
 */
int upload_token_parse(const char *s, size_t len, struct upload_token *out);

enum upload_token_status {
	UPLOAD_TOKEN_OK,
	UPLOAD_TOKEN_WRONG_KEY, /* made with another key */
	UPLOAD_TOKEN_BAD_MAC,   /* forged, or the name was changed */
	UPLOAD_TOKEN_EXPIRED,   /* genuine but past its expiry */
};

/* Checks a parsed token and the name of its URL at time now: key id, MAC
 * (in constant time), then expiry. */
enum upload_token_status upload_token_verify(const struct token_key *key,
                                             const struct upload_token *t,
                                             const char *name, time_t now);

#endif
