/* The subcommands of the fisbot executable (scan, search, ls, info, url).
 * Each returns the process exit code: 0 success, 1 runtime failure, 2
 * usage or configuration error. */
#ifndef FISBOT_CLI_H
#define FISBOT_CLI_H

#include <stdbool.h>

#include "fisbot/config.h"

/* fisbot scan: bring the catalogue up to date, print the counts. */
int cli_scan(const struct config *cfg);
/* fisbot search QUERY...: one result per line. */
int cli_search(const struct config *cfg, int argc, char **argv);
/* fisbot ls [DIR]: a directory of the catalogue. */
int cli_ls(const struct config *cfg, int argc, char **argv);
/* fisbot info ID|PATH: details of one file. */
int cli_info(const struct config *cfg, int argc, char **argv);
/* fisbot url ID|PATH: a download URL. */
int cli_url(const struct config *cfg, int argc, char **argv);
/* fisbot [-v]: run the bot until SIGTERM/SIGINT. */
int daemon_run(struct config *cfg, bool verbose);

#endif
