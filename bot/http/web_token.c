/* Web tokens: making and checking them. The layout is in web_token.h. */
#include "web_token.h"

#include <string.h>
#include <sys/types.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/b64url.h"

/* What the MAC covers after the token's fields. */
static const char web_tail[] = "web";

int web_token_make(const struct token_key *key, const char *requester,
                   time_t now, uint64_t lifetime_s, char out[WEB_TOKEN_LEN + 1])
{
	unsigned char raw[WEB_TOKEN_RAW_LEN], md[32];
	uint64_t expires = 0;

	if (requester == NULL || *requester == '\0' || now < 0)
		return -1;
	if (lifetime_s != 0) {
		if (lifetime_s > UINT32_MAX ||
		    (uint64_t)now + lifetime_s > UINT32_MAX)
			return -1;
		expires = (uint64_t)now + lifetime_s;
	}
	raw[0] = WEB_TOKEN_VERSION;
	token_put_be(raw + 1, token_key_id(key), 4);
	token_put_be(raw + 5, expires, 4);
	EVP_Digest(requester, strlen(requester), md, NULL, EVP_sha256(), NULL);
	memcpy(raw + 9, md, 8);
	token_key_mac(key, raw, 17, web_tail, sizeof(web_tail) - 1, raw + 17,
	              TOKEN_MAC_LEN);
	b64url_encode(raw, sizeof(raw), out);
	out[WEB_TOKEN_LEN] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

enum web_token_status web_token_check(const struct token_key *key,
                                      const char *s, size_t len, time_t now)
{
	unsigned char raw[WEB_TOKEN_RAW_LEN];
	uint64_t expires;

	if (len != WEB_TOKEN_LEN ||
	    b64url_decode(s, len, raw, sizeof(raw)) != WEB_TOKEN_RAW_LEN ||
	    raw[0] != WEB_TOKEN_VERSION ||
	    token_get_be(raw + 1, 4) != token_key_id(key))
		return WEB_TOKEN_BAD;
	if (!token_key_mac_ok(key, raw, 17, web_tail, sizeof(web_tail) - 1,
	                      raw + 17, TOKEN_MAC_LEN))
		return WEB_TOKEN_BAD;
	expires = token_get_be(raw + 5, 4);
	if (expires != 0 && (uint64_t)now >= expires)
		return WEB_TOKEN_EXPIRED;
	return WEB_TOKEN_OK;
}
