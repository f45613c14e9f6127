/*
 * Where we let a browser go after login or logout (return_to, and the
 * post-logout target). The decision is taken on the URL parser's reading of
 * the candidate (tsso/url.h), which is the browser's reading; see
 * docs/internals/redirects.md for the rules and why no pattern is used.
 *
 * Reason codes: redirect.invalid, redirect.not_allowed, redirect.too_long,
 * redirect.scheme, redirect.userinfo, redirect.config (self_origin itself
 * does not parse as an http(s) origin), redirect.nomem.
 */
#ifndef TSSO_REDIRECT_H
#define TSSO_REDIRECT_H

#include <stddef.h>

#include "tsso/common.h"
#include "tsso/err.h"

/* Accept candidate when it is either
 *   (a) a path-absolute reference ("/reports?x=1"): exactly one leading
 *       slash as the browser sees it, resolved against self_origin, or
 *   (b) an absolute http(s) URL whose origin equals self_origin or one of
 *       allowed_origins (each parsed and serialized by the same parser;
 *       entries that do not parse never match),
 * and stays so under repeated percent-decoding (against downstream code
 * that decodes once more). Refused: empty, longer than TSSO_RETURN_TO_MAX,
 * control characters, userinfo, any other scheme or reference form.
 * On success *ret_location is the absolute URL as the parser serializes it
 * (never the raw candidate), a new string the caller frees. */
int tsso_redirect_check(const char *candidate, const char *self_origin,
                        const char *const *allowed_origins, size_t n_allowed, char **ret_location,
                        struct tsso_err *err) TSSO_WUR;

/* Parse origin (e.g. a configured allowed origin) and, when it is an
 * http(s) origin with nothing but an optional "/" path, set *ret_origin to
 * its serialization (new string, caller frees). For config checks. */
int tsso_redirect_origin_normalize(const char *origin, char **ret_origin,
                                   struct tsso_err *err) TSSO_WUR;

#endif
