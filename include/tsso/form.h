/*
 * application/x-www-form-urlencoded (URL Standard §5, used by query strings
 * and form_post callbacks) into a bounded key/value list, strictly: a bad
 * %-escape, a NUL, invalid UTF-8 or too many parameters is an error, never
 * a guess. Also the encoder used to build authorization request URLs.
 *
 * Reason codes: form.too_large, form.too_many, form.bad_escape, form.nul,
 * form.utf8, form.nomem.
 */
#ifndef TSSO_FORM_H
#define TSSO_FORM_H

#include <stddef.h>

#include "tsso/buf.h"
#include "tsso/common.h"
#include "tsso/err.h"
#include "tsso/http.h"

/* Parse s[0..len) (a query string without '?', or a request body; at most
 * TSSO_HTTP_MAX_BODY bytes, at most TSSO_HTTP_MAX_PARAMS parameters): '&'
 * separates pairs (empty ones skipped), the first '=' splits name from value
 * ('=' absent: value ""), '+' is a space, %XX must be two hex digits. On
 * success *ret is overwritten with a new list (free with tsso_kvlist_free);
 * on failure it is untouched. */
int tsso_form_parse(const char *s, size_t len, struct tsso_kvlist *ret,
                    struct tsso_err *err) TSSO_WUR;

/* Free every key and value (values wiped first: they carry codes and
 * session cookies) and the array, leaving an empty list. Accepts NULL and
 * empty lists. The struct itself is not freed (it lives in tsso_req). */
void tsso_kvlist_free(struct tsso_kvlist *l);

/* Borrowed value of the first entry named key (exact, case-sensitive), or
 * NULL. */
const char *tsso_kvlist_get(const struct tsso_kvlist *l, const char *key);

/* How many entries are named key. */
size_t tsso_kvlist_count(const struct tsso_kvlist *l, const char *key);

/* The first key that appears more than once (borrowed), or NULL: RFC 6749
 * §3.1 "request and response parameters MUST NOT be included more than
 * once", so protocol handlers refuse such requests. */
const char *tsso_kvlist_first_dup(const struct tsso_kvlist *l);

/* Append "key=value" to b, each percent-encoded for a URL query component
 * (RFC 3986 §2.3 unreserved ALPHA DIGIT - . _ ~ kept, every other byte
 * %XX, upper-case hex; space is %20, never '+'), preceded by '&' unless b
 * is empty or already ends in '?' or '&'. -1 when b's limit is hit (b may
 * then hold a partial pair: discard it). */
int tsso_form_encode_append(struct tsso_buf *b, const char *key, const char *value) TSSO_WUR;

#endif
