/* Cookie header parsing (RFC 6265 §5.4) and Set-Cookie building (RFC 6265 §4.1, 6265bis prefixes).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tsso/buf.h"
#include "tsso/cookie.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"
#include "tsso/word.h"

#define COOKIE_NAME_MAX   256 /* longest cookie name we read or write */
#define COOKIE_DOMAIN_MAX 253 /* RFC 1035 §2.3.4 */
/* "; Max-Age=34560000; Secure; HttpOnly; SameSite=Strict" */
#define ATTR_MAX 64

/* RFC 9110 §5.6.2 tchar (RFC 6265 cookie-name = token). */
static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 6265 §4.1.1 cookie-octet: US-ASCII minus CTLs, whitespace, DQUOTE,
 * comma, semicolon and backslash (0x21, 0x23-0x2b, 0x2d-0x3a, 0x3c-0x5b,
 * 0x5d-0x7e). A table: session cookies are kilobytes read on every request. */
static const unsigned char cookie_octet[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
};

static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || n > COOKIE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return false;
	return true;
}

/* Sixteen (SSE2), then eight bytes at a time while every one is a
 * cookie-octet: none at or below 0x20 or at or above 0x7f, none of '"' ','
 * ';' '\\'; the table decides the rest. */
static bool valid_value(const char *s, size_t n)
{
	size_t i = 0;

#ifdef TSSO_VEC_LEN
	for (; i + TSSO_VEC_LEN <= n; i += TSSO_VEC_LEN) {
		tsso_vec x = tsso_vec_load(s + i);

		if (tsso_vec_any(tsso_vec_or(
		        tsso_vec_or(tsso_vec_or(tsso_vec_below(x, 0x21), tsso_vec_above(x, 0x7e)),
		                    tsso_vec_or(tsso_vec_eq(x, '"'), tsso_vec_eq(x, ','))),
		        tsso_vec_or(tsso_vec_eq(x, ';'), tsso_vec_eq(x, '\\')))))
			break;
	}
#endif
	for (; i + 8 <= n; i += 8) {
		uint64_t x = tsso_word_load(s + i);

		if (((x | tsso_word_below(x, 0x21) | tsso_word_eq(x, 0x7f) | tsso_word_eq(x, '"') |
		      tsso_word_eq(x, ',') | tsso_word_eq(x, ';') | tsso_word_eq(x, '\\')) &
		     TSSO_WORD_HIGHS) != 0)
			break;
	}
	for (; i < n; i++)
		if (!cookie_octet[(unsigned char)s[i]])
			return false;
	return true;
}

static bool ows(char c)
{
	return c == ' ' || c == '\t';
}

int tsso_cookie_parse(const char *header, struct tsso_kvlist *list, struct tsso_err *err)
{
	const char *p = header;
	size_t n0 = list->n;
	struct tsso_kv *v;

	if (list->v == NULL) {
		/* Room for the whole bounded list at once: no growth later. */
		list->v = calloc(TSSO_HTTP_MAX_COOKIES, sizeof(*list->v));
		if (list->v == NULL)
			return tsso_err_set(err, "cookie.nomem", "out of memory");
		list->n = n0 = 0;
	}
	v = list->v;
	while (p != NULL && *p != '\0' && list->n < TSSO_HTTP_MAX_COOKIES) {
		const char *end = strchr(p, ';'), *eq, *name, *val;
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p), nlen, vlen;

		name = p;
		p = end != NULL ? end + 1 : NULL;
		eq = memchr(name, '=', len);
		/* RFC 6265 §5.4 cookie-pair needs '='; a bare word is dropped. */
		if (eq == NULL)
			continue;
		val = eq + 1;
		vlen = len - (size_t)(val - name);
		nlen = (size_t)(eq - name);
		while (nlen > 0 && ows(*name))
			name++, nlen--;
		while (nlen > 0 && ows(name[nlen - 1]))
			nlen--;
		while (vlen > 0 && ows(*val))
			val++, vlen--;
		while (vlen > 0 && ows(val[vlen - 1]))
			vlen--;
		/* cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE ) */
		if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"')
			val++, vlen -= 2;
		if (!valid_name(name, nlen) || !valid_value(val, vlen) ||
		    vlen > TSSO_HTTP_MAX_COOKIE_VALUE)
			continue;
		v[list->n].key = strndup(name, nlen);
		v[list->n].value = strndup(val, vlen);
		if (v[list->n].key == NULL || v[list->n].value == NULL) {
			free(v[list->n].key);
			free(v[list->n].value);
			v[list->n].key = v[list->n].value = NULL;
			goto nomem;
		}
		list->n++;
	}
	return 0;
nomem:
	/* Leave the list as it was before this header. */
	while (list->n > n0) {
		list->n--;
		free(v[list->n].key);
		tsso_free_secret(v[list->n].value);
		v[list->n].key = v[list->n].value = NULL;
	}
	return tsso_err_set(err, "cookie.nomem", "out of memory");
}

/* RFC 6265 §4.1.1 path-value: <any CHAR except CTLs or ";">; we also want
 * an absolute path so the browser's default-path rule never applies. */
static bool valid_path(const char *s)
{
	if (s[0] != '/')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == ';')
			return false;
	return true;
}

/* RFC 6265 §4.1.2.3 / RFC 1034 §3.5 LDH labels, dot separated. */
static bool valid_domain(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > COOKIE_DOMAIN_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && label > 0)))
			return false;
		if (++label > 63)
			return false;
	}
	return s[n - 1] != '-';
}

int tsso_cookie_opts_check(const struct tsso_cookie_opts *o, struct tsso_err *err)
{
	if (o->name == NULL || !valid_name(o->name, strlen(o->name)))
		return tsso_err_set(err, "cookie.name", "cookie name is not an RFC 6265 token");
	if (!o->remove && (o->value == NULL || !valid_value(o->value, strlen(o->value))))
		return tsso_err_set(err, "cookie.value", "cookie value has non cookie-octets");
	if (!o->remove && strlen(o->value) > TSSO_HTTP_MAX_COOKIE_VALUE)
		return tsso_err_set(err, "cookie.too_long", "cookie value too long");
	/* The attributes after the value take at most ATTR_MAX bytes; a
	 * Set-Cookie value over TSSO_SESSION_COOKIE_MAX would be cut by some
	 * browsers (RFC 6265 §6.1 asks for 4096 bytes per cookie). */
	if (strlen(o->name) + 1 + (o->remove ? 0 : strlen(o->value)) +
	        (o->path != NULL ? strlen(o->path) + 7 : 0) +
	        (o->domain != NULL ? strlen(o->domain) + 9 : 0) + ATTR_MAX >
	    TSSO_SESSION_COOKIE_MAX)
		return tsso_err_set(err, "cookie.too_long", "Set-Cookie value too long");
	if (o->path != NULL && !valid_path(o->path))
		return tsso_err_set(err, "cookie.path", "Path must be an absolute path");
	if (o->domain != NULL && !valid_domain(o->domain))
		return tsso_err_set(err, "cookie.domain", "Domain is not a host name");
	if (!o->remove && o->max_age != TSSO_COOKIE_SESSION &&
	    (o->max_age < 0 || o->max_age > TSSO_COOKIE_MAX_AGE_MAX))
		return tsso_err_set(err, "cookie.max_age", "Max-Age out of range");
	if (o->same_site != TSSO_SAMESITE_LAX && o->same_site != TSSO_SAMESITE_STRICT &&
	    o->same_site != TSSO_SAMESITE_NONE)
		return tsso_err_set(err, "cookie.samesite", "unknown SameSite value");
	/* RFC 6265bis §5.6.7: browsers reject SameSite=None without Secure. */
	if (o->same_site == TSSO_SAMESITE_NONE && !o->secure)
		return tsso_err_set(err, "cookie.samesite", "SameSite=None requires Secure");
	/* RFC 6265bis §4.1.3: prefixes (matched case-insensitively, §5.7). */
	if (strncasecmp(o->name, "__Secure-", 9) == 0 && !o->secure)
		return tsso_err_set(err, "cookie.prefix", "__Secure- cookies must be Secure");
	if (strncasecmp(o->name, "__Host-", 7) == 0 &&
	    (!o->secure || o->domain != NULL || o->path == NULL || strcmp(o->path, "/") != 0))
		return tsso_err_set(err, "cookie.prefix",
		                    "__Host- cookies must be Secure, Path=/ and without Domain");
	return 0;
}

char *tsso_cookie_build(const struct tsso_cookie_opts *o)
{
	static const char *const samesite[] = {"Lax", "Strict", "None"};
	struct tsso_buf b;
	int r = 0;

	if (tsso_cookie_opts_check(o, NULL) < 0)
		return NULL;
	tsso_buf_init(&b, TSSO_SESSION_COOKIE_MAX);
	/* Plain appends: a sealed session value is kilobytes, and vsnprintf
	 * walks it twice (measure, then write). */
	r |= tsso_buf_adds(&b, o->name);
	r |= tsso_buf_adds(&b, "=");
	if (!o->remove)
		r |= tsso_buf_adds(&b, o->value);
	if (o->path != NULL) {
		r |= tsso_buf_adds(&b, "; Path=");
		r |= tsso_buf_adds(&b, o->path);
	}
	if (o->domain != NULL) {
		r |= tsso_buf_adds(&b, "; Domain=");
		r |= tsso_buf_adds(&b, o->domain);
	}
	/* RFC 6265 §5.2.2: Max-Age=0 makes the cookie expire at once. */
	if (o->remove) {
		r |= tsso_buf_adds(&b, "; Max-Age=0");
	} else if (o->max_age != TSSO_COOKIE_SESSION) {
		r |= tsso_buf_adds(&b, "; Max-Age=");
		r |= tsso_buf_addll(&b, o->max_age);
	}
	if (o->secure)
		r |= tsso_buf_adds(&b, "; Secure");
	if (o->http_only)
		r |= tsso_buf_adds(&b, "; HttpOnly");
	r |= tsso_buf_adds(&b, "; SameSite=");
	r |= tsso_buf_adds(&b, samesite[o->same_site]);
	if (r != 0) {
		/* Over TSSO_SESSION_COOKIE_MAX or out of memory. */
		tsso_buf_free_secure(&b);
		return NULL;
	}
	return tsso_buf_take(&b);
}
