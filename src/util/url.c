/* The WHATWG basic URL parser (URL Standard §4.4) for http and https, and its serializers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/limits.h"
#include "tsso/url.h"
#include "tsso/utf8.h"
#include "url_internal.h"

/* A component never grows past three bytes per input byte (percent-encoding). */
#define URL_PART_MAX (3 * TSSO_URL_MAX + 64)
#define URL_EOF      (-1)

struct tsso_url {
	char scheme[6]; /* "http" or "https" */
	char *username; /* "" when none */
	char *password; /* "" when none */
	char *host;
	char *path;     /* "/seg/seg", never empty for special URLs */
	char *query;    /* NULL when none */
	char *fragment; /* NULL when none */
	int port;       /* -1: none or the scheme's default */
	bool had_userinfo;
	enum tsso_url_ref ref;
};

enum state {
	S_SCHEME_START,
	S_SCHEME,
	S_NO_SCHEME,
	S_SPECIAL_RELATIVE_OR_AUTHORITY,
	S_RELATIVE,
	S_RELATIVE_SLASH,
	S_SPECIAL_AUTHORITY_SLASHES,
	S_SPECIAL_AUTHORITY_IGNORE_SLASHES,
	S_AUTHORITY,
	S_HOST,
	S_PORT,
	S_PATH_START,
	S_PATH,
	S_QUERY,
	S_FRAGMENT,
};

/* The percent-encode sets of URL Standard §1.3. */
enum pset { P_C0, P_FRAGMENT, P_QUERY, P_SPECIAL_QUERY, P_PATH, P_USERINFO };

/* The URL being built: growable parts plus the flags the standard keeps. */
struct work {
	char scheme[6];
	struct tsso_buf user, pass, host, path, query, frag, buf;
	bool has_query, has_frag, had_userinfo;
	int port;
	enum tsso_url_ref ref;
};

static bool in_set(unsigned char c, enum pset set)
{
	if (c < 0x20 || c > 0x7e)
		return true;
	switch (set) {
	case P_C0:
		return false;
	case P_FRAGMENT:
		return strchr(" \"<>`", c) != NULL;
	case P_QUERY:
		return strchr(" \"#<>", c) != NULL;
	case P_SPECIAL_QUERY:
		return strchr(" \"#<>'", c) != NULL;
	case P_PATH:
		return strchr(" \"#<>?^`{}", c) != NULL;
	case P_USERINFO:
		return strchr(" \"#<>?^`{}/:;=@[\\]|", c) != NULL;
	}
	return true;
}

/* Append one byte, percent-encoded when in set. Input is valid UTF-8, so
 * encoding byte by byte equals the standard's "UTF-8 percent-encode". */
static int add_enc(struct tsso_buf *b, unsigned char c, enum pset set)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3] = {'%', hex[c >> 4], hex[c & 15]};

	return in_set(c, set) ? tsso_buf_add(b, e, 3) : tsso_buf_add(b, &c, 1);
}

static int default_port(const char *scheme)
{
	return strcmp(scheme, "https") == 0 ? 443 : 80;
}

/* "." and "%2e" (any case) are single-dot segments, URL Standard §4.2. */
static bool single_dot(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') || (n == 3 && strncasecmp(s, "%2e", 3) == 0);
}

static bool double_dot(const char *s, size_t n)
{
	if (n == 2)
		return s[0] == '.' && s[1] == '.';
	if (n == 4)
		return (s[0] == '.' && strncasecmp(s + 1, "%2e", 3) == 0) ||
		       (strncasecmp(s, "%2e", 3) == 0 && s[3] == '.');
	return n == 6 && strncasecmp(s, "%2e%2e", 6) == 0;
}

/* "Shorten a URL's path": drop the last segment (there is no file scheme). */
static void path_shorten(struct tsso_buf *path)
{
	char *slash;

	if (path->len == 0)
		return;
	slash = strrchr(path->ptr, '/');
	path->len = slash != NULL ? (size_t)(slash - path->ptr) : 0;
	path->ptr[path->len] = '\0';
}

static int buf_copy(struct tsso_buf *b, const char *s)
{
	tsso_buf_reset(b);
	return s != NULL ? tsso_buf_adds(b, s) : 0;
}

/* Take over the base's userinfo, host and port (used by the relative states). */
static int inherit_authority(struct work *w, const struct tsso_url *base)
{
	w->port = base->port;
	return buf_copy(&w->user, base->username) | buf_copy(&w->pass, base->password) |
	       buf_copy(&w->host, base->host);
}

/* Authority state on '@': what came before is userinfo, split at the first ':'. */
static int authority_at(struct work *w, bool *pass_seen)
{
	for (size_t i = 0; i < w->buf.len; i++) {
		unsigned char c = (unsigned char)w->buf.ptr[i];

		if (c == ':' && !*pass_seen) {
			*pass_seen = true;
			continue;
		}
		if (add_enc(*pass_seen ? &w->pass : &w->user, c, P_USERINFO) < 0)
			return -1;
	}
	tsso_buf_reset(&w->buf);
	return 0;
}

/* Browsers' preprocessing (URL Standard §4.4 steps 1-3): strip leading and
 * trailing C0 control or space, then remove every tab, LF and CR. */
static char *preprocess(const char *in, size_t *ret_len)
{
	size_t n = strlen(in), a = 0, k = 0;
	char *out;

	while (a < n && (unsigned char)in[a] <= 0x20)
		a++;
	while (n > a && (unsigned char)in[n - 1] <= 0x20)
		n--;
	out = malloc(n - a + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = a; i < n; i++)
		if (in[i] != '\t' && in[i] != '\n' && in[i] != '\r')
			out[k++] = in[i];
	out[k] = '\0';
	*ret_len = k;
	return out;
}

#define FAIL(reason, text)                                                                         \
	do {                                                                                       \
		tsso_err_set(err, reason, text);                                                   \
		goto fail;                                                                         \
	} while (0)
#define ADD(b, p, n)                                                                               \
	do {                                                                                       \
		if (tsso_buf_add(b, p, n) < 0)                                                     \
			goto nomem;                                                                \
	} while (0)

/* The state machine. s has been preprocessed; base may be NULL. */
static int run(struct work *w, const char *s, size_t n, const struct tsso_url *base,
               struct tsso_err *err)
{
	enum state st = S_SCHEME_START;
	bool had_scheme = false, pass_seen = false, in_brackets = false;
	long p = 0;

	for (;;) {
		int c = p < (long)n ? (unsigned char)s[p] : URL_EOF;
		const char *rest = p < (long)n ? s + p + 1 : "";
		bool slash = c == '/' || c == '\\'; /* special schemes: '\' is '/' */

		switch (st) {
		case S_SCHEME_START:
			if (c != URL_EOF && ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
				char lc = (char)(c | 0x20);

				ADD(&w->buf, &lc, 1);
				st = S_SCHEME;
			} else {
				st = S_NO_SCHEME;
				p--;
			}
			break;
		case S_SCHEME:
			if (c != URL_EOF && (strchr("+-.", c) != NULL || (c >= '0' && c <= '9') ||
			                     ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))) {
				char lc = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);

				ADD(&w->buf, &lc, 1);
			} else if (c == ':') {
				if (strcmp(w->buf.ptr, "http") != 0 &&
				    strcmp(w->buf.ptr, "https") != 0)
					FAIL("url.scheme", "only http and https URLs are accepted");
				memcpy(w->scheme, w->buf.ptr, w->buf.len + 1);
				tsso_buf_reset(&w->buf);
				had_scheme = true;
				if (base != NULL && strcmp(base->scheme, w->scheme) == 0)
					st = S_SPECIAL_RELATIVE_OR_AUTHORITY;
				else
					st = S_SPECIAL_AUTHORITY_SLASHES;
			} else {
				tsso_buf_reset(&w->buf);
				st = S_NO_SCHEME;
				p = -1;
			}
			break;
		case S_NO_SCHEME:
			if (base == NULL)
				FAIL("url.no_base", "relative reference without a base URL");
			st = S_RELATIVE;
			p--;
			break;
		case S_SPECIAL_RELATIVE_OR_AUTHORITY:
			if (c == '/' && rest[0] == '/') {
				st = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
				p++;
			} else {
				st = S_RELATIVE;
				p--;
			}
			break;
		case S_RELATIVE:
			memcpy(w->scheme, base->scheme, sizeof(w->scheme));
			if (slash) {
				st = S_RELATIVE_SLASH;
				break;
			}
			w->ref = had_scheme ? TSSO_URL_REF_SCHEME_ONLY : TSSO_URL_REF_PATH_RELATIVE;
			if (inherit_authority(w, base) < 0 || buf_copy(&w->path, base->path) < 0 ||
			    buf_copy(&w->query, base->query) < 0)
				goto nomem;
			w->has_query = base->query != NULL;
			if (c == '?') {
				tsso_buf_reset(&w->query);
				w->has_query = true;
				st = S_QUERY;
			} else if (c == '#') {
				w->has_frag = true;
				st = S_FRAGMENT;
			} else if (c != URL_EOF) {
				tsso_buf_reset(&w->query);
				w->has_query = false;
				path_shorten(&w->path);
				st = S_PATH;
				p--;
			}
			break;
		case S_RELATIVE_SLASH:
			if (slash) {
				st = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
			} else {
				w->ref = had_scheme ? TSSO_URL_REF_SCHEME_ONLY
				                    : TSSO_URL_REF_PATH_ABSOLUTE;
				if (inherit_authority(w, base) < 0)
					goto nomem;
				st = S_PATH;
				p--;
			}
			break;
		case S_SPECIAL_AUTHORITY_SLASHES:
			if (c == '/' && rest[0] == '/') {
				st = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
				p++;
			} else {
				st = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
				p--;
			}
			break;
		case S_SPECIAL_AUTHORITY_IGNORE_SLASHES:
			if (!slash) {
				w->ref = had_scheme ? TSSO_URL_REF_ABSOLUTE : TSSO_URL_REF_NETWORK;
				st = S_AUTHORITY;
				p--;
			}
			break;
		case S_AUTHORITY:
			if (c == '@') {
				bool again = w->had_userinfo;

				/* A second '@' belongs to the userinfo: "%40" it. */
				if (again &&
				    tsso_buf_add(pass_seen ? &w->pass : &w->user, "%40", 3) < 0)
					goto nomem;
				w->had_userinfo = true;
				if (authority_at(w, &pass_seen) < 0)
					goto nomem;
			} else if (c == URL_EOF || slash || c == '?' || c == '#') {
				if (w->had_userinfo && w->buf.len == 0)
					FAIL("url.host", "userinfo without a host");
				p -= (long)w->buf.len + 1;
				tsso_buf_reset(&w->buf);
				st = S_HOST;
			} else {
				char ch = (char)c;

				ADD(&w->buf, &ch, 1);
			}
			break;
		case S_HOST:
			if (c == ':' && !in_brackets) {
				if (w->buf.len == 0)
					FAIL("url.host", "empty host");
				if (tsso_url_host_parse(w->buf.ptr, w->buf.len, &w->host, err) < 0)
					goto fail;
				tsso_buf_reset(&w->buf);
				st = S_PORT;
			} else if (c == URL_EOF || slash || c == '?' || c == '#') {
				p--;
				if (w->buf.len == 0)
					FAIL("url.host", "empty host");
				if (tsso_url_host_parse(w->buf.ptr, w->buf.len, &w->host, err) < 0)
					goto fail;
				tsso_buf_reset(&w->buf);
				st = S_PATH_START;
			} else {
				char ch = (char)c;

				if (c == '[')
					in_brackets = true;
				if (c == ']')
					in_brackets = false;
				ADD(&w->buf, &ch, 1);
			}
			break;
		case S_PORT:
			if (c >= '0' && c <= '9') {
				char ch = (char)c;

				ADD(&w->buf, &ch, 1);
			} else if (c == URL_EOF || slash || c == '?' || c == '#') {
				if (w->buf.len > 0) {
					unsigned long v = 0;

					for (size_t i = 0; i < w->buf.len && v <= 65535; i++)
						v = v * 10 + (unsigned long)(w->buf.ptr[i] - '0');
					if (v > 65535)
						FAIL("url.port", "port out of range");
					w->port = (int)v == default_port(w->scheme) ? -1 : (int)v;
					tsso_buf_reset(&w->buf);
				}
				st = S_PATH_START;
				p--;
			} else {
				FAIL("url.port", "port is not a number");
			}
			break;
		case S_PATH_START:
			st = S_PATH;
			if (!slash)
				p--;
			break;
		case S_PATH:
			if (c == URL_EOF || slash || c == '?' || c == '#') {
				const char *seg = w->buf.ptr != NULL ? w->buf.ptr : "";

				if (double_dot(seg, w->buf.len)) {
					path_shorten(&w->path);
					if (!slash)
						ADD(&w->path, "/", 1);
				} else if (single_dot(seg, w->buf.len)) {
					if (!slash)
						ADD(&w->path, "/", 1);
				} else {
					ADD(&w->path, "/", 1);
					ADD(&w->path, seg, w->buf.len);
				}
				tsso_buf_reset(&w->buf);
				if (c == '?') {
					tsso_buf_reset(&w->query);
					w->has_query = true;
					st = S_QUERY;
				} else if (c == '#') {
					w->has_frag = true;
					st = S_FRAGMENT;
				}
			} else if (add_enc(&w->buf, (unsigned char)c, P_PATH) < 0) {
				goto nomem;
			}
			break;
		case S_QUERY:
			if (c == '#') {
				w->has_frag = true;
				st = S_FRAGMENT;
			} else if (c != URL_EOF &&
			           add_enc(&w->query, (unsigned char)c, P_SPECIAL_QUERY) < 0) {
				goto nomem;
			}
			break;
		case S_FRAGMENT:
			if (c != URL_EOF && add_enc(&w->frag, (unsigned char)c, P_FRAGMENT) < 0)
				goto nomem;
			break;
		}
		if (p >= (long)n)
			break;
		p++;
	}
	return 0;
nomem:
	tsso_err_set(err, "url.nomem", "out of memory or URL part too long");
fail:
	return -1;
}

static void work_free(struct work *w)
{
	tsso_buf_free(&w->user);
	tsso_buf_free(&w->pass);
	tsso_buf_free(&w->host);
	tsso_buf_free(&w->path);
	tsso_buf_free(&w->query);
	tsso_buf_free(&w->frag);
	tsso_buf_free(&w->buf);
}

int tsso_url_parse(const char *input, const struct tsso_url *base, struct tsso_url **ret_url,
                   struct tsso_err *err)
{
	struct work w = {.port = -1, .ref = TSSO_URL_REF_ABSOLUTE};
	struct tsso_url *u = NULL;
	char *s = NULL;
	size_t n = 0;
	int r = -1;

	tsso_buf_init(&w.user, URL_PART_MAX);
	tsso_buf_init(&w.pass, URL_PART_MAX);
	tsso_buf_init(&w.host, URL_PART_MAX);
	tsso_buf_init(&w.path, URL_PART_MAX);
	tsso_buf_init(&w.query, URL_PART_MAX);
	tsso_buf_init(&w.frag, URL_PART_MAX);
	tsso_buf_init(&w.buf, URL_PART_MAX);
	if (input == NULL || strnlen(input, TSSO_URL_MAX + 1) > TSSO_URL_MAX) {
		tsso_err_set(err, "url.too_long", "URL missing or longer than %d bytes",
		             TSSO_URL_MAX);
		goto out;
	}
	if (!tsso_utf8_valid(input, strlen(input))) {
		tsso_err_set(err, "url.utf8", "URL is not valid UTF-8");
		goto out;
	}
	if ((s = preprocess(input, &n)) == NULL) {
		tsso_err_set(err, "url.nomem", "out of memory");
		goto out;
	}
	if (run(&w, s, n, base, err) < 0)
		goto out;
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		tsso_err_set(err, "url.nomem", "out of memory");
		goto out;
	}
	memcpy(u->scheme, w.scheme, sizeof(u->scheme));
	u->port = w.port;
	u->had_userinfo = w.had_userinfo;
	u->ref = w.ref;
	u->username = tsso_buf_take(&w.user);
	u->password = tsso_buf_take(&w.pass);
	u->host = tsso_buf_take(&w.host);
	u->path = tsso_buf_take(&w.path);
	u->query = w.has_query ? tsso_buf_take(&w.query) : NULL;
	u->fragment = w.has_frag ? tsso_buf_take(&w.frag) : NULL;
	if (u->username == NULL || u->password == NULL || u->host == NULL || u->path == NULL ||
	    (w.has_query && u->query == NULL) || (w.has_frag && u->fragment == NULL)) {
		tsso_err_set(err, "url.nomem", "out of memory");
		goto out;
	}
	*ret_url = u;
	u = NULL;
	r = 0;
out:
	tsso_url_free(u);
	free(s);
	work_free(&w);
	return r;
}

void tsso_url_free(struct tsso_url *url)
{
	if (url == NULL)
		return;
	free(url->username);
	free(url->password);
	free(url->host);
	free(url->path);
	free(url->query);
	free(url->fragment);
	free(url);
}

/* host [":" port] (the port only when not the scheme's default). */
static int add_host_port(struct tsso_buf *b, const struct tsso_url *url)
{
	int r = tsso_buf_adds(b, url->host);

	if (url->port >= 0) {
		r |= tsso_buf_adds(b, ":");
		r |= tsso_buf_addll(b, url->port);
	}
	return r;
}

/* URL Standard §4.5 "URL serializer" (authority always present: special). */
char *tsso_url_href(const struct tsso_url *url)
{
	struct tsso_buf b;
	int r = 0;

	tsso_buf_init(&b, 8 * URL_PART_MAX);
	r |= tsso_buf_adds(&b, url->scheme);
	r |= tsso_buf_adds(&b, "://");
	if (url->username[0] != '\0' || url->password[0] != '\0') {
		r |= tsso_buf_adds(&b, url->username);
		if (url->password[0] != '\0') {
			r |= tsso_buf_adds(&b, ":");
			r |= tsso_buf_adds(&b, url->password);
		}
		r |= tsso_buf_adds(&b, "@");
	}
	r |= add_host_port(&b, url);
	r |= tsso_buf_adds(&b, url->path);
	if (url->query != NULL) {
		r |= tsso_buf_adds(&b, "?");
		r |= tsso_buf_adds(&b, url->query);
	}
	if (url->fragment != NULL) {
		r |= tsso_buf_adds(&b, "#");
		r |= tsso_buf_adds(&b, url->fragment);
	}
	if (r != 0) {
		tsso_buf_free(&b);
		return NULL;
	}
	return tsso_buf_take(&b);
}

/* URL Standard §4.5 / HTML "ASCII serialization of an origin": a tuple
 * origin is scheme "://" host [":" port], the port only when not default. */
char *tsso_url_origin(const struct tsso_url *url)
{
	struct tsso_buf b;
	int r = 0;

	tsso_buf_init(&b, 2 * URL_PART_MAX);
	r |= tsso_buf_adds(&b, url->scheme);
	r |= tsso_buf_adds(&b, "://");
	r |= add_host_port(&b, url);
	if (r != 0) {
		tsso_buf_free(&b);
		return NULL;
	}
	return tsso_buf_take(&b);
}

const char *tsso_url_scheme(const struct tsso_url *url)
{
	return url->scheme;
}

const char *tsso_url_username(const struct tsso_url *url)
{
	return url->username;
}

const char *tsso_url_password(const struct tsso_url *url)
{
	return url->password;
}

const char *tsso_url_host(const struct tsso_url *url)
{
	return url->host;
}

const char *tsso_url_path(const struct tsso_url *url)
{
	return url->path;
}

const char *tsso_url_query(const struct tsso_url *url)
{
	return url->query;
}

const char *tsso_url_fragment(const struct tsso_url *url)
{
	return url->fragment;
}

int tsso_url_port(const struct tsso_url *url)
{
	return url->port;
}

bool tsso_url_had_userinfo(const struct tsso_url *url)
{
	return url->had_userinfo;
}

enum tsso_url_ref tsso_url_ref_kind(const struct tsso_url *url)
{
	return url->ref;
}
