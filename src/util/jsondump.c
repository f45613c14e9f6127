/* Compact JSON text from jansson values, without jansson's dumper (see tsso/jsondump.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tsso/jsondump.h"
#include "tsso/utf8.h"

/* 0: copied as is; 1: escaped; 2: start of a multi-byte UTF-8 sequence (checked). */
static const unsigned char str_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

static int add_escape(struct tsso_buf *b, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF"; /* as jansson writes them */
	char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

	switch (c) {
	case '"':
		return tsso_buf_add(b, "\\\"", 2);
	case '\\':
		return tsso_buf_add(b, "\\\\", 2);
	case '\n':
		return tsso_buf_add(b, "\\n", 2);
	case '\r':
		return tsso_buf_add(b, "\\r", 2);
	case '\t':
		return tsso_buf_add(b, "\\t", 2);
	case '\b':
		return tsso_buf_add(b, "\\b", 2);
	case '\f':
		return tsso_buf_add(b, "\\f", 2);
	default:
		return tsso_buf_add(b, e, sizeof(e));
	}
}

int tsso_json_str_append(struct tsso_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	if (tsso_buf_add(b, "\"", 1) < 0)
		return -1;
	while (p < end) {
		const unsigned char *run = p;

		/* Runs of plain bytes (all of a token) go in one copy. */
		while (p < end && str_class[*p] == 0)
			p++;
		while (p < end && str_class[*p] == 2) {
			size_t k = tsso_utf8_seq_len(p, (size_t)(end - p));

			if (k == 0)
				return -1;
			p += k;
			while (p < end && str_class[*p] == 0)
				p++;
		}
		if (p > run && tsso_buf_add(b, run, (size_t)(p - run)) < 0)
			return -1;
		if (p < end && str_class[*p] == 1 && add_escape(b, *p++) < 0)
			return -1;
	}
	return tsso_buf_add(b, "\"", 1);
}

int tsso_json_int_append(struct tsso_buf *b, long long v)
{
	char d[24];
	size_t i = sizeof(d);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		d[--i] = '-';
	return tsso_buf_add(b, d + i, sizeof(d) - i);
}

/* As jansson writes reals: %.17g, ".0" when it would read as an integer,
 * and an exponent without '+' or leading zeros. */
static int real_append(struct tsso_buf *b, double v)
{
	char d[40], *e;
	int n;

	if (!isfinite(v))
		return -1;
	n = snprintf(d, sizeof(d), "%.17g", v);
	if (n <= 0 || (size_t)n >= sizeof(d) - 3)
		return -1;
	if (strpbrk(d, ".e") == NULL) {
		memcpy(d + n, ".0", 3);
		n += 2;
	}
	e = strchr(d, 'e');
	if (e != NULL) {
		char *digits = e + 1, *from;

		if (*digits == '-')
			digits++;
		from = digits;
		if (*from == '+')
			from++, digits = e + 1;
		while (*from == '0' && from[1] != '\0')
			from++;
		memmove(digits, from, strlen(from) + 1);
		n = (int)strlen(d);
	}
	return tsso_buf_add(b, d, (size_t)n);
}

static int dump(struct tsso_buf *b, const json_t *v, int depth)
{
	const char *k;
	json_t *m;
	size_t i;

	if (v == NULL || depth > TSSO_JSON_DUMP_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (tsso_buf_add(b, "{", 1) < 0)
			return -1;
		i = 0;
		json_object_foreach ((json_t *)v, k, m) {
			if ((i++ > 0 && tsso_buf_add(b, ",", 1) < 0) ||
			    tsso_json_str_append(b, k, strlen(k)) < 0 ||
			    tsso_buf_add(b, ":", 1) < 0 || dump(b, m, depth + 1) < 0)
				return -1;
		}
		return tsso_buf_add(b, "}", 1);
	case JSON_ARRAY:
		if (tsso_buf_add(b, "[", 1) < 0)
			return -1;
		for (i = 0; i < json_array_size(v); i++)
			if ((i > 0 && tsso_buf_add(b, ",", 1) < 0) ||
			    dump(b, json_array_get(v, i), depth + 1) < 0)
				return -1;
		return tsso_buf_add(b, "]", 1);
	case JSON_STRING:
		return tsso_json_str_append(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return tsso_json_int_append(b, (long long)json_integer_value(v));
	case JSON_REAL:
		return real_append(b, json_real_value(v));
	case JSON_TRUE:
		return tsso_buf_add(b, "true", 4);
	case JSON_FALSE:
		return tsso_buf_add(b, "false", 5);
	case JSON_NULL:
		return tsso_buf_add(b, "null", 4);
	default:
		return -1;
	}
}

int tsso_json_dump_append(struct tsso_buf *b, const json_t *v)
{
	return dump(b, v, 0);
}
