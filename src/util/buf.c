/* Growable buffers with a size limit set at creation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/buf.h"
#include "tsso/crypto.h"

void tsso_buf_init(struct tsso_buf *b, size_t max)
{
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static int buf_reserve(struct tsso_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->ptr, cap);
	if (p == NULL)
		return -1;
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int tsso_buf_reserve(struct tsso_buf *b, size_t extra)
{
	return buf_reserve(b, extra);
}

int tsso_buf_add(struct tsso_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->ptr + b->len, p, n);
	b->len += n;
	b->ptr[b->len] = '\0';
	return 0;
}

int tsso_buf_adds(struct tsso_buf *b, const char *s)
{
	return tsso_buf_add(b, s, strlen(s));
}

char *tsso_dec_ll(char d[TSSO_DEC_LL_MAX], long long v)
{
	char *p = d + TSSO_DEC_LL_MAX;
	/* Through unsigned, so that LLONG_MIN has a magnitude too. */
	unsigned long long m = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + m % 10);
		m /= 10;
	} while (m != 0);
	if (v < 0)
		*--p = '-';
	return p;
}

int tsso_buf_addll(struct tsso_buf *b, long long v)
{
	char d[TSSO_DEC_LL_MAX], *p = tsso_dec_ll(d, v);

	return tsso_buf_add(b, p, (size_t)(d + sizeof(d) - p));
}

int tsso_buf_vaddf(struct tsso_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int tsso_buf_addf(struct tsso_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tsso_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

int tsso_buf_add_json_escaped(struct tsso_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		char esc[7];
		size_t n = 0;

		switch (*p) {
		case '"':
			memcpy(esc, "\\\"", n = 2);
			break;
		case '\\':
			memcpy(esc, "\\\\", n = 2);
			break;
		case '\n':
			memcpy(esc, "\\n", n = 2);
			break;
		case '\r':
			memcpy(esc, "\\r", n = 2);
			break;
		case '\t':
			memcpy(esc, "\\t", n = 2);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == '&') {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 15];
				n = 6;
			} else {
				esc[0] = (char)*p;
				n = 1;
			}
		}
		if (tsso_buf_add(b, esc, n) < 0)
			return -1;
	}
	return 0;
}

int tsso_buf_add_html_escaped(struct tsso_buf *b, const char *s)
{
	const char *p;

	for (p = s; *p; p++) {
		const char *rep = NULL;

		switch (*p) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			break;
		}
		if (rep != NULL ? tsso_buf_adds(b, rep) < 0 : tsso_buf_add(b, p, 1) < 0)
			return -1;
	}
	return 0;
}

void tsso_buf_reset(struct tsso_buf *b)
{
	b->len = 0;
	if (b->ptr != NULL)
		b->ptr[0] = '\0';
}

char *tsso_buf_take(struct tsso_buf *b)
{
	char *p;

	if (b->ptr == NULL && buf_reserve(b, 0) < 0)
		return NULL;
	b->ptr[b->len] = '\0';
	p = b->ptr;
	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}

void tsso_buf_free(struct tsso_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

void tsso_buf_free_secure(struct tsso_buf *b)
{
	tsso_wipe(b->ptr, b->cap);
	tsso_buf_free(b);
}
