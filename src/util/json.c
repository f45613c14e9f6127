/* Strict one-pass JSON reader (RFC 8259) building jansson values directly:
 * the hot path of every token, at a few instructions a byte instead of
 * jansson's per-character stream lexer (docs/performance.md). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/json.h"
#include "tsso/limits.h"
#include "tsso/utf8.h"

/* Strings up to this many bytes with escapes are decoded on the stack. */
#define JSON_SCRATCH 512
/* Longest number text converted on the stack (a longer one is still valid
 * JSON and goes through the heap, as jansson accepts any length). */
#define JSON_NUM_STACK 64

struct reader {
	const unsigned char *p;   /* next byte */
	const unsigned char *end; /* one past the last byte */
	const unsigned char *start;
	unsigned depth; /* open arrays and objects */
	const char *reason;
	const char *what;
	size_t at; /* offset of the fault */
	/* Decoded string values with escapes; a value is copied into its
	 * json_t at once, so one buffer serves the whole text. */
	char scratch[JSON_SCRATCH];
};

/* Byte classes inside a string: 0 copies as is, the rest need a look. */
enum { C_PLAIN = 0, C_QUOTE, C_ESCAPE, C_CONTROL, C_HIGH };

static const unsigned char str_class[256] = {
    /* 0x00-0x1f: control characters, never raw in a string (RFC 8259 §7) */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    /* 0x20-0x7f: '"' (0x22) and '\\' (0x5c) end a plain run */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x80-0xff: a UTF-8 sequence to check (RFC 3629 §4) */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4};

/* Past the bytes of a string that copy as they are (class C_PLAIN), eight
 * at a time while none of the eight needs a look: no '"', no '\\', no
 * control character, nothing above 0x7f (each test is exact about "some
 * byte of the eight", the byte loop then finds which). */
static const unsigned char *plain_run(const unsigned char *p, const unsigned char *end)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

	while (end - p >= 8) {
		uint64_t x, q, b;

		memcpy(&x, p, 8);
		q = x ^ (ones * '"');
		b = x ^ (ones * '\\');
		if ((((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x) | x) & highs)
			break;
		p += 8;
	}
	while (p < end && str_class[*p] == C_PLAIN)
		p++;
	return p;
}

/* A string value or member name: either a slice of the input (no escape in
 * it) or a decoded copy in buf (scratch or heap). */
struct jstr {
	const char *s;
	size_t len;
	char *heap; /* owned, NULL when s points into the input or the scratch */
};

static void *fail(struct reader *r, const unsigned char *at, const char *reason, const char *what)
{
	if (r->reason == NULL) {
		r->reason = reason;
		r->what = what;
		r->at = (size_t)(at - r->start);
	}
	return NULL;
}

/* RFC 8259 §2: the four whitespace bytes, nothing else (no BOM either). */
static void skip_ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

static int hex4(const unsigned char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int h = tsso_hex_value(p[i]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

long tsso_json_unicode_escape(const unsigned char *p, const unsigned char *end, size_t *ret_used)
{
	long hi, lo;

	if (end - p < 5 || (hi = hex4(p + 1)) < 0)
		return -1;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return -1; /* a low surrogate first */
	if (hi < 0xd800 || hi > 0xdbff) {
		*ret_used = 5;
		return hi == 0 ? -1 : hi;
	}
	/* RFC 8259 §7: a high surrogate must be followed by an escaped low one. */
	if (end - p < 11 || p[5] != '\\' || p[6] != 'u' || (lo = hex4(p + 7)) < 0 || lo < 0xdc00 ||
	    lo > 0xdfff)
		return -1;
	*ret_used = 11;
	return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
}

int tsso_json_short_escape(unsigned char c)
{
	switch (c) {
	case '"':
	case '\\':
	case '/':
		return c;
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return -1;
	}
}

/* Second pass over a string known to be valid and to hold escapes: decode
 * it into out (at least as long as the source, as no escape grows). */
static size_t unescape(const unsigned char *p, const unsigned char *q, unsigned char *out)
{
	unsigned char *o = out;

	while (p < q) {
		size_t used = 0;

		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		p++;
		if (*p == 'u') {
			o += tsso_utf8_put(o, (unsigned long)tsso_json_unicode_escape(p, q, &used));
			p += used;
			continue;
		}
		*o++ = (unsigned char)tsso_json_short_escape(*p++);
	}
	return (size_t)(o - out);
}

/* A string at r->p (just after the opening quote). The first pass checks
 * everything and finds the closing quote; a second pass decodes only when
 * there were escapes, into r->scratch when it fits and use_scratch is set
 * (a member name must outlive the parse of its value: never the scratch). */
static int read_string(struct reader *r, struct jstr *ret, bool use_scratch)
{
	const unsigned char *p = r->p, *from = r->p;
	bool escaped = false;

	for (;;) {
		size_t n;

		p = plain_run(p, r->end);
		if (p == r->end) {
			fail(r, p, "json.malformed", "unterminated string");
			return -1;
		}
		switch (str_class[*p]) {
		case C_QUOTE:
			goto closed;
		case C_CONTROL:
			fail(r, p, "json.malformed", "control character in a string");
			return -1;
		case C_HIGH:
			n = tsso_utf8_seq_len(p, (size_t)(r->end - p));
			if (n == 0) {
				fail(r, p, "json.malformed", "invalid UTF-8");
				return -1;
			}
			p += n;
			break;
		default: /* C_ESCAPE: RFC 8259 §7, the eight short forms and \u */
			escaped = true;
			if (r->end - p < 2) {
				fail(r, p, "json.malformed", "unterminated string");
				return -1;
			}
			if (p[1] == 'u') {
				if (tsso_json_unicode_escape(p + 1, r->end, &n) < 0) {
					fail(r, p, "json.malformed", "invalid \\u escape");
					return -1;
				}
				p += 1 + n;
			} else if (tsso_json_short_escape(p[1]) >= 0) {
				p += 2;
			} else {
				fail(r, p, "json.malformed", "invalid escape");
				return -1;
			}
		}
	}
closed:
	r->p = p + 1;
	ret->heap = NULL;
	if (!escaped) {
		ret->s = (const char *)from;
		ret->len = (size_t)(p - from);
		return 0;
	}
	if (use_scratch && (size_t)(p - from) <= JSON_SCRATCH) {
		ret->s = r->scratch;
	} else {
		ret->heap = malloc((size_t)(p - from));
		if (ret->heap == NULL) {
			fail(r, from, "json.malformed", "out of memory");
			return -1;
		}
		ret->s = ret->heap;
	}
	ret->len = unescape(from, p, (unsigned char *)ret->s);
	return 0;
}

/* RFC 8259 §6 number grammar; an integer (no fraction, no exponent) must fit
 * json_int_t (jansson refuses a larger one rather than rounding it). */
static json_t *read_number(struct reader *r)
{
	const unsigned char *s = r->p, *p = r->p;
	bool neg = false, real = false;
	unsigned long long mag = 0;
	char stack[JSON_NUM_STACK + 1], *copy;
	json_t *v;
	double d;
	char *end = NULL;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (p == r->end || *p < '0' || *p > '9')
		return fail(r, p, "json.malformed", "invalid number");
	if (*p == '0') {
		p++;
		if (p < r->end && *p >= '0' && *p <= '9')
			return fail(r, p, "json.malformed", "leading zero");
	} else {
		while (p < r->end && *p >= '0' && *p <= '9') {
			/* Stop growing past 2^63 (out of range either way); the
			 * last step reaches at most 2^63 + 9, no wrap. */
			if (mag <= (1ull << 63) / 10)
				mag = mag * 10 + (unsigned)(*p - '0');
			else
				mag = (1ull << 63) + 1;
			p++;
		}
	}
	if (p < r->end && *p == '.') {
		real = true;
		p++;
		if (p == r->end || *p < '0' || *p > '9')
			return fail(r, p, "json.malformed", "invalid number");
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < r->end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < r->end && (*p == '+' || *p == '-'))
			p++;
		if (p == r->end || *p < '0' || *p > '9')
			return fail(r, p, "json.malformed", "invalid number");
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	}
	r->p = p;
	if (!real) {
		if (mag > (neg ? 1ull << 63 : (1ull << 63) - 1))
			return fail(r, s, "json.malformed", "integer out of range");
		/* -(mag - 1) - 1: no signed overflow at -2^63, none for -0 either. */
		v = json_integer(neg && mag > 0 ? -(json_int_t)(mag - 1) - 1 : (json_int_t)mag);
		return v != NULL ? v : fail(r, s, "json.malformed", "out of memory");
	}
	/* strtod wants a terminated copy; the grammar above was checked, so the
	 * end check only guards against a locale that reads it otherwise. */
	copy = (size_t)(p - s) <= JSON_NUM_STACK ? stack : malloc((size_t)(p - s) + 1);
	if (copy == NULL)
		return fail(r, s, "json.malformed", "out of memory");
	memcpy(copy, s, (size_t)(p - s));
	copy[p - s] = '\0';
	errno = 0;
	d = strtod(copy, &end);
	if (end != copy + (p - s) || (errno == ERANGE && isinf(d)))
		v = fail(r, s, "json.malformed", "real number overflow");
	else if ((v = json_real(d)) == NULL)
		fail(r, s, "json.malformed", "out of memory");
	if (copy != stack)
		free(copy);
	return v;
}

static json_t *read_value(struct reader *r);

static json_t *read_array(struct reader *r)
{
	json_t *a = json_array(), *v;

	if (a == NULL)
		return fail(r, r->p, "json.malformed", "out of memory");
	skip_ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return a;
	}
	for (;;) {
		if ((v = read_value(r)) == NULL)
			goto bad;
		if (json_array_append_new(a, v) != 0) {
			fail(r, r->p, "json.malformed", "out of memory");
			goto bad;
		}
		skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == ']') {
			r->p++;
			return a;
		}
		fail(r, r->p, "json.malformed", "',' or ']' expected");
		goto bad;
	}
bad:
	json_decref(a);
	return NULL;
}

static json_t *read_object(struct reader *r)
{
	json_t *o = json_object(), *v;
	struct jstr key;
	size_t before;

	if (o == NULL)
		return fail(r, r->p, "json.malformed", "out of memory");
	skip_ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return o;
	}
	for (;;) {
		const unsigned char *at = r->p;

		if (r->p == r->end || *r->p != '"') {
			fail(r, r->p, "json.malformed", "member name expected");
			goto bad;
		}
		r->p++;
		if (read_string(r, &key, false) < 0)
			goto bad;
		skip_ws(r);
		if (r->p == r->end || *r->p != ':') {
			free(key.heap);
			fail(r, r->p, "json.malformed", "':' expected");
			goto bad;
		}
		r->p++;
		v = read_value(r);
		if (v == NULL) {
			free(key.heap);
			goto bad;
		}
		/* The object replaces the value of a name it already has: a size
		 * that does not grow is a duplicate, found by the insertion's own
		 * hash lookup (RFC 7515 §5.2, RFC 7519 §4). */
		before = json_object_size(o);
		if (json_object_setn_new_nocheck(o, key.s, key.len, v) != 0) {
			free(key.heap);
			fail(r, at, "json.malformed", "out of memory");
			goto bad;
		}
		free(key.heap);
		if (json_object_size(o) == before) {
			fail(r, at, "json.duplicate_member", "duplicate member name");
			goto bad;
		}
		skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			skip_ws(r);
			continue;
		}
		if (r->p < r->end && *r->p == '}') {
			r->p++;
			return o;
		}
		fail(r, r->p, "json.malformed", "',' or '}' expected");
		goto bad;
	}
bad:
	json_decref(o);
	return NULL;
}

static json_t *read_literal(struct reader *r, const char *word, size_t n, json_t *v)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return fail(r, r->p, "json.malformed", "invalid literal");
	r->p += n;
	return v;
}

/* One value, leading whitespace skipped here, trailing left to the caller. */
static json_t *read_value(struct reader *r)
{
	json_t *v;

	skip_ws(r);
	if (r->p == r->end)
		return fail(r, r->p, "json.malformed", "value expected");
	switch (*r->p) {
	case '{':
	case '[':
		if (r->depth >= TSSO_JSON_MAX_DEPTH)
			return fail(r, r->p, "json.too_deep", "nested too deep");
		r->depth++;
		r->p++;
		v = r->p[-1] == '{' ? read_object(r) : read_array(r);
		r->depth--;
		return v;
	case '"': {
		struct jstr s;

		r->p++;
		if (read_string(r, &s, true) < 0)
			return NULL;
		v = json_stringn_nocheck(s.s, s.len);
		free(s.heap);
		return v != NULL ? v : fail(r, r->p, "json.malformed", "out of memory");
	}
	case 't':
		return read_literal(r, "true", 4, json_true());
	case 'f':
		return read_literal(r, "false", 5, json_false());
	case 'n':
		return read_literal(r, "null", 4, json_null());
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		return read_number(r);
	default:
		return fail(r, r->p, "json.malformed", "invalid token");
	}
}

json_t *tsso_json_parse(const char *text, size_t len, struct tsso_err *err)
{
	struct reader r;
	json_t *v;

	if (text == NULL) {
		tsso_err_set(err, "json.malformed", "no JSON text");
		return NULL;
	}
	if (len > TSSO_JSON_MAX_TEXT) {
		tsso_err_set(err, "json.too_large", "JSON text longer than %d bytes",
		             TSSO_JSON_MAX_TEXT);
		return NULL;
	}
	r.start = r.p = (const unsigned char *)text;
	r.depth = 0;
	r.reason = NULL;
	r.what = NULL;
	r.at = 0;
	r.end = r.p + len;
	v = read_value(&r);
	if (v != NULL) {
		/* RFC 8259 §2: one value; only whitespace may follow it. */
		skip_ws(&r);
		if (r.p != r.end) {
			json_decref(v);
			v = fail(&r, r.p, "json.malformed", "trailing bytes after the value");
		}
	}
	if (v == NULL)
		tsso_err_set(err, r.reason, "JSON %s at byte %zu", r.what, r.at);
	return v;
}
