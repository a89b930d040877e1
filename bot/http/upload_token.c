/* Upload tokens: making, decoding and checking them. The layout is in
 * upload_token.h. */
#include "upload_token.h"

#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "alloc.h"

#define RAW_MAX                                                                \
	(UPLOAD_TOKEN_FIXED + UPLOAD_TOKEN_JID_MAX + UPLOAD_TOKEN_MAC_LEN)

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Writes v big-endian into n bytes at p. */
static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

/* Reads n big-endian bytes at p. */
static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Computes the truncated MAC of the len signed bytes at raw and name. */
static void mac_of(const struct token_key *key, const unsigned char *raw,
                   size_t len, const char *name,
                   unsigned char mac[UPLOAD_TOKEN_MAC_LEN])
{
	size_t nlen = strlen(name);
	unsigned char *msg = xmalloc(len + nlen), md[32];

	memcpy(msg, raw, len);
	memcpy(msg + len, name, nlen);
	token_key_hmac(key, msg, len + nlen, md);
	memcpy(mac, md, UPLOAD_TOKEN_MAC_LEN);
	OPENSSL_cleanse(md, sizeof(md));
	free(msg);
}

/* Encodes len bytes as base64url without padding (the caller frees). */
static char *encode(const unsigned char *raw, size_t len)
{
	char *out = xmalloc((len * 4 + 2) / 3 + 1);
	size_t o = 0, i;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 |
		             (uint32_t)raw[i + 1] << 8 | raw[i + 2];

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (len - i == 1) {
		out[o++] = b64url[raw[i] >> 2];
		out[o++] = b64url[(raw[i] & 3) << 4];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)raw[i] << 8 | raw[i + 1];

		out[o++] = b64url[v >> 10 & 63];
		out[o++] = b64url[v >> 4 & 63];
		out[o++] = b64url[(v & 15) << 2];
	}
	out[o] = '\0';
	return out;
}

/* Returns the 6-bit value of base64url character c, or -1. */
static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decodes len base64url characters (no padding, canonical: unused low
 * bits zero) into raw. Returns the byte count, or -1. */
static ssize_t decode(const char *s, size_t len, unsigned char *raw, size_t max)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int d = b64url_value((unsigned char)s[i]);

		if (d < 0)
			return -1;
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == max)
				return -1;
			raw[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	return (ssize_t)o;
}

char *upload_token_make(const struct token_key *key, const char *uploader,
                        const char *name, uint64_t size, uint64_t quota,
                        time_t now, uint64_t lifetime_s)
{
	unsigned char raw[RAW_MAX];
	size_t ulen = strlen(uploader), len;
	char *out;

	if (ulen == 0 || ulen > UPLOAD_TOKEN_JID_MAX || now < 0 ||
	    lifetime_s > UINT32_MAX || (uint64_t)now + lifetime_s > UINT32_MAX)
		return NULL;
	raw[0] = UPLOAD_TOKEN_VERSION;
	put_be(raw + 1, token_key_id(key), 4);
	if (RAND_bytes(raw + 5, 8) != 1)
		return NULL;
	put_be(raw + 13, (uint64_t)now, 4);
	put_be(raw + 17, (uint64_t)now + lifetime_s, 4);
	put_be(raw + 21, size, 8);
	put_be(raw + 29, quota, 8);
	raw[37] = (unsigned char)ulen;
	memcpy(raw + UPLOAD_TOKEN_FIXED, uploader, ulen);
	len = UPLOAD_TOKEN_FIXED + ulen;
	mac_of(key, raw, len, name, raw + len);
	out = encode(raw, len + UPLOAD_TOKEN_MAC_LEN);
	OPENSSL_cleanse(raw, sizeof(raw));
	return out;
}

int upload_token_parse(const char *s, size_t len, struct upload_token *out)
{
	unsigned char raw[RAW_MAX];
	ssize_t n;
	size_t ulen;

	if (len > UPLOAD_TOKEN_MAX_CHARS)
		return -1;
	n = decode(s, len, raw, sizeof(raw));
	if (n < UPLOAD_TOKEN_FIXED + 1 + UPLOAD_TOKEN_MAC_LEN ||
	    raw[0] != UPLOAD_TOKEN_VERSION)
		return -1;
	ulen = raw[37];
	if (ulen == 0 ||
	    (size_t)n != UPLOAD_TOKEN_FIXED + ulen + UPLOAD_TOKEN_MAC_LEN ||
	    memchr(raw + UPLOAD_TOKEN_FIXED, '\0', ulen) != NULL)
		return -1;
	out->key_id = (uint32_t)get_be(raw + 1, 4);
	memcpy(out->nonce, raw + 5, 8);
	out->issued = (uint32_t)get_be(raw + 13, 4);
	out->expires = (uint32_t)get_be(raw + 17, 4);
	out->size = get_be(raw + 21, 8);
	out->quota = get_be(raw + 29, 8);
	memcpy(out->uploader, raw + UPLOAD_TOKEN_FIXED, ulen);
	out->uploader[ulen] = '\0';
	memcpy(out->mac, raw + UPLOAD_TOKEN_FIXED + ulen, UPLOAD_TOKEN_MAC_LEN);
	return 0;
}

enum upload_token_status upload_token_verify(const struct token_key *key,
                                             const struct upload_token *t,
                                             const char *name, time_t now)
{
	unsigned char raw[RAW_MAX], mac[UPLOAD_TOKEN_MAC_LEN];
	size_t ulen = strlen(t->uploader), len = UPLOAD_TOKEN_FIXED + ulen;

	if (t->key_id != token_key_id(key))
		return UPLOAD_TOKEN_WRONG_KEY;
	raw[0] = UPLOAD_TOKEN_VERSION;
	put_be(raw + 1, t->key_id, 4);
	memcpy(raw + 5, t->nonce, 8);
	put_be(raw + 13, t->issued, 4);
	put_be(raw + 17, t->expires, 4);
	put_be(raw + 21, t->size, 8);
	put_be(raw + 29, t->quota, 8);
	raw[37] = (unsigned char)ulen;
	memcpy(raw + UPLOAD_TOKEN_FIXED, t->uploader, ulen);
	mac_of(key, raw, len, name, mac);
	if (CRYPTO_memcmp(mac, t->mac, UPLOAD_TOKEN_MAC_LEN) != 0)
		return UPLOAD_TOKEN_BAD_MAC;
	if (now < 0 || (uint64_t)now >= t->expires)
		return UPLOAD_TOKEN_EXPIRED;
	return UPLOAD_TOKEN_OK;
}
