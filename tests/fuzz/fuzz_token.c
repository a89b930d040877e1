/* libFuzzer target: the token parser and checker must never crash, and no
 * input other than a token made with the key may verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key_bytes[TOKEN_KEY_LEN] = {1, 2, 3};
	static const unsigned char sha[32] = {4, 5, 6};
	static struct token_key *key;
	struct token t;

	if (key == NULL)
		key = token_key_from_bytes(key_bytes);
	if (token_parse((const char *)data, size, &t) == 0 &&
	    token_verify(key, &t, sha, 0) == TOKEN_OK) {
		char again[TOKEN_MAX_LEN + 1];

		/* Only a genuine token verifies: it must be what we make. */
		if (token_make_for(key, t.file_id, sha, 0, 0, t.requester,
		                   again) == 0 &&
		    t.expires == 0 && memcmp(again, data, size) != 0)
			abort();
	}
	return 0;
}
