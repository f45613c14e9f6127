/* The per-tenant relying party: ties discovery, keys, the request, the token exchange and the
 * validations together. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "oidc_int.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

#define NEVER (LLONG_MIN / 4)

void tsso_idp_free(struct tsso_idp *idp)
{
	if (idp == NULL)
		return;
	oidc_meta_unref(idp->meta);
	oidc_keys_unref(idp->keys);
	tsso_fetcher_free(idp->fetcher);
	tsso_signer_free(idp->client_signer);
	tsso_jwe_key_free(idp->jwe_key);
	pthread_mutex_destroy(&idp->mu);
	pthread_mutex_destroy(&idp->fetch_mu);
	free(idp->redirect_uri);
	free(idp);
}

static int check_cfg(const struct tsso_tenant_cfg *c, const char *redirect_uri, bool dev,
                     struct tsso_err *err)
{
	if (c->id == NULL || c->issuer == NULL || c->client_id == NULL || redirect_uri == NULL)
		return tsso_err_set(err, "oidc.config",
		                    "issuer, client_id and redirect_uri are required");
	/* OIDC Core §2: the issuer is an https URL without query or fragment. */
	if (!oidc_url_ok(c->issuer, dev) || strchr(c->issuer, '?') != NULL)
		return tsso_err_set(err, "oidc.config", "issuer must be an https URL");
	if (json_is_object(c->extra_auth_params)) {
		const char *k;
		json_t *v;

		json_object_foreach (c->extra_auth_params, k, v) {
			if (oidc_param_reserved(k) || !json_is_string(v))
				return tsso_err_set(err, "oidc.config",
				                    "extra_auth_params may not set %s", k);
		}
	}
	if ((c->auth_method == TSSO_AUTH_CLIENT_SECRET_BASIC ||
	     c->auth_method == TSSO_AUTH_CLIENT_SECRET_POST ||
	     c->auth_method == TSSO_AUTH_CLIENT_SECRET_JWT) &&
	    c->client_secret.value == NULL)
		return tsso_err_set(err, "oidc.config",
		                    "this client authentication needs a secret");
	if (c->auth_method == TSSO_AUTH_PRIVATE_KEY_JWT && c->client_private_key_file == NULL)
		return tsso_err_set(err, "oidc.config",
		                    "private_key_jwt needs client_private_key_file");
	return 0;
}

struct tsso_idp *tsso_idp_new(const struct tsso_tenant_cfg *cfg, const char *redirect_uri,
                              bool development, struct tsso_err *err)
{
	struct tsso_fetcher_opts fo = {
	    .ca_file = cfg->ca_file,
	    .allow_http_loopback = development,
	    .max_connections = cfg->max_idp_calls > 0 ? (size_t)cfg->max_idp_calls : 0,
	};
	struct tsso_idp *idp = NULL;

	if (check_cfg(cfg, redirect_uri, development, err) != 0)
		return NULL;
	idp = calloc(1, sizeof(*idp));
	if (idp == NULL)
		goto oom;
	if (pthread_mutex_init(&idp->mu, NULL) != 0)
		goto oom_nomutex;
	if (pthread_mutex_init(&idp->fetch_mu, NULL) != 0) {
		pthread_mutex_destroy(&idp->mu);
		goto oom_nomutex;
	}
	idp->cfg = cfg;
	idp->development = development;
	idp->meta_last_attempt = NEVER;
	idp->jwks_last_attempt = NEVER;
	idp->jwks_last_refetch = NEVER;
	/* One leeway for every time claim, bounded. */
	idp->leeway = cfg->clock_leeway < 0 ? TSSO_CLOCK_LEEWAY_DEFAULT : cfg->clock_leeway;
	if (idp->leeway > TSSO_CLOCK_LEEWAY_MAX)
		idp->leeway = TSSO_CLOCK_LEEWAY_MAX;
	idp->redirect_uri = strdup(redirect_uri);
	if (idp->redirect_uri == NULL)
		goto oom;
	idp->fetcher = tsso_fetcher_new(&fo, err);
	if (idp->fetcher == NULL)
		goto fail;
	if (cfg->auth_method == TSSO_AUTH_PRIVATE_KEY_JWT) {
		idp->client_signer = tsso_signer_load_pem(
		    cfg->client_private_key_file,
		    cfg->client_key_alg != NULL ? cfg->client_key_alg : "RS256", NULL, err);
		if (idp->client_signer == NULL)
			goto fail;
	}
	if (cfg->id_token_decryption_key_file != NULL) {
		idp->jwe_key = tsso_jwe_key_load_pem(cfg->id_token_decryption_key_file, NULL, err);
		if (idp->jwe_key == NULL)
			goto fail;
	}
	return idp;
oom_nomutex:
	free(idp);
	idp = NULL;
oom:
	tsso_err_set(err, "oidc.internal", "out of memory");
fail:
	tsso_idp_free(idp);
	return NULL;
}

const char *tsso_idp_issuer(const struct tsso_idp *idp)
{
	return idp->cfg->issuer;
}

const char *tsso_idp_tenant(const struct tsso_idp *idp)
{
	return idp->cfg->id;
}

void tsso_idp_status(struct tsso_idp *idp, long long now, struct tsso_idp_status *ret)
{
	struct tsso_idp_status s = {.metadata_age = -1};
	bool meta_ok, keys_ok;

	pthread_mutex_lock(&idp->mu);
	meta_ok = idp->meta != NULL && now - idp->meta->fetched_at < TSSO_META_MAX_STALE_S;
	keys_ok = idp->keys != NULL && now - idp->keys->fetched_at < TSSO_META_MAX_STALE_S;
	if (idp->meta != NULL)
		s.metadata_age = now - idp->meta->fetched_at;
	s.reason = idp->last_reason;
	if (meta_ok && keys_ok)
		s.health = TSSO_IDP_OK;
	else if (!idp->tried || (idp->last_reason == NULL && !meta_ok))
		s.health = TSSO_IDP_LOADING;
	else
		s.health = TSSO_IDP_FAILING;
	s.stale = s.health == TSSO_IDP_OK && idp->last_reason != NULL;
	pthread_mutex_unlock(&idp->mu);
	if (s.health == TSSO_IDP_FAILING && s.reason == NULL)
		s.reason = "discovery.stale";
	s.connections = tsso_fetcher_connects(idp->fetcher);
	*ret = s;
}

/* Metadata cached and not due for refresh within margin_s (idp->mu held). */
static bool meta_fresh_locked(const struct tsso_idp *idp, long long now, long margin_s)
{
	return idp->meta != NULL && now - idp->meta->fetched_at < TSSO_META_REFRESH_S - margin_s;
}

bool tsso_idp_meta_fresh(struct tsso_idp *idp, long long now, long margin_s)
{
	bool fresh;

	pthread_mutex_lock(&idp->mu);
	fresh = meta_fresh_locked(idp, now, margin_s);
	pthread_mutex_unlock(&idp->mu);
	return fresh;
}

bool tsso_idp_begin_is_local(struct tsso_idp *idp, long long now, long margin_s)
{
	const struct tsso_tenant_cfg *c = idp->cfg;
	bool local;

	pthread_mutex_lock(&idp->mu);
	local = meta_fresh_locked(idp, now, margin_s) && c->par != TSSO_PAR_REQUIRED &&
	        !(idp->meta->par_endpoint != NULL &&
	          (c->par != TSSO_PAR_NEVER || idp->meta->require_par));
	pthread_mutex_unlock(&idp->mu);
	return local;
}

int tsso_idp_refresh_metadata(struct tsso_idp *idp, long long now, bool force, struct tsso_err *err)
{
	struct oidc_meta *m = NULL;
	bool keys_due;
	int rc = -1;

	pthread_mutex_lock(&idp->fetch_mu);
	pthread_mutex_lock(&idp->mu);
	m = idp->meta;
	if (m != NULL)
		atomic_fetch_add(&m->refs, 1);
	pthread_mutex_unlock(&idp->mu);
	if (force || m == NULL || now - m->fetched_at >= TSSO_META_REFRESH_S) {
		oidc_meta_unref(m);
		m = NULL;
		if (oidc_meta_fetch(idp, now, err) != 0)
			goto out;
		pthread_mutex_lock(&idp->mu);
		m = idp->meta;
		atomic_fetch_add(&m->refs, 1);
		pthread_mutex_unlock(&idp->mu);
	}
	pthread_mutex_lock(&idp->mu);
	keys_due = force || idp->keys == NULL || strcmp(idp->keys->uri, m->jwks_uri) != 0 ||
	           now - idp->keys->fetched_at >= TSSO_META_REFRESH_S;
	pthread_mutex_unlock(&idp->mu);
	if (keys_due && oidc_keys_fetch(idp, m, now, err) != 0)
		goto out;
	rc = 0;
out:
	pthread_mutex_unlock(&idp->fetch_mu);
	oidc_meta_unref(m);
	return rc;
}

int tsso_idp_begin(struct tsso_idp *idp, const struct tsso_idp_begin_opts *opts, long long now,
                   char **ret_url, struct tsso_login_state **ret_state, struct tsso_err *err)
{
	const struct tsso_tenant_cfg *c = idp->cfg;
	struct oidc_meta *meta = NULL;
	struct tsso_login_state *ls = NULL;
	struct tsso_buf params, url;
	char *request_uri = NULL;
	bool par;
	int rc = -1;

	tsso_buf_init(&params, TSSO_HTTP_MAX_URL);
	tsso_buf_init(&url, TSSO_HTTP_MAX_URL);
	if (oidc_meta_get(idp, now, &meta, err) != 0)
		goto out;
	ls = oidc_login_state_new(c->id, opts != NULL ? opts->return_to : NULL, c->max_age, now);
	if (ls == NULL || oidc_authz_params(idp, ls, opts, &params) != 0) {
		tsso_err_set(err, "oidc.internal", "cannot build the authorization request");
		goto out;
	}
	/* RFC 9126 §5: PAR when the tenant asks for it (required), when it is
	 * offered and the tenant leaves it to us (auto), or when the provider
	 * requires it. */
	par = meta->par_endpoint != NULL && (c->par != TSSO_PAR_NEVER || meta->require_par);
	if (c->par == TSSO_PAR_REQUIRED && meta->par_endpoint == NULL) {
		tsso_err_set(err, "par.required", "the provider offers no PAR endpoint");
		goto out;
	}
	/* RFC 6749 §3.1: keep the endpoint's own query, add ours after it. */
	if (tsso_buf_adds(&url, meta->authorization_endpoint) != 0 ||
	    tsso_buf_adds(&url, strchr(meta->authorization_endpoint, '?') != NULL ? "&" : "?") !=
	        0) {
		tsso_err_set(err, "oidc.internal", "authorization URL too long");
		goto out;
	}
	if (par) {
		if (oidc_par_push(idp, meta, params.ptr, now, &request_uri, err) != 0)
			goto out;
		/* RFC 9126 §4: only client_id and request_uri travel in the browser. */
		if (oidc_form_add(&url, "client_id", c->client_id) != 0 ||
		    oidc_form_add(&url, "request_uri", request_uri) != 0) {
			tsso_err_set(err, "oidc.internal", "authorization URL too long");
			goto out;
		}
	} else if (tsso_buf_add(&url, params.ptr, params.len) != 0) {
		tsso_err_set(err, "oidc.internal", "authorization URL too long");
		goto out;
	}
	*ret_url = tsso_buf_take(&url);
	if (*ret_url == NULL) {
		tsso_err_set(err, "oidc.internal", "out of memory");
		goto out;
	}
	*ret_state = ls;
	ls = NULL;
	rc = 0;
out:
	free(request_uri);
	tsso_login_state_free(ls);
	tsso_buf_free_secure(&params);
	tsso_buf_free(&url);
	oidc_meta_unref(meta);
	return rc;
}

void tsso_oidc_result_free(struct tsso_oidc_result *r)
{
	if (r == NULL)
		return;
	json_decref(r->claims);
	json_decref(r->userinfo);
	free(r->sub);
	free(r->sid);
	tsso_free_secret(r->id_token);
	tsso_free_secret(r->access_token);
	tsso_free_secret(r->refresh_token);
	memset(r, 0, sizeof(*r));
}

/* Verify the ID token of a token response and fill the result. */
static int finish_tokens(struct tsso_idp *idp, const struct oidc_meta *meta, struct oidc_tokens *t,
                         const struct oidc_id_expect *x_in, long long now,
                         struct tsso_oidc_result *ret, struct tsso_err *err)
{
	struct tsso_oidc_result r = {0};
	struct oidc_id_expect x = *x_in;
	struct tsso_strlist acr = {0};
	char *acr_v[1];
	struct tsso_jws *jws = NULL;
	const char *typ;
	json_t *claims;
	int rc = -1;

	if (oidc_jwt_verify(idp, meta, t->id_token, now, &oidc_id_token_reasons, &jws, err) != 0)
		goto out;
	/* Explicitly typed tokens of another kind (RFC 8725 §3.11) are not ID
	 * tokens: a logout token or a JWT access token cannot log anyone in. */
	typ = oidc_json_str(tsso_jws_header(jws), "typ");
	if (typ != NULL &&
	    (strcasestr(typ, "logout+jwt") != NULL || strcasestr(typ, "at+jwt") != NULL)) {
		tsso_err_set(err, "id_token.malformed", "the token is typed as another kind");
		goto out;
	}
	claims = tsso_jws_claims(jws);
	x.alg = tsso_jws_alg(jws);
	x.access_token = t->access_token;
	if (idp->cfg->acr_essential && idp->cfg->acr_values != NULL) {
		acr_v[0] = idp->cfg->acr_values;
		acr.v = acr_v;
		acr.n = 1;
		x.acr_required = &acr;
	}
	if (oidc_id_token_check_claims(claims, &x, err) != 0)
		goto out;
	r.claims = json_incref(claims);
	r.sub = strdup(oidc_json_str(claims, "sub"));
	if (oidc_json_str(claims, "sid") != NULL)
		r.sid = strdup(oidc_json_str(claims, "sid"));
	(void)oidc_json_time(json_object_get(claims, "exp"), &r.id_token_exp);
	if (r.sub == NULL || (oidc_json_str(claims, "sid") != NULL && r.sid == NULL)) {
		tsso_err_set(err, "oidc.internal", "out of memory");
		goto out;
	}
	/* §5.3.2: UserInfo's sub must be the ID token's. */
	if (idp->cfg->userinfo &&
	    oidc_userinfo_get(idp, meta, t->access_token, r.sub, now, &r.userinfo, err) != 0)
		goto out;
	r.access_expires_at = t->expires_in >= 0 ? now + t->expires_in : 0;
	r.id_token = t->id_token;
	r.access_token = t->access_token;
	r.refresh_token = t->refresh_token;
	t->id_token = t->access_token = t->refresh_token = NULL;
	*ret = r;
	memset(&r, 0, sizeof(r));
	rc = 0;
out:
	tsso_oidc_result_free(&r);
	tsso_jws_free(jws);
	return rc;
}

/* A code exchange between the authorization response's checks and the
 * token response: what the token call needs, and its outcome once in. */
struct tsso_idp_exchange {
	struct tsso_idp *idp;
	const struct tsso_login_state *ls;
	struct oidc_meta *meta;
	struct tsso_buf form;
	struct oidc_token_call call;
	bool have_outcome;
	int fetch_rc;
	struct tsso_fetch_resp resp;
	struct tsso_err ferr;
};

void tsso_idp_exchange_free(struct tsso_idp_exchange *x)
{
	if (x == NULL)
		return;
	oidc_token_call_clear(&x->call);
	tsso_buf_free_secure(&x->form);
	tsso_fetch_resp_free(&x->resp);
	oidc_meta_unref(x->meta);
	free(x);
}

int tsso_idp_exchange_begin(struct tsso_idp *idp, const struct tsso_login_state *ls,
                            const struct tsso_oidc_param *params, size_t n_params, long long now,
                            struct tsso_idp_exchange **ret, struct tsso_err *err)
{
	struct tsso_idp_exchange *x = calloc(1, sizeof(*x));
	const char *code = NULL;

	if (x == NULL)
		return tsso_err_set(err, "oidc.internal", "out of memory");
	x->idp = idp;
	x->ls = ls;
	tsso_buf_init(&x->form, TSSO_OUT_MAX_RESPONSE);
	if (oidc_meta_get(idp, now, &x->meta, err) != 0)
		goto fail;
	if (oidc_authz_response(idp, x->meta, ls, params, n_params, now, &code, err) != 0)
		goto fail;
	/* RFC 6749 §4.1.3 with the PKCE verifier (RFC 7636 §4.5). */
	if (oidc_form_add(&x->form, "grant_type", "authorization_code") != 0 ||
	    oidc_form_add(&x->form, "code", code) != 0 ||
	    oidc_form_add(&x->form, "redirect_uri", idp->redirect_uri) != 0 ||
	    oidc_form_add(&x->form, "code_verifier", ls->code_verifier) != 0) {
		tsso_err_set(err, "authz.malformed", "the code is too large");
		goto fail;
	}
	if (oidc_token_call_prepare(idp, x->meta, &x->form, now, &x->call, err) != 0)
		goto fail;
	*ret = x;
	return 0;
fail:
	tsso_idp_exchange_free(x);
	return -1;
}

struct tsso_fetch_op *tsso_idp_exchange_op(struct tsso_idp_exchange *x, struct tsso_err *err)
{
	return tsso_fetch_op_new(x->idp->fetcher, &x->call.req, err);
}

void tsso_idp_exchange_outcome(struct tsso_idp_exchange *x, struct tsso_fetch_op *op)
{
	x->fetch_rc = tsso_fetch_op_result(op, &x->resp, &x->ferr);
	x->have_outcome = true;
}

int tsso_idp_exchange_end(struct tsso_idp_exchange *x, long long now, struct tsso_oidc_result *ret,
                          struct tsso_err *err)
{
	struct oidc_tokens t = {.expires_in = -1};
	struct oidc_id_expect e = {
	    .issuer = x->meta->issuer,
	    .client_id = x->idp->cfg->client_id,
	    .nonce = x->ls->nonce,
	    .max_age = x->ls->max_age,
	    .leeway = x->idp->leeway,
	    .now = now,
	};
	int rc;

	if (!x->have_outcome) {
		x->fetch_rc = tsso_fetch(x->idp->fetcher, &x->call.req, &x->resp, &x->ferr);
		/* Refused on an event thread: no outcome yet, the call is made where
		 * it may wait. */
		x->have_outcome = !(x->fetch_rc != 0 && tsso_fetch_refused());
	}
	if (oidc_token_call_result(x->fetch_rc, &x->resp, &x->ferr, true, &t, err) != 0)
		return -1;
	rc = finish_tokens(x->idp, x->meta, &t, &e, now, ret, err);
	oidc_tokens_clear(&t);
	return rc;
}

int tsso_idp_finish(struct tsso_idp *idp, const struct tsso_login_state *ls,
                    const struct tsso_oidc_param *params, size_t n_params, long long now,
                    struct tsso_oidc_result *ret, struct tsso_err *err)
{
	struct tsso_idp_exchange *x = NULL;
	int rc;

	if (tsso_idp_exchange_begin(idp, ls, params, n_params, now, &x, err) != 0)
		return -1;
	rc = tsso_idp_exchange_end(x, now, ret, err);
	tsso_idp_exchange_free(x);
	return rc;
}

int tsso_idp_finish_kv(struct tsso_idp *idp, const struct tsso_login_state *ls,
                       const struct tsso_kvlist *params, long long now,
                       struct tsso_oidc_result *ret, struct tsso_err *err)
{
	struct tsso_oidc_param p[TSSO_HTTP_MAX_PARAMS];
	size_t n = params != NULL ? params->n : 0;

	if (n > TSSO_HTTP_MAX_PARAMS)
		return tsso_err_set(err, "authz.malformed", "too many parameters");
	for (size_t i = 0; i < n; i++) {
		p[i].name = params->v[i].key;
		p[i].value = params->v[i].value;
	}
	return tsso_idp_finish(idp, ls, p, n, now, ret, err);
}

int tsso_idp_refresh(struct tsso_idp *idp, const char *refresh_token, const char *prev_sub,
                     long long now, struct tsso_oidc_result *ret, struct tsso_err *err)
{
	struct oidc_meta *meta = NULL;
	struct oidc_tokens t = {.expires_in = -1};
	struct tsso_buf form;
	int rc = -1;

	tsso_buf_init(&form, TSSO_OUT_MAX_RESPONSE);
	if (refresh_token == NULL || prev_sub == NULL) {
		tsso_err_set(err, "token.malformed", "no refresh token");
		goto out;
	}
	if (oidc_meta_get(idp, now, &meta, err) != 0)
		goto out;
	/* RFC 6749 §6. */
	if (oidc_form_add(&form, "grant_type", "refresh_token") != 0 ||
	    oidc_form_add(&form, "refresh_token", refresh_token) != 0) {
		tsso_err_set(err, "token.malformed", "refresh token too large");
		goto out;
	}
	if (oidc_token_request(idp, meta, &form, false, now, &t, err) != 0)
		goto out;
	if (t.id_token != NULL) {
		/* OIDC Core §12.2: same iss and sub; nonce is not re-checked (the
		 * original is gone) and max_age applied at login only. */
		struct oidc_id_expect x = {
		    .issuer = meta->issuer,
		    .client_id = idp->cfg->client_id,
		    .sub = prev_sub,
		    .max_age = -1,
		    .leeway = idp->leeway,
		    .now = now,
		};

		rc = finish_tokens(idp, meta, &t, &x, now, ret, err);
		goto out;
	}
	{
		struct tsso_oidc_result r = {0};

		r.sub = strdup(prev_sub);
		if (r.sub == NULL) {
			tsso_err_set(err, "oidc.internal", "out of memory");
			goto out;
		}
		r.access_token = t.access_token;
		r.refresh_token = t.refresh_token;
		r.access_expires_at = t.expires_in >= 0 ? now + t.expires_in : 0;
		t.access_token = t.refresh_token = NULL;
		*ret = r;
		rc = 0;
	}
out:
	oidc_tokens_clear(&t);
	tsso_buf_free_secure(&form);
	oidc_meta_unref(meta);
	return rc;
}

int tsso_idp_end_session_url(struct tsso_idp *idp, const char *id_token_hint,
                             const char *post_logout_redirect_uri, const char *state, long long now,
                             char **ret_url, struct tsso_err *err)
{
	const struct tsso_tenant_cfg *c = idp->cfg;
	struct oidc_meta *meta = NULL;
	struct tsso_buf url;
	bool allowed = false;
	int rc = -1;

	tsso_buf_init(&url, TSSO_HTTP_MAX_URL + TSSO_TOKEN_MAX);
	/* RP-Initiated Logout §3: only registered post-logout URIs, exactly. */
	if (post_logout_redirect_uri != NULL) {
		for (size_t i = 0; i < c->post_logout_redirect_uris.n; i++)
			if (strcmp(c->post_logout_redirect_uris.v[i], post_logout_redirect_uri) ==
			    0)
				allowed = true;
		if (!allowed) {
			tsso_err_set(err, "logout.redirect_not_allowed",
			             "post_logout_redirect_uri is not registered");
			goto out;
		}
	}
	if (oidc_meta_get(idp, now, &meta, err) != 0)
		goto out;
	if (meta->end_session_endpoint == NULL) {
		tsso_err_set(err, "logout.no_end_session",
		             "the provider has no end_session_endpoint");
		goto out;
	}
	if (tsso_buf_adds(&url, meta->end_session_endpoint) != 0 ||
	    tsso_buf_adds(&url, strchr(meta->end_session_endpoint, '?') != NULL ? "&" : "?") != 0 ||
	    (id_token_hint != NULL && oidc_form_add(&url, "id_token_hint", id_token_hint) != 0) ||
	    oidc_form_add(&url, "client_id", c->client_id) != 0 ||
	    (post_logout_redirect_uri != NULL &&
	     oidc_form_add(&url, "post_logout_redirect_uri", post_logout_redirect_uri) != 0) ||
	    (state != NULL && oidc_form_add(&url, "state", state) != 0)) {
		tsso_err_set(err, "oidc.internal", "logout URL too long");
		goto out;
	}
	*ret_url = tsso_buf_take(&url);
	rc = *ret_url != NULL ? 0 : tsso_err_set(err, "oidc.internal", "out of memory");
out:
	tsso_buf_free(&url);
	oidc_meta_unref(meta);
	return rc;
}
