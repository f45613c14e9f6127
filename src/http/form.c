/* Strict application/x-www-form-urlencoded parsing, key/value lists, query encoding. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/crypto.h"
#include "tsso/form.h"
#include "tsso/limits.h"
#include "tsso/utf8.h"

/* Decode s[0..n): '+' is space (URL Standard §5.1), %XX strictly. New
 * NUL-terminated string in *ret. */
static int decode(const char *s, size_t n, char **ret, struct tsso_err *err)
{
	char *out = malloc(n + 1);
	size_t k = 0;

	if (out == NULL)
		return tsso_err_set(err, "form.nomem", "out of memory");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= n) {
				free(out);
				return tsso_err_set(err, "form.bad_escape", "truncated %%-escape");
			}
			if (tsso_hex_value((unsigned char)s[i + 1]) < 0 ||
			    tsso_hex_value((unsigned char)s[i + 2]) < 0) {
				free(out);
				return tsso_err_set(err, "form.bad_escape",
				                    "%%-escape is not two hex digits");
			}
			c = (unsigned char)(tsso_hex_value((unsigned char)s[i + 1]) * 16 +
			                    tsso_hex_value((unsigned char)s[i + 2]));
			i += 2;
		}
		if (c == '\0') {
			free(out);
			return tsso_err_set(err, "form.nul", "NUL byte in a parameter");
		}
		out[k++] = (char)c;
	}
	out[k] = '\0';
	if (!tsso_utf8_valid(out, k)) {
		free(out);
		return tsso_err_set(err, "form.utf8", "parameter is not valid UTF-8");
	}
	*ret = out;
	return 0;
}

int tsso_form_parse(const char *s, size_t len, struct tsso_kvlist *ret, struct tsso_err *err)
{
	struct tsso_kvlist l = {0};
	size_t start = 0;
	int r = -1;

	if (s == NULL)
		s = "", len = 0;
	if (len > TSSO_HTTP_MAX_BODY) {
		tsso_err_set(err, "form.too_large", "more than %d bytes", TSSO_HTTP_MAX_BODY);
		goto out;
	}
	if (len > 0 && memchr(s, '\0', len) != NULL) {
		tsso_err_set(err, "form.nul", "NUL byte in the form");
		goto out;
	}
	l.v = calloc(TSSO_HTTP_MAX_PARAMS, sizeof(*l.v));
	if (l.v == NULL) {
		tsso_err_set(err, "form.nomem", "out of memory");
		goto out;
	}
	for (size_t i = 0; i <= len; i++) {
		const char *seq = s + start, *eq;
		size_t n = i - start;

		if (i < len && s[i] != '&')
			continue;
		start = i + 1;
		if (n == 0)
			continue;
		if (l.n == TSSO_HTTP_MAX_PARAMS) {
			tsso_err_set(err, "form.too_many", "more than %d parameters",
			             TSSO_HTTP_MAX_PARAMS);
			goto out;
		}
		eq = memchr(seq, '=', n);
		if (decode(seq, eq != NULL ? (size_t)(eq - seq) : n, &l.v[l.n].key, err) < 0)
			goto out;
		if (decode(eq != NULL ? eq + 1 : "", eq != NULL ? n - (size_t)(eq - seq) - 1 : 0,
		           &l.v[l.n].value, err) < 0) {
			free(l.v[l.n].key);
			l.v[l.n].key = NULL;
			goto out;
		}
		l.n++;
	}
	*ret = l;
	l.v = NULL;
	l.n = 0;
	r = 0;
out:
	tsso_kvlist_free(&l);
	return r;
}

void tsso_kvlist_free(struct tsso_kvlist *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; l->v != NULL && i < l->n; i++) {
		free(l->v[i].key);
		tsso_free_secret(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

const char *tsso_kvlist_get(const struct tsso_kvlist *l, const char *key)
{
	for (size_t i = 0; l != NULL && i < l->n; i++)
		if (strcmp(l->v[i].key, key) == 0)
			return l->v[i].value;
	return NULL;
}

size_t tsso_kvlist_count(const struct tsso_kvlist *l, const char *key)
{
	size_t c = 0;

	for (size_t i = 0; l != NULL && i < l->n; i++)
		if (strcmp(l->v[i].key, key) == 0)
			c++;
	return c;
}

const char *tsso_kvlist_first_dup(const struct tsso_kvlist *l)
{
	/* Lists are bounded (TSSO_HTTP_MAX_PARAMS, TSSO_HTTP_MAX_COOKIES): the
	 * quadratic scan is cheap. */
	for (size_t i = 0; l != NULL && i < l->n; i++)
		for (size_t j = i + 1; j < l->n; j++)
			if (strcmp(l->v[i].key, l->v[j].key) == 0)
				return l->v[i].key;
	return NULL;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Runs of unreserved bytes are appended whole, the rest as %XX: a buffer
 * call per byte cost ~40 instructions a byte on every authorization URL and
 * token request body (docs/performance.md). */
static int encode(struct tsso_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		const unsigned char *run = p;

		while (*p != '\0' && unreserved(*p))
			p++;
		if (p > run && tsso_buf_add(b, run, (size_t)(p - run)) < 0)
			return -1;
		if (*p != '\0') {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			if (tsso_buf_add(b, e, 3) < 0)
				return -1;
			p++;
		}
	}
	return 0;
}

int tsso_form_encode_append(struct tsso_buf *b, const char *key, const char *value)
{
	if (b->len > 0 && b->ptr[b->len - 1] != '?' && b->ptr[b->len - 1] != '&' &&
	    tsso_buf_adds(b, "&") < 0)
		return -1;
	if (encode(b, key) < 0 || tsso_buf_adds(b, "=") < 0 || encode(b, value) < 0)
		return -1;
	return 0;
}
