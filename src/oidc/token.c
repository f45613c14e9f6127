/* Token endpoint: the request with client authentication and the checks of its response (RFC 6749
 * §5, OIDC Core §3.1.3.3). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oidc_int.h"
#include "tsso/crypto.h"
#include "tsso/jsonflat.h"
#include "tsso/limits.h"

void oidc_tokens_clear(struct oidc_tokens *t)
{
	tsso_free_secret(t->id_token);
	tsso_free_secret(t->access_token);
	tsso_free_secret(t->refresh_token);
	t->id_token = t->access_token = t->refresh_token = NULL;
	t->expires_in = -1;
}

static int dup_str(const json_t *o, const char *name, char **ret)
{
	json_t *v = json_object_get(o, name);

	*ret = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > TSSO_TOKEN_MAX)
		return -1;
	/* Tokens are printable ASCII without spaces (RFC 6750 §2.1 b64token,
	 * RFC 6749 Appendix A.12-A.17): nothing that could split a header
	 * when the access token is sent to UserInfo. */
	for (const char *p = json_string_value(v); *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			return -1;
	if (strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*ret = strdup(json_string_value(v));
	return *ret != NULL ? 0 : -1;
}

/* The fast reading of a 200 answer (tsso/jsonflat.h): it accepts only what
 * the jansson reading below accepts, with the same result; anything it does
 * not accept goes to that reading, which says why it refuses (or accepts
 * what is merely unusual, such as a fractional expires_in). A token answer
 * is read at every login, and jansson spent about 100 instructions a byte on
 * it (docs/performance.md). */
struct fast_read {
	struct oidc_tokens t;
	bool bearer;
};

/* RFC 6750 §2.1 b64token and RFC 6749 Appendix A: printable ASCII, no space. */
static bool token_chars_ok(const char *s, size_t len)
{
	if (len == 0 || len > TSSO_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static int fast_member(void *arg, const char *k, struct tsso_jflat_value *v)
{
	struct fast_read *fr = arg;
	char **dst;

	if (strcmp(k, "access_token") == 0)
		dst = &fr->t.access_token;
	else if (strcmp(k, "id_token") == 0)
		dst = &fr->t.id_token;
	else if (strcmp(k, "refresh_token") == 0)
		dst = &fr->t.refresh_token;
	else if (strcmp(k, "token_type") == 0)
		return (fr->bearer =
		            v->type == TSSO_JFLAT_STRING && strcasecmp(v->str, "Bearer") == 0)
		           ? 0
		           : -1;
	else if (strcmp(k, "expires_in") == 0) {
		if (v->type != TSSO_JFLAT_INTEGER || v->num < 0 || v->num > OIDC_TIME_MAX)
			return -1;
		fr->t.expires_in = (long long)v->num;
		return 0;
	} else if (v->type == TSSO_JFLAT_OBJECT && !v->checked)
		return -1; /* left to jansson by the reader: so is the answer */
	else
		return 0; /* checked by the reader, not used */
	if (v->type != TSSO_JFLAT_STRING || !token_chars_ok(v->str, v->len))
		return -1;
	*dst = v->str;
	v->str = NULL;
	return 0;
}

/* true when the answer was read and passes every check of the full reading. */
static bool token_response_fast(const char *body, size_t len, bool id_token_required,
                                struct oidc_tokens *ret)
{
	struct fast_read fr = {.t = {.expires_in = -1}};

	if (body == NULL || tsso_jflat_parse(body, len, fast_member, &fr) < 0 ||
	    fr.t.access_token == NULL || !fr.bearer ||
	    (id_token_required && fr.t.id_token == NULL)) {
		oidc_tokens_clear(&fr.t);
		return false;
	}
	*ret = fr.t;
	return true;
}

int oidc_token_response(long status, const char *body, size_t len, bool id_token_required,
                        struct oidc_tokens *ret, struct tsso_err *err)
{
	struct oidc_tokens t = {.expires_in = -1};
	json_t *j = NULL;
	const char *type;
	json_t *exp;
	char safe[72];
	int rc = -1;

	if (status == 200 && token_response_fast(body, len, id_token_required, ret))
		return 0;
	j = oidc_json_object(body, len);
	if (status != 200) {
		/* RFC 6749 §5.2: a 400/401 with an error code is the IdP saying no
		 * (e.g. invalid_grant); anything else is the IdP failing. */
		const char *code = oidc_json_str(j, "error");

		if ((status == 400 || status == 401) && code != NULL)
			tsso_err_set(err, "token.error", "the token endpoint refused: %s",
			             oidc_safe_code(code, safe, sizeof(safe)));
		else
			tsso_err_set(err, "token.http_error",
			             "the token endpoint answered HTTP %ld", status);
		goto out;
	}
	if (j == NULL) {
		tsso_err_set(err, "token.malformed", "the token response is not a JSON object");
		goto out;
	}
	/* §5.1: access_token and token_type are REQUIRED. */
	if (dup_str(j, "access_token", &t.access_token) != 0 || t.access_token == NULL) {
		tsso_err_set(err, "token.malformed", "the token response lacks access_token");
		goto out;
	}
	/* OIDC Core §3.1.3.3: token_type Bearer, case-insensitive (RFC 6749 §5.1). */
	type = oidc_json_str(j, "token_type");
	if (type == NULL || strcasecmp(type, "Bearer") != 0) {
		tsso_err_set(err, "token.token_type", "token_type is not Bearer");
		goto out;
	}
	if (dup_str(j, "id_token", &t.id_token) != 0) {
		tsso_err_set(err, "token.malformed", "id_token is not a string");
		goto out;
	}
	if (t.id_token == NULL && id_token_required) {
		tsso_err_set(err, "token.id_token_missing", "the token response has no ID token");
		goto out;
	}
	if (dup_str(j, "refresh_token", &t.refresh_token) != 0) {
		tsso_err_set(err, "token.malformed", "refresh_token is not a string");
		goto out;
	}
	exp = json_object_get(j, "expires_in");
	if (exp != NULL) {
		long long e;

		/* Some IdPs send it as a string of digits; accept only numbers. */
		if (oidc_json_time(exp, &e) != 0 || e < 0) {
			tsso_err_set(err, "token.malformed", "expires_in is not a number");
			goto out;
		}
		t.expires_in = e;
	}
	*ret = t;
	memset(&t, 0, sizeof(t));
	rc = 0;
out:
	oidc_tokens_clear(&t);
	if (j != NULL) {
		/* The parsed copy holds tokens too: wipe what we can reach. */
		const char *k;
		json_t *v;

		json_object_foreach (j, k, v) {
			if (json_is_string(v))
				tsso_wipe((char *)json_string_value(v), json_string_length(v));
		}
		json_decref(j);
	}
	return rc;
}

int oidc_token_request(struct tsso_idp *idp, const struct oidc_meta *meta, struct tsso_buf *form,
                       bool id_token_required, long long now, struct oidc_tokens *ret,
                       struct tsso_err *err)
{
	char *extra[2] = {NULL, NULL};
	size_t n_extra = 0;
	const char *hdrs[5];
	size_t nh = 0;
	struct tsso_fetch_req req = {.method = "POST", .url = meta->token_endpoint};
	struct tsso_fetch_resp resp = {0};
	struct tsso_err ferr = {0};
	int rc = -1;

	/* RFC 7523 §3: the assertion's audience is the token endpoint. */
	if (oidc_client_auth(idp, meta->token_endpoint, now, true, form, extra, &n_extra, err) != 0)
		goto out;
	hdrs[nh++] = OIDC_FORM_CONTENT_TYPE;
	hdrs[nh++] = OIDC_ACCEPT_JSON;
	for (size_t i = 0; i < n_extra; i++)
		hdrs[nh++] = extra[i];
	hdrs[nh] = NULL;
	req.headers = hdrs;
	req.body = form->ptr;
	req.body_len = form->len;
	if (tsso_fetch(idp->fetcher, &req, &resp, &ferr) != 0) {
		tsso_err_set(err, "token.http_error", "token request failed (%s): %s",
		             tsso_err_reason(&ferr), ferr.msg);
		goto out;
	}
	rc =
	    oidc_token_response(resp.status, resp.body, resp.body_len, id_token_required, ret, err);
out:
	for (size_t i = 0; i < n_extra; i++)
		tsso_free_secret(extra[i]);
	tsso_fetch_resp_free(&resp);
	return rc;
}
