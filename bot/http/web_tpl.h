/*
 * The web index's templates and their renderer.
 *
 * The templates are files in bot/http/templates/ (HTML, CSS, Atom),
 * embedded at build time (embed_templates.cmake makes web_templates.c, a
 * table of their bytes): web_template() finds one by its file name.
 *
 * A template is text with slots: {{name}} is replaced by the value of name
 * escaped for HTML and XML (& < > " ' as entities), {{&name}} by the value
 * as it is (for fragments already rendered, and URLs built from
 * percent-encoded parts). Values must be valid UTF-8 without control
 * characters (text_sanitize'd names); the escaping makes them text.
 */
#ifndef FISBOT_WEB_TPL_H
#define FISBOT_WEB_TPL_H

#include <stdbool.h>
#include <stddef.h>

/* One embedded template file. */
struct web_template {
	const char *name; /* its file name, e.g. "page.html" */
	const char *text; /* its bytes, NUL-terminated */
	size_t len;
};

/* The embedded templates (web_templates.c, generated). */
extern const struct web_template web_templates[];
extern const size_t web_n_templates;

/* Returns the text of the template named name, or NULL. */
const char *web_template(const char *name, size_t *len);

/* A growing string, always NUL-terminated once something was added. */
struct web_buf {
	char *s;
	size_t len, cap;
};

/* Appends n bytes at s to b. */
void web_buf_addn(struct web_buf *b, const char *s, size_t n);
/* Appends the string s to b. */
void web_buf_add(struct web_buf *b, const char *s);
/* Appends s to b escaped for HTML and XML text and attributes. */
void web_buf_escape(struct web_buf *b, const char *s);
/* Appends s to b as a JSON string (quotes included). */
void web_buf_json(struct web_buf *b, const char *s);
/* Frees b's string and empties it. */
void web_buf_free(struct web_buf *b);

/* A slot's value. */
struct web_var {
	const char *name;
	const char *value;
};

/*
 * Appends template tpl (len bytes) to out with its slots filled from the n
 * vars. Returns 0, or -1 with *cause (caller frees) if a slot names no var
 * or is not closed: a template error, which the tests catch.
 */
int web_render(struct web_buf *out, const char *tpl, size_t len,
               const struct web_var *vars, size_t n, char **cause);

#endif
