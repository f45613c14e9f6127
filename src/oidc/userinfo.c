/* UserInfo (OIDC Core §5.3): Bearer request, JSON or signed JWT response, sub bound to the ID
 * token's. */
#include <stdlib.h>
#include <string.h>

#include "oidc_int.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

/* §5.3.2: a signed response is checked like an ID token where the claims
 * exist (iss, aud, and exp when given). */
static json_t *signed_claims(struct tsso_idp *idp, const struct oidc_meta *meta, const char *body,
                             long long now, struct tsso_err *err)
{
	const struct oidc_reasons *r = &oidc_userinfo_reasons;
	struct tsso_jws *jws = NULL;
	json_t *claims = NULL, *c;
	const char *iss;
	long long t;

	if (oidc_jwt_verify(idp, meta, body, now, r, &jws, err) != 0)
		return NULL;
	c = tsso_jws_claims(jws);
	iss = oidc_json_str(c, "iss");
	if (json_object_get(c, "iss") != NULL && (iss == NULL || strcmp(iss, meta->issuer) != 0)) {
		tsso_err_set(err, r->iss_mismatch, "signed UserInfo comes from another issuer");
		goto out;
	}
	if (json_object_get(c, "aud") != NULL) {
		json_t *aud = json_object_get(c, "aud"), *e;
		bool ok =
		    json_is_string(aud) && strcmp(json_string_value(aud), idp->cfg->client_id) == 0;
		size_t i;

		if (json_is_array(aud))
			json_array_foreach(aud, i, e)
			{
				if (json_is_string(e) &&
				    strcmp(json_string_value(e), idp->cfg->client_id) == 0)
					ok = true;
			}
		if (!ok) {
			tsso_err_set(err, r->aud_mismatch, "signed UserInfo is for another client");
			goto out;
		}
	}
	if (json_object_get(c, "exp") != NULL &&
	    (oidc_json_time(json_object_get(c, "exp"), &t) != 0 || now >= t + idp->leeway)) {
		tsso_err_set(err, r->expired, "signed UserInfo has expired");
		goto out;
	}
	claims = json_incref(c);
out:
	tsso_jws_free(jws);
	return claims;
}

int oidc_userinfo_get(struct tsso_idp *idp, const struct oidc_meta *meta, const char *access_token,
                      const char *sub, long long now, json_t **ret, struct tsso_err *err)
{
	struct tsso_buf auth;
	const char *hdrs[3];
	struct tsso_fetch_req req = {.method = "GET", .url = meta->userinfo_endpoint};
	struct tsso_fetch_resp resp = {0};
	struct tsso_err ferr = {0};
	json_t *claims = NULL;
	const char *got;
	int rc = -1;

	tsso_buf_init(&auth, TSSO_TOKEN_MAX + 64);
	if (meta->userinfo_endpoint == NULL)
		return tsso_err_set(err, "userinfo.failed",
		                    "the provider has no UserInfo endpoint");
	/* RFC 6750 §2.1: the access token in the Authorization header only. */
	if (tsso_buf_adds(&auth, "Authorization: Bearer ") != 0 ||
	    tsso_buf_adds(&auth, access_token) != 0) {
		tsso_err_set(err, "userinfo.failed", "access token too large");
		goto out;
	}
	hdrs[0] = auth.ptr;
	hdrs[1] = "Accept: application/json, application/jwt";
	hdrs[2] = NULL;
	req.headers = hdrs;
	if (tsso_fetch(idp->fetcher, &req, &resp, &ferr) != 0) {
		tsso_err_set(err, "userinfo.failed", "UserInfo request failed (%s): %s",
		             tsso_err_reason(&ferr), ferr.msg);
		goto out;
	}
	if (resp.status != 200) {
		tsso_err_set(err, "userinfo.failed", "UserInfo answered HTTP %ld", resp.status);
		goto out;
	}
	if (resp.content_type != NULL && strcmp(resp.content_type, "application/jwt") == 0)
		claims = signed_claims(idp, meta, resp.body, now, err);
	else if ((claims = oidc_json_object(resp.body, resp.body_len)) == NULL)
		tsso_err_set(err, "userinfo.failed", "UserInfo is not a JSON object");
	if (claims == NULL)
		goto out;
	if (json_object_size(claims) > TSSO_TOKEN_MAX_CLAIMS) {
		tsso_err_set(err, "userinfo.failed", "UserInfo has too many claims");
		goto out;
	}
	/* §5.3.2: sub MUST be verified to match the ID token's, else the
	 * response is not about this user (token substitution). */
	got = oidc_json_str(claims, "sub");
	if (got == NULL || strcmp(got, sub) != 0) {
		tsso_err_set(err, "userinfo.sub_mismatch", "UserInfo is about another subject");
		goto out;
	}
	*ret = claims;
	claims = NULL;
	rc = 0;
out:
	json_decref(claims);
	tsso_fetch_resp_free(&resp);
	tsso_buf_free_secure(&auth);
	return rc;
}
