/* libFuzzer target for the search syntax: any input is parsed; a valid
 * query's terms are matched against a few paths (within PCRE2's limits),
 * the literals a glob or regex extracts for the trigram index must be in
 * every path it matches, and an error must be a single line of printable
 * UTF-8. Seeds: tests/fuzz/corpus/query. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fisbot/alloc.h"
#include "fisbot/query.h"
#include "fisbot/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Raw paths, folded once (query_fold) as the catalogue stores them: mixed
 * case, invalid bytes, a bidirectional override, letters PCRE2 matches
 * caselessly with others (long s, final sigma, Kelvin sign), and a long
 * one for the limits. */
static const char *const raw_paths[] = {
    "music/live/song.ogg",
    "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z",
    "odd/\xff\xfe name.txt",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
    "\xc3\xa9t\xc3\xa9/\xc3\x89T\xc3\x89.txt",
    "Mu\xc5\xbfic/\xce\xbb\xcf\x8c\xce\xb3\xce\xbf\xcf\x82/"
    "\xe2\x84\xaa"
    "elvin.TXT",
    "evil\xe2\x80\xaegpj.exe/line\xe2\x80\xa8sep",
    "x/(a)[b]{c}.*+?^$|\\d.txt",
};
#define N_PATHS (sizeof(raw_paths) / sizeof(raw_paths[0]) + 1)
static char *paths[N_PATHS];

/* Folds raw_paths into paths, and adds a path of 4 KiB. */
static void init_paths(void)
{
	char *big = xmalloc(4096);

	for (size_t i = 0; i + 1 < N_PATHS; i++)
		paths[i] = query_fold(raw_paths[i], strlen(raw_paths[i]));
	for (size_t i = 0; i < 4095; i++)
		big[i] = "abxxxxxxxc/"[i % 11];
	big[4095] = '\0';
	paths[N_PATHS - 1] = big;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	char *cause = NULL;
	struct query *q;

	if (paths[0] == NULL)
		init_paths();
	q = query_parse(text, &cause);
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
		for (size_t k = 0; k < N_PATHS; k++) {
			int m = query_match(&q->terms[i], paths[k]);

			if (m < -1 || m > 1)
				abort();
			if (m != 1)
				continue;
			/* The literals of a term occur in whatever it
			 * matches. */
			for (size_t n = 0; n < q->terms[i].n_must; n++)
				if (strstr(paths[k], q->terms[i].must[n]) ==
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
