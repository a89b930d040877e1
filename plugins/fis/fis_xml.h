/*
 * XML helpers of the fis plugin: text children, the XEP-0234 <file/>
 * element with its XEP-0300 hash, XEP-0082 dates and serialized sizes.
 */
#ifndef FIS_XML_H
#define FIS_XML_H

#include <stddef.h>
#include <stdint.h>

#include <strophe.h>

#include "catalogue.h"

#define FIS_FILE_NS   "urn:xmpp:jingle:apps:file-transfer:5"
#define FIS_HASHES_NS "urn:xmpp:hashes:2"

/* A description longer than this (bytes) is cut in a <file/>. */
#define FIS_DESC_MAX 1024

/* Length of an XEP-0082 date-time "YYYY-MM-DDThh:mm:ssZ" with its NUL
 * (room for years of more digits). */
#define FIS_DATE_LEN 40

/* Adds <name>text</name> to parent and returns it (parent owns it). text
 * must already be clean (text_sanitize). */
xmpp_stanza_t *fis_xml_add_text(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
                                const char *name, const char *text);

/* Adds child to parent, which takes the caller's reference. */
void fis_xml_adopt(xmpp_stanza_t *parent, xmpp_stanza_t *child);

/* Returns the text inside element el, malloc'd (caller frees), or NULL if
 * it has none. */
char *fis_xml_text(xmpp_stanza_t *el);

/* Returns the size in bytes of st serialized, or SIZE_MAX if it cannot be
 * serialized. */
size_t fis_xml_size(xmpp_stanza_t *st);

/* Writes the XEP-0082 UTC date-time of ns nanoseconds since the epoch into
 * buf (FIS_DATE_LEN bytes). Returns buf. */
char *fis_xml_date(int64_t ns, char *buf);

/*
 * Builds <file xmlns='urn:xmpp:jingle:apps:file-transfer:5'/> for f: name
 * (the given display name, already clean), size, date (modification time),
 * media-type and hash (sha-256, base64) once hashed, and desc if any.
 */
xmpp_stanza_t *fis_xml_file(xmpp_ctx_t *ctx, const struct cat_file *f,
                            const char *name);

#endif
