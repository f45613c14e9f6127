/* Typed readers for configuration JSON that collect every problem. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_int.h"
#include "tsso/buf.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

static char *key_path(const char *prefix, const char *key)
{
	struct tsso_buf b;

	tsso_buf_init(&b, 512);
	if ((prefix && *prefix ? tsso_buf_addf(&b, "%s.%s", prefix, key) : tsso_buf_adds(&b, key)) <
	    0) {
		tsso_buf_free(&b);
		return NULL;
	}
	return tsso_buf_take(&b);
}

void cfg_problem(struct cfg_ctx *c, const char *prefix, const char *key, const char *fmt, ...)
{
	char *kp = key_path(prefix, key ? key : "-");
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tsso_problems_add(c->problems, c->file, kp ? kp : key, "%s", msg);
	free(kp);
}

void cfg_unknown_keys(struct cfg_ctx *c, const json_t *obj, const char *prefix,
                      const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v)
	{
		bool known = false;

		for (size_t i = 0; allowed[i] && !known; i++)
			known = strcmp(allowed[i], k) == 0;
		if (!known)
			cfg_problem(c, prefix, k,
			            "unknown key (misspelt? see docs/configuration.md)");
	}
}

json_t *cfg_object(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_object(v)) {
		cfg_problem(c, prefix, key, "must be an object");
		return NULL;
	}
	return v;
}

bool cfg_str(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key,
             bool required, char **ret)
{
	json_t *v = json_object_get(obj, key);
	char *s;

	if (v == NULL || json_is_null(v)) {
		if (required)
			cfg_problem(c, prefix, key, "is required");
		return false;
	}
	if (!json_is_string(v)) {
		cfg_problem(c, prefix, key, "must be a string");
		return false;
	}
	if (json_string_length(v) == 0 || strlen(json_string_value(v)) != json_string_length(v)) {
		cfg_problem(c, prefix, key, "must be a non-empty string without NUL bytes");
		return false;
	}
	s = strdup(json_string_value(v));
	if (s == NULL)
		return false;
	free(*ret);
	*ret = s;
	return true;
}

bool cfg_long(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key, long min,
              long max, long *ret)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	if (v == NULL || json_is_null(v))
		return false;
	if (!json_is_integer(v)) {
		cfg_problem(c, prefix, key, "must be an integer");
		return false;
	}
	n = json_integer_value(v);
	if (n < min || n > max) {
		cfg_problem(c, prefix, key, "must be between %ld and %ld", min, max);
		return false;
	}
	*ret = (long)n;
	return true;
}

bool cfg_bool(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key, bool *ret)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return false;
	if (!json_is_boolean(v)) {
		cfg_problem(c, prefix, key, "must be true or false");
		return false;
	}
	*ret = json_is_true(v);
	return true;
}

void cfg_strlist_free(struct tsso_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool cfg_strlist(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key,
                 struct tsso_strlist *ret)
{
	json_t *v = json_object_get(obj, key), *e;
	struct tsso_strlist l = {0};
	size_t i;

	if (v == NULL || json_is_null(v))
		return false;
	if (!json_is_array(v)) {
		cfg_problem(c, prefix, key, "must be an array of strings");
		return false;
	}
	if (json_array_size(v) > TSSO_CFG_MAX_LIST) {
		cfg_problem(c, prefix, key, "has more than %d entries", TSSO_CFG_MAX_LIST);
		return false;
	}
	l.v = calloc(json_array_size(v) + 1, sizeof(char *));
	if (l.v == NULL)
		return false;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) || json_string_length(e) == 0 ||
		    strlen(json_string_value(e)) != json_string_length(e)) {
			cfg_problem(c, prefix, key, "entry %zu must be a non-empty string", i);
			cfg_strlist_free(&l);
			return false;
		}
		l.v[l.n] = strdup(json_string_value(e));
		if (l.v[l.n] == NULL) {
			cfg_strlist_free(&l);
			return false;
		}
		l.n++;
	}
	cfg_strlist_free(ret);
	*ret = l;
	return true;
}

int cfg_enum(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key,
             const char *const *names, int dflt)
{
	json_t *v = json_object_get(obj, key);
	struct tsso_buf b;

	if (v == NULL || json_is_null(v))
		return dflt;
	if (json_is_string(v))
		for (int i = 0; names[i]; i++)
			if (strcmp(names[i], json_string_value(v)) == 0)
				return i;
	tsso_buf_init(&b, 512);
	for (int i = 0; names[i]; i++)
		if (tsso_buf_addf(&b, "%s\"%s\"", i ? ", " : "", names[i]) < 0)
			break;
	cfg_problem(c, prefix, key, "must be one of %s", b.ptr ? b.ptr : "?");
	tsso_buf_free(&b);
	return dflt;
}

char *cfg_resolve(const char *dir, const char *p)
{
	struct tsso_buf b;

	tsso_buf_init(&b, 4096);
	if ((p[0] == '/' ? tsso_buf_adds(&b, p) : tsso_buf_addf(&b, "%s/%s", dir, p)) < 0) {
		tsso_buf_free(&b);
		return NULL;
	}
	return tsso_buf_take(&b);
}

bool cfg_path(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key,
              bool must_exist, char **ret)
{
	char *raw = NULL, *abs;

	if (!cfg_str(c, obj, prefix, key, false, &raw))
		return false;
	abs = cfg_resolve(c->dir, raw);
	free(raw);
	if (abs == NULL)
		return false;
	if (must_exist && access(abs, R_OK) != 0) {
		cfg_problem(c, prefix, key, "cannot read %s: %s", abs, strerror(errno));
		free(abs);
		return false;
	}
	free(*ret);
	*ret = abs;
	return true;
}

bool cfg_check_secret_file(struct cfg_ctx *c, const char *prefix, const char *key, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		cfg_problem(c, prefix, key, "cannot read %s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		cfg_problem(c, prefix, key, "%s is not a regular file", path);
		return false;
	}
	if (st.st_size > TSSO_CFG_MAX_SECRET_FILE) {
		cfg_problem(c, prefix, key, "%s is larger than %d bytes", path,
		            TSSO_CFG_MAX_SECRET_FILE);
		return false;
	}
	/* Group read is allowed (a service group); anything for others, or group
	 * write, is not: such a secret is already shared with the machine. */
	if (c->mode == TSSO_MODE_PRODUCTION && (st.st_mode & (S_IRWXO | S_IWGRP)) != 0) {
		cfg_problem(c, prefix, key,
		            "%s is accessible by other users (mode %03o); chmod 600 or 640 it",
		            path, (unsigned)(st.st_mode & 0777));
		return false;
	}
	return true;
}

/* Read a secret file whole; strips one trailing newline. */
static bool read_secret_file(struct cfg_ctx *c, const char *prefix, const char *key,
                             const char *path, struct tsso_secret *ret)
{
	char buf[TSSO_CFG_MAX_SECRET_FILE + 1];
	size_t n = 0;
	ssize_t r;
	int fd;

	if (!cfg_check_secret_file(c, prefix, key, path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cfg_problem(c, prefix, key, "cannot open %s: %s", path, strerror(errno));
		return false;
	}
	while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (n > TSSO_CFG_MAX_SECRET_FILE) {
		cfg_problem(c, prefix, key, "%s is too large", path);
		tsso_wipe(buf, sizeof(buf));
		return false;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0 || memchr(buf, '\0', n) != NULL) {
		cfg_problem(c, prefix, key, "%s is empty or contains NUL bytes", path);
		tsso_wipe(buf, sizeof(buf));
		return false;
	}
	ret->value = malloc(n + 1);
	if (ret->value != NULL) {
		memcpy(ret->value, buf, n);
		ret->value[n] = '\0';
		ret->len = n;
	}
	tsso_wipe(buf, sizeof(buf));
	return ret->value != NULL;
}

void cfg_secret_free(struct tsso_secret *s)
{
	if (s->value != NULL)
		tsso_wipe(s->value, s->len);
	free(s->value);
	free(s->source);
	s->value = NULL;
	s->source = NULL;
	s->len = 0;
}

void cfg_secret(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key,
                bool required, struct tsso_secret *ret)
{
	char kf[128], ke[128];
	json_t *inl = json_object_get(obj, key);
	char *path = NULL, *env = NULL;
	int given = 0;

	snprintf(kf, sizeof(kf), "%s_file", key);
	snprintf(ke, sizeof(ke), "%s_env", key);
	given += json_object_get(obj, kf) != NULL;
	given += json_object_get(obj, ke) != NULL;
	given += inl != NULL;
	if (given == 0) {
		if (required)
			cfg_problem(c, prefix, kf, "is required (or %s)", ke);
		return;
	}
	if (given > 1) {
		cfg_problem(c, prefix, key, "give only one of %s, %s%s", kf, ke,
		            c->mode == TSSO_MODE_DEVELOPMENT ? ", or the inline value" : "");
		return;
	}
	cfg_secret_free(ret);
	if (inl != NULL) {
		/* Never echo the value: it may be the secret itself. */
		if (c->mode == TSSO_MODE_PRODUCTION) {
			cfg_problem(c, prefix, key,
			            "inline secrets are refused in production mode; use %s or %s",
			            kf, ke);
			return;
		}
		if (!json_is_string(inl) || json_string_length(inl) == 0) {
			cfg_problem(c, prefix, key, "must be a non-empty string");
			return;
		}
		ret->value = strdup(json_string_value(inl));
		ret->len = ret->value ? strlen(ret->value) : 0;
		ret->source = strdup("inline");
		return;
	}
	if (cfg_path(c, obj, prefix, kf, false, &path)) {
		if (read_secret_file(c, prefix, kf, path, ret)) {
			ret->source = malloc(strlen(path) + 6);
			if (ret->source)
				snprintf(ret->source, strlen(path) + 6, "file:%s", path);
		}
		free(path);
		return;
	}
	if (cfg_str(c, obj, prefix, ke, false, &env)) {
		const char *v = getenv(env);

		if (v == NULL || *v == '\0') {
			cfg_problem(c, prefix, ke, "environment variable %s is not set", env);
		} else {
			ret->value = strdup(v);
			ret->len = ret->value ? strlen(ret->value) : 0;
			ret->source = malloc(strlen(env) + 5);
			if (ret->source)
				snprintf(ret->source, strlen(env) + 5, "env:%s", env);
		}
		free(env);
	}
}

/* Loopback hosts as they appear in a URL authority. */
static bool host_is_loopback(const char *h, size_t n)
{
	unsigned a, b, cc, d;
	char tail;
	char tmp[64];

	if (n == 9 && strncmp(h, "localhost", 9) == 0)
		return true;
	if (n == 5 && strncmp(h, "[::1]", 5) == 0)
		return true;
	if (n >= sizeof(tmp))
		return false;
	memcpy(tmp, h, n);
	tmp[n] = '\0';
	if (sscanf(tmp, "%3u.%3u.%3u.%3u%c", &a, &b, &cc, &d, &tail) != 4)
		return false;
	for (const char *p = tmp; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return false;
	return a == 127 && b < 256 && cc < 256 && d < 256;
}

bool cfg_url_ok(const struct cfg_ctx *c, const char *url, bool allow_query, const char **ret_why)
{
	const char *rest, *end;
	size_t hostlen;

	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '\\') {
			*ret_why = "contains spaces, control characters or backslashes";
			return false;
		}
	if (!allow_query && strpbrk(url, "?#") != NULL) {
		*ret_why = "must not contain a query or fragment";
		return false;
	}
	if (strncmp(url, "https://", 8) == 0) {
		rest = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		rest = url + 7;
	} else {
		*ret_why = "must be an https:// URL";
		return false;
	}
	end = rest + strcspn(rest, "/?#");
	if (memchr(rest, '@', (size_t)(end - rest)) != NULL) {
		*ret_why = "must not contain user information";
		return false;
	}
	if (end == rest) {
		*ret_why = "has no host";
		return false;
	}
	if (rest == url + 7) {
		/* Host without port. */
		const char *colon = rest[0] == '[' ? memchr(rest, ']', (size_t)(end - rest)) : rest;
		const char *pc = colon ? memchr(colon, ':', (size_t)(end - colon)) : NULL;

		hostlen = pc ? (size_t)(pc - rest) : (size_t)(end - rest);
		if (rest[0] == '[' && colon)
			hostlen = (size_t)(colon - rest) + 1;
		if (c->mode != TSSO_MODE_DEVELOPMENT || !host_is_loopback(rest, hostlen)) {
			*ret_why = c->mode == TSSO_MODE_DEVELOPMENT
			               ? "must be https:// (http:// only to a loopback host)"
			               : "must be https:// in production mode";
			return false;
		}
	}
	return true;
}
