/* XML helpers of the fis plugin (see fis_xml.h). */
#include "fis_xml.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "text.h"

xmpp_stanza_t *fis_xml_add_text(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
                                const char *name, const char *text)
{
	xmpp_stanza_t *el = xmpp_stanza_new(ctx), *t = xmpp_stanza_new(ctx);

	xmpp_stanza_set_name(el, name);
	xmpp_stanza_set_text(t, text);
	fis_xml_adopt(el, t);
	fis_xml_adopt(parent, el);
	return el;
}

void fis_xml_adopt(xmpp_stanza_t *parent, xmpp_stanza_t *child)
{
	xmpp_stanza_add_child_ex(parent, child, 0);
}

char *fis_xml_text(xmpp_stanza_t *el)
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(el);
	char *t = xmpp_stanza_get_text(el), *copy;

	if (t == NULL)
		return NULL;
	copy = xstrdup(t);
	xmpp_free(ctx, t);
	return copy;
}

size_t fis_xml_size(xmpp_stanza_t *st)
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(st);
	char *buf = NULL;
	size_t len = 0;

	if (xmpp_stanza_to_text(st, &buf, &len) != XMPP_EOK)
		return SIZE_MAX;
	xmpp_free(ctx, buf);
	return len;
}

char *fis_xml_date(int64_t ns, char *buf)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (ns < 0 || gmtime_r(&t, &tm) == NULL)
		t = 0, gmtime_r(&t, &tm);
	snprintf(buf, FIS_DATE_LEN, "%04lld-%02d-%02dT%02d:%02d:%02dZ",
	         (long long)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}

xmpp_stanza_t *fis_xml_file(xmpp_ctx_t *ctx, const struct cat_file *f,
                            const char *name)
{
	xmpp_stanza_t *file = xmpp_stanza_new(ctx), *hash;
	char buf[FIS_DATE_LEN], *s;

	xmpp_stanza_set_name(file, "file");
	xmpp_stanza_set_ns(file, FIS_FILE_NS);
	fis_xml_add_text(ctx, file, "name", name);
	snprintf(buf, sizeof(buf), "%" PRIu64, f->size);
	fis_xml_add_text(ctx, file, "size", buf);
	fis_xml_add_text(ctx, file, "date", fis_xml_date(f->mtime_ns, buf));
	if (f->media_type != NULL) {
		s = text_sanitize(f->media_type, strlen(f->media_type));
		fis_xml_add_text(ctx, file, "media-type", s);
		free(s);
	}
	if (f->description != NULL && f->description[0] != '\0') {
		size_t len = strlen(f->description);

		s = text_sanitize(
		    f->description,
		    text_utf8_prefix(f->description, len, FIS_DESC_MAX));
		fis_xml_add_text(ctx, file, "desc", s);
		free(s);
	}
	if (f->hashed) {
		s = xmpp_base64_encode(ctx, f->sha256, sizeof(f->sha256));
		hash = fis_xml_add_text(ctx, file, "hash", s);
		xmpp_stanza_set_ns(hash, FIS_HASHES_NS);
		xmpp_stanza_set_attribute(hash, "algo", "sha-256");
		xmpp_free(ctx, s);
	}
	return file;
}
