/* fisbot url ID|PATH: prints a download URL for one file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "fisbot/alloc.h"
#include "fisbot/catalogue.h"
#include "fisbot/text.h"
#include "http/http.h"
#include "http/token.h"

int cli_url(const struct config *cfg, int argc, char **argv)
{
	struct token_key *key = NULL;
	struct catalogue *cat = NULL;
	struct cat_file f = {0};
	char *cause = NULL, *url, *clean;
	int rc = 1, found;

	if (argc != 1) {
		fputs("usage: fisbot url [-c FILE] ID|PATH\n", stderr);
		return 2;
	}
	key = token_key_load(cfg->http.secret_file, &cause);
	if (key == NULL)
		goto fail;
	cat = catalogue_open(cfg->share.database, &cause);
	if (cat == NULL)
		goto fail;
	found = catalogue_resolve(cat, argv[0], &f);
	if (found == -1) {
		cause = xstrdup("catalogue error");
		goto fail;
	}
	if (found == 0) {
		clean = text_sanitize(argv[0], strlen(argv[0]));
		cause = xasprintf("no such file: %s", clean);
		free(clean);
		goto fail;
	}
	url = http_url_for(cfg, key, &f, time(NULL), &cause);
	if (url == NULL)
		goto fail;
	printf("%s\n", url);
	free(url);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "fisbot: %s\n", cause);
	free(cause);
out:
	cat_file_clear(&f);
	catalogue_close(cat);
	token_key_free(key);
	return rc;
}
