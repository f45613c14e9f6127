/* JWS signing (RFC 7515 §5.1, compact serialization §7.1) with a loaded private or shared key. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "jose_int.h"
#include "tsso/b64.h"
#include "tsso/buf.h"
#include "tsso/crypto.h"
#include "tsso/jose.h"
#include "tsso/jsonw.h"
#include "tsso/limits.h"

struct tsso_signer {
	const struct jose_alg *alg;
	EVP_PKEY *pkey;        /* asymmetric algs */
	EVP_PKEY_CTX *key_ctx; /* made once for pkey, copied per signature (may be NULL) */
	EVP_PKEY_CTX *ready;   /* set up for alg (tsso_jose_sig_ready), copied; may be NULL */
	unsigned char *hkey;   /* HS*: a copy of the secret, wiped on free */
	size_t hkey_len;
	char *kid; /* NULL for HMAC signers */
};

void tsso_signer_free(struct tsso_signer *s)
{
	if (s == NULL)
		return;
	if (s->hkey != NULL) {
		tsso_wipe(s->hkey, s->hkey_len);
		free(s->hkey);
	}
	EVP_PKEY_CTX_free(s->key_ctx);
	EVP_PKEY_CTX_free(s->ready);
	EVP_PKEY_free(s->pkey);
	free(s->kid);
	free(s);
}

const char *tsso_signer_alg(const struct tsso_signer *s)
{
	return s != NULL ? s->alg->name : NULL;
}

const char *tsso_signer_kid(const struct tsso_signer *s)
{
	return s != NULL ? s->kid : NULL;
}

struct tsso_signer *tsso_signer_from_pem(const char *pem, size_t len, const char *alg,
                                         const char *kid, struct tsso_err *err)
{
	const struct jose_alg *a = tsso_jose_alg_find(alg);
	struct tsso_signer *s = NULL;
	const char *crv = NULL;
	EVP_PKEY *pkey = NULL;
	int bits;

	if (a == NULL || a->kind == JOSE_SIG_HMAC) {
		tsso_err_set(err, "key.load_failed", "not an asymmetric JWS alg");
		goto fail;
	}
	if (kid != NULL && (kid[0] == '\0' || strlen(kid) > TSSO_JWK_KID_MAX)) {
		tsso_err_set(err, "key.load_failed", "kid empty or longer than %d bytes",
		             TSSO_JWK_KID_MAX);
		goto fail;
	}
	if (len > TSSO_CFG_MAX_SECRET_FILE || (pkey = tsso_jose_pem_private(pem, len)) == NULL) {
		tsso_err_set(err, "key.load_failed", "not an unencrypted PEM private key");
		goto fail;
	}
	/* The key type must be the alg's (RFC 7518 §3.1), curve included. */
	if (tsso_jose_pkey_kty(pkey, &crv) != a->kty ||
	    (a->crv != NULL && (crv == NULL || strcmp(crv, a->crv) != 0))) {
		tsso_err_set(err, "key.load_failed", "key type does not fit %s", a->name);
		goto fail;
	}
	bits = EVP_PKEY_get_bits(pkey);
	if (a->kty == JOSE_KTY_RSA && (bits < 2048 || bits > TSSO_JWK_RSA_MAX_BITS)) {
		/* RFC 7518 §3.3: 2048 bits or larger MUST be used. */
		tsso_err_set(err, "key.too_weak", "RSA key of %d bits (2048 to %d required)", bits,
		             TSSO_JWK_RSA_MAX_BITS);
		goto fail;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto oom;
	s->alg = a;
	s->pkey = pkey;
	pkey = NULL;
	/* Without it (out of memory), each signature makes its own. */
	s->key_ctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->pkey, NULL);
	s->ready = tsso_jose_sig_ready(a, s->pkey, true);
	/* RFC 7638: without a configured kid, the thumbprint names the key. */
	s->kid = kid != NULL ? strdup(kid) : tsso_jose_pkey_thumbprint(s->pkey);
	if (s->kid == NULL)
		goto oom;
	return s;
oom:
	tsso_err_set(err, "key.load_failed", "out of memory");
fail:
	EVP_PKEY_free(pkey);
	tsso_signer_free(s);
	return NULL;
}

struct tsso_signer *tsso_signer_load_pem(const char *path, const char *alg, const char *kid,
                                         struct tsso_err *err)
{
	struct tsso_signer *s;
	char *pem = NULL;
	size_t len = 0;

	if (tsso_jose_file_read(path, TSSO_CFG_MAX_SECRET_FILE, &pem, &len) < 0) {
		tsso_err_set(err, "key.load_failed", "cannot read a key file of at most %d bytes",
		             TSSO_CFG_MAX_SECRET_FILE);
		return NULL;
	}
	s = tsso_signer_from_pem(pem, len, alg, kid, err);
	tsso_wipe(pem, len);
	free(pem);
	return s;
}

struct tsso_signer *tsso_signer_hmac(const void *key, size_t len, const char *alg,
                                     struct tsso_err *err)
{
	const struct jose_alg *a = tsso_jose_alg_find(alg);
	struct tsso_signer *s;

	if (a == NULL || a->kind != JOSE_SIG_HMAC || key == NULL) {
		tsso_err_set(err, "key.load_failed", "not an HMAC JWS alg");
		return NULL;
	}
	/* RFC 7518 §3.2: a key of the same size as the hash output or larger. */
	if (len < a->hash_len || len > TSSO_CFG_MAX_SECRET_FILE) {
		tsso_err_set(err, "key.too_weak", "%s secret must be %zu to %d bytes", a->name,
		             a->hash_len, TSSO_CFG_MAX_SECRET_FILE);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->hkey = malloc(len)) == NULL) {
		free(s);
		tsso_err_set(err, "key.load_failed", "out of memory");
		return NULL;
	}
	memcpy(s->hkey, key, len);
	s->hkey_len = len;
	s->alg = a;
	return s;
}

json_t *tsso_signer_public_jwk(const struct tsso_signer *s)
{
	json_t *jwk;

	if (s == NULL || s->pkey == NULL)
		return NULL;
	jwk = tsso_jose_pkey_public_jwk(s->pkey);
	if (jwk == NULL)
		return NULL;
	if (json_object_set_new(jwk, "kid", json_string(s->kid)) != 0 ||
	    json_object_set_new(jwk, "alg", json_string(s->alg->name)) != 0 ||
	    json_object_set_new(jwk, "use", json_string("sig")) != 0) {
		json_decref(jwk);
		return NULL;
	}
	return jwk;
}

/* The protected header: alg, typ, kid, then the caller's extra members, which
 * may not replace alg or kid (the key decides those, not the caller). */
static json_t *header_build(const struct tsso_signer *s, const char *typ, json_t *extra,
                            struct tsso_err *err)
{
	json_t *h = json_object();
	const char *name;
	json_t *v;

	if (h == NULL || json_object_set_new(h, "alg", json_string(s->alg->name)) != 0 ||
	    (typ != NULL && json_object_set_new(h, "typ", json_string(typ)) != 0) ||
	    (s->kid != NULL && json_object_set_new(h, "kid", json_string(s->kid)) != 0))
		goto fail;
	if (extra != NULL && !json_is_object(extra))
		goto fail;
	json_object_foreach (extra, name, v) {
		if (strcmp(name, "alg") == 0 || strcmp(name, "kid") == 0) {
			json_decref(h);
			tsso_err_set(err, "sign.failed", "extra header may not set alg or kid");
			return NULL;
		}
		if (json_object_set(h, name, v) != 0)
			goto fail;
	}
	return h;
fail:
	json_decref(h);
	tsso_err_set(err, "sign.failed", "cannot build the JWS header");
	return NULL;
}

/* The signature length s makes, known before signing (RFC 7518 §3). */
static size_t sig_len_of(const struct tsso_signer *s)
{
	switch (s->alg->kind) {
	case JOSE_SIG_HMAC:
		return s->alg->hash_len;
	case JOSE_SIG_ECDSA:
		return 2 * s->alg->coord_len;
	case JOSE_SIG_EDDSA:
		return 64;
	default:
		return (size_t)EVP_PKEY_get_size(s->pkey);
	}
}

int tsso_jws_compact_sign(const struct tsso_signer *s, const char *header_b64, const void *payload,
                          size_t payload_len, char **ret_compact, struct tsso_err *err)
{
	unsigned char sig[TSSO_JWK_RSA_MAX_BITS / 8];
	size_t hlen, plen, slen, n, got = 0;
	char *out = NULL;
	int rc = -1;

	if (s == NULL || header_b64 == NULL || payload == NULL || ret_compact == NULL)
		return tsso_err_set(err, "sign.failed", "nothing to sign");
	hlen = strlen(header_b64);
	slen = sig_len_of(s);
	if (slen == 0 || slen > sizeof(sig) || payload_len > TSSO_TOKEN_MAX)
		return tsso_err_set(err, "sign.failed", "JWS larger than %d bytes", TSSO_TOKEN_MAX);
	plen = tsso_b64url_encoded_len(payload_len);
	/* The token we produce must pass our own size limit (RFC 7515 §7.1:
	 * header "." payload "." signature). */
	n = hlen + 1 + plen;
	if (hlen > TSSO_TOKEN_MAX || n + 1 + tsso_b64url_encoded_len(slen) > TSSO_TOKEN_MAX)
		return tsso_err_set(err, "sign.failed", "JWS larger than %d bytes", TSSO_TOKEN_MAX);
	out = malloc(n + 1 + tsso_b64url_encoded_len(slen) + 1);
	if (out == NULL)
		return tsso_err_set(err, "sign.failed", "out of memory");
	/* The signing input is built in place, where the token needs it. */
	memcpy(out, header_b64, hlen);
	out[hlen] = '.';
	tsso_b64url_encode_to(out + hlen + 1, payload, payload_len);
	if (s->alg->kind == JOSE_SIG_HMAC) {
		unsigned char mac[EVP_MAX_MD_SIZE];

		if (tsso_jose_hmac(s->alg, s->hkey, s->hkey_len, out, n, mac, &got) == 0 &&
		    got == slen)
			memcpy(sig, mac, got);
		else
			got = 0;
		tsso_wipe(mac, sizeof(mac));
	} else if ((s->ready != NULL ? tsso_jose_sig_create_ready(s->alg, s->ready, out, n, sig,
	                                                          sizeof(sig), &got)
	                             : tsso_jose_sig_create_to(s->alg, s->pkey, s->key_ctx, out, n,
	                                                       sig, sizeof(sig), &got)) < 0) {
		got = 0;
	}
	if (got != slen) {
		tsso_err_set(err, "sign.failed", "signing failed");
		goto out;
	}
	out[n] = '.';
	tsso_b64url_encode_to(out + n + 1, sig, got);
	*ret_compact = out;
	out = NULL;
	rc = 0;
out:
	free(out);
	return rc;
}

/* Append the compact JSON of obj to b. */
static int add_json(struct tsso_buf *b, const json_t *obj)
{
	struct tsso_jsonw w;

	tsso_jsonw_init(&w, b);
	tsso_jsonw_value(&w, obj);
	return tsso_jsonw_finish(&w, NULL);
}

char *tsso_signer_header_b64(const struct tsso_signer *s, const char *typ)
{
	struct tsso_buf b;
	json_t *h = s != NULL ? header_build(s, typ, NULL, NULL) : NULL;
	char *enc = NULL;

	tsso_buf_init(&b, TSSO_TOKEN_MAX);
	if (h != NULL && add_json(&b, h) == 0)
		enc = tsso_b64url_encode(b.ptr, b.len);
	json_decref(h);
	tsso_buf_free(&b);
	return enc;
}

int tsso_jws_sign(const struct tsso_signer *s, const char *typ, json_t *extra_header,
                  json_t *claims, char **ret_compact, struct tsso_err *err)
{
	struct tsso_buf hb, pb;
	json_t *header = NULL;
	char *hdr_b64 = NULL;
	int rc = -1;

	tsso_buf_init(&hb, TSSO_TOKEN_MAX);
	tsso_buf_init(&pb, TSSO_TOKEN_MAX);
	if (s == NULL || !json_is_object(claims) || ret_compact == NULL)
		return tsso_err_set(err, "sign.failed", "nothing to sign");
	header = header_build(s, typ, extra_header, err);
	if (header == NULL)
		goto out;
	if (add_json(&hb, header) < 0 || add_json(&pb, claims) < 0) {
		tsso_err_set(err, "sign.failed", "JWS larger than %d bytes", TSSO_TOKEN_MAX);
		goto out;
	}
	hdr_b64 = tsso_b64url_encode(hb.ptr, hb.len);
	if (hdr_b64 == NULL) {
		tsso_err_set(err, "sign.failed", "out of memory");
		goto out;
	}
	rc = tsso_jws_compact_sign(s, hdr_b64, pb.ptr, pb.len, ret_compact, err);
out:
	free(hdr_b64);
	json_decref(header);
	tsso_buf_free(&hb);
	tsso_buf_free(&pb);
	return rc;
}
