/* Open-redirect defence: return_to targets judged by the browser-semantics URL parser. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tsso/limits.h"
#include "tsso/redirect.h"
#include "tsso/url.h"
#include "tsso/utf8.h"

/* How many extra percent-decoding levels a candidate must survive. Code
 * behind us (a proxy, a framework normalising paths) may decode once more
 * and issue its own redirect; past this depth the candidate is refused. */
#define REDIRECT_DECODE_ROUNDS 4

static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* One level of percent-decoding, as a careless consumer would do it:
 * "%XX" becomes the byte, a malformed escape stays. Bytes that do not form
 * UTF-8 become U+FFFD, which is what a browser reading the result makes of
 * them. New string or NULL. */
static char *decode_once(const char *s)
{
	size_t n = strlen(s), k = 0;
	unsigned char *raw = malloc(n + 1);
	char *out = NULL;

	if (raw == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && tsso_hex_value((unsigned char)s[i + 1]) >= 0 &&
		    tsso_hex_value((unsigned char)s[i + 2]) >= 0) {
			raw[k++] = (unsigned char)(tsso_hex_value((unsigned char)s[i + 1]) * 16 +
			                           tsso_hex_value((unsigned char)s[i + 2]));
			i += 2;
		} else {
			raw[k++] = (unsigned char)s[i];
		}
	}
	raw[k] = '\0';
	out = malloc(3 * k + 1);
	if (out != NULL) {
		size_t o = 0;

		for (size_t i = 0; i < k;) {
			size_t len = tsso_utf8_seq_len(raw + i, k - i);

			if (raw[i] == 0) {
				/* Keep a decoded NUL visible (as another control
				 * character) so that the caller refuses it. */
				out[o++] = '\x01';
				i++;
			} else if (len == 0) {
				memcpy(out + o, "\xef\xbf\xbd", 3);
				o += 3;
				i++;
			} else {
				memcpy(out + o, raw + i, len);
				o += len;
				i += len;
			}
		}
		out[o] = '\0';
	}
	free(raw);
	return out;
}

/* Would a server that honours RFC 2396 §3.3 path parameters (";x" cut
 * from each segment, as Java servlet containers do) and then removes dot
 * segments see a path starting with "//"? Such a server re-issuing the path
 * as a relative redirect would send the browser to another host. */
static bool path_params_read_network(const char *path)
{
	size_t depth = 0, first_len = 0;
	const char *p = path;
	bool network = false;

	while (*p == '/') {
		const char *seg = p + 1, *end = strchr(seg, '/'), *semi;
		size_t len = end != NULL ? (size_t)(end - seg) : strlen(seg);

		semi = memchr(seg, ';', len);
		if (semi != NULL)
			len = (size_t)(semi - seg);
		if ((len == 1 && seg[0] == '.') || (len == 3 && strncasecmp(seg, "%2e", 3) == 0)) {
			/* "." stays where it is */
		} else if ((len == 2 && strncmp(seg, "..", 2) == 0) ||
		           (len == 4 && (strncasecmp(seg, ".%2e", 4) == 0 ||
		                         strncasecmp(seg, "%2e.", 4) == 0)) ||
		           (len == 6 && strncasecmp(seg, "%2e%2e", 6) == 0)) {
			if (depth > 0)
				depth--;
		} else {
			if (depth == 0)
				first_len = len;
			depth++;
			/* An empty first segment with more after it: "//x". */
			if (depth >= 2 && first_len == 0)
				network = true;
		}
		if (end == NULL)
			break;
		p = end;
	}
	return network;
}

static int map_parse_error(struct tsso_err *err, const struct tsso_err *perr)
{
	if (strcmp(tsso_err_reason(perr), "url.scheme") == 0)
		return tsso_err_set(err, "redirect.scheme", "only http and https targets");
	if (strcmp(tsso_err_reason(perr), "url.nomem") == 0)
		return tsso_err_set(err, "redirect.nomem", "out of memory");
	return tsso_err_set(err, "redirect.invalid", "target is not a valid URL (%s)",
	                    tsso_err_reason(perr));
}

static bool origin_allowed(const char *origin, const char *self, const char *const *allowed,
                           size_t n_allowed)
{
	if (strcmp(origin, self) == 0)
		return true;
	for (size_t i = 0; i < n_allowed; i++) {
		char *norm = NULL;
		bool eq;

		if (allowed[i] == NULL ||
		    tsso_redirect_origin_normalize(allowed[i], &norm, NULL) < 0)
			continue;
		eq = strcmp(origin, norm) == 0;
		free(norm);
		if (eq)
			return true;
	}
	return false;
}

/* Judge one reading of the candidate. *ret_url (may be NULL) receives the
 * parsed absolute target on success. */
static int judge(const char *cand, const struct tsso_url *self_url, const char *self,
                 const char *const *allowed, size_t n_allowed, struct tsso_url **ret_url,
                 struct tsso_err *err)
{
	struct tsso_url *abs = NULL, *rel = NULL;
	struct tsso_err perr = {0};
	char *origin = NULL, *h1 = NULL, *h2 = NULL;
	int r = -1;

	if (tsso_url_parse(cand, NULL, &abs, &perr) == 0) {
		/* Absolute. The browser resolves it against our page, so the
		 * reading without a base must be the reading with ours
		 * ("https:/evil" is ours, "https://evil" without one). */
		if (tsso_url_parse(cand, self_url, &rel, &perr) < 0) {
			map_parse_error(err, &perr);
			goto out;
		}
		h1 = tsso_url_href(abs);
		h2 = tsso_url_href(rel);
		origin = tsso_url_origin(abs);
		if (h1 == NULL || h2 == NULL || origin == NULL) {
			tsso_err_set(err, "redirect.nomem", "out of memory");
			goto out;
		}
		if (strcmp(h1, h2) != 0) {
			tsso_err_set(err, "redirect.invalid",
			             "target reads differently in context");
			goto out;
		}
		/* Credentials in a URL are a classic disguise ("ours@evil"). */
		if (tsso_url_had_userinfo(abs)) {
			tsso_err_set(err, "redirect.userinfo", "target carries userinfo");
			goto out;
		}
		if (!origin_allowed(origin, self, allowed, n_allowed)) {
			tsso_err_set(err, "redirect.not_allowed", "target origin is not allowed");
			goto out;
		}
	} else if (strcmp(tsso_err_reason(&perr), "url.no_base") == 0) {
		tsso_err_clear(&perr);
		if (tsso_url_parse(cand, self_url, &rel, &perr) < 0) {
			map_parse_error(err, &perr);
			goto out;
		}
		/* Only "/path": "//host", "/\host", "path", "?q" are refused. */
		if (tsso_url_ref_kind(rel) != TSSO_URL_REF_PATH_ABSOLUTE) {
			tsso_err_set(err, "redirect.invalid",
			             "relative target must start with one '/'");
			goto out;
		}
		origin = tsso_url_origin(rel);
		if (origin == NULL) {
			tsso_err_set(err, "redirect.nomem", "out of memory");
			goto out;
		}
		if (strcmp(origin, self) != 0 || tsso_url_had_userinfo(rel)) {
			tsso_err_set(err, "redirect.not_allowed", "target leaves our origin");
			goto out;
		}
	} else {
		map_parse_error(err, &perr);
		goto out;
	}
	/* A path whose first segment is empty ("https://us//evil") is safe in
	 * an absolute Location, but any consumer that later reuses the path as
	 * a relative reference turns it into "//evil": refuse it outright. */
	if (strncmp(tsso_url_path(abs != NULL ? abs : rel), "//", 2) == 0 ||
	    path_params_read_network(tsso_url_path(abs != NULL ? abs : rel))) {
		tsso_err_set(err, "redirect.invalid", "target path starts with an empty segment");
		goto out;
	}
	if (ret_url != NULL) {
		*ret_url = abs != NULL ? abs : rel;
		if (abs != NULL)
			abs = NULL;
		else
			rel = NULL;
	}
	r = 0;
out:
	tsso_url_free(abs);
	tsso_url_free(rel);
	free(origin);
	free(h1);
	free(h2);
	return r;
}

int tsso_redirect_origin_normalize(const char *origin, char **ret_origin, struct tsso_err *err)
{
	struct tsso_url *u = NULL;
	char *o;
	int r = -1;

	if (origin == NULL || tsso_url_parse(origin, NULL, &u, NULL) < 0) {
		tsso_err_set(err, "redirect.config", "not an http(s) origin");
		goto out;
	}
	if (tsso_url_had_userinfo(u) || strcmp(tsso_url_path(u), "/") != 0 ||
	    tsso_url_query(u) != NULL || tsso_url_fragment(u) != NULL) {
		tsso_err_set(err, "redirect.config", "an origin has no userinfo, path or query");
		goto out;
	}
	if ((o = tsso_url_origin(u)) == NULL) {
		tsso_err_set(err, "redirect.nomem", "out of memory");
		goto out;
	}
	*ret_origin = o;
	r = 0;
out:
	tsso_url_free(u);
	return r;
}

/*
 * Our own origin, normalised and parsed: the same few strings on every
 * login, so each thread keeps the last one it made (two URL parses, about
 * 15 k instructions a login). Freed when the thread ends.
 */
struct self_memo {
	char *origin; /* as given */
	char *self;   /* tsso_redirect_origin_normalize of it */
	struct tsso_url *url;
};

static pthread_key_t self_key;
static bool self_key_ok;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_memo_clear(struct self_memo *m)
{
	free(m->origin);
	free(m->self);
	tsso_url_free(m->url);
	m->origin = m->self = NULL;
	m->url = NULL;
}

static void self_memo_free(void *p)
{
	self_memo_clear(p);
	free(p);
}

static void self_key_init(void)
{
	self_key_ok = pthread_key_create(&self_key, self_memo_free) == 0;
}

/* self_origin normalised into *ret_self and parsed into *ret_url, both
 * owned by the thread's memo (valid until its next call); -1 when it does
 * not parse. Without a memo (out of memory), made for the caller: *owned
 * is then true and the caller frees both. */
static int self_get(const char *self_origin, char **ret_self, struct tsso_url **ret_url,
                    bool *owned, struct tsso_err *err)
{
	struct self_memo *m = NULL;

	*owned = false;
	(void)pthread_once(&self_once, self_key_init);
	if (self_key_ok && (m = pthread_getspecific(self_key)) == NULL &&
	    (m = calloc(1, sizeof(*m))) != NULL && pthread_setspecific(self_key, m) != 0) {
		free(m);
		m = NULL;
	}
	if (m != NULL && m->origin != NULL && self_origin != NULL &&
	    strcmp(m->origin, self_origin) == 0) {
		*ret_self = m->self;
		*ret_url = m->url;
		return 0;
	}
	*ret_self = NULL;
	*ret_url = NULL;
	if (tsso_redirect_origin_normalize(self_origin, ret_self, err) < 0 ||
	    tsso_url_parse(*ret_self, NULL, ret_url, err) < 0) {
		free(*ret_self);
		return -1;
	}
	if (m != NULL) {
		self_memo_clear(m);
		m->origin = strdup(self_origin);
		if (m->origin != NULL) {
			m->self = *ret_self;
			m->url = *ret_url;
			return 0;
		}
	}
	*owned = true;
	return 0;
}

int tsso_redirect_check(const char *candidate, const char *self_origin,
                        const char *const *allowed_origins, size_t n_allowed, char **ret_location,
                        struct tsso_err *err)
{
	struct tsso_url *self_url = NULL, *target = NULL;
	char *self = NULL, *cur = NULL, *loc = NULL;
	bool own_self = false;
	int r = -1, round;

	if (candidate == NULL || candidate[0] == '\0') {
		tsso_err_set(err, "redirect.invalid", "empty target");
		goto out;
	}
	if (strnlen(candidate, TSSO_RETURN_TO_MAX + 1) > TSSO_RETURN_TO_MAX) {
		tsso_err_set(err, "redirect.too_long", "target longer than %d bytes",
		             TSSO_RETURN_TO_MAX);
		goto out;
	}
	/* Browsers silently drop tab/CR/LF ("/\t/evil" is "//evil"); we refuse
	 * rather than rely on agreeing about which ones. */
	if (has_control(candidate)) {
		tsso_err_set(err, "redirect.invalid", "control character in target");
		goto out;
	}
	if (self_get(self_origin, &self, &self_url, &own_self, err) < 0) {
		tsso_err_set(err, "redirect.config", "our own origin does not parse");
		goto out;
	}
	if (judge(candidate, self_url, self, allowed_origins, n_allowed, &target, err) < 0)
		goto out;
	if ((cur = strdup(candidate)) == NULL) {
		tsso_err_set(err, "redirect.nomem", "out of memory");
		goto out;
	}
	for (round = 0; round < REDIRECT_DECODE_ROUNDS; round++) {
		char *dec = decode_once(cur);

		if (dec == NULL) {
			tsso_err_set(err, "redirect.nomem", "out of memory");
			goto out;
		}
		if (strcmp(dec, cur) == 0) {
			free(dec);
			break;
		}
		free(cur);
		cur = dec;
		if (has_control(cur)) {
			tsso_err_set(err, "redirect.invalid",
			             "encoded control character in target");
			goto out;
		}
		if (judge(cur, self_url, self, allowed_origins, n_allowed, NULL, err) < 0)
			goto out;
	}
	if (round == REDIRECT_DECODE_ROUNDS) {
		tsso_err_set(err, "redirect.invalid", "target is percent-encoded too many times");
		goto out;
	}
	if ((loc = tsso_url_href(target)) == NULL) {
		tsso_err_set(err, "redirect.nomem", "out of memory");
		goto out;
	}
	if (strlen(loc) > TSSO_RETURN_TO_MAX) {
		tsso_err_set(err, "redirect.too_long", "target longer than %d bytes once encoded",
		             TSSO_RETURN_TO_MAX);
		goto out;
	}
	*ret_location = loc;
	loc = NULL;
	r = 0;
out:
	if (own_self) {
		tsso_url_free(self_url);
		free(self);
	}
	tsso_url_free(target);
	free(cur);
	free(loc);
	return r;
}
