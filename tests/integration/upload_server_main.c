/*
 * A test program that runs the pieces of fisbot that uploads go through,
 * without XMPP: the indexer (watching the share), the HTTP server with its
 * PUT side, and upload_offer, the function the "upload" command calls.
 *
 *   upload_server -c FILE
 *
 * It prints "port N" once the server listens, then reads commands on
 * standard input, one per line, and answers each with one line:
 *
 *   offer JID SIZE NAME   "url URL" or "refused CAUSE" (JID "-": unknown)
 *   offer@T JID SIZE NAME the same as if it were unix time T
 *   idle                  waits until the indexer is idle, then "idle"
 *
 * It stops at the end of its input.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fisbot/catalogue.h"
#include "fisbot/config.h"
#include "fisbot/log.h"
#include "http/http.h"
#include "http/token.h"
#include "http/upload.h"
#include "index/indexer.h"

/* Counts a download (from a server thread). */
static void on_download(void *arg, int64_t id, uint64_t bytes, bool completed)
{
	indexer_post_download(arg, id, bytes, completed);
}

/* Re-indexes a stale file (from a server thread). */
static void on_stale(void *arg, int64_t id, const char *path)
{
	(void)id;
	indexer_post_path(arg, path);
}

/* Records who uploaded a file (from a server thread). */
static void on_upload(void *arg, const char *path, const char *uploader)
{
	indexer_post_uploader(arg, path, uploader);
}

/* Answers "offer JID SIZE NAME". */
static void offer(const struct config *cfg, const struct token_key *key,
                  struct catalogue *cat, time_t now, char *args)
{
	char *jid = strtok(args, " "), *size = strtok(NULL, " ");
	char *name = strtok(NULL, ""), *cause = NULL, *url;
	uint64_t n;

	if (jid == NULL || size == NULL || name == NULL) {
		puts("refused bad offer line");
		return;
	}
	n = strtoull(size, NULL, 10);
	url = upload_offer(cfg, key, cat, strcmp(jid, "-") ? jid : NULL, name,
	                   n, now, NULL, &cause);
	if (url != NULL)
		printf("url %s\n", url);
	else
		printf("refused %s\n", cause);
	free(url);
	free(cause);
}

int main(int argc, char **argv)
{
	struct indexer_options opt = {.watch = true};
	struct strlist problems = {0};
	struct http_hooks hooks = {0};
	struct token_key *key;
	struct catalogue *cat;
	struct indexer *ix;
	struct config *cfg;
	struct http *h;
	char *cause = NULL, *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (argc != 3 || strcmp(argv[1], "-c") != 0) {
		fputs("usage: upload_server -c FILE\n", stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	cfg = config_load(argv[2], &problems);
	if (cfg == NULL) {
		for (size_t i = 0; i < problems.n; i++)
			fprintf(stderr, "upload_server: %s\n", problems.v[i]);
		return 2;
	}
	log_set_level(cfg->log.level);
	ix = indexer_start(cfg, &opt, &cause);
	if (ix == NULL)
		fatalx("%s", cause);
	indexer_wait_idle(ix, NULL);
	cat = catalogue_open(cfg->share.database, &cause);
	if (cat == NULL)
		fatalx("%s", cause);
	key = token_key_load(cfg->http.secret_file, &cause);
	if (key == NULL)
		fatalx("%s", cause);
	hooks.on_download = on_download;
	hooks.on_stale = on_stale;
	hooks.on_upload = on_upload;
	hooks.arg = ix;
	h = http_start(cfg, key, &hooks, &cause);
	if (h == NULL)
		fatalx("%s", cause);
	printf("port %u\n", http_port(h));
	fflush(stdout);

	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (strncmp(line, "offer ", 6) == 0)
			offer(cfg, key, cat, time(NULL), line + 6);
		else if (strncmp(line, "offer@", 6) == 0 &&
		         strchr(line, ' ') != NULL)
			offer(cfg, key, cat,
			      (time_t)strtoll(line + 6, NULL, 10),
			      strchr(line, ' ') + 1);
		else if (strcmp(line, "idle") == 0)
			printf(indexer_wait_idle(ix, NULL) == 0 ? "idle\n"
			                                        : "failed\n");
		else
			puts("unknown command");
		fflush(stdout);
	}
	free(line);
	http_stop(h);
	indexer_stop(ix);
	catalogue_close(cat);
	token_key_free(key);
	config_free(cfg);
	return 0;
}
