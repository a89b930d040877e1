/*
 * The upload area (the `upload` command and HTTP PUT): one-time URLs
 * for allowed users, and the HTTP side that stores what they send into
 * [upload] folder, within [upload] max_file_size and quota.
 *
 * upload_offer makes the URL; the "upload" plugin calls it on the main
 * thread. The URL's token (upload_token.h) is signed with the link key and
 * says who may store what name and size until when, so making one needs
 * no shared state. The HTTP server owns a struct upload, which answers
 * PUT /u/{token}/{name} from its threads and remembers, for this process's
 * lifetime, which tokens were used and which uploads are in flight:
 *
 * - A token is claimed atomically before any byte is stored: a second PUT
 *   with it gets 409 while the first runs, and for good once it succeeded.
 *   A PUT that fails (timeout, client gone, disk full) gives the token
 *   back, so the client may try again until it expires.
 * - Used tokens are remembered in memory only. Instead of a table on disk,
 *   a token issued before this process started is refused (410): the bot
 *   restarted, so it cannot know whether it was used. Tokens live 5
 *   minutes, so little is lost.
 * - Quota: at PUT time, what the catalogue counts for the uploader, plus
 *   the uploads in flight and those stored but not yet in the catalogue,
 *   plus this one must fit the quota (else 413). upload_offer makes the
 *   same check earlier with the catalogue alone, to refuse early.
 * - Policy travels in the token: who may upload, the size limit and the
 *   quota are checked by upload_offer with the configuration in force, and
 *   the quota is signed into the token, so the HTTP side (which keeps the
 *   configuration it started with) applies the limits the URL was given
 *   under. A reload that disables uploads or removes a user stops new URLs
 *   at once; URLs already handed out stay good until they expire (at most
 *   UPLOAD_URL_LIFETIME).
 * - A stored file is reported through hooks->on_stored (path relative to
 *   the share, uploader's bare JID), for the indexer to record the
 *   uploader; the file is then catalogued and announced like any other.
 */
#ifndef FISBOT_UPLOAD_H
#define FISBOT_UPLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <microhttpd.h>

#include "fisbot/catalogue.h"
#include "fisbot/config.h"
#include "token.h"

/* How long an upload URL may be used, in seconds. */
#define UPLOAD_URL_LIFETIME 300

/*
 * Returns a one-time PUT URL ({base_url}/u/{token}/{name}) for uploader
 * (a bare JID) to store size bytes under name in the upload folder, valid
 * from now for UPLOAD_URL_LIFETIME seconds; cat is a catalogue connection
 * for the quota. If clean_name is not NULL, it receives the name the file
 * will have (made safe, and "name (1).ext"... if the name is taken now; a
 * suffix may still be added if it is taken when the file arrives). On
 * refusal returns NULL and sets *cause to a one-line message for the user:
 * uploads disabled, uploader not allowed, the folder cannot be written
 * (upload_folder_check), bad name, too large, over quota. The caller frees
 * what is returned.
 */
char *upload_offer(const struct config *cfg, const struct token_key *key,
                   struct catalogue *cat, const char *uploader,
                   const char *name, uint64_t size, time_t now,
                   char **clean_name, char **cause);

/*
 * Checks that uploads can be stored in cfg's [upload] folder, beneath the
 * share without a symbolic link: if it exists, a temporary file can be
 * started in it (and is removed); if not, its nearest existing parent is
 * writable (faccessat), so that the first upload can make it. A read-only
 * file system, a folder that is a file or is immutable, missing
 * permissions all fail. Nothing is left behind. Returns 0, or -1 with *cause
 * (the caller frees it) for the log. upload_offer refuses to hand out a
 * URL, and the HTTP side refuses a PUT, while it fails; the HTTP side also
 * warns at start.
 */
int upload_folder_check(const struct config *cfg, char **cause);

/* What the HTTP side tells the rest of the bot (from the server's threads;
 * must be thread-safe). */
struct upload_hooks {
	void (*on_stored)(void *arg, const char *path, const char *uploader);
	void *arg;
};

struct upload;

/* Starts the HTTP side. cfg and key must outlive it. Returns NULL with
 * *cause if the share cannot be opened. */
struct upload *upload_new(const struct config *cfg, const struct token_key *key,
                          const struct upload_hooks *hooks, char **cause);
void upload_free(struct upload *u);

/*
 * The access handler for PUT /u/...: rest is what follows "/u/". Called
 * like a libmicrohttpd access handler, with *state NULL on the first call
 * (the headers); *state is this request's upload state, which the caller
 * keeps and hands to upload_completed at the end. *status and *body receive
 * the response's status and body length (for the access log).
 */
enum MHD_Result upload_handle(struct upload *u, struct MHD_Connection *c,
                              const char *rest, const char *data,
                              size_t *data_size, void **state, unsigned *status,
                              uint64_t *body);

/* The request that owned state ended (toe: how); an upload that did not
 * complete is removed and its token given back. Frees state. */
void upload_completed(struct upload *u, void *state,
                      enum MHD_RequestTerminationCode toe);

#endif
