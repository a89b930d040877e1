/*
 * HTTPS for the file server (see tls.h).
 *
 * Design:
 * - A pair is a certificate chain (gnutls_pcert_st, up to TLS_MAX_CHAIN)
 *   and a private key (gnutls_privkey_t), loaded from PEM files read into
 *   memory (at most TLS_MAX_FILE bytes each). The key must be the first
 *   certificate's: their public keys are exported and compared, so a
 *   mismatch is an error at start (or a refused reload), not a handshake
 *   failure later.
 * - libmicrohttpd is given a certificate callback
 *   (MHD_OPTION_HTTPS_CERT_CALLBACK) instead of the pair itself: it is
 *   called at each handshake, on the server's threads, and returns the
 *   current pair. GnuTLS keeps pointers to that pair for the session
 *   without copying or freeing them, so a pair once published is never
 *   freed while the server runs: a reload publishes a new one (an atomic
 *   pointer) and keeps the old ones on a list freed by tls_free. A reload
 *   is rare (an operator's SIGHUP) and a pair is a few kilobytes.
 * - The callback has no argument of its own, so the current struct tls
 *   is a process-wide pointer: one HTTPS server per process.
 */
#define _GNU_SOURCE
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "fisbot/text.h"

/* Certificates in a chain, at most. */
#define TLS_MAX_CHAIN 16
/* Bytes of a certificate or key file, at most. */
#define TLS_MAX_FILE (1024 * 1024)

/* A certificate chain and its key. */
struct tls_pair {
	gnutls_pcert_st certs[TLS_MAX_CHAIN];
	unsigned n_certs;
	gnutls_privkey_t key;
	struct tls_pair *older; /* the pair this one replaced */
};

struct tls {
	_Atomic(struct tls_pair *) current;
	pthread_mutex_t lock; /* serialises reloads */
};

/* The struct tls the certificate callback serves. */
static _Atomic(struct tls *) tls_active;

/* Frees one pair. */
static void pair_free(struct tls_pair *p)
{
	for (unsigned i = 0; i < p->n_certs; i++)
		gnutls_pcert_deinit(&p->certs[i]);
	if (p->key != NULL)
		gnutls_privkey_deinit(p->key);
	free(p);
}

/* Reads the whole file at path into *d (freed with free(d->data)).
 * what names it in messages ("tls_cert"). Returns -1 with *cause set. */
static int read_pem(const char *path, const char *what, gnutls_datum_t *d,
                    char **cause)
{
	struct stat st;
	char *clean = text_sanitize(path, strlen(path));
	ssize_t n;
	size_t got = 0;
	int fd;

	d->data = NULL;
	d->size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		*cause = xasprintf("[http] %s: %s: %s", what, clean,
		                   strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*cause =
		    xasprintf("[http] %s: %s: not a regular file", what, clean);
		goto fail;
	}
	if (st.st_size > TLS_MAX_FILE) {
		*cause = xasprintf("[http] %s: %s: larger than %d bytes", what,
		                   clean, TLS_MAX_FILE);
		goto fail;
	}
	d->data = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, d->data + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*cause =
			    xasprintf("[http] %s: %s: %s", what, clean,
			              n == 0 ? "cut short" : strerror(errno));
			goto fail;
		}
		got += (size_t)n;
	}
	d->data[got] = '\0';
	d->size = (unsigned)got;
	close(fd);
	free(clean);
	return 0;
fail:
	if (fd != -1)
		close(fd);
	free(d->data);
	d->data = NULL;
	free(clean);
	return -1;
}

/* Exports a public key in DER into *out (gnutls_free). */
static int export_pubkey(gnutls_pubkey_t pk, gnutls_datum_t *out)
{
	return gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, out);
}

/* Returns true if key is the private key of cert's public key. */
static bool key_matches(gnutls_pcert_st *cert, gnutls_privkey_t key)
{
	gnutls_pubkey_t pk = NULL;
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	bool same = false;

	if (gnutls_pubkey_init(&pk) < 0)
		return false;
	if (gnutls_pubkey_import_privkey(pk, key, 0, 0) < 0 ||
	    export_pubkey(pk, &a) < 0 || export_pubkey(cert->pubkey, &b) < 0)
		goto done;
	same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
done:
	gnutls_free(a.data);
	gnutls_free(b.data);
	gnutls_pubkey_deinit(pk);
	return same;
}

/* Loads and checks a pair. Returns NULL with *cause set. */
static struct tls_pair *pair_load(const char *cert_path, const char *key_path,
                                  char **cause)
{
	struct tls_pair *p = xcalloc(1, sizeof(*p));
	gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
	unsigned n = TLS_MAX_CHAIN;
	int rc;

	if (read_pem(cert_path, "tls_cert", &cert, cause) == -1 ||
	    read_pem(key_path, "tls_key", &key, cause) == -1)
		goto fail;
	rc = gnutls_pcert_list_import_x509_raw(p->certs, &n, &cert,
	                                       GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0 || n == 0) {
		*cause = xasprintf("[http] tls_cert: no PEM certificate in it "
		                   "(%s)",
		                   rc < 0 ? gnutls_strerror(rc) : "empty");
		goto fail;
	}
	p->n_certs = n;
	if (gnutls_privkey_init(&p->key) < 0)
		fatalx("http: gnutls_privkey_init failed");
	rc = gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM,
	                                    NULL, 0);
	if (rc < 0) {
		*cause = xasprintf("[http] tls_key: no usable PEM private key "
		                   "in it (%s)",
		                   gnutls_strerror(rc));
		goto fail;
	}
	if (!key_matches(&p->certs[0], p->key)) {
		*cause = xstrdup("[http] tls_key is not the key of the first "
		                 "certificate of tls_cert");
		goto fail;
	}
	free(cert.data);
	explicit_bzero(key.data, key.size);
	free(key.data);
	return p;
fail:
	free(cert.data);
	if (key.data != NULL)
		explicit_bzero(key.data, key.size);
	free(key.data);
	pair_free(p);
	return NULL;
}

/* GnuTLS's certificate callback: the current pair, whatever was asked. */
static int tls_retrieve(gnutls_session_t session,
                        const gnutls_datum_t *req_ca_dn, int nreqs,
                        const gnutls_pk_algorithm_t *pk_algos,
                        int pk_algos_length, gnutls_pcert_st **pcert,
                        unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct tls *t = atomic_load(&tls_active);
	struct tls_pair *p = t ? atomic_load(&t->current) : NULL;

	(void)session;
	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	if (p == NULL)
		return -1;
	*pcert = p->certs;
	*pcert_length = p->n_certs;
	*pkey = p->key;
	return 0;
}

struct tls *tls_new(const char *cert_path, const char *key_path, char **cause)
{
	struct tls_pair *p = pair_load(cert_path, key_path, cause);
	struct tls *t;

	if (p == NULL)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	atomic_init(&t->current, p);
	pthread_mutex_init(&t->lock, NULL);
	atomic_store(&tls_active, t);
	return t;
}

int tls_reload(struct tls *t, const char *cert_path, const char *key_path,
               char **cause)
{
	struct tls_pair *p = pair_load(cert_path, key_path, cause);

	if (p == NULL)
		return -1;
	pthread_mutex_lock(&t->lock);
	p->older = atomic_load(&t->current);
	atomic_store(&t->current, p);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

gnutls_certificate_retrieve_function2 *tls_callback(struct tls *t)
{
	(void)t;
	return tls_retrieve;
}

void tls_free(struct tls *t)
{
	struct tls_pair *p, *older;
	struct tls *self;

	if (t == NULL)
		return;
	self = t;
	atomic_compare_exchange_strong(&tls_active, &self, NULL);
	for (p = atomic_load(&t->current); p != NULL; p = older) {
		older = p->older;
		pair_free(p);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}
