/*
 * A test program that runs fisbot's HTTP server on its own, until SIGTERM
 * or SIGINT, for the integration tests and the benchmark (the bot's daemon
 * starts the same http_start).
 *
 *   http_server -c FILE [--populate]
 *
 * --populate first brings the catalogue up to date with the share through
 * the catalogue's writer API: every regular file is upserted and hashed
 * (SHA-256 computed here). Then the server starts and "port N" is printed
 * on standard output. Downloads are counted in the catalogue; stale-file
 * reports are logged ("stale #ID") on standard error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "catalogue.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "token.h"

struct server {
	struct catalogue *writer;
	pthread_mutex_t lock;
};

static struct catalogue *walk_cat; /* nftw has no callback argument */
static size_t walk_root_len;

/* Computes the SHA-256 of the file at path. */
static int sha256_file(const char *path, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	close(fd);
	return n == 0 ? 0 : -1;
}

/* Adds one file or folder of the share to the catalogue. */
static int add_entry(const char *path, const struct stat *st, int type,
                     struct FTW *ftw)
{
	const char *rel = path + walk_root_len;
	unsigned char sha[32];
	struct cat_file f = {0};
	const char *dot;
	bool stale = false;

	if (*rel == '/')
		rel++;
	if (*rel == '\0')
		return 0;
	if (type == FTW_D)
		return catalogue_add_dir(walk_cat, rel) == -1 ? -1 : 0;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	f.path = (char *)rel;
	f.size = (uint64_t)st->st_size;
	f.mtime_ns =
	    (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	f.dev = (uint64_t)st->st_dev;
	f.ino = (uint64_t)st->st_ino;
	if (catalogue_upsert(walk_cat, &f) == -1)
		return -1;
	if (sha256_file(path, sha) == -1)
		return -1;
	dot = strrchr(rel, '.');
	return catalogue_set_hash(walk_cat, f.id, f.size, f.mtime_ns, sha,
	                          dot && strcmp(dot, ".txt") == 0
	                              ? "text/plain"
	                              : "application/octet-stream",
	                          &stale);
}

/* Counts a download in the catalogue. */
static void on_download(void *arg, int64_t id, uint64_t bytes, bool completed)
{
	struct server *s = arg;

	pthread_mutex_lock(&s->lock);
	if (catalogue_add_download(s->writer, id, bytes, completed) == -1)
		log_warnx("test server: cannot count a download of #%lld",
		          (long long)id);
	pthread_mutex_unlock(&s->lock);
}

/* Reports a stale file in the log, where the tests look for it. */
static void on_stale(void *arg, int64_t id)
{
	log_warnx("stale #%lld", (long long)id);
}

int main(int argc, char **argv)
{
	struct server s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct http_hooks hooks = {on_download, on_stale, &s};
	struct strlist problems = {0};
	struct token_key *key;
	const char *path = NULL;
	bool populate = false;
	struct config *cfg;
	struct http *h;
	char *cause = NULL;
	sigset_t set;
	int sig;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--populate") == 0)
			populate = true;
		else
			path = NULL, i = argc;
	}
	if (path == NULL) {
		fputs("usage: http_server -c FILE [--populate]\n", stderr);
		return 2;
	}
	cfg = config_load(path, &problems);
	if (cfg == NULL) {
		for (size_t i = 0; i < problems.n; i++)
			fprintf(stderr, "http_server: %s\n", problems.v[i]);
		return 2;
	}
	log_set_level(cfg->log.level);
	s.writer = catalogue_open(cfg->share.database, CATALOGUE_WRITE, &cause);
	if (s.writer == NULL)
		fatalx("%s", cause);
	if (populate) {
		walk_cat = s.writer;
		walk_root_len = strlen(cfg->share.path);
		if (catalogue_begin(s.writer) == -1 ||
		    nftw(cfg->share.path, add_entry, 16, FTW_PHYS) != 0 ||
		    catalogue_commit(s.writer) == -1)
			fatalx("cannot populate the catalogue");
	}
	key = token_key_load(cfg->http.secret_file, &cause);
	if (key == NULL)
		fatalx("%s", cause);

	/* The server's threads inherit this mask: signals come to sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	h = http_start(cfg, key, &hooks, &cause);
	if (h == NULL)
		fatalx("%s", cause);
	printf("port %u\n", http_port(h));
	fflush(stdout);
	sigwait(&set, &sig);
	http_stop(h);
	token_key_free(key);
	catalogue_close(s.writer);
	config_free(cfg);
	return 0;
}
