/* toucan-sso: parse the command line and hand over to the core library. */
#include <stdio.h>
#include <string.h>

#include "tsso/cli.h"
#include "tsso_build.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: toucan-sso COMMAND [-c FILE] [options]\n"
	    "\n"
	    "commands:\n"
	    "  serve                              run the daemon\n"
	    "  check                              validate the configuration and every tenant,\n"
	    "                                     print every problem, exit 1 on any\n"
	    "  map  --tenant T --claims FILE      dry-run the claim mapping, print the embed\n"
	    "                                     identity or every reason it is refused\n"
	    "  mint --tenant T --claims FILE      make an embed token without SSO\n"
	    "                                     (development mode only)\n"
	    "  keys generate|rotate|list          manage the embed signing keys\n"
	    "  version                            print the version\n"
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
	const char *cmd = NULL, *arg = NULL, *config = TSSO_DEFAULT_CONFIG;
	const char *tenant = NULL, *claims = NULL;

	for (int i = 1; i < argc; i++) {
		const char **slot = NULL;

		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
			slot = &config;
		else if (strcmp(argv[i], "--tenant") == 0)
			slot = &tenant;
		else if (strcmp(argv[i], "--claims") == 0)
			slot = &claims;
		if (slot != NULL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "toucan-sso: %s needs a value\n", argv[i]);
				return 2;
			}
			*slot = argv[++i];
		} else if (cmd == NULL && argv[i][0] != '-') {
			cmd = argv[i];
		} else if (arg == NULL && argv[i][0] != '-' && strcmp(cmd, "keys") == 0) {
			arg = argv[i];
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
	if (strcmp(cmd, "map") == 0 || strcmp(cmd, "mint") == 0) {
		if (tenant == NULL || claims == NULL) {
			fprintf(stderr, "toucan-sso %s: --tenant and --claims are required\n", cmd);
			return 2;
		}
		return cmd[1] == 'a' ? tsso_cli_map(config, tenant, claims)
		                     : tsso_cli_mint(config, tenant, claims);
	}
	if (strcmp(cmd, "keys") == 0) {
		if (arg == NULL) {
			fprintf(stderr, "toucan-sso keys: generate, rotate or list?\n");
			return 2;
		}
		return tsso_cli_keys(config, arg);
	}
	fprintf(stderr, "toucan-sso: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return 2;
}
