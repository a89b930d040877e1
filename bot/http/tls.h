/*
 * HTTPS for the file server: the certificate chain and key of [http]
 * tls_cert / tls_key, loaded with GnuTLS and handed to libmicrohttpd
 * through its certificate callback, so that a new pair can replace the
 * old one (SIGHUP) without restarting the server: connections that begin
 * their handshake after the swap get the new pair, those already open
 * keep theirs.
 */
#ifndef FISBOT_TLS_H
#define FISBOT_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

struct tls;

/*
 * Loads the PEM certificate chain at cert_path and the PEM key at key_path
 * and checks that the key is the first certificate's. Returns NULL and
 * sets *cause (caller frees) if a file cannot be read, holds no
 * certificate or key, or they do not match.
 */
struct tls *tls_new(const char *cert_path, const char *key_path, char **cause);

/* Loads a new pair as tls_new does and makes it the one new handshakes
 * use. Returns -1 with *cause set, keeping the old pair, on failure. */
int tls_reload(struct tls *t, const char *cert_path, const char *key_path,
               char **cause);

/* Returns the certificate callback to give libmicrohttpd
 * (MHD_OPTION_HTTPS_CERT_CALLBACK) for t. There is one callback per process: at
 * most one struct tls may be in use at a time. */
gnutls_certificate_retrieve_function2 *tls_callback(struct tls *t);

/* Frees t and every pair it loaded; the server must be stopped. NULL is
 * fine. */
void tls_free(struct tls *t);

#endif
