/*
 * The fis plugin's request handling, apart from the host: what a handler
 * needs (a libstrophe context, a catalogue, limits, a way to make URLs) and
 * what it answers (a payload or an IQ error). The plugin glue (fis.c) fills
 * these from the host API; unit tests and the fuzzer fill them directly.
 */
#ifndef FIS_H
#define FIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strophe.h>

#include "catalogue.h"
#include "fisbot_limits.h"

#define FIS_NS    "urn:xmpp:fis:0"
#define SEARCH_NS "jabber:iq:search"

/* Default and bounds of [plugin "fis"] page_limit: the items of a reply
 * without RSM, and the most an RSM max can ask for. */
#define FIS_PAGE_LIMIT     100
#define FIS_PAGE_LIMIT_MAX 1000

/* What a request handler works with. */
struct fis_env {
	xmpp_ctx_t *ctx;
	struct catalogue *cat;
	unsigned page_limit;
	/* The most bytes the serialized payload may take (see
	 * fis_reply_budget). */
	size_t max_payload;
	/* Returns a download URL for f (caller frees), or NULL. */
	char *(*file_url)(void *arg, const struct cat_file *f);
	void *url_arg;
};

/* A handler's answer: a result payload, or an error. */
struct fis_reply {
	xmpp_stanza_t *payload; /* owned; NULL for an error */
	const char *type;       /* error type: "cancel", "modify", "wait" */
	const char *condition;  /* e.g. "item-not-found" */
	char *text;             /* error text or NULL (owned) */
};

/* Sets r to an error (text may be NULL) and returns -1. */
int fis_reply_error(struct fis_reply *r, const char *type,
                    const char *condition, const char *text);

/* Frees what r holds. */
void fis_reply_clear(struct fis_reply *r);

/* Returns the bytes left for the payload of the reply to iq under
 * FB_MAX_STANZA, after its envelope (id and addresses, escaped in the worst
 * case) and a margin; 0 if the envelope alone is too large. */
size_t fis_reply_budget(xmpp_stanza_t *iq);

/* Returns the first child element of iq with namespace ns and name name,
 * or NULL. */
xmpp_stanza_t *fis_reply_payload_of(xmpp_stanza_t *iq, const char *name,
                                    const char *ns);

/* Of n items whose serialized sizes are sizes[], returns how many fit in
 * budget bytes, taken from the front (or from the back if from_back). */
size_t fis_reply_fit(const size_t *sizes, size_t n, size_t budget,
                     bool from_back);

/* Parses an RSM cursor (a file id: 1 to 18 digits). Returns 0, or -1 if
 * it is not one. */
int fis_reply_cursor(const char *s, int64_t *id);

/* Answers one urn:xmpp:fis:0 IQ (fis_query.c). Returns 0 (r->payload set)
 * or -1 (r holds the error). */
int fis_query_answer(const struct fis_env *env, xmpp_stanza_t *iq,
                     struct fis_reply *r);

/* Answers one jabber:iq:search IQ (search_form.c). Returns 0 or -1 as
 * fis_query_answer. */
int search_form_answer(const struct fis_env *env, xmpp_stanza_t *iq,
                       struct fis_reply *r);

#endif
