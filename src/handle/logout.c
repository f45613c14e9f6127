/*
 * Ending sessions: RP-initiated logout ({base}/{tenant}/logout, to the IdP's
 * end_session_endpoint), back-channel logout (the IdP POSTs a logout token,
 * OIDC Back-Channel Logout 1.0 §2.5-2.8) and front-channel logout (OIDC
 * Front-Channel Logout 1.0 §2: iss + sid in an iframe GET).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle_int.h"
#include "tsso/crypto.h"
#include "tsso/handle.h"
#include "tsso/log.h"
#include "tsso/oidc.h"
#include "tsso/session.h"

static const char signed_out_page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out"
    "</title></head><body><h1>You are signed out</h1><p>You can close this window.</p>"
    "</body></html>\n";

void tsso_handle_logout(struct tsso_req *req, struct tsso_resp *resp)
{
	const struct tsso_tenant_cfg *tc = req->tenant->cfg;
	const char *plr = tsso_req_param(req, "post_logout_redirect_uri");
	struct tsso_session *s = NULL;
	struct tsso_err err = {0};
	char *url = NULL, *state = NULL;

	if (tsso_req_param_count(req, "post_logout_redirect_uri") > 1) {
		tsso_resp_error(req, resp, 400, "logout.duplicate_param", "Sign-out not accepted",
		                "The sign-out link is malformed.");
		return;
	}
	/* Only URIs the tenant lists, compared exactly (RP-Initiated Logout §3). */
	if (plr != NULL) {
		bool ok = false;

		for (size_t i = 0; i < tc->post_logout_redirect_uris.n && !ok; i++)
			ok = strcmp(tc->post_logout_redirect_uris.v[i], plr) == 0;
		if (!ok) {
			tsso_resp_error(req, resp, 400, "logout.redirect_not_allowed",
			                "Sign-out link not accepted",
			                "The sign-out link asks to go somewhere this application "
			                "does not allow.");
			return;
		}
	} else if (tc->post_logout_redirect_uris.n > 0) {
		plr = tc->post_logout_redirect_uris.v[0];
	}
	if (hdl_session_get(req, resp, &s, &err) == 0) {
		if (tsso_store_session_delete(req->rt->store, s, &err) < 0)
			tsso_log(TSSO_LOG_WARN, "logout.store_failed", "request_id",
			         req->request_id, "reason", err.reason, NULL);
		tsso_log(TSSO_LOG_INFO, "logout.rp_initiated", "request_id", req->request_id,
		         "tenant", req->tenant_id, "sub", s->sub, NULL);
	}
	hdl_session_cookie_clear(req, resp);
	state = tsso_rand_token(16);
	tsso_err_clear(&err);
	if (tsso_idp_end_session_url(req->tenant->idp, s ? s->id_token : NULL, plr, state,
	                             hdl_now(), &url, &err) == 0) {
		tsso_resp_redirect(resp, strcmp(req->method, "POST") == 0 ? 303 : 302, url);
	} else if (plr != NULL) {
		/* The IdP offers no end_session_endpoint: local logout only. */
		tsso_resp_redirect(resp, strcmp(req->method, "POST") == 0 ? 303 : 302, plr);
	} else {
		tsso_resp_text(resp, 200, "text/html; charset=utf-8", signed_out_page);
	}
	free(url);
	free(state);
	tsso_session_free(s);
}

static void bcl_refuse(struct tsso_req *req, struct tsso_resp *resp, int status,
                       const struct tsso_err *err)
{
	tsso_log(TSSO_LOG_INFO, "logout.refused", "request_id", req->request_id, "tenant",
	         req->tenant_id, "reason", err->reason, "detail", err->msg, NULL);
	/* §2.8: 400 with an OAuth error body; nothing ends. */
	tsso_resp_json(resp, status,
	               json_pack("{s:s, s:s}", "error",
	                         status == 400 ? "invalid_request" : "temporarily_unavailable",
	                         "error_description", err->reason ? err->reason : "refused"));
	resp->reason = err->reason;
}

void tsso_handle_backchannel_logout(struct tsso_req *req, struct tsso_resp *resp)
{
	const char *token = tsso_req_form(req, "logout_token");
	struct tsso_logout_claims lc = {0};
	struct tsso_err err = {0};
	long long now = hdl_now();
	char key[512];
	int r;

	if (token == NULL || tsso_req_param_count(req, "logout_token") != 1) {
		tsso_err_set(&err, "logout_token.missing", "no single logout_token form parameter");
		bcl_refuse(req, resp, 400, &err);
		return;
	}
	if (tsso_idp_validate_logout_token(req->tenant->idp, token, now, &lc, &err) < 0) {
		bcl_refuse(req, resp, 400, &err);
		return;
	}
	snprintf(key, sizeof(key), "jti:%s:%.400s", req->tenant_id, lc.jti);
	if (tsso_store_claim_once(req->rt->store, key,
	                          (long)(lc.exp > now ? lc.exp - now + 60 : 600) * 1000,
	                          &err) < 0) {
		if (err.reason && strcmp(err.reason, "store.replayed") == 0) {
			tsso_err_set(&err, "logout_token.replayed", "jti already seen");
			bcl_refuse(req, resp, 400, &err);
		} else {
			bcl_refuse(req, resp, 503, &err);
		}
		goto out;
	}
	/* §2.4: with a sid, only the sessions of that IdP session end (the
	 * user's other devices stay signed in); without one, every session of
	 * iss + sub. */
	r = lc.sid != NULL ? tsso_store_end_by_sid(req->rt->store, req->tenant_id, lc.sid, &err)
	                   : tsso_store_end_by_sub(req->rt->store, req->tenant_id, lc.sub, &err);
	if (r < 0) {
		bcl_refuse(req, resp, 503, &err);
		goto out;
	}
	tsso_log(TSSO_LOG_INFO, "logout.backchannel", "request_id", req->request_id, "tenant",
	         req->tenant_id, "sub", lc.sub, "sid", lc.sid ? "present" : NULL, NULL);
	tsso_resp_text(resp, 200, "application/json", "{}");
out:
	tsso_logout_claims_free(&lc);
}

void tsso_handle_frontchannel_logout(struct tsso_req *req, struct tsso_resp *resp)
{
	const char *iss = tsso_req_query(req, "iss"), *sid = tsso_req_query(req, "sid");
	struct tsso_err err = {0};

	/* §2: with iss and sid, the session named; iss must be this tenant's IdP. */
	if (iss == NULL || sid == NULL || strcmp(iss, tsso_idp_issuer(req->tenant->idp)) != 0 ||
	    tsso_req_param_count(req, "sid") != 1) {
		tsso_resp_error(req, resp, 400, "logout.frontchannel_invalid", "Sign-out refused",
		                "This sign-out request does not come from your organisation's "
		                "sign-in service.");
		return;
	}
	if (tsso_store_end_by_sid(req->rt->store, req->tenant_id, sid, &err) < 0) {
		tsso_resp_error(req, resp, 503, err.reason, "Sign-out unavailable",
		                "Try again shortly.");
		return;
	}
	hdl_session_cookie_clear(req, resp);
	tsso_resp_text(resp, 200, "text/html; charset=utf-8", signed_out_page);
	/* Rendered in the IdP's iframe (Front-Channel Logout §2). */
	(void)tsso_resp_header(resp, "Content-Security-Policy",
	                       "default-src 'none'; frame-ancestors *");
}
