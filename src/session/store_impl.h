/*
 * Inside the session store: the backend function table and the helpers the
 * backends share. Not included outside src/session/.
 */
#ifndef TSSO_STORE_IMPL_H
#define TSSO_STORE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "tsso/aead.h"
#include "tsso/session.h"

struct tsso_store;
struct store_markers;
struct redis_store;

enum store_field { STORE_BY_SID = 0, STORE_BY_SUB, STORE_BY_ID };

/* One backend: what differs between cookie, memory and redis. */
struct store_ops {
	const char *name;
	int (*put)(struct tsso_store *st, const struct tsso_session *s, bool create,
	           char **ret_cookie, struct tsso_err *err);
	int (*get)(struct tsso_store *st, const char *tenant, const char *cookie, int64_t now,
	           struct tsso_session **ret_s, char **ret_cookie, struct tsso_err *err);
	int (*del)(struct tsso_store *st, const struct tsso_session *s, struct tsso_err *err);
	int (*end_by)(struct tsso_store *st, enum store_field f, const char *tenant,
	              const char *value, struct tsso_err *err);
};

struct tsso_store {
	const struct store_ops *ops;
	enum tsso_store_kind kind;
	int64_t inactivity_ms;
	int64_t max_duration_ms;
	int64_t touch_ms; /* last_seen is rewritten when it moved this much */
	int64_t (*now_fn)(void *arg);
	void *now_arg;
	struct tsso_keyring *keyring;      /* cookie store */
	struct store_markers *markers;     /* single use and locks, without Redis */
	struct store_markers *revocations; /* cookie store without Redis; apart from
	                                    * markers so a flood of logins cannot
	                                    * push revocations out */
	struct redis_store *redis;         /* redis store, or cookie store's revocation list */
	void *memory;                      /* memory store */
};

int64_t store_now(const struct tsso_store *st);
/* min(created + max_duration, last_seen + inactivity) */
int64_t store_expiry(const struct tsso_store *st, const struct tsso_session *s);
/* The session's expiry check and the sliding inactivity window. */
bool store_session_alive(const struct tsso_store *st, const struct tsso_session *s, int64_t now);
/* True when last_seen is old enough to be rewritten (saves a write per request). */
bool store_session_touch(const struct tsso_store *st, struct tsso_session *s, int64_t now);
/* base64url(SHA-256(value))[:22]: names a sid/sub in keys and cookies
 * without putting the (possibly personal) value there. out: 23 bytes. */
#define STORE_HASH_LEN 22
void store_value_hash(const char *value, char out[STORE_HASH_LEN + 1]);
/* "rev:<tenant>:<sid|sub|id>:<hash or id>" into out (TSSO_STORE_KEY_MAX). */
int store_revocation_key(enum store_field f, const char *tenant, const char *value, char *out,
                         size_t outlen) TSSO_WUR;

/* In-memory markers (replay.c): bounded, expiring key -> (number, token). */
struct store_markers *store_markers_new(size_t max);
/* Drops one reference; the last frees. */
void store_markers_free(struct store_markers *m);
/* One more reference to m (NULL stays NULL); the table is thread-safe. */
struct store_markers *store_markers_share(struct store_markers *m);
size_t store_markers_bytes(const struct store_markers *m);
/* Insert when absent or expired: 0 inserted, 1 present. -1 out of memory. */
int store_markers_add(struct store_markers *m, const char *key, int64_t expires, int64_t num,
                      const char *token, int64_t now) TSSO_WUR;
/* Insert or raise: keeps the larger num and the later expiry. */
int store_markers_raise(struct store_markers *m, const char *key, int64_t expires, int64_t num,
                        int64_t now) TSSO_WUR;
/* 1 and *ret_num when present and not expired, else 0. */
int store_markers_get(struct store_markers *m, const char *key, int64_t now, int64_t *ret_num);
/* Delete when the token matches: 1 deleted, 0 not. */
int store_markers_del_if(struct store_markers *m, const char *key, const char *token);

/* Revocation list over markers or Redis, for the cookie and redis stores:
 * is the session revoked by id, sid or sub? 0 no, 1 yes, -1 store error. */
int store_revoked(struct tsso_store *st, const struct tsso_session *s, int64_t now,
                  struct tsso_err *err);
int store_revoke(struct tsso_store *st, enum store_field f, const char *tenant, const char *value,
                 int64_t now, struct tsso_err *err) TSSO_WUR;

/* Backends. */
extern const struct store_ops store_cookie_ops;
extern const struct store_ops store_memory_ops;
extern const struct store_ops store_redis_ops;

void *store_memory_new(size_t max_sessions, struct tsso_err *err);
void store_memory_free(void *mem);
size_t store_memory_bytes(const void *mem);

/* Redis: store_redis.c */
struct redis_store *store_redis_new(const struct tsso_config *cfg, struct tsso_err *err);
void store_redis_free(struct redis_store *r);
int store_redis_health(struct redis_store *r, struct tsso_err *err);
int store_redis_claim_once(struct redis_store *r, const char *key, long ttl_ms,
                           struct tsso_err *err);
int store_redis_lock(struct redis_store *r, const char *key, long lease_ms, const char *token,
                     struct tsso_err *err);
int store_redis_unlock(struct redis_store *r, const char *key, const char *token,
                       struct tsso_err *err);
/* Revocation markers: set (keeping the max) and read several in one MGET. */
int store_redis_revoke(struct redis_store *r, const char *key, int64_t before, int64_t ttl_ms,
                       struct tsso_err *err);
int store_redis_revoked(struct redis_store *r, const char *const *keys, size_t n,
                        int64_t *ret_before, struct tsso_err *err);

#endif
