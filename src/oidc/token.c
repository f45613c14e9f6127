/* Token endpoint: the request with client authentication and the checks of its response (RFC 6749
 * §5, OIDC Core §3.1.3.3). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oidc_int.h"
#include "tsso/crypto.h"
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

int oidc_token_response(long status, const char *body, size_t len, bool id_token_required,
                        struct oidc_tokens *ret, struct tsso_err *err)
{
	struct oidc_tokens t = {.expires_in = -1};
	json_t *j = oidc_json_object(body, len);
	const char *type;
	json_t *exp;
	char safe[72];
	int rc = -1;

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

void oidc_token_call_clear(struct oidc_token_call *call)
{
	for (size_t i = 0; i < call->n_extra; i++)
		tsso_free_secret(call->extra[i]);
	memset(call, 0, sizeof(*call));
}

int oidc_token_call_prepare(struct tsso_idp *idp, const struct oidc_meta *meta,
                            struct tsso_buf *form, long long now, struct oidc_token_call *call,
                            struct tsso_err *err)
{
	size_t nh = 0;

	memset(call, 0, sizeof(*call));
	/* RFC 7523 §3: the assertion's audience is the token endpoint. */
	if (oidc_client_auth(idp, meta->token_endpoint, now, true, form, call->extra,
	                     &call->n_extra, err) != 0) {
		oidc_token_call_clear(call);
		return -1;
	}
	call->hdrs[nh++] = OIDC_FORM_CONTENT_TYPE;
	call->hdrs[nh++] = OIDC_ACCEPT_JSON;
	for (size_t i = 0; i < call->n_extra; i++)
		call->hdrs[nh++] = call->extra[i];
	call->hdrs[nh] = NULL;
	call->req.method = "POST";
	call->req.url = meta->token_endpoint;
	call->req.headers = call->hdrs;
	call->req.body = form->ptr;
	call->req.body_len = form->len;
	return 0;
}

int oidc_token_call_result(int fetch_rc, const struct tsso_fetch_resp *resp,
                           const struct tsso_err *ferr, bool id_token_required,
                           struct oidc_tokens *ret, struct tsso_err *err)
{
	if (fetch_rc != 0)
		return tsso_err_set(err, "token.http_error", "token request failed (%s): %s",
		                    tsso_err_reason(ferr), ferr->msg);
	return oidc_token_response(resp->status, resp->body, resp->body_len, id_token_required, ret,
	                           err);
}

int oidc_token_request(struct tsso_idp *idp, const struct oidc_meta *meta, struct tsso_buf *form,
                       bool id_token_required, long long now, struct oidc_tokens *ret,
                       struct tsso_err *err)
{
	struct oidc_token_call call;
	struct tsso_fetch_resp resp = {0};
	struct tsso_err ferr = {0};
	int rc;

	if (oidc_token_call_prepare(idp, meta, form, now, &call, err) != 0)
		return -1;
	rc = tsso_fetch(idp->fetcher, &call.req, &resp, &ferr);
	rc = oidc_token_call_result(rc, &resp, &ferr, id_token_required, ret, err);
	oidc_token_call_clear(&call);
	tsso_fetch_resp_free(&resp);
	return rc;
}
