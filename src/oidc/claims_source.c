/* Distributed claims (OIDC Core §5.6.2): an authenticated GET to a claims endpoint of the IdP. */
#include <stdlib.h>
#include <string.h>

#include "oidc_int.h"
#include "tsso/limits.h"
#include "tsso/url.h"

/* The endpoint comes from the IdP's token: only the issuer's own origin and
 * the origins the tenant lists may receive the access token. Origins are
 * compared as the WHATWG parser serializes them, so case, default ports and
 * userinfo tricks do not matter. */
static int origin_allowed(const struct tsso_idp *idp, const char *url, struct tsso_err *err)
{
	struct tsso_url *u = NULL, *iss = NULL;
	char *origin = NULL, *iss_origin = NULL;
	struct tsso_err perr = {0};
	bool ok = false;

	if (tsso_url_parse(url, NULL, &u, &perr) != 0 ||
	    tsso_url_parse(idp->cfg->issuer, NULL, &iss, &perr) != 0) {
		tsso_err_set(err, "claims.endpoint_not_allowed",
		             "the claims endpoint is not a URL");
		goto out;
	}
	if (tsso_url_had_userinfo(u)) {
		tsso_err_set(err, "claims.endpoint_not_allowed",
		             "the claims endpoint carries user information");
		goto out;
	}
	origin = tsso_url_origin(u);
	iss_origin = tsso_url_origin(iss);
	if (origin == NULL || iss_origin == NULL) {
		tsso_err_set(err, "claims.endpoint_not_allowed", "out of memory");
		goto out;
	}
	ok = strcmp(origin, iss_origin) == 0;
	for (size_t i = 0; !ok && i < idp->cfg->distributed_claims_origins.n; i++)
		ok = strcmp(origin, idp->cfg->distributed_claims_origins.v[i]) == 0;
	if (!ok)
		tsso_err_set(err, "claims.endpoint_not_allowed",
		             "the claims endpoint is neither at the issuer's origin nor listed in "
		             "distributed_claims_origins");
out:
	free(origin);
	free(iss_origin);
	tsso_url_free(u);
	tsso_url_free(iss);
	return ok ? 0 : -1;
}

int tsso_idp_fetch_claims(struct tsso_idp *idp, const char *url, const char *access_token,
                          json_t **ret, struct tsso_err *err)
{
	struct tsso_buf auth;
	const char *hdrs[3];
	struct tsso_fetch_req req = {.method = "GET", .url = url};
	struct tsso_fetch_resp resp = {0};
	struct tsso_err ferr = {0};
	json_t *obj = NULL;
	int rc = -1;

	tsso_buf_init(&auth, TSSO_TOKEN_MAX + 64);
	if (url == NULL || access_token == NULL || *access_token == '\0') {
		tsso_err_set(err, "claims.fetch_failed", "no endpoint or no access token");
		goto out;
	}
	if (!oidc_url_ok(url, idp->development)) {
		tsso_err_set(err, "claims.endpoint_not_allowed",
		             "the claims endpoint is not https");
		goto out;
	}
	if (origin_allowed(idp, url, err) != 0)
		goto out;
	/* §5.6.2: the access token authorizes the request (RFC 6750 §2.1). */
	if (tsso_buf_adds(&auth, "Authorization: Bearer ") != 0 ||
	    tsso_buf_adds(&auth, access_token) != 0) {
		tsso_err_set(err, "claims.fetch_failed", "access token too large");
		goto out;
	}
	hdrs[0] = auth.ptr;
	hdrs[1] = OIDC_ACCEPT_JSON;
	hdrs[2] = NULL;
	req.headers = hdrs;
	if (tsso_fetch(idp->fetcher, &req, &resp, &ferr) != 0) {
		tsso_err_set(err, "claims.fetch_failed", "claims request failed (%s)",
		             tsso_err_reason(&ferr));
		goto out;
	}
	if (resp.status != 200) {
		tsso_err_set(err, "claims.fetch_failed", "claims endpoint answered HTTP %ld",
		             resp.status);
		goto out;
	}
	/* A JWT answer would have to be verified with the claims provider's
	 * keys, which we do not have: refuse rather than trust it unverified. */
	if (resp.content_type != NULL && strcmp(resp.content_type, "application/jwt") == 0) {
		tsso_err_set(err, "claims.malformed", "signed claims answers are not supported");
		goto out;
	}
	obj = oidc_json_object(resp.body, resp.body_len);
	if (obj == NULL || json_object_size(obj) > TSSO_TOKEN_MAX_CLAIMS) {
		tsso_err_set(err, "claims.malformed", "claims answer is not a JSON object");
		goto out;
	}
	*ret = obj;
	obj = NULL;
	rc = 0;
out:
	json_decref(obj);
	tsso_fetch_resp_free(&resp);
	tsso_buf_free_secure(&auth);
	return rc;
}
