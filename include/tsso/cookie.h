/*
 * Cookies, both ways: the Cookie request header read into a bounded list
 * (RFC 6265 §5.4 cookie-string; anything malformed or over a limit is
 * dropped, never an error page), and Set-Cookie values built with the
 * attributes and prefix rules this daemon relies on (RFC 6265 §4.1,
 * RFC 6265bis §4.1.3 cookie prefixes and §5.4.7 SameSite).
 *
 * Reason codes: cookie.name, cookie.value, cookie.path, cookie.domain,
 * cookie.max_age, cookie.samesite, cookie.prefix, cookie.too_long,
 * cookie.nomem.
 */
#ifndef TSSO_COOKIE_H
#define TSSO_COOKIE_H

#include <stdbool.h>

#include "tsso/common.h"
#include "tsso/err.h"
#include "tsso/http.h"

/* Max-Age value meaning "no Max-Age": a session cookie. */
#define TSSO_COOKIE_SESSION (-1L)
/* RFC 6265bis §5.6.2: user agents cap Max-Age at 400 days; we refuse more. */
#define TSSO_COOKIE_MAX_AGE_MAX (400L * 24 * 3600)

enum tsso_cookie_samesite {
	TSSO_SAMESITE_LAX = 0, /* the default: sent on top-level navigations */
	TSSO_SAMESITE_STRICT,
	TSSO_SAMESITE_NONE, /* needs secure (RFC 6265bis §5.6.7) */
};

struct tsso_cookie_opts {
	const char *name;   /* RFC 6265 token; "__Host-" / "__Secure-" prefixes enforced */
	const char *value;  /* cookie-octets only (RFC 6265 §4.1.1); may be "" */
	const char *path;   /* NULL: no Path; else starts with '/', no ';' or CTL */
	const char *domain; /* NULL (host-only, recommended); else an LDH host name */
	long max_age;       /* seconds, 0..TSSO_COOKIE_MAX_AGE_MAX, or TSSO_COOKIE_SESSION */
	bool remove;        /* build a deletion: empty value, Max-Age=0 */
	bool secure;
	bool http_only;
	enum tsso_cookie_samesite same_site;
};

/* Append the valid pairs of one Cookie header value to list (initialise it
 * zeroed; call again for each Cookie header). Pairs are split at ';',
 * trimmed of SP/HTAB, split at the first '='. Dropped silently: names that
 * are not tokens, values that are not cookie-octets (an enclosing DQUOTE
 * pair is removed), values over TSSO_HTTP_MAX_COOKIE_VALUE, pairs past
 * TSSO_HTTP_MAX_COOKIES in the list. Duplicates are kept in order (see
 * tsso_kvlist_count). -1 (cookie.nomem, list unchanged) only on
 * out-of-memory. Free with tsso_kvlist_free. */
int tsso_cookie_parse(const char *header, struct tsso_kvlist *list, struct tsso_err *err) TSSO_WUR;

/* Check o against the rules above, with a reason code on refusal. */
int tsso_cookie_opts_check(const struct tsso_cookie_opts *o, struct tsso_err *err) TSSO_WUR;

/* The Set-Cookie header value for o ("name=value; Path=/; Max-Age=300;
 * Secure; HttpOnly; SameSite=Lax"): a new string the caller frees, or NULL
 * when tsso_cookie_opts_check refuses o or memory runs out. */
char *tsso_cookie_build(const struct tsso_cookie_opts *o);

#endif
