/* The signature primitives on OpenSSL EVP (RFC 7518 §3.2-3.5, RFC 8037 §3.1), one fresh context per
 * call. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "jose_int.h"
#include "tsso/crypto.h"

int tsso_jose_hmac(const struct jose_alg *a, const void *key, size_t keylen, const void *data,
                   size_t len, unsigned char *out, size_t *ret_len)
{
	unsigned int outlen = 0;

	if (HMAC(tsso_jose_alg_md(a), key, (int)keylen, data, len, out, &outlen) == NULL ||
	    outlen != a->hash_len)
		return -1;
	*ret_len = outlen;
	return 0;
}

/* RFC 7518 §3.4: R and S, each exactly coord_len bytes, big-endian; OpenSSL
 * wants the DER ECDSA-Sig-Value. Returns a new DER buffer or NULL. */
static unsigned char *ecdsa_raw_to_der(const unsigned char *sig, size_t coord_len, int *ret_len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)coord_len, NULL);
	BIGNUM *s = BN_bin2bn(sig + coord_len, (int)coord_len, NULL);
	unsigned char *der = NULL;
	int len;

	if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return NULL;
	}
	len = i2d_ECDSA_SIG(es, &der);
	ECDSA_SIG_free(es);
	if (len <= 0)
		return NULL;
	*ret_len = len;
	return der;
}

/* Set the PSS parameters of RFC 7518 §3.5: MGF1 with the same hash, salt as
 * long as the hash (RSA_PSS_SALTLEN_DIGEST also makes verify insist on it). */
static int pss_params(EVP_PKEY_CTX *pctx, const EVP_MD *md)
{
	return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
	               EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1
	           ? 0
	           : -1;
}

int tsso_jose_sig_verify(const struct jose_alg *a, EVP_PKEY *pkey, const void *input, size_t len,
                         const unsigned char *sig, size_t sig_len)
{
	const EVP_MD *md = tsso_jose_alg_md(a);
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	int der_len = 0, rc = -1;

	switch (a->kind) {
	case JOSE_SIG_ECDSA:
		/* Exact length: DER or truncated encodings are refused (§3.4). */
		if (sig_len != 2 * a->coord_len)
			return -1;
		der = ecdsa_raw_to_der(sig, a->coord_len, &der_len);
		if (der == NULL)
			return -1;
		sig = der;
		sig_len = (size_t)der_len;
		break;
	case JOSE_SIG_RSA_PKCS1:
	case JOSE_SIG_RSA_PSS:
		if (sig_len != (size_t)EVP_PKEY_get_size(pkey))
			return -1;
		break;
	case JOSE_SIG_EDDSA:
		if (sig_len != 64)
			return -1;
		break;
	default:
		return -1;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey) != 1)
		goto out;
	if (a->kind == JOSE_SIG_RSA_PSS && pss_params(pctx, md) < 0)
		goto out;
	if (EVP_DigestVerify(ctx, sig, sig_len, input, len) == 1)
		rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return rc;
}

/* DER ECDSA-Sig-Value to the fixed-length R||S of RFC 7518 §3.4. */
static int ecdsa_der_to_raw(const unsigned char *der, size_t der_len, size_t coord_len,
                            unsigned char *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	const BIGNUM *r, *s;
	int rc = -1;

	if (es == NULL)
		return -1;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, out, (int)coord_len) == (int)coord_len &&
	    BN_bn2binpad(s, out + coord_len, (int)coord_len) == (int)coord_len)
		rc = 0;
	ECDSA_SIG_free(es);
	return rc;
}

int tsso_jose_sig_create(const struct jose_alg *a, EVP_PKEY *pkey, const void *input, size_t len,
                         unsigned char **ret_sig, size_t *ret_len)
{
	const EVP_MD *md = tsso_jose_alg_md(a);
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL, *raw = NULL;
	size_t sig_len = 0;
	int rc = -1;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, md, NULL, pkey) != 1)
		goto out;
	if (a->kind == JOSE_SIG_RSA_PSS && pss_params(pctx, md) < 0)
		goto out;
	if (EVP_DigestSign(ctx, NULL, &sig_len, input, len) != 1 ||
	    (sig = malloc(sig_len)) == NULL || EVP_DigestSign(ctx, sig, &sig_len, input, len) != 1)
		goto out;
	if (a->kind == JOSE_SIG_ECDSA) {
		raw = malloc(2 * a->coord_len);
		if (raw == NULL || ecdsa_der_to_raw(sig, sig_len, a->coord_len, raw) < 0)
			goto out;
		free(sig);
		sig = raw;
		raw = NULL;
		sig_len = 2 * a->coord_len;
	}
	*ret_sig = sig;
	*ret_len = sig_len;
	sig = NULL;
	rc = 0;
out:
	free(raw);
	free(sig);
	EVP_MD_CTX_free(ctx);
	return rc;
}
