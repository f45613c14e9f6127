/* Small helpers for the OIDC files: form encoding, strict JSON, URL and list checks. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "oidc_int.h"
#include "tsso/form.h"
#include "tsso/json.h"
#include "tsso/limits.h"

int oidc_form_escape(struct tsso_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		char enc[3];

		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '*' || *p == '-' || *p == '.' || *p == '_') {
			if (tsso_buf_add(b, p, 1) != 0)
				return -1;
		} else if (*p == ' ') {
			if (tsso_buf_add(b, "+", 1) != 0)
				return -1;
		} else {
			enc[0] = '%';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			if (tsso_buf_add(b, enc, 3) != 0)
				return -1;
		}
	}
	return 0;
}

int oidc_form_add(struct tsso_buf *b, const char *name, const char *value)
{
	return tsso_form_encode_append(b, name, value);
}

json_t *oidc_json_object(const char *text, size_t len)
{
	json_t *j;

	if (text == NULL)
		return NULL;
	/* Duplicates refused: {"iss":"a","iss":"b"} must not mean either. */
	j = tsso_json_parse(text, len, NULL);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

const char *oidc_json_str(const json_t *obj, const char *name)
{
	return json_string_value(json_object_get(obj, name));
}

int oidc_json_time(const json_t *v, long long *ret)
{
	double d;

	/* Bounded so that adding a leeway or a max_age can never overflow. */
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < -OIDC_TIME_MAX || i > OIDC_TIME_MAX)
			return -1;
		*ret = (long long)i;
		return 0;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	/* NumericDate may carry fractions (RFC 7519 §2); keep whole seconds. */
	if (!isfinite(d) || d < (double)-OIDC_TIME_MAX || d > (double)OIDC_TIME_MAX)
		return -1;
	*ret = (long long)d;
	if ((double)*ret > d) /* round toward the past, like floor() */
		(*ret)--;
	return 0;
}

const char *oidc_safe_code(const char *code, char *buf, size_t n)
{
	size_t len = code != NULL ? strlen(code) : 0;

	if (len == 0 || len > 64 || len >= n)
		return "invalid";
	for (size_t i = 0; i < len; i++) {
		char c = code[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return "invalid";
	}
	memcpy(buf, code, len + 1);
	return buf;
}

/* Literal loopback addresses, and "localhost", which libcurl resolves to
 * loopback itself without asking DNS. */
bool oidc_host_is_loopback(const char *host)
{
	if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
	    strcmp(host, "::1") == 0)
		return true;
	if (strncmp(host, "127.", 4) != 0)
		return false;
	for (const char *c = host + 4; *c != '\0'; c++)
		if ((*c < '0' || *c > '9') && *c != '.')
			return false;
	return true;
}

bool oidc_url_ok(const char *url, bool development)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *frag = NULL, *user = NULL;
	bool ok = false;

	if (url == NULL || strlen(url) > TSSO_HTTP_MAX_URL)
		return false;
	u = curl_url();
	if (u == NULL)
		return false;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	/* A fragment has no place in an endpoint (RFC 6749 §3.1), nor do
	 * credentials (they would be sent to whoever the host is). */
	if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		goto out;
	if (strcmp(scheme, "https") == 0)
		ok = true;
	else if (strcmp(scheme, "http") == 0 && development && oidc_host_is_loopback(host))
		ok = true;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(frag);
	curl_free(user);
	curl_url_cleanup(u);
	return ok;
}

bool oidc_list_has(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] != NULL && strcmp(list[i], s) == 0)
			return true;
	return false;
}

char *oidc_b64_std(const void *data, size_t n)
{
	char *out;

	if (n > INT32_MAX / 2)
		return NULL;
	out = malloc(4 * ((n + 2) / 3) + 1);
	if (out == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, data, (int)n);
	return out;
}
