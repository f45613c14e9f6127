/* Internals shared by the files of src/oidc/ (not a public interface). */
#ifndef TSSO_OIDC_INT_H
#define TSSO_OIDC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "tsso/buf.h"
#include "tsso/config.h"
#include "tsso/err.h"
#include "tsso/fetch.h"
#include "tsso/jose.h"
#include "tsso/oidc.h"

/* Protocol strings (OIDC Core, RFC 6749, RFC 7636, RFC 7523, BCL 1.0). */
#define OIDC_WELL_KNOWN        "/.well-known/openid-configuration"
#define OIDC_ASSERTION_TYPE    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define OIDC_BCL_EVENT         "http://schemas.openid.net/event/backchannel-logout"
#define OIDC_FORM_CONTENT_TYPE "Content-Type: application/x-www-form-urlencoded"
#define OIDC_ACCEPT_JSON       "Accept: application/json"

/* --- small helpers (oidc_util.c) --- */

/* Append name=value percent-encoded for a query or form body, with '&'
 * before it unless the buffer is empty or ends in '?' or '&' (the shared
 * encoder of tsso/form.h). */
int oidc_form_add(struct tsso_buf *b, const char *name, const char *value) TSSO_WUR;
/* Append s encoded as application/x-www-form-urlencoded (space as '+',
 * everything but [A-Za-z0-9*-._] as %XX): RFC 6749 Appendix B, for HTTP
 * Basic client credentials. */
int oidc_form_escape(struct tsso_buf *b, const char *s) TSSO_WUR;
/* Parse a JSON object strictly (duplicates refused, whole input, no NUL);
 * new reference or NULL. */
json_t *oidc_json_object(const char *text, size_t len);
/* Borrowed string member, NULL when absent or not a string. */
const char *oidc_json_str(const json_t *obj, const char *name);
/* Largest |time| accepted in a claim (year ~285 million): arithmetic with it
 * cannot overflow. */
#define OIDC_TIME_MAX 9000000000000000LL
/* A JSON number as whole seconds within ±OIDC_TIME_MAX: 0 when it is one, -1
 * otherwise. */
int oidc_json_time(const json_t *v, long long *ret);
/* Copy an error code from a peer if it is a plain token ([A-Za-z0-9_.-],
 * 1-64 chars); else "invalid". For messages and pages. */
const char *oidc_safe_code(const char *code, char *buf, size_t n);
/* 127.0.0.0/8, ::1 or localhost, as written in a URL host. */
bool oidc_host_is_loopback(const char *host);
/* True for https URLs, or http on loopback when development is set. */
bool oidc_url_ok(const char *url, bool development);
/* True when list (n entries) contains s. */
bool oidc_list_has(const char *const *list, size_t n, const char *s);
/* Standard base64 with padding (RFC 4648 §4), for HTTP Basic. New string. */
char *oidc_b64_std(const void *data, size_t n);

/* --- provider metadata (discovery.c) --- */

struct oidc_meta {
	atomic_int refs;
	json_t *doc;
	/* Borrowed from doc. */
	const char *issuer;
	const char *authorization_endpoint;
	const char *token_endpoint;
	const char *userinfo_endpoint;
	const char *jwks_uri;
	const char *end_session_endpoint;
	const char *par_endpoint;
	bool iss_parameter_supported; /* RFC 9207 §3 */
	bool require_par;             /* RFC 9126 §5 */
	const char *algs[16];         /* id_token_signing_alg_values_supported, known ones */
	size_t n_algs;
	bool algs_advertised;
	long long fetched_at;
};

/* Parse and check a discovery document for the configured issuer. New
 * object (refs 1) or NULL with reason discovery.malformed / issuer_mismatch. */
struct oidc_meta *oidc_meta_parse(const char *body, size_t len, const char *issuer,
                                  bool development, struct tsso_err *err) TSSO_WUR;
void oidc_meta_unref(struct oidc_meta *m);

/* --- keys (jwks_cache.c) --- */

struct oidc_keys {
	atomic_int refs;
	struct tsso_jwks *jwks;
	char *uri; /* the jwks_uri these keys came from */
	long long fetched_at;
	unsigned long gen;
};
void oidc_keys_unref(struct oidc_keys *k);

/* --- the tenant object (idp.c) --- */

struct tsso_idp {
	const struct tsso_tenant_cfg *cfg;
	char *redirect_uri;
	bool development;
	long leeway;
	struct tsso_fetcher *fetcher;
	struct tsso_signer *client_signer; /* private_key_jwt */
	struct tsso_jwe_key *jwe_key;      /* encrypted ID tokens */

	pthread_mutex_t mu; /* guards the snapshot pointers and the status below */
	struct oidc_meta *meta;
	struct oidc_keys *keys;
	const char *last_reason; /* static */
	bool tried;

	pthread_mutex_t fetch_mu; /* one metadata or JWKS fetch at a time */
	long long meta_last_attempt;
	long long jwks_last_attempt;
	long long jwks_last_refetch; /* last refetch for an unknown kid (rate-limited) */
	bool meta_failed;            /* the last discovery fetch failed */
	bool jwks_failed;            /* the last JWKS fetch failed */
	unsigned long keys_gen;
};

/* Current metadata (new reference, caller unrefs): the cached copy when
 * fresh enough, else fetched now. */
int oidc_meta_get(struct tsso_idp *idp, long long now, struct oidc_meta **ret,
                  struct tsso_err *err) TSSO_WUR;
/* Fetch discovery now and swap it in. */
int oidc_meta_fetch(struct tsso_idp *idp, long long now, struct tsso_err *err) TSSO_WUR;

/* Current keys (new reference); fetched when there are none. */
int oidc_keys_get(struct tsso_idp *idp, const struct oidc_meta *meta, long long now,
                  struct oidc_keys **ret, struct tsso_err *err) TSSO_WUR;
/* Refetch after an unknown kid: at most once per TSSO_JWKS_REFETCH_MIN_S per
 * tenant; when another thread already swapped in newer keys than `seen`,
 * those are returned without a fetch. New reference in *ret. */
int oidc_keys_refetch(struct tsso_idp *idp, const struct oidc_meta *meta, unsigned long seen,
                      long long now, struct oidc_keys **ret, struct tsso_err *err) TSSO_WUR;
/* Fetch the JWKS now and swap it in. */
int oidc_keys_fetch(struct tsso_idp *idp, const struct oidc_meta *meta, long long now,
                    struct tsso_err *err) TSSO_WUR;

/* --- JWT verification shared by ID tokens, UserInfo and logout tokens (id_token.c) --- */

/* Reason codes of one token kind. */
struct oidc_reasons {
	const char *malformed, *alg_not_allowed, *bad_signature, *kid_unknown, *ambiguous_key,
	    *no_matching_key, *decrypt_failed, *iss_mismatch, *aud_mismatch, *azp_mismatch,
	    *exp_missing, *expired, *iat_missing, *iat_future, *nbf_future;
};
extern const struct oidc_reasons oidc_id_token_reasons;
extern const struct oidc_reasons oidc_logout_token_reasons;
extern const struct oidc_reasons oidc_userinfo_reasons;

/* The algorithms accepted for this tenant's signed tokens (OIDC Core §3.1.3.7
 * steps 6-8): fills algs (room for 16), returns the count. */
size_t oidc_allowed_algs(const struct tsso_idp *idp, const struct oidc_meta *meta,
                         const char **algs);

/* Decrypt when needed, parse, verify the signature (refetching the JWKS once
 * on an unknown kid). New jws in *ret. */
int oidc_jwt_verify(struct tsso_idp *idp, const struct oidc_meta *meta, const char *token,
                    long long now, const struct oidc_reasons *r, struct tsso_jws **ret,
                    struct tsso_err *err) TSSO_WUR;

/* What the claim checks of an ID token compare against. */
struct oidc_id_expect {
	const char *issuer;
	const char *client_id;
	const char *nonce;                       /* NULL: not checked (refresh, OIDC Core §12.2) */
	const char *access_token;                /* for at_hash, may be NULL */
	const char *alg;                         /* the JWS alg, for at_hash */
	const char *sub;                         /* required sub (refresh), or NULL */
	long max_age;                            /* -1: auth_time not required */
	const struct tsso_strlist *acr_required; /* non-NULL: acr must be one of these */
	long leeway;
	long long now;
};

/* OIDC Core §3.1.3.7 steps 2-5 and 9-13 on verified claims. */
int oidc_id_token_check_claims(const json_t *claims, const struct oidc_id_expect *x,
                               struct tsso_err *err) TSSO_WUR;
/* iss, aud/azp, exp, iat, nbf checks shared by the token kinds. */
int oidc_check_common(const json_t *claims, const char *issuer, const char *client_id, long leeway,
                      long long now, bool exp_required, const struct oidc_reasons *r,
                      struct tsso_err *err) TSSO_WUR;

/* --- authorization request and response (authz.c, par.c) --- */

/* PKCE S256 challenge of a verifier (RFC 7636 §4.2). New string. */
char *oidc_pkce_challenge(const char *verifier);
/* New random state, nonce and verifier in a new login state. */
struct tsso_login_state *oidc_login_state_new(const char *tenant, const char *return_to,
                                              long max_age, long long now);
/* Append the authorization request parameters (RFC 6749 §4.1.1, OIDC Core
 * §3.1.2.1, RFC 7636 §4.3) to b. */
int oidc_authz_params(const struct tsso_idp *idp, const struct tsso_login_state *ls,
                      const struct tsso_idp_begin_opts *opts, struct tsso_buf *b) TSSO_WUR;
/* Check an authorization response; *ret_code borrowed from params. */
int oidc_authz_response(const struct tsso_idp *idp, const struct oidc_meta *meta,
                        const struct tsso_login_state *ls, const struct tsso_oidc_param *params,
                        size_t n, long long now, const char **ret_code,
                        struct tsso_err *err) TSSO_WUR;
/* True for parameters extra_auth_params may not set. */
bool oidc_param_reserved(const char *name);
/* Push the request (RFC 9126 §2); *ret_request_uri new. */
int oidc_par_push(struct tsso_idp *idp, const struct oidc_meta *meta, const char *params,
                  long long now, char **ret_request_uri, struct tsso_err *err) TSSO_WUR;

/* --- client authentication and token endpoint (client_auth.c, token.c) --- */

/* Add client authentication (RFC 6749 §2.3, OIDC Core §9) to a form body and
 * a header list (room for 2 more, each a new string the caller frees).
 * aud is the assertion audience; client_id false when the form has it already. */
int oidc_client_auth(const struct tsso_idp *idp, const char *aud, long long now, bool client_id,
                     struct tsso_buf *form, char **hdrs, size_t *n_hdrs,
                     struct tsso_err *err) TSSO_WUR;

struct oidc_tokens {
	char *id_token;
	char *access_token;
	char *refresh_token;
	long long expires_in; /* -1 when absent */
};
void oidc_tokens_clear(struct oidc_tokens *t);

/* A token request ready to send: client authentication applied (its
 * headers owned here), the body is the caller's form. */
struct oidc_token_call {
	struct tsso_fetch_req req;
	const char *hdrs[5];
	char *extra[2];
	size_t n_extra;
};
int oidc_token_call_prepare(struct tsso_idp *idp, const struct oidc_meta *meta,
                            struct tsso_buf *form, long long now, struct oidc_token_call *call,
                            struct tsso_err *err);
void oidc_token_call_clear(struct oidc_token_call *call);
/* The tokens from a call's outcome (fetch_rc, resp, ferr as tsso_fetch left them). */
int oidc_token_call_result(int fetch_rc, const struct tsso_fetch_resp *resp,
                           const struct tsso_err *ferr, bool id_token_required,
                           struct oidc_tokens *ret, struct tsso_err *err);
/* POST form to the token endpoint with client authentication and check the
 * response (RFC 6749 §5.1/§5.2). id_token_required for the code grant. */
int oidc_token_request(struct tsso_idp *idp, const struct oidc_meta *meta, struct tsso_buf *form,
                       bool id_token_required, long long now, struct oidc_tokens *ret,
                       struct tsso_err *err) TSSO_WUR;
/* Check a token endpoint response already received (for tests and fuzzing). */
int oidc_token_response(long status, const char *body, size_t len, bool id_token_required,
                        struct oidc_tokens *ret, struct tsso_err *err) TSSO_WUR;

/* --- UserInfo (userinfo.c) --- */

int oidc_userinfo_get(struct tsso_idp *idp, const struct oidc_meta *meta, const char *access_token,
                      const char *sub, long long now, json_t **ret, struct tsso_err *err) TSSO_WUR;

/* --- logout token (logout_token.c) --- */

int oidc_logout_check_claims(const json_t *header, const json_t *claims, const char *issuer,
                             const char *client_id, long leeway, long long now,
                             struct tsso_logout_claims *ret, struct tsso_err *err) TSSO_WUR;

/* --- the event loop's libcurl callbacks (fetch.c), open to the unit tests --- */

/* The socket callback of each loop's multi handle: socketp is
 * TSSO_FETCH_SOCKETP(the epoll events fd is registered for), never NULL. */
#define TSSO_FETCH_SOCKETP(events) ((void *)(uintptr_t)(0x100u | (events)))
int tsso_fetch_loop_socket(CURL *h, curl_socket_t fd, int what, void *user, void *socketp);
/* The close-socket callback of every easy handle. */
int tsso_fetch_close_socket(void *user, curl_socket_t fd);

#endif
