/*
 * A strict reader for one JSON object's top-level members (RFC 8259), for
 * the texts read on every login or request: session records, token
 * responses (see tsso/jsonflat.h). A general-purpose parser spends about 100
 * instructions a byte building a tree; this one copies each string once and
 * checks nested values without building them.
 * Refused: grammar errors, leading zeros, control characters and invalid
 * UTF-8 in strings, \u0000, lone surrogates, repeated member names (at any
 * depth), nesting over 32, anything after the closing brace.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/crypto.h"
#include "tsso/json.h"
#include "tsso/jsonflat.h"
#include "tsso/utf8.h"

#define FLAT_MAX_DEPTH 32

struct flat {
	const char *p, *end;
};

static void skip_ws(struct flat *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\t' || *f->p == '\n' || *f->p == '\r'))
		f->p++;
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
			    tsso_utf8_seq_len((const unsigned char *)f->p, (size_t)(f->end - f->p));

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
		if (*f->p == 'u') {
			size_t used = 0;
			long cp = tsso_json_unicode_escape((const unsigned char *)f->p,
			                                   (const unsigned char *)f->end, &used);

			if (cp < 0)
				goto fail;
			f->p += used;
			/* A 6- or 12-character escape never decodes to more bytes. */
			o += tsso_utf8_put((unsigned char *)o, (unsigned long)cp);
		} else {
			int e = tsso_json_short_escape((unsigned char)*f->p);

			if (e < 0)
				goto fail;
			*o++ = (char)e;
			f->p++;
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

/* RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
 * and, as jansson: an integer must fit 64 bits and a real must not
 * overflow a double (else jansson refuses the text). */
static int check_number(struct flat *f)
{
	const char *start = f->p, *p = f->p, *e = f->end;
	bool neg = false, real = false;
	uint64_t v = 0;

	if (p < e && *p == '-')
		neg = true, p++;
	if (p >= e || *p < '0' || *p > '9')
		return CHECK_BAD;
	if (*p == '0')
		p++;
	else
		for (; p < e && *p >= '0' && *p <= '9'; p++) {
			unsigned d = (unsigned)(*p - '0');

			if (v > (UINT64_MAX - d) / 10)
				v = UINT64_MAX; /* saturate: refused below unless real */
			else
				v = v * 10 + d;
		}
	if (p < e && *p == '.') {
		real = true;
		if (++p >= e || *p < '0' || *p > '9')
			return CHECK_BAD;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		real = true;
		if (++p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return CHECK_BAD;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (!real && v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
		return CHECK_BAD;
	if (real) {
		char buf[64];
		double d;

		/* Long reals are not decided here (the caller falls back). */
		if ((size_t)(p - start) >= sizeof(buf))
			return CHECK_TOO_MANY;
		memcpy(buf, start, (size_t)(p - start));
		buf[p - start] = '\0';
		errno = 0;
		d = strtod(buf, NULL);
		if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
			return CHECK_BAD;
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

/* A number at f->p: INTEGER when it has no fraction or exponent and fits
 * 64 bits, else OTHER (its text checked). */
static int read_number(struct flat *f, struct tsso_jflat_value *v)
{
	const char *p = f->p;
	bool neg = false, plain = true;
	uint64_t n = 0;

	v->raw = p;
	if (check_number(f) != CHECK_OK)
		return -1; /* not a number, out of range, or not decided here */
	v->raw_len = (size_t)(f->p - p);
	if (*p == '-')
		neg = true, p++;
	for (; p < f->p; p++) {
		if (*p < '0' || *p > '9' || n > (uint64_t)(INT64_MAX / 10) - 1) {
			plain = false;
			break;
		}
		n = n * 10 + (uint64_t)(*p - '0');
	}
	v->type = plain ? TSSO_JFLAT_INTEGER : TSSO_JFLAT_OTHER;
	v->num = neg ? -(int64_t)n : (int64_t)n;
	v->checked = true;
	return 0;
}

int tsso_jflat_parse(const char *json, size_t n, tsso_jflat_member_fn member, void *arg)
{
	struct flat f = {json, json + n};
	struct tsso_jflat_value v;
	char *keys[TSSO_JFLAT_MAX_MEMBERS];
	size_t nkeys = 0, klen;
	char *key = NULL;
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
		/* Repeated names are refused (what JSON_REJECT_DUPLICATES does). */
		for (size_t i = 0; i < nkeys; i++)
			if (strcmp(keys[i], key) == 0)
				goto out;
		if (nkeys == TSSO_JFLAT_MAX_MEMBERS)
			goto out;
		skip_ws(&f);
		if (f.p >= f.end || *f.p++ != ':')
			goto out;
		skip_ws(&f);
		if (f.p >= f.end)
			goto out;
		if (*f.p == '"') {
			v.type = TSSO_JFLAT_STRING;
			if (parse_string(&f, &v.str, &v.len) < 0)
				goto out;
		} else if (*f.p == '{' || *f.p == '[' || *f.p == 't' || *f.p == 'f' ||
		           *f.p == 'n') {
			int r;

			v.type = *f.p == '{' ? TSSO_JFLAT_OBJECT : TSSO_JFLAT_OTHER;
			v.raw = f.p;
			r = check_value(&f, 1);
			if (r == CHECK_TOO_MANY && v.type == TSSO_JFLAT_OBJECT) {
				f.p = v.raw;
				r = skip_object(&f) < 0 ? CHECK_BAD : CHECK_OK;
			} else {
				v.checked = r == CHECK_OK;
			}
			if (r != CHECK_OK)
				goto out;
			v.raw_len = (size_t)(f.p - v.raw);
		} else if (read_number(&f, &v) < 0) {
			goto out;
		}
		if (member(arg, key, &v) < 0)
			goto out;
		if (v.str != NULL) {
			tsso_wipe(v.str, v.len);
			free(v.str);
			v.str = NULL;
		}
		keys[nkeys++] = key;
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
	free_keys(keys, nkeys);
	return rc;
out:
	if (v.str != NULL) {
		tsso_wipe(v.str, v.len);
		free(v.str);
	}
	free(key);
	free_keys(keys, nkeys);
	return -1;
}
