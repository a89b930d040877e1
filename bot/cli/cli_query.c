/*
 * The read-only subcommands: fisbot search, ls and info. They open the
 * catalogue read-only (the bot may be running and writing it) and print one
 * item per line as the chat commands do ("#ID path (size)" for a file,
 * "path/" for a folder, the same details for info); every path is
 * sanitised.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fisbot/alloc.h"
#include "fisbot/catalogue.h"
#include "fisbot/query.h"
#include "fisbot/text.h"
#include "store/mediatype.h"

#define CLI_PAGE      1000  /* rows fetched at a time */
#define CLI_SEARCH_MS 10000 /* the time limit of each page's search */

/* Opens the catalogue of cfg read-only, or prints why not. */
static struct catalogue *open_catalogue(const struct config *cfg)
{
	struct catalogue *c;
	char *cause = NULL;

	c = catalogue_open(cfg->share.database, &cause);
	if (c == NULL) {
		fprintf(stderr, "fisbot: %s\n", cause);
		free(cause);
	}
	return c;
}

/* Prints "#ID path (size)". */
static void print_file(const struct cat_file *f)
{
	char size[TEXT_SIZE_LEN];
	char *path = text_sanitize(f->path, strlen(f->path));

	printf("#%" PRId64 " %s (%s)\n", f->id, path,
	       text_human_size(f->size, size));
	free(path);
}

/* Prints "path/". */
static void print_dir(const char *dir)
{
	char *path = text_sanitize(dir, strlen(dir));

	printf("%s/\n", path);
	free(path);
}

/* Returns the exit code for a run that printed its output: 1 if writing
 * to standard output failed. */
static int finish(int rc)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fputs("fisbot: cannot write the output\n", stderr);
		return 1;
	}
	return rc;
}

int cli_search(const struct config *cfg, int argc, char **argv)
{
	struct catalogue *c = NULL;
	struct query *q = NULL;
	struct cat_page page;
	char *text = NULL, *cause = NULL;
	size_t len = 0;
	uint64_t offset = 0;
	int rc = 1;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	text = xcalloc(1, len + 1);
	for (int i = 0; i < argc; i++) {
		if (i > 0)
			strcat(text, " ");
		strcat(text, argv[i]);
	}
	q = query_parse(text, &cause);
	if (q == NULL) {
		fprintf(stderr, "fisbot: search: %s\n", cause);
		rc = 2;
		goto out;
	}
	if (query_is_empty(q)) {
		fputs("fisbot: search: empty query\n", stderr);
		rc = 2;
		goto out;
	}
	c = open_catalogue(cfg);
	if (c == NULL)
		goto out;
	/* Every page is a search of its own, bounded in time like the
	 * chat's; the whole listing may take longer. */
	catalogue_set_search_limit(c, CLI_SEARCH_MS);
	for (;;) {
		size_t n;

		if (catalogue_search(c, q, offset, CLI_PAGE, &page, &cause) ==
		    -1) {
			fprintf(stderr, "fisbot: search: %s\n", cause);
			goto out;
		}
		for (size_t i = 0; i < page.n; i++)
			print_file(&page.v[i].file);
		/* cat_page_clear() zeroes the page: keep its size. */
		n = page.n;
		offset += n;
		cat_page_clear(&page);
		if (n < CLI_PAGE)
			break;
	}
	if (offset == 0)
		fputs("fisbot: no match\n", stderr);
	rc = finish(0);
out:
	catalogue_close(c);
	query_free(q);
	free(text);
	free(cause);
	return rc;
}

int cli_ls(const struct config *cfg, int argc, char **argv)
{
	struct catalogue *c;
	struct cat_page page;
	const char *arg = argc > 0 ? argv[0] : "";
	char *dir;
	size_t len;
	uint64_t offset = 0;
	int rc = 1, found;

	/* "music/", "/music" and "music" are the same folder. */
	while (*arg == '/')
		arg++;
	dir = xstrdup(arg);
	len = strlen(dir);
	while (len > 0 && dir[len - 1] == '/')
		dir[--len] = '\0';
	c = open_catalogue(cfg);
	if (c == NULL)
		goto out;
	for (;;) {
		size_t n;

		found = catalogue_list(c, dir, offset, CLI_PAGE, &page);
		if (found == -1) {
			fputs("fisbot: ls: cannot read the catalogue\n",
			      stderr);
			goto out;
		}
		if (found == 0) {
			char *shown = text_sanitize(dir, len);

			fprintf(stderr, "fisbot: no such folder: %s\n", shown);
			free(shown);
			goto out;
		}
		for (size_t i = 0; i < page.n; i++) {
			if (page.v[i].is_dir)
				print_dir(page.v[i].dir_path);
			else
				print_file(&page.v[i].file);
		}
		n = page.n;
		offset += n;
		cat_page_clear(&page);
		if (n < CLI_PAGE)
			break;
	}
	rc = finish(0);
out:
	catalogue_close(c);
	free(dir);
	return rc;
}

int cli_info(const struct config *cfg, int argc, char **argv)
{
	struct catalogue *c;
	struct cat_file f = {0};
	struct strlist lines = {0};
	char *s;
	int rc = 1, found;

	c = open_catalogue(cfg);
	if (c == NULL)
		return 1;
	found = catalogue_resolve(c, argv[0], &f);
	if (found != 1) {
		s = text_sanitize(argv[0], strlen(argv[0]));
		if (found == 0)
			fprintf(stderr, "fisbot: no such file: %s\n", s);
		else
			fputs("fisbot: info: cannot read the catalogue\n",
			      stderr);
		free(s);
		goto out;
	}
	printf("id: %" PRId64 "\n", f.id);
	if (f.hashed && f.media_type == NULL) /* libmagic's, not found yet */
		f.media_type = mediatype_of_file(cfg->share.path, f.path,
		                                 f.size, f.mtime_ns);
	catalogue_info_lines(&f, &lines);
	for (size_t i = 0; i < lines.n; i++)
		printf("%s\n", lines.v[i]);
	rc = finish(0);
out:
	strlist_free(&lines);
	cat_file_clear(&f);
	catalogue_close(c);
	return rc;
}
