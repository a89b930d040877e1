/*
 * The HTTP file server: libmicrohttpd with its own thread pool,
 * serving {base_url}/f/{token}/{name} from an open file descriptor, and
 * taking uploads with PUT {base_url}/u/{token}/{name} (upload.h).
 */
#ifndef FISBOT_HTTP_H
#define FISBOT_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "fisbot/catalogue.h"
#include "fisbot/config.h"
#include "token.h"

/*
 * What the server tells and asks the rest of the bot. Each is called from
 * the server's threads, so it must be thread-safe (e.g. post to the
 * indexer's queue); any may be NULL.
 */
struct http_hooks {
	/* A GET response for file id ended: bytes of the body were sent, and
	 * completed is true if it reached the last byte of the file. Called
	 * only for responses sent in full (an aborted one, or one cut short
	 * because the file changed, is not counted). */
	void (*on_download)(void *arg, int64_t id, uint64_t bytes,
	                    bool completed);
	/* File id (at path, relative to the share) is not on disk as the
	 * catalogue says: re-index it (e.g. indexer_post_path). */
	void (*on_stale)(void *arg, int64_t id, const char *path);
	void *arg;
	/* An upload was stored at path (relative to the share) by uploader
	 * (a bare JID): record its uploader (upload.h). Gets arg too. */
	void (*on_upload)(void *arg, const char *path, const char *uploader);
	/* Whether file id is waiting to be hashed again (e.g.
	 * indexer_pending); if the hash it had before is known, it is copied
	 * to prev_sha256 and *has_prev is set, so that links made for that
	 * hash answer 503 (being indexed) instead of 403. Gets arg too. */
	bool (*is_pending)(void *arg, int64_t id, unsigned char prev_sha256[32],
	                   bool *has_prev);
	/* A download slot may have come free (slots.h; also called when a
	 * link goes idle, before its slot lingers out): look again with
	 * http_slot_available. Gets arg too. */
	void (*on_slot_free)(void *arg);
};

/* What stats shows of the transfers. */
struct http_transfers {
	uint64_t rate;        /* bytes/s sent, over the last seconds */
	unsigned slots_used;  /* downloads, lingering links and holds */
	unsigned slots;       /* [transfers] slots; 0 = unlimited */
	unsigned mean_slot_s; /* mean time a slot is held */
};

struct http;

/*
 * Starts the server on cfg->http.listen with the limits of cfg. cfg and key
 * must outlive the server. Each server thread opens its own read-only
 * connection to cfg->share.database when it first needs one. Returns NULL
 * and sets *cause (caller frees) if the share or the address cannot be used.
 */
struct http *http_start(const struct config *cfg, const struct token_key *key,
                        const struct http_hooks *hooks, char **cause);

/* Returns the port the server listens on (useful with port 0). */
uint16_t http_port(const struct http *h);

/* Stops the server: closes the listening socket and every connection, and
 * waits for the threads. NULL is fine. */
void http_stop(struct http *h);

/* Applies what can change in a running server from a re-read
 * configuration: the HTTPS certificate and key are loaded again from
 * cfg's tls_cert and tls_key (new connections get them). Returns -1 with
 * *cause set, the old pair kept, if they cannot be used, or if cfg turns
 * HTTPS on or off (that takes a restart). */
int http_reload(struct http *h, const struct config *cfg, char **cause);

/*
 * Returns the download URL of f (which must be hashed), valid from now for
 * cfg->http.url_lifetime: {base_url}/f/{token}/{percent-encoded name}.
 * Returns NULL and sets *cause if f is not hashed or the expiry does not
 * fit. The caller frees the result.
 */
char *http_url_for(const struct config *cfg, const struct token_key *key,
                   const struct cat_file *f, time_t now, char **cause);

/* The same for a link that carries requester (a chat requester's key;
 * NULL: none), so that its download counts in the requester's slots. */
char *http_url_for_requester(const struct config *cfg,
                             const struct token_key *key,
                             const struct cat_file *f, const char *requester,
                             time_t now, char **cause);

/* Applies the [transfers] limits of cfg (at start and on reload); links
 * and slots in use are kept. */
void http_reconfigure(struct http *h, const struct config *cfg);

/* Returns true if a download by requester could take a slot now. */
bool http_slot_available(struct http *h, const char *requester);
/* Holds a slot for requester for [transfers] slot_hold (hold true), or
 * gives its hold back. */
void http_slot_hold(struct http *h, const char *requester, bool hold);
/* Fills *out (any thread). */
void http_transfers(struct http *h, struct http_transfers *out);

#endif
