/*
 * Replies to chat commands (see reply.h): bounded, sanitised reply text and
 * the message stanzas that carry it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fisbot/alloc.h"
#include "fisbot/text.h"
#include "reply.h"
#include "xmpp/stanza.h"

#define NS_OOB      "jabber:x:oob"
#define NS_SFS      "urn:xmpp:sfs:0"
#define NS_FILEMETA "urn:xmpp:file:metadata:0"
#define NS_HASHES   "urn:xmpp:hashes:2"
#define NS_URLDATA  "http://jabber.org/protocol/url-data"
#define NS_FALLBACK "urn:xmpp:fallback:0"

/* Returns how many bytes s takes once libstrophe has escaped it. */
static size_t xml_size(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '&':
			n += 5;
			break;
		case '<':
		case '>':
			n += 4;
			break;
		case '"':
			n += 6;
			break;
		default:
			n++;
		}
	}
	return n;
}

/* Appends len bytes of s to t's buffer (no bound check). */
static void buf_append(struct reply_text *t, const char *s, size_t len)
{
	if (t->len + len + 1 > t->cap) {
		size_t cap = t->cap > 0 ? t->cap : 256;

		while (t->len + len + 1 > cap)
			cap *= 2;
		t->buf = xreallocarray(t->buf, cap, 1);
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, len);
	t->len += len;
	t->buf[t->len] = '\0';
}

/* Appends one clean line (no '\n') to t, within the bound. */
static void add_line(struct reply_text *t, const char *line, size_t len,
                     const char *prefix)
{
	/* Room for the '\n', the guard and the truncation line. */
	const size_t reserve = 1 + 3 + sizeof(REPLY_TRUNCATED);
	size_t plen = prefix != NULL ? strlen(prefix) : 0;
	bool guard =
	    (len > 0 && line[0] == '@') ||
	    (plen > 0 && len >= plen && memcmp(line, prefix, plen) == 0);
	size_t need = xml_size(line, len) + (guard ? 3 : 0) + 1;

	if (t->truncated)
		return;
	if (t->xml_len + need + reserve > REPLY_MAX_BODY) {
		/* Keep what fits of this line, cut at a character. */
		size_t room = REPLY_MAX_BODY - reserve - t->xml_len, n = 0;

		if (t->xml_len + reserve < REPLY_MAX_BODY && room > 8) {
			room -= 1 + (guard ? 3 : 0);
			/* Escaping can grow a byte six-fold: find the
			 * longest prefix whose escaped size fits. */
			n = text_utf8_prefix(line, len, room);
			while (n > 0 && xml_size(line, n) > room)
				n = text_utf8_prefix(line, len, n - 1);
		}
		if (n > 0) {
			if (t->lines > 0)
				buf_append(t, "\n", 1);
			if (guard)
				buf_append(t, REPLY_GUARD, 3);
			buf_append(t, line, n);
			t->xml_len += xml_size(line, n) + 1 + (guard ? 3 : 0);
			t->lines++;
		}
		t->truncated = true;
		return;
	}
	if (t->lines > 0)
		buf_append(t, "\n", 1);
	if (guard)
		buf_append(t, REPLY_GUARD, 3);
	buf_append(t, line, len);
	t->xml_len += need;
	t->lines++;
}

/* Appends text, one line per '\n', sanitised (see reply.h). */
void reply_text_add(struct reply_text *t, const char *text, const char *prefix)
{
	char *clean = text_safe_lines(text, strlen(text));
	const char *p = clean;

	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		add_line(t, p, len, prefix);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	free(clean);
}

/* Empties t. */
void reply_text_clear(struct reply_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

/* Returns the body, with the truncation line if lines were dropped. */
const char *reply_text_body(struct reply_text *t)
{
	if (t->truncated) {
		if (t->lines > 0)
			buf_append(t, "\n", 1);
		buf_append(t, REPLY_TRUNCATED, strlen(REPLY_TRUNCATED));
		t->xml_len += strlen(REPLY_TRUNCATED) + 1;
		t->lines++;
		t->truncated = false; /* appended once */
	}
	return t->buf != NULL ? t->buf : "";
}

/* Builds a text message (see reply.h). */
xmpp_stanza_t *reply_message(xmpp_ctx_t *ctx, const char *type, const char *to,
                             const char *body, bool muc_user)
{
	xmpp_stanza_t *m = xmpp_message_new(ctx, type, to, NULL);

	xmpp_message_set_body(m, body);
	if (muc_user)
		stanza_add_element(ctx, m, "x", NS_MUC_USER);
	return m;
}

/* Returns the last component of path. */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* Builds a download-link message (see reply.h). */
xmpp_stanza_t *reply_link_message(xmpp_ctx_t *ctx, const char *type,
                                  const char *to, const char *url,
                                  const struct cat_file *f, bool muc_user)
{
	const char *raw_name = base_name(f->path);
	char *name = text_sanitize(raw_name, strlen(raw_name));
	char *curl = text_sanitize(url, strlen(url));
	char size[TEXT_SIZE_LEN], num[32], date[32], *desc;
	xmpp_stanza_t *m, *x, *sfs, *file, *sources, *ud, *fb, *hash;
	time_t secs = (time_t)(f->mtime_ns / 1000000000);
	struct tm tm;

	m = reply_message(ctx, type, to, curl, muc_user);

	x = stanza_add_element(ctx, m, "x", NS_OOB);
	stanza_add_text(ctx, x, "url", NULL, curl);
	desc = xasprintf("%s (%s)", name, text_human_size(f->size, size));
	stanza_add_text(ctx, x, "desc", NULL, desc);
	free(desc);

	sfs = stanza_add_element(ctx, m, "file-sharing", NS_SFS);
	xmpp_stanza_set_attribute(sfs, "disposition", "attachment");
	file = stanza_add_element(ctx, sfs, "file", NS_FILEMETA);
	if (f->media_type != NULL) {
		char *mt = text_sanitize(f->media_type, strlen(f->media_type));

		stanza_add_text(ctx, file, "media-type", NULL, mt);
		free(mt);
	}
	stanza_add_text(ctx, file, "name", NULL, name);
	snprintf(num, sizeof(num), "%" PRIu64, f->size);
	stanza_add_text(ctx, file, "size", NULL, num);
	if (gmtime_r(&secs, &tm) != NULL &&
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		stanza_add_text(ctx, file, "date", NULL, date);
	if (f->description != NULL && f->description[0] != '\0') {
		char *d = text_sanitize(f->description, strlen(f->description));

		stanza_add_text(ctx, file, "desc", NULL, d);
		free(d);
	}
	if (f->hashed) {
		char *b64 =
		    xmpp_base64_encode(ctx, f->sha256, sizeof(f->sha256));

		hash = stanza_add_text(ctx, file, "hash", NS_HASHES, b64);
		xmpp_stanza_set_attribute(hash, "algo", "sha-256");
		xmpp_free(ctx, b64);
	}
	sources = stanza_add_element(ctx, sfs, "sources", NULL);
	ud = stanza_add_element(ctx, sources, "url-data", NS_URLDATA);
	xmpp_stanza_set_attribute(ud, "target", curl);

	fb = stanza_add_element(ctx, m, "fallback", NS_FALLBACK);
	xmpp_stanza_set_attribute(fb, "for", NS_SFS);
	stanza_add_element(ctx, fb, "body", NULL);

	free(name);
	free(curl);
	return m;
}
