/* Upload tokens: making, decoding and checking them. The layout is in
 * upload_token.h. */
#include "upload_token.h"

#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/b64url.h"
#include "fisbot/alloc.h"

#define RAW_MAX                                                                \
	(UPLOAD_TOKEN_FIXED + UPLOAD_TOKEN_JID_MAX + UPLOAD_TOKEN_MAC_LEN)

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
	token_put_be(raw + 1, token_key_id(key), 4);
	if (RAND_bytes(raw + 5, 8) != 1)
		return NULL;
	token_put_be(raw + 13, (uint64_t)now, 4);
	token_put_be(raw + 17, (uint64_t)now + lifetime_s, 4);
	token_put_be(raw + 21, size, 8);
	token_put_be(raw + 29, quota, 8);
	raw[37] = (unsigned char)ulen;
	memcpy(raw + UPLOAD_TOKEN_FIXED, uploader, ulen);
	len = UPLOAD_TOKEN_FIXED + ulen;
	token_key_mac(key, raw, len, name, strlen(name), raw + len,
	              UPLOAD_TOKEN_MAC_LEN);
	out = xmalloc(B64URL_LEN(len + UPLOAD_TOKEN_MAC_LEN) + 1);
	b64url_encode(raw, len + UPLOAD_TOKEN_MAC_LEN, out);
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
	n = b64url_decode(s, len, raw, sizeof(raw));
	if (n < UPLOAD_TOKEN_FIXED + 1 + UPLOAD_TOKEN_MAC_LEN ||
	    raw[0] != UPLOAD_TOKEN_VERSION)
		return -1;
	ulen = raw[37];
	if (ulen == 0 ||
	    (size_t)n != UPLOAD_TOKEN_FIXED + ulen + UPLOAD_TOKEN_MAC_LEN ||
	    memchr(raw + UPLOAD_TOKEN_FIXED, '\0', ulen) != NULL)
		return -1;
	out->key_id = (uint32_t)token_get_be(raw + 1, 4);
	memcpy(out->nonce, raw + 5, 8);
	out->issued = (uint32_t)token_get_be(raw + 13, 4);
	out->expires = (uint32_t)token_get_be(raw + 17, 4);
	out->size = token_get_be(raw + 21, 8);
	out->quota = token_get_be(raw + 29, 8);
	memcpy(out->uploader, raw + UPLOAD_TOKEN_FIXED, ulen);
	out->uploader[ulen] = '\0';
	memcpy(out->mac, raw + UPLOAD_TOKEN_FIXED + ulen, UPLOAD_TOKEN_MAC_LEN);
	return 0;
}

enum upload_token_status upload_token_verify(const struct token_key *key,
                                             const struct upload_token *t,
                                             const char *name, time_t now)
{
	unsigned char raw[RAW_MAX];
	size_t ulen = strlen(t->uploader), len = UPLOAD_TOKEN_FIXED + ulen;

	if (t->key_id != token_key_id(key))
		return UPLOAD_TOKEN_WRONG_KEY;
	raw[0] = UPLOAD_TOKEN_VERSION;
	token_put_be(raw + 1, t->key_id, 4);
	memcpy(raw + 5, t->nonce, 8);
	token_put_be(raw + 13, t->issued, 4);
	token_put_be(raw + 17, t->expires, 4);
	token_put_be(raw + 21, t->size, 8);
	token_put_be(raw + 29, t->quota, 8);
	raw[37] = (unsigned char)ulen;
	memcpy(raw + UPLOAD_TOKEN_FIXED, t->uploader, ulen);
	if (!token_key_mac_ok(key, raw, len, name, strlen(name), t->mac,
	                      UPLOAD_TOKEN_MAC_LEN))
		return UPLOAD_TOKEN_BAD_MAC;
	if (now < 0 || (uint64_t)now >= t->expires)
		return UPLOAD_TOKEN_EXPIRED;
	return UPLOAD_TOKEN_OK;
}
