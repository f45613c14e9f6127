/* JWS signature validation (RFC 7515 §5.2): alg policy, key selection, then the signature. */
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "jose_int.h"
#include "tsso/crypto.h"
#include "tsso/jose.h"

/* RFC 7515 §10.7 / RFC 8725 §3.1: the caller's allow-list decides, never the
 * token; "none" cannot be allowed even by mistake. */
static bool alg_allowed(const char *alg, const char *const *allowed, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (allowed[i] != NULL && strcmp(allowed[i], alg) == 0)
			return true;
	return false;
}

/* A key may serve this alg when its type (and curve) is the alg's, and the
 * JWK's own "alg", when present, names this very alg (RFC 7517 §4.4). */
static bool key_fits(const struct jose_key *k, const struct jose_alg *a)
{
	if (k->kty != a->kty)
		return false;
	if (a->crv != NULL && (k->crv == NULL || strcmp(k->crv, a->crv) != 0))
		return false;
	return k->alg == NULL || strcmp(k->alg, a->name) == 0;
}

/* HS*: the key is the caller's shared secret (the client secret), never
 * material from the JWKS, so a public key cannot be turned into an HMAC key. */
static int verify_hmac(const struct tsso_jws *jws, const struct jose_alg *a, const void *key,
                       size_t keylen, struct tsso_err *err)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	int rc;

	if (key == NULL)
		return tsso_err_set(err, "jws.no_matching_key", "no shared secret for %s", a->name);
	/* RFC 7518 §3.2: a key of at least the hash size. */
	if (keylen < a->hash_len)
		return tsso_err_set(err, "key.too_weak", "%s secret shorter than %zu bytes",
		                    a->name, a->hash_len);
	if (tsso_jose_hmac(a, key, keylen, jws->input, jws->input_len, mac, &maclen) < 0)
		return tsso_err_set(err, "jws.bad_signature", "HMAC failed");
	rc = tsso_ct_eq(mac, maclen, jws->sig, jws->sig_len) ? 0 : -1;
	tsso_wipe(mac, sizeof(mac));
	if (rc < 0)
		return tsso_err_set(err, "jws.bad_signature", "JWS signature does not verify");
	return 0;
}

/* The signature under key k: from its ready context when that was made
 * for a, else from its plain one. */
static int key_verify(const struct jose_key *k, const struct jose_alg *a,
                      const struct tsso_jws *jws)
{
	if (k->ready != NULL && k->ready_alg == a)
		return tsso_jose_sig_verify_ready(a, k->pkey, k->ready, jws->input, jws->input_len,
		                                  jws->sig, jws->sig_len);
	return tsso_jose_sig_verify_with(a, k->pkey, k->key_ctx, jws->input, jws->input_len,
	                                 jws->sig, jws->sig_len);
}

/* With a kid: every key carrying it whose type fits is tried (a JWKS may
 * repeat a kid across key types, RFC 7517 §4.5 only says SHOULD differ). */
static int verify_by_kid(const struct tsso_jws *jws, const struct tsso_jwks *jwks,
                         const struct jose_alg *a, struct tsso_err *err)
{
	bool seen = false, fitted = false;

	for (size_t i = 0; jwks != NULL && i < jwks->n; i++) {
		const struct jose_key *k = &jwks->keys[i];

		if (k->kid == NULL || strcmp(k->kid, jws->kid) != 0)
			continue;
		seen = true;
		if (!key_fits(k, a))
			continue;
		fitted = true;
		if (key_verify(k, a, jws) == 0)
			return 0;
	}
	if (!seen)
		return tsso_err_set(err, "jws.kid_unknown", "no key with the token's kid");
	if (!fitted)
		return tsso_err_set(err, "jws.no_matching_key",
		                    "key with the token's kid does not fit %s", a->name);
	return tsso_err_set(err, "jws.bad_signature", "JWS signature does not verify");
}

/* Without a kid: exactly one key may fit, else the choice would be a guess. */
static int verify_without_kid(const struct tsso_jws *jws, const struct tsso_jwks *jwks,
                              const struct jose_alg *a, struct tsso_err *err)
{
	const struct jose_key *found = NULL;

	for (size_t i = 0; jwks != NULL && i < jwks->n; i++) {
		if (!key_fits(&jwks->keys[i], a))
			continue;
		if (found != NULL)
			return tsso_err_set(err, "jws.ambiguous_key",
			                    "token without kid and several keys fit %s", a->name);
		found = &jwks->keys[i];
	}
	if (found == NULL)
		return tsso_err_set(err, "jws.no_matching_key", "no key fits %s", a->name);
	if (key_verify(found, a, jws) < 0)
		return tsso_err_set(err, "jws.bad_signature", "JWS signature does not verify");
	return 0;
}

int tsso_jws_verify(const struct tsso_jws *jws, const struct tsso_jwks *jwks,
                    const char *const *allowed_algs, size_t n_allowed, const void *hmac_key,
                    size_t hmac_key_len, struct tsso_err *err)
{
	const struct jose_alg *a;

	if (jws == NULL || jws->alg == NULL)
		return tsso_err_set(err, "jws.malformed", "no token");
	if (strcasecmp(jws->alg, "none") == 0)
		return tsso_err_set(err, "jws.alg_none", "JWS alg none refused");
	a = tsso_jose_alg_find(jws->alg);
	if (a == NULL || allowed_algs == NULL || !alg_allowed(jws->alg, allowed_algs, n_allowed))
		return tsso_err_set(err, "jws.alg_not_allowed", "JWS alg is not allowed");
	if (a->kind == JOSE_SIG_HMAC)
		return verify_hmac(jws, a, hmac_key, hmac_key_len, err);
	if (jws->kid != NULL)
		return verify_by_kid(jws, jwks, a, err);
	return verify_without_kid(jws, jwks, a, err);
}
