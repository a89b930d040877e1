/*
 * Result Set Management (XEP-0059) for the fis plugin: parsing the <set/>
 * of a request and building the <set/> of a reply.
 */
#ifndef FIS_RSM_H
#define FIS_RSM_H

#include <stdbool.h>
#include <stdint.h>

#include <strophe.h>

#define RSM_NS "http://jabber.org/protocol/rsm"

/* Where the requested page starts. */
enum rsm_from {
	RSM_FROM_START,  /* no cursor: the first page */
	RSM_FROM_AFTER,  /* <after>UID</after>: the items after UID */
	RSM_FROM_BEFORE, /* <before>UID</before>: the items before UID */
	RSM_FROM_END,    /* <before/>: the last page */
	RSM_FROM_INDEX,  /* <index>N</index>: from the Nth item (0-based) */
};

/* A parsed request <set/>. */
struct rsm_req {
	bool present; /* the request had a <set/> */
	bool has_max; /* it had <max/> */
	uint64_t max; /* saturated at UINT64_MAX; the caller caps it */
	enum rsm_from from;
	char *cursor;   /* UID of after/before (owned), else NULL */
	uint64_t index; /* RSM_FROM_INDEX */
};

/*
 * Parses the RSM <set/> among the children of query into r. No <set/> is
 * fine (r->present is false). Returns 0, or -1 with *cause (a line for the
 * user; the caller frees it) for garbage: two sets, an unknown or repeated
 * element, a max or index that is not a number, both after and before, or
 * index with a cursor.
 */
int rsm_parse(xmpp_stanza_t *query, struct rsm_req *r, char **cause);

/* Frees what r owns. */
void rsm_req_clear(struct rsm_req *r);

/*
 * Parses an unsigned decimal number (ASCII digits only, surrounding XML
 * white space allowed), saturating at UINT64_MAX. Returns 0, or -1 if s is
 * not such a number.
 */
int rsm_parse_uint(const char *s, uint64_t *v);

/*
 * Builds a reply <set/>: first (with its index) and last if first is not
 * NULL (a non-empty page), and count. The caller owns the result.
 */
xmpp_stanza_t *rsm_reply(xmpp_ctx_t *ctx, const char *first,
                         uint64_t first_index, const char *last,
                         uint64_t count);

#endif
