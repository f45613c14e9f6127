/*
 * Sessions: the record one login leaves behind, and the store that keeps it
 * (session.store: "cookie", "memory" or "redis"). The HTTP layer deals in
 * cookie VALUES only: the store hands out a value at login and resolves it on
 * each request. Server-side stores put only a random 256-bit id (plus two
 * hashes used for revocation, see docs/sessions.md) in the cookie; the cookie
 * store seals the whole record with AES-256-GCM (aead.h).
 *
 * Every reason starting with "session." means "no session" (answer 401 or
 * start a login, do not log at error level); "store.unavailable" means the
 * shared store cannot be reached (answer 503).
 */
#ifndef TSSO_SESSION_H
#define TSSO_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tsso/common.h"
#include "tsso/config.h"
#include "tsso/err.h"

#define TSSO_SESSION_ID_BYTES 32 /* 256 random bits */
#define TSSO_SESSION_ID_LEN   43 /* their base64url form */

/* One login. Times named *_ms are Unix milliseconds (sessions are compared
 * with revocation times at millisecond precision); token expiries (*_exp) are
 * Unix seconds like JWT "exp", 0 when unknown. Strings are owned; secrets
 * (tokens) are wiped on free. */
struct tsso_session {
	char id[TSSO_SESSION_ID_LEN + 1]; /* set by the store at creation */
	char *tenant;
	char *iss;
	char *sub;
	char *sid; /* the IdP's session id (OIDC Back-Channel Logout §2.1), may be NULL */
	int64_t created_ms;
	int64_t last_seen_ms;
	int64_t expires_ms; /* min(created + max_duration, last_seen + inactivity) */
	char *id_token;     /* for id_token_hint at logout; may be NULL */
	char *access_token; /* optional */
	int64_t access_exp;
	char *refresh_token; /* optional */
	int64_t refresh_exp;
	json_t *identity; /* the embed identity (identity.h JSON form), opaque here; may be NULL;
	                     for a session read from a store, NULL until tsso_session_identity() */
	char
	    *identity_text; /* a read session's identity, checked but not yet parsed; may be NULL */
	size_t identity_text_len;
	char *embed_token; /* cached embed token, optional */
	int64_t embed_exp;
	int64_t embed_iat; /* when the cached token was issued (its lifetime is exp - iat) */
};

/* A new, empty session (caller frees). */
struct tsso_session *tsso_session_new(void) TSSO_WUR;
/* Wipes the tokens, then frees. Accepts NULL. */
void tsso_session_free(struct tsso_session *s);
/* Replace a string field with a copy of value (NULL clears); -1 on out of
 * memory. field is one of &s->tenant, &s->sub, ... The old value is wiped. */
int tsso_session_set(char **field, const char *value) TSSO_WUR;

/* The embed identity (borrowed; NULL when the session has none). A session
 * read from a store carries it as text checked strictly at read (RFC 8259,
 * no repeated member name; see docs/sessions.md) and parsed here, on first
 * use: a request answered from the cached embed token never builds it.
 * NULL also when that text does not parse (the caller answers as for a
 * malformed session). */
json_t *tsso_session_identity(struct tsso_session *s);

/* Serialize compactly as JSON. Refuses (session.too_large) records over
 * TSSO_SESSION_JSON_MAX bytes or with iss/sub/sid over
 * TSSO_SESSION_FIELD_MAX, and (session.invalid) records without tenant,
 * iss or sub. *ret_json is new (caller wipes and frees), *ret_n its length. */
int tsso_session_to_json(const struct tsso_session *s, char **ret_json, size_t *ret_n,
                         struct tsso_err *err) TSSO_WUR;
/* Parse what tsso_session_to_json wrote: strict (unknown or duplicate keys,
 * wrong types and oversized input refused with session.malformed). */
struct tsso_session *tsso_session_from_json(const char *json, size_t n,
                                            struct tsso_err *err) TSSO_WUR;

/* The store. */
struct tsso_store;

/* A store of the kind cfg->session.store names. Reads the keyring
 * (session.secret_file) for the cookie store, connects lazily to Redis for
 * the redis store (and for the cookie store's revocation list when
 * session.redis_url is set). Config problems fail with store.config. */
struct tsso_store *tsso_store_new(const struct tsso_config *cfg, struct tsso_err *err) TSSO_WUR;
/* Accepts NULL. */
void tsso_store_free(struct tsso_store *st);
/* After a reload that had to build a new store (cookie store: the keyring
 * may have changed), keep the process-local single-use markers, locks and
 * revocation list of prev, the store being replaced: st and prev then share
 * them (either may be freed first). Call before st serves requests. Does
 * nothing for what either store keeps in Redis. */
void tsso_store_inherit(struct tsso_store *st, struct tsso_store *prev);
/* True when no operation of this store leaves the process (no Redis, not
 * even for the cookie store's revocation list). */
bool tsso_store_is_local(const struct tsso_store *st);
/* "cookie", "memory" or "redis". Borrowed. */
const char *tsso_store_name(const struct tsso_store *st);

/* Persist a new session. Gives it a fresh random id whatever it held (no
 * session fixation), sets created_ms, last_seen_ms and expires_ms from the
 * clock and config, and returns the cookie value to set (*ret_cookie, new).
 * Reasons: session.too_large (cookie store: the sealed record would exceed
 * TSSO_SESSION_COOKIE_MAX), session.invalid, store.unavailable. */
int tsso_store_session_create(struct tsso_store *st, struct tsso_session *s, char **ret_cookie,
                              struct tsso_err *err) TSSO_WUR;
/* Resolve a cookie value for tenant. On success *ret_session is new and
 * *ret_cookie is NULL or a new value the caller must set (the cookie store
 * re-seals when the inactivity clock moved). Reasons: session.none (no or
 * malformed value), session.forged, session.unknown_key (cookie store: sealed
 * with a key since removed), session.malformed, session.not_found,
 * session.wrong_tenant, session.expired, session.revoked, store.unavailable.
 * Outputs untouched on failure. */
int tsso_store_session_get(struct tsso_store *st, const char *tenant, const char *cookie,
                           struct tsso_session **ret_session, char **ret_cookie,
                           struct tsso_err *err) TSSO_WUR;
/* Save a changed session (refreshed tokens, cached embed token) under its id.
 * *ret_cookie as for _get (always set by the cookie store). */
int tsso_store_session_update(struct tsso_store *st, const struct tsso_session *s,
                              char **ret_cookie, struct tsso_err *err) TSSO_WUR;
/* End one session (RP-initiated logout). The cookie store records the id
 * in its revocation list so a copied cookie dies too. */
int tsso_store_session_delete(struct tsso_store *st, const struct tsso_session *s,
                              struct tsso_err *err) TSSO_WUR;
/* End every session of (tenant, sid) or of (tenant, sub) created up to now,
 * on every instance sharing the store (back-channel logout). */
int tsso_store_end_by_sid(struct tsso_store *st, const char *tenant, const char *sid,
                          struct tsso_err *err) TSSO_WUR;
int tsso_store_end_by_sub(struct tsso_store *st, const char *tenant, const char *sub,
                          struct tsso_err *err) TSSO_WUR;

/* Single use: the first call for key within ttl_ms succeeds, later ones
 * fail with store.replayed (login state, logout-token jti). Keys are at most
 * TSSO_STORE_KEY_MAX bytes; callers namespace them ("jti:acme:...").
 * Other reasons: store.bad_key, store.full (memory), store.unavailable. */
int tsso_store_claim_once(struct tsso_store *st, const char *key, long ttl_ms,
                          struct tsso_err *err) TSSO_WUR;
/* Take a lease lock for lease_ms (refresh-token coordination). On success
 * *ret_token (new) proves ownership; store.locked when someone holds it. */
int tsso_store_lock(struct tsso_store *st, const char *key, long lease_ms, char **ret_token,
                    struct tsso_err *err) TSSO_WUR;
/* Release a lock only if token still owns it (a lease that expired and was
 * taken by another is left alone). */
int tsso_store_unlock(struct tsso_store *st, const char *key, const char *token,
                      struct tsso_err *err) TSSO_WUR;

/* Readiness: 0 when usable, else -1 with store.unavailable and a message
 * such as "redis unreachable: Connection refused". */
int tsso_store_health(struct tsso_store *st, struct tsso_err *err) TSSO_WUR;
/* Bytes of memory the store holds for sessions, markers and indexes
 * (process-local part only; for the redis store, connection buffers are not
 * counted). */
size_t tsso_store_bytes_used(const struct tsso_store *st);
/* Tests only: replace the clock (Unix milliseconds). */
void tsso_store_clock_set(struct tsso_store *st, int64_t (*now_ms)(void *arg), void *arg);

#endif
