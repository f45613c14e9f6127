/* Compact JWE decryption (RFC 7516 §5.2) through cjose, behind our own header policy. */
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "jose_int.h"
#include "tsso/b64.h"
#include "tsso/crypto.h"
#include "tsso/jose.h"
#include "tsso/json.h"
#include "tsso/limits.h"

/* Key management algorithms we accept (RFC 7518 §4.1). RSA1_5 is refused
 * (Bleichenbacher-style padding oracles, RFC 8725 §3.2), "dir" needs a shared
 * key we never hold, and AES-KW/PBES2 are symmetric. "supported" is what the
 * cjose 0.6.2 in Debian 12 can do: RSA-OAEP-256 and ECDH-ES+A*KW are allowed
 * by policy but that cjose does not implement them, so they are refused too. */
static const struct {
	const char *name;
	enum jose_kty kty;
	bool supported;
} jwe_algs[] = {
    {"RSA-OAEP", JOSE_KTY_RSA, true},       {"RSA-OAEP-256", JOSE_KTY_RSA, false},
    {"ECDH-ES", JOSE_KTY_EC, true},         {"ECDH-ES+A128KW", JOSE_KTY_EC, false},
    {"ECDH-ES+A192KW", JOSE_KTY_EC, false}, {"ECDH-ES+A256KW", JOSE_KTY_EC, false},
};

/* Content encryption (RFC 7518 §5.1): the AES-GCM and AES-CBC-HMAC pairs
 * OpenID Connect deployments use; the 192-bit variants are not accepted. */
static const char *const jwe_encs[] = {"A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512"};

struct tsso_jwe_key {
	cjose_jwk_t *jwk;
	enum jose_kty kty;
	const char *crv; /* EC curve (the epk must be on the same one) */
	char *kid;       /* NULL when not configured */
};

void tsso_jwe_key_free(struct tsso_jwe_key *k)
{
	if (k == NULL)
		return;
	cjose_jwk_release(k->jwk);
	free(k->kid);
	free(k);
}

bool tsso_jwe_looks_like(const char *compact)
{
	size_t dots = 0, len;

	if (compact == NULL)
		return false;
	len = strnlen(compact, TSSO_TOKEN_MAX + 1);
	for (size_t i = 0; i < len; i++)
		dots += compact[i] == '.';
	return dots == 4;
}

/* A big-number parameter of pkey as big-endian bytes (padded to width, or
 * minimal when width is 0) in a new buffer; the caller wipes and frees. */
static unsigned char *bn_param(const EVP_PKEY *pkey, const char *name, size_t width, size_t *ret_n)
{
	BIGNUM *bn = NULL;
	unsigned char *buf = NULL;
	size_t n;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		return NULL;
	n = width != 0 ? width : (size_t)BN_num_bytes(bn);
	if (n > 0 && (buf = malloc(n)) != NULL && BN_bn2binpad(bn, buf, (int)n) == (int)n)
		*ret_n = n;
	else {
		free(buf);
		buf = NULL;
	}
	BN_clear_free(bn);
	return buf;
}

static void wipe_free(unsigned char *p, size_t n)
{
	tsso_wipe(p, n);
	free(p);
}

static cjose_jwk_t *rsa_to_cjose(const EVP_PKEY *pkey)
{
	static const char *const names[8] = {
	    OSSL_PKEY_PARAM_RSA_E,         OSSL_PKEY_PARAM_RSA_N,
	    OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
	    OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
	    OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
	unsigned char *v[8] = {NULL};
	size_t n[8] = {0};
	cjose_jwk_rsa_keyspec spec;
	cjose_err cerr = {0};
	cjose_jwk_t *jwk = NULL;

	for (size_t i = 0; i < 8; i++)
		if ((v[i] = bn_param(pkey, names[i], 0, &n[i])) == NULL)
			goto out;
	spec = (cjose_jwk_rsa_keyspec){v[0], n[0], v[1], n[1], v[2], n[2], v[3], n[3],
	                               v[4], n[4], v[5], n[5], v[6], n[6], v[7], n[7]};
	jwk = cjose_jwk_create_RSA_spec(&spec, &cerr);
out:
	for (size_t i = 0; i < 8; i++)
		wipe_free(v[i], n[i]);
	return jwk;
}

static cjose_jwk_t *ec_to_cjose(const EVP_PKEY *pkey, const char *crv)
{
	const struct jose_alg *a;
	cjose_jwk_ec_keyspec spec = {0};
	cjose_err cerr = {0};
	cjose_jwk_t *jwk = NULL;

	/* The ES* alg of the curve gives the coordinate size. */
	a = tsso_jose_alg_for_crv(crv);
	if (a == NULL)
		return NULL;
	spec.crv = a->coord_len == 32   ? CJOSE_JWK_EC_P_256
	           : a->coord_len == 48 ? CJOSE_JWK_EC_P_384
	                                : CJOSE_JWK_EC_P_521;
	spec.d = bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, a->coord_len, &spec.dlen);
	spec.x = bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, a->coord_len, &spec.xlen);
	spec.y = bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, a->coord_len, &spec.ylen);
	if (spec.d != NULL && spec.x != NULL && spec.y != NULL)
		jwk = cjose_jwk_create_EC_spec(&spec, &cerr);
	wipe_free(spec.d, spec.dlen);
	free(spec.x);
	free(spec.y);
	return jwk;
}

struct tsso_jwe_key *tsso_jwe_key_load_pem(const char *path, const char *kid, struct tsso_err *err)
{
	struct tsso_jwe_key *k = NULL;
	EVP_PKEY *pkey = NULL;
	char *pem = NULL;
	size_t len = 0;
	const char *crv = NULL;
	enum jose_kty kty;

	if (kid != NULL && (kid[0] == '\0' || strlen(kid) > TSSO_JWK_KID_MAX)) {
		tsso_err_set(err, "key.load_failed", "kid empty or too long");
		goto out;
	}
	if (tsso_jose_file_read(path, TSSO_CFG_MAX_SECRET_FILE, &pem, &len) < 0 ||
	    (pkey = tsso_jose_pem_private(pem, len)) == NULL) {
		tsso_err_set(err, "key.load_failed", "not a readable, unencrypted PEM private key");
		goto out;
	}
	kty = tsso_jose_pkey_kty(pkey, &crv);
	if (kty != JOSE_KTY_RSA && kty != JOSE_KTY_EC) {
		tsso_err_set(err, "key.load_failed", "JWE keys are RSA or EC P-256/384/521");
		goto out;
	}
	if (kty == JOSE_KTY_RSA && EVP_PKEY_get_bits(pkey) < 2048) {
		tsso_err_set(err, "key.too_weak", "RSA key under 2048 bits");
		goto out;
	}
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		goto oom;
	k->kty = kty;
	k->crv = crv;
	k->jwk = kty == JOSE_KTY_RSA ? rsa_to_cjose(pkey) : ec_to_cjose(pkey, crv);
	if (k->jwk == NULL || (kid != NULL && (k->kid = strdup(kid)) == NULL))
		goto oom;
	goto out;
oom:
	tsso_err_set(err, "key.load_failed", "cannot convert the key");
	tsso_jwe_key_free(k);
	k = NULL;
out:
	EVP_PKEY_free(pkey);
	if (pem != NULL)
		wipe_free((unsigned char *)pem, len);
	return k;
}

/* RFC 7518 §4.6.1.1: the ephemeral public key must be a valid point on the
 * recipient key's curve; checked here so that cjose never computes ECDH with
 * a point from another curve or off the curve (invalid-curve attacks). */
static int epk_check(const struct tsso_jwe_key *k, json_t *epk, struct tsso_err *err)
{
	EVP_PKEY *pkey = NULL;
	enum jose_kty kty = JOSE_KTY_NONE;
	const char *crv = NULL;
	struct tsso_err ignored;

	if (!json_is_object(epk) || json_object_get(epk, "d") != NULL ||
	    tsso_jose_jwk_to_pkey(epk, &pkey, &kty, &crv, &ignored) != 1)
		return tsso_err_set(err, "jwe.malformed", "JWE epk is not a valid public EC key");
	EVP_PKEY_free(pkey);
	if (kty != JOSE_KTY_EC || strcmp(crv, k->crv) != 0)
		return tsso_err_set(err, "jwe.malformed", "JWE epk is not on the key's curve");
	return 0;
}

/* Our policy on the protected header, before cjose sees the token. */
static int header_check(const struct tsso_jwe_key *k, const char *compact, size_t hlen,
                        struct tsso_err *err)
{
	unsigned char *raw = NULL;
	size_t n = 0, i;
	json_t *h = NULL, *kid;
	const char *alg, *enc;
	int rc = -1;

	if (tsso_b64url_decode(compact, hlen, &raw, &n) < 0 ||
	    (h = tsso_json_parse((const char *)raw, n, NULL)) == NULL || !json_is_object(h)) {
		tsso_err_set(err, "jwe.malformed", "JWE header is not a JSON object");
		goto out;
	}
	alg = json_string_value(json_object_get(h, "alg"));
	enc = json_string_value(json_object_get(h, "enc"));
	if (alg == NULL || enc == NULL) {
		tsso_err_set(err, "jwe.malformed", "JWE header without alg or enc");
		goto out;
	}
	for (i = 0; i < TSSO_ARRAY_LEN(jwe_algs); i++)
		if (strcmp(jwe_algs[i].name, alg) == 0)
			break;
	if (i == TSSO_ARRAY_LEN(jwe_algs) || !jwe_algs[i].supported) {
		tsso_err_set(err, "jwe.alg_not_allowed", "JWE alg is not allowed%s",
		             i < TSSO_ARRAY_LEN(jwe_algs) ? " (not supported by cjose 0.6)" : "");
		goto out;
	}
	for (size_t j = 0;; j++) {
		if (j == TSSO_ARRAY_LEN(jwe_encs)) {
			tsso_err_set(err, "jwe.alg_not_allowed", "JWE enc is not allowed");
			goto out;
		}
		if (strcmp(jwe_encs[j], enc) == 0)
			break;
	}
	/* RFC 7516 §4.1.13 crit: no extension understood. §4.1.3 zip: cjose does
	 * not inflate, and inflating attacker data is a bomb anyway. */
	if (json_object_get(h, "crit") != NULL || json_object_get(h, "zip") != NULL) {
		tsso_err_set(err, "jwe.malformed", "JWE crit or zip not supported");
		goto out;
	}
	if (jwe_algs[i].kty != k->kty) {
		tsso_err_set(err, "jwe.decrypt_failed", "JWE alg does not fit the key");
		goto out;
	}
	kid = json_object_get(h, "kid");
	if (kid != NULL && k->kid != NULL &&
	    (!json_is_string(kid) || strcmp(json_string_value(kid), k->kid) != 0)) {
		tsso_err_set(err, "jwe.decrypt_failed", "JWE is for another key (kid)");
		goto out;
	}
	if (k->kty == JOSE_KTY_EC && epk_check(k, json_object_get(h, "epk"), err) < 0)
		goto out;
	rc = 0;
out:
	json_decref(h);
	free(raw);
	return rc;
}

int tsso_jwe_decrypt(const struct tsso_jwe_key *k, const char *compact, char **ret_plain,
                     struct tsso_err *err)
{
	cjose_err cerr = {0};
	cjose_jwe_t *jwe = NULL;
	uint8_t *plain = NULL;
	size_t plain_len = 0, len;
	char *out = NULL;
	const char *dot;
	int rc = -1;

	if (k == NULL || compact == NULL || ret_plain == NULL)
		return tsso_err_set(err, "jwe.malformed", "nothing to decrypt");
	len = strnlen(compact, TSSO_TOKEN_MAX + 1);
	if (len > TSSO_TOKEN_MAX)
		return tsso_err_set(err, "jwe.malformed", "JWE longer than %d bytes",
		                    TSSO_TOKEN_MAX);
	/* RFC 7516 §7.1: five parts. */
	if (!tsso_jwe_looks_like(compact) || (dot = memchr(compact, '.', len)) == NULL)
		return tsso_err_set(err, "jwe.malformed", "not a compact JWE (five parts)");
	if (header_check(k, compact, (size_t)(dot - compact), err) < 0)
		return -1;
	/* cjose 0.6.2 dereferences a NULL error pointer on the ECDH-ES path:
	 * always give it one. */
	jwe = cjose_jwe_import(compact, len, &cerr);
	if (jwe == NULL)
		return tsso_err_set(err, "jwe.malformed", "JWE refused by cjose");
	plain = cjose_jwe_decrypt(jwe, k->jwk, &plain_len, &cerr);
	if (plain == NULL) {
		tsso_err_set(err, "jwe.decrypt_failed", "JWE does not decrypt");
		goto out;
	}
	/* The plaintext is handed on as a C string: an embedded NUL would cut it. */
	if (memchr(plain, '\0', plain_len) != NULL || (out = malloc(plain_len + 1)) == NULL) {
		tsso_err_set(err, "jwe.malformed", "JWE plaintext is not text");
		goto out;
	}
	memcpy(out, plain, plain_len);
	out[plain_len] = '\0';
	*ret_plain = out;
	rc = 0;
out:
	if (plain != NULL) {
		tsso_wipe(plain, plain_len);
		cjose_get_dealloc()(plain);
	}
	cjose_jwe_release(jwe);
	return rc;
}
