/*
 * Finishing a login: GET|POST {base}/{tenant}/callback. The login-state
 * cookie is found from the state, used once (also across instances, through
 * the store) and deleted whatever happens; then the relying party checks the
 * response, redeems the code and validates the ID token; the claims are
 * mapped to the embed identity; a fresh session is created (no fixation).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle_int.h"
#include "login_state.h"
#include "tsso/crypto.h"
#include "tsso/embed.h"
#include "tsso/fetch.h"
#include "tsso/handle.h"
#include "tsso/identity.h"
#include "tsso/limits.h"
#include "tsso/log.h"
#include "tsso/mapping.h"
#include "tsso/oidc.h"
#include "tsso/session.h"

/* True when the browser carries a login state of this tenant under another name. */
static bool other_states(const struct tsso_req *req)
{
	char prefix[160];

	snprintf(prefix, sizeof(prefix), "%s%s", req->rt->cfg->session.cookie_name,
	         TSSO_LOGIN_STATE_COOKIE_INFIX);
	for (size_t i = 0; i < req->cookies.n; i++)
		if (strncmp(req->cookies.v[i].key, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/* Find, open and consume the login state named by the response's state. */
static struct tsso_login_state *take_state(const struct tsso_req *req, struct tsso_resp *resp,
                                           struct tsso_err *err)
{
	const char *state = tsso_req_param(req, "state");
	struct tsso_login_state *ls = NULL;
	const char *value;
	char *name = NULL, key[256];
	long long now = hdl_now();

	if (state == NULL || *state == '\0') {
		tsso_err_set(err, "state.missing", "the response carries no state");
		return NULL;
	}
	if (tsso_req_param_count(req, "state") > 1) {
		tsso_err_set(err, "state.mismatch", "state repeated in the response");
		return NULL;
	}
	name = hdl_login_state_cookie_name(req, state);
	if (name == NULL) {
		tsso_err_set(err, "state.malformed", "state cannot be used");
		return NULL;
	}
	value = tsso_req_cookie(req, name);
	/* Whatever follows, this login state is spent. */
	(void)hdl_set_cookie(req, resp, name, NULL, 0, true, false);
	if (value == NULL) {
		if (other_states(req))
			tsso_err_set(err, "state.mismatch",
			             "the state does not match a login started in this browser");
		else
			tsso_err_set(err, "state.unknown", "no login in progress in this browser");
		goto out;
	}
	ls = hdl_login_state_open(req, value, err);
	if (ls == NULL)
		goto out;
	if (ls->created_at > now + TSSO_CLOCK_LEEWAY_MAX ||
	    now - ls->created_at > TSSO_LOGIN_STATE_TTL) {
		tsso_err_set(err, "state.expired", "the login started too long ago");
		goto fail;
	}
	/* Single use across instances: a replayed callback finds the marker. */
	snprintf(key, sizeof(key), "ls:%s:%s", req->tenant_id,
	         name + strlen(req->rt->cfg->session.cookie_name));
	if (tsso_store_claim_once(req->rt->store, key, (long)TSSO_LOGIN_STATE_TTL * 2000, err) <
	    0) {
		if (err->reason && strcmp(err->reason, "store.replayed") == 0)
			tsso_err_set(err, "state.replayed", "this login response was already used");
		goto fail;
	}
	goto out;
fail:
	tsso_login_state_free(ls);
	ls = NULL;
out:
	free(name);
	return ls;
}

/* What the distributed-claims resolver needs from this login. */
struct claims_ctx {
	struct tsso_idp *idp;
	const char *access_token;
};

/* Pick the claim out of a claims endpoint's answer: the member named after
 * the claim (OIDC Core §5.6.2), else a Microsoft Graph style "value" list of
 * strings or of objects with a string "id". New reference or NULL. */
static json_t *claim_from_answer(const json_t *answer, const char *claim)
{
	json_t *v = json_object_get(answer, claim), *list, *e;
	size_t i;

	if (v != NULL)
		return json_incref(v);
	v = json_object_get(answer, "value");
	if (!json_is_array(v))
		return NULL;
	list = json_array();
	json_array_foreach (v, i, e) {
		json_t *id = json_is_object(e) ? json_object_get(e, "id") : e;

		if (list == NULL || !json_is_string(id) || json_array_append(list, id) != 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* tsso_mapping_resolver: fetch a distributed claim from the IdP's endpoint
 * with the access token (the oidc module checks the endpoint's origin). */
static int resolve_claim(void *opaque, const char *claim, const char *endpoint, json_t **ret_value,
                         struct tsso_err *err)
{
	const struct claims_ctx *cc = opaque;
	json_t *answer = NULL, *v;

	if (endpoint == NULL)
		return tsso_err_set(
		    err, "claims.no_endpoint",
		    "the IdP named no endpoint for it (e.g. Entra ID \"hasgroups\")");
	if (tsso_idp_fetch_claims(cc->idp, endpoint, cc->access_token, &answer, err) < 0)
		return -1;
	v = claim_from_answer(answer, claim);
	json_decref(answer);
	if (v == NULL)
		return tsso_err_set(err, "claims.malformed",
		                    "the endpoint's answer does not hold it");
	*ret_value = v;
	return 0;
}

static int build_session(const struct tsso_req *req, const struct tsso_oidc_result *res,
                         const struct tsso_identity *id, bool with_id_token,
                         const struct tsso_embed_token *tok, struct tsso_session **ret,
                         struct tsso_err *err)
{
	struct tsso_session *s = tsso_session_new();
	const struct tsso_tenant_cfg *tc = req->tenant->cfg;
	int r = 0;

	if (s == NULL)
		return tsso_err_set(err, "session.invalid", "out of memory");
	r |= tsso_session_set(&s->tenant, req->tenant_id);
	r |= tsso_session_set(&s->iss, tc->issuer);
	r |= tsso_session_set(&s->sub, res->sub);
	r |= tsso_session_set(&s->sid, res->sid);
	if (with_id_token)
		r |= tsso_session_set(&s->id_token, res->id_token);
	if (tc->refresh_tokens) {
		r |= tsso_session_set(&s->access_token, res->access_token);
		r |= tsso_session_set(&s->refresh_token, res->refresh_token);
		s->access_exp = res->access_expires_at;
	}
	if (tok != NULL && tok->token != NULL) {
		r |= tsso_session_set(&s->embed_token, tok->token);
		s->embed_iat = tok->issued_at;
		s->embed_exp = tok->expires_at;
	}
	s->identity = tsso_identity_to_json(id);
	if (r != 0 || s->identity == NULL) {
		tsso_session_free(s);
		return tsso_err_set(err, "session.invalid", "out of memory");
	}
	*ret = s;
	return 0;
}

/* With local signing (signed_jwt without an exchange) and embed.mint_at_login
 * (the default), the embed token the page asks for next is minted here and
 * goes into the new session: the first embed-token request then answers
 * from the session, without sealing and setting the session cookie a
 * second time (a memory or Redis store: without a second write). A refusal
 * leaves the session without a token; the first request mints as before
 * and reports the problem. */
static void mint_at_login(const struct tsso_req *req, const struct tsso_identity *id,
                          struct tsso_embed_token *tok)
{
	const struct tsso_tenant *t = req->tenant;
	struct tsso_err err = {0};

	if (!t->cfg->embed.mint_at_login || t->embed == NULL || !tsso_embed_mint_is_local(t->embed))
		return;
	if (tsso_embed_mint(t->embed, id, hdl_now(), tok, &err) < 0)
		tsso_log(TSSO_LOG_DEBUG, "embed.mint_at_login_failed", "request_id",
		         req->request_id, "tenant", req->tenant_id, "reason", err.reason, NULL);
}

/* End the session this browser had before logging in again (best effort). */
static void end_previous(const struct tsso_req *req)
{
	struct tsso_session *old = NULL;
	struct tsso_resp scratch = {0};
	struct tsso_err err = {0};

	tsso_buf_init(&scratch.body, 16);
	if (hdl_session_get(req, &scratch, &old, &err) == 0) {
		if (tsso_store_session_delete(req->rt->store, old, &err) < 0)
			tsso_log(TSSO_LOG_DEBUG, "login.previous_session", "reason", err.reason,
			         NULL);
		tsso_session_free(old);
	}
	for (size_t i = 0; i < scratch.n_cookies; i++)
		free(scratch.cookies[i]);
	tsso_buf_free(&scratch.body);
}

/* A callback between its token call and its answer. */
struct cb_ctx {
	struct tsso_login_state *ls;
	struct tsso_idp_exchange *x;
	struct tsso_fetch_op *op; /* the token call on the event thread's loop */
};

static void cb_ctx_free(void *p)
{
	struct cb_ctx *c = p;

	if (c == NULL)
		return;
	tsso_fetch_op_free(c->op);
	tsso_idp_exchange_free(c->x);
	tsso_login_state_free(c->ls);
	free(c);
}

/* Everything after the token call: the token response and ID token checks,
 * mapping, the new session, the answer. On an event thread (!may_block) the
 * network is refused: UserInfo, distributed claims or a JWKS refetch send
 * the whole step to a worker, which runs it again from the same outcome. */
static bool callback_finish(struct tsso_req *req, struct tsso_resp *resp, void *ctx, bool may_block)
{
	struct cb_ctx *c = ctx;
	const struct tsso_tenant *t = req->tenant;
	struct tsso_oidc_result res = {0};
	struct tsso_mapping_refusal why = {0};
	struct claims_ctx cc = {.idp = t->idp};
	const struct tsso_mapping_resolver resolver = {.resolve = resolve_claim, .opaque = &cc};
	struct tsso_mapping_opts mopts = {
	    .scheme = t->cfg->embed.scheme,
	    .default_workspace = t->cfg->embed.workspace_id,
	    .resolver = &resolver,
	};
	struct tsso_identity *id = NULL;
	struct tsso_session *s = NULL;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	char *cookie = NULL;
	const char *dest;
	bool answered = true;

	if (c->op != NULL) {
		/* Not run (the loop could not take it): the call is made below. */
		if (tsso_fetch_op_done(c->op))
			tsso_idp_exchange_outcome(c->x, c->op);
		tsso_fetch_op_free(c->op);
		c->op = NULL;
	}
	/* UserInfo is a call for sure: to a worker now, not after checking the
	 * ID token here for nothing. */
	if (!may_block && t->cfg->userinfo)
		return false;
	tsso_fetch_forbid(!may_block);
	if (tsso_idp_exchange_end(c->x, hdl_now(), &res, &err) < 0)
		goto refuse;
	cc.access_token = res.access_token;
	if (tsso_mapping_apply(t->mapping, res.claims, res.userinfo, &mopts, &id, &why) < 0) {
		err = why.err;
		goto refuse;
	}
	mint_at_login(req, id, &tok);
	end_previous(req);
	/* A cookie session may not hold a large ID token: keep it without the
	 * token minted above (the first embed-token request mints), then
	 * without the ID token (logout then goes without id_token_hint). */
	for (int attempt = 0;; attempt++) {
		bool with_id_token = attempt < 2;
		const struct tsso_embed_token *with_tok = attempt == 0 ? &tok : NULL;

		if (attempt == 1 && tok.token == NULL)
			continue; /* nothing minted: the first attempt was this one */
		if (build_session(req, &res, id, with_id_token, with_tok, &s, &err) < 0)
			goto refuse;
		if (tsso_store_session_create(req->rt->store, s, &cookie, &err) == 0)
			break;
		if (attempt == 2 || err.reason == NULL ||
		    strcmp(err.reason, "session.too_large") != 0)
			goto refuse;
		tsso_session_free(s);
		s = NULL;
		tsso_err_clear(&err);
	}
	if (hdl_set_cookie(req, resp, req->rt->cfg->session.cookie_name, cookie, -1, false, false) <
	    0) {
		tsso_err_set(&err, "session.too_large", "the session cookie cannot be built");
		goto refuse;
	}
	tsso_log(TSSO_LOG_INFO, "login.ok", "request_id", req->request_id, "tenant", req->tenant_id,
	         "sub", res.sub, "username", id->username, NULL);
	dest = c->ls->return_to ? c->ls->return_to : t->cfg->default_return_to;
	/* After a form_post, 303 makes the browser GET the destination. */
	tsso_resp_redirect(resp, strcmp(req->method, "POST") == 0 ? 303 : 302, dest);
	goto out;
refuse:
	if (!may_block && tsso_fetch_refused())
		answered = false; /* for a worker: nothing answered, nothing kept */
	else
		hdl_login_refused(req, resp, &err);
out:
	tsso_fetch_forbid(false);
	tsso_free_secret(cookie);
	tsso_embed_token_clear(&tok);
	tsso_session_free(s);
	tsso_identity_free(id);
	tsso_oidc_result_free(&res);
	return answered;
}

/* The callback up to the token call never waits on the network when the
 * store is local and the IdP's metadata fresh: it then starts on an event
 * thread. */
bool tsso_callback_local(const struct tsso_req *req)
{
	return tsso_store_is_local(req->rt->store) &&
	       tsso_idp_meta_fresh(req->tenant->idp, hdl_now(), HDL_LOCAL_MARGIN_S);
}

void tsso_handle_callback(struct tsso_req *req, struct tsso_resp *resp)
{
	const struct tsso_tenant *t = req->tenant;
	const struct tsso_kvlist *pl = strcmp(req->method, "POST") == 0 ? &req->form : &req->query;
	struct tsso_oidc_param params[TSSO_HTTP_MAX_PARAMS];
	struct tsso_login_state *ls = NULL;
	struct tsso_idp_exchange *x = NULL;
	struct tsso_err err = {0};
	struct cb_ctx *c = NULL;
	size_t n_params;

	ls = take_state(req, resp, &err);
	if (ls == NULL)
		goto refuse;
	/* The parsers stop at TSSO_HTTP_MAX_PARAMS; never pass more than we copied. */
	for (n_params = 0; n_params < pl->n && n_params < TSSO_HTTP_MAX_PARAMS; n_params++) {
		params[n_params].name = pl->v[n_params].key;
		params[n_params].value = pl->v[n_params].value;
	}
	if (tsso_idp_exchange_begin(t->idp, ls, params, n_params, hdl_now(), &x, &err) < 0)
		goto refuse;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		tsso_err_set(&err, "oidc.internal", "out of memory");
		goto refuse;
	}
	c->ls = ls;
	c->x = x;
	ls = NULL;
	x = NULL;
	if (req->loop != NULL) {
		/* On an event thread: the token call goes to its loop, which
		 * queues it while the tenant's outbound slots are all taken. */
		struct tsso_err busy = {0};

		c->op = tsso_idp_exchange_op(c->x, &busy);
		tsso_req_defer(req, c->op, callback_finish, c, cb_ctx_free);
		return;
	}
	(void)callback_finish(req, resp, c, true);
	cb_ctx_free(c);
	return;
refuse:
	hdl_login_refused(req, resp, &err);
	tsso_idp_exchange_free(x);
	tsso_login_state_free(ls);
}
