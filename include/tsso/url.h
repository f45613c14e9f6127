/*
 * URLs the way browsers read them: the WHATWG URL Standard's basic URL
 * parser, restricted to the special schemes http and https. Anything a
 * browser would read differently from a naive parser (backslashes, tabs,
 * "//" authorities, IPv4 in hex, dot segments in %2e form) is resolved here
 * exactly as the standard says, so decisions taken on the result match what
 * the browser will do. Every other scheme, and every non-ASCII host (IDNA),
 * is refused rather than guessed.
 *
 * Reason codes: url.scheme (not http/https), url.no_base (relative
 * reference without a base), url.host (missing, empty or with a forbidden
 * code point), url.host_idna (non-ASCII or xn-- host), url.ipv4, url.ipv6,
 * url.port, url.utf8 (input not UTF-8), url.too_long, url.nomem.
 */
#ifndef TSSO_URL_H
#define TSSO_URL_H

#include <stdbool.h>

#include "tsso/common.h"
#include "tsso/err.h"

struct tsso_url;

/* How the input reached its result, as the state machine walked it; lets
 * callers tell "/path" (path-absolute, inherits the base authority) from
 * "//host/path" or "https:/path" without looking at the input text. */
enum tsso_url_ref {
	TSSO_URL_REF_ABSOLUTE,      /* had its own scheme and authority */
	TSSO_URL_REF_SCHEME_ONLY,   /* "https:path" resolved against a same-scheme base */
	TSSO_URL_REF_NETWORK,       /* "//host..." (or "\\host") against a base */
	TSSO_URL_REF_PATH_ABSOLUTE, /* "/path" against a base */
	TSSO_URL_REF_PATH_RELATIVE, /* "path", "?q", "#f" or "" against a base */
};

/* Parse input (NUL-terminated, at most TSSO_URL_MAX bytes, UTF-8) with the
 * WHATWG basic URL parser, resolving it against base when base is not NULL.
 * On success *ret_url is a new URL the caller frees with tsso_url_free. */
int tsso_url_parse(const char *input, const struct tsso_url *base, struct tsso_url **ret_url,
                   struct tsso_err *err) TSSO_WUR;

/* Release a URL. Accepts NULL. */
void tsso_url_free(struct tsso_url *url);

/* Serializations (WHATWG "href" and "ASCII serialization of an origin"):
 * new strings the caller frees, NULL on out-of-memory. */
char *tsso_url_href(const struct tsso_url *url);
char *tsso_url_origin(const struct tsso_url *url);

/* Borrowed components, valid while url lives. scheme is "http" or "https";
 * host is serialized (lower-case domain, dotted IPv4, "[v6]"); path starts
 * with "/"; query and fragment are NULL when absent (without "?" / "#");
 * username and password are "" when absent. All are percent-encoded as the
 * standard's serializer writes them. */
const char *tsso_url_scheme(const struct tsso_url *url);
const char *tsso_url_username(const struct tsso_url *url);
const char *tsso_url_password(const struct tsso_url *url);
const char *tsso_url_host(const struct tsso_url *url);
const char *tsso_url_path(const struct tsso_url *url);
const char *tsso_url_query(const struct tsso_url *url);
const char *tsso_url_fragment(const struct tsso_url *url);

/* The port, or -1 when absent or the scheme's default (elided). */
int tsso_url_port(const struct tsso_url *url);

/* True when the input carried an '@' in its authority, even an empty
 * userinfo ("https://@host"): redirect checks refuse those. */
bool tsso_url_had_userinfo(const struct tsso_url *url);

/* How the input was resolved (see enum tsso_url_ref). */
enum tsso_url_ref tsso_url_ref_kind(const struct tsso_url *url);

#endif
