/* fisbot scan: reconcile the catalogue with the share, hash
 * everything pending, wait until done, print the counts. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "fisbot/log.h"
#include "index/indexer.h"

int cli_scan(const struct config *cfg)
{
	struct indexer_options opt = {0};
	struct scan_counts counts = {0};
	struct indexer *ix;
	char *cause = NULL;
	bool tty = isatty(STDERR_FILENO);
	int rc;

	if (tty)
		fputs("fisbot: scanning...", stderr);
	ix = indexer_start(cfg, &opt, &cause);
	if (ix == NULL) {
		fprintf(stderr, "%sfisbot: %s\n", tty ? "\n" : "", cause);
		free(cause);
		return 1;
	}
	/* On a terminal, a progress line until the work is done. */
	while (tty && indexer_wait_idle_ms(ix, 250) == 0) {
		uint64_t hashed, waiting;

		indexer_progress(ix, &hashed, &waiting);
		fprintf(stderr, "\rfisbot: hashed %llu, %llu to go   ",
		        (unsigned long long)hashed,
		        (unsigned long long)waiting);
	}
	rc = indexer_wait_idle(ix, &counts);
	indexer_stop(ix);
	if (tty)
		fputs("\n", stderr);
	if (rc == -1) {
		fputs("fisbot: scan: the catalogue could not be updated (see "
		      "above); run fisbot scan again once that is fixed\n",
		      stderr);
		return 1;
	}
	printf("added %llu, changed %llu, removed %llu, unchanged %llu\n",
	       (unsigned long long)counts.added,
	       (unsigned long long)counts.changed,
	       (unsigned long long)counts.removed,
	       (unsigned long long)counts.unchanged);
	return 0;
}
