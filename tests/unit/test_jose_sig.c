/* Unit tests for src/jose/sig.c: the R||S to DER conversion and the PSS parameters against plain
 * OpenSSL. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "src/jose/jose_int.h"

/* Our DER of R||S is byte for byte what OpenSSL's own encoder makes of the
 * same two integers, on the edges: leading zero bytes, top bit set, zero,
 * all ones, for each curve size. */
static void check_der(const unsigned char *rs, size_t coord)
{
	unsigned char ours[JOSE_ECDSA_DER_MAX], *theirs = NULL;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, (int)coord, NULL), *s = BN_bin2bn(rs + coord, (int)coord, NULL);
	size_t n;
	int tn;

	assert_non_null(es);
	assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
	tn = i2d_ECDSA_SIG(es, &theirs);
	assert_true(tn > 0);
	n = tsso_jose_ecdsa_der(rs, coord, ours);
	assert_int_equal(n, (size_t)tn);
	assert_memory_equal(ours, theirs, n);
	OPENSSL_free(theirs);
	ECDSA_SIG_free(es);
}

static void test_ecdsa_der(void **state)
{
	static const size_t coords[] = {32, 48, 66};
	unsigned char rs[2 * 66];

	(void)state;
	for (size_t c = 0; c < sizeof(coords) / sizeof(coords[0]); c++) {
		size_t n = coords[c];
		static const unsigned char fills[][2] = {
		    {0x00, 0x00}, {0xff, 0xff}, {0x7f, 0x80}, {0x80, 0x7f}, {0x01, 0x00},
		};

		for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
			memset(rs, fills[f][0], n);
			memset(rs + n, fills[f][1], n);
			check_der(rs, n);
			/* Leading zero bytes, then a byte with the top bit set. */
			rs[0] = 0;
			rs[1] = 0;
			rs[2] = 0x80;
			rs[n] = 0;
			rs[n + 1] = 0x01;
			check_der(rs, n);
			/* Only the last byte non-zero. */
			memset(rs, 0, 2 * n);
			rs[n - 1] = 0x80;
			rs[2 * n - 1] = 0x05;
			check_der(rs, n);
		}
		for (size_t i = 0; i < 2 * n; i++)
			rs[i] = (unsigned char)(i * 37 + c);
		check_der(rs, n);
	}
	assert_int_equal(tsso_jose_ecdsa_der(rs, 0, (unsigned char[JOSE_ECDSA_DER_MAX]){0}), 0);
	assert_int_equal(tsso_jose_ecdsa_der(rs, 67, (unsigned char[JOSE_ECDSA_DER_MAX]){0}), 0);
}

/* Signatures of our signer verify, for every curve, many times over (the
 * random R and S cover leading zeros and the top bit); one flipped bit in
 * R or S is refused. */
static void test_ecdsa_roundtrip(void **state)
{
	static const char *const algs[] = {"ES256", "ES384", "ES512"};
	static const char *const curves[] = {"P-256", "P-384", "P-521"};
	static const char msg[] = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0";

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		const struct jose_alg *a = tsso_jose_alg_find(algs[i]);
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);

		assert_non_null(a);
		assert_non_null(k);
		for (int round = 0; round < 40; round++) {
			unsigned char *sig = NULL;
			size_t n = 0;

			assert_int_equal(tsso_jose_sig_create(a, k, msg, strlen(msg), &sig, &n), 0);
			assert_int_equal(n, 2 * a->coord_len);
			assert_int_equal(tsso_jose_sig_verify(a, k, msg, strlen(msg), sig, n), 0);
			sig[round % n] ^= 0x01;
			assert_int_equal(tsso_jose_sig_verify(a, k, msg, strlen(msg), sig, n), -1);
			free(sig);
		}
		EVP_PKEY_free(k);
	}
}

/* RSASSA-PSS signature by plain OpenSSL with explicit parameters. */
static size_t pss_sign(EVP_PKEY *k, const EVP_MD *md, const EVP_MD *mgf1, int saltlen,
                       const char *msg, unsigned char *sig, size_t cap)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_PKEY_CTX *p = NULL;
	size_t n = cap;

	assert_non_null(c);
	assert_int_equal(EVP_DigestSignInit(c, &p, md, NULL, k), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(p, saltlen), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(p, mgf1), 1);
	assert_int_equal(EVP_DigestSign(c, sig, &n, (const unsigned char *)msg, strlen(msg)), 1);
	EVP_MD_CTX_free(c);
	return n;
}

/* RFC 7518 §3.5: MGF1 with the alg's own hash and a salt as long as the
 * hash. Our verifier leaves MGF1 to OpenSSL's default (the signature
 * digest): a signature made with the same parameters explicitly verifies,
 * one with MGF1-SHA1 or another salt length is refused; and what we sign
 * verifies under the explicit parameters. */
static void test_pss_params(void **state)
{
	static const char *const algs[] = {"PS256", "PS384", "PS512"};
	static const char msg[] = "eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJhIn0";
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	unsigned char sig[512];

	(void)state;
	assert_non_null(k);
	for (size_t i = 0; i < 3; i++) {
		const struct jose_alg *a = tsso_jose_alg_find(algs[i]);
		const EVP_MD *md = tsso_jose_alg_md(a);
		unsigned char *ours = NULL;
		size_t n, on = 0;
		EVP_MD_CTX *c;
		EVP_PKEY_CTX *p = NULL;

		n = pss_sign(k, md, md, RSA_PSS_SALTLEN_DIGEST, msg, sig, sizeof(sig));
		assert_int_equal(tsso_jose_sig_verify(a, k, msg, strlen(msg), sig, n), 0);
		n = pss_sign(k, md, EVP_sha1(), RSA_PSS_SALTLEN_DIGEST, msg, sig, sizeof(sig));
		assert_int_equal(tsso_jose_sig_verify(a, k, msg, strlen(msg), sig, n), -1);
		n = pss_sign(k, md, md, 0, msg, sig, sizeof(sig));
		assert_int_equal(tsso_jose_sig_verify(a, k, msg, strlen(msg), sig, n), -1);
		n = pss_sign(k, md, md, (int)a->hash_len + 1, msg, sig, sizeof(sig));
		assert_int_equal(tsso_jose_sig_verify(a, k, msg, strlen(msg), sig, n), -1);

		assert_int_equal(tsso_jose_sig_create(a, k, msg, strlen(msg), &ours, &on), 0);
		c = EVP_MD_CTX_new();
		assert_int_equal(EVP_DigestVerifyInit(c, &p, md, NULL, k), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(p, (int)a->hash_len), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(p, md), 1);
		assert_int_equal(
		    EVP_DigestVerify(c, ours, on, (const unsigned char *)msg, strlen(msg)), 1);
		EVP_MD_CTX_free(c);
		free(ours);
	}
	EVP_PKEY_free(k);
}

/* Contexts set up once per alg (tsso_jose_sig_ready) sign and verify as
 * the per-call path does: each way verifies the other's signatures,
 * PKCS#1 signatures are the same bytes, and every refusal holds: a changed
 * bit, a wrong length, another message, another key, the other RSA
 * padding, PSS with MGF1-SHA1 or another salt length. */
static void ready_case(const char *alg, EVP_PKEY *k, EVP_PKEY *other)
{
	static const char msg[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0";
	const struct jose_alg *a = tsso_jose_alg_find(alg);
	EVP_PKEY_CTX *vr = tsso_jose_sig_ready(a, k, false), *sr = tsso_jose_sig_ready(a, k, true);
	EVP_PKEY_CTX *ovr = tsso_jose_sig_ready(a, other, false);
	unsigned char sig[512], *plain = NULL;
	size_t n = 0, pn = 0;

	assert_non_null(vr);
	assert_non_null(sr);
	assert_non_null(ovr);
	for (int round = 0; round < 8; round++) {
		assert_int_equal(
		    tsso_jose_sig_create_ready(a, sr, msg, strlen(msg), sig, sizeof(sig), &n), 0);
		assert_int_equal(tsso_jose_sig_create(a, k, msg, strlen(msg), &plain, &pn), 0);
		assert_int_equal(n, pn);
		if (a->kind == JOSE_SIG_RSA_PKCS1)
			assert_memory_equal(sig, plain, n);
		assert_int_equal(tsso_jose_sig_verify(a, k, msg, strlen(msg), sig, n), 0);
		assert_int_equal(tsso_jose_sig_verify_ready(a, k, vr, msg, strlen(msg), plain, pn),
		                 0);
		assert_int_equal(tsso_jose_sig_verify_ready(a, k, vr, msg, strlen(msg), sig, n), 0);
		assert_int_equal(tsso_jose_sig_verify_ready(a, k, vr, msg, strlen(msg) - 1, sig, n),
		                 -1);
		assert_int_equal(tsso_jose_sig_verify_ready(a, k, vr, msg, strlen(msg), sig, n - 1),
		                 -1);
		assert_int_equal(
		    tsso_jose_sig_verify_ready(a, other, ovr, msg, strlen(msg), sig, n), -1);
		sig[(size_t)round * 37 % n] ^= 0x04;
		assert_int_equal(tsso_jose_sig_verify_ready(a, k, vr, msg, strlen(msg), sig, n),
		                 -1);
		free(plain);
		plain = NULL;
	}
	/* Too small a buffer is refused, not overrun. */
	assert_int_equal(tsso_jose_sig_create_ready(a, sr, msg, strlen(msg), sig, n - 1, &pn), -1);
	if (a->kind == JOSE_SIG_RSA_PKCS1 || a->kind == JOSE_SIG_RSA_PSS) {
		const EVP_MD *md = tsso_jose_alg_md(a);
		/* RS and PS of the same hash, crossed. */
		const struct jose_alg *cross = tsso_jose_alg_find(
		    a->kind == JOSE_SIG_RSA_PKCS1 ? (a->hash_len == 32   ? "PS256"
		                                     : a->hash_len == 48 ? "PS384"
		                                                         : "PS512")
		                                  : (a->hash_len == 32   ? "RS256"
		                                     : a->hash_len == 48 ? "RS384"
		                                                         : "RS512"));

		assert_int_equal(tsso_jose_sig_create(cross, k, msg, strlen(msg), &plain, &pn), 0);
		assert_int_equal(tsso_jose_sig_verify_ready(a, k, vr, msg, strlen(msg), plain, pn),
		                 -1);
		free(plain);
		if (a->kind == JOSE_SIG_RSA_PSS) {
			n = pss_sign(k, md, EVP_sha1(), RSA_PSS_SALTLEN_DIGEST, msg, sig,
			             sizeof(sig));
			assert_int_equal(
			    tsso_jose_sig_verify_ready(a, k, vr, msg, strlen(msg), sig, n), -1);
			n = pss_sign(k, md, md, 0, msg, sig, sizeof(sig));
			assert_int_equal(
			    tsso_jose_sig_verify_ready(a, k, vr, msg, strlen(msg), sig, n), -1);
			n = pss_sign(k, md, md, (int)a->hash_len + 1, msg, sig, sizeof(sig));
			assert_int_equal(
			    tsso_jose_sig_verify_ready(a, k, vr, msg, strlen(msg), sig, n), -1);
			n = pss_sign(k, md, md, (int)a->hash_len, msg, sig, sizeof(sig));
			assert_int_equal(
			    tsso_jose_sig_verify_ready(a, k, vr, msg, strlen(msg), sig, n), 0);
		}
	}
	EVP_PKEY_CTX_free(vr);
	EVP_PKEY_CTX_free(sr);
	EVP_PKEY_CTX_free(ovr);
}

static void test_ready(void **state)
{
	static const char *const rsa_algs[] = {"RS256", "RS384", "RS512",
	                                       "PS256", "PS384", "PS512"};
	static const char *const ec_algs[] = {"ES256", "ES384", "ES512"};
	static const char *const curves[] = {"P-256", "P-384", "P-521"};
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	(void)state;
	assert_non_null(rsa);
	assert_non_null(rsa2);
	for (size_t i = 0; i < 6; i++)
		ready_case(rsa_algs[i], rsa, rsa2);
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
		EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);

		ready_case(ec_algs[i], k, k2);
		EVP_PKEY_free(k);
		EVP_PKEY_free(k2);
	}
	/* The ES* alg of each curve, which JWKS keys without "alg" are readied for. */
	assert_string_equal(tsso_jose_alg_for_crv("P-256")->name, "ES256");
	assert_string_equal(tsso_jose_alg_for_crv("P-384")->name, "ES384");
	assert_string_equal(tsso_jose_alg_for_crv("P-521")->name, "ES512");
	assert_null(tsso_jose_alg_for_crv("Ed25519"));
	assert_null(tsso_jose_alg_for_crv("P-192"));
	assert_null(tsso_jose_alg_for_crv(NULL));
	/* No prehashed form for EdDSA, nor a key context for HMAC. */
	assert_null(tsso_jose_sig_ready(tsso_jose_alg_find("EdDSA"), ed, false));
	assert_null(tsso_jose_sig_ready(tsso_jose_alg_find("HS256"), rsa, false));
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(rsa);
}

/* One key context made once serves every alg of its key, in any order and
 * from several threads: each verification works on its own copy. */
struct shared {
	EVP_PKEY *rsa;
	EVP_PKEY_CTX *key_ctx;
	EVP_PKEY_CTX *rs_ready, *ps_ready; /* tsso_jose_sig_ready, shared the same way */
	unsigned char rs256[256], ps256[256];
	size_t rs_len, ps_len;
};

static const char shared_msg[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0";

static void *verify_many(void *arg)
{
	struct shared *sh = arg;
	const struct jose_alg *rs = tsso_jose_alg_find("RS256"), *ps = tsso_jose_alg_find("PS256");
	size_t bad = 0;

	for (int i = 0; i < 30; i++) {
		bad += tsso_jose_sig_verify_with(rs, sh->rsa, sh->key_ctx, shared_msg,
		                                 strlen(shared_msg), sh->rs256, sh->rs_len) != 0;
		bad += tsso_jose_sig_verify_with(ps, sh->rsa, sh->key_ctx, shared_msg,
		                                 strlen(shared_msg), sh->ps256, sh->ps_len) != 0;
		/* The PKCS#1 signature under PSS, and the reverse, never pass. */
		bad += tsso_jose_sig_verify_with(ps, sh->rsa, sh->key_ctx, shared_msg,
		                                 strlen(shared_msg), sh->rs256, sh->rs_len) == 0;
		bad += tsso_jose_sig_verify_with(rs, sh->rsa, sh->key_ctx, shared_msg,
		                                 strlen(shared_msg), sh->ps256, sh->ps_len) == 0;
		bad += tsso_jose_sig_verify_ready(rs, sh->rsa, sh->rs_ready, shared_msg,
		                                  strlen(shared_msg), sh->rs256, sh->rs_len) != 0;
		bad += tsso_jose_sig_verify_ready(ps, sh->rsa, sh->ps_ready, shared_msg,
		                                  strlen(shared_msg), sh->ps256, sh->ps_len) != 0;
		bad += tsso_jose_sig_verify_ready(ps, sh->rsa, sh->ps_ready, shared_msg,
		                                  strlen(shared_msg), sh->rs256, sh->rs_len) == 0;
	}
	return (void *)bad;
}

static void test_key_ctx(void **state)
{
	struct shared sh = {0};
	unsigned char *sig = NULL;
	pthread_t t[4];

	(void)state;
	sh.rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(sh.rsa);
	sh.key_ctx = EVP_PKEY_CTX_new_from_pkey(NULL, sh.rsa, NULL);
	assert_non_null(sh.key_ctx);
	sh.rs_ready = tsso_jose_sig_ready(tsso_jose_alg_find("RS256"), sh.rsa, false);
	sh.ps_ready = tsso_jose_sig_ready(tsso_jose_alg_find("PS256"), sh.rsa, false);
	assert_non_null(sh.rs_ready);
	assert_non_null(sh.ps_ready);
	assert_int_equal(tsso_jose_sig_create(tsso_jose_alg_find("RS256"), sh.rsa, shared_msg,
	                                      strlen(shared_msg), &sig, &sh.rs_len),
	                 0);
	memcpy(sh.rs256, sig, sh.rs_len);
	free(sig);
	assert_int_equal(tsso_jose_sig_create(tsso_jose_alg_find("PS256"), sh.rsa, shared_msg,
	                                      strlen(shared_msg), &sig, &sh.ps_len),
	                 0);
	memcpy(sh.ps256, sig, sh.ps_len);
	free(sig);
	assert_null(verify_many(&sh));
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, verify_many, &sh), 0);
	for (int i = 0; i < 4; i++) {
		void *bad = (void *)1;

		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_null(bad);
	}
	/* An EC key works the same way; a changed signature is refused. */
	{
		EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		EVP_PKEY_CTX *oc = EVP_PKEY_CTX_new_from_pkey(NULL, other, NULL);
		const struct jose_alg *es = tsso_jose_alg_find("ES256");
		size_t n = 0;

		assert_int_equal(
		    tsso_jose_sig_create(es, other, shared_msg, strlen(shared_msg), &sig, &n), 0);
		assert_int_equal(tsso_jose_sig_verify_with(es, other, oc, shared_msg,
		                                           strlen(shared_msg), sig, n),
		                 0);
		sig[5] ^= 0x40;
		assert_int_equal(tsso_jose_sig_verify_with(es, other, oc, shared_msg,
		                                           strlen(shared_msg), sig, n),
		                 -1);
		free(sig);
		EVP_PKEY_CTX_free(oc);
		EVP_PKEY_free(other);
	}
	EVP_PKEY_CTX_free(sh.key_ctx);
	EVP_PKEY_CTX_free(sh.rs_ready);
	EVP_PKEY_CTX_free(sh.ps_ready);
	EVP_PKEY_free(sh.rsa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ecdsa_der),  cmocka_unit_test(test_ecdsa_roundtrip),
	    cmocka_unit_test(test_pss_params), cmocka_unit_test(test_key_ctx),
	    cmocka_unit_test(test_ready),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
