/* The command-line verbs; main.c only parses argv and dispatches. */
#ifndef TSSO_CLI_H
#define TSSO_CLI_H

/* Each returns the process exit code. */
int tsso_cli_serve(const char *config_path);
int tsso_cli_check(const char *config_path);

/* Load the configuration, printing every problem to stderr as
 * "FILE: KEY: what is wrong". NULL when there was any. */
struct tsso_config *tsso_cli_load_config(const char *config_path);

#endif
