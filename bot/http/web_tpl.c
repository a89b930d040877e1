/* The web index's template renderer and escaping helpers (web_tpl.h). */
#define _GNU_SOURCE
#include "web_tpl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot/alloc.h"

const char *web_template(const char *name, size_t *len)
{
	for (size_t i = 0; i < web_n_templates; i++)
		if (strcmp(web_templates[i].name, name) == 0) {
			if (len != NULL)
				*len = web_templates[i].len;
			return web_templates[i].text;
		}
	return NULL;
}

void web_buf_addn(struct web_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xreallocarray(b->s, b->cap, 1);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void web_buf_add(struct web_buf *b, const char *s)
{
	web_buf_addn(b, s, strlen(s));
}

void web_buf_escape(struct web_buf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *ent = NULL;

		switch (*s) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		web_buf_addn(b, run, (size_t)(s - run));
		web_buf_add(b, ent);
		run = s + 1;
	}
	web_buf_addn(b, run, (size_t)(s - run));
}

void web_buf_json(struct web_buf *b, const char *s)
{
	const char *run = s;
	char esc[8];

	web_buf_add(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch >= 0x20 && ch != '"' && ch != '\\' && ch != 0x7f)
			continue;
		web_buf_addn(b, run, (size_t)(s - run));
		if (ch == '"' || ch == '\\')
			snprintf(esc, sizeof(esc), "\\%c", ch);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
		web_buf_add(b, esc);
		run = s + 1;
	}
	web_buf_addn(b, run, (size_t)(s - run));
	web_buf_add(b, "\"");
}

void web_buf_free(struct web_buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* Returns the var named by the n bytes at name, or NULL. */
static const struct web_var *find_var(const struct web_var *vars, size_t n,
                                      const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(vars[i].name) == len &&
		    memcmp(vars[i].name, name, len) == 0)
			return &vars[i];
	return NULL;
}

int web_render(struct web_buf *out, const char *tpl, size_t len,
               const struct web_var *vars, size_t n, char **cause)
{
	const char *p = tpl, *end = tpl + len, *open, *close;
	const struct web_var *v;
	bool raw;

	while (p < end) {
		open = memmem(p, (size_t)(end - p), "{{", 2);
		if (open == NULL)
			break;
		web_buf_addn(out, p, (size_t)(open - p));
		open += 2;
		close = memmem(open, (size_t)(end - open), "}}", 2);
		if (close == NULL) {
			*cause = xstrdup("a template slot is not closed");
			return -1;
		}
		raw = open < close && *open == '&';
		if (raw)
			open++;
		v = find_var(vars, n, open, (size_t)(close - open));
		if (v == NULL) {
			*cause = xasprintf("a template slot names no value: "
			                   "%.*s",
			                   (int)(close - open), open);
			return -1;
		}
		if (v->value != NULL && raw)
			web_buf_add(out, v->value);
		else if (v->value != NULL)
			web_buf_escape(out, v->value);
		p = close + 2;
	}
	web_buf_addn(out, p, (size_t)(end - p));
	return 0;
}
