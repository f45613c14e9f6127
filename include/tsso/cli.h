/* The command-line verbs; main.c only parses argv and dispatches. */
#ifndef TSSO_CLI_H
#define TSSO_CLI_H

struct tsso_config;
struct tsso_runtime;

/* Each returns the process exit code. */
int tsso_cli_serve(const char *config_path);
int tsso_cli_check(const char *config_path);
int tsso_cli_map(const char *config_path, const char *tenant, const char *claims_file);
int tsso_cli_mint(const char *config_path, const char *tenant, const char *claims_file);
int tsso_cli_keys(const char *config_path, const char *action);

/* Load the configuration, printing every problem to stderr as
 * "FILE: KEY: what is wrong". NULL when there was any. */
struct tsso_config *tsso_cli_load_config(const char *config_path);
/* Same, then build the runtime (mappings, keys) without network. */
struct tsso_runtime *tsso_cli_load_runtime(const char *config_path);

#endif
