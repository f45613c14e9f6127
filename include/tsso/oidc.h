/*
 * OpenID Connect relying party, one object per tenant (struct tsso_idp):
 * discovery and JWKS caching, the authorization request (state, nonce, PKCE
 * S256, PAR), the authorization response (RFC 9207), the token request with
 * every client authentication method, ID token and UserInfo validation
 * (OIDC Core §3.1.3.7, §5.3.4), refresh, back-channel logout tokens and
 * RP-initiated logout URLs. HTTP routes, cookies and sessions are the
 * caller's: this module takes parameters and returns verified results.
 * Every time is passed in (`now`, seconds since the epoch) so that tests are
 * deterministic. A tsso_idp is safe to use from many threads.
 *
 * Reason codes are listed in docs/oidc.md.
 */
#ifndef TSSO_OIDC_H
#define TSSO_OIDC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "tsso/common.h"
#include "tsso/config.h"
#include "tsso/err.h"
#include "tsso/http.h"

struct tsso_idp;

/* --- login state: what the login route seals into a cookie --- */

struct tsso_login_state {
	char *tenant;        /* tenant id */
	char *state;         /* sent as "state" (>= 256 bits from the CSPRNG) */
	char *nonce;         /* sent as "nonce" (>= 256 bits) */
	char *code_verifier; /* PKCE verifier (RFC 7636 §4.1), secret */
	char *return_to;     /* where to go after login (already checked by the caller), or NULL */
	long long created_at;
	long max_age; /* max_age sent, or -1 */
};

/* Free, wiping the secrets. Accepts NULL. */
void tsso_login_state_free(struct tsso_login_state *ls);
/* Serialize for sealing: one compact JSON object appended to out (no json_t);
 * -1 when out is full. */
int tsso_login_state_write(struct tsso_buf *out, const struct tsso_login_state *ls) TSSO_WUR;
/* Parse json[0..n) strictly (grammar as tsso/jsonflat.h; types, lengths;
 * unknown or repeated members refused). New object or NULL with reason
 * state.malformed. */
struct tsso_login_state *tsso_login_state_parse(const char *json, size_t n,
                                                struct tsso_err *err) TSSO_WUR;

/* --- lifecycle and health --- */

/* A relying party for one tenant. cfg is borrowed and must outlive the idp;
 * redirect_uri is copied ({public_url}/{tenant}/callback). development allows
 * http:// IdP URLs on loopback. Loads the client key (private_key_jwt), the
 * JWE decryption key and the CA file now, so a bad file fails at start-up.
 * Does not contact the IdP (see tsso_idp_refresh_metadata).
 * Reasons: oidc.config, key.load_failed, fetch.ca_file. */
struct tsso_idp *tsso_idp_new(const struct tsso_tenant_cfg *cfg, const char *redirect_uri,
                              bool development, struct tsso_err *err) TSSO_WUR;
void tsso_idp_free(struct tsso_idp *idp);

enum tsso_idp_health {
	TSSO_IDP_LOADING = 0, /* metadata never fetched yet, no failure seen */
	TSSO_IDP_OK,          /* usable metadata and keys (possibly stale, see below) */
	TSSO_IDP_FAILING,     /* no usable metadata or keys: logins fail */
};

struct tsso_idp_status {
	enum tsso_idp_health health;
	bool stale;                /* serving cached metadata after failed refreshes */
	const char *reason;        /* last refresh failure's reason code, or NULL; static */
	long long metadata_age;    /* seconds since metadata was fetched, -1 when none */
	unsigned long connections; /* new connections opened to this IdP so far */
};

/* For /readyz and /metrics. */
void tsso_idp_status(struct tsso_idp *idp, long long now, struct tsso_idp_status *ret);
/* True when tsso_idp_begin at now would make no network call: the metadata
 * is cached and not due for refresh within margin_s, and no PAR request. */
bool tsso_idp_begin_is_local(struct tsso_idp *idp, long long now, long margin_s);

/* Fetch discovery and the JWKS when older than TSSO_META_REFRESH_S (always
 * when force). On failure the cached copies keep being served for at most
 * TSSO_META_MAX_STALE_S after their last successful fetch. For a background
 * refresher and for start-up. Reasons: discovery.*, jwks.* (see docs). */
int tsso_idp_refresh_metadata(struct tsso_idp *idp, long long now, bool force,
                              struct tsso_err *err) TSSO_WUR;

/* --- login --- */

struct tsso_idp_begin_opts {
	const char *return_to;  /* stored in the login state, may be NULL */
	const char *login_hint; /* may be NULL */
	const char *prompt;     /* overrides the tenant's prompt, may be NULL */
};

/* Build the authorization request: new state, nonce and PKCE verifier; PAR
 * when the tenant's `par` says so and the IdP advertises it (RFC 9126).
 * *ret_url (new string) is where to redirect the browser; *ret_state (new)
 * is what to seal into the login-state cookie. Outputs untouched on failure.
 * Reasons: discovery.*, par.required, par.failed, oidc.internal. */
int tsso_idp_begin(struct tsso_idp *idp, const struct tsso_idp_begin_opts *opts, long long now,
                   char **ret_url, struct tsso_login_state **ret_state,
                   struct tsso_err *err) TSSO_WUR;

/* One parameter of the authorization response (query or form_post). */
struct tsso_oidc_param {
	const char *name;
	const char *value;
};

/* What a successful login or refresh returns. Free with tsso_oidc_result_free. */
struct tsso_oidc_result {
	json_t *claims;              /* verified ID token claims (new reference) */
	json_t *userinfo;            /* verified UserInfo claims, or NULL when not requested */
	char *sub;                   /* the ID token's sub */
	char *sid;                   /* the ID token's sid, or NULL */
	char *id_token;              /* compact, for id_token_hint at logout */
	char *access_token;          /* secret */
	char *refresh_token;         /* secret, or NULL */
	long long access_expires_at; /* from expires_in, or 0 when not given */
	long long id_token_exp;
};

/* Free the members, wiping tokens; the struct itself is the caller's. */
void tsso_oidc_result_free(struct tsso_oidc_result *r);

/* Finish a login: check the authorization response against the login state
 * (duplicates, state in constant time, expiry, RFC 9207 iss, IdP error),
 * redeem the code, validate the ID token (OIDC Core §3.1.3.7) and, when the
 * tenant turns `userinfo` on, read and check UserInfo. *ret is filled only on
 * success. Reasons: see docs/oidc.md (state.*, authz.*, token.*, id_token.*,
 * userinfo.*, discovery.*, jwks.*, fetch.*). */
int tsso_idp_finish(struct tsso_idp *idp, const struct tsso_login_state *ls,
                    const struct tsso_oidc_param *params, size_t n_params, long long now,
                    struct tsso_oidc_result *ret, struct tsso_err *err) TSSO_WUR;

/* tsso_idp_finish in two steps, for an event thread that leaves the token
 * call to its loop: begin checks the authorization response and prepares
 * the call (ls must outlive the exchange); the call is made either by the
 * loop (tsso_idp_exchange_op, then _outcome once it finished) or by end
 * itself; end checks the token response and the ID token. end may be run
 * again after a run refused the network (tsso_fetch_forbid). */
struct tsso_idp_exchange;
struct tsso_fetch_op;
int tsso_idp_exchange_begin(struct tsso_idp *idp, const struct tsso_login_state *ls,
                            const struct tsso_oidc_param *params, size_t n_params, long long now,
                            struct tsso_idp_exchange **ret, struct tsso_err *err) TSSO_WUR;
struct tsso_fetch_op *tsso_idp_exchange_op(struct tsso_idp_exchange *x,
                                           struct tsso_err *err) TSSO_WUR;
void tsso_idp_exchange_outcome(struct tsso_idp_exchange *x, struct tsso_fetch_op *op);
int tsso_idp_exchange_end(struct tsso_idp_exchange *x, long long now, struct tsso_oidc_result *ret,
                          struct tsso_err *err) TSSO_WUR;
void tsso_idp_exchange_free(struct tsso_idp_exchange *x);
/* True when a callback's work up to the token call needs no network
 * (metadata fresh for margin_s more seconds). */
bool tsso_idp_meta_fresh(struct tsso_idp *idp, long long now, long margin_s);

/* The same with the parameters as the HTTP layer parsed them (tsso_req's
 * query, or form for form_post), repeats included. */
int tsso_idp_finish_kv(struct tsso_idp *idp, const struct tsso_login_state *ls,
                       const struct tsso_kvlist *params, long long now,
                       struct tsso_oidc_result *ret, struct tsso_err *err) TSSO_WUR;

/* Refresh grant (RFC 6749 §6). A returned ID token is validated like the
 * first (signature, iss, aud, exp, iat) and must carry prev_sub (OIDC Core
 * §12.2); without one, ret->claims is NULL and ret->sub a copy of prev_sub.
 * ret->refresh_token is the rotated token or NULL (keep the old one). */
int tsso_idp_refresh(struct tsso_idp *idp, const char *refresh_token, const char *prev_sub,
                     long long now, struct tsso_oidc_result *ret, struct tsso_err *err) TSSO_WUR;

/* --- logout --- */

struct tsso_logout_claims {
	char *iss;
	char *sub; /* may be NULL when sid is given */
	char *sid; /* may be NULL when sub is given */
	char *jti; /* for the caller's replay store */
	long long
	    exp; /* exp, or iat + TSSO_LOGOUT_TOKEN_TTL when absent: keep the jti until then */
};
void tsso_logout_claims_free(struct tsso_logout_claims *c);

/* Validate a back-channel logout token (Back-Channel Logout 1.0 §2.6).
 * jti replay is the caller's to check. Reasons logout_token.* (docs/oidc.md). */
int tsso_idp_validate_logout_token(struct tsso_idp *idp, const char *token, long long now,
                                   struct tsso_logout_claims *ret, struct tsso_err *err) TSSO_WUR;

/* RP-initiated logout (RP-Initiated Logout 1.0 §2): *ret_url (new) is the
 * end_session_endpoint with id_token_hint (may be NULL), client_id,
 * post_logout_redirect_uri (may be NULL; must be one of the tenant's
 * post_logout_redirect_uris exactly) and state (may be NULL).
 * Reasons: logout.no_end_session (local logout only), logout.redirect_not_allowed. */
int tsso_idp_end_session_url(struct tsso_idp *idp, const char *id_token_hint,
                             const char *post_logout_redirect_uri, const char *state, long long now,
                             char **ret_url, struct tsso_err *err) TSSO_WUR;

/* --- distributed claims --- */

/* GET a distributed claims endpoint (OIDC Core §5.6.2) with the login's
 * access token as Bearer, through the tenant's fetcher (its TLS trust,
 * timeouts, size cap and concurrency limit). The endpoint comes from the
 * IdP, so it must be https (loopback http in development) at the issuer's
 * origin or at one of the tenant's distributed_claims_origins; nothing is
 * sent otherwise. *ret is the answer, a new JSON object (duplicates
 * refused); signed (application/jwt) answers are refused.
 * Reasons: claims.endpoint_not_allowed, claims.fetch_failed, claims.malformed. */
int tsso_idp_fetch_claims(struct tsso_idp *idp, const char *url, const char *access_token,
                          json_t **ret, struct tsso_err *err) TSSO_WUR;

/* The issuer (borrowed) and the tenant id (borrowed). */
const char *tsso_idp_issuer(const struct tsso_idp *idp);
const char *tsso_idp_tenant(const struct tsso_idp *idp);

#endif
