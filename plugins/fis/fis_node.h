/*
 * Nodes of XEP-0329 queries and paths of the catalogue.
 *
 * Design note. File names are bytes, but a node travels in XML, so every
 * path is shown as its text_sanitize() form: valid UTF-8, an invalid byte
 * or a control character as "\xNN" (or "\uNNNN"), a backslash as "\\".
 * That form is one-to-one, so a node a client sends back is turned into
 * the raw path by undoing exactly those escapes, and accepted only if
 * sanitising the result gives the node again (the canonical spelling).
 * Anything else — empty, longer than FIS_NODE_MAX, absolute, with an empty,
 * "." or ".." component, a trailing '/', an unknown escape, an escaped NUL
 * — is refused before the catalogue is asked.
 */
#ifndef FIS_NODE_H
#define FIS_NODE_H

#include <stddef.h>

/* The longest node accepted, in bytes. */
#define FIS_NODE_MAX 4096

/* Turns node into the raw path it shows (caller frees *path). Returns 0,
 * or -1 if node is not a valid path of the share. */
int fis_node_to_path(const char *node, char **path);

/* Returns the node (display text) of the raw path; the caller frees it. */
char *fis_node_from_path(const char *path);

#endif
