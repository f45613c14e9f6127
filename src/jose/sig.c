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

/* One DER INTEGER (X.690 §8.3) of the unsigned big-endian v[0..n): leading
 * zero bytes dropped but one, a 0x00 prefixed when the top bit is set so
 * that the value stays non-negative. Writes at most n + 3 bytes. */
static size_t der_uint(unsigned char *o, const unsigned char *v, size_t n)
{
	size_t pad;

	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	pad = v[0] >> 7;
	o[0] = 0x02;
	o[1] = (unsigned char)(n + pad);
	o[2] = 0;
	memcpy(o + 2 + pad, v, n);
	return 2 + pad + n;
}

size_t tsso_jose_ecdsa_der(const unsigned char *sig, size_t coord_len,
                           unsigned char out[JOSE_ECDSA_DER_MAX])
{
	unsigned char body[2 * (JOSE_ECDSA_COORD_MAX + 3)];
	size_t n;

	if (coord_len == 0 || coord_len > JOSE_ECDSA_COORD_MAX)
		return 0;
	n = der_uint(body, sig, coord_len);
	n += der_uint(body + n, sig + coord_len, coord_len);
	/* SEQUENCE; a body of 128 bytes or more (P-521) takes the long length form. */
	out[0] = 0x30;
	if (n < 0x80) {
		out[1] = (unsigned char)n;
		memcpy(out + 2, body, n);
		return n + 2;
	}
	out[1] = 0x81;
	out[2] = (unsigned char)n;
	memcpy(out + 3, body, n);
	return n + 3;
}

/* The PSS parameters of RFC 7518 §3.5, in one call (the three legacy ctrl
 * wrappers cost ~17 k instructions a verification in OpenSSL 3, see
 * docs/performance.md): salt as long as the hash (RSA_PSS_SALTLEN_DIGEST
 * also makes verify insist on it); MGF1 with the same hash is OpenSSL's
 * documented default when no MGF1 digest is set (EVP_PKEY_CTX_set_rsa_mgf1_md(3)),
 * and tests/unit/test_jose_sig.c refuses a signature made with another. */
static int pss_params(EVP_PKEY_CTX *pctx)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE,
	                                     (char *)OSSL_PKEY_RSA_PAD_MODE_PSS, 0),
	    OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN,
	                                     (char *)OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST, 0),
	    OSSL_PARAM_construct_end(),
	};

	return EVP_PKEY_CTX_set_params(pctx, params) == 1 ? 0 : -1;
}

int tsso_jose_sig_verify(const struct jose_alg *a, EVP_PKEY *pkey, const void *input, size_t len,
                         const unsigned char *sig, size_t sig_len)
{
	return tsso_jose_sig_verify_with(a, pkey, NULL, input, len, sig, sig_len);
}

/* The signature as OpenSSL verifies it, from its JWS form: exact lengths
 * only (§3.4: DER or truncated R||S are refused), ECDSA turned into DER in
 * der. -1 when the length is wrong. */
static int sig_shape(const struct jose_alg *a, EVP_PKEY *pkey, const unsigned char **sig,
                     size_t *sig_len, unsigned char der[JOSE_ECDSA_DER_MAX])
{
	switch (a->kind) {
	case JOSE_SIG_ECDSA:
		if (*sig_len != 2 * a->coord_len)
			return -1;
		*sig_len = tsso_jose_ecdsa_der(*sig, a->coord_len, der);
		if (*sig_len == 0)
			return -1;
		*sig = der;
		return 0;
	case JOSE_SIG_RSA_PKCS1:
	case JOSE_SIG_RSA_PSS:
		return *sig_len == (size_t)EVP_PKEY_get_size(pkey) ? 0 : -1;
	case JOSE_SIG_EDDSA:
		return *sig_len == 64 ? 0 : -1;
	default:
		return -1;
	}
}

EVP_PKEY_CTX *tsso_jose_sig_ready(const struct jose_alg *a, EVP_PKEY *pkey, bool sign)
{
	const EVP_MD *md = tsso_jose_alg_md(a);
	EVP_PKEY_CTX *c;

	if (md == NULL || pkey == NULL ||
	    (a->kind != JOSE_SIG_RSA_PKCS1 && a->kind != JOSE_SIG_RSA_PSS &&
	     a->kind != JOSE_SIG_ECDSA))
		return NULL;
	c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (c == NULL || (sign ? EVP_PKEY_sign_init(c) : EVP_PKEY_verify_init(c)) != 1 ||
	    (a->kind == JOSE_SIG_RSA_PKCS1 &&
	     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1) ||
	    (a->kind == JOSE_SIG_RSA_PSS && pss_params(c) < 0) ||
	    EVP_PKEY_CTX_set_signature_md(c, md) != 1) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	return c;
}

/* The hash of input for a, into h (EVP_MAX_MD_SIZE bytes); its length, or 0. */
static size_t sig_hash(const struct jose_alg *a, const void *input, size_t len, unsigned char *h)
{
	unsigned int n = 0;

	if (EVP_Digest(input, len, h, &n, tsso_jose_alg_md(a), NULL) != 1 || n != a->hash_len)
		return 0;
	return n;
}

int tsso_jose_sig_verify_ready(const struct jose_alg *a, EVP_PKEY *pkey, const EVP_PKEY_CTX *ready,
                               const void *input, size_t len, const unsigned char *sig,
                               size_t sig_len)
{
	unsigned char der[JOSE_ECDSA_DER_MAX], h[EVP_MAX_MD_SIZE];
	EVP_PKEY_CTX *own;
	size_t hn;
	int rc = -1;

	if (sig_shape(a, pkey, &sig, &sig_len, der) < 0 || (hn = sig_hash(a, input, len, h)) == 0 ||
	    (own = EVP_PKEY_CTX_dup(ready)) == NULL)
		return -1;
	if (EVP_PKEY_verify(own, sig, sig_len, h, hn) == 1)
		rc = 0;
	EVP_PKEY_CTX_free(own);
	return rc;
}

int tsso_jose_sig_verify_with(const struct jose_alg *a, EVP_PKEY *pkey, const EVP_PKEY_CTX *key_ctx,
                              const void *input, size_t len, const unsigned char *sig,
                              size_t sig_len)
{
	const EVP_MD *md = tsso_jose_alg_md(a);
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL, *own = NULL;
	unsigned char der[JOSE_ECDSA_DER_MAX];
	int rc = -1;

	if (sig_shape(a, pkey, &sig, &sig_len, der) < 0)
		return -1;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		goto out;
	/* A copy of the key's own context spares EVP_PKEY_CTX_new_from_pkey
	 * (the provider lookups, ~13 k instructions); the shared one is only
	 * read. The EVP_MD_CTX then uses it and leaves it to us to free.
	 * Without a copy, EVP_DigestVerifyInit makes a context as before. */
	if (key_ctx != NULL && (own = EVP_PKEY_CTX_dup(key_ctx)) != NULL)
		EVP_MD_CTX_set_pkey_ctx(ctx, own);
	if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey) != 1)
		goto out;
	if (a->kind == JOSE_SIG_RSA_PSS && pss_params(pctx) < 0)
		goto out;
	if (EVP_DigestVerify(ctx, sig, sig_len, input, len) == 1)
		rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_CTX_free(own);
	return rc;
}

/* One INTEGER of a DER ECDSA-Sig-Value, right-aligned into out[0..coord_len)
 * (zero-padded on the left); advances *pp. Only the minimal, positive
 * encodings OpenSSL writes are accepted. */
static int der_int_to_raw(const unsigned char **pp, const unsigned char *end, size_t coord_len,
                          unsigned char *out)
{
	const unsigned char *p = *pp;
	size_t n;

	if (end - p < 2 || p[0] != 0x02)
		return -1;
	n = p[1];
	p += 2;
	if (n == 0 || n > 0x7f || (size_t)(end - p) < n || (p[0] & 0x80) != 0)
		return -1;
	if (p[0] == 0 && n > 1) { /* the sign byte before a high bit */
		if ((p[1] & 0x80) == 0)
			return -1;
		p++;
		n--;
	}
	if (n > coord_len)
		return -1;
	memset(out, 0, coord_len - n);
	memcpy(out + coord_len - n, p, n);
	*pp = p + n;
	return 0;
}

/*
 * DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs, RFC 3279 §2.2.3) to the
 * fixed-length R||S of RFC 7518 §3.4. The input is what OpenSSL just
 * produced, read strictly in place: d2i_ECDSA_SIG would allocate a
 * structure and two BIGNUMs per token for the same bytes.
 */
int tsso_jose_ecdsa_der_to_raw(const unsigned char *der, size_t der_len, size_t coord_len,
                               unsigned char *out)
{
	const unsigned char *p = der, *end = der + der_len;
	size_t n;

	if (der_len < 2 || p[0] != 0x30)
		return -1;
	if (p[1] < 0x80) {
		n = p[1];
		p += 2;
	} else if (p[1] == 0x81 && der_len >= 3 && p[2] >= 0x80) {
		n = p[2]; /* P-521 signatures need the long form */
		p += 3;
	} else {
		return -1;
	}
	if ((size_t)(end - p) != n)
		return -1;
	if (der_int_to_raw(&p, end, coord_len, out) < 0 ||
	    der_int_to_raw(&p, end, coord_len, out + coord_len) < 0 || p != end)
		return -1;
	return 0;
}

/* What OpenSSL signed (DER in der for ECDSA, else already in sig, out_len
 * bytes) in JWS form in sig; its length in *ret_len. */
static int sig_finish(const struct jose_alg *a, const unsigned char *der, size_t out_len,
                      unsigned char *sig, size_t *ret_len)
{
	if (a->kind == JOSE_SIG_ECDSA) {
		if (tsso_jose_ecdsa_der_to_raw(der, out_len, a->coord_len, sig) < 0)
			return -1;
		out_len = 2 * a->coord_len;
	}
	*ret_len = out_len;
	return 0;
}

int tsso_jose_sig_create_ready(const struct jose_alg *a, const EVP_PKEY_CTX *ready,
                               const void *input, size_t len, unsigned char *sig, size_t cap,
                               size_t *ret_len)
{
	/* ECDSA: DER first (at most 2 * (66 + 3) + 3 bytes for P-521). */
	unsigned char der[160], h[EVP_MAX_MD_SIZE];
	size_t out_len = a->kind == JOSE_SIG_ECDSA ? sizeof(der) : cap, hn;
	EVP_PKEY_CTX *own;
	int rc = -1;

	if ((a->kind == JOSE_SIG_ECDSA && cap < 2 * a->coord_len) ||
	    (hn = sig_hash(a, input, len, h)) == 0 || (own = EVP_PKEY_CTX_dup(ready)) == NULL)
		return -1;
	/* OpenSSL refuses (rather than overruns) a buffer that is too small. */
	if (EVP_PKEY_sign(own, a->kind == JOSE_SIG_ECDSA ? der : sig, &out_len, h, hn) == 1 &&
	    sig_finish(a, der, out_len, sig, ret_len) == 0)
		rc = 0;
	EVP_PKEY_CTX_free(own);
	return rc;
}

int tsso_jose_sig_create_to(const struct jose_alg *a, EVP_PKEY *pkey, const EVP_PKEY_CTX *key_ctx,
                            const void *input, size_t len, unsigned char *sig, size_t cap,
                            size_t *ret_len)
{
	const EVP_MD *md = tsso_jose_alg_md(a);
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL, *own = NULL;
	/* ECDSA: DER first (at most 2 * (66 + 3) + 3 bytes for P-521). */
	unsigned char der[160];
	size_t out_len;
	int rc = -1;

	if (a->kind == JOSE_SIG_ECDSA) {
		if (cap < 2 * a->coord_len)
			return -1;
		out_len = sizeof(der);
	} else {
		out_len = cap;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -1;
	/* One signature per context: without this flag OpenSSL 3 duplicates the
	 * whole signing context in EVP_DigestSignFinal so that it could be
	 * reused, a copy we would throw away. */
	EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
	/* As for verification: a copy of the key's own context spares the
	 * provider lookups of EVP_PKEY_CTX_new_from_pkey. */
	if (key_ctx != NULL && (own = EVP_PKEY_CTX_dup(key_ctx)) != NULL)
		EVP_MD_CTX_set_pkey_ctx(ctx, own);
	if (EVP_DigestSignInit(ctx, &pctx, md, NULL, pkey) != 1)
		goto out;
	if (a->kind == JOSE_SIG_RSA_PSS && pss_params(pctx) < 0)
		goto out;
	/* OpenSSL refuses (rather than overruns) a buffer that is too small. */
	if (EVP_DigestSign(ctx, a->kind == JOSE_SIG_ECDSA ? der : sig, &out_len, input, len) == 1 &&
	    sig_finish(a, der, out_len, sig, ret_len) == 0)
		rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_CTX_free(own);
	return rc;
}

int tsso_jose_sig_create(const struct jose_alg *a, EVP_PKEY *pkey, const void *input, size_t len,
                         unsigned char **ret_sig, size_t *ret_len)
{
	size_t cap = a->kind == JOSE_SIG_ECDSA ? 2 * a->coord_len : (size_t)EVP_PKEY_get_size(pkey);
	unsigned char *sig = malloc(cap > 0 ? cap : 1);
	size_t n = 0;

	if (sig == NULL || tsso_jose_sig_create_to(a, pkey, NULL, input, len, sig, cap, &n) < 0) {
		free(sig);
		return -1;
	}
	*ret_sig = sig;
	*ret_len = n;
	return 0;
}
