/*
 * The one error type: a stable, machine-readable reason code such as
 * "id_token.aud_mismatch" (logged, counted in /metrics, tested) plus a short
 * human text. The text never contains secrets or unescaped client input.
 *
 * Convention: functions that can fail return 0 on success and -1 on failure
 * and fill a caller-provided struct tsso_err (which may be NULL). A function
 * either returns the error or logs it, never both: logging happens at the
 * boundary that decides the HTTP answer or the exit code.
 */
#ifndef TSSO_ERR_H
#define TSSO_ERR_H

#include "tsso/common.h"

#define TSSO_ERR_MSG_MAX 256

struct tsso_err {
	const char *reason; /* static string, e.g. "state.replayed"; NULL when no error */
	char msg[TSSO_ERR_MSG_MAX];
};

/* Record an error (when err is not NULL) and return -1, so that callers can
 * write `return tsso_err_set(err, "x.y", "...")`. reason must be a string
 * literal or otherwise live forever. */
int tsso_err_set(struct tsso_err *err, const char *reason, const char *fmt, ...) TSSO_PRINTF(3, 4);

/* Reset to "no error". Accepts NULL. */
void tsso_err_clear(struct tsso_err *err);

/* The reason code, or "ok" when none is set. Borrowed. */
const char *tsso_err_reason(const struct tsso_err *err);

#endif
