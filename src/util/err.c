/* The one error type: stable reason code plus short text. */
#include <stdarg.h>
#include <stdio.h>

#include "tsso/err.h"

int tsso_err_set(struct tsso_err *err, const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->reason = reason;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void tsso_err_clear(struct tsso_err *err)
{
	if (err == NULL)
		return;
	err->reason = NULL;
	err->msg[0] = '\0';
}

const char *tsso_err_reason(const struct tsso_err *err)
{
	return err != NULL && err->reason != NULL ? err->reason : "ok";
}
