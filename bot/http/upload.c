/*
 * The upload area: making one-time upload URLs, and answering
 * PUT /u/{token}/{name} (see upload.h for the design).
 *
 * A PUT goes through these steps, all before a byte is stored: the token
 * is decoded and checked (404, 403, 410); Content-Length must be there and
 * equal the announced size (400, or 413 if larger); the token is claimed and
 * the quota checked under one lock (409, 413). Only then is the temporary
 * file started and the body read (libmicrohttpd sends "100 Continue" if
 * asked). libmicrohttpd cannot answer in the middle of a body, so a write
 * error (507 for a full disk) discards the file at once and the answer
 * waits for the end of the body. A request that ends any other way
 * (timeout, client gone) lands in upload_completed, which discards the
 * file and gives the token back.
 */
#define _GNU_SOURCE
#include "upload.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/jid.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "fisbot/text.h"
#include "upload_name.h"
#include "upload_store.h"
#include "upload_token.h"

/* Stored uploads that never show up in the catalogue (deleted before they
 * were indexed) stop counting against the quota after this long. */
#define UNCONFIRMED_GRACE 3600

/* One claimed token: an upload in flight, or stored. */
struct claim {
	unsigned char nonce[8];
	uint32_t expires;
	char *uploader;
	uint64_t size;
	char *path;     /* relative to the share, once stored; else NULL */
	bool confirmed; /* the catalogue counts it (for its uploader) */
	struct claim *next;
};

struct upload {
	const struct config *cfg;
	const struct token_key *key;
	struct upload_hooks hooks;
	int rootfd;
	time_t started;

	pthread_mutex_t lock; /* guards claims */
	struct claim *claims;
};

/* One PUT request. */
struct put {
	struct upload_token t;
	char *name; /* from the URL, as signed */
	struct claim *claim;
	struct upload_store *store;
	uint64_t expected;
	unsigned fail; /* non-zero: answer this status at the end */
	const char *fail_text;
	bool stored;
};

/* --- the folder -------------------------------------------------------- */

/* The answer when the upload folder cannot be written. */
#define FOLDER_UNAVAILABLE                                                     \
	"uploads are unavailable: the upload folder cannot be written"

/* Returns true if errno, after upload_store_open failed, says that the
 * folder cannot be written (as opposed to a full disk). */
static bool folder_unwritable(int err)
{
	return err != ENOSPC && err != EDQUOT;
}

/* Describes the upload folder and errno for the log (the caller frees). */
static char *folder_problem(const struct config *cfg, int err)
{
	char *clean =
	    text_sanitize(cfg->upload.folder, strlen(cfg->upload.folder));
	char *msg = xasprintf("[upload] folder \"%s\" cannot be written: %s",
	                      clean, strerror(err));

	free(clean);
	return msg;
}

int upload_folder_check(const struct config *cfg, char **cause)
{
	struct upload_store *probe;
	char *copy, *comp, *save = NULL;
	int rootfd, dfd, fd, err = 0;

	rootfd = open(cfg->share.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd == -1) {
		*cause = folder_problem(cfg, errno);
		return -1;
	}
	/* Down the folder's path, as far as it exists, never through a
	 * link. */
	dfd = dup(rootfd);
	copy = xstrdup(cfg->upload.folder);
	for (comp = strtok_r(copy, "/", &save); comp != NULL && dfd != -1;
	     comp = strtok_r(NULL, "/", &save)) {
		fd = openat(dfd, comp,
		            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		err = errno;
		if (fd == -1)
			break;
		close(dfd);
		dfd = fd;
	}
	if (dfd == -1) {
		err = errno;
	} else if (comp == NULL) {
		/* It exists: exactly what an upload does first, a temporary
		 * file started in it (then removed). */
		probe = upload_store_open(rootfd, cfg->upload.folder, false);
		err = probe == NULL ? errno : 0;
		upload_store_close(probe);
	} else if (err == ENOENT) {
		/* Missing: the first upload makes it, if it can. */
		err = faccessat(dfd, ".", W_OK | X_OK, AT_EACCESS) == -1 ? errno
		                                                         : 0;
	}
	free(copy);
	if (dfd != -1)
		close(dfd);
	close(rootfd);
	if (err != 0) {
		*cause = folder_problem(cfg, err);
		return -1;
	}
	return 0;
}

/* --- offers ------------------------------------------------------------ */

/* Returns the name an upload of clean would get in [upload] folder now
 * (caller frees): clean, or "clean (1).ext"... if that is taken, as the
 * store does when the file arrives (it may still move on if another
 * upload takes the name first). */
static char *free_name(const struct config *cfg, const char *clean)
{
	char *cand = xstrdup(clean), *path;
	struct stat st;

	for (unsigned n = 1; n <= UPLOAD_STORE_VARIANTS; n++) {
		path = xasprintf("%s/%s/%s", cfg->share.path,
		                 cfg->upload.folder, cand);
		if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
		    errno == ENOENT) {
			free(path);
			return cand;
		}
		free(path);
		free(cand);
		cand = upload_name_variant(clean, n);
	}
	free(cand);
	return xstrdup(clean);
}

char *upload_offer(const struct config *cfg, const struct token_key *key,
                   struct catalogue *cat, const char *uploader,
                   const char *name, uint64_t size, time_t now,
                   char **clean_name, char **cause)
{
	char a[TEXT_SIZE_LEN], b[TEXT_SIZE_LEN], c[TEXT_SIZE_LEN];
	char *who = NULL, *clean = NULL, *tok = NULL, *enc, *url = NULL, *why;
	char *final;
	uint64_t used = 0;

	if (!cfg->upload.enabled) {
		*cause = xstrdup("uploads are disabled");
		return NULL;
	}
	if (uploader == NULL || *uploader == '\0') {
		*cause = xstrdup("uploads need your real JID, and it is not "
		                 "known here (an anonymous room); ask in a "
		                 "direct chat");
		return NULL;
	}
	who = jid_fold(xstrdup(uploader)); /* as recorded as uploader */
	if (!config_jid_matches(&cfg->upload.allow, who)) {
		*cause = xstrdup("you are not allowed to upload");
		goto out;
	}
	if (strlen(who) > UPLOAD_TOKEN_JID_MAX) {
		*cause = xasprintf("your JID is too long for uploads (more "
		                   "than %d bytes)",
		                   UPLOAD_TOKEN_JID_MAX);
		goto out;
	}
	if (upload_folder_check(cfg, &why) == -1) {
		log_warnx("upload: %s; uploads are unavailable", why);
		free(why);
		*cause = xstrdup(FOLDER_UNAVAILABLE);
		goto out;
	}
	clean = upload_name_clean(name, &cfg->share.exclude, cause);
	if (clean == NULL)
		goto out;
	/* The name it will have: "hello (1).txt" if "hello.txt" is taken. */
	final = free_name(cfg, clean);
	free(clean);
	clean = final;
	if (size > cfg->upload.max_file_size) {
		*cause = xasprintf(
		    "too large: %s (%" PRIu64 " bytes); the limit is %s",
		    text_human_size(size, a), size,
		    text_human_size(cfg->upload.max_file_size, b));
		goto out;
	}
	if (catalogue_uploader_usage(cat, who, &used) == -1) {
		*cause = xstrdup("the catalogue is unavailable; try again "
		                 "later");
		goto out;
	}
	if (used > cfg->upload.quota || size > cfg->upload.quota - used) {
		*cause = xasprintf("over your quota: you store %s of %s, and "
		                   "this file needs %s",
		                   text_human_size(used, a),
		                   text_human_size(cfg->upload.quota, b),
		                   text_human_size(size, c));
		goto out;
	}
	tok = upload_token_make(key, who, clean, size, cfg->upload.quota, now,
	                        UPLOAD_URL_LIFETIME);
	if (tok == NULL) {
		*cause = xstrdup("cannot make an upload URL now");
		goto out;
	}
	enc = text_pct_encode(clean, strlen(clean), text_url_unreserved);
	url = xasprintf("%s/u/%s/%s", cfg->http.base_url, tok, enc);
	free(enc);
	if (clean_name != NULL) {
		*clean_name = clean;
		clean = NULL;
	}
out:
	free(who);
	free(clean);
	free(tok);
	return url;
}

/* --- the HTTP side ------------------------------------------------------ */

struct upload *upload_new(const struct config *cfg, const struct token_key *key,
                          const struct upload_hooks *hooks, char **cause)
{
	struct upload *u = xcalloc(1, sizeof(*u));
	char *why;

	u->cfg = cfg;
	u->key = key;
	if (hooks != NULL)
		u->hooks = *hooks;
	u->rootfd = open(cfg->share.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u->rootfd == -1) {
		char *clean =
		    text_sanitize(cfg->share.path, strlen(cfg->share.path));

		*cause =
		    xasprintf("[share] path: %s: %s", clean, strerror(errno));
		free(clean);
		free(u);
		return NULL;
	}
	u->started = time(NULL);
	pthread_mutex_init(&u->lock, NULL);
	if (cfg->upload.enabled && upload_folder_check(cfg, &why) == -1) {
		log_warnx("upload: %s; uploads are unavailable until it can "
		          "be",
		          why);
		free(why);
	}
	return u;
}

/* Frees one claim. */
static void claim_free(struct claim *cl)
{
	free(cl->uploader);
	free(cl->path);
	free(cl);
}

void upload_free(struct upload *u)
{
	struct claim *cl, *next;

	if (u == NULL)
		return;
	for (cl = u->claims; cl != NULL; cl = next) {
		next = cl->next;
		claim_free(cl);
	}
	close(u->rootfd);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

/* Queues a short text answer; name/value is an optional extra header. */
static enum MHD_Result answer(struct MHD_Connection *c, unsigned code,
                              const char *text, const char *name,
                              const char *value, unsigned *status,
                              uint64_t *body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = strlen(text);

	resp = MHD_create_response_from_buffer(len, (void *)text,
	                                       MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
	                        "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy",
	                        "default-src 'none'");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (name != NULL)
		MHD_add_response_header(resp, name, value);
	*status = code;
	*body = len;
	ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Removes claim cl from the list (lock held) and frees it. */
static void claim_drop(struct upload *u, struct claim *cl)
{
	struct claim **pp = &u->claims;

	while (*pp != cl)
		pp = &(*pp)->next;
	*pp = cl->next;
	claim_free(cl);
}

/* Forgets claims that no longer matter (lock held): expired tokens whose
 * file the catalogue counts (or that were stored long ago). Tokens in
 * flight are never dropped here. */
static void claims_purge(struct upload *u, time_t now)
{
	struct claim *cl, *next;

	for (cl = u->claims; cl != NULL; cl = next) {
		next = cl->next;
		if (cl->path == NULL || now < (time_t)cl->expires)
			continue;
		if (cl->confirmed ||
		    now >= (time_t)cl->expires + UNCONFIRMED_GRACE)
			claim_drop(u, cl);
	}
}

/* Returns the bytes claimed by uploader that the catalogue does not count
 * yet (lock held): uploads in flight, and stored files still on disk but
 * not yet catalogued with their uploader. Returns -1 on a catalogue
 * error. */
static int claims_pending(struct upload *u, struct catalogue *cat,
                          const char *uploader, uint64_t *bytes)
{
	struct stat st;

	*bytes = 0;
	for (struct claim *cl = u->claims; cl != NULL; cl = cl->next) {
		struct cat_file f = {0};
		int found;

		if (strcmp(cl->uploader, uploader) != 0 || cl->confirmed)
			continue;
		if (cl->path != NULL) {
			found = catalogue_get_by_path(cat, cl->path, &f);
			if (found == -1)
				return -1;
			cl->confirmed = found == 1 && f.uploader != NULL &&
			                strcmp(f.uploader, uploader) == 0;
			cat_file_clear(&f);
			/* Counted by the catalogue now, or deleted before
			 * it was catalogued: either way, not here. */
			if (cl->confirmed ||
			    (fstatat(u->rootfd, cl->path, &st,
			             AT_SYMLINK_NOFOLLOW) == -1 &&
			     errno == ENOENT)) {
				cl->confirmed = true;
				continue;
			}
		}
		*bytes += cl->size;
	}
	return 0;
}

/* Claims p's token and checks the quota. Returns 0, or the status to
 * answer with *text set. */
static unsigned claim(struct upload *u, struct put *p, const char **text)
{
	struct catalogue *cat;
	uint64_t used = 0, pending = 0, quota = p->t.quota;
	char *cause = NULL;
	struct claim *cl;
	unsigned rc = 0;

	/* A connection of its own: this runs on a server thread. */
	cat = catalogue_open(u->cfg->share.database, &cause);
	if (cat == NULL) {
		log_warnx("upload: %s", cause);
		free(cause);
		*text = "the catalogue is unavailable; try again later\n";
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	pthread_mutex_lock(&u->lock);
	claims_purge(u, time(NULL));
	for (cl = u->claims; cl != NULL; cl = cl->next) {
		if (memcmp(cl->nonce, p->t.nonce, sizeof(cl->nonce)) == 0) {
			*text = cl->path != NULL
			            ? "this upload URL was already used\n"
			            : "an upload to this URL is in progress\n";
			rc = MHD_HTTP_CONFLICT;
			goto out;
		}
	}
	if (claims_pending(u, cat, p->t.uploader, &pending) == -1 ||
	    catalogue_uploader_usage(cat, p->t.uploader, &used) == -1) {
		*text = "the catalogue is unavailable; try again later\n";
		rc = MHD_HTTP_SERVICE_UNAVAILABLE;
		goto out;
	}
	if (used + pending > quota || p->expected > quota - used - pending) {
		*text = "over your upload quota\n";
		rc = MHD_HTTP_CONTENT_TOO_LARGE;
		goto out;
	}
	cl = xcalloc(1, sizeof(*cl));
	memcpy(cl->nonce, p->t.nonce, sizeof(cl->nonce));
	cl->expires = p->t.expires;
	cl->uploader = xstrdup(p->t.uploader);
	cl->size = p->expected;
	cl->next = u->claims;
	u->claims = cl;
	p->claim = cl;
out:
	pthread_mutex_unlock(&u->lock);
	catalogue_close(cat);
	return rc;
}

/* Gives p's token back (the upload failed). */
static void unclaim(struct upload *u, struct put *p)
{
	if (p->claim == NULL)
		return;
	pthread_mutex_lock(&u->lock);
	claim_drop(u, p->claim);
	pthread_mutex_unlock(&u->lock);
	p->claim = NULL;
}

/* Parses a Content-Length value: digits only. Returns 0 or -1. */
static int parse_length(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* Checks the headers of a PUT and starts storing it. Returns 0 (the body
 * may come), or the status to answer with *text set. */
static unsigned put_begin(struct upload *u, struct MHD_Connection *c,
                          struct put *p, const char *rest, const char **text)
{
	const struct config *cfg = u->cfg;
	const char *slash = strchr(rest, '/'), *cl, *te;
	time_t now = time(NULL);
	uint64_t length;
	unsigned rc;

	*text = "no such upload URL\n";
	if (slash == NULL ||
	    upload_token_parse(rest, (size_t)(slash - rest), &p->t) == -1)
		return MHD_HTTP_NOT_FOUND;
	p->name = xstrdup(slash + 1);
	switch (upload_token_verify(u->key, &p->t, p->name, now)) {
	case UPLOAD_TOKEN_OK:
		break;
	case UPLOAD_TOKEN_EXPIRED:
		*text = "this upload URL has expired; ask for a new one\n";
		return MHD_HTTP_GONE;
	case UPLOAD_TOKEN_WRONG_KEY:
	case UPLOAD_TOKEN_BAD_MAC:
		*text = "this upload URL is not valid\n";
		return MHD_HTTP_FORBIDDEN;
	}
	if ((time_t)p->t.issued < u->started) {
		*text = "this upload URL was made before the bot restarted; "
		        "ask for a new one\n";
		return MHD_HTTP_GONE;
	}
	te = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (te != NULL || cl == NULL) {
		*text = "an upload needs a Content-Length equal to the "
		        "announced size\n";
		return MHD_HTTP_BAD_REQUEST;
	}
	if (parse_length(cl, &length) == -1) {
		*text = "the Content-Length is not a number\n";
		return MHD_HTTP_BAD_REQUEST;
	}
	if (length > p->t.size) {
		*text = "the body is larger than the size announced\n";
		return MHD_HTTP_CONTENT_TOO_LARGE;
	}
	if (length < p->t.size) {
		*text = "the Content-Length is not the size announced\n";
		return MHD_HTTP_BAD_REQUEST;
	}
	p->expected = length;
	if ((rc = claim(u, p, text)) != 0)
		return rc;
	p->store = upload_store_open(u->rootfd, cfg->upload.folder, false);
	if (p->store == NULL) {
		int err = errno;
		char *why;

		if (!folder_unwritable(err)) {
			*text = "no space left for uploads\n";
			return MHD_HTTP_INSUFFICIENT_STORAGE;
		}
		why = folder_problem(cfg, err);
		log_warnx("upload: %s; a PUT was refused", why);
		free(why);
		*text = FOLDER_UNAVAILABLE "\n";
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	return 0;
}

/* Takes a piece of the body. */
static void put_data(struct put *p, const char *data, size_t len)
{
	if (p->fail != 0)
		return;
	if (upload_store_size(p->store) + len > p->expected) {
		p->fail = MHD_HTTP_CONTENT_TOO_LARGE;
		p->fail_text = "the body is larger than announced\n";
	} else if (upload_store_write(p->store, data, len) == -1) {
		if (errno == ENOSPC || errno == EDQUOT) {
			p->fail = MHD_HTTP_INSUFFICIENT_STORAGE;
			p->fail_text = "no space left for this upload\n";
		} else {
			log_warn("upload: write");
			p->fail = MHD_HTTP_INTERNAL_SERVER_ERROR;
			p->fail_text = "cannot store the upload\n";
		}
	} else {
		return;
	}
	/* Nothing stays behind; the rest of the body is read and dropped. */
	upload_store_close(p->store);
	p->store = NULL;
}

/* Ends a complete body: names the file and answers. */
static enum MHD_Result put_end(struct upload *u, struct MHD_Connection *c,
                               struct put *p, unsigned *status, uint64_t *body)
{
	unsigned char sha[32], b64[48];
	char *final, *path, *shown, *text, digest[64];
	enum MHD_Result ret;

	if (p->fail == 0 && upload_store_size(p->store) != p->expected) {
		p->fail = MHD_HTTP_BAD_REQUEST;
		p->fail_text = "the body is shorter than announced\n";
	}
	if (p->fail != 0) {
		unclaim(u, p);
		return answer(c, p->fail, p->fail_text, NULL, NULL, status,
		              body);
	}
	final = upload_store_commit(p->store, p->name);
	if (final == NULL) {
		int err = errno;

		upload_store_close(p->store);
		p->store = NULL;
		unclaim(u, p);
		if (err == ENOSPC || err == EDQUOT)
			return answer(c, MHD_HTTP_INSUFFICIENT_STORAGE,
			              "no space left for this upload\n", NULL,
			              NULL, status, body);
		errno = err;
		log_warn("upload: cannot name the file");
		return answer(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		              "cannot store the upload\n", NULL, NULL, status,
		              body);
	}
	upload_store_sha256(p->store, sha);
	upload_store_close(p->store);
	p->store = NULL;
	path = u->cfg->upload.folder[0] != '\0'
	           ? xasprintf("%s/%s", u->cfg->upload.folder, final)
	           : xstrdup(final);
	pthread_mutex_lock(&u->lock);
	p->claim->path = xstrdup(path);
	pthread_mutex_unlock(&u->lock);
	p->stored = true;

	shown = text_sanitize(path, strlen(path));
	log_info("upload: %s stored \"%s\" (%" PRIu64 " bytes)", p->t.uploader,
	         shown, p->expected);
	if (u->hooks.on_stored != NULL)
		u->hooks.on_stored(u->hooks.arg, path, p->t.uploader);
	EVP_EncodeBlock(b64, sha, 32);
	snprintf(digest, sizeof(digest), "sha-256=:%s:", (char *)b64);
	text = xasprintf("stored as %s\n", shown);
	ret = answer(c, MHD_HTTP_CREATED, text, "Repr-Digest", digest, status,
	             body);
	free(text);
	free(shown);
	free(path);
	free(final);
	return ret;
}

enum MHD_Result upload_handle(struct upload *u, struct MHD_Connection *c,
                              const char *rest, const char *data,
                              size_t *data_size, void **state, unsigned *status,
                              uint64_t *body)
{
	struct put *p = *state;
	const char *text;
	unsigned rc;

	if (p == NULL) {
		p = xcalloc(1, sizeof(*p));
		rc = put_begin(u, c, p, rest, &text);
		if (rc != 0) {
			unclaim(u, p);
			upload_store_close(p->store);
			free(p->name);
			free(p);
			return answer(c, rc, text, NULL, NULL, status, body);
		}
		*state = p;
		return MHD_YES;
	}
	if (*data_size != 0) {
		put_data(p, data, *data_size);
		*data_size = 0;
		return MHD_YES;
	}
	if (*status != 0) /* already answered */
		return MHD_YES;
	return put_end(u, c, p, status, body);
}

void upload_completed(struct upload *u, void *state,
                      enum MHD_RequestTerminationCode toe)
{
	struct put *p = state;

	if (p == NULL)
		return;
	if (!p->stored) {
		if (p->store != NULL)
			log_info("upload: %s's upload of %" PRIu64 " bytes "
			         "ended after %zu bytes (%s); removed",
			         p->t.uploader, p->expected,
			         upload_store_size(p->store),
			         toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED
			             ? "timed out"
			             : "connection closed");
		unclaim(u, p);
	}
	upload_store_close(p->store);
	free(p->name);
	free(p);
}
