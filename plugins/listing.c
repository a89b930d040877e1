/*
 * The output format of the chat commands: file and folder lines,
 * the page footer, argument helpers. See listing.h.
 */
#include "listing.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "text.h"

char *listing_file(const struct cat_file *f)
{
	char size[TEXT_SIZE_LEN];
	char *path = text_sanitize(f->path, strlen(f->path));
	char *line;

	line = xasprintf("#%" PRId64 " %s (%s)", f->id, path,
	                 text_human_size(f->size, size));
	free(path);
	return line;
}

char *listing_dir(const char *dir)
{
	char *path = text_sanitize(dir, strlen(dir));
	char *line;

	line = xasprintf("%s/", path);
	free(path);
	return line;
}

bool listing_has_more(const struct listing_page *pg)
{
	if (pg->capped)
		return pg->shown > 0 && pg->shown >= pg->page_size;
	return pg->offset + pg->shown < pg->total;
}

uint64_t listing_next_count(const struct listing_page *pg)
{
	uint64_t left;

	if (!listing_has_more(pg))
		return 0;
	if (pg->capped)
		return pg->page_size;
	left = pg->total - (pg->offset + pg->shown);
	return left < pg->page_size ? left : pg->page_size;
}

char *listing_footer(const struct listing_page *pg, const char *prefix)
{
	unsigned size = pg->page_size > 0 ? pg->page_size : 1;
	uint64_t page = pg->offset / size + 1;
	uint64_t pages = (pg->total + size - 1) / size;
	const char *noun = pg->total == 1 && !pg->capped ? "result" : "results";
	char *head, *line;

	if (pages < page)
		pages = page;
	if (pg->capped)
		head = xasprintf("page %" PRIu64 " · %" PRIu64 "+ %s", page,
		                 pg->total, noun);
	else
		head =
		    xasprintf("page %" PRIu64 "/%" PRIu64 " · %" PRIu64 " %s",
		              page, pages, pg->total, noun);
	if (!listing_has_more(pg))
		return head;
	line = xasprintf("%s · say %smore for the next %" PRIu64, head, prefix,
	                 listing_next_count(pg));
	free(head);
	return line;
}

char *listing_arg(int argc, char **argv, const char *raw)
{
	size_t len;

	if (argc == 2)
		return xstrdup(argv[1]);
	if (argc < 2 || raw == NULL)
		return xstrdup("");
	while (isspace((unsigned char)*raw))
		raw++;
	len = strlen(raw);
	while (len > 0 && isspace((unsigned char)raw[len - 1]))
		len--;
	return xstrndup(raw, len);
}

char *listing_folder(const char *dir)
{
	size_t len;

	while (*dir == '/')
		dir++;
	if (strcmp(dir, ".") == 0)
		dir = "";
	len = strlen(dir);
	while (len > 0 && dir[len - 1] == '/')
		len--;
	return xstrndup(dir, len);
}

char *listing_date(int64_t t, char *buf)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, LISTING_DATE_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, LISTING_DATE_LEN, "%" PRId64, t);
	return buf;
}

char *listing_indexing(uint64_t files)
{
	char digits[24], grouped[32];
	size_t n, k = 0;

	n = (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, files);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			grouped[k++] = ',';
		grouped[k++] = digits[i];
	}
	grouped[k] = '\0';
	return xasprintf("still indexing: %s file%s so far", grouped,
	                 files == 1 ? "" : "s");
}

char *listing_duration(uint64_t secs, char *buf)
{
	uint64_t d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60,
	         s = secs % 60;

	if (d > 0)
		snprintf(buf, LISTING_DURATION_LEN,
		         "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "m", d, h, m);
	else if (h > 0)
		snprintf(buf, LISTING_DURATION_LEN, "%" PRIu64 "h %" PRIu64 "m",
		         h, m);
	else if (m > 0)
		snprintf(buf, LISTING_DURATION_LEN, "%" PRIu64 "m %" PRIu64 "s",
		         m, s);
	else
		snprintf(buf, LISTING_DURATION_LEN, "%" PRIu64 "s", s);
	return buf;
}

void listing_append(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);

	*buf = xreallocarray(*buf, *len + n + 1, 1);
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}
