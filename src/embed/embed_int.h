/* Declarations shared by the files of src/embed/ only (not a public header). */
#ifndef TSSO_EMBED_INT_H
#define TSSO_EMBED_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "tsso/embed.h"
#include "tsso/fetch.h"
#include "tsso/limits.h"

#define TSSO_EMBED_KID_MAX   64 /* [A-Za-z0-9_-], also the file name <kid>.pem */
#define TSSO_EMBED_META_FILE "keys.json"
#define TSSO_EMBED_LOCK_FILE ".keys.lock"
#define TSSO_EMBED_JWT_TYP   "JWT" /* the typ of Toucan 3.0 embed JWTs (RFC 7519 §5.1) */

/* --- keys.c: files in keys_dir --- */

struct tsso_embed_key_meta {
	char kid[TSSO_EMBED_KID_MAX + 1];
	char alg[8];
	long long created_at;
	long long activates_at;
};

/* keys.json, sorted by activates_at (then created_at). */
struct tsso_embed_meta {
	struct tsso_embed_key_meta keys[TSSO_EMBED_KEYS_MAX];
	size_t n;
};

bool tsso_embed_kid_valid(const char *kid);
/* Read keys.json; *ret_exists false (and m empty) when the file is absent. */
int tsso_embed_meta_read(const char *dir, struct tsso_embed_meta *m, bool *ret_exists,
                         struct tsso_err *err) TSSO_WUR;
/* Write keys.json atomically (temporary file, fsync, rename, fsync dir). */
int tsso_embed_meta_write(const char *dir, const struct tsso_embed_meta *m,
                          struct tsso_err *err) TSSO_WUR;
/* Generate a key for alg and write it to dir/<kid>.pem (0600, O_EXCL); the
 * kid (random) is written to kid_out. */
int tsso_embed_key_create(const char *dir, const char *alg, long long now,
                          char kid_out[TSSO_EMBED_KID_MAX + 1], struct tsso_err *err) TSSO_WUR;
/* Read dir/<kid>.pem after the permission checks; *ret_pem is new (wipe). */
int tsso_embed_key_read(const char *dir, const char *kid, char **ret_pem, size_t *ret_len,
                        struct tsso_err *err) TSSO_WUR;
/* Delete dir/<kid>.pem (best effort, for pruning expired keys). */
void tsso_embed_key_delete(const char *dir, const char *kid);
/* dir is a directory that neither group nor others may write to. */
int tsso_embed_dir_check(const char *dir, struct tsso_err *err) TSSO_WUR;
/* True when dir holds a file ending in .pem. */
bool tsso_embed_dir_has_pem(const char *dir);
/* Exclusive lock on dir for the keys commands (keys.locked when held). */
int tsso_embed_dir_lock(const char *dir, bool create_dir, int *ret_fd,
                        struct tsso_err *err) TSSO_WUR;
void tsso_embed_dir_unlock(int fd);

/* --- keystore.c --- */

/* The state of m->keys[i] at now; *ret_retired_at (may be NULL) is set for
 * retired and expired keys. */
enum tsso_embed_key_state tsso_embed_meta_state(const struct tsso_embed_meta *m, size_t i,
                                                long long now, long long *ret_retired_at);
/* Borrowed signer of the key that signs at now, NULL when none; with
 * *ret_header_b64 (may be NULL) its JWT protected header, base64url,
 * borrowed from the keystore. */
const struct tsso_signer *tsso_embed_keystore_signer(const struct tsso_embed_keystore *ks,
                                                     long long now, const char **ret_header_b64);

/* jti values: 128 bits (RFC 7519 §4.1.7: negligible collisions), drawn from
 * the client's own tsso_rand_pool (tsso/crypto.h), so that minting does not
 * contend with the rest of the process for a pool. */
#define TSSO_EMBED_JTI_BYTES 16

/* --- breaker.c: per-tenant circuit breaker and the retrying call --- */

struct tsso_embed_breaker {
	pthread_mutex_t mu;
	int threshold;
	long cooldown_ms;
	int failures; /* consecutive */
	bool open;
	bool probing; /* a half-open probe is in flight */
	double opened_at;
};

void tsso_embed_breaker_init(struct tsso_embed_breaker *b, int threshold, long cooldown_ms);
void tsso_embed_breaker_destroy(struct tsso_embed_breaker *b);
/* May a call go out at now (monotonic seconds)? */
bool tsso_embed_breaker_allow(struct tsso_embed_breaker *b, double now);
/* Record the outcome of a call that was allowed: 1 Toucan answered, 0 it
 * failed (timeout, connection, 5xx), -1 nothing was learnt. */
void tsso_embed_breaker_record(struct tsso_embed_breaker *b, int outcome, double now);
/* Milliseconds until a probe may go out (0 when closed). */
long tsso_embed_breaker_wait_ms(struct tsso_embed_breaker *b, double now);

/* --- ratelimit.c: per-session token buckets of the embed-token route --- */

struct tsso_embed_ratelimit;
struct tsso_embed_ratelimit *tsso_embed_ratelimit_new(long burst, long per_min);
void tsso_embed_ratelimit_free(struct tsso_embed_ratelimit *rl);
/* Take one request for key at now (monotonic seconds): 0 when allowed, else
 * the whole seconds until the next request is allowed. */
long tsso_embed_ratelimit_take(struct tsso_embed_ratelimit *rl, const void *key, size_t key_len,
                               double now);

struct tsso_embed_client {
	const struct tsso_config *cfg;
	const struct tsso_tenant_cfg *t;
	const struct tsso_embed_keystore *ks;
	struct tsso_embed_opts opts;
	struct tsso_fetcher *fetcher; /* NULL when the scheme calls nobody */
	struct tsso_embed_breaker breaker;
	char *api_url;                     /* api: {toucan_url}/embed/generate-token */
	atomic_long retry_after;           /* last Retry-After Toucan sent, seconds, or -1 */
	struct tsso_embed_ratelimit *rate; /* embed-token requests per session */
	struct tsso_rand_pool *jti;        /* randomness of signed JWTs' jti */
};

/* Build the request of one attempt (called again for each retry, so that a
 * signed assertion gets a fresh jti). Strings it points to live in ctx. */
typedef int (*tsso_embed_build_fn)(void *ctx, struct tsso_fetch_req *req, struct tsso_err *err);
/* Called after each attempt to release what build made. */
typedef void (*tsso_embed_release_fn)(void *ctx);

/* One logical call with bounded retries (timeouts, connection failures and
 * 5xx only), jittered exponential backoff and the breaker. On success *ret
 * holds an answer below 500 (the caller judges 4xx). Fails with
 * embed.toucan_unavailable or embed.circuit_open. */
int tsso_embed_call(struct tsso_embed_client *c, tsso_embed_build_fn build,
                    tsso_embed_release_fn release, void *ctx, struct tsso_fetch_resp *ret,
                    struct tsso_err *err) TSSO_WUR;

/* --- jwt.c, exchange.c, api.c --- */

/* The TTL for t's tokens: tenant, else main config, else default; capped. */
long tsso_embed_ttl(const struct tsso_config *cfg, const struct tsso_tenant_cfg *t);
/* Sign a Toucan 3.0 JWT for id; *ret_kid borrowed from the keystore. */
int tsso_embed_jwt_sign(const struct tsso_embed_client *c, const struct tsso_identity *id,
                        long long now, struct tsso_embed_token *ret, const char **ret_kid,
                        struct tsso_err *err) TSSO_WUR;
/* Exchange at t->embed.token_url (signing a fresh JWT per attempt). */
int tsso_embed_exchange(struct tsso_embed_client *c, const struct tsso_identity *id, long long now,
                        struct tsso_embed_token *ret, const char **ret_kid,
                        struct tsso_err *err) TSSO_WUR;
/* Toucan AI: POST {toucan_url}/embed/generate-token. */
int tsso_embed_api_mint(struct tsso_embed_client *c, const struct tsso_identity *id, long long now,
                        struct tsso_embed_token *ret, struct tsso_err *err) TSSO_WUR;
/* Parse the token API's answer (exposed for tests and the fuzzer). */
int tsso_embed_api_parse(const char *body, size_t len, long long now, struct tsso_embed_token *ret,
                         struct tsso_err *err) TSSO_WUR;
/* True when t is a non-empty RFC 6750 b64token. */
bool tsso_embed_token_charset_ok(const char *t);
/* Parse "1h", "30m", "90s", "2d", "3600" (seconds); -1 when malformed. */
long tsso_embed_duration_parse(const char *s);
/* A short, non-reversible id of an opaque token for the audit line. */
void tsso_embed_token_fingerprint(const char *token, char out[48]);
/* Fill *ret with a copy of token issued now for expires_in seconds (capped at
 * TSSO_EMBED_API_TTL_MAX) and jti (NULL: a short hash of the token). */
int tsso_embed_token_fill(struct tsso_embed_token *ret, const char *token, long long now,
                          long long expires_in, const char *jti, struct tsso_err *err);

/* --- audit.c --- */

void tsso_embed_audit(const struct tsso_tenant_cfg *t, const char *scheme, const char *kid,
                      const struct tsso_identity *id, const struct tsso_embed_token *tok);

#endif
