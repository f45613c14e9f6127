/*
 * A small append-only JSON writer (RFC 8259) into a tsso_buf: one pass, no
 * intermediate tree, for the JSON we produce on hot paths (the embed token's
 * claims). The output is compact and byte for byte what jansson's
 * json_dumps(JSON_COMPACT) writes for the same values, keys in the order
 * written (json_t objects: insertion order, as jansson keeps them).
 *
 * Errors are sticky: the write functions return nothing, a failure stops
 * every later write, and tsso_jsonw_finish says whether the whole document
 * was written. Reasons (stable): json.too_large (the buffer's own limit),
 * json.no_memory, json.bad_value (a string that is not well-formed UTF-8,
 * a non-finite number, a tree deeper than TSSO_JSONW_DEPTH_MAX, or calls
 * that do not form one value).
 */
#ifndef TSSO_JSONW_H
#define TSSO_JSONW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "tsso/buf.h"
#include "tsso/common.h"
#include "tsso/err.h"

struct tsso_jsonw {
	struct tsso_buf *b; /* borrowed; output is appended */
	const char *failed; /* reason of the first failure, NULL while fine */
	unsigned depth;     /* containers open */
	bool comma;         /* the next value or key needs a ',' first */
};

/* Start writing one JSON value at the end of b (what b already holds stays). */
void tsso_jsonw_init(struct tsso_jsonw *w, struct tsso_buf *b);

/* Open and close an object or an array. */
void tsso_jsonw_obj_begin(struct tsso_jsonw *w);
void tsso_jsonw_obj_end(struct tsso_jsonw *w);
void tsso_jsonw_arr_begin(struct tsso_jsonw *w);
void tsso_jsonw_arr_end(struct tsso_jsonw *w);

/* A member name inside an object; the value follows with any write below.
 * key is a NUL-terminated UTF-8 string, escaped as a JSON string. */
void tsso_jsonw_key(struct tsso_jsonw *w, const char *key);

/* A string value: s is NUL-terminated (tsso_jsonw_str) or n bytes that may
 * contain NUL (tsso_jsonw_strn). It must be well-formed UTF-8 (RFC 3629),
 * which json_t strings always are; anything else fails with json.bad_value
 * rather than writing text a parser would refuse. '"', '\' and the control
 * characters U+0000-U+001F are escaped (RFC 8259 §7); everything else,
 * non-ASCII included, is copied as it is. */
void tsso_jsonw_str(struct tsso_jsonw *w, const char *s);
void tsso_jsonw_strn(struct tsso_jsonw *w, const char *s, size_t n);

/* Numbers, booleans, null. */
void tsso_jsonw_int(struct tsso_jsonw *w, long long v);
void tsso_jsonw_real(struct tsso_jsonw *w, double v);
void tsso_jsonw_bool(struct tsso_jsonw *w, bool v);
void tsso_jsonw_null(struct tsso_jsonw *w);

/* Any json_t (borrowed), nested containers included, at most
 * TSSO_JSONW_DEPTH_MAX levels deep (which also ends a cyclic tree). */
void tsso_jsonw_value(struct tsso_jsonw *w, const json_t *v);

/* A value already serialized as JSON and already checked by the caller (for
 * example an object read back strictly from a record we sealed), n > 0
 * bytes copied as they are. Never for text from outside. */
void tsso_jsonw_raw(struct tsso_jsonw *w, const char *text, size_t n);

/* 0 when everything written so far succeeded and every container is
 * closed, else -1 with err set. */
int tsso_jsonw_finish(const struct tsso_jsonw *w, struct tsso_err *err) TSSO_WUR;

/* The whole of v appended to b in one call (init, value, finish): 0, or -1
 * with err set (err may be NULL); b may then hold part of it. */
int tsso_jsonw_dump(struct tsso_buf *b, const json_t *v, struct tsso_err *err) TSSO_WUR;

#endif
