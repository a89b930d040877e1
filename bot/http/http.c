/*
 * The HTTP file server.
 *
 * Design:
 * - libmicrohttpd runs its own threads: a pool of one thread per core, each
 *   with its own epoll loop (MHD_USE_INTERNAL_POLLING_THREAD |
 *   MHD_USE_EPOLL | MHD_USE_TURBO). No request body is read but that of an
 *   upload (PUT on /u/, handed to upload.c, which streams it to disk):
 *   other methods are answered (405) on the first call of the access
 *   handler, GET and HEAD when the request ends (see on_request).
 * - Each pool thread opens its own read-only catalogue connection the first
 *   time it needs one and keeps it (thread-specific data, closed when the
 *   thread ends): no lock on the request path.
 * - A request for /f/{token}/{name}: the token is parsed, the row fetched
 *   by its file id, the MAC checked against the row's SHA-256, then the
 *   file is opened beneath a descriptor of the share root (beneath_open:
 *   openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or a walk with
 *   O_NOFOLLOW where openat2 is refused) and its fstat
 *   compared with the row (device, inode, size, mtime) before a byte is
 *   sent; a mismatch is 409 and the file is reported stale, unless the
 *   indexer already has it waiting to be hashed again (hooks->is_pending):
 *   then, as for a row that lost its hash because the file changed, links
 *   whose MAC matches the hash the file had before get 503 with
 *   Retry-After. A MAC that cannot be verified (a wrong one, an unknown or
 *   deleted file id, another key) gets one and the same 403 (what is not a
 *   token at all, 404); for an unknown id a MAC is still computed, so that
 *   the answer takes as long and says nothing about which ids exist.
 * - Bodies: up to HTTP_SMALL_BODY, read into the response (they leave with
 *   the headers in one write); the file's fstat after the read must be the
 *   one before (size, mtime, ctime), or the bytes are not used. Larger ones
 *   are read by a content-reader callback in blocks of up to HTTP_BLOCK
 *   with pread, and after each block the descriptor's fstat is compared
 *   with the one checked before the first byte: a file written to during a
 *   transfer changes its mtime and ctime, so the response ends with an
 *   error (libmicrohttpd closes the connection before the announced
 *   length), the transfer is not counted and the file is reported stale.
 *   So no client ever gets a complete response of mixed bytes (as far as
 *   timestamps tell: two writes within one tick of the file system's clock
 *   look like one, for the indexer too). sendfile
 *   cannot give that guarantee: the kernel reads the page cache while
 *   sending, with no point where the server could check the file before
 *   the last bytes leave, and libmicrohttpd serves one response body from
 *   one source (tests/bench/bench_http.sh measures the cost of the copy).
 *   Memory per transfer is bounded by its block (at most HTTP_BLOCK, and
 *   no more than the range): nothing is mapped.
 * - Limits (connlimit.h): connections are counted in total and per
 *   address (IPv6 per /64) in NOTIFY_CONNECTION; one over a limit gets 503
 *   with Retry-After and is closed. Request headers have an absolute
 *   deadline ([http] header_timeout after accept; [http] timeout after the
 *   previous response on a kept-alive connection), enforced by a reaper
 *   thread, since libmicrohttpd's own timeout restarts on every byte. At
 *   max_connections, the connection that has waited longest for its
 *   headers is evicted to admit the new one. libmicrohttpd's own limits are
 *   set a margin above the configured ones (its per-address limit is off:
 *   ours is exact); what it refuses at accept, and the 503s, are counted
 *   and summarised in one log line at most every 10 s instead of a line
 *   each. libmicrohttpd splits its total limit evenly between the pool's
 *   threads, and one thread may accept more than its share, so its total
 *   is the hard limit times the number of threads.
 * - Behind a reverse proxy (proxy.h): a connection from one of [http]
 *   trusted_proxies is counted in the total but not against its address;
 *   each of its requests is counted instead, until it completes, against
 *   the client X-Forwarded-For names, and one over max_per_ip gets 503
 *   (the proxy's connection stays open: it carries other clients). The
 *   per-address limit of libmicrohttpd itself is off, so nothing caps
 *   the proxy at accept, before its headers are read.
 * - [http] offload = x-accel: once a link is checked like any other
 *   (MAC, file against the catalogue, preconditions), the answer is 200
 *   with an empty body and X-Accel-Redirect: {offload_prefix}/{path},
 *   each component percent-encoded (nginx decodes it once); nginx sends
 *   the bytes, ranges included. The download is counted when the answer
 *   has gone to nginx, for the bytes asked for.
 * - HTTPS (tls.h): with tls_cert and tls_key, libmicrohttpd runs its
 *   GnuTLS backend (MHD_USE_TLS) with a certificate callback, so that
 *   http_reload (SIGHUP) can swap the pair for new handshakes. Bodies go
 *   through the same content reader: there is no sendfile to lose (see
 *   above), though every byte is now also encrypted by the server thread.
 * - Conditional requests (RFC 9110 §13.2.2): If-Match, else
 *   If-Unmodified-Since (412 when not met); then If-None-Match, else
 *   If-Modified-Since (304, with the 200's Content-Length). An HTTP/1.1
 *   request needs exactly one valid Host header (else 400).
 * - Each thread caches the rows it read for HTTP_ROW_TTL_MS, with their
 *   header values and the last token whose MAC matched; a cached row is
 *   still checked against the file's fstat, and read again on any failure.
 * - The web index (web.h): with [web] enabled, every other GET or HEAD
 *   goes to web_serve, with this thread's catalogue connection.
 * - Transfers (pacer.h, slots.h): a GET with a body larger than
 *   HTTP_SMALL_BODY takes the link's download slot first (503 with
 *   Retry-After over [transfers] slots or slots_per_user; every
 *   connection of one link shares its slot) and gives it back when the
 *   response ends. With a cap ([transfers] max_rate, download_rate), the
 *   content reader asks the pacer for each chunk; when it must wait it
 *   suspends its connection (MHD_suspend_connection, then returns 0
 *   bytes, which libmicrohttpd allows only so) and the pacer's thread
 *   resumes it when the chunk's time comes. Without caps the reader is
 *   what it was but for two uncontended locks per block.
 * - Accounting: NOTIFY_COMPLETED tells whether a response was sent in full;
 *   the body length of a full GET response is then reported through
 *   hooks->on_download, and one access-log line is written per request:
 *   method, status, body bytes, file id; never the token or the name, and
 *   no client address.
 */
#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#include "base/beneath.h"
#include "base/clock.h"
#include "connlimit.h"
#include "disposition.h"
#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "fisbot/text.h"
#include "pacer.h"
#include "proxy.h"
#include "range.h"
#include "slots.h"
#include "tls.h"
#include "upload.h"
#include "web.h"

/* Memory per connection (request line and headers must fit). */
#define HTTP_CONN_MEMORY (32 * 1024)
/* Rows cached per server thread, and for how long (ms): a row is used
 * again only if the file's fstat still matches it, so the cache only saves
 * the database round trip; it delays by at most the TTL the effect of
 * catalogue changes that leave the file as it was (a new description). */
#define HTTP_ROW_CACHE  64
#define HTTP_ROW_TTL_MS 1000
/* Bodies up to this size are read into the response and go out with the
 * headers in one write; larger ones are read in blocks of up to
 * HTTP_BLOCK. */
#define HTTP_SMALL_BODY (16 * 1024)
#define HTTP_BLOCK      (256 * 1024)
/* Seconds a client over a limit is asked to wait. */
#define HTTP_RETRY_AFTER "5"
/* The one answer to a link whose MAC cannot be verified. */
#define HTTP_FORBIDDEN_TEXT "this link is not valid (or the file changed)\n"

struct http {
	struct MHD_Daemon *mhd;
	const struct config *cfg;
	const struct token_key *key;
	struct http_hooks hooks;
	int root_fd;
	uint16_t port;
	pthread_key_t cat_key;
	struct upload *upload;    /* PUT /u/... */
	struct connlimit *limits; /* counts, header deadlines */
	struct web *web;          /* the web index ([web] enabled), or NULL */
	struct proxy *proxy;      /* trusted proxies, per-client counts */
	struct tls *tls;          /* HTTPS: the current pair; NULL: HTTP */
	struct pacer *pacer;      /* bandwidth caps */
	struct slots *slots;      /* download slots */
};

/* Per connection: its record in the limits, and whether it is over one. */
struct conn_ctx {
	struct connlimit_conn *lc;
	bool over;
	bool proxied; /* from a trusted proxy: counted per request */
	struct sockaddr_storage peer;
};

/* Per request: what the access log and the accounting need. */
struct req {
	char method[16]; /* for the log, cut */
	unsigned status;
	int64_t id;
	uint64_t body; /* bytes of body in the response */
	bool download; /* a GET of file bytes: report it when sent */
	bool to_end;   /* the body reaches the last byte of the file */
	bool quiet;    /* no access-log line (counted in the limits' summary) */
	void *upload;  /* an upload's state (upload.c) */
	struct proxy_hold *hold; /* counted for a proxy's client */
	bool slot;               /* holds its link's download slot */
	unsigned char slot_key[SLOTS_KEY_LEN];
};

/* Records connections as they open and close; marks the ones over a
 * limit. */
static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	struct http *h = cls;
	const union MHD_ConnectionInfo *fd, *addr;
	struct conn_ctx *ctx;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		fd = MHD_get_connection_info(c,
		                             MHD_CONNECTION_INFO_CONNECTION_FD);
		addr = MHD_get_connection_info(
		    c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (fd == NULL)
			fatalx("http: a connection without a socket");
		ctx = xcalloc(1, sizeof(*ctx));
		if (addr != NULL &&
		    proxy_trusted(h->proxy, addr->client_addr)) {
			/* Its requests are counted per client instead. */
			ctx->proxied = true;
			memcpy(&ctx->peer, addr->client_addr,
			       addr->client_addr->sa_family == AF_INET6
			           ? sizeof(struct sockaddr_in6)
			           : sizeof(struct sockaddr_in));
		}
		ctx->lc = connlimit_open(
		    h->limits, fd->connect_fd,
		    addr && !ctx->proxied ? addr->client_addr : NULL,
		    &ctx->over);
		*socket_context = ctx;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		/* libmicrohttpd closes the socket after this call. */
		ctx = *socket_context;
		if (ctx == NULL)
			return;
		connlimit_close(h->limits, ctx->lc);
		free(ctx);
		*socket_context = NULL;
	}
}

/* Returns the connection's record, or NULL. */
static struct conn_ctx *conn_ctx(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Adds the headers every response carries. */
static void add_common_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy",
	                        "default-src 'none'");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

/* Queues a short text response with status; name/value is an optional
 * extra header. */
static enum MHD_Result reply_text(struct MHD_Connection *c, struct req *r,
                                  unsigned status, const char *text,
                                  const char *name, const char *value)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
	                                       MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
	                        "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	add_common_headers(resp);
	if (name != NULL)
		MHD_add_response_header(resp, name, value);
	r->status = status;
	r->body = strlen(text);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A recently read catalogue row, with its header values made once. */
struct row_slot {
	struct cat_file f;
	bool used;
	int64_t read_ms; /* monotonic time it was read */
	char etag[67];
	char last_modified[40];
	char digest[64];
	char *disposition;
	const char *content_type;
	bool filled;   /* the header values above are made */
	bool verified; /* tok passed token_verify's MAC check for f */
	struct token tok;
	/* The whole 200 response of a small file, built once and queued
	 * again after each successful check of the file. */
	struct MHD_Response *small;
};

/* What each server thread keeps: its catalogue connection and a small
 * cache of rows. */
struct thread_state {
	struct catalogue *cat;
	struct row_slot rows[HTTP_ROW_CACHE];
};

/* Returns this thread's state, opening its read-only catalogue connection
 * on first use; NULL if the catalogue cannot be opened (logged). */
static struct thread_state *thread_state(struct http *h)
{
	struct thread_state *ts = pthread_getspecific(h->cat_key);
	char *cause = NULL;
	struct catalogue *cat;

	if (ts != NULL)
		return ts;
	cat = catalogue_open(h->cfg->share.database, &cause);
	if (cat == NULL) {
		log_warnx("http: %s", cause);
		free(cause);
		return NULL;
	}
	ts = xcalloc(1, sizeof(*ts));
	ts->cat = cat;
	pthread_setspecific(h->cat_key, ts);
	return ts;
}

/* Empties a cache slot. */
static void clear_slot(struct row_slot *slot)
{
	cat_file_clear(&slot->f);
	free(slot->disposition);
	if (slot->small != NULL)
		MHD_destroy_response(slot->small);
	memset(slot, 0, sizeof(*slot));
}

/* Closes a thread's catalogue connection when the thread ends. */
static void free_thread_state(void *p)
{
	struct thread_state *ts = p;

	for (size_t i = 0; i < HTTP_ROW_CACHE; i++)
		clear_slot(&ts->rows[i]);
	catalogue_close(ts->cat);
	free(ts);
}

/*
 * Finds row id: from the cache if it was read less than HTTP_ROW_TTL_MS ago
 * and fresh is false, else from the catalogue. Returns its slot (valid
 * until the next lookup on this thread) and sets *cached,
 * or returns NULL if there is no such row or on a database error (then
 * *db_error is set).
 */
static struct row_slot *lookup_row(struct thread_state *ts, int64_t id,
                                   bool fresh, bool *cached, bool *db_error)
{
	struct row_slot *slot = &ts->rows[(uint64_t)id % HTTP_ROW_CACHE];
	int64_t now = clock_now_coarse_ms();
	int found;

	*cached = false;
	*db_error = false;
	if (!fresh && slot->used && slot->f.id == id &&
	    now - slot->read_ms < HTTP_ROW_TTL_MS) {
		*cached = true;
		return slot;
	}
	clear_slot(slot);
	found = catalogue_get(ts->cat, id, &slot->f);
	if (found != 1) {
		*db_error = found == -1;
		return NULL;
	}
	slot->used = true;
	slot->read_ms = now;
	return slot;
}

/* Returns true if c may appear unencoded in a filename* value (RFC 8187
 * attr-char). */
static bool is_attr_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || strchr("!#$&+-.^_`|~", c) != NULL;
}

/* Returns the last component of a catalogue path. */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Returns the Content-Disposition value for file name (caller frees):
 * an ASCII fallback and the exact name in UTF-8 (RFC 6266, RFC 8187). A
 * name that is not valid UTF-8 is sanitised first. */
static char *content_disposition(const char *name)
{
	size_t len = strlen(name), n;
	char *utf8, *ascii, *enc, *out;

	utf8 =
	    text_is_utf8(name, len) ? xstrdup(name) : text_sanitize(name, len);
	n = strlen(utf8);
	ascii = disposition_ascii(utf8); /* transliterated */
	enc = text_pct_encode(utf8, n, is_attr_char);
	out = xasprintf("attachment; filename=\"%s\"; filename*=UTF-8''%s",
	                n ? ascii : "download", enc);
	free(utf8);
	free(ascii);
	free(enc);
	return out;
}

/* Returns true if a media type from the catalogue is safe in a header. */
static bool media_type_ok(const char *t)
{
	if (t == NULL || *t == '\0' || strchr(t, '/') == NULL)
		return false;
	for (; *t; t++)
		if ((unsigned char)*t < 0x20 || (unsigned char)*t >= 0x7f)
			return false;
	return true;
}

/* Adds the representation headers of a row: every header GET and HEAD
 * carry but the length, which libmicrohttpd sets from the response size. */
static void add_file_headers(struct MHD_Response *resp,
                             const struct row_slot *slot)
{
	MHD_add_response_header(resp, "Content-Type", slot->content_type);
	MHD_add_response_header(resp, "Last-Modified", slot->last_modified);
	MHD_add_response_header(resp, "ETag", slot->etag);
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	MHD_add_response_header(resp, "Content-Disposition", slot->disposition);
	MHD_add_response_header(resp, "Repr-Digest", slot->digest);
	add_common_headers(resp);
}

/* Writes the strong entity tag of f ("<sha-256 hex>", quotes included). */
static void make_etag(const struct cat_file *f, char etag[67])
{
	etag[0] = '"';
	text_hex(f->sha256, 32, etag + 1);
	etag[65] = '"';
	etag[66] = '\0';
}

/* Makes the header values of a freshly read row (hashed). */
static void fill_slot(struct row_slot *slot)
{
	const struct cat_file *f = &slot->f;
	unsigned char b64[48];

	slot->filled = true;
	make_etag(f, slot->etag);
	range_format_date((time_t)(f->mtime_ns / 1000000000),
	                  slot->last_modified, sizeof(slot->last_modified));
	EVP_EncodeBlock(b64, f->sha256, 32);
	snprintf(slot->digest, sizeof(slot->digest),
	         "sha-256=:%s:", (char *)b64);
	slot->disposition = content_disposition(base_name(f->path));
	slot->content_type = media_type_ok(f->media_type)
	                         ? f->media_type
	                         : "application/octet-stream";
}

/* Returns true if the descriptor's metadata is the catalogue row's: the
 * ctime too where the row knows it, so an in-place edit whose size and
 * mtime were put back (touch -r) is not served under the old hash. */
static bool same_file(const struct stat *st, const struct cat_file *f)
{
	int64_t mtime_ns =
	    (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	int64_t ctime_ns =
	    (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;

	return S_ISREG(st->st_mode) && (uint64_t)st->st_dev == f->dev &&
	       (uint64_t)st->st_ino == f->ino &&
	       (uint64_t)st->st_size == f->size && mtime_ns == f->mtime_ns &&
	       (f->ctime_ns == 0 || ctime_ns == f->ctime_ns);
}

/* Returns true if the open file fd is still as it was when st was taken:
 * a write changes its mtime and ctime (and maybe its size). */
static bool unchanged(int fd, const struct stat *st)
{
	struct stat now;

	return fstat(fd, &now) == 0 && now.st_size == st->st_size &&
	       now.st_mtim.tv_sec == st->st_mtim.tv_sec &&
	       now.st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
	       now.st_ctim.tv_sec == st->st_ctim.tv_sec &&
	       now.st_ctim.tv_nsec == st->st_ctim.tv_nsec;
}

/* Reports the file of a row as stale, if anyone listens. */
static void report_stale(struct http *h, int64_t id, const char *path)
{
	if (h->hooks.on_stale != NULL)
		h->hooks.on_stale(h->hooks.arg, id, path);
}

/* The content reader of a response whose body is never sent (304). */
static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	(void)buf;
	(void)max;
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* Answers 304 Not Modified with the validators. libmicrohttpd gives a 304
 * the Content-Length of its response object, and sends no body: the
 * object is made the 200's size, so that the length is the 200's (RFC
 * 9110 §8.6), never a wrong 0. */
static enum MHD_Result reply_not_modified(struct MHD_Connection *c,
                                          struct req *r,
                                          const struct row_slot *slot)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (slot->f.size == 0)
		resp = MHD_create_response_from_buffer(0, (void *)"",
		                                       MHD_RESPMEM_PERSISTENT);
	else
		resp = MHD_create_response_from_callback(slot->f.size, 1,
		                                         no_body, NULL, NULL);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "ETag", slot->etag);
	MHD_add_response_header(resp, "Last-Modified", slot->last_modified);
	r->status = MHD_HTTP_NOT_MODIFIED;
	ret = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The outcome of the conditional headers. */
enum precondition {
	PRECONDITION_PASS,         /* serve */
	PRECONDITION_FAILED,       /* 412 */
	PRECONDITION_NOT_MODIFIED, /* 304 */
};

/* Evaluates the conditional headers of a GET or HEAD in the order of RFC
 * 9110 §13.2.2: If-Match, else If-Unmodified-Since; then If-None-Match,
 * else If-Modified-Since. A date that cannot be parsed is ignored. */
static enum precondition preconditions(struct MHD_Connection *c,
                                       const char *etag, time_t mtime)
{
	const char *v;
	time_t t;

	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                MHD_HTTP_HEADER_IF_MATCH);
	if (v != NULL) {
		if (!range_if_match(v, etag))
			return PRECONDITION_FAILED;
	} else {
		v = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_UNMODIFIED_SINCE);
		if (v != NULL && range_parse_date(v, &t) == 0 && mtime > t)
			return PRECONDITION_FAILED;
	}
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (v != NULL)
		return range_etag_matches(v, etag) ? PRECONDITION_NOT_MODIFIED
		                                   : PRECONDITION_PASS;
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	if (v != NULL && range_parse_date(v, &t) == 0 && mtime <= t)
		return PRECONDITION_NOT_MODIFIED;
	return PRECONDITION_PASS;
}

/* Returns a response holding the bytes of rg read from fd, or NULL if they
 * cannot be read in full or the file changed meanwhile (st: the file as
 * checked before). */
static struct MHD_Response *small_body(int fd, const struct stat *st,
                                       struct range rg)
{
	char *buf = xmalloc(rg.len);
	ssize_t n = pread(fd, buf, rg.len, (off_t)rg.start);

	if (n != (ssize_t)rg.len || !unchanged(fd, st)) {
		free(buf);
		return NULL;
	}
	return MHD_create_response_from_buffer(rg.len, buf,
	                                       MHD_RESPMEM_MUST_FREE);
}

/* A body being read from a file by read_body. */
struct body {
	struct http *h;
	int fd;
	uint64_t start; /* the file offset of the body's first byte */
	struct stat st; /* the file as checked before the first byte */
	int64_t id;     /* the file's id and path, to report it stale */
	char *path;
	bool reported;
	struct MHD_Connection *c; /* suspended while the pacer says wait */
	struct pacer_conn pc;
};

/* The pacer's thread: the chunk a suspended connection waited for is
 * due. */
static void wake_body(void *arg)
{
	struct body *b = arg;

	MHD_resume_connection(b->c);
}

/* Returns how many of want bytes the body may read now (the caps), or 0
 * after suspending its connection until it may go on. */
static size_t paced(struct body *b, size_t want)
{
	int64_t now = clock_now_ns() / 1000, due;
	size_t n = pacer_take(b->h->pacer, &b->pc, want, now, &due);

	if (n > 0)
		return n;
	/* Suspended first, then handed to the pacer's thread: it can only
	 * resume a connection that is suspended. */
	MHD_suspend_connection(b->c);
	if (!pacer_wait(b->h->pacer, &b->pc, wake_body, b)) {
		MHD_resume_connection(b->c);
		return want;
	}
	return 0;
}

/*
 * libmicrohttpd's content reader: reads up to max bytes of the body at pos
 * into buf, then checks the file. If it changed since the transfer began,
 * or cannot be read, the response ends with an error: the connection is
 * closed before the announced length, and the request is not counted.
 */
static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct body *b = cls;
	ssize_t n;

	if ((max = paced(b, max)) == 0)
		return 0; /* suspended: called again when resumed */
	n = pread(b->fd, buf, max, (off_t)(b->start + pos));
	if (n > 0 && unchanged(b->fd, &b->st)) {
		pacer_count(b->h->pacer, (size_t)n, clock_now_ns() / 1000);
		return n;
	}
	if (n == -1)
		log_warn("http: reading file #%lld", (long long)b->id);
	else if (!b->reported)
		log_info("http: file #%lld changed while it was sent; the "
		         "transfer was cut short",
		         (long long)b->id);
	if (!b->reported)
		report_stale(b->h, b->id, b->path);
	b->reported = true;
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* Frees a body once its response is done with. */
static void free_body(void *cls)
{
	struct body *b = cls;

	pacer_forget(b->h->pacer, &b->pc);
	close(b->fd);
	free(b->path);
	free(b);
}

/* Returns a response reading the bytes of rg from fd as they are sent,
 * checking the file as it goes (read_body). Takes fd. */
static struct MHD_Response *file_body(struct http *h, struct MHD_Connection *c,
                                      int fd, const struct stat *st,
                                      struct range rg, const struct cat_file *f)
{
	struct MHD_Response *resp;
	struct body *b = xcalloc(1, sizeof(*b));

	b->h = h;
	b->c = c;
	b->fd = fd;
	b->start = rg.start;
	b->st = *st;
	b->id = f->id;
	b->path = xstrdup(f->path);
	resp = MHD_create_response_from_callback(
	    rg.len, rg.len < HTTP_BLOCK ? (size_t)rg.len : HTTP_BLOCK,
	    read_body, b, free_body);
	if (resp == NULL)
		free_body(b);
	return resp;
}

/* Hands a checked file to the proxy in front ([http] offload = x-accel):
 * 200 with an empty body and X-Accel-Redirect, for GET and HEAD; nginx
 * sends the bytes, the range too. A GET is counted as the bytes it asks
 * for (all of them, or its single satisfiable range): nginx does not tell
 * the bot how a transfer ended. */
static enum MHD_Result send_offload(struct http *h, struct MHD_Connection *c,
                                    struct req *r, struct row_slot *slot,
                                    bool get)
{
	const struct cat_file *f = &slot->f;
	struct range rg = {0, f->size};
	struct MHD_Response *resp;
	const char *range, *if_range;
	enum MHD_Result ret;
	char *uri;

	range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                    MHD_HTTP_HEADER_RANGE);
	if (get && range != NULL) {
		if_range = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
		if ((if_range == NULL ||
		     range_if_range(if_range, slot->etag,
		                    f->mtime_ns / 1000000000)) &&
		    range_parse(range, f->size, &rg) == RANGE_UNSATISFIABLE)
			get = false; /* nginx answers 416: nothing sent */
	}
	resp = MHD_create_response_from_buffer(0, (void *)"",
	                                       MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	uri = proxy_accel_uri(h->cfg->http.offload_prefix, f->path);
	MHD_add_response_header(resp, "X-Accel-Redirect", uri);
	free(uri);
	/* nginx keeps these two of the bot's headers and makes the others
	 * (length, dates, ranges) from the file itself. */
	MHD_add_response_header(resp, "Content-Type", slot->content_type);
	MHD_add_response_header(resp, "Content-Disposition", slot->disposition);
	add_common_headers(resp);
	r->status = MHD_HTTP_OK;
	r->body = get ? rg.len : 0;
	r->download = get;
	r->to_end = rg.start + rg.len == f->size;
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Takes the download slot of link tok for request r; returns false if the
 * slots are all busy. */
static bool take_slot(struct http *h, struct req *r, const struct token *tok)
{
	unsigned retry;

	if (!slots_acquire(h->slots, tok->mac, tok->requester, clock_now_ms(),
	                   &retry))
		return false;
	memcpy(r->slot_key, tok->mac, SLOTS_KEY_LEN);
	r->slot = true;
	return true;
}

/* Sends the bytes of an open, checked file: 200, 206 or 416. Takes fd;
 * st is its fstat, as checked against the catalogue; tok is the link
 * (for its download slot). */
static enum MHD_Result send_file(struct http *h, struct MHD_Connection *c,
                                 struct req *r, struct row_slot *slot, int fd,
                                 const struct stat *st, bool get,
                                 const struct token *tok)
{
	const struct cat_file *f = &slot->f;
	struct MHD_Response *resp;
	struct range rg = {0, f->size};
	enum range_result rr = RANGE_NONE;
	const char *range, *if_range;
	unsigned status = MHD_HTTP_OK;
	char content_range[80];
	enum MHD_Result ret;

	if (h->cfg->http.offload == OFFLOAD_XACCEL) {
		close(fd);
		return send_offload(h, c, r, slot, get);
	}
	range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                    MHD_HTTP_HEADER_RANGE);
	if (get && range != NULL) {
		if_range = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
		if (if_range == NULL ||
		    range_if_range(if_range, slot->etag,
		                   f->mtime_ns / 1000000000))
			rr = range_parse(range, f->size, &rg);
	}
	if (rr == RANGE_UNSATISFIABLE) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, (void *)"",
		                                       MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		snprintf(content_range, sizeof(content_range), "bytes */%llu",
		         (unsigned long long)f->size);
		MHD_add_response_header(resp, "Content-Range", content_range);
		add_file_headers(resp, slot);
		r->status = MHD_HTTP_RANGE_NOT_SATISFIABLE;
		ret = MHD_queue_response(c, r->status, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (rr == RANGE_NONE)
		rg = (struct range){0, f->size};
	/* A body that leaves with its headers in one write is not a
	 * download in progress: no slot (the 4 KiB path stays as it was),
	 * but a slot held for its requester is used up. */
	if (get && rg.len > 0 && rg.len <= HTTP_SMALL_BODY &&
	    tok->requester != 0)
		slots_unhold(h->slots, tok->requester, clock_now_ms());
	if (get && rg.len > HTTP_SMALL_BODY && !take_slot(h, r, tok)) {
		close(fd);
		return reply_text(c, r, MHD_HTTP_SERVICE_UNAVAILABLE,
		                  "all download slots are busy; try again "
		                  "later\n",
		                  "Retry-After", HTTP_RETRY_AFTER);
	}
	if (rr == RANGE_NONE && f->size > 0 && f->size <= HTTP_SMALL_BODY) {
		if (slot->small == NULL) {
			slot->small = small_body(fd, st, rg);
			if (slot->small != NULL)
				add_file_headers(slot->small, slot);
		}
		close(fd);
		if (slot->small == NULL)
			return MHD_NO;
		r->status = MHD_HTTP_OK;
		r->body = get ? rg.len : 0;
		r->download = get;
		r->to_end = true;
		return MHD_queue_response(c, MHD_HTTP_OK, slot->small);
	}
	if (rg.len == 0) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, (void *)"",
		                                       MHD_RESPMEM_PERSISTENT);
	} else if (rg.len <= HTTP_SMALL_BODY) {
		resp = small_body(fd, st, rg);
		close(fd);
	} else if (!get) {
		/* HEAD: the length alone; nothing is read. */
		resp = MHD_create_response_from_fd_at_offset64(rg.len, fd,
		                                               rg.start);
		if (resp == NULL)
			close(fd);
	} else {
		resp = file_body(h, c, fd, st, rg, f);
	}
	if (resp == NULL)
		return MHD_NO;
	if (rr == RANGE_OK) {
		status = MHD_HTTP_PARTIAL_CONTENT;
		snprintf(content_range, sizeof(content_range),
		         "bytes %llu-%llu/%llu", (unsigned long long)rg.start,
		         (unsigned long long)(rg.start + rg.len - 1),
		         (unsigned long long)f->size);
		MHD_add_response_header(resp, "Content-Range", content_range);
	}
	add_file_headers(resp, slot);
	r->status = status;
	r->body = get ? rg.len : 0;
	r->download = get;
	r->to_end = rg.start + rg.len == f->size;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The outcome of checking a link against the catalogue and the disk. */
enum check {
	CHECK_OK,
	CHECK_FORBIDDEN, /* 403: the MAC cannot be verified */
	CHECK_EXPIRED,   /* 410 */
	CHECK_PENDING,   /* 503: the file changed and is being indexed */
	CHECK_GONE,      /* 404: not on disk */
	CHECK_REFUSED,   /* 403: a link or an escape where the file was */
	CHECK_CHANGED,   /* 409: not the file that was hashed */
	CHECK_DB_ERROR,  /* 500 */
	CHECK_IO_ERROR,  /* 500 */
};

/* Returns true if two parsed tokens are the same. */
static bool same_token(const struct token *a, const struct token *b)
{
	return a->version == b->version && a->key_id == b->key_id &&
	       a->file_id == b->file_id && a->expires == b->expires &&
	       memcmp(a->mac, b->mac, sizeof(a->mac)) == 0;
}

/* Checks t's MAC against the file hash sha256: CHECK_OK, CHECK_EXPIRED or
 * CHECK_FORBIDDEN. With no hash (NULL) a MAC is computed all the same, so
 * that the answer (CHECK_FORBIDDEN) takes as long. */
static enum check verify_mac(struct http *h, const struct token *t,
                             const unsigned char *sha256, time_t now)
{
	static const unsigned char none[32];

	switch (token_verify(h->key, t, sha256 ? sha256 : none, now)) {
	case TOKEN_OK:
		return sha256 ? CHECK_OK : CHECK_FORBIDDEN;
	case TOKEN_EXPIRED:
		return sha256 ? CHECK_EXPIRED : CHECK_FORBIDDEN;
	default:
		return CHECK_FORBIDDEN;
	}
}

/* Returns true if the indexer has file id waiting to be hashed; sets
 * *has_prev and prev to the hash it had before, if known. */
static bool is_pending(struct http *h, int64_t id, unsigned char prev[32],
                       bool *has_prev)
{
	*has_prev = false;
	return h->hooks.is_pending != NULL &&
	       h->hooks.is_pending(h->hooks.arg, id, prev, has_prev);
}

/* Looks up the row of token t, checks the MAC (once per row and token),
 * opens the file and checks it against the row. Sets *sp to the row's slot
 * when there is one, and on CHECK_OK *fdp (the caller closes it) and *st.
 */
static enum check check_link(struct http *h, struct thread_state *ts,
                             const struct token *t, bool fresh,
                             struct row_slot **sp, int *fdp, struct stat *st,
                             bool *cached)
{
	struct row_slot *slot;
	const struct cat_file *f;
	unsigned char prev[32];
	time_t now = time(NULL);
	enum check rc;
	bool db_error, has_prev;
	int fd, err;

	slot = lookup_row(ts, t->file_id, fresh, cached, &db_error);
	if (slot == NULL)
		return db_error ? CHECK_DB_ERROR : verify_mac(h, t, NULL, now);
	f = &slot->f;
	*sp = slot;
	if (!f->hashed) {
		/* Changed, and waiting to be hashed again: the links made
		 * for the hash it had answer 503 meanwhile. */
		if (!is_pending(h, f->id, prev, &has_prev) || !has_prev)
			return verify_mac(h, t, NULL, now);
		rc = verify_mac(h, t, prev, now);
		return rc == CHECK_OK ? CHECK_PENDING : rc;
	}
	if (slot->verified && same_token(&slot->tok, t)) {
		if (token_expired(t, now))
			return CHECK_EXPIRED;
	} else {
		rc = verify_mac(h, t, f->sha256, now);
		if (rc != CHECK_OK)
			return rc;
		slot->tok = *t;
		slot->verified = true;
	}
	if (!slot->filled)
		fill_slot(slot);
	fd =
	    beneath_open(h->root_fd, f->path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		err = errno;
		if (err == ENOENT || err == ENOTDIR)
			return CHECK_GONE;
		if (err == ELOOP || err == EXDEV || err == EACCES ||
		    err == EPERM)
			return CHECK_REFUSED;
		log_warn("http: open file #%lld", (long long)f->id);
		return CHECK_IO_ERROR;
	}
	if (fstat(fd, st) == -1 || !same_file(st, f)) {
		close(fd);
		return is_pending(h, f->id, prev, &has_prev) ? CHECK_PENDING
		                                             : CHECK_CHANGED;
	}
	*fdp = fd;
	return CHECK_OK;
}

/* Returns the seconds a client should wait for a file of size bytes that
 * is being indexed again: the settle time, then hashing. */
static unsigned rehash_wait(const struct config *cfg, uint64_t size)
{
	uint64_t s = 1 + (cfg->share.settle_ms + 999) / 1000 +
	             size / (100 * 1024 * 1024);

	return s > 3600 ? 3600 : (unsigned)s;
}

/* Answers 403 to a link whose MAC cannot be verified: always the same. */
static enum MHD_Result reply_forbidden(struct MHD_Connection *c, struct req *r)
{
	return reply_text(c, r, MHD_HTTP_FORBIDDEN, HTTP_FORBIDDEN_TEXT, NULL,
	                  NULL);
}

/* Serves GET or HEAD /f/{token}/{name}; rest is what follows "/f/". */
static enum MHD_Result serve_file(struct http *h, struct MHD_Connection *c,
                                  struct req *r, const char *rest, bool get)
{
	const char *slash = strchr(rest, '/');
	size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
	struct row_slot *slot = NULL;
	struct thread_state *ts;
	struct token t;
	struct stat st;
	enum check rc;
	char wait[16];
	bool cached;
	int fd = -1;

	if (token_parse(rest, len, &t) == -1)
		return reply_text(c, r, MHD_HTTP_NOT_FOUND, "no such link\n",
		                  NULL, NULL);
	if (t.key_id != token_key_id(h->key))
		return reply_forbidden(c, r);
	if ((ts = thread_state(h)) == NULL)
		return reply_text(c, r, MHD_HTTP_SERVICE_UNAVAILABLE,
		                  "the catalogue is unavailable\n",
		                  "Retry-After", HTTP_RETRY_AFTER);
	rc = check_link(h, ts, &t, false, &slot, &fd, &st, &cached);
	if (rc != CHECK_OK && cached) /* the row may be out of date */
		rc = check_link(h, ts, &t, true, &slot, &fd, &st, &cached);
	if (slot != NULL && rc != CHECK_FORBIDDEN && rc != CHECK_EXPIRED &&
	    rc != CHECK_DB_ERROR)
		r->id = slot->f.id;
	switch (rc) {
	case CHECK_OK:
		break;
	case CHECK_FORBIDDEN:
		return reply_forbidden(c, r);
	case CHECK_EXPIRED:
		return reply_text(c, r, MHD_HTTP_GONE,
		                  "this link has expired\n", NULL, NULL);
	case CHECK_PENDING:
		snprintf(wait, sizeof(wait), "%u",
		         rehash_wait(h->cfg, slot->f.size));
		return reply_text(c, r, MHD_HTTP_SERVICE_UNAVAILABLE,
		                  "the file changed and is being indexed "
		                  "again; try again shortly\n",
		                  "Retry-After", wait);
	case CHECK_GONE:
		report_stale(h, slot->f.id, slot->f.path);
		return reply_text(c, r, MHD_HTTP_NOT_FOUND,
		                  "the file is gone\n", NULL, NULL);
	case CHECK_REFUSED:
		report_stale(h, slot->f.id, slot->f.path);
		return reply_text(c, r, MHD_HTTP_FORBIDDEN,
		                  "the file cannot be served\n", NULL, NULL);
	case CHECK_CHANGED:
		report_stale(h, slot->f.id, slot->f.path);
		return reply_text(
		    c, r, MHD_HTTP_CONFLICT,
		    "the file changed; try again once it has been "
		    "indexed\n",
		    NULL, NULL);
	case CHECK_DB_ERROR:
		return reply_text(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                  "catalogue error\n", NULL, NULL);
	case CHECK_IO_ERROR:
		return reply_text(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                  "cannot open the file\n", NULL, NULL);
	}
	if (slot == NULL) /* CHECK_OK always sets it; this tells the compiler */
		return MHD_NO;
	switch (preconditions(c, slot->etag,
	                      (time_t)(slot->f.mtime_ns / 1000000000))) {
	case PRECONDITION_PASS:
		break;
	case PRECONDITION_FAILED:
		close(fd);
		return reply_text(c, r, MHD_HTTP_PRECONDITION_FAILED,
		                  "precondition failed: the file is not the "
		                  "one asked for\n",
		                  NULL, NULL);
	case PRECONDITION_NOT_MODIFIED:
		close(fd);
		return reply_not_modified(c, r, slot);
	}
	return send_file(h, c, r, slot, fd, &st, get, &t);
}

/* Routes a request by path prefix and method. */
static enum MHD_Result route_request(struct http *h, struct MHD_Connection *c,
                                     struct req *r, const char *url,
                                     const char *method)
{
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

	if (strncmp(url, "/f/", 3) == 0) {
		if (!get && !head)
			return reply_text(c, r, MHD_HTTP_METHOD_NOT_ALLOWED,
			                  "only GET and HEAD here\n", "Allow",
			                  "GET, HEAD");
		return serve_file(h, c, r, url + 3, get);
	}
	if (strncmp(url, "/u/", 3) == 0)
		return reply_text(c, r, MHD_HTTP_METHOD_NOT_ALLOWED,
		                  "only PUT here\n", "Allow", "PUT");
	if (h->web != NULL) { /* the web index, on this thread's catalogue */
		struct thread_state *ts = thread_state(h);

		return web_serve(h->web, c, ts ? ts->cat : NULL, url, method,
		                 &r->status, &r->body);
	}
	return reply_text(c, r, MHD_HTTP_NOT_FOUND, "not found\n", NULL, NULL);
}

/* Answers a connection over a configured limit: 503, then close. It is
 * counted for the limits' summary instead of the access log. */
static enum MHD_Result reply_over_limit(struct http *h,
                                        struct MHD_Connection *c, struct req *r,
                                        bool keep_open)
{
	static const char text[] = "too many connections\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(sizeof(text) - 1, (void *)text,
	                                       MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Retry-After", HTTP_RETRY_AFTER);
	if (!keep_open)
		MHD_add_response_header(resp, "Connection", "close");
	MHD_add_response_header(resp, "Content-Type",
	                        "text/plain; charset=utf-8");
	add_common_headers(resp);
	r->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	r->quiet = true;
	connlimit_count(h->limits, CONNLIMIT_ANSWERED_503);
	ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Returns true if v is a valid Host value: a host name or address
 * (RFC 3986 reg-name, IPv4 or IP-literal) and an optional port, or empty;
 * only the characters are checked. */
static bool host_value_ok(const char *v)
{
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') ||
		      strchr("-._~%!$&'()*+,;=:[]", ch) != NULL))
			return false;
	}
	return true;
}

/* What scan_host found. */
struct host_scan {
	unsigned n;
	bool bad;
};

/* Counts the Host headers of a request and checks their values. */
static enum MHD_Result scan_host(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *value)
{
	struct host_scan *hs = cls;

	(void)kind;
	if (key == NULL || strcasecmp(key, MHD_HTTP_HEADER_HOST) != 0)
		return MHD_YES;
	hs->n++;
	if (value != NULL && !host_value_ok(value))
		hs->bad = true;
	return MHD_YES;
}

/* Returns true if the request's Host headers are right (RFC 9112 §3.2):
 * at most one, with a valid value, and exactly one from HTTP/1.1 on. */
static bool host_ok(struct MHD_Connection *c, const char *version)
{
	struct host_scan hs = {0};

	MHD_get_connection_values(c, MHD_HEADER_KIND, scan_host, &hs);
	if (hs.n > 1 || hs.bad)
		return false;
	return hs.n == 1 || strcmp(version, MHD_HTTP_VERSION_1_0) == 0;
}

/*
 * The access handler. The first call (headers only) marks the headers
 * complete for the limits, and answers at once what needs no body and must
 * not read one: a connection over a limit, a request without a proper
 * Host, and methods other than GET and HEAD (libmicrohttpd then closes the
 * connection instead of reading the body). GET and HEAD are answered on
 * the call that ends the request, so that the connection can be kept alive.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct http *h = cls;
	const struct conn_ctx *ctx;
	struct req *r = *con_cls;

	if (r == NULL) {
		r = xcalloc(1, sizeof(*r));
		*con_cls = r;
		snprintf(r->method, sizeof(r->method), "%s", method);
		ctx = conn_ctx(c);
		if (ctx != NULL)
			connlimit_headers(h->limits, ctx->lc);
		if (ctx != NULL && ctx->over)
			return reply_over_limit(h, c, r, false);
		if (ctx != NULL && ctx->proxied) {
			/* A proxy's connection carries many clients: this
			 * request counts for the one it is for. */
			bool over;

			r->hold = proxy_request(
			    h->proxy, c, (struct sockaddr *)&ctx->peer, &over);
			if (over)
				return reply_over_limit(h, c, r, true);
		}
		if (!host_ok(c, version))
			return reply_text(c, r, MHD_HTTP_BAD_REQUEST,
			                  "a request needs one valid Host "
			                  "header\n",
			                  "Connection", "close");
		if (strcmp(method, MHD_HTTP_METHOD_PUT) == 0 &&
		    strncmp(url, "/u/", 3) == 0)
			return upload_handle(h->upload, c, url + 3, upload_data,
			                     upload_data_size, &r->upload,
			                     &r->status, &r->body);
		if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
		    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
			return MHD_YES;
		return route_request(h, c, r, url, method);
	}
	if (r->upload != NULL)
		return upload_handle(h->upload, c, url + 3, upload_data,
		                     upload_data_size, &r->upload, &r->status,
		                     &r->body);
	if (*upload_data_size != 0) {
		/* A body we do not want: discard it. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->status != 0)
		return MHD_YES;
	return route_request(h, c, r, url, method);
}

/* Accounts and logs a finished request. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct http *h = cls;
	struct req *r = *con_cls;
	bool sent = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
	const struct conn_ctx *ctx = conn_ctx(c);
	char id[24] = "-";

	/* Kept alive, it now waits for the next request's headers. */
	if (ctx != NULL && sent)
		connlimit_waiting(h->limits, ctx->lc);
	if (r == NULL)
		return;
	proxy_release(h->proxy, r->hold);
	if (r->id > 0)
		snprintf(id, sizeof(id), "#%lld", (long long)r->id);
	if (r->upload != NULL)
		upload_completed(h->upload, r->upload, toe);
	if (r->slot)
		slots_release(h->slots, r->slot_key, clock_now_ms());
	if (sent && r->download && h->hooks.on_download != NULL)
		h->hooks.on_download(h->hooks.arg, r->id, r->body, r->to_end);
	if (!r->quiet && log_get_level() >= LOG_INFO)
		log_info("http: %s %u %llu %s%s", r->method, r->status,
		         (unsigned long long)(sent ? r->body : 0), id,
		         sent ? "" : " (aborted)");
	free(r);
	*con_cls = NULL;
}

/* Sends libmicrohttpd's own messages to the log. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	struct http *h = cls;
	char *msg = xvasprintf(fmt, ap);
	size_t n = strlen(msg);

	/* One line per connection refused at accept would flood the log:
	 * they are summarised. A client (or the limits) closing a connection
	 * before its request was complete is no news either. */
	if (strstr(msg, "reached connection limit") != NULL) {
		connlimit_count(h->limits, CONNLIMIT_DROPPED);
		free(msg);
		return;
	}
	if (strstr(msg, "socket is closed when reading request") != NULL ||
	    strstr(msg, "closed by remote side with incomplete request") !=
	        NULL) {
		log_debug("http: %s", msg);
		free(msg);
		return;
	}
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warnx("http: %s", msg);
	free(msg);
}

/* Resolves cfg's listen address into ss. */
static int listen_addr(const struct config *cfg, struct sockaddr_storage *ss,
                       char **cause)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char port[8];
	int rc;

	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", cfg->http.listen_port);
	rc = getaddrinfo(cfg->http.listen_host, port, &hints, &ai);
	if (rc != 0) {
		*cause = xasprintf("[http] listen: %s: %s",
		                   cfg->http.listen_host, gai_strerror(rc));
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

/* Returns the hard limit given to libmicrohttpd for a configured one. */
static unsigned hard_limit(unsigned configured)
{
	unsigned margin = configured / 4 < 8 ? 8 : configured / 4;

	return configured + margin;
}

struct http *http_start(const struct config *cfg, const struct token_key *key,
                        const struct http_hooks *hooks, char **cause)
{
	struct sockaddr_storage ss;
	struct connlimit_opts lo;
	struct upload_hooks uh;
	const union MHD_DaemonInfo *di;
	unsigned flags, timeout_s, threads;
	struct http *h;
	long ncpu;

	h = xcalloc(1, sizeof(*h));
	h->cfg = cfg;
	h->key = key;
	if (hooks != NULL)
		h->hooks = *hooks;
	h->root_fd = -1;
	if (pthread_key_create(&h->cat_key, free_thread_state) != 0)
		fatalx("http: pthread_key_create failed");

	h->root_fd = open(cfg->share.path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (h->root_fd == -1) {
		char *clean =
		    text_sanitize(cfg->share.path, strlen(cfg->share.path));

		*cause =
		    xasprintf("[share] path: %s: %s", clean, strerror(errno));
		free(clean);
		goto fail;
	}
	if (listen_addr(cfg, &ss, cause) == -1)
		goto fail;
	uh.on_stored = h->hooks.on_upload;
	uh.arg = h->hooks.arg;
	h->upload = upload_new(cfg, key, &uh, cause);
	if (h->upload == NULL)
		goto fail;
	lo.max_total = cfg->http.max_connections;
	lo.max_per_ip = cfg->http.max_per_ip;
	lo.header_ms = cfg->http.header_timeout_ms;
	lo.idle_ms = cfg->http.timeout_ms;
	h->limits = connlimit_new(&lo, cause);
	if (h->limits == NULL)
		goto fail;
	if (cfg->web.enabled && (h->web = web_new(cfg, key, cause)) == NULL)
		goto fail;
	h->proxy =
	    proxy_new(&cfg->http.trusted_proxies, cfg->http.max_per_ip, cause);
	if (h->proxy == NULL)
		goto fail;
	if (cfg->http.tls_cert != NULL) {
		h->tls = tls_new(cfg->http.tls_cert, cfg->http.tls_key, cause);
		if (h->tls == NULL)
			goto fail;
	}
	h->pacer = pacer_new();
	h->slots = slots_new(h->hooks.on_slot_free, h->hooks.arg);
	http_reconfigure(h, cfg);

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	threads = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (unsigned)ncpu;
	timeout_s = (unsigned)((cfg->http.timeout_ms + 999) / 1000);
	if (timeout_s == 0)
		timeout_s = 1;
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	        MHD_USE_TURBO | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (h->tls != NULL)
		flags |= MHD_USE_TLS;
	h->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
	    mhd_logger, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
	    hard_limit(cfg->http.max_connections) * threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
	    /* Last: without TLS, the list ends here. */
	    h->tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END,
	    h->tls ? tls_callback(h->tls) : NULL, MHD_OPTION_END);
	if (h->mhd == NULL) {
		*cause =
		    xasprintf("[http] listen: cannot listen on %s port %u",
		              cfg->http.listen_host, cfg->http.listen_port);
		goto fail;
	}
	di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di ? di->port : cfg->http.listen_port;
	log_info("http: listening on %s port %u (%u threads%s)",
	         cfg->http.listen_host, h->port, threads,
	         h->tls ? ", HTTPS" : "");
	return h;
fail:
	web_free(h->web);
	tls_free(h->tls);
	proxy_free(h->proxy);
	slots_free(h->slots);
	pacer_free(h->pacer);
	connlimit_free(h->limits);
	upload_free(h->upload);
	if (h->root_fd != -1)
		close(h->root_fd);
	pthread_key_delete(h->cat_key);
	free(h);
	return NULL;
}

uint16_t http_port(const struct http *h)
{
	return h->port;
}

void http_stop(struct http *h)
{
	if (h == NULL)
		return;
	/* No connection may be left suspended when libmicrohttpd stops. */
	pacer_stop(h->pacer);
	MHD_stop_daemon(h->mhd);
	tls_free(h->tls);
	proxy_free(h->proxy);
	pacer_free(h->pacer);
	slots_free(h->slots);
	connlimit_free(h->limits);
	upload_free(h->upload);
	web_free(h->web);
	close(h->root_fd);
	pthread_key_delete(h->cat_key);
	free(h);
}

int http_reload(struct http *h, const struct config *cfg, char **cause)
{
	char *why = NULL;

	if ((h->tls != NULL) != (cfg->http.tls_cert != NULL)) {
		*cause = xstrdup("[http] turning HTTPS on or off takes effect "
		                 "at the next start");
		return -1;
	}
	if (h->tls == NULL)
		return 0;
	if (tls_reload(h->tls, cfg->http.tls_cert, cfg->http.tls_key, &why) ==
	    -1) {
		*cause = xasprintf("%s; the old certificate and key stay", why);
		free(why);
		return -1;
	}
	log_info("http: reloaded the certificate and key; new connections "
	         "use them");
	return 0;
}

char *http_url_for(const struct config *cfg, const struct token_key *key,
                   const struct cat_file *f, time_t now, char **cause)
{
	return http_url_for_requester(cfg, key, f, NULL, now, cause);
}

char *http_url_for_requester(const struct config *cfg,
                             const struct token_key *key,
                             const struct cat_file *f, const char *requester,
                             time_t now, char **cause)
{
	char tok[TOKEN_MAX_LEN + 1], *enc, *url;
	const char *name = base_name(f->path);
	uint64_t tag = requester ? token_requester_tag(key, requester) : 0;

	if (!f->hashed) {
		*cause = xasprintf("file #%lld is not indexed yet",
		                   (long long)f->id);
		return NULL;
	}
	if (token_make_for(key, f->id, f->sha256, now,
	                   cfg->http.url_lifetime_ms / 1000, tag, tok) == -1) {
		*cause = xstrdup("[http] url_lifetime is too long");
		return NULL;
	}
	enc = text_pct_encode(name, strlen(name), text_url_unreserved);
	url = xasprintf("%s/f/%s/%s", cfg->http.base_url, tok, enc);
	free(enc);
	return url;
}

void http_reconfigure(struct http *h, const struct config *cfg)
{
	pacer_set_rates(h->pacer, cfg->transfers.max_rate,
	                cfg->transfers.download_rate);
	slots_configure(h->slots, cfg->transfers.slots,
	                cfg->transfers.slots_per_user,
	                cfg->transfers.slot_hold_ms);
}

bool http_slot_available(struct http *h, const char *requester)
{
	return slots_available(h->slots, token_requester_tag(h->key, requester),
	                       clock_now_ms());
}

void http_slot_hold(struct http *h, const char *requester, bool hold)
{
	uint64_t tag = token_requester_tag(h->key, requester);

	if (hold)
		slots_hold(h->slots, tag, clock_now_ms());
	else
		slots_unhold(h->slots, tag, clock_now_ms());
}

void http_transfers(struct http *h, struct http_transfers *out)
{
	struct slots_usage u;

	slots_get_usage(h->slots, clock_now_ms(), &u);
	out->rate = pacer_rate(h->pacer, clock_now_ns() / 1000);
	out->slots_used = u.used;
	out->slots = u.limit;
	out->mean_slot_s = slots_mean_s(h->slots);
}
