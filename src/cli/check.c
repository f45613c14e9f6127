/* `toucan-sso check`: load everything, print every problem, exit 1 on any. */
#include <stdio.h>

#include "tsso/cli.h"
#include "tsso/config.h"

struct tsso_config *tsso_cli_load_config(const char *config_path)
{
	struct tsso_problems problems = {0};
	struct tsso_config *cfg = tsso_config_load(config_path, &problems);

	for (size_t i = 0; i < problems.n; i++)
		fprintf(stderr, "%s\n", problems.v[i]);
	tsso_problems_free(&problems);
	return cfg;
}

int tsso_cli_check(const char *config_path)
{
	struct tsso_config *cfg = tsso_cli_load_config(config_path);

	if (cfg == NULL) {
		fprintf(stderr, "%s: configuration refused\n", config_path);
		return 1;
	}
	printf("%s: OK, %s mode, %zu tenant%s\n", cfg->file,
	       cfg->mode == TSSO_MODE_PRODUCTION ? "production" : "development", cfg->n_tenants,
	       cfg->n_tenants == 1 ? "" : "s");
	tsso_config_free(cfg);
	return 0;
}
