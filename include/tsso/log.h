/*
 * Logging: one JSON object per line on stderr (or key=value text). The only
 * global mutable state in the daemon besides the configuration swap.
 * Never pass a secret as a value.
 */
#ifndef TSSO_LOG_H
#define TSSO_LOG_H

#include <stdbool.h>

#include "tsso/common.h"

enum tsso_log_level {
	TSSO_LOG_DEBUG = 0,
	TSSO_LOG_INFO = 1,
	TSSO_LOG_WARN = 2,
	TSSO_LOG_ERROR = 3,
};

/* Set the threshold and format; safe to call again on reload. */
void tsso_log_setup(enum tsso_log_level level, bool json);

/* Parse "debug"/"info"/"warn"/"error"; -1 when unknown. */
int tsso_log_level_parse(const char *s);

/* Write one record: `event` names what happened ("http.request",
 * "login.refused"), followed by NULL-terminated key/value string pairs.
 * NULL values are skipped. Values are escaped; keys must be literals. */
void tsso_log(enum tsso_log_level level, const char *event, ...) __attribute__((sentinel));

/* True when records of this level would be written. */
bool tsso_log_enabled(enum tsso_log_level level);

#endif
