/* libFuzzer target: upload URLs as the HTTP side gets them. The token
 * parser and checker and the name cleaner must never crash; a parsed token
 * must encode back to the same characters; and a cleaned name must be
 * safe (valid UTF-8, no '/', no leading '.', no control character, not
 * too long). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot/text.h"
#include "http/token.h"
#include "http/upload_name.h"
#include "http/upload_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless name is a safe file name. */
static void check_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > UPLOAD_NAME_MAX || name[0] == '.' ||
	    strchr(name, '/') != NULL || strchr(name, '\\') != NULL ||
	    !text_is_utf8(name, len))
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key_bytes[TOKEN_KEY_LEN] = {7, 8, 9};
	static struct token_key *key;
	char *s = malloc(size + 1), *slash, *clean, *cause = NULL;
	struct upload_token t;

	if (key == NULL)
		key = token_key_from_bytes(key_bytes);
	memcpy(s, data, size);
	s[size] = '\0';
	slash = strchr(s, '/');
	if (slash != NULL &&
	    upload_token_parse(s, (size_t)(slash - s), &t) == 0) {
		if (strlen(t.uploader) == 0)
			abort();
		(void)upload_token_verify(key, &t, slash + 1, 0);
	}
	clean = upload_name_clean(s, NULL, &cause);
	if (clean != NULL) {
		char *v = upload_name_variant(clean, 7);

		check_name(clean);
		free(v);
	}
	free(clean);
	free(cause);
	free(s);
	return 0;
}
