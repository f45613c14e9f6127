/*
 * Embed tokens for Toucan: the signing keystore (keys_dir) behind
 * `toucan-sso keys` and the JWKS route, Toucan 3.0 signed JWTs (with the
 * optional JWT-bearer exchange), the Toucan AI token API client (retries,
 * circuit breaker), the token cache policy, the audit line and the browser
 * helper script. OpenSSL, cjose and curl types stay inside src/embed/ and the
 * modules it calls (jose, fetch).
 *
 * Error reasons (stable): embed.toucan_unavailable, embed.toucan_refused,
 * embed.circuit_open, embed.too_large, embed.sign_failed,
 * embed.no_signing_key, embed.no_username, embed.misconfigured,
 * embed.production_mode, embed.claims_file, keys.exist, keys.none,
 * keys.rotation_pending, keys.bad_alg, keys.io, keys.permissions,
 * keys.metadata, keys.locked, keys.generate_failed.
 */
#ifndef TSSO_EMBED_H
#define TSSO_EMBED_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "tsso/buf.h"
#include "tsso/common.h"
#include "tsso/config.h"
#include "tsso/err.h"
#include "tsso/identity.h"

/* Toucan 3.0: the fixed subject of the signed JWT and the client id of the
 * JWT-bearer exchange. */
#define TSSO_EMBED_SUBJECT "toucan-embed-client"

/* --- keystore management (the `toucan-sso keys` CLI) --- */

/* The states of a signing key at a given time. */
enum tsso_embed_key_state {
	TSSO_EMBED_KEY_NEXT = 0, /* published, signs from activates_at on */
	TSSO_EMBED_KEY_CURRENT,  /* signs */
	TSSO_EMBED_KEY_RETIRED,  /* published until retired_at + TSSO_EMBED_RETIRED_KEEP */
	TSSO_EMBED_KEY_EXPIRED,  /* no longer published; pruned at the next rotation */
};

/* Name of a state ("next", "current", "retired", "expired"). Static string. */
const char *tsso_embed_key_state_name(enum tsso_embed_key_state s);

/* True for the algorithms a signing key may use: RS512 (default), RS256,
 * PS256, ES256, EdDSA. */
bool tsso_embed_alg_allowed(const char *alg);

/* Create the first signing key in keys_dir (created 0700 when absent): a new
 * private key <kid>.pem (mode 0600, O_EXCL) and keys.json, current from now.
 * alg NULL means RS512 (RSA 3072). Refuses (keys.exist) when keys.json or any
 * .pem file is already there. *ret_kid (may be NULL) is a new string. */
int tsso_embed_keys_generate(const char *keys_dir, const char *alg, long long now, char **ret_kid,
                             struct tsso_err *err) TSSO_WUR;

/* Add a `next` key that becomes current at now + overlap (the previous
 * current key then retires, and stays published for TSSO_EMBED_RETIRED_KEEP
 * seconds more). Expired keys are dropped from keys.json and their files
 * deleted. Refuses with keys.none when there is no key yet and with
 * keys.rotation_pending when a next key is still waiting. alg NULL: the
 * current key's alg. *ret_kid (may be NULL) is a new string. */
int tsso_embed_keys_rotate(const char *keys_dir, const char *alg, long long now, long overlap,
                           char **ret_kid, struct tsso_err *err) TSSO_WUR;

/* The keys at time now, never their material: a new array of objects
 * {kid, alg, state, created_at, activates_at[, retired_at, unpublish_at]}
 * (times in Unix seconds). NULL with err set. */
json_t *tsso_embed_keys_describe(const char *keys_dir, long long now, struct tsso_err *err);

/* The same as a text table for `toucan-sso keys list` (ISO 8601 UTC dates).
 * *ret_text is a new string. */
int tsso_embed_keys_list(const char *keys_dir, long long now, char **ret_text,
                         struct tsso_err *err) TSSO_WUR;

/* --- the daemon's immutable keystore snapshot --- */

struct tsso_embed_keystore;

/* Load keys_dir (at start and on SIGHUP): every key that is not expired at
 * now, each file checked (regular, not a symlink, no group/other access:
 * keys.permissions) and parsed by the jose module. An absent keys_dir or
 * keys.json gives an empty keystore (signed_jwt tenants then fail with
 * embed.no_signing_key; `toucan-sso check` should say so). New object or
 * NULL with err set. Safe to share between threads. */
struct tsso_embed_keystore *tsso_embed_keystore_load(const char *keys_dir, long long now,
                                                     struct tsso_err *err) TSSO_WUR;
void tsso_embed_keystore_free(struct tsso_embed_keystore *ks);
/* Number of keys loaded. */
size_t tsso_embed_keystore_count(const struct tsso_embed_keystore *ks);
/* Borrowed kid of the key that signs at time now, or NULL when none. */
const char *tsso_embed_keystore_current_kid(const struct tsso_embed_keystore *ks, long long now);

/* For `toucan-sso check` and start-up: -1 with embed.no_signing_key when a
 * tenant of cfg uses signed_jwt but ks has no current key at now. */
int tsso_embed_keystore_check(const struct tsso_config *cfg, const struct tsso_embed_keystore *ks,
                              long long now, struct tsso_err *err) TSSO_WUR;

/* The JWKS document ({"keys": [...]}) at time now: public keys of every
 * current, next and still-published retired key. New reference. */
json_t *tsso_embed_jwks_json(const struct tsso_embed_keystore *ks, long long now);

/* --- minting --- */

/* An issued embed token. token is secret: release with
 * tsso_embed_token_clear, which wipes it. */
struct tsso_embed_token {
	char *token;          /* the value for the auth-token attribute */
	long long issued_at;  /* Unix seconds, our clock */
	long long expires_at; /* Unix seconds */
	long expires_in;      /* seconds, as issued */
	char jti[48];         /* the JWT's jti, or a short hash of an opaque token */
};

void tsso_embed_token_clear(struct tsso_embed_token *t);
/* The embed-token route's answer {"token", "expires_at", "expires_in"}
 * (expires_in counted from now). New reference or NULL. */
json_t *tsso_embed_token_json(const struct tsso_embed_token *t, long long now);
/* The same answer written straight to out (no json_t: every page load of an
 * embedding page asks for it); -1 when out is full or t has no token. */
int tsso_embed_token_write(struct tsso_buf *out, const struct tsso_embed_token *t,
                           long long now) TSSO_WUR;

/* Token cache policy: true when a token issued at iat that expires at exp
 * should be re-minted at now, i.e. when more than two thirds of its life are
 * spent (or the clock went backwards, or the times make no sense). */
bool tsso_embed_should_remint(long long iat, long long exp, long long now);

/* Tuning of the outbound calls; zero fields take the defaults of limits.h.
 * Tests shorten the times. */
struct tsso_embed_opts {
	long connect_timeout_ms;  /* TSSO_EMBED_CONNECT_TIMEOUT_MS */
	long total_timeout_ms;    /* per attempt: TSSO_EMBED_TOTAL_TIMEOUT_MS */
	int max_retries;          /* TSSO_EMBED_MAX_RETRIES (also the maximum); -1: none */
	long backoff_base_ms;     /* TSSO_EMBED_BACKOFF_BASE_MS */
	long backoff_max_ms;      /* TSSO_EMBED_BACKOFF_MAX_MS */
	int breaker_threshold;    /* TSSO_EMBED_BREAKER_THRESHOLD consecutive failures */
	long breaker_cooldown_ms; /* TSSO_EMBED_BREAKER_COOLDOWN_MS before a half-open probe */
};

/* One per tenant and configuration generation: the tenant's scheme, its
 * fetcher (connection reuse) and circuit breaker. */
struct tsso_embed_client;

/* cfg, t and ks are borrowed and must outlive the client (ks may be NULL for
 * api tenants). opts may be NULL. New object or NULL with err set
 * (embed.misconfigured, or the fetcher's reason). */
struct tsso_embed_client *tsso_embed_client_new(const struct tsso_config *cfg,
                                                const struct tsso_tenant_cfg *t,
                                                const struct tsso_embed_keystore *ks,
                                                const struct tsso_embed_opts *opts,
                                                struct tsso_err *err) TSSO_WUR;
void tsso_embed_client_free(struct tsso_embed_client *c);

/* Mint a token for id through the tenant's scheme at time now (Unix
 * seconds) and write the audit line. Thread-safe. On failure ret is
 * untouched and err says why: embed.too_large, embed.no_username,
 * embed.no_signing_key, embed.sign_failed, embed.toucan_unavailable,
 * embed.toucan_refused, embed.circuit_open. */
/* True when tsso_embed_mint signs locally (signed_jwt without the
 * exchange): no call to Toucan. */
bool tsso_embed_mint_is_local(const struct tsso_embed_client *c);
int tsso_embed_mint(struct tsso_embed_client *c, const struct tsso_identity *id, long long now,
                    struct tsso_embed_token *ret, struct tsso_err *err) TSSO_WUR;

/* The HTTP status for a mint failure: 503 for embed.toucan_unavailable and
 * embed.circuit_open, 502 for embed.toucan_refused, else 500. */
int tsso_embed_err_status(const struct tsso_err *err);
/* Seconds a client should wait before retrying (the Retry-After header):
 * the breaker's remaining cool-down, Toucan's own Retry-After, or 5. */
long tsso_embed_client_retry_after(struct tsso_embed_client *c);
/* Per-session rate limit of the embed-token route (a token bucket of
 * TSSO_EMBED_RATE_BURST requests refilled at TSSO_EMBED_RATE_PER_MIN per
 * minute, in a bounded table of TSSO_EMBED_RATE_SLOTS sessions; reset when
 * the configuration is reloaded). key identifies the session (any bytes; only
 * a keyed hash of it is kept). Takes one request: 0 when allowed, else the
 * seconds to wait (Retry-After). Thread-safe. */
long tsso_embed_client_rate_take(struct tsso_embed_client *c, const void *key, size_t key_len);
/* New connections the client's fetcher opened (metrics, reuse tests). */
unsigned long tsso_embed_client_connects(const struct tsso_embed_client *c);

/* --- development mode (`toucan-sso mint`) --- */

/* 0 when cfg is in development mode, else -1 with embed.production_mode. */
int tsso_embed_dev_check(const struct tsso_config *cfg, struct tsso_err *err) TSSO_WUR;

/* Turns the claims of a file into an identity (the mapping module's job);
 * returns a new identity or NULL with err set. */
typedef struct tsso_identity *(*tsso_embed_map_fn)(void *ctx, const struct tsso_tenant_cfg *t,
                                                   json_t *claims, struct tsso_err *err);

/* Mint through t's configured scheme from a claims JSON file, without SSO:
 * refuses production mode first. map NULL means the file already holds an
 * identity (tsso_identity_to_json form). ks may be NULL for api tenants. */
int tsso_embed_dev_mint(const struct tsso_config *cfg, const struct tsso_tenant_cfg *t,
                        const struct tsso_embed_keystore *ks, const char *claims_file,
                        tsso_embed_map_fn map, void *map_ctx, long long now,
                        struct tsso_embed_token *ret, struct tsso_err *err) TSSO_WUR;

/* --- the browser helper, {base}/{tenant}/embed.js --- */

/* The script, compiled in (borrowed, static); *ret_len its length. */
const char *tsso_embed_js(size_t *ret_len);
/* Its strong ETag, quoted (borrowed, static). */
const char *tsso_embed_js_etag(void);

#endif
