/*
 * libFuzzer target for the chat command-line parser (cmdline.c) and the
 * reply bounding (reply.c): any bytes, with the first byte choosing the
 * place (prefix required or not) and the prefix. Checks the parser's
 * invariants and that a reply built from the input stays valid UTF-8 and
 * within its bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat/cmdline.h"
#include "chat/reply.h"
#include "fisbot/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const prefixes[] = {"!", "@", ".fb", "\xc2\xbb"};
	struct reply_text t = {0};
	struct cmdline c;
	const char *body, *prefix;
	bool in_room;
	char *copy;

	if (size < 1)
		return 0;
	in_room = data[0] & 1;
	prefix = prefixes[(data[0] >> 1) % 4];
	body = (const char *)data + 1;
	size--;

	if (cmdline_parse(body, size, prefix, in_room, &c)) {
		if (c.name == NULL || c.argc < 1 || c.argv[c.argc] != NULL ||
		    strcmp(c.argv[0], c.name) != 0 ||
		    strlen(c.name) > CMDLINE_MAX_NAME ||
		    c.argc > CMDLINE_MAX_ARGS + 1 || strlen(c.args) > size)
			abort();
		for (int i = 1; i < c.argc; i++)
			if (strlen(c.argv[i]) > size)
				abort();
		cmdline_clear(&c);
	} else if (c.name != NULL || c.argv != NULL) {
		abort();
	}

	/* The same bytes as a reply line (NUL-terminated copy). */
	copy = malloc(size + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, body, size);
	copy[size] = '\0';
	reply_text_add(&t, copy, prefix);
	reply_text_add(&t, copy, prefix);
	body = reply_text_body(&t);
	if (!text_is_utf8(body, strlen(body)) || t.xml_len > REPLY_MAX_BODY ||
	    strncmp(body, prefix, strlen(prefix)) == 0 || body[0] == '@')
		abort();
	reply_text_clear(&t);
	free(copy);
	return 0;
}
