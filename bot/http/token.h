/*
 * Link tokens: the signed part of a download URL
 * {base_url}/f/{token}/{name}.
 *
 * Layout, 33 bytes before encoding, so a token is exactly 44 base64url
 * characters with no padding:
 *
 *   offset size field
 *        0    1 version (TOKEN_VERSION)
 *        1    4 key id: the first 4 bytes of SHA-256(key), big-endian bytes
 *        5    8 file id, big-endian
 *       13    4 expiry, unix seconds, big-endian; 0 = never expires
 *       17   16 MAC: HMAC-SHA256(key, bytes 0..16 || file SHA-256),
 *               truncated to its first 16 bytes (RFC 2104 §5)
 *
 * A link made for a requester (version TOKEN_VERSION_REQ, 42 bytes, 56
 * characters) has two more fields before its MAC, which then covers
 * bytes 0..25:
 *
 *       17    8 requester tag (token_requester_tag), big-endian, never 0
 *       25    1 reserved, 0
 *       26   16 MAC
 *
 * so download slots can be counted per requester (slots.h). Version 2 is
 * the upload tokens' (upload_token.h). Links of version 1 stay valid: they
 * have no requester (tag 0).
 *
 * The file's SHA-256 is not in the token but is covered by the MAC, so a
 * link dies when its file changes. The key id lets a server tell "made with
 * another key" (403) from a forged MAC; it reveals nothing about the key.
 */
#ifndef FISBOT_TOKEN_H
#define FISBOT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOKEN_VERSION     1
#define TOKEN_VERSION_REQ 3
#define TOKEN_RAW_LEN     33
#define TOKEN_LEN         44 /* base64url characters */
#define TOKEN_REQ_RAW_LEN 42
#define TOKEN_MAX_LEN     56 /* characters of a token with a requester */
#define TOKEN_KEY_LEN     32
#define TOKEN_MAC_LEN     16

/* A loaded signing key (opaque outside token.c). */
struct token_key;

/* The fields of a decoded token. */
struct token {
	uint8_t version;
	uint32_t key_id;
	int64_t file_id;
	uint32_t expires;   /* unix seconds, 0 = never */
	uint64_t requester; /* tag, 0 = none (version 1) */
	unsigned char mac[TOKEN_MAC_LEN];
};

/* The outcome of checking a token against a file. */
enum token_status {
	TOKEN_OK,
	TOKEN_MALFORMED, /* not a token of this version */
	TOKEN_WRONG_KEY, /* made with another key */
	TOKEN_BAD_MAC,   /* forged, or the file changed */
	TOKEN_EXPIRED,   /* genuine but past its expiry */
};

/*
 * Loads the 32-byte key at path, creating it (mode 0600, random bytes) if it
 * does not exist. A key file of the wrong size, not a regular file, or
 * readable by its group or others is refused. Returns a new key, or NULL
 * and sets *cause (caller frees).
 */
struct token_key *token_key_load(const char *path, char **cause);

/* Makes a key from 32 given bytes (for tests and fuzzers). */
struct token_key *
token_key_from_bytes(const unsigned char bytes[TOKEN_KEY_LEN]);

/* Wipes and frees a key (NULL is fine). */
void token_key_free(struct token_key *key);

/* Returns the key's id (as stored in its tokens). */
uint32_t token_key_id(const struct token_key *key);

/*
 * Writes the token for file_id with content hash sha256 into out (TOKEN_LEN
 * characters and a NUL). lifetime_s 0 makes a token that never expires;
 * otherwise it expires at now + lifetime_s. Returns 0, or -1 if the expiry
 * does not fit the token (after 2106).
 */
int token_make(const struct token_key *key, int64_t file_id,
               const unsigned char sha256[32], time_t now, uint64_t lifetime_s,
               char out[TOKEN_LEN + 1]);

/* The same, for requester tag requester (token_requester_tag; 0 makes a
 * version 1 token): out holds TOKEN_MAX_LEN characters and a NUL. */
int token_make_for(const struct token_key *key, int64_t file_id,
                   const unsigned char sha256[32], time_t now,
                   uint64_t lifetime_s, uint64_t requester,
                   char out[TOKEN_MAX_LEN + 1]);

/* Returns the tag of requester (a chat requester's key): the first 8 bytes
 * of an HMAC of it, never 0, so that a link shows nothing of who asked. */
uint64_t token_requester_tag(const struct token_key *key,
                             const char *requester);

/*
 * Decodes the len characters at s. Returns 0 and fills *out, or -1 if s is
 * not exactly TOKEN_LEN (version 1) or TOKEN_MAX_LEN (TOKEN_VERSION_REQ)
 * base64url characters of a known version. The MAC is
 * not checked here.
 */
int token_parse(const char *s, size_t len, struct token *out);

/*
 * Checks a parsed token against the key and the file's SHA-256 at time now:
 * key id, then MAC (in constant time), then expiry, so an expired token is
 * only reported for a genuine one.
 */
enum token_status token_verify(const struct token_key *key,
                               const struct token *t,
                               const unsigned char sha256[32], time_t now);

/*
 * Writes the first maclen (at most 32) bytes of HMAC-SHA256(key, head ||
 * tail) into mac: the MAC of link tokens (head: bytes 0..16, tail: the
 * file's SHA-256) and of the other signed tokens made with the same key
 * (upload tokens, upload_token.h), which put their own version byte first
 * so that no token of one kind is ever valid as another.
 */
void token_key_mac(const struct token_key *key, const void *head, size_t hlen,
                   const void *tail, size_t tlen, unsigned char *mac,
                   size_t maclen);

/* Returns true if mac (maclen bytes, at most 32) is token_key_mac of head
 * and tail, compared in constant time. */
bool token_key_mac_ok(const struct token_key *key, const void *head,
                      size_t hlen, const void *tail, size_t tlen,
                      const unsigned char *mac, size_t maclen);

/* Writes v big-endian into the n bytes at p (the fields of tokens). */
void token_put_be(unsigned char *p, uint64_t v, int n);

/* Returns the n big-endian bytes at p. */
uint64_t token_get_be(const unsigned char *p, int n);

/* Returns true if t has an expiry and now is at or past it. */
bool token_expired(const struct token *t, time_t now);

#endif
