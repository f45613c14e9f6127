/* Signing key lifecycle (next -> current -> retired -> expired), the keys
 * commands, and the daemon's immutable snapshot with its JWKS. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "embed_int.h"
#include "tsso/buf.h"
#include "tsso/crypto.h"
#include "tsso/jose.h"

static const char *const allowed_algs[] = {"RS512", "RS256", "PS256", "ES256", "EdDSA"};

bool tsso_embed_alg_allowed(const char *alg)
{
	if (alg == NULL)
		return false;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(allowed_algs); i++)
		if (strcmp(alg, allowed_algs[i]) == 0)
			return true;
	return false;
}

const char *tsso_embed_key_state_name(enum tsso_embed_key_state s)
{
	switch (s) {
	case TSSO_EMBED_KEY_NEXT:
		return "next";
	case TSSO_EMBED_KEY_CURRENT:
		return "current";
	case TSSO_EMBED_KEY_RETIRED:
		return "retired";
	case TSSO_EMBED_KEY_EXPIRED:
		return "expired";
	}
	return "unknown";
}

/*
 * States follow from the times alone, so that the daemon switches keys when
 * the overlap has passed without being told: keys are sorted by
 * activates_at; the last one already active signs; one not active yet is
 * next; an active key followed by another active key retired when that
 * successor activated, and stays published TSSO_EMBED_RETIRED_KEEP seconds
 * more, the longest a token it signed can still be valid.
 */
enum tsso_embed_key_state tsso_embed_meta_state(const struct tsso_embed_meta *m, size_t i,
                                                long long now, long long *ret_retired_at)
{
	long long retired_at;

	if (m->keys[i].activates_at > now)
		return TSSO_EMBED_KEY_NEXT;
	if (i + 1 >= m->n || m->keys[i + 1].activates_at > now)
		return TSSO_EMBED_KEY_CURRENT;
	retired_at = m->keys[i + 1].activates_at;
	if (ret_retired_at != NULL)
		*ret_retired_at = retired_at;
	return now < retired_at + TSSO_EMBED_RETIRED_KEEP ? TSSO_EMBED_KEY_RETIRED
	                                                  : TSSO_EMBED_KEY_EXPIRED;
}

static int add_key(const char *dir, struct tsso_embed_meta *m, const char *alg, long long now,
                   long long activates_at, char **ret_kid, struct tsso_err *err)
{
	struct tsso_embed_key_meta *k;
	char kid[TSSO_EMBED_KID_MAX + 1];
	char *copy = NULL;

	if (m->n >= TSSO_EMBED_KEYS_MAX)
		return tsso_err_set(err, "keys.metadata", "keys.json already lists %d keys",
		                    TSSO_EMBED_KEYS_MAX);
	if (ret_kid != NULL && (copy = malloc(TSSO_EMBED_KID_MAX + 1)) == NULL)
		return tsso_err_set(err, "keys.io", "out of memory");
	/* The key file exists before keys.json names it: a reload never sees a
	 * kid without its key. */
	if (tsso_embed_key_create(dir, alg, now, kid, err) < 0)
		goto fail;
	k = &m->keys[m->n++];
	memset(k, 0, sizeof(*k));
	memcpy(k->kid, kid, sizeof(kid));
	snprintf(k->alg, sizeof(k->alg), "%s", alg);
	k->created_at = now;
	k->activates_at = activates_at;
	if (tsso_embed_meta_write(dir, m, err) < 0) {
		tsso_embed_key_delete(dir, kid);
		goto fail;
	}
	if (copy != NULL) {
		memcpy(copy, kid, sizeof(kid));
		*ret_kid = copy;
	}
	return 0;
fail:
	free(copy);
	return -1;
}

int tsso_embed_keys_generate(const char *keys_dir, const char *alg, long long now, char **ret_kid,
                             struct tsso_err *err)
{
	struct tsso_embed_meta m;
	bool exists = false;
	int lock = -1, rc = -1;

	if (alg == NULL)
		alg = "RS512";
	if (!tsso_embed_alg_allowed(alg))
		return tsso_err_set(err, "keys.bad_alg",
		                    "embed.alg must be RS512, RS256, PS256, ES256 or EdDSA");
	if (tsso_embed_dir_lock(keys_dir, true, &lock, err) < 0)
		return -1;
	if (tsso_embed_meta_read(keys_dir, &m, &exists, err) < 0)
		goto out;
	if (exists || tsso_embed_dir_has_pem(keys_dir)) {
		tsso_err_set(err, "keys.exist",
		             "%s already holds keys; use `toucan-sso keys rotate` to add one",
		             keys_dir);
		goto out;
	}
	rc = add_key(keys_dir, &m, alg, now, now, ret_kid, err);
out:
	tsso_embed_dir_unlock(lock);
	return rc;
}

int tsso_embed_keys_rotate(const char *keys_dir, const char *alg, long long now, long overlap,
                           char **ret_kid, struct tsso_err *err)
{
	struct tsso_embed_meta m, kept;
	bool exists = false;
	int lock = -1, rc = -1;
	size_t cur = SIZE_MAX;

	if (overlap < 0)
		return tsso_err_set(err, "keys.metadata", "rotation_overlap must not be negative");
	if (alg != NULL && !tsso_embed_alg_allowed(alg))
		return tsso_err_set(err, "keys.bad_alg",
		                    "embed.alg must be RS512, RS256, PS256, ES256 or EdDSA");
	if (tsso_embed_dir_lock(keys_dir, false, &lock, err) < 0)
		return -1;
	if (tsso_embed_meta_read(keys_dir, &m, &exists, err) < 0)
		goto out;
	if (!exists || m.n == 0) {
		tsso_err_set(err, "keys.none",
		             "%s has no keys; run `toucan-sso keys generate` first", keys_dir);
		goto out;
	}
	memset(&kept, 0, sizeof(kept));
	for (size_t i = 0; i < m.n; i++) {
		enum tsso_embed_key_state s = tsso_embed_meta_state(&m, i, now, NULL);
		if (s == TSSO_EMBED_KEY_NEXT) {
			tsso_err_set(err, "keys.rotation_pending",
			             "key %s is published and becomes current later; rotate again "
			             "after that",
			             m.keys[i].kid);
			goto out;
		}
		if (s == TSSO_EMBED_KEY_CURRENT)
			cur = i;
		if (s != TSSO_EMBED_KEY_EXPIRED)
			kept.keys[kept.n++] = m.keys[i];
	}
	if (alg == NULL)
		alg = cur != SIZE_MAX ? m.keys[cur].alg : "RS512";
	/* Prune expired keys: keys.json first, then their files. */
	if (add_key(keys_dir, &kept, alg, now, now + overlap, ret_kid, err) < 0)
		goto out;
	for (size_t i = 0; i < m.n; i++)
		if (tsso_embed_meta_state(&m, i, now, NULL) == TSSO_EMBED_KEY_EXPIRED)
			tsso_embed_key_delete(keys_dir, m.keys[i].kid);
	rc = 0;
out:
	tsso_embed_dir_unlock(lock);
	return rc;
}

json_t *tsso_embed_keys_describe(const char *keys_dir, long long now, struct tsso_err *err)
{
	struct tsso_embed_meta m;
	bool exists = false;
	json_t *arr;

	if (tsso_embed_meta_read(keys_dir, &m, &exists, err) < 0)
		return NULL;
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < m.n; i++) {
		long long retired_at = 0;
		enum tsso_embed_key_state s = tsso_embed_meta_state(&m, i, now, &retired_at);
		json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "kid", m.keys[i].kid, "alg",
		                      m.keys[i].alg, "state", tsso_embed_key_state_name(s),
		                      "created_at", (json_int_t)m.keys[i].created_at,
		                      "activates_at", (json_int_t)m.keys[i].activates_at);
		if (o != NULL && (s == TSSO_EMBED_KEY_RETIRED || s == TSSO_EMBED_KEY_EXPIRED)) {
			json_object_set_new(o, "retired_at", json_integer(retired_at));
			json_object_set_new(o, "unpublish_at",
			                    json_integer(retired_at + TSSO_EMBED_RETIRED_KEEP));
		}
		if (json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	if (arr == NULL)
		tsso_err_set(err, "keys.io", "out of memory");
	return arr;
}

static void iso_date(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, 32, "-");
		return;
	}
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int tsso_embed_keys_list(const char *keys_dir, long long now, char **ret_text, struct tsso_err *err)
{
	json_t *arr = tsso_embed_keys_describe(keys_dir, now, err);
	struct tsso_buf b;
	size_t i;
	json_t *o;
	int r;

	if (arr == NULL)
		return -1;
	tsso_buf_init(&b, 64 * 1024);
	r = tsso_buf_addf(&b, "%-24s %-6s %-8s %-20s %-20s %-20s %s\n", "KID", "ALG", "STATE",
	                  "CREATED", "SIGNS FROM", "RETIRED", "UNPUBLISHED");
	json_array_foreach (arr, i, o) {
		char c[32], a[32], rt[32] = "-", up[32] = "-";
		json_t *ret_at = json_object_get(o, "retired_at");

		iso_date(json_integer_value(json_object_get(o, "created_at")), c);
		iso_date(json_integer_value(json_object_get(o, "activates_at")), a);
		if (ret_at != NULL) {
			iso_date(json_integer_value(ret_at), rt);
			iso_date(json_integer_value(json_object_get(o, "unpublish_at")), up);
		}
		r |= tsso_buf_addf(&b, "%-24s %-6s %-8s %-20s %-20s %-20s %s\n",
		                   json_string_value(json_object_get(o, "kid")),
		                   json_string_value(json_object_get(o, "alg")),
		                   json_string_value(json_object_get(o, "state")), c, a, rt, up);
	}
	json_decref(arr);
	if (r != 0 || (*ret_text = tsso_buf_take(&b)) == NULL) {
		tsso_buf_free(&b);
		return tsso_err_set(err, "keys.io", "out of memory");
	}
	return 0;
}

/* --- the daemon's snapshot --- */

struct tsso_embed_keystore {
	struct tsso_embed_meta meta;                      /* only the loaded keys */
	struct tsso_signer *signers[TSSO_EMBED_KEYS_MAX]; /* same index as meta.keys */
	/* base64url of each key's JWT protected header ({"alg","typ","kid"}):
	 * fixed per key, so built here once rather than for every token. */
	char *headers[TSSO_EMBED_KEYS_MAX];
};

struct tsso_embed_keystore *tsso_embed_keystore_load(const char *keys_dir, long long now,
                                                     struct tsso_err *err)
{
	struct tsso_embed_keystore *ks = calloc(1, sizeof(*ks));
	struct tsso_embed_meta m;
	bool exists = false;

	if (ks == NULL) {
		tsso_err_set(err, "keys.io", "out of memory");
		return NULL;
	}
	if (keys_dir == NULL)
		return ks;
	if (tsso_embed_meta_read(keys_dir, &m, &exists, err) < 0 ||
	    (exists && tsso_embed_dir_check(keys_dir, err) < 0))
		goto fail;
	for (size_t i = 0; i < m.n; i++) {
		struct tsso_err kerr = {0};
		struct tsso_signer *s;
		char *pem = NULL;
		size_t len = 0;

		/* An expired key signs nothing and verifies nothing: leave it on disk. */
		if (tsso_embed_meta_state(&m, i, now, NULL) == TSSO_EMBED_KEY_EXPIRED)
			continue;
		if (tsso_embed_key_read(keys_dir, m.keys[i].kid, &pem, &len, err) < 0)
			goto fail;
		s = tsso_signer_from_pem(pem, len, m.keys[i].alg, m.keys[i].kid, &kerr);
		tsso_wipe(pem, len);
		free(pem);
		if (s == NULL) {
			/* The jose reason (key.too_weak, key.load_failed) names the problem. */
			tsso_err_set(err, kerr.reason != NULL ? kerr.reason : "keys.io",
			             "key %s: %s", m.keys[i].kid, kerr.msg);
			goto fail;
		}
		ks->meta.keys[ks->meta.n] = m.keys[i];
		ks->signers[ks->meta.n] = s;
		ks->headers[ks->meta.n] = tsso_signer_header_b64(s, TSSO_EMBED_JWT_TYP);
		if (ks->headers[ks->meta.n++] == NULL) {
			tsso_err_set(err, "keys.io", "out of memory");
			goto fail;
		}
	}
	return ks;
fail:
	tsso_embed_keystore_free(ks);
	return NULL;
}

void tsso_embed_keystore_free(struct tsso_embed_keystore *ks)
{
	if (ks == NULL)
		return;
	for (size_t i = 0; i < ks->meta.n; i++) {
		tsso_signer_free(ks->signers[i]);
		free(ks->headers[i]);
	}
	free(ks);
}

size_t tsso_embed_keystore_count(const struct tsso_embed_keystore *ks)
{
	return ks != NULL ? ks->meta.n : 0;
}

/*
 * The snapshot only holds keys that were not expired at load, so the states
 * are computed over the loaded set; since expired keys sort before every
 * key that matters, dropping them changes no other key's state.
 */
static size_t current_index(const struct tsso_embed_keystore *ks, long long now)
{
	for (size_t i = 0; ks != NULL && i < ks->meta.n; i++)
		if (tsso_embed_meta_state(&ks->meta, i, now, NULL) == TSSO_EMBED_KEY_CURRENT)
			return i;
	return SIZE_MAX;
}

const struct tsso_signer *tsso_embed_keystore_signer(const struct tsso_embed_keystore *ks,
                                                     long long now, const char **ret_header_b64)
{
	size_t i = current_index(ks, now);

	if (i == SIZE_MAX)
		return NULL;
	if (ret_header_b64 != NULL)
		*ret_header_b64 = ks->headers[i];
	return ks->signers[i];
}

const char *tsso_embed_keystore_current_kid(const struct tsso_embed_keystore *ks, long long now)
{
	size_t i = current_index(ks, now);

	return i == SIZE_MAX ? NULL : ks->meta.keys[i].kid;
}

int tsso_embed_keystore_check(const struct tsso_config *cfg, const struct tsso_embed_keystore *ks,
                              long long now, struct tsso_err *err)
{
	for (size_t i = 0; i < cfg->n_tenants; i++)
		if (cfg->tenants[i].embed.scheme == TSSO_EMBED_SIGNED_JWT &&
		    current_index(ks, now) == SIZE_MAX)
			return tsso_err_set(
			    err, "embed.no_signing_key",
			    "tenant %s signs embed tokens but %s has no current key "
			    "(run `toucan-sso keys generate`)",
			    cfg->tenants[i].id,
			    cfg->embed.keys_dir != NULL ? cfg->embed.keys_dir : "embed.keys_dir");
	return 0;
}

json_t *tsso_embed_jwks_json(const struct tsso_embed_keystore *ks, long long now)
{
	json_t *keys = json_array();

	for (size_t i = 0; keys != NULL && ks != NULL && i < ks->meta.n; i++) {
		if (tsso_embed_meta_state(&ks->meta, i, now, NULL) == TSSO_EMBED_KEY_EXPIRED)
			continue;
		if (json_array_append_new(keys, tsso_signer_public_jwk(ks->signers[i])) < 0) {
			json_decref(keys);
			return NULL;
		}
	}
	return keys != NULL ? json_pack("{s:o}", "keys", keys) : NULL;
}
