/*
 * Starting a login: GET {base}/{tenant}/login (also third-party initiated,
 * OIDC Core §4) and GET {base}/login?email=… (find the tenant by domain).
 * The in-flight state is sealed into a cookie of its own, scoped to the
 * tenant, so any instance can finish the login; at most
 * TSSO_LOGIN_STATES_PER_BROWSER are kept per browser, oldest evicted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle_int.h"
#include "login_state.h"
#include "tsso/aead.h"
#include "tsso/buf.h"
#include "tsso/config.h"
#include "tsso/form.h"
#include "tsso/handle.h"
#include "tsso/limits.h"
#include "tsso/oidc.h"

#define LOGIN_HINT_MAX 256

/* Parameters this route reads; each may appear once (RFC 6749 §3.1 spirit). */
static const char *const login_params[] = {"return_to", "iss", "target_link_uri", "login_hint",
                                           NULL};

/* Keep at most TSSO_LOGIN_STATES_PER_BROWSER - 1 older states, so that with
 * the new one the bound holds. Unreadable ones are dropped first. */
static void evict_old_states(const struct tsso_req *req, struct tsso_resp *resp)
{
	struct {
		const char *name;
		long long created;
	} found[TSSO_HTTP_MAX_COOKIES];
	size_t n = 0;
	const char *prefix = NULL;
	char pbuf[160];

	snprintf(pbuf, sizeof(pbuf), "%s%s", req->rt->cfg->session.cookie_name,
	         TSSO_LOGIN_STATE_COOKIE_INFIX);
	prefix = pbuf;
	for (size_t i = 0; i < req->cookies.n && n < TSSO_HTTP_MAX_COOKIES; i++) {
		struct tsso_login_state *ls = NULL;

		if (strncmp(req->cookies.v[i].key, prefix, strlen(prefix)) != 0)
			continue;
		ls = hdl_login_state_open(req, req->cookies.v[i].value, NULL);
		found[n].name = req->cookies.v[i].key;
		found[n].created = ls ? ls->created_at : 0;
		n++;
		tsso_login_state_free(ls);
	}
	while (n + 1 > TSSO_LOGIN_STATES_PER_BROWSER) {
		size_t oldest = 0;

		for (size_t i = 1; i < n; i++)
			if (found[i].created < found[oldest].created)
				oldest = i;
		(void)hdl_set_cookie(req, resp, found[oldest].name, NULL, 0, true, false);
		found[oldest] = found[--n];
	}
}

bool tsso_login_local(const struct tsso_req *req)
{
	return tsso_idp_begin_is_local(req->tenant->idp, hdl_now(), HDL_LOCAL_MARGIN_S);
}

void tsso_handle_login(struct tsso_req *req, struct tsso_resp *resp)
{
	const struct tsso_tenant_cfg *tc = req->tenant->cfg;
	const char *iss, *target, *hint;
	struct tsso_idp_begin_opts opts = {0};
	struct tsso_login_state *ls = NULL;
	struct tsso_err err = {0};
	char *location = NULL, *url = NULL, *sealed = NULL, *name = NULL;

	for (size_t i = 0; login_params[i]; i++)
		if (tsso_req_param_count(req, login_params[i]) > 1) {
			tsso_err_set(&err, "login.duplicate_param", "parameter %s repeated",
			             login_params[i]);
			goto refuse;
		}
	/* Third-party-initiated login (OIDC Core §4): the issuer must be this
	 * tenant's, and target_link_uri is checked exactly like return_to. */
	iss = tsso_req_param(req, "iss");
	if (iss != NULL && strcmp(iss, tc->issuer) != 0) {
		tsso_err_set(&err, "login.iss_mismatch", "iss is not this tenant's issuer");
		goto refuse;
	}
	target = tsso_req_param(req, "target_link_uri");
	if (target == NULL)
		target = tsso_req_param(req, "return_to");
	if (target == NULL || *target == '\0')
		target = tc->default_return_to;
	if (hdl_return_to(req, target, &location, &err) < 0)
		goto refuse;
	hint = tsso_req_param(req, "login_hint");
	if (hint != NULL && (strlen(hint) > LOGIN_HINT_MAX || *hint == '\0'))
		hint = NULL;
	opts.return_to = location;
	opts.login_hint = hint;
	if (tsso_idp_begin(req->tenant->idp, &opts, hdl_now(), &url, &ls, &err) < 0)
		goto refuse;
	if (hdl_login_state_seal(req, ls, &name, &sealed, &err) < 0)
		goto refuse;
	evict_old_states(req, resp);
	if (hdl_set_cookie(req, resp, name, sealed, TSSO_LOGIN_STATE_TTL, false,
	                   tc->response_mode == TSSO_RESPONSE_FORM_POST) < 0) {
		tsso_err_set(&err, "login.cookie", "the login-state cookie cannot be built");
		goto refuse;
	}
	tsso_resp_redirect(resp, 302, url);
	goto out;
refuse:
	hdl_login_refused(req, resp, &err);
out:
	free(location);
	free(url);
	free(name);
	free(sealed);
	tsso_login_state_free(ls);
}

static const char email_form[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in"
    "</title><meta name=\"viewport\" content=\"width=device-width\"><style>body{font-family:"
    "system-ui,sans-serif;max-width:30em;margin:4em auto;padding:0 1em}input{font-size:1em;"
    "padding:.4em;width:100%;box-sizing:border-box;margin:.5em 0}</style></head>\n<body>"
    "<h1>Sign in</h1><form method=\"get\"><label for=\"email\">Work email</label>"
    "<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required "
    "autofocus><input type=\"submit\" value=\"Continue\"></form></body></html>\n";

/* GET {base}/login?email=…: the tenant that owns the email's domain. */
void tsso_handle_login_email(struct tsso_req *req, struct tsso_resp *resp)
{
	const char *email = tsso_req_query(req, "email");
	const char *ret = tsso_req_query(req, "return_to");
	const struct tsso_tenant_cfg *tc;
	struct tsso_buf b;
	int r = 0;

	if (email == NULL || *email == '\0') {
		tsso_resp_text(resp, 200, "text/html; charset=utf-8", email_form);
		return;
	}
	if (tsso_req_param_count(req, "email") > 1 || tsso_req_param_count(req, "return_to") > 1 ||
	    strlen(email) > LOGIN_HINT_MAX) {
		tsso_resp_error(req, resp, 400, "login.bad_email", "Email not accepted",
		                "Enter one work email address.");
		return;
	}
	tc = tsso_config_tenant_by_email(req->rt->cfg, email);
	if (tc == NULL) {
		tsso_resp_error(req, resp, 404, "login.unknown_domain", "Organisation not found",
		                "We do not know an organisation for this email address. Check it, "
		                "or use the sign-in link your administrator gave you.");
		return;
	}
	tsso_buf_init(&b, TSSO_HTTP_MAX_URL * 2);
	r |= tsso_buf_addf(&b, "%s/%s/login?", req->rt->cfg->public_url, tc->id);
	r |= tsso_form_encode_append(&b, "login_hint", email);
	if (ret != NULL)
		r |= tsso_form_encode_append(&b, "return_to", ret);
	if (r != 0 || b.ptr == NULL) {
		tsso_buf_free(&b);
		tsso_resp_error(req, resp, 400, "login.bad_email", "Email not accepted",
		                "Enter one work email address.");
		return;
	}
	tsso_resp_redirect(resp, 302, b.ptr);
	tsso_buf_free(&b);
}
