/* JWK Set parsing (RFC 7517 §5): one EVP_PKEY per usable signature key, built once. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "jose_int.h"
#include "tsso/jose.h"
#include "tsso/json.h"
#include "tsso/limits.h"

void tsso_jwks_free(struct tsso_jwks *jwks)
{
	if (jwks == NULL)
		return;
	for (size_t i = 0; i < jwks->n; i++) {
		free(jwks->keys[i].kid);
		EVP_PKEY_CTX_free(jwks->keys[i].key_ctx);
		EVP_PKEY_CTX_free(jwks->keys[i].ready);
		EVP_PKEY_free(jwks->keys[i].pkey);
	}
	free(jwks->keys);
	free(jwks);
}

size_t tsso_jwks_count(const struct tsso_jwks *jwks)
{
	return jwks != NULL ? jwks->n : 0;
}

bool tsso_jwks_has_kid(const struct tsso_jwks *jwks, const char *kid)
{
	if (jwks == NULL || kid == NULL)
		return false;
	for (size_t i = 0; i < jwks->n; i++)
		if (jwks->keys[i].kid != NULL && strcmp(jwks->keys[i].kid, kid) == 0)
			return true;
	return false;
}

/* RFC 7517 §4.3: when "key_ops" is present it must allow "verify". */
static bool key_ops_allow_verify(json_t *ops)
{
	size_t i;
	json_t *op;

	if (!json_is_array(ops))
		return false;
	json_array_foreach (ops, i, op) {
		if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
			return true;
	}
	return false;
}

/* Record why a key was skipped (reported only if no key is usable) and return 0. */
static int key_skip(struct tsso_err *err, const char *why)
{
	tsso_err_set(err, "jwks.malformed", "%s", why);
	return 0;
}

/* The alg a key without "alg" is most likely used with: RS256, the
 * default of OpenID Connect, for RSA; the one ES* alg of an EC curve. */
static const struct jose_alg *ready_alg_for(enum jose_kty kty, const char *crv)
{
	if (kty == JOSE_KTY_RSA)
		return tsso_jose_alg_find("RS256");
	return kty == JOSE_KTY_EC ? tsso_jose_alg_for_crv(crv) : NULL;
}

/* Decide whether one JWK is a usable signature key and, if so, fill *k.
 * Returns 1 (use it), 0 (skip it; why in err). */
static int key_parse(json_t *jwk, struct jose_key *k, struct tsso_err *err)
{
	json_t *use, *ops, *kid, *alg;
	const struct jose_alg *a = NULL;
	EVP_PKEY *pkey = NULL;
	enum jose_kty kty = JOSE_KTY_NONE;
	const char *crv = NULL;
	int rc;

	if (!json_is_object(jwk))
		return key_skip(err, "a key is not a JSON object");
	/* RFC 7517 §4.2: "use" other than "sig" is an encryption key. */
	use = json_object_get(jwk, "use");
	if (use != NULL && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0))
		return key_skip(err, "key with use other than sig");
	ops = json_object_get(jwk, "key_ops");
	if (ops != NULL && !key_ops_allow_verify(ops))
		return key_skip(err, "key_ops without verify");
	kid = json_object_get(jwk, "kid");
	if (kid != NULL && (!json_is_string(kid) || json_string_length(kid) == 0 ||
	                    json_string_length(kid) > TSSO_JWK_KID_MAX ||
	                    strlen(json_string_value(kid)) != json_string_length(kid)))
		return key_skip(err, "key with an invalid kid");
	/* RFC 7517 §4.4: a key bound to an alg is used for that alg only; an
	 * alg we do not verify with (RSA-OAEP...) means the key is not for us. */
	alg = json_object_get(jwk, "alg");
	if (alg != NULL && (a = tsso_jose_alg_find(json_string_value(alg))) == NULL)
		return key_skip(err, "key for an unsupported alg");
	rc = tsso_jose_jwk_to_pkey(jwk, &pkey, &kty, &crv, err);
	if (rc <= 0) {
		if (rc == 0)
			tsso_err_set(err, "jwks.malformed", "key of an unsupported type");
		return 0;
	}
	if (a != NULL && (a->kty != kty || (a->crv != NULL && strcmp(a->crv, crv) != 0))) {
		EVP_PKEY_free(pkey);
		return key_skip(err, "key alg does not fit its type");
	}
	k->kid = NULL;
	if (kid != NULL && (k->kid = strdup(json_string_value(kid))) == NULL) {
		EVP_PKEY_free(pkey);
		return key_skip(err, "out of memory");
	}
	k->alg = a != NULL ? a->name : NULL;
	k->kty = kty;
	k->crv = crv;
	k->pkey = pkey;
	/* Optional: without them each verification makes its own (slower). */
	k->key_ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	k->ready_alg = a != NULL ? a : ready_alg_for(kty, crv);
	k->ready = k->ready_alg != NULL ? tsso_jose_sig_ready(k->ready_alg, pkey, false) : NULL;
	return 1;
}

struct tsso_jwks *tsso_jwks_parse(const char *json, size_t len, struct tsso_err *err)
{
	struct tsso_jwks *jwks = NULL;
	struct tsso_err skip = {0};
	json_t *root = NULL, *keys, *jwk;
	size_t i;

	if (json == NULL || len > TSSO_OUT_MAX_JWKS) {
		tsso_err_set(err, "jwks.malformed", "JWK Set larger than %d bytes",
		             TSSO_OUT_MAX_JWKS);
		goto fail;
	}
	root = tsso_json_parse(json, len, NULL);
	if (root == NULL || !json_is_object(root)) {
		tsso_err_set(err, "jwks.malformed", "JWK Set is not a JSON object");
		goto fail;
	}
	keys = json_object_get(root, "keys");
	if (!json_is_array(keys)) {
		tsso_err_set(err, "jwks.malformed", "JWK Set without a keys array");
		goto fail;
	}
	if (json_array_size(keys) > TSSO_JWKS_MAX_KEYS) {
		tsso_err_set(err, "jwks.too_many_keys", "JWK Set with %zu keys (at most %d)",
		             json_array_size(keys), TSSO_JWKS_MAX_KEYS);
		goto fail;
	}
	/* One spare slot: never a zero-sized allocation. */
	jwks = calloc(1, sizeof(*jwks));
	if (jwks == NULL ||
	    (jwks->keys = calloc(json_array_size(keys) + 1, sizeof(*jwks->keys))) == NULL) {
		tsso_err_set(err, "jwks.malformed", "out of memory");
		goto fail;
	}
	/* Unsupported or invalid keys are skipped, not fatal: an IdP may publish
	 * encryption keys or new key types next to the ones we verify with. */
	json_array_foreach (keys, i, jwk) {
		if (key_parse(jwk, &jwks->keys[jwks->n], &skip) == 1)
			jwks->n++;
	}
	if (jwks->n == 0) {
		tsso_err_set(err, "jwks.empty", "no usable signature key%s%s",
		             skip.reason != NULL ? ": " : "", skip.reason != NULL ? skip.msg : "");
		goto fail;
	}
	json_decref(root);
	return jwks;
fail:
	tsso_jwks_free(jwks);
	json_decref(root);
	return NULL;
}
