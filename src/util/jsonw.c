/* Append-only compact JSON writer (RFC 8259), byte-compatible with jansson's JSON_COMPACT dump. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tsso/jsonw.h"
#include "tsso/limits.h"
#include "tsso/utf8.h"
#include "tsso/word.h"

#define R_TOO_LARGE "json.too_large"
#define R_NO_MEMORY "json.no_memory"
#define R_BAD_VALUE "json.bad_value"

/* Bytes that string content takes in the output (RFC 8259 §7), by byte
 * value: 0x00-0x1f control characters, 2 for the short escapes (\b \t \n
 * \f \r), else 6 (\u00XX); 0x20-0x7f 1 as is, 2 for '"' (0x22) and '\\'
 * (0x5c); 0x80-0xff 0, the lead of a multi-byte UTF-8 sequence, checked and
 * then copied unchanged. */
static const unsigned char out_len[256] = {
    6, 6, 6, 6, 6, 6, 6, 6, 2, 2, 2, 6, 2, 2, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static void fail(struct tsso_jsonw *w, const char *reason)
{
	if (w->failed == NULL)
		w->failed = reason;
}

/* Room for n more bytes when the buffer must grow: the buffer's own limit
 * decides json.too_large, checked first so that a refusal of
 * tsso_buf_reserve can only mean memory. */
static char *room_grow(struct tsso_jsonw *w, size_t n)
{
	struct tsso_buf *b = w->b;

	if (n > b->max || b->len > b->max - n) {
		fail(w, R_TOO_LARGE);
		return NULL;
	}
	if (tsso_buf_reserve(b, n) < 0) {
		fail(w, R_NO_MEMORY);
		return NULL;
	}
	return b->ptr + b->len;
}

/* Where the next n bytes go (then commit them), or NULL once failed. */
static inline char *room(struct tsso_jsonw *w, size_t n)
{
	struct tsso_buf *b = w->b;

	if (w->failed != NULL)
		return NULL;
	/* cap counts the NUL the buffer always keeps after its content. */
	if (b->ptr != NULL && b->cap - b->len > n && n <= b->max - b->len)
		return b->ptr + b->len;
	return room_grow(w, n);
}

static inline void commit(struct tsso_jsonw *w, size_t n)
{
	w->b->len += n;
	w->b->ptr[w->b->len] = '\0';
}

/* One structural byte, after the ',' the previous value needs. */
static void put_tok(struct tsso_jsonw *w, bool comma, char c)
{
	char *o = room(w, comma ? 2 : 1);

	if (o != NULL) {
		if (comma)
			*o++ = ',';
		*o = c;
		commit(w, comma ? 2 : 1);
	}
}

void tsso_jsonw_init(struct tsso_jsonw *w, struct tsso_buf *b)
{
	w->b = b;
	w->failed = NULL;
	w->depth = 0;
	w->comma = false;
}

static void open_c(struct tsso_jsonw *w, char c)
{
	if (w->depth >= TSSO_JSONW_DEPTH_MAX) {
		fail(w, R_BAD_VALUE);
		return;
	}
	w->depth++;
	put_tok(w, w->comma, c);
	w->comma = false;
}

static void close_c(struct tsso_jsonw *w, char c)
{
	if (w->depth == 0) {
		fail(w, R_BAD_VALUE);
		return;
	}
	w->depth--;
	put_tok(w, false, c);
	w->comma = true;
}

void tsso_jsonw_obj_begin(struct tsso_jsonw *w)
{
	open_c(w, '{');
}

void tsso_jsonw_obj_end(struct tsso_jsonw *w)
{
	close_c(w, '}');
}

void tsso_jsonw_arr_begin(struct tsso_jsonw *w)
{
	open_c(w, '[');
}

void tsso_jsonw_arr_end(struct tsso_jsonw *w)
{
	close_c(w, ']');
}

/* The escaped form of an ASCII byte whose out_len is 2 or 6: the short
 * forms of RFC 8259 §7 where they exist, else \u00XX with upper-case hex
 * digits (as jansson writes them). Returns the bytes written. */
static size_t escape_to(char *o, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char short_form = 0;

	switch (c) {
	case '"':
		short_form = '"';
		break;
	case '\\':
		short_form = '\\';
		break;
	case '\b':
		short_form = 'b';
		break;
	case '\f':
		short_form = 'f';
		break;
	case '\n':
		short_form = 'n';
		break;
	case '\r':
		short_form = 'r';
		break;
	case '\t':
		short_form = 't';
		break;
	default:
		break;
	}
	o[0] = '\\';
	if (short_form != 0) {
		o[1] = short_form;
		return 2;
	}
	memcpy(o + 1, "u00", 3);
	o[4] = hex[c >> 4];
	o[5] = hex[c & 15];
	return 6;
}

/* True when none of the 8 bytes at p needs more than a copy: all in
 * 0x20-0x7f, none '"' or '\\' (out_len 1). Tokens and cookies are hundreds
 * of such bytes in a row. */
static bool plain8(const unsigned char *p)
{
	uint64_t x = tsso_word_load(p);

	return ((x | tsso_word_below(x, 0x20) | tsso_word_eq(x, '"') | tsso_word_eq(x, '\\')) &
	        TSSO_WORD_HIGHS) == 0;
}

#ifdef TSSO_VEC_LEN
/* The same for 16 bytes (SSE2). */
static bool plain16(const unsigned char *p)
{
	tsso_vec x = tsso_vec_load(p);

	return !tsso_vec_any(tsso_vec_or(tsso_vec_below(x, 0x20),
	                                 tsso_vec_or(tsso_vec_eq(x, '"'), tsso_vec_eq(x, '\\'))));
}
#endif

/*
 * The quoted string, optionally preceded by ',' and followed by ':'. Two
 * passes: the first checks the UTF-8 and counts the output bytes, so that
 * the second writes into room reserved once, usually a single memcpy.
 */
static void put_string(struct tsso_jsonw *w, const char *s, size_t n, bool comma, bool colon)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, total = n, escapes = 0;
	char *o;

	if (w->failed != NULL)
		return;
	for (i = 0; i < n;) {
		unsigned char k;

#ifdef TSSO_VEC_LEN
		if (n - i >= TSSO_VEC_LEN && plain16(p + i)) {
			i += TSSO_VEC_LEN;
			continue;
		}
#endif
		if (n - i >= 8 && plain8(p + i)) {
			i += 8;
			continue;
		}
		k = out_len[p[i]];
		if (k == 1) {
			i++;
		} else if (k != 0) {
			total += k - 1;
			escapes++;
			i++;
		} else {
			size_t len = tsso_utf8_seq_len(p + i, n - i);

			if (len == 0) {
				fail(w, R_BAD_VALUE);
				return;
			}
			i += len;
		}
	}
	o = room(w, total + 2 + comma + colon);
	if (o == NULL)
		return;
	if (comma)
		*o++ = ',';
	*o++ = '"';
	if (escapes == 0) {
		memcpy(o, s, n);
		o += n;
	} else {
		for (i = 0; i < n; i++) {
			if (out_len[p[i]] > 1)
				o += escape_to(o, p[i]);
			else
				*o++ = (char)p[i];
		}
	}
	*o++ = '"';
	if (colon)
		*o = ':';
	commit(w, total + 2 + comma + colon);
}

void tsso_jsonw_key(struct tsso_jsonw *w, const char *key)
{
	put_string(w, key, strlen(key), w->comma, true);
	w->comma = false;
}

void tsso_jsonw_strn(struct tsso_jsonw *w, const char *s, size_t n)
{
	put_string(w, s, n, w->comma, false);
	w->comma = true;
}

void tsso_jsonw_str(struct tsso_jsonw *w, const char *s)
{
	tsso_jsonw_strn(w, s, strlen(s));
}

/* A number or literal already formatted, after the ',' it may need. */
static void put_scalar(struct tsso_jsonw *w, const char *t, size_t n)
{
	char *o = room(w, n + w->comma);

	if (o == NULL)
		return;
	if (w->comma)
		*o++ = ',';
	memcpy(o, t, n);
	commit(w, n + w->comma);
	w->comma = true;
}

void tsso_jsonw_int(struct tsso_jsonw *w, long long v)
{
	char digits[TSSO_DEC_LL_MAX], *p = tsso_dec_ll(digits, v);

	put_scalar(w, p, (size_t)(digits + sizeof(digits) - p));
}

/*
 * Reals as jansson writes them: 17 significant digits (every double comes
 * back exactly), ".0" added when the text would read as an integer, and the
 * exponent without '+' or leading zeros. JSON has no NaN or infinity
 * (RFC 8259 §6): refused.
 */
void tsso_jsonw_real(struct tsso_jsonw *w, double v)
{
	char t[40], *e;
	int n;
	size_t len;

	if (!isfinite(v)) {
		fail(w, R_BAD_VALUE);
		return;
	}
	n = snprintf(t, sizeof(t) - 2, "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof(t) - 2) {
		fail(w, R_BAD_VALUE);
		return;
	}
	len = (size_t)n;
	/* The daemon never calls setlocale, so '.' is the decimal point; should
	 * a locale ever change it, refuse rather than write invalid JSON. */
	if (strspn(t, "0123456789.e+-") != len) {
		fail(w, R_BAD_VALUE);
		return;
	}
	if (memchr(t, '.', len) == NULL && memchr(t, 'e', len) == NULL) {
		memcpy(t + len, ".0", 3);
		len += 2;
	}
	e = memchr(t, 'e', len);
	if (e != NULL) {
		char *start = e + 1, *end = e + 2;

		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len + 1 - (size_t)(end - t));
			len -= (size_t)(end - start);
		}
	}
	put_scalar(w, t, len);
}

void tsso_jsonw_bool(struct tsso_jsonw *w, bool v)
{
	if (v)
		put_scalar(w, "true", 4);
	else
		put_scalar(w, "false", 5);
}

void tsso_jsonw_null(struct tsso_jsonw *w)
{
	put_scalar(w, "null", 4);
}

void tsso_jsonw_value(struct tsso_jsonw *w, const json_t *v)
{
	size_t i;
	void *it;

	if (w->failed != NULL)
		return;
	if (v == NULL) {
		fail(w, R_BAD_VALUE);
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		tsso_jsonw_obj_begin(w);
		for (it = json_object_iter((json_t *)v); it != NULL && w->failed == NULL;
		     it = json_object_iter_next((json_t *)v, it)) {
			/* Member names may hold NUL (jansson 2.14 keeps their length). */
			put_string(w, json_object_iter_key(it), json_object_iter_key_len(it),
			           w->comma, true);
			w->comma = false;
			tsso_jsonw_value(w, json_object_iter_value(it));
		}
		tsso_jsonw_obj_end(w);
		return;
	case JSON_ARRAY:
		tsso_jsonw_arr_begin(w);
		for (i = 0; i < json_array_size(v) && w->failed == NULL; i++)
			tsso_jsonw_value(w, json_array_get(v, i));
		tsso_jsonw_arr_end(w);
		return;
	case JSON_STRING:
		tsso_jsonw_strn(w, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		tsso_jsonw_int(w, (long long)json_integer_value(v));
		return;
	case JSON_REAL:
		tsso_jsonw_real(w, json_real_value(v));
		return;
	case JSON_TRUE:
		tsso_jsonw_bool(w, true);
		return;
	case JSON_FALSE:
		tsso_jsonw_bool(w, false);
		return;
	case JSON_NULL:
		tsso_jsonw_null(w);
		return;
	}
	fail(w, R_BAD_VALUE);
}

void tsso_jsonw_raw(struct tsso_jsonw *w, const char *text, size_t n)
{
	if (w->failed != NULL)
		return;
	if (n == 0) {
		fail(w, R_BAD_VALUE);
		return;
	}
	put_scalar(w, text, n);
}

int tsso_jsonw_dump(struct tsso_buf *b, const json_t *v, struct tsso_err *err)
{
	struct tsso_jsonw w;

	tsso_jsonw_init(&w, b);
	tsso_jsonw_value(&w, v);
	return tsso_jsonw_finish(&w, err);
}

int tsso_jsonw_finish(const struct tsso_jsonw *w, struct tsso_err *err)
{
	if (w->failed != NULL)
		return tsso_err_set(err, w->failed, "cannot write the JSON document");
	if (w->depth != 0)
		return tsso_err_set(err, R_BAD_VALUE, "%u JSON containers left open", w->depth);
	return 0;
}
