/*
 * Embed tokens for the page: GET {base}/{tenant}/embed-token (cached in the
 * session, re-minted when most of its life is spent), the helper script
 * {base}/{tenant}/embed.js, and the public keys {base}/.well-known/jwks.json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle_int.h"
#include "tsso/crypto.h"
#include "tsso/embed.h"
#include "tsso/handle.h"
#include "tsso/identity.h"
#include "tsso/limits.h"
#include "tsso/log.h"
#include "tsso/session.h"

/* CORS (embed.cors_origins): only listed origins get the token cross-origin.
 * Returns false when the request comes from an origin that is not allowed. */
static bool cors(const struct tsso_req *req, struct tsso_resp *resp)
{
	const char *origin = tsso_req_header(req, "Origin");
	const struct tsso_strlist *l = &req->tenant->cfg->embed.cors_origins;

	(void)tsso_resp_header(resp, "Vary", "Origin");
	if (origin == NULL || strcmp(origin, req->rt->cfg->public_origin) == 0)
		return true;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], origin) == 0) {
			(void)tsso_resp_header(resp, "Access-Control-Allow-Origin", l->v[i]);
			(void)tsso_resp_header(resp, "Access-Control-Allow-Credentials", "true");
			return true;
		}
	return false;
}

/* The per-session rate limit (tsso_embed_client_rate_take): keyed by the
 * store's session id, or for records without one by who signed in when.
 * Returns the seconds to wait, 0 when the request may go on. */
static long rate_limited(const struct tsso_req *req, const struct tsso_session *s)
{
	char key[TSSO_SESSION_ID_LEN + 2 * TSSO_SESSION_FIELD_MAX + 64];
	long wait;
	int n;

	if (s->id[0] != '\0')
		n = snprintf(key, sizeof(key), "id:%s", s->id);
	else
		n = snprintf(key, sizeof(key), "who:%s\n%s\n%lld", s->iss ? s->iss : "",
		             s->sub ? s->sub : "", (long long)s->created_ms);
	if (n < 0 || (size_t)n >= sizeof(key))
		n = (int)strnlen(key, sizeof(key) - 1);
	wait = tsso_embed_client_rate_take(req->tenant->embed, key, (size_t)n);
	tsso_wipe(key, sizeof(key)); /* the session id is a bearer credential */
	return wait;
}

static void unauthorized(const struct tsso_req *req, struct tsso_resp *resp, const char *reason)
{
	char login[4200];

	snprintf(login, sizeof(login), "%s/login", req->tenant->base_url);
	tsso_resp_json(resp, 401,
	               json_pack("{s:s, s:s, s:s, s:s}", "error", "login_required", "reason",
	                         reason, "login_url", login, "request_id", req->request_id));
	resp->reason = reason;
	(void)tsso_resp_header(resp, "WWW-Authenticate", "Cookie realm=\"toucan-sso\"");
}

bool tsso_embed_token_local(const struct tsso_req *req)
{
	if (strcmp(req->method, "OPTIONS") == 0)
		return true;
	return tsso_store_is_local(req->rt->store) &&
	       tsso_embed_mint_is_local(req->tenant->embed) && !req->tenant->cfg->refresh_tokens;
}

static void answer_token(struct tsso_resp *resp, const struct tsso_embed_token *t, long long now)
{
	if (tsso_embed_token_write(tsso_resp_json_body(resp, 200), t, now) < 0)
		tsso_resp_json_failed(resp);
}

void tsso_handle_embed_token(struct tsso_req *req, struct tsso_resp *resp)
{
	struct tsso_session *s = NULL;
	struct tsso_identity *id = NULL;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	long long now = hdl_now();
	char *cookie = NULL;
	char ra[24];
	long wait;

	if (!cors(req, resp)) {
		tsso_resp_error(req, resp, 403, "embed.origin_not_allowed", "Origin not allowed",
		                "This origin may not request embed tokens.");
		return;
	}
	if (strcmp(req->method, "OPTIONS") == 0) {
		resp->status = 204;
		(void)tsso_resp_header(resp, "Access-Control-Allow-Methods", "GET");
		(void)tsso_resp_header(resp, "Access-Control-Max-Age", "600");
		return;
	}
	if (hdl_session_get(req, resp, &s, &err) < 0) {
		if (err.reason && strcmp(err.reason, "store.unavailable") == 0) {
			tsso_resp_error(req, resp, 503, err.reason, "Temporarily unavailable",
			                "Sessions cannot be read right now; retry shortly.");
			(void)tsso_resp_header(resp, "Retry-After", "5");
		} else {
			unauthorized(req, resp, err.reason ? err.reason : "session.none");
		}
		goto out;
	}
	if ((wait = rate_limited(req, s)) > 0) {
		tsso_log(TSSO_LOG_WARN, "embed.rate_limited", "request_id", req->request_id,
		         "tenant", req->tenant_id, NULL);
		tsso_resp_error(req, resp, 429, "embed.rate_limited", "Too many requests",
		                "Too many embed token requests for this session; retry shortly.");
		snprintf(ra, sizeof(ra), "%ld", wait);
		(void)tsso_resp_header(resp, "Retry-After", ra);
		goto out;
	}
	if (hdl_session_refresh(req, resp, &s, &err) < 0) {
		if (tsso_store_session_delete(req->rt->store, s, &err) < 0)
			tsso_log(TSSO_LOG_DEBUG, "session.delete_failed", "reason", err.reason,
			         NULL);
		hdl_session_cookie_clear(req, resp);
		unauthorized(req, resp, "session.refresh_refused");
		goto out;
	}
	/* The session keeps when the cached token was issued: its lifetime is
	 * Toucan's (exchange, Toucan AI), not necessarily the configured TTL. */
	if (s->embed_token != NULL && !tsso_embed_should_remint(s->embed_iat, s->embed_exp, now)) {
		tok.token = s->embed_token;
		tok.expires_at = s->embed_exp;
		answer_token(resp, &tok, now);
		tok.token = NULL;
		goto out;
	}
	id = tsso_identity_from_json(tsso_session_identity(s));
	if (id == NULL) {
		unauthorized(req, resp, "session.malformed");
		goto out;
	}
	if (tsso_embed_mint(req->tenant->embed, id, now, &tok, &err) < 0) {
		int status = tsso_embed_err_status(&err);

		tsso_log(TSSO_LOG_WARN, "embed.refused", "request_id", req->request_id, "tenant",
		         req->tenant_id, "reason", err.reason, "detail", err.msg, NULL);
		tsso_resp_error(req, resp, status, err.reason ? err.reason : "embed.failed",
		                "Embed token unavailable",
		                "The analytics token could not be issued right now.");
		if (status == 502 || status == 503) {
			long after = tsso_embed_client_retry_after(req->tenant->embed);

			snprintf(ra, sizeof(ra), "%ld", after > 0 ? after : 5);
			(void)tsso_resp_header(resp, "Retry-After", ra);
		}
		goto out;
	}
	/* Cache the token in the session so page loads do not each mint one. */
	if (tsso_session_set(&s->embed_token, tok.token) == 0) {
		s->embed_exp = tok.expires_at;
		s->embed_iat = tok.issued_at;
		if (tsso_store_session_update(req->rt->store, s, &cookie, &err) == 0 &&
		    cookie != NULL)
			(void)hdl_set_cookie(req, resp, req->rt->cfg->session.cookie_name, cookie,
			                     -1, false, false);
	}
	answer_token(resp, &tok, now);
out:
	tsso_free_secret(cookie);
	tsso_embed_token_clear(&tok);
	tsso_identity_free(id);
	tsso_session_free(s);
}

void tsso_handle_embed_js(struct tsso_req *req, struct tsso_resp *resp)
{
	const char *inm = tsso_req_header(req, "If-None-Match");
	const char *etag = tsso_embed_js_etag();
	size_t len = 0;
	const char *js = tsso_embed_js(&len);

	(void)tsso_resp_header(resp, "ETag", etag);
	(void)tsso_resp_header(resp, "Cache-Control", "public, max-age=300");
	if (inm != NULL && strcmp(inm, etag) == 0) {
		resp->status = 304;
		return;
	}
	resp->status = 200;
	resp->content_type = "text/javascript; charset=utf-8";
	if (tsso_buf_add(&resp->body, js, len) < 0)
		tsso_resp_text(resp, 500, "text/plain; charset=utf-8", "unavailable\n");
}

void tsso_handle_jwks(struct tsso_req *req, struct tsso_resp *resp)
{
	json_t *jwks = req->rt->keystore ? tsso_embed_jwks_json(req->rt->keystore, hdl_now())
	                                 : json_pack("{s:[]}", "keys");

	(void)tsso_resp_header(resp, "Cache-Control", "public, max-age=300");
	(void)tsso_resp_header(resp, "Access-Control-Allow-Origin", "*");
	tsso_resp_json(resp, jwks ? 200 : 500, jwks);
	resp->content_type = "application/jwk-set+json";
}
