/*
 * A test program that runs fisbot's HTTP server on its own, until SIGTERM
 * or SIGINT, for the integration tests and the benchmark. It wires the
 * server to the indexer the way the bot's daemon does, without XMPP:
 *
 *   http_server -c FILE
 *
 * The indexer (without watching) first reconciles the catalogue with the
 * share and hashes every file; then the server starts and "port N" is
 * printed on standard output. Downloads are posted to the indexer, which
 * counts them in the catalogue; a stale file is logged ("stale #ID") and
 * posted to the indexer to be looked at again, and the indexer tells which
 * files wait to be hashed again. With [web] enabled, "web URL" follows:
 * the web index's address, as the `web` command gives it. SIGHUP re-reads
 * the configuration file and hands it to http_reload (the HTTPS certificate
 * and key), logging "reloaded" or "reload failed: ...".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fisbot/config.h"
#include "fisbot/log.h"
#include "http/http.h"
#include "http/token.h"
#include "http/web.h"
#include "index/indexer.h"

/* Counts a download (from the server's threads). */
static void on_download(void *arg, int64_t id, uint64_t bytes, bool completed)
{
	indexer_post_download(arg, id, bytes, completed);
}

/* Tells whether a file is waiting to be hashed again. */
static bool is_pending(void *arg, int64_t id, unsigned char prev[32],
                       bool *has_prev)
{
	return indexer_pending(arg, id, prev, has_prev);
}

/* Logs a stale file, where the tests look for it, and re-indexes it. */
static void on_stale(void *arg, int64_t id, const char *path)
{
	log_warnx("stale #%lld", (long long)id);
	indexer_post_path(arg, path);
}

/* Re-reads the configuration at path and reloads the server's pair. */
static void reload(struct http *h, const char *path)
{
	struct strlist problems = {0};
	struct config *n = config_load(path, &problems);
	char *cause = NULL;

	if (n == NULL) {
		log_warnx("reload failed: %s",
		          problems.n > 0 ? problems.v[0] : "cannot read");
		strlist_free(&problems);
		return;
	}
	if (http_reload(h, n, &cause) == -1) {
		log_warnx("reload failed: %s", cause);
		free(cause);
	} else {
		log_info("reloaded");
	}
	config_free(n);
}

int main(int argc, char **argv)
{
	struct indexer_options opt = {.watch = false};
	struct strlist problems = {0};
	struct http_hooks hooks;
	struct token_key *key;
	struct indexer *ix;
	struct config *cfg;
	struct http *h;
	char *cause = NULL;
	sigset_t set;
	int sig;

	if (argc != 3 || strcmp(argv[1], "-c") != 0) {
		fputs("usage: http_server -c FILE\n", stderr);
		return 2;
	}
	cfg = config_load(argv[2], &problems);
	if (cfg == NULL) {
		for (size_t i = 0; i < problems.n; i++)
			fprintf(stderr, "http_server: %s\n", problems.v[i]);
		strlist_free(&problems);
		return 2;
	}
	log_set_level(cfg->log.level);

	/* Every thread started from here on inherits this mask: the signals
	 * come to sigwait below. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	ix = indexer_start(cfg, &opt, &cause);
	if (ix == NULL)
		fatalx("%s", cause);
	if (indexer_wait_idle(ix, NULL) == -1)
		fatalx("the catalogue could not be brought up to date");
	key = token_key_load(cfg->http.secret_file, &cause);
	if (key == NULL)
		fatalx("%s", cause);
	hooks = (struct http_hooks){on_download, on_stale,   ix,
	                            NULL,        is_pending, NULL};
	h = http_start(cfg, key, &hooks, &cause);
	if (h == NULL)
		fatalx("%s", cause);
	printf("port %u\n", http_port(h));
	if (cfg->web.enabled) { /* the web index's link, as `web` gives it */
		char *url = web_url_for(cfg, key, "tester", time(NULL), &cause);

		if (url == NULL)
			fatalx("%s", cause);
		printf("web %s\n", url);
		free(url);
	}
	fflush(stdout);
	while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
		reload(h, argv[2]);
	http_stop(h);
	indexer_stop(ix);
	token_key_free(key);
	config_free(cfg);
	return 0;
}
