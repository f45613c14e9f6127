/* The JWS algorithm table (RFC 7518 §3.1, RFC 8037 §3.1) and hash helpers. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "jose_int.h"
#include "tsso/b64.h"
#include "tsso/crypto.h"
#include "tsso/jose.h"

/* "none" is deliberately absent: RFC 7518 §3.6 unsecured JWS is never accepted. */
static const struct jose_alg jose_algs[] = {
    {"RS256", JOSE_KTY_RSA, JOSE_SIG_RSA_PKCS1, "SHA256", 32, NULL, 0},
    {"RS384", JOSE_KTY_RSA, JOSE_SIG_RSA_PKCS1, "SHA384", 48, NULL, 0},
    {"RS512", JOSE_KTY_RSA, JOSE_SIG_RSA_PKCS1, "SHA512", 64, NULL, 0},
    {"PS256", JOSE_KTY_RSA, JOSE_SIG_RSA_PSS, "SHA256", 32, NULL, 0},
    {"PS384", JOSE_KTY_RSA, JOSE_SIG_RSA_PSS, "SHA384", 48, NULL, 0},
    {"PS512", JOSE_KTY_RSA, JOSE_SIG_RSA_PSS, "SHA512", 64, NULL, 0},
    {"ES256", JOSE_KTY_EC, JOSE_SIG_ECDSA, "SHA256", 32, "P-256", 32},
    {"ES384", JOSE_KTY_EC, JOSE_SIG_ECDSA, "SHA384", 48, "P-384", 48},
    {"ES512", JOSE_KTY_EC, JOSE_SIG_ECDSA, "SHA512", 64, "P-521", 66},
    {"EdDSA", JOSE_KTY_OKP, JOSE_SIG_EDDSA, NULL, 64, "Ed25519", 32},
    {"HS256", JOSE_KTY_OCT, JOSE_SIG_HMAC, "SHA256", 32, NULL, 0},
    {"HS384", JOSE_KTY_OCT, JOSE_SIG_HMAC, "SHA384", 48, NULL, 0},
    {"HS512", JOSE_KTY_OCT, JOSE_SIG_HMAC, "SHA512", 64, NULL, 0},
};

const struct jose_alg *tsso_jose_alg_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(jose_algs); i++)
		if (strcmp(jose_algs[i].name, name) == 0)
			return &jose_algs[i];
	return NULL;
}

const EVP_MD *tsso_jose_alg_md(const struct jose_alg *a)
{
	/* Fetched once and shared read-only (tsso_sha_md): no fetch by name,
	 * nothing to free, on the verify and sign paths. */
	return a->md != NULL ? tsso_sha_md(a->hash_len) : NULL;
}

const struct jose_alg *tsso_jose_alg_for_crv(const char *crv)
{
	if (crv == NULL)
		return NULL;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(jose_algs); i++)
		if (jose_algs[i].kind == JOSE_SIG_ECDSA && strcmp(jose_algs[i].crv, crv) == 0)
			return &jose_algs[i];
	return NULL;
}

bool tsso_jose_alg_supported(const char *alg)
{
	return tsso_jose_alg_find(alg) != NULL;
}

char *tsso_jose_half_hash(const char *alg, const char *token)
{
	const struct jose_alg *a = tsso_jose_alg_find(alg);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const EVP_MD *type;

	if (a == NULL || token == NULL)
		return NULL;
	/* OIDC Core §3.1.3.6: the hash of the JWS alg; EdDSA (Ed25519) has no
	 * separate hash, and the OpenID Foundation convention is SHA-512. */
	type = a->kind == JOSE_SIG_EDDSA ? tsso_sha_md(64) : tsso_jose_alg_md(a);
	if (EVP_Digest(token, strlen(token), md, &mdlen, type, NULL) != 1)
		return NULL;
	return tsso_b64url_encode(md, mdlen / 2);
}
