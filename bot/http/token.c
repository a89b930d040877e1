/* Link tokens: the signing key file, and making, parsing and checking the
 * tokens of download URLs. The layout is documented in token.h. */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/b64url.h"
#include "fisbot/alloc.h"
#include "fisbot/text.h"

/* The longest message token_key_mac signs without allocating. */
#define MAC_STACK_MSG 512

struct token_key {
	unsigned char bytes[TOKEN_KEY_LEN];
	uint32_t id;
};

/* Makes the key id: the first 4 bytes of SHA-256(key). */
static uint32_t key_id_of(const unsigned char *bytes)
{
	unsigned char md[32];

	EVP_Digest(bytes, TOKEN_KEY_LEN, md, NULL, EVP_sha256(), NULL);
	return (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
	       (uint32_t)md[2] << 8 | md[3];
}

struct token_key *token_key_from_bytes(const unsigned char bytes[TOKEN_KEY_LEN])
{
	struct token_key *key = xmalloc(sizeof(*key));

	memcpy(key->bytes, bytes, TOKEN_KEY_LEN);
	key->id = key_id_of(bytes);
	return key;
}

void token_key_free(struct token_key *key)
{
	if (key == NULL)
		return;
	OPENSSL_cleanse(key, sizeof(*key));
	free(key);
}

uint32_t token_key_id(const struct token_key *key)
{
	return key->id;
}

/* Sets *cause to "PATH: MESSAGE" with the path sanitised. */
static void set_cause(char **cause, const char *path, const char *fmt,
                      const char *detail)
{
	char *clean = text_sanitize(path, strlen(path));

	*cause = xasprintf("%s: %s%s%s", clean, fmt, detail ? ": " : "",
	                   detail ? detail : "");
	free(clean);
}

/* Creates a new key file at path with O_EXCL. Returns 0, 1 if it already
 * exists (someone else made it), -1 on error. */
static int key_create(const char *path, char **cause)
{
	unsigned char bytes[TOKEN_KEY_LEN];
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          0600);
	if (fd == -1) {
		if (errno == EEXIST)
			return 1;
		set_cause(cause, path, "cannot create the key file",
		          strerror(errno));
		return -1;
	}
	if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
		set_cause(cause, path, "no random bytes for a new key", NULL);
		goto fail;
	}
	n = write(fd, bytes, sizeof(bytes));
	OPENSSL_cleanse(bytes, sizeof(bytes));
	if (n != (ssize_t)sizeof(bytes) || fsync(fd) == -1) {
		set_cause(cause, path, "cannot write the key file",
		          n == -1 || n == (ssize_t)sizeof(bytes)
		              ? strerror(errno)
		              : "short write");
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		set_cause(cause, path, "cannot write the key file",
		          strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd != -1)
		close(fd);
	unlink(path);
	return -1;
}

struct token_key *token_key_load(const char *path, char **cause)
{
	unsigned char bytes[TOKEN_KEY_LEN];
	struct token_key *key = NULL;
	struct stat st;
	ssize_t n;
	int fd = -1, rc;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		if ((rc = key_create(path, cause)) == -1)
			return NULL;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	}
	if (fd == -1) {
		set_cause(cause, path, "cannot open the key file",
		          errno == ELOOP ? "it is a symbolic link"
		                         : strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		set_cause(cause, path, "cannot stat the key file",
		          strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_cause(cause, path, "the key file is not a regular file",
		          NULL);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		set_cause(cause, path,
		          "the key file is readable or writable by group or "
		          "others; run chmod 600 on it",
		          NULL);
		goto out;
	}
	if (st.st_size != TOKEN_KEY_LEN) {
		char detail[64];

		snprintf(detail, sizeof(detail), "it has %lld bytes, not %d",
		         (long long)st.st_size, TOKEN_KEY_LEN);
		set_cause(cause, path, "the key file has the wrong size",
		          detail);
		goto out;
	}
	n = read(fd, bytes, sizeof(bytes));
	if (n != (ssize_t)sizeof(bytes)) {
		set_cause(cause, path, "cannot read the key file",
		          n == -1 ? strerror(errno) : "short read");
		goto out;
	}
	key = token_key_from_bytes(bytes);
	OPENSSL_cleanse(bytes, sizeof(bytes));
out:
	close(fd);
	return key;
}

void token_put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

uint64_t token_get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

void token_key_mac(const struct token_key *key, const void *head, size_t hlen,
                   const void *tail, size_t tlen, unsigned char *mac,
                   size_t maclen)
{
	unsigned char stack[MAC_STACK_MSG], *msg = stack, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (hlen + tlen > sizeof(stack))
		msg = xmalloc(hlen + tlen);
	memcpy(msg, head, hlen);
	if (tlen > 0)
		memcpy(msg + hlen, tail, tlen);
	HMAC(EVP_sha256(), key->bytes, TOKEN_KEY_LEN, msg, hlen + tlen, md,
	     &mdlen);
	memcpy(mac, md, maclen < mdlen ? maclen : mdlen);
	OPENSSL_cleanse(md, sizeof(md));
	if (msg != stack)
		free(msg);
}

bool token_key_mac_ok(const struct token_key *key, const void *head,
                      size_t hlen, const void *tail, size_t tlen,
                      const unsigned char *mac, size_t maclen)
{
	unsigned char want[32];

	if (maclen > sizeof(want))
		return false;
	token_key_mac(key, head, hlen, tail, tlen, want, maclen);
	return CRYPTO_memcmp(want, mac, maclen) == 0;
}

int token_make(const struct token_key *key, int64_t file_id,
               const unsigned char sha256[32], time_t now, uint64_t lifetime_s,
               char out[TOKEN_LEN + 1])
{
	char buf[TOKEN_MAX_LEN + 1];

	if (token_make_for(key, file_id, sha256, now, lifetime_s, 0, buf) == -1)
		return -1;
	memcpy(out, buf, TOKEN_LEN + 1);
	return 0;
}

/* Writes the signed head of a token (everything before its MAC) into hdr
 * and returns its length. */
static size_t token_head(const struct token *t, unsigned char *hdr)
{
	hdr[0] = t->version;
	token_put_be(hdr + 1, t->key_id, 4);
	token_put_be(hdr + 5, (uint64_t)t->file_id, 8);
	token_put_be(hdr + 13, t->expires, 4);
	if (t->version != TOKEN_VERSION_REQ)
		return 17;
	token_put_be(hdr + 17, t->requester, 8);
	hdr[25] = 0;
	return 26;
}

int token_make_for(const struct token_key *key, int64_t file_id,
                   const unsigned char sha256[32], time_t now,
                   uint64_t lifetime_s, uint64_t requester,
                   char out[TOKEN_MAX_LEN + 1])
{
	unsigned char raw[TOKEN_REQ_RAW_LEN];
	struct token t = {0};
	size_t hlen;

	if (lifetime_s != 0) {
		if (now < 0 || lifetime_s > UINT32_MAX ||
		    (uint64_t)now + lifetime_s > UINT32_MAX)
			return -1;
		t.expires = (uint32_t)((uint64_t)now + lifetime_s);
	}
	t.version = requester != 0 ? TOKEN_VERSION_REQ : TOKEN_VERSION;
	t.key_id = key->id;
	t.file_id = file_id;
	t.requester = requester;
	hlen = token_head(&t, raw);
	token_key_mac(key, raw, hlen, sha256, 32, raw + hlen, TOKEN_MAC_LEN);
	/* 33 or 42 bytes, groups of 3: no padding. */
	b64url_encode(raw, hlen + TOKEN_MAC_LEN, out);
	return 0;
}

uint64_t token_requester_tag(const struct token_key *key, const char *requester)
{
	static const char label[] = "fisbot link requester";
	unsigned char mac[8];
	uint64_t tag;

	token_key_mac(key, label, sizeof(label), requester, strlen(requester),
	              mac, sizeof(mac));
	tag = token_get_be(mac, 8);
	return tag != 0 ? tag : 1;
}

int token_parse(const char *s, size_t len, struct token *out)
{
	unsigned char raw[TOKEN_REQ_RAW_LEN];
	size_t rawlen, hlen;

	if (len == TOKEN_LEN)
		rawlen = TOKEN_RAW_LEN;
	else if (len == TOKEN_MAX_LEN)
		rawlen = TOKEN_REQ_RAW_LEN;
	else
		return -1;
	if (b64url_decode(s, len, raw, sizeof(raw)) != (ssize_t)rawlen ||
	    raw[0] !=
	        (rawlen == TOKEN_RAW_LEN ? TOKEN_VERSION : TOKEN_VERSION_REQ))
		return -1;
	out->version = raw[0];
	out->key_id = (uint32_t)token_get_be(raw + 1, 4);
	out->file_id = (int64_t)token_get_be(raw + 5, 8);
	out->expires = (uint32_t)token_get_be(raw + 13, 4);
	out->requester = 0;
	hlen = 17;
	if (rawlen == TOKEN_REQ_RAW_LEN) {
		out->requester = token_get_be(raw + 17, 8);
		if (out->requester == 0 || raw[25] != 0)
			return -1;
		hlen = 26;
	}
	memcpy(out->mac, raw + hlen, TOKEN_MAC_LEN);
	if (out->file_id <= 0)
		return -1;
	return 0;
}

enum token_status token_verify(const struct token_key *key,
                               const struct token *t,
                               const unsigned char sha256[32], time_t now)
{
	unsigned char hdr[TOKEN_REQ_RAW_LEN];
	size_t hlen;

	if (t->version != TOKEN_VERSION && t->version != TOKEN_VERSION_REQ)
		return TOKEN_MALFORMED;
	if (t->key_id != key->id)
		return TOKEN_WRONG_KEY;
	hlen = token_head(t, hdr);
	if (!token_key_mac_ok(key, hdr, hlen, sha256, 32, t->mac,
	                      TOKEN_MAC_LEN))
		return TOKEN_BAD_MAC;
	if (token_expired(t, now))
		return TOKEN_EXPIRED;
	return TOKEN_OK;
}

bool token_expired(const struct token *t, time_t now)
{
	return t->expires != 0 && (now < 0 || (uint64_t)now >= t->expires);
}
