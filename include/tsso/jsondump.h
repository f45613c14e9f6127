/*
 * Compact JSON text from jansson values, written straight into a tsso_buf:
 * the same text as json_dumps(v, JSON_COMPACT), at a fraction of its cost
 * (jansson spends about 100 instructions a byte; docs/performance.md). Used
 * for the session record and for JSON answers, both on every login or
 * request.
 */
#ifndef TSSO_JSONDUMP_H
#define TSSO_JSONDUMP_H

#include <stddef.h>

#include <jansson.h>

#include "tsso/buf.h"
#include "tsso/common.h"

/* Deepest nesting written; deeper values are refused. */
#define TSSO_JSON_DUMP_DEPTH 32

/* Append v (object, array, string, integer, real, true, false, null) in
 * compact form, members in the object's order. Refuses (-1) strings that
 * are not valid UTF-8, NaN and infinities, nesting over
 * TSSO_JSON_DUMP_DEPTH, and anything over b's limit; b may then hold a
 * partial text (callers reset or discard it). */
int tsso_json_dump_append(struct tsso_buf *b, const json_t *v) TSSO_WUR;
/* Append the n bytes at s as a quoted JSON string ('"', '\\' and control
 * bytes escaped, other UTF-8 as is). -1 for invalid UTF-8 or over b's limit. */
int tsso_json_str_append(struct tsso_buf *b, const char *s, size_t n) TSSO_WUR;
/* Append a signed decimal integer. -1 over b's limit. */
int tsso_json_int_append(struct tsso_buf *b, long long v) TSSO_WUR;

#endif
