/* One JWK <-> one EVP_PKEY (RFC 7517, RFC 7518 §6, RFC 8037 §2), and RFC 7638 thumbprints. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "jose_int.h"
#include "tsso/b64.h"
#include "tsso/buf.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

struct jose_curve {
	const char *crv;   /* JOSE name, RFC 7518 §6.2.1.1 */
	const char *group; /* OpenSSL group name */
	size_t coord_len;  /* exact length of x and y, RFC 7518 §6.2.1.2-3 */
};

static const struct jose_curve jose_curves[] = {
    {"P-256", "prime256v1", 32},
    {"P-384", "secp384r1", 48},
    {"P-521", "secp521r1", 66},
};

static const struct jose_curve *curve_by_crv(const char *crv)
{
	for (size_t i = 0; i < TSSO_ARRAY_LEN(jose_curves); i++)
		if (strcmp(jose_curves[i].crv, crv) == 0)
			return &jose_curves[i];
	return NULL;
}

static const struct jose_curve *curve_by_group(const char *group)
{
	for (size_t i = 0; i < TSSO_ARRAY_LEN(jose_curves); i++)
		if (strcmp(jose_curves[i].group, group) == 0)
			return &jose_curves[i];
	return NULL;
}

int tsso_jose_json_b64(json_t *obj, const char *name, unsigned char **ret, size_t *ret_n)
{
	json_t *v = json_object_get(obj, name);

	if (!json_is_string(v))
		return -1;
	return tsso_b64url_decode(json_string_value(v), json_string_length(v), ret, ret_n);
}

/* Build a public key of the given OpenSSL type from an OSSL_PARAM array. */
static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* RFC 7518 §6.3.1: n and e, big-endian. Keys under 2048 bits are refused
 * (RFC 7518 §3.3 "MUST"), and so are absurd ones (verification cost). */
static int rsa_from_jwk(json_t *jwk, EVP_PKEY **ret_pkey, struct tsso_err *err)
{
	unsigned char *nb = NULL, *eb = NULL;
	size_t nlen = 0, elen = 0;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = -1, bits;

	if (tsso_jose_json_b64(jwk, "n", &nb, &nlen) < 0 ||
	    tsso_jose_json_b64(jwk, "e", &eb, &elen) < 0) {
		tsso_err_set(err, "jwks.malformed", "RSA key without valid n/e");
		goto out;
	}
	if (nlen > TSSO_JWK_RSA_MAX_BITS / 8 + 1 || elen == 0 || elen > 8) {
		tsso_err_set(err, "jwks.malformed", "RSA n or e of impossible size");
		goto out;
	}
	n = BN_bin2bn(nb, (int)nlen, NULL);
	e = BN_bin2bn(eb, (int)elen, NULL);
	if (n == NULL || e == NULL)
		goto oom;
	bits = BN_num_bits(n);
	if (bits < 2048) {
		tsso_err_set(err, "key.too_weak", "RSA key of %d bits (2048 required)", bits);
		goto out;
	}
	if (bits > TSSO_JWK_RSA_MAX_BITS) {
		tsso_err_set(err, "jwks.malformed", "RSA key of %d bits is too large", bits);
		goto out;
	}
	/* e = 1 would make every signature verify against itself; an even n or
	 * e is no RSA key at all. */
	if (!BN_is_odd(n) || !BN_is_odd(e) || BN_num_bits(e) < 2) {
		tsso_err_set(err, "jwks.malformed", "RSA modulus or public exponent is invalid");
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		goto oom;
	pkey = pkey_fromdata("RSA", bld);
	if (pkey == NULL) {
		tsso_err_set(err, "jwks.malformed", "RSA key refused by OpenSSL");
		goto out;
	}
	*ret_pkey = pkey;
	rc = 0;
	goto out;
oom:
	tsso_err_set(err, "jwks.malformed", "out of memory");
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(nb);
	free(eb);
	return rc;
}

/* RFC 7518 §6.2.1: x and y of exactly the curve's size; the point must be on
 * the curve (invalid-curve attacks), which EVP_PKEY_public_check confirms. */
static int ec_from_jwk(json_t *jwk, const struct jose_curve *c, EVP_PKEY **ret_pkey,
                       struct tsso_err *err)
{
	unsigned char *x = NULL, *y = NULL;
	unsigned char pub[1 + 2 * 66];
	size_t xlen = 0, ylen = 0;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY_CTX *chk = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = -1;

	if (tsso_jose_json_b64(jwk, "x", &x, &xlen) < 0 ||
	    tsso_jose_json_b64(jwk, "y", &y, &ylen) < 0 || xlen != c->coord_len ||
	    ylen != c->coord_len) {
		tsso_err_set(err, "jwks.malformed", "EC %s key needs x and y of %zu bytes", c->crv,
		             c->coord_len);
		goto out;
	}
	pub[0] = 0x04; /* uncompressed point, SEC 1 §2.3.3 */
	memcpy(pub + 1, x, xlen);
	memcpy(pub + 1 + xlen, y, ylen);
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * xlen) !=
	        1) {
		tsso_err_set(err, "jwks.malformed", "out of memory");
		goto out;
	}
	pkey = pkey_fromdata("EC", bld);
	if (pkey != NULL)
		chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (pkey == NULL || chk == NULL || EVP_PKEY_public_check(chk) != 1) {
		tsso_err_set(err, "jwks.malformed", "EC point is not on curve %s", c->crv);
		goto out;
	}
	*ret_pkey = pkey;
	pkey = NULL;
	rc = 0;
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_free(pkey);
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return rc;
}

/* RFC 8037 §2: OKP key, Ed25519 public key of exactly 32 bytes. */
static int ed25519_from_jwk(json_t *jwk, EVP_PKEY **ret_pkey, struct tsso_err *err)
{
	unsigned char *x = NULL;
	size_t xlen = 0;
	EVP_PKEY *pkey = NULL;

	if (tsso_jose_json_b64(jwk, "x", &x, &xlen) < 0 || xlen != 32) {
		free(x);
		return tsso_err_set(err, "jwks.malformed", "Ed25519 key needs x of 32 bytes");
	}
	pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, xlen);
	free(x);
	if (pkey == NULL)
		return tsso_err_set(err, "jwks.malformed", "Ed25519 key refused by OpenSSL");
	*ret_pkey = pkey;
	return 0;
}

int tsso_jose_jwk_to_pkey(json_t *jwk, EVP_PKEY **ret_pkey, enum jose_kty *ret_kty,
                          const char **ret_crv, struct tsso_err *err)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	const struct jose_curve *c;

	if (kty == NULL)
		return tsso_err_set(err, "jwks.malformed", "JWK without kty");
	if (strcmp(kty, "RSA") == 0) {
		if (rsa_from_jwk(jwk, ret_pkey, err) < 0)
			return -1;
		*ret_kty = JOSE_KTY_RSA;
		*ret_crv = NULL;
		return 1;
	}
	if (strcmp(kty, "EC") == 0) {
		if (crv == NULL || (c = curve_by_crv(crv)) == NULL)
			return 0;
		if (ec_from_jwk(jwk, c, ret_pkey, err) < 0)
			return -1;
		*ret_kty = JOSE_KTY_EC;
		*ret_crv = c->crv;
		return 1;
	}
	if (strcmp(kty, "OKP") == 0) {
		if (crv == NULL || strcmp(crv, "Ed25519") != 0)
			return 0; /* Ed448, X25519, X448: not used for JWS here */
		if (ed25519_from_jwk(jwk, ret_pkey, err) < 0)
			return -1;
		*ret_kty = JOSE_KTY_OKP;
		*ret_crv = "Ed25519";
		return 1;
	}
	return 0; /* "oct" and unknown types: symmetric keys never come from a JWKS */
}

enum jose_kty tsso_jose_pkey_kty(const EVP_PKEY *pkey, const char **ret_crv)
{
	char group[64];
	const struct jose_curve *c;

	*ret_crv = NULL;
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		return JOSE_KTY_RSA;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof(group), NULL) != 1 ||
		    (c = curve_by_group(group)) == NULL)
			return JOSE_KTY_NONE;
		*ret_crv = c->crv;
		return JOSE_KTY_EC;
	case EVP_PKEY_ED25519:
		*ret_crv = "Ed25519";
		return JOSE_KTY_OKP;
	default:
		return JOSE_KTY_NONE;
	}
}

/* Set obj[name] = base64url of a big number, padded to width bytes (0: minimal). */
static int set_bn(json_t *obj, const char *name, const EVP_PKEY *pkey, const char *param,
                  size_t width)
{
	BIGNUM *bn = NULL;
	unsigned char buf[TSSO_JWK_RSA_MAX_BITS / 8 + 1];
	size_t len;
	char *s = NULL;
	int rc = -1;

	if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
		return -1;
	len = width != 0 ? width : (size_t)BN_num_bytes(bn);
	if (len == 0 || len > sizeof(buf) || BN_bn2binpad(bn, buf, (int)len) < 0)
		goto out;
	s = tsso_b64url_encode(buf, len);
	if (s != NULL && json_object_set_new(obj, name, json_string(s)) == 0)
		rc = 0;
out:
	free(s);
	BN_free(bn);
	return rc;
}

json_t *tsso_jose_pkey_public_jwk(const EVP_PKEY *pkey)
{
	const char *crv = NULL;
	enum jose_kty kty = tsso_jose_pkey_kty(pkey, &crv);
	json_t *jwk = json_object();
	unsigned char raw[32];
	size_t rawlen = sizeof(raw);
	char *x = NULL;
	int rc = -1;

	if (jwk == NULL)
		return NULL;
	switch (kty) {
	case JOSE_KTY_RSA:
		rc = json_object_set_new(jwk, "kty", json_string("RSA"));
		if (rc == 0)
			rc = set_bn(jwk, "n", pkey, OSSL_PKEY_PARAM_RSA_N, 0);
		if (rc == 0)
			rc = set_bn(jwk, "e", pkey, OSSL_PKEY_PARAM_RSA_E, 0);
		break;
	case JOSE_KTY_EC:
		rc = json_object_set_new(jwk, "kty", json_string("EC"));
		if (rc == 0)
			rc = json_object_set_new(jwk, "crv", json_string(crv));
		if (rc == 0)
			rc = set_bn(jwk, "x", pkey, OSSL_PKEY_PARAM_EC_PUB_X,
			            curve_by_crv(crv)->coord_len);
		if (rc == 0)
			rc = set_bn(jwk, "y", pkey, OSSL_PKEY_PARAM_EC_PUB_Y,
			            curve_by_crv(crv)->coord_len);
		break;
	case JOSE_KTY_OKP:
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1 || rawlen != 32 ||
		    (x = tsso_b64url_encode(raw, rawlen)) == NULL)
			break;
		rc = json_object_set_new(jwk, "kty", json_string("OKP"));
		if (rc == 0)
			rc = json_object_set_new(jwk, "crv", json_string(crv));
		if (rc == 0)
			rc = json_object_set_new(jwk, "x", json_string(x));
		break;
	default:
		break;
	}
	free(x);
	if (rc != 0) {
		json_decref(jwk);
		return NULL;
	}
	return jwk;
}

/* Append "name":"value" from jwk; the values are base64url or fixed names, so
 * no escaping is needed (RFC 7638 §3.2: no whitespace, members sorted). */
static int tp_member(struct tsso_buf *b, json_t *jwk, const char *name, bool first)
{
	const char *v = json_string_value(json_object_get(jwk, name));

	if (v == NULL)
		return -1;
	return tsso_buf_addf(b, "%s\"%s\":\"%s\"", first ? "" : ",", name, v);
}

char *tsso_jose_pkey_thumbprint(const EVP_PKEY *pkey)
{
	/* RFC 7638 §3.2: the required members only, in lexicographic order. */
	static const char *const rsa[] = {"e", "kty", "n", NULL};
	static const char *const ec[] = {"crv", "kty", "x", "y", NULL};
	static const char *const okp[] = {"crv", "kty", "x", NULL};
	json_t *jwk = tsso_jose_pkey_public_jwk(pkey);
	const char *const *members;
	const char *kty;
	struct tsso_buf b;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *out = NULL;

	tsso_buf_init(&b, 4096);
	if (jwk == NULL)
		return NULL;
	kty = json_string_value(json_object_get(jwk, "kty"));
	members = strcmp(kty, "RSA") == 0 ? rsa : strcmp(kty, "EC") == 0 ? ec : okp;
	if (tsso_buf_adds(&b, "{") < 0)
		goto out;
	for (size_t i = 0; members[i] != NULL; i++)
		if (tp_member(&b, jwk, members[i], i == 0) < 0)
			goto out;
	if (tsso_buf_adds(&b, "}") < 0 ||
	    EVP_Digest(b.ptr, b.len, md, &mdlen, tsso_sha_md(32), NULL) != 1)
		goto out;
	out = tsso_b64url_encode(md, mdlen);
out:
	tsso_buf_free(&b);
	json_decref(jwk);
	return out;
}
