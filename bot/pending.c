/* SCAFFOLDING during the first build-out: each function here is removed when
 * the module that implements it lands. This file must not exist at release. */
#include <stdio.h>

#include "cli.h"

int daemon_run(struct config *cfg, bool verbose)
{
	fputs("fisbot: the bot is not built yet\n", stderr);
	return 1;
}
