/*
 * The configuration loader: fisbot.conf, an INI file whose every key is
 * known (unknown sections and keys are errors).
 *
 * Design: inih does the INI syntax; it reads through our line reader
 * (ld_read), which counts lines, keeps the text of the current line and
 * sees every section header, including those of empty sections. The key
 * handler (ld_key) dispatches each name = value through one table of keys
 * (the section, the name, a parser, where the value goes and its range).
 * A line that inih did not hand to the handler and that is not blank, a
 * comment or a section header is a syntax error. No problem stops the
 * load: every one is collected as "FILE:LINE: [section] key: problem", and
 * config_load fails at the end if there was any.
 */
#define _GNU_SOURCE /* strchrnul */
#include "fisbot/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/exclude.h"
#include "base/jid.h"
#include "fisbot/alloc.h"
#include "fisbot/text.h"
#include "fisbot/units.h"

/* Longest line accepted; longer ones are reported, not truncated. */
#define LINE_MAX_BYTES 16384
/* Longest value quoted back in a message. */
#define QUOTE_MAX 80

enum sect {
	S_XMPP,
	S_INVITES,
	S_ADMINS,
	S_SHARE,
	S_HTTP,
	S_COMMANDS,
	S_LIMITS,
	S_ANNOUNCE,
	S_UPLOAD,
	S_TRANSFERS,
	S_WEB,
	S_PLUGINS,
	S_LOG,
	S_ROOM,
	S_PLUGIN,
	S_COUNT,
	S_NONE = -1, /* before the first header */
	S_BAD = -2,  /* a header that was reported; its keys are skipped */
};

static const char *const sect_names[S_COUNT] = {
    "xmpp",     "invites", "admins",   "share",  "http",
    "commands", "limits",  "announce", "upload", "transfers",
    "web",      "plugins", "log",      "room",   "plugin",
};

/* A key or section seen so far, for duplicates and required keys. */
struct seen {
	char *id; /* "LABEL" or "LABEL\nKEY" */
	int line;
};

/* The state of one load. */
struct loader {
	struct config *cfg;
	struct strlist *problems;
	const char *name; /* the file as given, for messages */
	FILE *fp;
	int lineno;
	bool at_start; /* the next chunk starts a new line */
	bool finished; /* the current line was checked */
	bool handled;  /* inih passed the current line to ld_key */
	bool too_long; /* the current line was cut */
	char *line;    /* the current line so far */
	size_t len, cap;
	enum sect sect;
	void *base;  /* struct config or struct room_config of the section */
	char *label; /* "[xmpp]", "[room \"x\"]", sanitised */
	struct plugin_config *plugin;
	struct seen *seen;
	size_t n_seen;
	char *password_path; /* the password_file read, if any */
};

struct key;
typedef int (*parse_fn)(struct loader *ld, const struct key *k, void *field,
                        const char *value, char **cause);

/* One known key: where it is, how it is parsed, where it goes. */
struct key {
	enum sect sect;
	const char *name;
	parse_fn parse;
	size_t off; /* in struct config, or struct room_config for S_ROOM */
	uint64_t min, max;
	const char *const *names; /* enum values, for p_enum */
};

/* Appends a problem "NAME:LINE: TEXT" (no line if line is 0). */
static void problem(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(struct loader *ld, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg, *full;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (line > 0)
		full = xasprintf("%s:%d: %s", ld->name, line, msg);
	else
		full = xasprintf("%s: %s", ld->name, msg);
	strlist_add(ld->problems, full);
	free(full);
	free(msg);
}

/* Returns a sanitised, quoted, possibly shortened copy of s for a message. */
static char *quote(const char *s)
{
	size_t len = strlen(s), cut = text_utf8_prefix(s, len, QUOTE_MAX);
	char *clean = text_sanitize(s, cut), *q;

	q = xasprintf("\"%s\"%s", clean, cut < len ? "..." : "");
	free(clean);
	return q;
}

/* Returns a sanitised copy of s (a key or section name from the file). */
static char *clean(const char *s)
{
	return text_sanitize(s, strlen(s));
}

/* Returns the edit distance between a and b (ASCII, case-insensitive). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), *row, best;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	row = xcalloc(lb + 1, sizeof(*row));
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], cost;

			cost = tolower((unsigned char)a[i - 1]) !=
			       tolower((unsigned char)b[j - 1]);
			row[j] = diag + cost;
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	best = row[lb];
	free(row);
	return best;
}

/* Returns the closest of n names to word if it is close enough, or NULL. */
static const char *closest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX, len = strlen(word);
	size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;

	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (names[i] == NULL)
			continue;
		d = distance(word, names[i]);
		if (d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	return best_d <= limit ? best : NULL;
}

/* --- paths --------------------------------------------------------------- */

/* Returns path made absolute against dir, with "." components and repeated
 * or trailing slashes removed (".." is kept: symbolic links). */
static char *path_resolve(const char *dir, const char *path)
{
	char *joined, *out, *o;
	const char *p;

	joined = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", dir, path);
	out = xmalloc(strlen(joined) + 2);
	o = out;
	for (p = joined; *p != '\0';) {
		const char *end;
		size_t n;

		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			p = end;
			continue;
		}
		*o++ = '/';
		memcpy(o, p, n);
		o += n;
		p = end;
	}
	if (o == out)
		*o++ = '/';
	*o = '\0';
	free(joined);
	return out;
}

/* Returns the part of path below folder dir, or NULL if it is not inside. */
static const char *path_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path + 1;
	if (strncmp(path, dir, n) != 0 || path[n] != '/')
		return NULL;
	return path + n + 1;
}

/* --- values ----------------------------------------------------------------
 */

/* Trims spaces around s in place and returns it. */
static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Splits a comma-separated value into trimmed items appended to out; an
 * empty item is an error. Returns 0, or -1 with *cause. */
static int split_list(const char *value, struct strlist *out, char **cause)
{
	char *copy, *p, *item;

	if (*value == '\0')
		return 0;
	copy = xstrdup(value);
	for (p = copy; (item = strsep(&p, ",")) != NULL;) {
		item = trim(item);
		if (*item == '\0') {
			*cause = xstrdup("empty item in the list");
			strlist_free(out);
			free(copy);
			return -1;
		}
		strlist_add(out, item);
	}
	free(copy);
	return 0;
}

/* Parses a port number (min..65535) into *port. */
static int parse_port(const char *s, unsigned min, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Splits "host", "host:port", "[v6]" or "[v6]:port" into a host (without
 * brackets) and a port. Returns 0, or -1 if it is none of these. */
static int parse_hostport(const char *s, bool need_port, unsigned min_port,
                          char **host, uint16_t *port)
{
	const char *colon, *h, *he;
	char *name;

	*port = 0;
	if (s[0] == '[') {
		struct in6_addr a6;

		he = strchr(s, ']');
		if (he == NULL)
			return -1;
		h = s + 1;
		colon = he[1] == ':' ? he + 1 : NULL;
		if (he[1] != '\0' && colon == NULL)
			return -1;
		name = xstrndup(h, (size_t)(he - h));
		if (inet_pton(AF_INET6, name, &a6) != 1)
			goto fail;
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && memchr(s, ':', (size_t)(colon - s)))
			return -1; /* a bare IPv6 address: needs brackets */
		he = colon != NULL ? colon : s + strlen(s);
		name = xstrndup(s, (size_t)(he - s));
		if (jid_domain_problem(name) != NULL)
			goto fail;
	}
	if (colon == NULL ? need_port
	                  : parse_port(colon + 1, min_port, port) == -1)
		goto fail;
	*host = name;
	return 0;
fail:
	free(name);
	return -1;
}

/* --- parsers: one per kind of value ----------------------------------------
 */

/* A non-empty string, clean UTF-8, at most k->max bytes. */
static int p_string(struct loader *ld, const struct key *k, void *field,
                    const char *v, char **cause)
{
	char **dst = field;
	size_t len = strlen(v);

	if (len == 0) {
		*cause = xstrdup("must not be empty");
		return -1;
	}
	if (!text_is_clean(v, len)) {
		*cause = xstrdup("has control characters or invalid UTF-8");
		return -1;
	}
	if (len > k->max) {
		*cause =
		    xasprintf("is longer than %ju bytes", (uintmax_t)k->max);
		return -1;
	}
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

/* The command prefix: a short string without spaces. */
static int p_prefix(struct loader *ld, const struct key *k, void *field,
                    const char *v, char **cause)
{
	for (const char *p = v; *p != '\0'; p++) {
		if (isspace((unsigned char)*p)) {
			char *q = quote(v);

			*cause = xasprintf("%s must not contain spaces", q);
			free(q);
			return -1;
		}
	}
	return p_string(ld, k, field, v, cause);
}

/* The XMPP password, as written. */
static int p_password(struct loader *ld, const struct key *k, void *field,
                      const char *v, char **cause)
{
	char **dst = field;

	if (*v == '\0') {
		*cause = xstrdup("must not be empty");
		return -1;
	}
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

/* password_file: the first line of a readable file. */
static int p_password_file(struct loader *ld, const struct key *k, void *field,
                           const char *v, char **cause)
{
	char **dst = field, *path, *line = NULL, *q;
	size_t cap = 0;
	ssize_t n;
	FILE *fp;

	if (*v == '\0') {
		*cause = xstrdup("must not be empty");
		return -1;
	}
	path = path_resolve(ld->cfg->dir, v);
	q = quote(path);
	fp = fopen(path, "re");
	if (fp == NULL) {
		*cause = xasprintf("cannot read %s: %s", q, strerror(errno));
		goto fail;
	}
	n = getline(&line, &cap, fp);
	if (n < 0 && ferror(fp)) {
		*cause = xasprintf("cannot read %s: %s", q, strerror(errno));
		fclose(fp);
		goto fail;
	}
	fclose(fp);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n <= 0) {
		*cause = xasprintf("%s: the first line is empty", q);
		goto fail;
	}
	free(*dst);
	*dst = line;
	free(ld->password_path);
	ld->password_path = path;
	free(q);
	return 0;
fail:
	free(line);
	free(q);
	free(path);
	return -1;
}

/* A path, made absolute against the configuration's folder. */
static int p_path(struct loader *ld, const struct key *k, void *field,
                  const char *v, char **cause)
{
	char **dst = field;

	if (*v == '\0') {
		*cause = xstrdup("must not be empty");
		return -1;
	}
	free(*dst);
	*dst = path_resolve(ld->cfg->dir, v);
	return 0;
}

/* A path that may be left empty for the default (NULL). */
static int p_opt_path(struct loader *ld, const struct key *k, void *field,
                      const char *v, char **cause)
{
	char **dst = field;

	if (*v == '\0') {
		free(*dst);
		*dst = NULL;
		return 0;
	}
	return p_path(ld, k, field, v, cause);
}

/* A folder inside the share: relative, no "..", nothing hidden. */
static int p_folder(struct loader *ld, const struct key *k, void *field,
                    const char *v, char **cause)
{
	char **dst = field, *copy, *p, *part, *q = quote(v);
	char *out = xmalloc(strlen(v) + 1);
	size_t n = 0;

	out[0] = '\0';
	if (v[0] == '/') {
		*cause = xasprintf("%s must be relative to the share", q);
		goto fail;
	}
	copy = xstrdup(v);
	for (p = copy; (part = strsep(&p, "/")) != NULL;) {
		if (*part == '\0')
			continue;
		if (part[0] == '.') {
			*cause = xasprintf("%s: a hidden or \"..\" component "
			                   "is not allowed",
			                   q);
			free(copy);
			goto fail;
		}
		n += (size_t)sprintf(out + n, "%s%s", n > 0 ? "/" : "", part);
	}
	free(copy);
	if (n == 0) {
		*cause =
		    xasprintf("%s: a folder inside the share is needed", q);
		goto fail;
	}
	if (!text_is_clean(out, n)) {
		*cause =
		    xasprintf("%s has control characters or invalid UTF-8", q);
		goto fail;
	}
	free(*dst);
	*dst = out;
	free(q);
	return 0;
fail:
	free(out);
	free(q);
	return -1;
}

/* yes/no/true/false/on/off/1/0 into a bool (or an int for [room]). */
static int parse_bool(const char *v, bool *b)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	return -1;
}

/* A boolean. */
static int p_bool(struct loader *ld, const struct key *k, void *field,
                  const char *v, char **cause)
{
	char *q;

	if (parse_bool(v, field) == 0)
		return 0;
	q = quote(v);
	*cause = xasprintf("%s is not yes or no", q);
	free(q);
	return -1;
}

/* A boolean kept as an int (-1 is "not set"). */
static int p_tristate(struct loader *ld, const struct key *k, void *field,
                      const char *v, char **cause)
{
	bool b;

	if (p_bool(ld, k, &b, v, cause) == -1)
		return -1;
	*(int *)field = b;
	return 0;
}

/* One of k->names, stored as its index. */
static int p_enum(struct loader *ld, const struct key *k, void *field,
                  const char *v, char **cause)
{
	char *q, *all;
	size_t i;

	for (i = 0; k->names[i] != NULL; i++) {
		if (strcmp(v, k->names[i]) == 0) {
			*(int *)field = (int)i;
			return 0;
		}
	}
	all = xstrdup(k->names[0]);
	for (i = 1; k->names[i] != NULL; i++) {
		char *next =
		    xasprintf("%s%s%s", all, k->names[i + 1] ? ", " : " or ",
		              k->names[i]);

		free(all);
		all = next;
	}
	q = quote(v);
	*cause = xasprintf("%s is not one of %s", q, all);
	free(q);
	free(all);
	return -1;
}

/* Checks that v is within [k->min, k->max]; what describes the range. */
static int check_range(const struct key *k, uint64_t v, const char *value,
                       const char *what, char **cause)
{
	char *q;

	if (v >= k->min && v <= k->max)
		return 0;
	q = quote(value);
	*cause = xasprintf("%s is out of range (%s)", q, what);
	free(q);
	return -1;
}

/* A whole number in [min, max], stored as unsigned. */
static int p_uint(struct loader *ld, const struct key *k, void *field,
                  const char *v, char **cause)
{
	char *end, *q, *what;
	unsigned long long n;
	int rc;

	errno = 0;
	n = isdigit((unsigned char)*v) ? strtoull(v, &end, 10) : 0;
	if (!isdigit((unsigned char)*v) || errno != 0 || *end != '\0') {
		q = quote(v);
		*cause = xasprintf("%s is not a whole number", q);
		free(q);
		return -1;
	}
	what = xasprintf("%ju to %ju", (uintmax_t)k->min, (uintmax_t)k->max);
	rc = check_range(k, n, v, what, cause);
	free(what);
	if (rc == 0)
		*(unsigned *)field = (unsigned)n;
	return rc;
}

/* A duration in milliseconds, in [min, max]. */
static int p_duration(struct loader *ld, const struct key *k, void *field,
                      const char *v, char **cause)
{
	uint64_t ms;
	char *q, *what;
	int rc;

	if (units_parse_duration(v, &ms) == -1) {
		q = quote(v);
		*cause = xasprintf("%s is not a duration (like 30s, 5m, "
		                   "24h, 7d)",
		                   q);
		free(q);
		return -1;
	}
	what =
	    xasprintf("%jums to %jums", (uintmax_t)k->min, (uintmax_t)k->max);
	rc = check_range(k, ms, v, what, cause);
	free(what);
	if (rc == 0)
		*(uint64_t *)field = ms;
	return rc;
}

/* A size in bytes, in [min, max]. */
static int p_size(struct loader *ld, const struct key *k, void *field,
                  const char *v, char **cause)
{
	uint64_t bytes;
	char *q, *what;
	int rc;

	if (units_parse_size(v, &bytes) == -1) {
		q = quote(v);
		*cause =
		    xasprintf("%s is not a size (like 512, 10K, 5M, 2G)", q);
		free(q);
		return -1;
	}
	what =
	    xasprintf("%ju to %ju bytes", (uintmax_t)k->min, (uintmax_t)k->max);
	rc = check_range(k, bytes, v, what, cause);
	free(what);
	if (rc == 0)
		*(uint64_t *)field = bytes;
	return rc;
}

/* A bare JID with a node. */
static int p_jid(struct loader *ld, const struct key *k, void *field,
                 const char *v, char **cause)
{
	const char *why = jid_problem(v, false);
	char **dst = field, *q;

	if (*v == '\0') {
		*cause = xstrdup("must not be empty");
		return -1;
	}
	if (why != NULL) {
		q = quote(v);
		*cause = xasprintf("%s %s", q, why);
		free(q);
		return -1;
	}
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

/* A list of bare JIDs (k->min == 1: bare domains allowed too). */
static int p_jidlist(struct loader *ld, const struct key *k, void *field,
                     const char *v, char **cause)
{
	struct strlist items = {0}, *dst = field;

	if (split_list(v, &items, cause) == -1)
		return -1;
	for (size_t i = 0; i < items.n; i++) {
		const char *why = jid_problem(items.v[i], k->min == 1);
		char *q = quote(items.v[i]);

		for (size_t j = 0; j < i && why == NULL; j++)
			if (strcasecmp(items.v[j], items.v[i]) == 0)
				why = "is listed twice";
		if (why != NULL) {
			*cause = xasprintf("%s %s", q, why);
			free(q);
			strlist_free(&items);
			return -1;
		}
		free(q);
	}
	strlist_free(dst);
	*dst = items;
	return 0;
}

/* A list of globs, each matched against one path component. */
static int p_globs(struct loader *ld, const struct key *k, void *field,
                   const char *v, char **cause)
{
	struct strlist items = {0}, *dst = field;

	if (split_list(v, &items, cause) == -1)
		return -1;
	for (size_t i = 0; i < items.n; i++) {
		const char *why = exclude_glob_problem(items.v[i]);
		char *q;

		if (why != NULL) {
			q = quote(items.v[i]);
			*cause = xasprintf("%s %s", q, why);
			free(q);
			strlist_free(&items);
			return -1;
		}
	}
	strlist_free(dst);
	*dst = items;
	return 0;
}

/* A list of plugin names. */
static int p_names(struct loader *ld, const struct key *k, void *field,
                   const char *v, char **cause)
{
	struct strlist items = {0}, *dst = field;

	if (split_list(v, &items, cause) == -1)
		return -1;
	for (size_t i = 0; i < items.n; i++) {
		const char *s = items.v[i];
		char *q = quote(s);

		if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
		        strlen(s) ||
		    strlen(s) > 64)
			*cause = xasprintf("%s is not a plugin name (a-z, 0-9, "
			                   "_ and -)",
			                   q);
		for (size_t j = 0; j < i && *cause == NULL; j++)
			if (strcmp(items.v[j], s) == 0)
				*cause = xasprintf("%s is listed twice", q);
		free(q);
		if (*cause != NULL) {
			strlist_free(&items);
			return -1;
		}
	}
	strlist_free(dst);
	*dst = items;
	return 0;
}

/* [xmpp] server: host[:port] or [v6][:port]. */
static int p_server(struct loader *ld, const struct key *k, void *field,
                    const char *v, char **cause)
{
	char *host, *q;
	uint16_t port;

	if (parse_hostport(v, false, 1, &host, &port) == -1) {
		q = quote(v);
		*cause = xasprintf("%s is not HOST or HOST:PORT", q);
		free(q);
		return -1;
	}
	free(ld->cfg->xmpp.server_host);
	ld->cfg->xmpp.server_host = host;
	ld->cfg->xmpp.server_port = port;
	return 0;
}

/* [http] listen: host:port or [v6]:port; port 0 picks a free one. */
static int p_listen(struct loader *ld, const struct key *k, void *field,
                    const char *v, char **cause)
{
	char *host, *q;
	uint16_t port;

	if (parse_hostport(v, true, 0, &host, &port) == -1) {
		q = quote(v);
		*cause = xasprintf("%s is not HOST:PORT", q);
		free(q);
		return -1;
	}
	free(ld->cfg->http.listen_host);
	ld->cfg->http.listen_host = host;
	ld->cfg->http.listen_port = port;
	return 0;
}

/* [http] base_url: http:// or https://, a host, no query or fragment. */
static int p_url(struct loader *ld, const struct key *k, void *field,
                 const char *v, char **cause)
{
	char **dst = field, *url, *q;
	const char *rest;
	size_t len;

	if (strncasecmp(v, "http://", 7) == 0)
		rest = v + 7;
	else if (strncasecmp(v, "https://", 8) == 0)
		rest = v + 8;
	else
		rest = NULL;
	q = quote(v);
	if (rest == NULL)
		*cause = xasprintf("%s does not start with http:// or "
		                   "https://",
		                   q);
	else if (*rest == '\0' || *rest == '/')
		*cause = xasprintf("%s has no host", q);
	else if (strpbrk(v, " \t?#") != NULL || !text_is_clean(v, strlen(v)))
		*cause = xasprintf("%s must not contain spaces, '?', '#' or "
		                   "control characters",
		                   q);
	free(q);
	if (*cause != NULL)
		return -1;
	url = xstrdup(v);
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		url[--len] = '\0';
	free(*dst);
	*dst = url;
	return 0;
}

/* One address or CIDR block ("10.0.0.0/8", "::1", "fd00::/8"); returns a
 * reason it is not one, or NULL. */
static const char *addr_problem(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	const char *slash = strchr(s, '/');
	char *addr = slash ? xstrndup(s, (size_t)(slash - s)) : xstrdup(s);
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	unsigned max = family == AF_INET6 ? 128 : 32;
	const char *why = NULL;
	char *end;
	unsigned long bits;

	if (inet_pton(family, addr, buf) != 1) {
		why = "is not an IPv4 or IPv6 address";
	} else if (slash != NULL) {
		errno = 0;
		bits = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' ||
		    errno != 0 || bits > max)
			why = family == AF_INET6 ? "has a prefix length "
			                           "not within 0 to 128"
			                         : "has a prefix length "
			                           "not within 0 to 32";
	}
	free(addr);
	return why;
}

/* A list of IP addresses or CIDR blocks (may be empty). */
static int p_addrlist(struct loader *ld, const struct key *k, void *field,
                      const char *v, char **cause)
{
	struct strlist items = {0}, *dst = field;

	if (*v != '\0' && split_list(v, &items, cause) == -1)
		return -1;
	for (size_t i = 0; i < items.n; i++) {
		const char *why = addr_problem(items.v[i]);
		char *q;

		if (why == NULL)
			continue;
		q = quote(items.v[i]);
		*cause = xasprintf("%s %s", q, why);
		free(q);
		strlist_free(&items);
		return -1;
	}
	strlist_free(dst);
	*dst = items;
	return 0;
}

/* An absolute URL path ("/fisbot-files"), kept without a trailing slash. */
static int p_urlpath(struct loader *ld, const struct key *k, void *field,
                     const char *v, char **cause)
{
	char **dst = field, *path, *q;
	size_t len;

	if (*v != '/' || strpbrk(v, " \t?#%\\") != NULL ||
	    !text_is_clean(v, strlen(v)) || strstr(v, "/../") != NULL ||
	    strstr(v, "//") != NULL) {
		q = quote(v);
		*cause = xasprintf("%s is not a path starting with '/' (no "
		                   "spaces, '?', '#', '%%', '\\\\', \"//\" or "
		                   "\"..\")",
		                   q);
		free(q);
		return -1;
	}
	path = xstrdup(v);
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	free(*dst);
	*dst = path;
	return 0;
}

/* Returns the period that goes with a rate's count field. */
static uint64_t *rate_period(struct config *cfg, void *field)
{
	if (field == &cfg->limits.iq_rate)
		return &cfg->limits.iq_per_ms;
	return &cfg->limits.per_ms;
}

/* [limits] rate, iq_rate: N/UNIT or N/DURATION ("20/m", "5/s", "100/h",
 * "3/10s"). */
static int p_rate(struct loader *ld, const struct key *k, void *field,
                  const char *v, char **cause)
{
	const char *slash = strchr(v, '/');
	char *num = NULL, *per = NULL, *end, *q;
	unsigned long n = 0;
	uint64_t ms = 0;

	if (slash == NULL)
		goto bad;
	num = xstrndup(v, (size_t)(slash - v));
	per = isdigit((unsigned char)slash[1]) ? xstrdup(slash + 1)
	                                       : xasprintf("1%s", slash + 1);
	errno = 0;
	if (isdigit((unsigned char)num[0]))
		n = strtoul(num, &end, 10);
	if (!isdigit((unsigned char)num[0]) || errno != 0 || *end != '\0' ||
	    n == 0 || n > 1000000 || units_parse_duration(per, &ms) == -1 ||
	    ms == 0)
		goto bad;
	*(unsigned *)field = (unsigned)n;
	*rate_period(ld->cfg, field) = ms;
	free(num);
	free(per);
	return 0;
bad:
	q = quote(v);
	*cause = xasprintf("%s is not a rate like 20/m, 5/s or 100/h", q);
	free(q);
	free(num);
	free(per);
	return -1;
}

/* --- the keys ---------------------------------------------------------- */

static const char *const tls_names[] = {"required", "direct", "disabled", NULL};
static const char *const subs_names[] = {"anyone", "allowlist", "none", NULL};
static const char *const offload_names[] = {"none", "x-accel", NULL};
static const char *const access_names[] = {"link", "public", NULL};
static const char *const accept_names[] = {"none", "allowlist", "anyone", NULL};
static const char *const replies_names[] = {"private", "room", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug",
                                          NULL};

#define C(m) offsetof(struct config, m)
#define R(m) offsetof(struct room_config, m)
#define DAY  (24 * 3600 * 1000ULL)

static const struct key keys[] = {
    {S_XMPP, "jid", p_jid, C(xmpp.jid), 0, 0, NULL},
    {S_XMPP, "password", p_password, C(xmpp.password), 0, 0, NULL},
    {S_XMPP, "password_file", p_password_file, C(xmpp.password), 0, 0, NULL},
    {S_XMPP, "server", p_server, 0, 0, 0, NULL},
    {S_XMPP, "tls", p_enum, C(xmpp.tls), 0, 0, tls_names},
    {S_XMPP, "ca_file", p_opt_path, C(xmpp.ca_file), 0, 0, NULL},
    {S_XMPP, "resource", p_string, C(xmpp.resource), 0, 1023, NULL},
    {S_XMPP, "nick", p_string, C(xmpp.nick), 0, 1023, NULL},
    {S_XMPP, "rooms", p_jidlist, C(xmpp.rooms), 0, 0, NULL},
    {S_XMPP, "subscriptions", p_enum, C(xmpp.subscriptions), 0, 0, subs_names},

    {S_ROOM, "nick", p_string, R(nick), 0, 1023, NULL},
    {S_ROOM, "password", p_password, R(password), 0, 0, NULL},
    {S_ROOM, "announce", p_tristate, R(announce), 0, 0, NULL},

    {S_INVITES, "accept", p_enum, C(invites.accept), 0, 0, accept_names},
    {S_INVITES, "allow", p_jidlist, C(invites.allow), 1, 0, NULL},
    {S_INVITES, "max_rooms", p_uint, C(invites.max_rooms), 0, 10000, NULL},

    {S_ADMINS, "jids", p_jidlist, C(admins.jids), 0, 0, NULL},

    {S_SHARE, "path", p_path, C(share.path), 0, 0, NULL},
    {S_SHARE, "database", p_path, C(share.database), 0, 0, NULL},
    {S_SHARE, "exclude", p_globs, C(share.exclude), 0, 0, NULL},
    {S_SHARE, "hash_threads", p_uint, C(share.hash_threads), 0, 256, NULL},
    {S_SHARE, "settle", p_duration, C(share.settle_ms), 0, 3600000, NULL},

    {S_HTTP, "listen", p_listen, 0, 0, 0, NULL},
    {S_HTTP, "base_url", p_url, C(http.base_url), 0, 0, NULL},
    {S_HTTP, "url_lifetime", p_duration, C(http.url_lifetime_ms), 0, 3650 * DAY,
     NULL},
    {S_HTTP, "secret_file", p_path, C(http.secret_file), 0, 0, NULL},
    {S_HTTP, "max_connections", p_uint, C(http.max_connections), 1, 100000,
     NULL},
    {S_HTTP, "max_per_ip", p_uint, C(http.max_per_ip), 1, 100000, NULL},
    {S_HTTP, "timeout", p_duration, C(http.timeout_ms), 1000, DAY, NULL},
    {S_HTTP, "header_timeout", p_duration, C(http.header_timeout_ms), 1000,
     3600000, NULL},
    {S_HTTP, "trusted_proxies", p_addrlist, C(http.trusted_proxies), 0, 0,
     NULL},
    {S_HTTP, "offload", p_enum, C(http.offload), 0, 0, offload_names},
    {S_HTTP, "offload_prefix", p_urlpath, C(http.offload_prefix), 0, 0, NULL},
    {S_HTTP, "tls_cert", p_opt_path, C(http.tls_cert), 0, 0, NULL},
    {S_HTTP, "tls_key", p_opt_path, C(http.tls_key), 0, 0, NULL},

    {S_COMMANDS, "prefix", p_prefix, C(commands.prefix), 0, 8, NULL},
    {S_COMMANDS, "page_size", p_uint, C(commands.page_size), 1, 100, NULL},
    {S_COMMANDS, "find_min_length", p_uint, C(commands.find_min_length), 1, 100,
     NULL},
    {S_COMMANDS, "find_max_results", p_uint, C(commands.find_max_results), 1,
     1000, NULL},
    {S_COMMANDS, "room_replies", p_enum, C(commands.room_replies), 0, 0,
     replies_names},

    {S_LIMITS, "burst", p_uint, C(limits.burst), 1, 1000, NULL},
    {S_LIMITS, "rate", p_rate, C(limits.rate), 0, 0, NULL},
    {S_LIMITS, "iq_burst", p_uint, C(limits.iq_burst), 1, 10000, NULL},
    {S_LIMITS, "iq_rate", p_rate, C(limits.iq_rate), 0, 0, NULL},

    {S_ANNOUNCE, "enabled", p_bool, C(announce.enabled), 0, 0, NULL},
    {S_ANNOUNCE, "batch", p_duration, C(announce.batch_ms), 0, DAY, NULL},

    {S_UPLOAD, "enabled", p_bool, C(upload.enabled), 0, 0, NULL},
    {S_UPLOAD, "allow", p_jidlist, C(upload.allow), 1, 0, NULL},
    {S_UPLOAD, "max_file_size", p_size, C(upload.max_file_size), 1, UINT64_MAX,
     NULL},
    {S_UPLOAD, "quota", p_size, C(upload.quota), 1, UINT64_MAX, NULL},
    {S_UPLOAD, "folder", p_folder, C(upload.folder), 0, 0, NULL},

    {S_TRANSFERS, "max_rate", p_size, C(transfers.max_rate), 0, UINT64_MAX,
     NULL},
    {S_TRANSFERS, "download_rate", p_size, C(transfers.download_rate), 0,
     UINT64_MAX, NULL},
    {S_TRANSFERS, "slots", p_uint, C(transfers.slots), 0, 100000, NULL},
    {S_TRANSFERS, "slots_per_user", p_uint, C(transfers.slots_per_user), 0,
     100000, NULL},
    {S_TRANSFERS, "queue", p_uint, C(transfers.queue), 0, 100000, NULL},
    {S_TRANSFERS, "queue_per_user", p_uint, C(transfers.queue_per_user), 0,
     100000, NULL},
    {S_TRANSFERS, "slot_hold", p_duration, C(transfers.slot_hold_ms), 0, DAY,
     NULL},

    {S_WEB, "enabled", p_bool, C(web.enabled), 0, 0, NULL},
    {S_WEB, "access", p_enum, C(web.access), 0, 0, access_names},
    {S_WEB, "link_lifetime", p_duration, C(web.link_lifetime_ms), 0, 3650 * DAY,
     NULL},
    {S_WEB, "title", p_string, C(web.title), 1, 200, NULL},

    {S_PLUGINS, "path", p_opt_path, C(plugins.path), 0, 0, NULL},
    {S_PLUGINS, "load", p_names, C(plugins.load), 0, 0, NULL},

    {S_LOG, "level", p_enum, C(log.level), 0, 0, level_names},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* --- the loader ---------------------------------------------------------- */

/* Returns the line where id was first seen and records it at line if new. */
static int seen(struct loader *ld, const char *id, int line)
{
	for (size_t i = 0; i < ld->n_seen; i++)
		if (strcmp(ld->seen[i].id, id) == 0)
			return ld->seen[i].line;
	ld->seen = xreallocarray(ld->seen, ld->n_seen + 1, sizeof(*ld->seen));
	ld->seen[ld->n_seen].id = xstrdup(id);
	ld->seen[ld->n_seen++].line = line;
	return 0;
}

/* Returns the line where LABEL/key was set, or 0. */
static int seen_line(const struct loader *ld, const char *label,
                     const char *key)
{
	char *id = key ? xasprintf("%s\n%s", label, key) : xstrdup(label);
	int line = 0;

	for (size_t i = 0; i < ld->n_seen && line == 0; i++)
		if (strcmp(ld->seen[i].id, id) == 0)
			line = ld->seen[i].line;
	free(id);
	return line;
}

/* Parses a section name: a plain one, or KIND "NAME" for room and plugin;
 * sets up the loader for its keys or reports it. */
static void ld_section(struct loader *ld, char *text)
{
	const char *sp, *q1, *q2;
	char *kind, *arg = NULL, *label, *c;
	int i;

	text = trim(text);
	sp = strpbrk(text, " \t");
	free(ld->label);
	ld->label = NULL;
	ld->sect = S_BAD;
	ld->plugin = NULL;
	ld->base = ld->cfg;
	kind = sp ? xstrndup(text, (size_t)(sp - text)) : xstrdup(text);
	if (sp != NULL) {
		q1 = sp + strspn(sp, " \t");
		q2 = q1[0] == '"' ? strchr(q1 + 1, '"') : NULL;
		if ((q2 == NULL || q2[1] != '\0') &&
		    (strcmp(kind, "room") == 0 ||
		     strcmp(kind, "plugin") == 0)) {
			c = clean(text);
			problem(ld, ld->lineno,
			        "[%s]: not a section header (write [%s "
			        "\"NAME\"])",
			        c, strcmp(kind, "plugin") == 0 ? kind : "room");
			free(c);
			goto out;
		}
		arg = q2 != NULL && q2[1] == '\0'
		          ? xstrndup(q1 + 1, (size_t)(q2 - q1 - 1))
		          : xstrdup(q1);
	}
	for (i = 0; i < S_COUNT; i++)
		if (strcmp(kind, sect_names[i]) == 0)
			break;
	c = clean(text);
	if (i == S_COUNT) {
		const char *near = closest(kind, sect_names, S_COUNT);

		if (near != NULL)
			problem(ld, ld->lineno,
			        "[%s]: unknown section (did you mean \"%s\"?)",
			        c, near);
		else
			problem(ld, ld->lineno, "[%s]: unknown section", c);
		free(c);
		goto out;
	}
	if ((i == S_ROOM || i == S_PLUGIN) && arg == NULL) {
		problem(ld, ld->lineno, "[%s]: needs a name: [%s \"%s\"]", c,
		        kind,
		        i == S_ROOM ? "room@conference.example.org" : "NAME");
		free(c);
		goto out;
	}
	if (i != S_ROOM && i != S_PLUGIN && arg != NULL) {
		problem(ld, ld->lineno, "[%s]: [%s] takes no name", c, kind);
		free(c);
		goto out;
	}
	label = xasprintf("[%s]", c);
	free(c);
	/* A section given again continues where the first one was. */
	if (seen(ld, label, ld->lineno) != 0) {
		if (i == S_ROOM)
			ld->base = (void *)config_room(ld->cfg, arg);
		else if (i == S_PLUGIN)
			ld->plugin =
			    (struct plugin_config *)config_plugin(ld->cfg, arg);
	} else if (i == S_ROOM) {
		const char *why = jid_problem(arg, false);
		struct room_config *r;

		if (why != NULL) {
			char *qa = quote(arg);

			problem(ld, ld->lineno, "%s: room %s %s", label, qa,
			        why);
			free(qa);
			free(label);
			goto out;
		}
		ld->cfg->rooms =
		    xreallocarray(ld->cfg->rooms, ld->cfg->n_rooms + 1,
		                  sizeof(*ld->cfg->rooms));
		r = &ld->cfg->rooms[ld->cfg->n_rooms++];
		memset(r, 0, sizeof(*r));
		r->jid = xstrdup(arg);
		r->announce = -1;
		ld->base = r;
	} else if (i == S_PLUGIN) {
		struct plugin_config *p;

		if (strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
		        strlen(arg) ||
		    *arg == '\0') {
			problem(ld, ld->lineno,
			        "%s: not a plugin name (a-z, 0-9, _ and -)",
			        label);
			free(label);
			goto out;
		}
		ld->cfg->plugin_settings = xreallocarray(
		    ld->cfg->plugin_settings, ld->cfg->n_plugin_settings + 1,
		    sizeof(*ld->cfg->plugin_settings));
		p = &ld->cfg->plugin_settings[ld->cfg->n_plugin_settings++];
		memset(p, 0, sizeof(*p));
		p->name = xstrdup(arg);
		ld->plugin = p;
	}
	ld->sect = (enum sect)i;
	ld->label = label;
out:
	free(kind);
	free(arg);
}

/* Checks the line just read, now that inih has seen it: a header starts a
 * section; anything else inih did not hand over is a syntax error. */
static void ld_finish_line(struct loader *ld)
{
	char *s, *end, *q;

	if (ld->finished || ld->lineno == 0)
		return;
	ld->finished = true;
	if (ld->too_long) {
		problem(ld, ld->lineno, "line longer than %d bytes",
		        LINE_MAX_BYTES);
		return;
	}
	if (ld->handled)
		return;
	s = ld->line;
	if (ld->lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3; /* a UTF-8 byte order mark */
	s = trim(s);
	if (*s == '\0' || *s == ';' || *s == '#')
		return;
	if (*s == '[') {
		end = strchr(s, ']');
		if (end != NULL) {
			*end = '\0';
			ld_section(ld, s + 1);
			return;
		}
		problem(ld, ld->lineno, "section header without ']'");
		return;
	}
	q = quote(s);
	problem(ld, ld->lineno, "%s is not KEY = VALUE", q);
	free(q);
}

/* inih's reader: fgets that counts lines and keeps the current one. */
static char *ld_read(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	size_t n;

	if (fgets(str, num, ld->fp) == NULL) {
		ld_finish_line(ld);
		return NULL;
	}
	n = strlen(str);
	if (ld->at_start) {
		ld_finish_line(ld);
		ld->lineno++;
		ld->len = 0;
		ld->finished = ld->handled = ld->too_long = false;
	}
	ld->at_start = n > 0 && str[n - 1] == '\n';
	if (ld->len + n > LINE_MAX_BYTES) {
		/* Swallow the rest of the line; its key is ignored. */
		int ch;

		ld->too_long = true;
		if (!ld->at_start) {
			while ((ch = getc(ld->fp)) != EOF && ch != '\n')
				continue;
			ld->at_start = true;
		}
		str[0] = '\n';
		str[1] = '\0';
		return str;
	}
	if (ld->len + n + 1 > ld->cap) {
		ld->cap = ld->len + n + 1 + 256;
		ld->line = xreallocarray(ld->line, ld->cap, 1);
	}
	memcpy(ld->line + ld->len, str, n + 1);
	ld->len += n;
	return str;
}

/* inih's handler: one name = value in the current section. */
static int ld_key(void *user, const char *section, const char *name,
                  const char *value)
{
	struct loader *ld = user;
	const char *names[N_KEYS + 1];
	char *id, *c, *cause = NULL;
	const struct key *k = NULL;
	size_t n = 0;
	int first;

	ld->handled = true;
	if (ld->too_long || ld->sect == S_BAD)
		return 1;
	c = clean(name);
	if (*name == '\0') {
		problem(ld, ld->lineno, "a value without a key");
		free(c);
		return 1;
	}
	if (ld->sect == S_NONE) {
		problem(ld, ld->lineno, "%s: key outside any section", c);
		free(c);
		return 1;
	}
	id = xasprintf("%s\n%s", ld->label, name);
	first = seen(ld, id, ld->lineno);
	free(id);
	if (first != 0) {
		problem(ld, ld->lineno, "%s %s: given twice (first at line %d)",
		        ld->label, c, first);
		free(c);
		return 1;
	}
	if (ld->sect == S_PLUGIN) {
		char *where = xasprintf("%s:%d", ld->name, ld->lineno);

		strlist_add(&ld->plugin->keys, name);
		strlist_add(&ld->plugin->values, value);
		strlist_add(&ld->plugin->lines, where);
		free(where);
		free(c);
		return 1;
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].sect != ld->sect)
			continue;
		names[n++] = keys[i].name;
		if (strcmp(keys[i].name, name) == 0)
			k = &keys[i];
	}
	if (k == NULL) {
		const char *near = closest(name, names, n);
		const char *other = NULL;

		for (size_t i = 0; i < N_KEYS && near == NULL; i++)
			if (strcmp(keys[i].name, name) == 0 &&
			    keys[i].sect != S_ROOM)
				other = sect_names[keys[i].sect];
		if (near != NULL)
			problem(ld, ld->lineno,
			        "%s %s: unknown key (did you mean \"%s\"?)",
			        ld->label, c, near);
		else if (other != NULL)
			problem(ld, ld->lineno,
			        "%s %s: unknown key (it belongs in [%s])",
			        ld->label, c, other);
		else
			problem(ld, ld->lineno, "%s %s: unknown key", ld->label,
			        c);
		free(c);
		return 1;
	}
	if (k->parse(ld, k, (char *)ld->base + k->off, value, &cause) == -1) {
		problem(ld, ld->lineno, "%s %s: %s", ld->label, c, cause);
		free(cause);
	}
	free(c);
	return 1;
}

/* Sets every default that does not depend on the file's contents. */
static void set_defaults(struct config *cfg)
{
	static const char *const exclude[] = {".*", "*.part", "*.tmp", "*~"};
	static const char *const load[] = {
	    "help",     "browse", "search", "get",    "stats",
	    "announce", "fis",    "admin",  "upload", "web"};

	cfg->xmpp.tls = TLS_REQUIRED;
	cfg->xmpp.resource = xstrdup("fisbot");
	cfg->xmpp.nick = xstrdup("fisbot");
	cfg->invites.accept = INVITES_ALLOWLIST;
	cfg->invites.max_rooms = 50;
	cfg->share.database = path_resolve(cfg->dir, "fisbot.db");
	for (size_t i = 0; i < sizeof(exclude) / sizeof(exclude[0]); i++)
		strlist_add(&cfg->share.exclude, exclude[i]);
	cfg->share.hash_threads = 0;
	cfg->share.settle_ms = 1000;
	cfg->http.listen_host = xstrdup("127.0.0.1");
	cfg->http.listen_port = 8080;
	cfg->http.url_lifetime_ms = 24 * 3600 * 1000ULL;
	cfg->http.secret_file = path_resolve(cfg->dir, "fisbot.key");
	cfg->http.max_connections = 512;
	cfg->http.max_per_ip = 16;
	cfg->http.timeout_ms = 30000;
	cfg->http.header_timeout_ms = 10000;
	cfg->http.offload = OFFLOAD_NONE;
	cfg->http.offload_prefix = xstrdup("/fisbot-files");
	cfg->commands.prefix = xstrdup("!");
	cfg->commands.page_size = 10;
	cfg->commands.find_min_length = 3;
	cfg->commands.find_max_results = 50;
	cfg->commands.room_replies = REPLIES_PRIVATE;
	cfg->limits.burst = 5;
	cfg->limits.rate = 20;
	cfg->limits.per_ms = 60000;
	cfg->limits.iq_burst = 50;
	cfg->limits.iq_rate = 10;
	cfg->limits.iq_per_ms = 1000;
	cfg->announce.enabled = true;
	cfg->announce.batch_ms = 30000;
	cfg->upload.enabled = false;
	cfg->upload.max_file_size = 100ULL << 20;
	cfg->upload.quota = 1ULL << 30;
	cfg->upload.folder = xstrdup("incoming");
	cfg->transfers.queue = 100;
	cfg->transfers.queue_per_user = 3;
	cfg->transfers.slot_hold_ms = 2 * 60 * 1000;
	cfg->web.enabled = false;
	cfg->web.access = WEB_LINK;
	cfg->web.link_lifetime_ms = 7 * DAY;
	cfg->web.title = xstrdup("fisbot");
	for (size_t i = 0; i < sizeof(load) / sizeof(load[0]); i++)
		strlist_add(&cfg->plugins.load, load[i]);
	cfg->log.level = LOG_INFO;
}

/* Returns true if path lies inside the share and no component of it below
 * the share is excluded (so the catalogue would serve it). */
static bool served(const struct config *cfg, const char *path)
{
	const char *rel = path_below(path, cfg->share.path);

	return rel != NULL && !exclude_path(&cfg->share.exclude, rel);
}

/* Checks what spans keys: required keys, conflicts, files in the share. */
static void check_whole(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	int xmpp = seen_line(ld, "[xmpp]", NULL);
	int share = seen_line(ld, "[share]", NULL);
	int pw = seen_line(ld, "[xmpp]", "password");
	int pwf = seen_line(ld, "[xmpp]", "password_file");
	int line;
	struct {
		const char *label, *key, *path;
	} secret[] = {
	    {"[share]", "database", cfg->share.database},
	    {"[http]", "secret_file", cfg->http.secret_file},
	    {"[xmpp]", "password_file", ld->password_path},
	};

	if (cfg->xmpp.jid == NULL && seen_line(ld, "[xmpp]", "jid") == 0)
		problem(ld, xmpp, "[xmpp] jid: required, not given");
	if (pw != 0 && pwf != 0)
		problem(ld, pw > pwf ? pw : pwf,
		        "[xmpp] password: give password or password_file, "
		        "not both");
	else if (pw == 0 && pwf == 0)
		problem(ld, xmpp,
		        "[xmpp] password: required (or password_file), not "
		        "given");
	if (cfg->share.path == NULL) {
		if (seen_line(ld, "[share]", "path") == 0)
			problem(ld, share, "[share] path: required, not given");
		return;
	}
	for (size_t i = 0; i < 3; i++) {
		if (secret[i].path == NULL || !served(cfg, secret[i].path))
			continue;
		line = seen_line(ld, secret[i].label, secret[i].key);
		problem(ld, line ? line : seen_line(ld, "[share]", "path"),
		        "%s %s: %s is inside the share and would be served",
		        secret[i].label, secret[i].key,
		        line ? "this file" : "the default file");
	}
	if (served(cfg, cfg->file))
		problem(ld, seen_line(ld, "[share]", "path"),
		        "[share] path: the configuration file is inside the "
		        "share and would be served");
	if (exclude_path(&cfg->share.exclude, cfg->upload.folder)) {
		line = seen_line(ld, "[upload]", "folder");
		problem(
		    ld, line ? line : seen_line(ld, "[share]", "exclude"),
		    "[upload] folder: \"%s\" is excluded by [share] exclude, "
		    "uploads would never be catalogued",
		    cfg->upload.folder);
	}
	if ((cfg->http.tls_cert == NULL) != (cfg->http.tls_key == NULL)) {
		bool cert = cfg->http.tls_cert != NULL;

		problem(ld,
		        seen_line(ld, "[http]", cert ? "tls_cert" : "tls_key"),
		        "[http] %s: given without %s (both or neither)",
		        cert ? "tls_cert" : "tls_key",
		        cert ? "tls_key" : "tls_cert");
	}
	if (cfg->transfers.slots != 0 &&
	    cfg->transfers.slots_per_user > cfg->transfers.slots)
		problem(
		    ld, seen_line(ld, "[transfers]", "slots_per_user"),
		    "[transfers] slots_per_user: %u is more than slots (%u)",
		    cfg->transfers.slots_per_user, cfg->transfers.slots);
	line = seen_line(ld, "[transfers]", "queue_per_user");
	if (cfg->transfers.queue_per_user > cfg->transfers.queue)
		problem(
		    ld, line ? line : seen_line(ld, "[transfers]", "queue"),
		    "[transfers] queue_per_user: %u is more than queue (%u)",
		    cfg->transfers.queue_per_user, cfg->transfers.queue);
	if (cfg->http.max_per_ip > cfg->http.max_connections)
		problem(ld, seen_line(ld, "[http]", "max_per_ip"),
		        "[http] max_per_ip: %u is more than max_connections "
		        "(%u)",
		        cfg->http.max_per_ip, cfg->http.max_connections);
}

/* Derives what defaults to other keys' values. */
static void derive(struct config *cfg)
{
	if (cfg->http.base_url == NULL) {
		bool v6 = strchr(cfg->http.listen_host, ':') != NULL;

		cfg->http.base_url = xasprintf(
		    "%s://%s%s%s:%u", cfg->http.tls_cert ? "https" : "http",
		    v6 ? "[" : "", cfg->http.listen_host, v6 ? "]" : "",
		    cfg->http.listen_port);
	}
}

/* Sets the folder of the configuration file (and its absolute path). */
static int set_file(struct config *cfg, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *real;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t)(slash - path));
	real = realpath(dir, NULL);
	free(dir);
	if (real == NULL)
		return -1;
	cfg->dir = real;
	cfg->file = path_resolve(real, slash ? slash + 1 : path);
	return 0;
}

/* Loads path: defaults, then the file through inih, then the checks that
 * span keys. */
struct config *config_load(const char *path, struct strlist *problems)
{
	struct loader ld = {0};
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	size_t before = problems->n;

	ld.cfg = cfg;
	ld.problems = problems;
	ld.name = path;
	ld.sect = S_NONE;
	ld.at_start = true;
	ld.fp = fopen(path, "re");
	if (ld.fp == NULL || set_file(cfg, path) == -1) {
		problem(&ld, 0, "cannot open: %s", strerror(errno));
		goto fail;
	}
	set_defaults(cfg);
	/* Debian's inih: options are run-time variables. Long lines are
	 * cut by ld_read, values never continue on the next line. */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = 4 * LINE_MAX_BYTES;
	ini_allow_multiline = false;
	ini_allow_inline_comments = true;
	ini_allow_no_value = false;
	ini_stop_on_first_error = false;
	if (ini_parse_stream(ld_read, &ld, ld_key, &ld) == -2) {
		problem(&ld, 0, "out of memory");
	} else if (ferror(ld.fp)) {
		problem(&ld, 0, "cannot read: %s", strerror(errno));
	} else {
		check_whole(&ld);
		derive(cfg);
	}
fail:
	if (ld.fp != NULL)
		fclose(ld.fp);
	for (size_t i = 0; i < ld.n_seen; i++)
		free(ld.seen[i].id);
	free(ld.seen);
	free(ld.line);
	free(ld.label);
	free(ld.password_path);
	if (problems->n != before) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* Frees cfg and everything it owns. */
void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->file);
	free(cfg->dir);
	free(cfg->xmpp.jid);
	free(cfg->xmpp.password);
	free(cfg->xmpp.server_host);
	free(cfg->xmpp.ca_file);
	free(cfg->xmpp.resource);
	free(cfg->xmpp.nick);
	strlist_free(&cfg->xmpp.rooms);
	for (size_t i = 0; i < cfg->n_rooms; i++) {
		free(cfg->rooms[i].jid);
		free(cfg->rooms[i].nick);
		free(cfg->rooms[i].password);
	}
	free(cfg->rooms);
	strlist_free(&cfg->invites.allow);
	strlist_free(&cfg->admins.jids);
	free(cfg->share.path);
	free(cfg->share.database);
	strlist_free(&cfg->share.exclude);
	free(cfg->http.listen_host);
	free(cfg->http.base_url);
	free(cfg->http.secret_file);
	strlist_free(&cfg->http.trusted_proxies);
	free(cfg->http.offload_prefix);
	free(cfg->http.tls_cert);
	free(cfg->http.tls_key);
	free(cfg->web.title);
	free(cfg->commands.prefix);
	strlist_free(&cfg->upload.allow);
	free(cfg->upload.folder);
	free(cfg->plugins.path);
	strlist_free(&cfg->plugins.load);
	for (size_t i = 0; i < cfg->n_plugin_settings; i++) {
		struct plugin_config *p = &cfg->plugin_settings[i];

		free(p->name);
		strlist_free(&p->keys);
		strlist_free(&p->values);
		strlist_free(&p->lines);
	}
	free(cfg->plugin_settings);
	free(cfg);
}

/* Finds the [room] section of jid (case-insensitive). */
const struct room_config *config_room(const struct config *cfg, const char *jid)
{
	for (size_t i = 0; i < cfg->n_rooms; i++)
		if (strcasecmp(cfg->rooms[i].jid, jid) == 0)
			return &cfg->rooms[i];
	return NULL;
}

/* Finds the [plugin] section of name. */
const struct plugin_config *config_plugin(const struct config *cfg,
                                          const char *name)
{
	for (size_t i = 0; i < cfg->n_plugin_settings; i++)
		if (strcmp(cfg->plugin_settings[i].name, name) == 0)
			return &cfg->plugin_settings[i];
	return NULL;
}

/* Matches jid (its resource ignored) against bare JIDs and domains. */
bool config_jid_matches(const struct strlist *list, const char *jid)
{
	size_t bare = strcspn(jid, "/");
	const char *at = memchr(jid, '@', bare);
	const char *domain = at ? at + 1 : jid;
	size_t dlen = bare - (size_t)(domain - jid);

	for (size_t i = 0; i < list->n; i++) {
		const char *e = list->v[i];

		if (strchr(e, '@') != NULL) {
			if (strlen(e) == bare && strncasecmp(e, jid, bare) == 0)
				return true;
		} else if (strlen(e) == dlen &&
		           strncasecmp(e, domain, dlen) == 0) {
			return true;
		}
	}
	return false;
}
