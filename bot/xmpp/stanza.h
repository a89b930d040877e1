/*
 * Small helpers over libstrophe's stanzas, for the session's files and for
 * the layers above it (the host's replies): finding a child by namespace,
 * reading an error's condition, building elements, text elements and IQ
 * errors. One copy of each shape; nothing here sends.
 */
#ifndef FISBOT_STANZA_H
#define FISBOT_STANZA_H

#include <strophe.h>

#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_STANZAS  "urn:ietf:params:xml:ns:xmpp-stanzas"

/* Returns the first child element of st in namespace ns named name
 * (NULL name: any name). */
xmpp_stanza_t *stanza_child_ns(xmpp_stanza_t *st, const char *name,
                               const char *ns);
/* The error condition of an error stanza (e.g. "conflict"), or "". */
const char *stanza_error_condition(xmpp_stanza_t *st);
/* Returns a new element <name xmlns=ns/> (ns may be NULL). */
xmpp_stanza_t *stanza_element(xmpp_ctx_t *ctx, const char *name,
                              const char *ns);
/* Adds a new element <name xmlns=ns/> (ns may be NULL) to parent and
 * returns it (owned by parent). */
xmpp_stanza_t *stanza_add_element(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
                                  const char *name, const char *ns);
/* Adds <name xmlns=ns>text</name> (ns may be NULL) to parent and returns
 * it (owned by parent). */
xmpp_stanza_t *stanza_add_text(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
                               const char *name, const char *ns,
                               const char *text);
/* Returns a new IQ error to `to` answering the IQ id: <error type=type>
 * with the defined condition and, if text is not NULL, a <text/> (given
 * as is: the caller sanitises it). */
xmpp_stanza_t *stanza_iq_error(xmpp_ctx_t *ctx, const char *id, const char *to,
                               const char *type, const char *condition,
                               const char *text);

#endif
