/* libFuzzer target for the search syntax: any input is parsed; a valid
 * query's terms are matched against a few paths, and an error must be a
 * single line of printable UTF-8. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "query.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
	    "music/live/song.ogg",
	    "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z",
	    "odd/\\xff\\xfe name.txt",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
	    "été/été.txt",
	};
	char *text = xstrndup((const char *)data, size);
	char *cause = NULL;
	struct query *q = query_parse(text, &cause);

	if (q == NULL) {
		/* An error is one clean line. */
		if (cause == NULL || cause[0] == '\0' ||
		    !text_is_utf8(cause, strlen(cause)))
			abort();
		for (const char *p = cause; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		free(cause);
		free(text);
		return 0;
	}
	for (size_t i = 0; i < q->n_terms; i++) {
		for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++)
			(void)query_match_term(&q->terms[i], paths[k]);
		/* The literals of a term occur in whatever it matches. */
		for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++) {
			if (!query_match_term(&q->terms[i], paths[k]))
				continue;
			for (size_t m = 0; m < q->terms[i].n_must; m++)
				if (strstr(paths[k], q->terms[i].must[m]) ==
				    NULL)
					abort();
		}
	}
	(void)query_is_empty(q);
	(void)query_longest_literal(q);
	query_free(q);
	free(text);
	return 0;
}
