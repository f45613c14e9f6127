/*
 * Token refresh for tenants with refresh_tokens on: before the access token
 * expires, the refresh token is redeemed (RFC 6749 §6) and the refreshed ID
 * token validated like the first. With several instances only one refreshes
 * a session at a time (a lease lock in the store), so rotating refresh tokens
 * never race into invalid_grant; the others keep using the current tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handle_int.h"
#include "tsso/crypto.h"
#include "tsso/identity.h"
#include "tsso/log.h"
#include "tsso/mapping.h"
#include "tsso/oidc.h"
#include "tsso/session.h"

#define REFRESH_AHEAD_S  60    /* refresh this long before the access token expires */
#define REFRESH_LEASE_MS 15000 /* longer than one token call with its timeouts */
/* How long a request waits for another one (on any instance) refreshing the
 * same session, polling the lock. */
#define REFRESH_WAIT_MS 5000
#define REFRESH_POLL_MS 50

static bool due(const struct tsso_session *s, long long now)
{
	return s->refresh_token != NULL && s->access_exp > 0 &&
	       s->access_exp - now < REFRESH_AHEAD_S;
}

/* Apply a refresh result to s; remap the claims when a new ID token came. */
static int apply(const struct tsso_req *req, struct tsso_session *s,
                 const struct tsso_oidc_result *res, struct tsso_err *err)
{
	int r = 0;

	if (res->claims != NULL) {
		struct tsso_mapping_refusal why = {0};
		struct tsso_mapping_opts o = {.scheme = req->tenant->cfg->embed.scheme,
		                              .default_workspace =
		                                  req->tenant->cfg->embed.workspace_id};
		struct tsso_identity *id = NULL;

		if (tsso_mapping_apply(req->tenant->mapping, res->claims, res->userinfo, &o, &id,
		                       &why) < 0) {
			*err = why.err;
			return -1;
		}
		json_decref(s->identity);
		s->identity = tsso_identity_to_json(id);
		tsso_identity_free(id);
		if (s->identity == NULL)
			return tsso_err_set(err, "session.invalid", "out of memory");
		/* The cached embed token carries the old identity. */
		r |= tsso_session_set(&s->embed_token, NULL);
		s->embed_exp = 0;
		if (res->id_token != NULL)
			r |= tsso_session_set(&s->id_token, res->id_token);
	}
	r |= tsso_session_set(&s->access_token, res->access_token);
	if (res->refresh_token != NULL) /* rotated; else keep the old one */
		r |= tsso_session_set(&s->refresh_token, res->refresh_token);
	s->access_exp = res->access_expires_at;
	return r == 0 ? 0 : tsso_err_set(err, "session.invalid", "out of memory");
}

int hdl_session_refresh(const struct tsso_req *req, struct tsso_resp *resp,
                        struct tsso_session **sp, struct tsso_err *err)
{
	struct tsso_session *s = *sp, *fresh = NULL;
	struct tsso_oidc_result res = {0};
	long long now = hdl_now();
	char key[128], *lease = NULL, *cookie = NULL;
	struct tsso_err lerr = {0};
	int rc = 0;

	if (!req->tenant->cfg->refresh_tokens || !due(s, now))
		return 0;
	snprintf(key, sizeof(key), "refresh:%s:%.60s", req->tenant_id, s->id);
	/* Someone (here or on another instance) is refreshing: wait for them and
	 * go on with the session they saved. Going on with this copy would let
	 * a later save (the cached embed token) put back the spent refresh token,
	 * and a rotating IdP answers its next use with invalid_grant. */
	for (int waited = 0;
	     tsso_store_lock(req->rt->store, key, REFRESH_LEASE_MS, &lease, &lerr) < 0;
	     waited += REFRESH_POLL_MS) {
		const struct timespec poll = {0, REFRESH_POLL_MS * 1000000L};

		if (strcmp(tsso_err_reason(&lerr), "store.locked") != 0 ||
		    waited >= REFRESH_WAIT_MS)
			return 0; /* use the current tokens */
		tsso_err_clear(&lerr);
		nanosleep(&poll, NULL);
	}
	/* It may have finished just before we took the lock. */
	if (hdl_session_get(req, resp, &fresh, &lerr) == 0) {
		tsso_session_free(s);
		*sp = s = fresh;
		if (!due(s, now))
			goto unlock;
	}
	if (tsso_idp_refresh(req->tenant->idp, s->refresh_token, s->sub, now, &res, err) < 0) {
		tsso_log(TSSO_LOG_INFO, "session.refresh_failed", "request_id", req->request_id,
		         "tenant", req->tenant_id, "reason", err->reason, "detail", err->msg, NULL);
		/* The IdP no longer vouches for this user (revoked, disabled): end it.
		 * A transient failure keeps the session until its access token expires. */
		if (strcmp(tsso_err_reason(err), "token.error") == 0 || s->access_exp <= now)
			rc = -1;
		goto unlock;
	}
	if (apply(req, s, &res, err) < 0 ||
	    tsso_store_session_update(req->rt->store, s, &cookie, err) < 0) {
		rc = -1;
		goto unlock;
	}
	if (cookie != NULL)
		(void)hdl_set_cookie(req, resp, req->rt->cfg->session.cookie_name, cookie, -1,
		                     false, false);
	tsso_log(TSSO_LOG_INFO, "session.refreshed", "request_id", req->request_id, "tenant",
	         req->tenant_id, NULL);
unlock:
	if (tsso_store_unlock(req->rt->store, key, lease, &lerr) < 0)
		tsso_log(TSSO_LOG_DEBUG, "session.unlock_failed", "reason", lerr.reason, NULL);
	tsso_oidc_result_free(&res);
	free(lease);
	tsso_free_secret(cookie);
	return rc;
}
