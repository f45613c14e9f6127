/*
 * Redis store: sessions shared by every instance. Commands go through the
 * argv API only (binary safe, no format strings with data). Costs: a login
 * is one SET (plus the caller's claim_once); a request is one MGET that
 * reads the session and its revocation markers together; the inactivity
 * window is rewritten at most once per touch period.
 *
 * Keys, under session.redis_key_prefix (default "tsso:"):
 *   s:<hash(id)>                   the session record, sealed with the
 *                                  keyring (AAD "session-record:<tenant>:<hash(id)>"),
 *                                  PX = its remaining life
 *   rev:<tenant>:<sid|sub>:<hash>  revocation time (ms) from back-channel logout
 *   once:<key>  lock:<key>         single-use markers and lease locks
 * The cookie value is "<id>.<hash(sid)>.<hash(sub)>" so that one MGET finds
 * the session and the markers that may revoke it; the hashes are checked
 * against the stored session, so editing them revokes nothing away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/session/redis_pool.h"
#include "src/session/store_impl.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

#define REDIS_PREFIX_DEFAULT "tsso:"
#define REDIS_PREFIX_MAX     64
#define REDIS_POOL_DEFAULT   8
#define REDIS_KEY_MAX        (REDIS_PREFIX_MAX + TSSO_STORE_KEY_MAX)
#define REDIS_COOKIE_LEN     (TSSO_SESSION_ID_LEN + 2 * STORE_HASH_LEN + 2)

/* Compare-and-delete: release a lock only while we still own it. */
static const char unlock_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
    "else return 0 end";

struct redis_store {
	struct redis_pool *pool;
	char prefix[REDIS_PREFIX_MAX + 1];
};

struct redis_store *store_redis_new(const struct tsso_config *cfg, struct tsso_err *err)
{
	struct redis_pool_opts o = {0};
	struct redis_store *r = NULL;
	const char *prefix = cfg->session.redis_key_prefix;
	char *host = NULL;
	long size = cfg->session.redis_pool_size;

	if (cfg->session.redis_url == NULL) {
		tsso_err_set(err, "store.config",
		             "session.redis_url: required for the redis store");
		return NULL;
	}
	if (prefix == NULL)
		prefix = REDIS_PREFIX_DEFAULT;
	if (strlen(prefix) > REDIS_PREFIX_MAX) {
		tsso_err_set(err, "store.config", "session.redis_key_prefix: over %d bytes",
		             REDIS_PREFIX_MAX);
		return NULL;
	}
	if (size == 0)
		size = REDIS_POOL_DEFAULT;
	if (size < 1 || size > TSSO_REDIS_POOL_MAX) {
		tsso_err_set(err, "store.config", "session.redis_pool_size: must be 1 to %d",
		             TSSO_REDIS_POOL_MAX);
		return NULL;
	}
	if (redis_url_parse(cfg->session.redis_url, &host, &o.port, &o.db, &o.tls, err) < 0)
		return NULL;
	if (cfg->session.redis_ca_file != NULL && !o.tls) {
		tsso_err_set(err, "store.config",
		             "session.redis_ca_file: needs a rediss:// (TLS) redis_url");
		goto out;
	}
	o.ca_file = cfg->session.redis_ca_file;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		tsso_err_set(err, "store.config", "out of memory");
		goto out;
	}
	memcpy(r->prefix, prefix, strlen(prefix) + 1);
	o.host = host;
	o.password = cfg->session.redis_password.value;
	o.password_len = cfg->session.redis_password.len;
	o.size = (size_t)size;
	o.connect_timeout_ms = TSSO_REDIS_CONNECT_TIMEOUT_MS;
	o.command_timeout_ms = TSSO_REDIS_COMMAND_TIMEOUT_MS;
	r->pool = redis_pool_new(&o, err);
	if (r->pool == NULL) {
		free(r);
		r = NULL;
	}
out:
	free(host);
	return r;
}

void store_redis_free(struct redis_store *r)
{
	if (r == NULL)
		return;
	redis_pool_free(r->pool);
	free(r);
}

int store_redis_health(struct redis_store *r, struct tsso_err *err)
{
	return redis_pool_health(r->pool, err);
}

static size_t rkey(const struct redis_store *r, char *out, const char *a, const char *b)
{
	int n = snprintf(out, REDIS_KEY_MAX, "%s%s%s", r->prefix, a, b != NULL ? b : "");

	return n < 0 || n >= REDIS_KEY_MAX ? 0 : (size_t)n;
}

static int reply_error(redisReply *rep, struct tsso_err *err)
{
	tsso_err_set(err, "store.unavailable", "redis error: %s",
	             rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
	freeReplyObject(rep);
	return -1;
}

/* SET key value PX ttl [NX|XX]: 1 when set, 0 when the condition failed. */
static int redis_set(struct redis_store *r, const char *key, size_t klen, const char *val,
                     size_t vlen, int64_t ttl_ms, const char *cond, struct tsso_err *err)
{
	char ttl[24];
	const char *argv[6] = {"SET", key, val, "PX", ttl, cond};
	size_t len[6] = {3, klen, vlen, 2, 0, cond != NULL ? 2 : 0};
	redisReply *rep = NULL;
	int rc;

	len[4] = (size_t)snprintf(ttl, sizeof(ttl), "%lld", (long long)(ttl_ms > 0 ? ttl_ms : 1));
	if (redis_pool_command(r->pool, cond != NULL ? 6 : 5, argv, len, &rep, err) < 0)
		return -1;
	if (rep->type == REDIS_REPLY_NIL)
		rc = 0;
	else if (rep->type == REDIS_REPLY_STATUS)
		rc = 1;
	else
		return reply_error(rep, err);
	freeReplyObject(rep);
	return rc;
}

int store_redis_claim_once(struct redis_store *r, const char *key, long ttl_ms,
                           struct tsso_err *err)
{
	char k[REDIS_KEY_MAX];
	size_t kl = rkey(r, k, key, NULL);
	int rc;

	if (kl == 0)
		return tsso_err_set(err, "store.bad_key", "key too long");
	rc = redis_set(r, k, kl, "1", 1, ttl_ms, "NX", err);
	if (rc < 0)
		return -1;
	return rc == 1 ? 0 : tsso_err_set(err, "store.replayed", "already used");
}

int store_redis_lock(struct redis_store *r, const char *key, long lease_ms, const char *token,
                     struct tsso_err *err)
{
	char k[REDIS_KEY_MAX];
	size_t kl = rkey(r, k, key, NULL);
	int rc;

	if (kl == 0)
		return tsso_err_set(err, "store.bad_key", "key too long");
	rc = redis_set(r, k, kl, token, strlen(token), lease_ms, "NX", err);
	if (rc < 0)
		return -1;
	return rc == 1 ? 0 : tsso_err_set(err, "store.locked", "held by another");
}

int store_redis_unlock(struct redis_store *r, const char *key, const char *token,
                       struct tsso_err *err)
{
	char k[REDIS_KEY_MAX];
	size_t kl = rkey(r, k, key, NULL);
	const char *argv[] = {"EVAL", unlock_script, "1", k, token};
	const size_t len[] = {4, sizeof(unlock_script) - 1, 1, kl, strlen(token)};
	redisReply *rep = NULL;

	if (kl == 0)
		return tsso_err_set(err, "store.bad_key", "key too long");
	if (redis_pool_command(r->pool, 5, argv, len, &rep, err) < 0)
		return -1;
	if (rep->type != REDIS_REPLY_INTEGER)
		return reply_error(rep, err);
	freeReplyObject(rep);
	return 0;
}

int store_redis_revoke(struct redis_store *r, const char *key, int64_t before, int64_t ttl_ms,
                       struct tsso_err *err)
{
	char k[REDIS_KEY_MAX], v[24];
	size_t kl = rkey(r, k, key, NULL);
	int vl = snprintf(v, sizeof(v), "%lld", (long long)before);

	if (kl == 0)
		return tsso_err_set(err, "store.bad_key", "key too long");
	return redis_set(r, k, kl, v, (size_t)vl, ttl_ms, NULL, err) < 0 ? -1 : 0;
}

/* A revocation time from an MGET element; -1 when absent. */
static int64_t reply_time(const redisReply *e)
{
	long long v = 0;

	if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 19)
		return -1;
	for (size_t i = 0; i < e->len; i++) {
		if (e->str[i] < '0' || e->str[i] > '9')
			return -1;
		v = v * 10 + (e->str[i] - '0');
	}
	return (int64_t)v;
}

/* MGET of already-prefixed keys: one round trip, one command. */
static int redis_mget(struct redis_store *r, size_t n, const char **keys, const size_t *klen,
                      redisReply **ret_rep, struct tsso_err *err)
{
	const char *argv[5];
	size_t len[5];
	redisReply *rep = NULL;

	argv[0] = "MGET";
	len[0] = 4;
	for (size_t i = 0; i < n; i++) {
		argv[i + 1] = keys[i];
		len[i + 1] = klen[i];
	}
	if (redis_pool_command(r->pool, (int)n + 1, argv, len, &rep, err) < 0)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n)
		return reply_error(rep, err);
	*ret_rep = rep;
	return 0;
}

int store_redis_revoked(struct redis_store *r, const char *const *keys, size_t n,
                        int64_t *ret_before, struct tsso_err *err)
{
	char k[3][REDIS_KEY_MAX];
	const char *kp[3] = {NULL};
	size_t kl[3] = {0};
	redisReply *rep = NULL;

	if (n > 3)
		return tsso_err_set(err, "store.bad_key", "too many keys");
	for (size_t i = 0; i < n; i++) {
		kl[i] = rkey(r, k[i], keys[i], NULL);
		if (kl[i] == 0)
			return tsso_err_set(err, "store.bad_key", "key too long");
		kp[i] = k[i];
	}
	if (redis_mget(r, n, kp, kl, &rep, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		ret_before[i] = reply_time(rep->element[i]);
	freeReplyObject(rep);
	return 0;
}

/* --- sessions --- */

/* s:<hash of the id>: the key does not reveal a usable session id. */
static size_t redis_session_key(const struct redis_store *r, const char *id, char *out)
{
	char h[STORE_HASH_LEN + 1];

	store_value_hash(id, h);
	return rkey(r, out, "s:", h);
}

/* Binds a record to its tenant and to its key: records cannot be swapped. */
static int record_aad(const char *tenant, const char *id, char *out, size_t outlen)
{
	char h[STORE_HASH_LEN + 1];
	int n;

	store_value_hash(id, h);
	n = snprintf(out, outlen, "session-record:%s:%s", tenant, h);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The record as stored: JSON without the id, sealed under the keyring. */
static int record_seal(const struct tsso_store *st, const struct tsso_session *s, char **ret_sealed,
                       struct tsso_err *err)
{
	struct tsso_session bare = *s; /* shallow: only the id differs */
	char aad[TSSO_TENANT_ID_MAX + 48], *json = NULL;
	size_t n = 0;
	int rc;

	bare.id[0] = '\0';
	if (record_aad(s->tenant, s->id, aad, sizeof(aad)) < 0)
		return tsso_err_set(err, "session.invalid", "tenant id too long");
	if (tsso_session_to_json(&bare, &json, &n, err) < 0)
		return -1;
	rc = tsso_aead_seal(st->keyring, aad, json, n, ret_sealed, err);
	tsso_wipe(json, n);
	free(json);
	return rc;
}

static struct tsso_session *record_open(const struct tsso_store *st, const char *tenant,
                                        const char *id, const char *sealed, struct tsso_err *err)
{
	char aad[TSSO_TENANT_ID_MAX + 48];
	struct tsso_err e = {0};
	unsigned char *plain = NULL;
	struct tsso_session *s;
	size_t n = 0;

	if (record_aad(tenant, id, aad, sizeof(aad)) < 0) {
		tsso_err_set(err, "session.none", "bad tenant");
		return NULL;
	}
	if (tsso_aead_open(st->keyring, aad, sealed, &plain, &n, &e) < 0) {
		/* Another tenant's record, or a record moved to another key,
		 * fails here too: its AAD differs. */
		if (strcmp(tsso_err_reason(&e), "aead.unknown_key") == 0)
			tsso_err_set(err, "session.unknown_key",
			             "record sealed with a removed key");
		else
			tsso_err_set(err, "session.forged", "record failed authentication");
		return NULL;
	}
	s = tsso_session_from_json((const char *)plain, n, err);
	tsso_wipe(plain, n);
	free(plain);
	return s;
}

static int redis_cookie(const struct tsso_session *s, char **ret_cookie)
{
	char hsid[STORE_HASH_LEN + 1] = "", hsub[STORE_HASH_LEN + 1];
	char *c = malloc(REDIS_COOKIE_LEN + 1);

	if (c == NULL)
		return -1;
	if (s->sid != NULL)
		store_value_hash(s->sid, hsid);
	store_value_hash(s->sub, hsub);
	snprintf(c, REDIS_COOKIE_LEN + 1, "%s.%s.%s", s->id, hsid, hsub);
	*ret_cookie = c;
	return 0;
}

static int redis_put(struct tsso_store *st, const struct tsso_session *s, bool create,
                     char **ret_cookie, struct tsso_err *err)
{
	struct redis_store *r = st->redis;
	char k[REDIS_KEY_MAX], *sealed = NULL, *cookie = NULL;
	size_t kl = redis_session_key(r, s->id, k);
	int64_t ttl = s->expires_ms - store_now(st);
	int rc = -1, set;

	if (ttl <= 0)
		return tsso_err_set(err, "session.expired", "session expired");
	if (record_seal(st, s, &sealed, err) < 0)
		return -1;
	if (redis_cookie(s, &cookie) < 0) {
		tsso_err_set(err, "store.unavailable", "out of memory");
		goto out;
	}
	/* The key lives exactly as long as the session: Redis drops it itself.
	 * An update must not bring back a session that ended meanwhile (XX). */
	set = redis_set(r, k, kl, sealed, strlen(sealed), ttl, create ? NULL : "XX", err);
	if (set < 0)
		goto out;
	if (set == 0) {
		tsso_err_set(err, "session.not_found", "session ended");
		goto out;
	}
	*ret_cookie = cookie;
	cookie = NULL;
	rc = 0;
out:
	free(cookie);
	free(sealed);
	return rc;
}

static bool b64url_span(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* "<id>.<hsid or empty>.<hsub>", exact lengths. */
static int redis_cookie_parse(const char *c, char *id, char *hsid, char *hsub)
{
	size_t n = strlen(c), sidlen;
	const char *p;

	if (n != REDIS_COOKIE_LEN && n != REDIS_COOKIE_LEN - STORE_HASH_LEN)
		return -1;
	sidlen = n - (TSSO_SESSION_ID_LEN + STORE_HASH_LEN + 2);
	if (c[TSSO_SESSION_ID_LEN] != '.' || c[TSSO_SESSION_ID_LEN + 1 + sidlen] != '.' ||
	    !b64url_span(c, TSSO_SESSION_ID_LEN))
		return -1;
	p = c + TSSO_SESSION_ID_LEN + 1;
	if (!b64url_span(p, sidlen) || !b64url_span(p + sidlen + 1, STORE_HASH_LEN))
		return -1;
	memcpy(id, c, TSSO_SESSION_ID_LEN);
	id[TSSO_SESSION_ID_LEN] = '\0';
	memcpy(hsid, p, sidlen);
	hsid[sidlen] = '\0';
	memcpy(hsub, p + sidlen + 1, STORE_HASH_LEN + 1);
	return 0;
}

static int redis_get(struct tsso_store *st, const char *tenant, const char *cookie, int64_t now,
                     struct tsso_session **ret_s, char **ret_cookie, struct tsso_err *err)
{
	struct redis_store *r = st->redis;
	char id[TSSO_SESSION_ID_LEN + 1], hsid[STORE_HASH_LEN + 1], hsub[STORE_HASH_LEN + 1];
	char keys[3][REDIS_KEY_MAX], rk[TSSO_STORE_KEY_MAX], h[STORE_HASH_LEN + 1];
	const char *kp[3] = {NULL};
	size_t kl[3] = {0}, n = 2;
	struct tsso_session *s = NULL;
	redisReply *rep = NULL, *e;
	char *fresh = NULL;
	int rc = -1;

	if (redis_cookie_parse(cookie, id, hsid, hsub) < 0)
		return tsso_err_set(err, "session.none", "malformed session cookie");
	kl[0] = redis_session_key(r, id, keys[0]);
	/* Build the marker keys from the cookie's hashes (verified below). */
	if (snprintf(rk, sizeof(rk), "rev:%s:sub:%s", tenant, hsub) >= (int)sizeof(rk))
		return tsso_err_set(err, "session.none", "bad tenant");
	kl[1] = rkey(r, keys[1], rk, NULL);
	if (hsid[0] != '\0') {
		snprintf(rk, sizeof(rk), "rev:%s:sid:%s", tenant, hsid);
		kl[2] = rkey(r, keys[2], rk, NULL);
		n = 3;
	}
	for (size_t i = 0; i < n; i++)
		kp[i] = keys[i];
	if (redis_mget(r, n, kp, kl, &rep, err) < 0)
		return -1;
	e = rep->element[0];
	if (e->type != REDIS_REPLY_STRING) {
		tsso_err_set(err, "session.not_found", "no such session");
		goto out;
	}
	if (strlen(e->str) != e->len) {
		tsso_err_set(err, "session.forged", "record is not a sealed token");
		goto out;
	}
	s = record_open(st, tenant, id, e->str, err);
	if (s == NULL)
		goto out;
	memcpy(s->id, id, sizeof(s->id));
	if (strcmp(s->tenant, tenant) != 0) {
		tsso_err_set(err, "session.wrong_tenant", "session of another tenant");
		goto out;
	}
	/* The cookie's hashes chose the markers read: they must be this session's. */
	store_value_hash(s->sub, h);
	if (strcmp(h, hsub) != 0 || (s->sid == NULL) != (hsid[0] == '\0')) {
		tsso_err_set(err, "session.forged", "cookie does not match the session");
		goto out;
	}
	if (s->sid != NULL) {
		store_value_hash(s->sid, h);
		if (strcmp(h, hsid) != 0) {
			tsso_err_set(err, "session.forged", "cookie does not match the session");
			goto out;
		}
	}
	for (size_t i = 1; i < n; i++) {
		int64_t before = reply_time(rep->element[i]);

		if (before >= 0 && s->created_ms <= before) {
			tsso_err_set(err, "session.revoked", "session ended by logout");
			goto out;
		}
	}
	if (!store_session_alive(st, s, now)) {
		tsso_err_set(err, "session.expired", "session expired");
		goto out;
	}
	if (store_session_touch(st, s, now)) {
		/* A second command, at most once per touch period per session; a
		 * failure here costs the sliding window, not the request. */
		struct tsso_err ignored;

		if (redis_put(st, s, false, &fresh, &ignored) == 0)
			free(fresh);
	}
	*ret_s = s;
	*ret_cookie = NULL;
	s = NULL;
	rc = 0;
out:
	tsso_session_free(s);
	freeReplyObject(rep);
	return rc;
}

static int redis_del(struct tsso_store *st, const struct tsso_session *s, struct tsso_err *err)
{
	char k[REDIS_KEY_MAX];
	size_t kl = redis_session_key(st->redis, s->id, k);
	const char *argv[] = {"DEL", k};
	const size_t len[] = {3, kl};
	redisReply *rep = NULL;

	if (redis_pool_command(st->redis->pool, 2, argv, len, &rep, err) < 0)
		return -1;
	if (rep->type != REDIS_REPLY_INTEGER)
		return reply_error(rep, err);
	freeReplyObject(rep);
	return 0;
}

static int redis_end_by(struct tsso_store *st, enum store_field f, const char *tenant,
                        const char *value, struct tsso_err *err)
{
	return store_revoke(st, f, tenant, value, store_now(st), err);
}

const struct store_ops store_redis_ops = {
    .name = "redis",
    .put = redis_put,
    .get = redis_get,
    .del = redis_del,
    .end_by = redis_end_by,
};
