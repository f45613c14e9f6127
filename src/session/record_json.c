/*
 * A strict parser for the flat JSON object a session record is (RFC 8259
 * subset): string and integer members plus nested objects handed over as
 * raw text, checked strictly without building them. It exists because a session is read on every
 * request and a general-purpose parser spends tens of microseconds on the kilobytes of tokens a
 * record carries; this one copies each string once. Refused: other value types, fractions and
 * exponents, leading zeros, control characters and invalid UTF-8 in strings, \u0000, lone
 * surrogates, anything after the closing brace.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/session/store_impl.h"
#include "tsso/crypto.h"

#define FLAT_MAX_DEPTH 32

struct flat {
	const char *p, *end;
};

static void skip_ws(struct flat *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\t' || *f->p == '\n' || *f->p == '\r'))
		f->p++;
}

static int hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*ret = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629 §4), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned cp;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* A string at f->p (on the opening quote): a new NUL-terminated copy. */
static int parse_string(struct flat *f, char **ret, size_t *ret_len)
{
	const char *s = ++f->p, *q;
	unsigned char special = 0;
	char *out, *o;

	/* Fast path: up to the next quote, nothing but plain printable ASCII
	 * (tokens never have more): one copy. */
	q = memchr(s, '"', (size_t)(f->end - s));
	if (q == NULL)
		return -1;
	for (const char *p = s; p < q; p++) {
		unsigned char c = (unsigned char)*p;

		special |= (unsigned char)((c < 0x20) | (c >= 0x80) | (c == '\\'));
	}
	if (!special) {
		out = malloc((size_t)(q - s) + 1);
		if (out == NULL)
			return -1;
		memcpy(out, s, (size_t)(q - s));
		out[q - s] = '\0';
		*ret = out;
		*ret_len = (size_t)(q - s);
		f->p = q + 1;
		return 0;
	}
	/* Escapes or non-ASCII: find the real end; decoded text is never
	 * longer than the source. */
	while (f->p < f->end && *f->p != '"') {
		if (*f->p == '\\')
			f->p++;
		f->p++;
	}
	if (f->p >= f->end)
		return -1;
	out = malloc((size_t)(f->p - s) + 1);
	if (out == NULL)
		return -1;
	f->p = s;
	o = out;
	while (*f->p != '"') {
		unsigned char c = (unsigned char)*f->p;

		if (c < 0x20)
			goto fail;
		if (c >= 0x80) {
			size_t n =
			    utf8_len((const unsigned char *)f->p, (const unsigned char *)f->end);

			if (n == 0)
				goto fail;
			memcpy(o, f->p, n);
			o += n;
			f->p += n;
			continue;
		}
		if (c != '\\') {
			*o++ = (char)c;
			f->p++;
			continue;
		}
		f->p++;
		switch (*f->p) {
		case '"':
		case '\\':
		case '/':
			*o++ = *f->p++;
			break;
		case 'b':
			*o++ = '\b', f->p++;
			break;
		case 'f':
			*o++ = '\f', f->p++;
			break;
		case 'n':
			*o++ = '\n', f->p++;
			break;
		case 'r':
			*o++ = '\r', f->p++;
			break;
		case 't':
			*o++ = '\t', f->p++;
			break;
		case 'u': {
			unsigned cp, lo;

			if (f->end - f->p < 5 || hex4(f->p + 1, &cp) < 0 || cp == 0)
				goto fail;
			f->p += 5;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto fail;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (f->end - f->p < 6 || f->p[0] != '\\' || f->p[1] != 'u' ||
				    hex4(f->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					goto fail;
				f->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			/* A 6- or 12-character escape never decodes to more bytes. */
			o += put_utf8(o, cp);
			break;
		}
		default:
			goto fail;
		}
	}
	f->p++;
	*o = '\0';
	*ret = out;
	*ret_len = (size_t)(o - out);
	return 0;
fail:
	tsso_wipe(out, (size_t)(o - out));
	free(out);
	return -1;
}

static int parse_int(struct flat *f, int64_t *ret)
{
	bool neg = false;
	uint64_t v = 0;

	if (*f->p == '-') {
		neg = true;
		f->p++;
	}
	if (f->p >= f->end || *f->p < '0' || *f->p > '9')
		return -1;
	if (*f->p == '0' && f->p + 1 < f->end && f->p[1] >= '0' && f->p[1] <= '9')
		return -1; /* leading zero */
	while (f->p < f->end && *f->p >= '0' && *f->p <= '9') {
		if (v > (uint64_t)(INT64_MAX / 10) - 1)
			return -1;
		v = v * 10 + (uint64_t)(*f->p++ - '0');
	}
	if (f->p < f->end && (*f->p == '.' || *f->p == 'e' || *f->p == 'E'))
		return -1;
	*ret = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* Skip a nested object, strings included, without checking it: for objects
 * with more members than check_value compares (their text is then checked
 * by whoever parses it, jansson, strictly). */
static int skip_object(struct flat *f)
{
	int depth = 0;

	do {
		if (f->p >= f->end)
			return -1;
		if (*f->p == '"') {
			for (f->p++; f->p < f->end && *f->p != '"'; f->p++)
				if (*f->p == '\\')
					f->p++;
			if (f->p >= f->end)
				return -1;
		} else if (*f->p == '{' || *f->p == '[') {
			if (++depth > FLAT_MAX_DEPTH)
				return -1;
		} else if (*f->p == '}' || *f->p == ']') {
			depth--;
		}
		f->p++;
	} while (depth > 0);
	return 0;
}

/* Member names compared for repeats in one object; an object with more is
 * left to jansson (an identity has at most TSSO_MAPPING_MAX_ATTRIBUTES). */
#define CHECK_MAX_KEYS 128

enum { CHECK_BAD = 0, CHECK_OK = 1, CHECK_TOO_MANY = 2 };

/* RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int check_number(struct flat *f)
{
	const char *p = f->p, *e = f->end;

	if (p < e && *p == '-')
		p++;
	if (p >= e || *p < '0' || *p > '9')
		return CHECK_BAD;
	if (*p == '0')
		p++;
	else
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	if (p < e && *p == '.') {
		if (++p >= e || *p < '0' || *p > '9')
			return CHECK_BAD;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		if (++p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return CHECK_BAD;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	f->p = p;
	return CHECK_OK;
}

static int check_literal(struct flat *f, const char *word, size_t n)
{
	if ((size_t)(f->end - f->p) < n || memcmp(f->p, word, n) != 0)
		return CHECK_BAD;
	f->p += n;
	return CHECK_OK;
}

static void free_keys(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
}

/* The strict check of one value at f->p, without building anything:
 * what jansson with JSON_REJECT_DUPLICATES accepts, and a depth limit. */
static int check_value(struct flat *f, int depth)
{
	char *keys[CHECK_MAX_KEYS], *str = NULL;
	size_t n = 0, len;
	int r = CHECK_BAD;

	if (depth > FLAT_MAX_DEPTH || f->p >= f->end)
		return CHECK_BAD;
	switch (*f->p) {
	case '"':
		/* The decoder refuses what jansson refuses (UTF-8, \u0000, surrogates). */
		if (parse_string(f, &str, &len) < 0)
			return CHECK_BAD;
		free(str);
		return CHECK_OK;
	case 't':
		return check_literal(f, "true", 4);
	case 'f':
		return check_literal(f, "false", 5);
	case 'n':
		return check_literal(f, "null", 4);
	case '[':
		f->p++;
		skip_ws(f);
		if (f->p < f->end && *f->p == ']') {
			f->p++;
			return CHECK_OK;
		}
		for (;;) {
			skip_ws(f);
			if ((r = check_value(f, depth + 1)) != CHECK_OK)
				return r;
			skip_ws(f);
			if (f->p >= f->end)
				return CHECK_BAD;
			if (*f->p == ']') {
				f->p++;
				return CHECK_OK;
			}
			if (*f->p++ != ',')
				return CHECK_BAD;
		}
	case '{':
		f->p++;
		skip_ws(f);
		if (f->p < f->end && *f->p == '}') {
			f->p++;
			return CHECK_OK;
		}
		for (;;) {
			skip_ws(f);
			if (f->p >= f->end || *f->p != '"' || parse_string(f, &str, &len) < 0)
				goto out;
			if (strlen(str) != len) {
				free(str);
				goto out;
			}
			for (size_t i = 0; i < n; i++)
				if (strcmp(keys[i], str) == 0) {
					free(str);
					goto out; /* repeated member name */
				}
			if (n == CHECK_MAX_KEYS) {
				free(str);
				r = CHECK_TOO_MANY;
				goto out;
			}
			keys[n++] = str;
			skip_ws(f);
			if (f->p >= f->end || *f->p++ != ':')
				goto out;
			skip_ws(f);
			if ((r = check_value(f, depth + 1)) != CHECK_OK)
				goto out;
			r = CHECK_BAD;
			skip_ws(f);
			if (f->p >= f->end)
				goto out;
			if (*f->p == '}') {
				f->p++;
				r = CHECK_OK;
				goto out;
			}
			if (*f->p++ != ',')
				goto out;
		}
	default:
		return check_number(f);
	}
out:
	free_keys(keys, n);
	return r;
}

int store_json_flat_parse(const char *json, size_t n, store_flat_member_fn member, void *arg)
{
	struct flat f = {json, json + n};
	struct store_flat_value v;
	char *key = NULL;
	size_t klen;
	int rc = -1;

	skip_ws(&f);
	if (f.p >= f.end || *f.p++ != '{')
		return -1;
	skip_ws(&f);
	if (f.p < f.end && *f.p == '}') {
		f.p++;
		goto tail;
	}
	for (;;) {
		memset(&v, 0, sizeof(v));
		skip_ws(&f);
		if (f.p >= f.end || *f.p != '"' || parse_string(&f, &key, &klen) < 0 ||
		    strlen(key) != klen)
			goto out;
		skip_ws(&f);
		if (f.p >= f.end || *f.p++ != ':')
			goto out;
		skip_ws(&f);
		if (f.p >= f.end)
			goto out;
		if (*f.p == '"') {
			v.type = STORE_FLAT_STRING;
			if (parse_string(&f, &v.str, &v.len) < 0)
				goto out;
		} else if (*f.p == '{') {
			int r;

			v.type = STORE_FLAT_OBJECT;
			v.raw = f.p;
			r = check_value(&f, 1);
			if (r == CHECK_TOO_MANY) {
				f.p = v.raw;
				r = skip_object(&f) < 0 ? CHECK_BAD : CHECK_OK;
			} else {
				v.checked = r == CHECK_OK;
			}
			if (r != CHECK_OK)
				goto out;
			v.raw_len = (size_t)(f.p - v.raw);
		} else {
			v.type = STORE_FLAT_INTEGER;
			if (parse_int(&f, &v.num) < 0)
				goto out;
		}
		if (member(arg, key, &v) < 0)
			goto out;
		if (v.str != NULL) {
			tsso_wipe(v.str, v.len);
			free(v.str);
			v.str = NULL;
		}
		free(key);
		key = NULL;
		skip_ws(&f);
		if (f.p >= f.end)
			goto out;
		if (*f.p == '}') {
			f.p++;
			break;
		}
		if (*f.p++ != ',')
			goto out;
	}
tail:
	skip_ws(&f);
	rc = f.p == f.end ? 0 : -1;
	return rc;
out:
	if (v.str != NULL) {
		tsso_wipe(v.str, v.len);
		free(v.str);
	}
	free(key);
	return -1;
}
