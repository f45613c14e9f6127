/* The strict JSON reader for untrusted and hot input (tokens, IdP answers,
 * sealed records): RFC 8259 exactly, duplicate members refused, jansson values
 * out. */
#ifndef TSSO_JSON_H
#define TSSO_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "tsso/err.h"

/*
 * Parse text[0..len) as exactly one JSON value (RFC 8259 §2, any type at the
 * top, whitespace around it allowed, nothing else after it). Returns a new
 * reference, or NULL with err set to one of:
 *   "json.duplicate_member"  an object (at any depth) names a member twice
 *                            (RFC 8259 §4: the names SHOULD be unique; two
 *                            readers keeping different members must not
 *                            disagree about a token, RFC 7515 §5.2, RFC 7519 §4)
 *   "json.too_deep"          arrays/objects nested deeper than TSSO_JSON_MAX_DEPTH
 *   "json.too_large"         len above TSSO_JSON_MAX_TEXT
 *   "json.malformed"         anything else: bad syntax, invalid UTF-8
 *                            (RFC 3629: overlongs, surrogates, > U+10FFFF),
 *                            control characters in strings, a \u escape that is
 *                            an unpaired surrogate or \u0000, leading zeros,
 *                            an integer outside json_int_t, a real that
 *                            overflows a double, trailing bytes.
 * Accepts and refuses exactly what json_loadb(text, len,
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) does, except the depth limit
 * (jansson: 2048 levels) and which reason wins when one text has several
 * faults (tests/fuzz/fuzz_json.c checks this difference by difference).
 * Integers become json_integer, numbers with a fraction or exponent
 * json_real (as in jansson); err->msg names the byte offset, never the text.
 */
json_t *tsso_json_parse(const char *text, size_t len, struct tsso_err *err);

/* One \uXXXX escape at p (p[0] == 'u', the byte after the backslash; end
 * bounds the text): the code point, a surrogate pair joined (RFC 8259 §7),
 * with *ret_used the bytes it spans from p (5 or 11). -1 when the escape is
 * not hex, is cut by end, is an unpaired surrogate, or is U+0000 (jansson
 * refuses \u0000 without JSON_ALLOW_NUL, and C strings would cut there).
 * Shared with the session-record reader (tsso/jsonflat.h). */
long tsso_json_unicode_escape(const unsigned char *p, const unsigned char *end, size_t *ret_used);

/* The byte one of RFC 8259 §7's short escapes stands for, c being the
 * character after the backslash (\" \\ \/ \b \f \n \r \t); -1 for any other
 * (\u included: see tsso_json_unicode_escape). Shared with tsso/jsonflat.h. */
int tsso_json_short_escape(unsigned char c);

#endif
