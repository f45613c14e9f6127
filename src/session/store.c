/* The session store: construction from config, dispatch to a backend, and the
 * rules every backend shares (fresh ids, expiry, revocation, single use). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "src/session/store_impl.h"
#include "tsso/b64.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

#define STORE_INACTIVITY_DEFAULT   1800
#define STORE_MAX_DURATION_DEFAULT 28800
/* last_seen is rewritten at most once a minute (or a tenth of the window). */
#define STORE_TOUCH_MAX_MS 60000
/* Shared revocation markers cover sessions created up to this much after the
 * logout, for instances whose clocks run ahead (docs/sessions.md). */
#define STORE_REVOKE_SKEW_MS 1000

static int64_t store_clock_real(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t store_now(const struct tsso_store *st)
{
	return st->now_fn(st->now_arg);
}

void tsso_store_clock_set(struct tsso_store *st, int64_t (*now_ms)(void *arg), void *arg)
{
	st->now_fn = now_ms != NULL ? now_ms : store_clock_real;
	st->now_arg = arg;
}

int64_t store_expiry(const struct tsso_store *st, const struct tsso_session *s)
{
	int64_t hard = s->created_ms + st->max_duration_ms;
	int64_t idle = s->last_seen_ms + st->inactivity_ms;

	return hard < idle ? hard : idle;
}

bool store_session_alive(const struct tsso_store *st, const struct tsso_session *s, int64_t now)
{
	/* Both the stored expiry and today's config must agree: a shortened
	 * max_duration applies to sessions already issued. */
	return now < s->expires_ms && now < store_expiry(st, s) && s->created_ms <= now + 60000;
}

bool store_session_touch(const struct tsso_store *st, struct tsso_session *s, int64_t now)
{
	if (now - s->last_seen_ms < st->touch_ms)
		return false;
	s->last_seen_ms = now;
	s->expires_ms = store_expiry(st, s);
	return true;
}

void store_value_hash(const char *value, char out[STORE_HASH_LEN + 1])
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	/* Out of memory in OpenSSL: one fixed key for every value, the same when
	 * revoking and when checking, so that every session reads as revoked
	 * (fails closed) rather than none. */
	if (tsso_sha256(value, strlen(value), d) < 0)
		memset(d, 0, sizeof(d));
	tsso_b64url_encode_to(out, d, 16); /* 128 bits: 22 characters */
}

int store_revocation_key(enum store_field f, const char *tenant, const char *value, char *out,
                         size_t outlen)
{
	static const char *const kinds[] = {"sid", "sub", "id"};
	char h[STORE_HASH_LEN + 1];
	int n;

	if (f == STORE_BY_ID) {
		n = snprintf(out, outlen, "rev:%s:id:%s", tenant, value);
	} else {
		store_value_hash(value, h);
		n = snprintf(out, outlen, "rev:%s:%s:%s", tenant, kinds[f], h);
	}
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int store_revoke(struct tsso_store *st, enum store_field f, const char *tenant, const char *value,
                 int64_t now, struct tsso_err *err)
{
	char key[TSSO_STORE_KEY_MAX];
	int64_t ttl = st->max_duration_ms + 2 * STORE_REVOKE_SKEW_MS;

	if (store_revocation_key(f, tenant, value, key, sizeof(key)) < 0)
		return tsso_err_set(err, "store.bad_key", "revocation key too long");
	if (st->redis != NULL)
		return store_redis_revoke(st->redis, key, now + STORE_REVOKE_SKEW_MS, ttl, err);
	if (store_markers_raise(st->revocations, key, now + ttl, now, now) < 0)
		return tsso_err_set(err, "store.full", "out of memory for revocations");
	return 0;
}

int store_revoked(struct tsso_store *st, const struct tsso_session *s, int64_t now,
                  struct tsso_err *err)
{
	char keys[3][TSSO_STORE_KEY_MAX];
	const char *kp[3] = {NULL};
	int64_t before[3];
	size_t n = 0;

	if (store_revocation_key(STORE_BY_ID, s->tenant, s->id, keys[n], sizeof(keys[n])) == 0)
		n++;
	if (store_revocation_key(STORE_BY_SUB, s->tenant, s->sub, keys[n], sizeof(keys[n])) == 0)
		n++;
	if (s->sid != NULL &&
	    store_revocation_key(STORE_BY_SID, s->tenant, s->sid, keys[n], sizeof(keys[n])) == 0)
		n++;
	for (size_t i = 0; i < n; i++) {
		kp[i] = keys[i];
		before[i] = -1;
	}
	if (st->redis != NULL) {
		if (store_redis_revoked(st->redis, kp, n, before, err) < 0)
			return -1;
	} else {
		for (size_t i = 0; i < n; i++)
			if (store_markers_get(st->revocations, kp[i], now, &before[i]) != 1)
				before[i] = -1;
	}
	for (size_t i = 0; i < n; i++)
		if (before[i] >= 0 && s->created_ms <= before[i])
			return 1;
	return 0;
}

static int store_config(struct tsso_store *st, const struct tsso_config *cfg, struct tsso_err *err)
{
	long inact = cfg->session.inactivity_timeout, maxd = cfg->session.max_duration;

	if (inact == 0)
		inact = STORE_INACTIVITY_DEFAULT;
	if (maxd == 0)
		maxd = STORE_MAX_DURATION_DEFAULT;
	if (inact < 0 || maxd < 0 || inact > 31L * 86400 || maxd > 366L * 86400)
		return tsso_err_set(err, "store.config",
		                    "session.inactivity_timeout and session.max_duration must be "
		                    "positive numbers of seconds (at most 31 and 366 days)");
	st->inactivity_ms = (int64_t)inact * 1000;
	st->max_duration_ms = (int64_t)maxd * 1000;
	st->touch_ms = st->inactivity_ms / 10;
	if (st->touch_ms > STORE_TOUCH_MAX_MS)
		st->touch_ms = STORE_TOUCH_MAX_MS;
	return 0;
}

static int store_keyring(struct tsso_store *st, const struct tsso_config *cfg, struct tsso_err *err)
{
	if (cfg->session.secret_file == NULL)
		return tsso_err_set(
		    err, "store.config",
		    "session.secret_file: required for the cookie and redis stores");
	st->keyring = tsso_keyring_load(cfg->session.secret_file, err);
	return st->keyring != NULL ? 0 : -1;
}

struct tsso_store *tsso_store_new(const struct tsso_config *cfg, struct tsso_err *err)
{
	struct tsso_store *st = calloc(1, sizeof(*st));
	long max_sessions = cfg->session.memory_max_sessions;

	if (st == NULL) {
		tsso_err_set(err, "store.config", "out of memory");
		return NULL;
	}
	st->kind = cfg->session.store;
	st->now_fn = store_clock_real;
	if (store_config(st, cfg, err) < 0)
		goto fail;
	switch (st->kind) {
	case TSSO_STORE_COOKIE:
		st->ops = &store_cookie_ops;
		if (store_keyring(st, cfg, err) < 0)
			goto fail;
		/* The revocation list is shared through Redis when one is configured. */
		if (cfg->session.redis_url != NULL &&
		    (st->redis = store_redis_new(cfg, err)) == NULL)
			goto fail;
		break;
	case TSSO_STORE_MEMORY:
		st->ops = &store_memory_ops;
		if (max_sessions < 0 || max_sessions > 100000000L) {
			tsso_err_set(
			    err, "store.config",
			    "session.memory_max_sessions: must be between 1 and 100000000");
			goto fail;
		}
		st->memory = store_memory_new(
		    max_sessions == 0 ? TSSO_STORE_MEMORY_SESSIONS : (size_t)max_sessions, err);
		if (st->memory == NULL)
			goto fail;
		break;
	case TSSO_STORE_REDIS:
		st->ops = &store_redis_ops;
		/* Records are sealed at rest: Redis backups and replicas hold no
		 * usable session or token. */
		if (store_keyring(st, cfg, err) < 0)
			goto fail;
		st->redis = store_redis_new(cfg, err);
		if (st->redis == NULL)
			goto fail;
		break;
	default:
		tsso_err_set(err, "store.config", "session.store: unknown store");
		goto fail;
	}
	if (st->redis == NULL &&
	    ((st->markers = store_markers_new(TSSO_STORE_MARKERS_MAX)) == NULL ||
	     (st->kind == TSSO_STORE_COOKIE &&
	      (st->revocations = store_markers_new(TSSO_STORE_MARKERS_MAX)) == NULL))) {
		tsso_err_set(err, "store.config", "out of memory");
		goto fail;
	}
	return st;
fail:
	tsso_store_free(st);
	return NULL;
}

void tsso_store_inherit(struct tsso_store *st, struct tsso_store *prev)
{
	if (st == NULL || prev == NULL || st == prev)
		return;
	/* Without Redis these tables are the only record of used login states,
	 * logout-token jti and logouts: a reload that dropped them would reopen
	 * replays and revive logged-out cookies. */
	if (st->markers != NULL && prev->markers != NULL) {
		store_markers_free(st->markers);
		st->markers = store_markers_share(prev->markers);
	}
	if (st->revocations != NULL && prev->revocations != NULL) {
		store_markers_free(st->revocations);
		st->revocations = store_markers_share(prev->revocations);
	}
}

void tsso_store_free(struct tsso_store *st)
{
	if (st == NULL)
		return;
	tsso_keyring_free(st->keyring);
	store_markers_free(st->markers);
	store_markers_free(st->revocations);
	store_redis_free(st->redis);
	store_memory_free(st->memory);
	free(st);
}

bool tsso_store_is_local(const struct tsso_store *st)
{
	return st->redis == NULL;
}

const char *tsso_store_name(const struct tsso_store *st)
{
	return st->ops->name;
}

int tsso_store_session_create(struct tsso_store *st, struct tsso_session *s, char **ret_cookie,
                              struct tsso_err *err)
{
	unsigned char raw[TSSO_SESSION_ID_BYTES];
	int64_t now = store_now(st);

	if (s->tenant == NULL || s->iss == NULL || s->sub == NULL)
		return tsso_err_set(err, "session.invalid", "session without tenant, iss or sub");
	/* A fresh id at every login, whatever the caller had (no fixation). */
	if (tsso_rand_bytes(raw, sizeof(raw)) < 0)
		return tsso_err_set(err, "store.unavailable", "random generator failed");
	tsso_b64url_encode_to(s->id, raw, sizeof(raw));
	tsso_wipe(raw, sizeof(raw));
	s->created_ms = now;
	s->last_seen_ms = now;
	s->expires_ms = store_expiry(st, s);
	return st->ops->put(st, s, true, ret_cookie, err);
}

int tsso_store_session_get(struct tsso_store *st, const char *tenant, const char *cookie,
                           struct tsso_session **ret_session, char **ret_cookie,
                           struct tsso_err *err)
{
	if (cookie == NULL || cookie[0] == '\0' || tenant == NULL)
		return tsso_err_set(err, "session.none", "no session cookie");
	if (strnlen(cookie, TSSO_SESSION_COOKIE_MAX + 1) > TSSO_SESSION_COOKIE_MAX)
		return tsso_err_set(err, "session.none", "session cookie too long");
	return st->ops->get(st, tenant, cookie, store_now(st), ret_session, ret_cookie, err);
}

int tsso_store_session_update(struct tsso_store *st, const struct tsso_session *s,
                              char **ret_cookie, struct tsso_err *err)
{
	if (strlen(s->id) != TSSO_SESSION_ID_LEN)
		return tsso_err_set(err, "session.invalid", "session without id");
	return st->ops->put(st, s, false, ret_cookie, err);
}

int tsso_store_session_delete(struct tsso_store *st, const struct tsso_session *s,
                              struct tsso_err *err)
{
	if (strlen(s->id) != TSSO_SESSION_ID_LEN || s->tenant == NULL)
		return tsso_err_set(err, "session.invalid", "session without id");
	return st->ops->del(st, s, err);
}

static int store_end_by(struct tsso_store *st, enum store_field f, const char *tenant,
                        const char *value, struct tsso_err *err)
{
	if (tenant == NULL || value == NULL || value[0] == '\0' ||
	    strnlen(value, TSSO_SESSION_FIELD_MAX + 1) > TSSO_SESSION_FIELD_MAX ||
	    strnlen(tenant, TSSO_TENANT_ID_MAX + 1) > TSSO_TENANT_ID_MAX)
		return tsso_err_set(err, "store.bad_key", "bad tenant, sid or sub");
	return st->ops->end_by(st, f, tenant, value, err);
}

int tsso_store_end_by_sid(struct tsso_store *st, const char *tenant, const char *sid,
                          struct tsso_err *err)
{
	return store_end_by(st, STORE_BY_SID, tenant, sid, err);
}

int tsso_store_end_by_sub(struct tsso_store *st, const char *tenant, const char *sub,
                          struct tsso_err *err)
{
	return store_end_by(st, STORE_BY_SUB, tenant, sub, err);
}

static int store_key_ok(const char *key, long ttl_ms, struct tsso_err *err)
{
	size_t n = key != NULL ? strnlen(key, TSSO_STORE_KEY_MAX + 1) : 0;

	if (n == 0 || n > TSSO_STORE_KEY_MAX - 8)
		return tsso_err_set(err, "store.bad_key", "empty or oversized key");
	if (ttl_ms <= 0 || ttl_ms > 366L * 86400 * 1000)
		return tsso_err_set(err, "store.bad_key", "ttl out of range");
	return 0;
}

int tsso_store_claim_once(struct tsso_store *st, const char *key, long ttl_ms, struct tsso_err *err)
{
	char k[TSSO_STORE_KEY_MAX];
	int64_t now = store_now(st);
	int r;

	if (store_key_ok(key, ttl_ms, err) < 0)
		return -1;
	snprintf(k, sizeof(k), "once:%s", key);
	if (st->redis != NULL)
		return store_redis_claim_once(st->redis, k, ttl_ms, err);
	r = store_markers_add(st->markers, k, now + ttl_ms, 0, NULL, now);
	if (r < 0)
		return tsso_err_set(err, "store.full", "out of memory for single-use markers");
	return r == 0 ? 0 : tsso_err_set(err, "store.replayed", "already used");
}

int tsso_store_lock(struct tsso_store *st, const char *key, long lease_ms, char **ret_token,
                    struct tsso_err *err)
{
	char k[TSSO_STORE_KEY_MAX];
	int64_t now = store_now(st);
	char *token = NULL;
	int r;

	if (store_key_ok(key, lease_ms, err) < 0)
		return -1;
	snprintf(k, sizeof(k), "lock:%s", key);
	token = tsso_rand_token(16);
	if (token == NULL)
		return tsso_err_set(err, "store.unavailable", "random generator failed");
	if (st->redis != NULL) {
		r = store_redis_lock(st->redis, k, lease_ms, token, err);
	} else {
		r = store_markers_add(st->markers, k, now + lease_ms, 0, token, now);
		if (r < 0)
			r = tsso_err_set(err, "store.full", "out of memory for locks");
		else if (r == 1)
			r = tsso_err_set(err, "store.locked", "held by another");
	}
	if (r < 0) {
		free(token);
		return -1;
	}
	*ret_token = token;
	return 0;
}

int tsso_store_unlock(struct tsso_store *st, const char *key, const char *token,
                      struct tsso_err *err)
{
	char k[TSSO_STORE_KEY_MAX];

	if (store_key_ok(key, 1, err) < 0 || token == NULL)
		return tsso_err_set(err, "store.bad_key", "bad key or token");
	snprintf(k, sizeof(k), "lock:%s", key);
	if (st->redis != NULL)
		return store_redis_unlock(st->redis, k, token, err);
	(void)store_markers_del_if(st->markers, k, token);
	return 0;
}

int tsso_store_health(struct tsso_store *st, struct tsso_err *err)
{
	return st->redis != NULL ? store_redis_health(st->redis, err) : 0;
}

size_t tsso_store_bytes_used(const struct tsso_store *st)
{
	size_t n =
	    sizeof(*st) + store_markers_bytes(st->markers) + store_markers_bytes(st->revocations);

	if (st->memory != NULL)
		n += store_memory_bytes(st->memory);
	return n;
}
