/* `toucan-sso check`: load everything, print every problem, exit 1 on any. */
#include <stdio.h>

#include "tsso/app.h"
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

struct tsso_runtime *tsso_cli_load_runtime(const char *config_path)
{
	struct tsso_config *cfg = tsso_cli_load_config(config_path);
	struct tsso_problems problems = {0};
	struct tsso_err err = {0};
	struct tsso_runtime *rt;

	if (cfg == NULL)
		return NULL;
	/* Builds every tenant without contacting anyone: mapping rules, keys,
	 * key files and the session keyring are checked here too. */
	rt = tsso_runtime_new(cfg, NULL, &problems, &err);
	for (size_t i = 0; i < problems.n; i++)
		fprintf(stderr, "%s\n", problems.v[i]);
	if (rt == NULL && problems.n == 0)
		fprintf(stderr, "%s: %s: %s\n", config_path, err.reason ? err.reason : "-",
		        err.msg);
	tsso_problems_free(&problems);
	return rt;
}

int tsso_cli_check(const char *config_path)
{
	struct tsso_runtime *rt = tsso_cli_load_runtime(config_path);

	if (rt == NULL) {
		fprintf(stderr, "%s: configuration refused\n", config_path);
		return 1;
	}
	printf("%s: OK, %s mode, %zu tenant%s\n", rt->cfg->file,
	       rt->cfg->mode == TSSO_MODE_PRODUCTION ? "production" : "development", rt->n_tenants,
	       rt->n_tenants == 1 ? "" : "s");
	tsso_runtime_release(rt);
	return 0;
}
