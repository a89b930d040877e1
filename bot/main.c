/* fisbot's entry point: parses the command line and hands over to a
 * subcommand (cli_*.c) or to the bot itself (daemon.c). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fisbot/config.h"
#include "fisbot/log.h"
#include "version.h"

static const char usage_text[] =
    "usage: fisbot [-c FILE] [-v]           run the bot\n"
    "       fisbot -n [-c FILE]             check the configuration\n"
    "       fisbot scan [-c FILE]           update the catalogue\n"
    "       fisbot search [-c FILE] QUERY   search the catalogue\n"
    "       fisbot ls [-c FILE] [DIR]       list a directory\n"
    "       fisbot info [-c FILE] ID|PATH   details of one file\n"
    "       fisbot url [-c FILE] ID|PATH    a download URL\n"
    "       fisbot --version | --help\n";

struct subcommand {
	const char *name;
	int (*run)(const struct config *cfg, int argc, char **argv);
	int min_args, max_args; /* -1: no maximum */
};

/* cli_scan takes no arguments; this adapts it to the table. */
static int run_scan(const struct config *cfg, int argc, char **argv)
{
	return cli_scan(cfg);
}

static const struct subcommand subcommands[] = {
    {"scan", run_scan, 0, 0}, {"search", cli_search, 1, -1},
    {"ls", cli_ls, 0, 1},     {"info", cli_info, 1, 1},
    {"url", cli_url, 1, 1},
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const struct subcommand *sub = NULL;
	const char *path = "fisbot.conf";
	struct strlist problems = {0};
	struct config *cfg;
	bool check = false, verbose = false;
	int ch, nargs, rc;

	/* A subcommand comes first; options may follow it. */
	if (argc > 1) {
		for (size_t i = 0;
		     i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
			if (strcmp(argv[1], subcommands[i].name) == 0) {
				sub = &subcommands[i];
				argv++;
				argc--;
				break;
			}
		}
	}
	/* "+": stop at the first operand, so a query may start with '-'
	 * only after "--". */
	while ((ch = getopt_long(argc, argv, "+c:nvhV", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("fisbot %s\n", FISBOT_VERSION);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	nargs = argc;
	if (sub == NULL && nargs > 0) {
		fprintf(stderr, "fisbot: unknown command \"%s\"\n%s", argv[0],
		        usage_text);
		return 2;
	}
	if (sub != NULL && (nargs < sub->min_args ||
	                    (sub->max_args >= 0 && nargs > sub->max_args))) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (check && sub != NULL) {
		fputs(usage_text, stderr);
		return 2;
	}

	cfg = config_load(path, &problems);
	if (cfg == NULL) {
		for (size_t i = 0; i < problems.n; i++)
			fprintf(stderr, "fisbot: %s\n", problems.v[i]);
		strlist_free(&problems);
		return 2;
	}
	if (check) {
		printf("configuration OK\n");
		config_free(cfg);
		return 0;
	}
	log_set_level(verbose ? LOG_DEBUG : cfg->log.level);
	if (sub != NULL)
		rc = sub->run(cfg, nargs, argv);
	else
		rc = daemon_run(cfg, verbose);
	config_free(cfg);
	return rc;
}
