/* Cookies, sessions, return_to checks and refusal pages shared by the handlers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handle_int.h"
#include "tsso/cookie.h"
#include "tsso/form.h"
#include "tsso/handle.h"
#include "tsso/log.h"
#include "tsso/redirect.h"
#include "tsso/session.h"

long long hdl_now(void)
{
	return (long long)time(NULL);
}

int hdl_set_cookie(const struct tsso_req *req, struct tsso_resp *resp, const char *name,
                   const char *value, long max_age, bool remove, bool cross_site_post)
{
	const struct tsso_config *cfg = req->rt->cfg;
	struct tsso_cookie_opts o = {
	    .name = name,
	    .value = remove ? "" : value,
	    .path = req->tenant->cookie_path,
	    .max_age = max_age < 0 ? TSSO_COOKIE_SESSION : max_age,
	    .remove = remove,
	    .secure = cfg->public_https,
	    .http_only = true,
	    .same_site = TSSO_SAMESITE_LAX,
	};
	char *sc;
	int r;

	if (cross_site_post && cfg->public_https)
		o.same_site = TSSO_SAMESITE_NONE;
	sc = tsso_cookie_build(&o);
	if (sc == NULL)
		return -1;
	r = tsso_resp_cookie(resp, sc);
	free(sc);
	return r;
}

int hdl_session_get(const struct tsso_req *req, struct tsso_resp *resp, struct tsso_session **ret,
                    struct tsso_err *err)
{
	const char *value = tsso_req_cookie(req, req->rt->cfg->session.cookie_name);
	char *resealed = NULL;

	if (value == NULL || *value == '\0')
		return tsso_err_set(err, "session.none", "no session cookie");
	/* Two cookies of that name: one was planted (cookie tossing from a
	 * sibling domain); trust neither. */
	if (tsso_kvlist_count(&req->cookies, req->rt->cfg->session.cookie_name) > 1)
		return tsso_err_set(err, "session.duplicate_cookie", "two session cookies");
	if (tsso_store_session_get(req->rt->store, req->tenant_id, value, ret, &resealed, err) < 0)
		return -1;
	if (resealed != NULL) {
		(void)hdl_set_cookie(req, resp, req->rt->cfg->session.cookie_name, resealed, -1,
		                     false, false);
		free(resealed);
	}
	return 0;
}

void hdl_session_cookie_clear(const struct tsso_req *req, struct tsso_resp *resp)
{
	(void)hdl_set_cookie(req, resp, req->rt->cfg->session.cookie_name, NULL, 0, true, false);
}

int hdl_return_to(const struct tsso_req *req, const char *candidate, char **ret_location,
                  struct tsso_err *err)
{
	const struct tsso_strlist *o = &req->tenant->cfg->return_to_origins;

	return tsso_redirect_check(candidate, req->rt->cfg->public_origin,
	                           (const char *const *)o->v, o->n, ret_location, err);
}

static bool starts(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Words a person can act on, by reason family. Nothing from the request and
 * nothing from the IdP is shown verbatim, except the reason code. */
void hdl_login_refused(const struct tsso_req *req, struct tsso_resp *resp,
                       const struct tsso_err *err)
{
	const char *reason = err->reason ? err->reason : "login.failed";
	const char *title = "Sign-in failed";
	const char *detail = "Your sign-in could not be completed. Please try again.";
	int status = 400;
	bool outage = false;

	if (starts(reason, "state.")) {
		title = "Sign-in expired";
		detail = "This sign-in was already used, took too long, or was started in another "
		         "browser or tab. Please start again from the application.";
	} else if (strcmp(reason, "authz.error") == 0) {
		title = "Sign-in refused by your organisation";
		detail = "Your organisation's sign-in service did not let this sign-in through. "
		         "If you think you should have access, ask your IT administrator.";
		status = 403;
	} else if (starts(reason, "authz.") || starts(reason, "id_token.") ||
	           starts(reason, "userinfo.") || starts(reason, "token.")) {
		title = "Sign-in could not be verified";
		detail = "The answer from your organisation's sign-in service did not pass our "
		         "security checks, so you were not signed in. Please try again; if it "
		         "keeps happening, give your IT administrator the reference below.";
		if (strcmp(reason, "token.http_error") == 0)
			status = 502;
	} else if (starts(reason, "discovery.") || starts(reason, "jwks.") ||
	           starts(reason, "fetch.") || starts(reason, "par.") ||
	           strcmp(reason, "store.unavailable") == 0) {
		title = "Sign-in temporarily unavailable";
		detail = "We cannot reach a service needed to sign you in right now. Please try "
		         "again in a minute.";
		status = 503;
		outage = true;
	} else if (strcmp(reason, "mapping.claims_unavailable") == 0) {
		/* The IdP's claims endpoint failed: an outage, not the user's fault. */
		title = "Sign-in temporarily unavailable";
		detail = "We could not fetch your group memberships from your organisation's "
		         "sign-in service. Please try again in a minute.";
		status = 503;
		outage = true;
	} else if (strcmp(reason, "mapping.internal") == 0) {
		status = 500;
	} else if (strcmp(reason, "mapping.access_denied") == 0) {
		title = "Access not granted";
		detail = err->msg[0]
		             ? err->msg
		             : "Your account does not meet this application's access rules.";
		status = 403;
	} else if (starts(reason, "mapping.")) {
		title = "Your account is missing information";
		detail = err->msg[0] ? err->msg
		                     : "Your organisation did not send the information needed to "
		                       "open your dashboards.";
		status = 403;
	} else if (starts(reason, "redirect.") || starts(reason, "login.")) {
		title = "Sign-in link not accepted";
		detail = "The link you followed asks to go somewhere this application does not "
		         "allow. Start again from the application.";
	} else if (starts(reason, "session.")) {
		title = "Session could not be created";
		detail = "Your sign-in worked but the session could not be stored. Please try "
		         "again.";
		status = 500;
	}
	tsso_log(outage ? TSSO_LOG_WARN : TSSO_LOG_INFO, "login.refused", "request_id",
	         req->request_id, "tenant", req->tenant_id, "reason", reason, "detail", err->msg,
	         NULL);
	tsso_resp_error(req, resp, status, reason, title, detail);
	if (outage)
		(void)tsso_resp_header(resp, "Retry-After", "30");
}

bool tsso_local_always(const struct tsso_req *req)
{
	(void)req;
	return true;
}
