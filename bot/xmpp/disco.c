/*
 * Service discovery and the protocol basics the session answers itself:
 * XEP-0030 disco#info (identity client/bot and the feature list), XEP-0115
 * entity capabilities (the verification string, SHA-1 with OpenSSL),
 * XEP-0092 software version and XEP-0199 ping. The IQs arrive charged to
 * the IQ budget already (session.c); answers go in the requester's lane of
 * the send queue.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "session.h"
#include "session_int.h"
#include "version.h"

#define CAPS_NODE         "urn:fisbot:caps"
#define IDENTITY_CATEGORY "client"
#define IDENTITY_TYPE     "bot"
#define IDENTITY_NAME     "fisbot"

/* What the session itself implements; plugins add theirs. */
static const char *const base_features[] = {
    NS_CAPS,        NS_DISCO_INFO,       NS_MUC,  NS_CONFERENCE,
    "jabber:x:oob", "urn:xmpp:hashes:2", NS_PING, NS_VERSION,
};

/* Orders strings byte-wise (XEP-0115 §5.1 sorts by octets). */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Recomputes the XEP-0115 verification string. */
static void caps_update(struct session *s)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char b64[EVP_MAX_MD_SIZE * 2];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	static const char ident[] =
	    IDENTITY_CATEGORY "/" IDENTITY_TYPE "//" IDENTITY_NAME "<";

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, ident, strlen(ident)) != 1)
		fatalx("SHA-1 is not available");
	for (size_t i = 0; i < s->features.n; i++)
		if (EVP_DigestUpdate(ctx, s->features.v[i],
		                     strlen(s->features.v[i])) != 1 ||
		    EVP_DigestUpdate(ctx, "<", 1) != 1)
			fatalx("SHA-1 failed");
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		fatalx("SHA-1 failed");
	EVP_MD_CTX_free(ctx);
	EVP_EncodeBlock(b64, md, (int)mdlen);
	free(s->caps_ver);
	s->caps_ver = xstrdup((char *)b64);
}

void disco_init(struct session *s)
{
	strlist_free(&s->features);
	for (size_t i = 0; i < sizeof(base_features) / sizeof(*base_features);
	     i++)
		strlist_add(&s->features, base_features[i]);
	qsort(s->features.v, s->features.n, sizeof(*s->features.v), cmp_str);
	caps_update(s);
}

void disco_add_feature(struct session *s, const char *feature)
{
	if (feature == NULL || *feature == '\0' ||
	    strlist_contains(&s->features, feature))
		return;
	strlist_add(&s->features, feature);
	qsort(s->features.v, s->features.n, sizeof(*s->features.v), cmp_str);
	caps_update(s);
	/* Tell the server (and so our contacts) the new capabilities. */
	if (s->connected)
		session_send(s, muc_presence_stanza(s, NULL));
}

void disco_add_caps(struct session *s, xmpp_stanza_t *presence)
{
	xmpp_stanza_t *c = stanza_element(s->ctx, "c", NS_CAPS);

	xmpp_stanza_set_attribute(c, "hash", "sha-1");
	xmpp_stanza_set_attribute(c, "node", CAPS_NODE);
	xmpp_stanza_set_attribute(c, "ver", s->caps_ver);
	xmpp_stanza_add_child_ex(presence, c, 0);
}

/* Answers a disco#info query (our node or our caps node). */
static void disco_info(struct session *s, xmpp_stanza_t *iq, xmpp_stanza_t *q,
                       const char *requester)
{
	const char *node = xmpp_stanza_get_attribute(q, "node");
	xmpp_stanza_t *res, *rq, *id;
	char *capsnode = xasprintf("%s#%s", CAPS_NODE, s->caps_ver);

	if (node != NULL && strcmp(node, capsnode) != 0) {
		session_send_to(s,
		                xmpp_stanza_reply_error(iq, "cancel",
		                                        "item-not-found", NULL),
		                requester);
		free(capsnode);
		return;
	}
	res = xmpp_stanza_reply(iq);
	xmpp_stanza_set_type(res, "result");
	rq = stanza_element(s->ctx, "query", NS_DISCO_INFO);
	if (node != NULL)
		xmpp_stanza_set_attribute(rq, "node", node);
	id = stanza_element(s->ctx, "identity", NULL);
	xmpp_stanza_set_attribute(id, "category", IDENTITY_CATEGORY);
	xmpp_stanza_set_attribute(id, "type", IDENTITY_TYPE);
	xmpp_stanza_set_attribute(id, "name", IDENTITY_NAME);
	xmpp_stanza_add_child_ex(rq, id, 0);
	for (size_t i = 0; i < s->features.n; i++) {
		xmpp_stanza_t *f = stanza_element(s->ctx, "feature", NULL);

		xmpp_stanza_set_attribute(f, "var", s->features.v[i]);
		xmpp_stanza_add_child_ex(rq, f, 0);
	}
	xmpp_stanza_add_child_ex(res, rq, 0);
	session_send_to(s, res, requester);
	free(capsnode);
}

/* Answers a XEP-0092 software version query. */
static void version_info(struct session *s, xmpp_stanza_t *iq,
                         const char *requester)
{
	xmpp_stanza_t *res = xmpp_stanza_reply(iq);
	xmpp_stanza_t *q = stanza_element(s->ctx, "query", NS_VERSION);

	xmpp_stanza_set_type(res, "result");
	stanza_add_text(s->ctx, q, "name", NULL, "fisbot");
	stanza_add_text(s->ctx, q, "version", NULL, FISBOT_VERSION);
	xmpp_stanza_add_child_ex(res, q, 0);
	session_send_to(s, res, requester);
}

bool disco_iq(struct session *s, xmpp_stanza_t *st, const char *requester)
{
	const char *type = xmpp_stanza_get_type(st);
	xmpp_stanza_t *q;
	const char *ns;

	if (strcmp(type, "get") != 0)
		return false;
	for (q = xmpp_stanza_get_children(st);
	     q != NULL && !xmpp_stanza_is_tag(q); q = xmpp_stanza_get_next(q))
		;
	if (q == NULL || (ns = xmpp_stanza_get_ns(q)) == NULL)
		return false;
	if (strcmp(ns, NS_DISCO_INFO) == 0) {
		disco_info(s, st, q, requester);
	} else if (strcmp(ns, NS_VERSION) == 0) {
		version_info(s, st, requester);
	} else if (strcmp(ns, NS_PING) == 0) {
		xmpp_stanza_t *res = xmpp_stanza_reply(st);

		xmpp_stanza_set_type(res, "result");
		session_send_to(s, res, requester);
	} else {
		return false;
	}
	return true;
}
