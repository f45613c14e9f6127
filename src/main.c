/* toucan-sso: parse the command line and hand over to the core library. */
#include <stdio.h>
#include <string.h>

#include "tsso/cli.h"
#include "tsso_build.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: toucan-sso COMMAND [-c FILE]\n"
	        "\n"
	        "commands:\n"
	        "  serve    run the daemon\n"
	        "  check    validate the configuration and every tenant, print every problem\n"
	        "  version  print the version\n"
	        "\n"
	        "options:\n"
	        "  -c, --config FILE  main configuration file (default %s)\n"
	        "  -h, --help         this help\n"
	        "\n"
	        "Documentation: docs/configuration.md, docs/operations.md\n",
	        TSSO_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	const char *cmd = NULL, *config = TSSO_DEFAULT_CONFIG;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "toucan-sso: %s needs a file name\n", argv[i]);
				return 2;
			}
			config = argv[++i];
		} else if (cmd == NULL && argv[i][0] != '-') {
			cmd = argv[i];
		} else {
			fprintf(stderr, "toucan-sso: unexpected argument \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (cmd == NULL) {
		usage(stderr);
		return 2;
	}
	if (strcmp(cmd, "version") == 0) {
		printf("toucan-sso %s\n", TSSO_VERSION);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return tsso_cli_serve(config);
	if (strcmp(cmd, "check") == 0)
		return tsso_cli_check(config);
	fprintf(stderr, "toucan-sso: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return 2;
}
