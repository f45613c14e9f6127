/* Private to src/jose: the algorithm table, parsed keys and the shared helpers. */
#ifndef TSSO_JOSE_INT_H
#define TSSO_JOSE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "tsso/common.h"
#include "tsso/err.h"

/* Key families: the "kty" a JWS alg needs (RFC 7518 §3.1, RFC 8037 §3.1). */
enum jose_kty {
	JOSE_KTY_NONE = 0,
	JOSE_KTY_RSA,
	JOSE_KTY_EC,
	JOSE_KTY_OKP,
	JOSE_KTY_OCT,
};

/* How the signature is computed, beyond the key family. */
enum jose_sigkind {
	JOSE_SIG_RSA_PKCS1, /* RS*: RSASSA-PKCS1-v1_5, RFC 7518 §3.3 */
	JOSE_SIG_RSA_PSS,   /* PS*: RSASSA-PSS, salt = hash length, MGF1 same hash, §3.5 */
	JOSE_SIG_ECDSA,     /* ES*: raw R||S, §3.4 */
	JOSE_SIG_EDDSA,     /* EdDSA with Ed25519, RFC 8037 §3.1 */
	JOSE_SIG_HMAC,      /* HS*, §3.2 */
};

struct jose_alg {
	const char *name;
	enum jose_kty kty;
	enum jose_sigkind kind;
	const char *md;   /* OpenSSL digest name; NULL for EdDSA (pure) */
	size_t hash_len;  /* digest size: HMAC key minimum, PSS salt */
	const char *crv;  /* JWK "crv" the alg needs (ES*, EdDSA), else NULL */
	size_t coord_len; /* ES*: bytes of R and of S; EdDSA: public key size */
};

/* The table entry for a JWS alg name (exact, case-sensitive), or NULL. */
const struct jose_alg *tsso_jose_alg_find(const char *name);
/* The ES* alg of an EC curve ("P-256" → ES256...), or NULL. */
const struct jose_alg *tsso_jose_alg_for_crv(const char *crv);
/* The EVP_MD for an alg (fetched once, shared, never freed); NULL for EdDSA. */
const EVP_MD *tsso_jose_alg_md(const struct jose_alg *a);

/* HMAC of data with the alg's hash into out (EVP_MAX_MD_SIZE bytes). */
int tsso_jose_hmac(const struct jose_alg *a, const void *key, size_t keylen, const void *data,
                   size_t len, unsigned char *out, size_t *ret_len) TSSO_WUR;
/* Verify an asymmetric JWS signature as it appears in the token (R||S for
 * ES*); 0 when valid, -1 otherwise. A fresh EVP_MD_CTX per call: pkey is
 * shared read-only between threads. */
int tsso_jose_sig_verify(const struct jose_alg *a, EVP_PKEY *pkey, const void *input, size_t len,
                         const unsigned char *sig, size_t sig_len) TSSO_WUR;
/* The DER ECDSA-Sig-Value OpenSSL writes to the R||S of RFC 7518 §3.4
 * (coord_len bytes each, into out); -1 for anything but the minimal DER of
 * two positive INTEGERs that fit. */
int tsso_jose_ecdsa_der_to_raw(const unsigned char *der, size_t der_len, size_t coord_len,
                               unsigned char *out) TSSO_WUR;
/* Sign input with a private key into sig (cap bytes; at least the key's
 * signature size), in JWS form; *ret_len the length written. key_ctx as for
 * tsso_jose_sig_verify_with (NULL: none). */
int tsso_jose_sig_create_to(const struct jose_alg *a, EVP_PKEY *pkey, const EVP_PKEY_CTX *key_ctx,
                            const void *input, size_t len, unsigned char *sig, size_t cap,
                            size_t *ret_len) TSSO_WUR;
/* The same, starting from a copy of key_ctx, a context made once for pkey
 * with EVP_PKEY_CTX_new_from_pkey and never initialised (NULL: none). */
int tsso_jose_sig_verify_with(const struct jose_alg *a, EVP_PKEY *pkey, const EVP_PKEY_CTX *key_ctx,
                              const void *input, size_t len, const unsigned char *sig,
                              size_t sig_len) TSSO_WUR;
/*
 * A context for pkey set up once for alg a (RS*, PS*, ES*): EVP_PKEY_sign_init
 * or EVP_PKEY_verify_init, the padding and the hash. Each signature or
 * verification then hashes the input and works on a copy of it:
 * EVP_DigestSignInit and EVP_DigestVerifyInit look the signature algorithm
 * and the hash up by name on every call (about 13 k instructions each,
 * docs/performance.md). NULL for EdDSA (no prehashed form), HMAC, or when
 * OpenSSL refuses; callers then use the _with functions.
 */
EVP_PKEY_CTX *tsso_jose_sig_ready(const struct jose_alg *a, EVP_PKEY *pkey, bool sign);
/* tsso_jose_sig_verify_with and tsso_jose_sig_create_to, from a copy of
 * ready, which tsso_jose_sig_ready made for this a and this key. */
int tsso_jose_sig_verify_ready(const struct jose_alg *a, EVP_PKEY *pkey, const EVP_PKEY_CTX *ready,
                               const void *input, size_t len, const unsigned char *sig,
                               size_t sig_len) TSSO_WUR;
int tsso_jose_sig_create_ready(const struct jose_alg *a, const EVP_PKEY_CTX *ready,
                               const void *input, size_t len, unsigned char *sig, size_t cap,
                               size_t *ret_len) TSSO_WUR;
/* The DER ECDSA-Sig-Value OpenSSL verifies, of a JWS R||S signature (RFC
 * 7518 §3.4), each half coord_len bytes; into out, its length returned, or
 * 0 when coord_len is 0 or above JOSE_ECDSA_COORD_MAX. */
#define JOSE_ECDSA_COORD_MAX 66 /* P-521 */
#define JOSE_ECDSA_DER_MAX   (3 + 2 * (JOSE_ECDSA_COORD_MAX + 3))
size_t tsso_jose_ecdsa_der(const unsigned char *sig, size_t coord_len,
                           unsigned char out[JOSE_ECDSA_DER_MAX]);
/* Sign input with a private key; *ret_sig is a new buffer in JWS form. */
int tsso_jose_sig_create(const struct jose_alg *a, EVP_PKEY *pkey, const void *input, size_t len,
                         unsigned char **ret_sig, size_t *ret_len) TSSO_WUR;

/* One usable public key of a JWKS, read-only once parsed. */
struct jose_key {
	char *kid;       /* NULL when the JWK has none */
	const char *alg; /* JWK "alg" (points into the alg table) or NULL */
	enum jose_kty kty;
	const char *crv; /* "P-256", "P-384", "P-521", "Ed25519"; NULL for RSA */
	EVP_PKEY *pkey;
	/* Made once from pkey, copied per verification, never used directly
	 * (so that threads only read it); NULL when it could not be made. */
	EVP_PKEY_CTX *key_ctx;
	/* The same, set up to verify ready_alg (tsso_jose_sig_ready): the JWK's
	 * alg, else RS256 for RSA and ES* by curve; NULL for EdDSA. */
	EVP_PKEY_CTX *ready;
	const struct jose_alg *ready_alg;
};

struct tsso_jwks {
	struct jose_key *keys;
	size_t n;
};

/* A parsed compact JWS. alg and kid are borrowed from header. */
struct tsso_jws {
	char *input; /* BASE64URL(header) "." BASE64URL(payload): the signing input */
	size_t input_len;
	unsigned char *sig;
	size_t sig_len;
	json_t *header;
	json_t *claims;
	const char *alg;
	const char *kid;
};

/* Build the EVP_PKEY of a public JWK object (kty RSA, EC, or OKP with Ed25519).
 * Returns 1 with *ret_pkey, *ret_kty and *ret_crv (static string) set,
 * 0 when the key is of a kind this module does not use (skip it), or -1 with
 * err set when the key claims a supported kind but is invalid (RSA < 2048
 * bits, EC point not on its curve, wrong coordinate length...). */
int tsso_jose_jwk_to_pkey(json_t *jwk, EVP_PKEY **ret_pkey, enum jose_kty *ret_kty,
                          const char **ret_crv, struct tsso_err *err) TSSO_WUR;

/* The kty and crv of an EVP_PKEY as JOSE names it; JOSE_KTY_NONE if unusable. */
enum jose_kty tsso_jose_pkey_kty(const EVP_PKEY *pkey, const char **ret_crv);

/* The public JWK members of pkey (kty, n/e or crv/x(/y)) as a new object. */
json_t *tsso_jose_pkey_public_jwk(const EVP_PKEY *pkey);

/* RFC 7638 thumbprint of pkey's public JWK: base64url(SHA-256), new string. */
char *tsso_jose_pkey_thumbprint(const EVP_PKEY *pkey);

/* Decode one base64url JSON member (string) into *ret and *ret_n; -1 if absent,
 * not a string, or not strict base64url. */
int tsso_jose_json_b64(json_t *obj, const char *name, unsigned char **ret, size_t *ret_n) TSSO_WUR;

/* Read a regular file of at most max bytes into a new NUL-terminated buffer
 * (caller wipes and frees). -1 on any error. */
int tsso_jose_file_read(const char *path, size_t max, char **ret_buf, size_t *ret_len) TSSO_WUR;

/* Load one unencrypted PEM private key from memory. NULL on failure. */
EVP_PKEY *tsso_jose_pem_private(const char *pem, size_t len);

#endif
