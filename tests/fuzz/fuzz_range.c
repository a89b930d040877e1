/* libFuzzer target: the Range parser and the conditional-header helpers
 * must never crash, and a satisfiable range must lie within the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t sizes[] = {0, 1, 1000, UINT64_MAX};
	char *s = malloc(size + 1);
	struct range r;
	time_t t;

	memcpy(s, data, size);
	s[size] = '\0';
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (range_parse(s, sizes[i], &r) == RANGE_OK &&
		    (r.len == 0 || r.start >= sizes[i] ||
		     r.len > sizes[i] - r.start))
			abort();
	}
	(void)range_if_range(s, "\"abc\"", 784111777);
	(void)range_etag_matches(s, "\"abc\"");
	/* A strong match is a weak match too. */
	if (range_if_match(s, "\"abc\"") && !range_etag_matches(s, "\"abc\""))
		abort();
	(void)range_parse_date(s, &t);
	free(s);
	return 0;
}
