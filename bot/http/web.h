/*
 * The web index ([web], SPEC §11): the catalogue for browsers and
 * machines, served by the HTTP server (http.c routes every request that is
 * not a file link or an upload here when [web] enabled is on).
 *
 * Below its root ({base_url}/ with access = public, {base_url}/w/{token}/
 * with access = link, web_token.h):
 *
 *   DIR/            a folder page: folders first, then files (size, date,
 *                   first 12 hex digits of the SHA-256, the /f/ download
 *                   link `get` makes), ?page=N, breadcrumbs
 *   ?q=TERMS        a search (the chat syntax, query.h), ?page=N
 *   style.css       the one stylesheet
 *   feed.atom       Atom 1.0: the 50 newest files, enclosure links
 *   index.json      every hashed file, one JSON object per line, streamed
 *                   in pages by id (constant memory)
 *
 * Pages are rendered from the templates of bot/http/templates (web_tpl.h),
 * every name text_sanitize'd then escaped, and served with a strict
 * Content-Security-Policy (no script, styles from the same origin only).
 */
#ifndef FISBOT_WEB_H
#define FISBOT_WEB_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <microhttpd.h>

#include "fisbot/catalogue.h"
#include "fisbot/config.h"
#include "token.h"

/* Rows on a folder or search page; entries in the feed. */
#define WEB_PAGE_SIZE 50
#define WEB_FEED_SIZE 50
/* Files read from the catalogue at a time while streaming index.json. */
#define WEB_JSON_CHUNK 256

struct web;

/* Makes the web index of cfg (which, like key, must outlive it). Returns
 * NULL and sets *cause (caller frees) if a template is missing. */
struct web *web_new(const struct config *cfg, const struct token_key *key,
                    char **cause);

/* Frees w (NULL is fine). */
void web_free(struct web *w);

/*
 * Answers a request for url (as libmicrohttpd decoded it) with method on
 * connection c, reading the catalogue through cat (the calling server
 * thread's connection; NULL if it could not be opened: 503). Sets *status
 * and *body (bytes of body, for the access log; 0 for a stream).
 */
enum MHD_Result web_serve(struct web *w, struct MHD_Connection *c,
                          struct catalogue *cat, const char *url,
                          const char *method, unsigned *status, uint64_t *body);

/*
 * Returns the URL of the web index for requester (the host's stable
 * requester key) under cfg, made at now: {base_url}/ with access = public,
 * else a personal {base_url}/w/{token}/ valid [web] link_lifetime. Returns
 * NULL and sets *cause if the web index is disabled or the expiry does not
 * fit. The caller frees the result.
 */
char *web_url_for(const struct config *cfg, const struct token_key *key,
                  const char *requester, time_t now, char **cause);

#endif
