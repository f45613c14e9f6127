/* Unit tests for src/jose signing: key loading and its refusals, sign -> verify for every alg. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/jose/jose_int.h"
#include "tsso/b64.h"
#include "tsso/jose.h"
#include "tsso/limits.h"

#define DATA TSSO_TEST_DATA "/jose/"

static const char *const all_algs[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                       "PS512", "ES256", "ES384", "ES512", "EdDSA",
                                       "HS256", "HS384", "HS512"};

/* A JWKS document holding the public JWK of each signer. */
static struct tsso_jwks *jwks_of_signers(struct tsso_signer **s, size_t n)
{
	json_t *keys = json_array(), *doc;
	struct tsso_err err = {0};
	struct tsso_jwks *jwks;
	char *txt;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(keys, tsso_signer_public_jwk(s[i]));
	doc = json_pack("{s:o}", "keys", keys);
	txt = json_dumps(doc, JSON_COMPACT);
	jwks = tsso_jwks_parse(txt, strlen(txt), &err);
	assert_non_null(jwks);
	free(txt);
	json_decref(doc);
	return jwks;
}

static json_t *decode_part(const char *tok, int index)
{
	const char *p = tok, *end;
	unsigned char *raw = NULL;
	size_t n = 0;
	json_t *j;

	for (int i = 0; i < index; i++)
		p = strchr(p, '.') + 1;
	end = strchr(p, '.');
	assert_int_equal(tsso_b64url_decode(p, (size_t)(end - p), &raw, &n), 0);
	j = json_loadb((char *)raw, n, 0, NULL);
	free(raw);
	assert_non_null(j);
	return j;
}

/* Sign with every alg, verify through the public JWK (kid = thumbprint). */
static void test_round_trip_every_alg(void **state)
{
	static const struct {
		const char *alg, *file;
		size_t sig_len; /* 0: RSA (modulus size) */
	} v[] = {
	    {"RS256", "rsa2048.pem", 256}, {"RS384", "rsa2048.pem", 256},
	    {"RS512", "rsa2048.pem", 256}, {"PS256", "rsa2048.pem", 256},
	    {"PS384", "rsa2048.pem", 256}, {"PS512", "rsa2048.pem", 256},
	    {"ES256", "p256.pem", 64},     {"ES384", "p384.pem", 96},
	    {"ES512", "p521.pem", 132},    {"EdDSA", "ed25519.pem", 64},
	};
	static const char secret[] =
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	(void)state;

	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		char path[512], *tok = NULL;
		struct tsso_err err = {0};
		struct tsso_signer *s;
		struct tsso_jwks *jwks;
		struct tsso_jws *jws;
		json_t *claims = json_pack("{s:s,s:i}", "sub", "alice", "exp", 1300819380);
		json_t *extra = json_pack("{s:s}", "cty", "JWT"), *jwk, *h;
		const char *one[] = {v[i].alg};
		unsigned char *sig = NULL;
		size_t sig_len = 0;

		snprintf(path, sizeof(path), DATA "%s", v[i].file);
		s = tsso_signer_load_pem(path, v[i].alg, NULL, &err);
		assert_non_null(s);
		assert_string_equal(tsso_signer_alg(s), v[i].alg);
		assert_int_equal(strlen(tsso_signer_kid(s)), 43); /* base64url SHA-256 */
		jwk = tsso_signer_public_jwk(s);
		assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
		assert_string_equal(json_string_value(json_object_get(jwk, "alg")), v[i].alg);
		assert_string_equal(json_string_value(json_object_get(jwk, "kid")),
		                    tsso_signer_kid(s));
		assert_null(json_object_get(jwk, "d"));
		json_decref(jwk);
		jwks = jwks_of_signers(&s, 1);
		assert_int_equal(tsso_jws_sign(s, "JWT", extra, claims, &tok, &err), 0);
		h = decode_part(tok, 0);
		assert_string_equal(json_string_value(json_object_get(h, "alg")), v[i].alg);
		assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
		assert_string_equal(json_string_value(json_object_get(h, "cty")), "JWT");
		assert_string_equal(json_string_value(json_object_get(h, "kid")),
		                    tsso_signer_kid(s));
		json_decref(h);
		assert_int_equal(tsso_b64url_decode(strrchr(tok, '.') + 1,
		                                    strlen(strrchr(tok, '.') + 1), &sig, &sig_len),
		                 0);
		assert_int_equal(sig_len, v[i].sig_len);
		free(sig);
		jws = tsso_jws_parse(tok, &err);
		assert_non_null(jws);
		assert_int_equal(tsso_jws_verify(jws, jwks, one, 1, NULL, 0, &err), 0);
		assert_int_equal(tsso_jws_verify(jws, jwks, all_algs, TSSO_ARRAY_LEN(all_algs),
		                                 secret, 64, &err),
		                 0);
		tsso_jws_free(jws);
		free(tok);
		json_decref(claims);
		json_decref(extra);
		tsso_jwks_free(jwks);
		tsso_signer_free(s);
	}
	/* HS256/384/512 with a shared secret. */
	for (size_t i = 10; i < 13; i++) {
		struct tsso_err err = {0};
		struct tsso_signer *s = tsso_signer_hmac(secret, 64, all_algs[i], &err);
		json_t *claims = json_pack("{s:s}", "sub", "bob");
		struct tsso_jws *jws;
		char *tok = NULL;

		assert_non_null(s);
		assert_null(tsso_signer_kid(s));
		assert_null(tsso_signer_public_jwk(s));
		assert_int_equal(tsso_jws_sign(s, NULL, NULL, claims, &tok, &err), 0);
		jws = tsso_jws_parse(tok, &err);
		assert_non_null(jws);
		assert_null(json_object_get(tsso_jws_header(jws), "typ"));
		assert_int_equal(tsso_jws_verify(jws, NULL, &all_algs[i], 1, secret, 64, &err), 0);
		/* Another secret of the same length. */
		assert_int_equal(tsso_jws_verify(jws, NULL, &all_algs[i], 1, secret + 1, 64, &err),
		                 -1);
		assert_string_equal(tsso_err_reason(&err), "jws.bad_signature");
		tsso_jws_free(jws);
		free(tok);
		json_decref(claims);
		tsso_signer_free(s);
	}
}

/* RFC 8037 §A.1-A.3: the public key and thumbprint of the example key. */
static void test_rfc8037_key(void **state)
{
	struct tsso_err err = {0};
	struct tsso_signer *s =
	    tsso_signer_load_pem(DATA "ed25519-rfc8037.pem", "EdDSA", NULL, &err);
	json_t *jwk;
	(void)state;

	assert_non_null(s);
	assert_string_equal(tsso_signer_kid(s), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
	jwk = tsso_signer_public_jwk(s);
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "OKP");
	assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "Ed25519");
	assert_string_equal(json_string_value(json_object_get(jwk, "x")),
	                    "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
	json_decref(jwk);
	tsso_signer_free(s);
	/* A configured kid wins over the thumbprint. */
	s = tsso_signer_load_pem(DATA "ed25519-rfc8037.pem", "EdDSA", "2026-11", &err);
	assert_string_equal(tsso_signer_kid(s), "2026-11");
	tsso_signer_free(s);
}

static void test_load_refusals(void **state)
{
	static const struct {
		const char *file, *alg, *kid, *reason;
	} v[] = {
	    {"rsa1024.pem", "RS256", NULL, "key.too_weak"},
	    {"rsa2048.pem", "ES256", NULL, "key.load_failed"}, /* RSA key for ES256 */
	    {"p256.pem", "ES384", NULL, "key.load_failed"},    /* curve must fit */
	    {"p256.pem", "RS256", NULL, "key.load_failed"},
	    {"ed25519.pem", "ES256", NULL, "key.load_failed"},
	    {"p256.pem", "EdDSA", NULL, "key.load_failed"},
	    {"secp256k1.pem", "ES256", NULL, "key.load_failed"}, /* unsupported curve */
	    {"rsa2048.pem", "HS256", NULL, "key.load_failed"},
	    {"rsa2048.pem", "none", NULL, "key.load_failed"},
	    {"rsa2048.pem", "RS1", NULL, "key.load_failed"},
	    {"rsa2048.pem", "RS256", "", "key.load_failed"},
	    {"rsa2048-encrypted.pem", "RS256", NULL, "key.load_failed"},
	    {"gen_jwe.py", "RS256", NULL, "key.load_failed"}, /* not PEM */
	    {"missing.pem", "RS256", NULL, "key.load_failed"},
	    {"", "RS256", NULL, "key.load_failed"}, /* the directory itself */
	};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		char path[512];
		struct tsso_err err = {0};

		snprintf(path, sizeof(path), DATA "%s", v[i].file);
		assert_null(tsso_signer_load_pem(path, v[i].alg, v[i].kid, &err));
		assert_string_equal(tsso_err_reason(&err), v[i].reason);
	}
}

/* A key file over TSSO_CFG_MAX_SECRET_FILE is not read at all. */
static void test_load_oversize(void **state)
{
	char path[] = "/tmp/tsso-jose-XXXXXX";
	int fd = mkstemp(path);
	char *buf = malloc(TSSO_CFG_MAX_SECRET_FILE + 1);
	FILE *f;
	struct tsso_err err = {0};
	size_t n;
	(void)state;

	assert_true(fd >= 0);
	f = fopen(DATA "rsa2048.pem", "rb");
	n = fread(buf, 1, TSSO_CFG_MAX_SECRET_FILE + 1, f);
	fclose(f);
	/* A valid key followed by padding up to one byte over the limit. */
	memset(buf + n, '\n', TSSO_CFG_MAX_SECRET_FILE + 1 - n);
	assert_int_equal(write(fd, buf, TSSO_CFG_MAX_SECRET_FILE + 1),
	                 TSSO_CFG_MAX_SECRET_FILE + 1);
	close(fd);
	assert_null(tsso_signer_load_pem(path, "RS256", NULL, &err));
	assert_string_equal(tsso_err_reason(&err), "key.load_failed");
	/* From memory too. */
	assert_null(tsso_signer_from_pem(buf, TSSO_CFG_MAX_SECRET_FILE + 1, "RS256", NULL, &err));
	assert_string_equal(tsso_err_reason(&err), "key.load_failed");
	/* At the limit it loads. */
	{
		struct tsso_signer *s =
		    tsso_signer_from_pem(buf, TSSO_CFG_MAX_SECRET_FILE, "RS256", NULL, &err);
		assert_non_null(s);
		tsso_signer_free(s);
	}
	unlink(path);
	free(buf);
}

static void test_hmac_signer_refusals(void **state)
{
	static const char secret[] =
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct tsso_err err = {0};
	(void)state;

	assert_null(tsso_signer_hmac(secret, 31, "HS256", &err));
	assert_string_equal(tsso_err_reason(&err), "key.too_weak");
	assert_null(tsso_signer_hmac(secret, 47, "HS384", &err));
	assert_string_equal(tsso_err_reason(&err), "key.too_weak");
	assert_null(tsso_signer_hmac(secret, 63, "HS512", &err));
	assert_string_equal(tsso_err_reason(&err), "key.too_weak");
	assert_null(tsso_signer_hmac(secret, 64, "RS256", &err));
	assert_string_equal(tsso_err_reason(&err), "key.load_failed");
	assert_null(tsso_signer_hmac(NULL, 64, "HS256", &err));
	assert_string_equal(tsso_err_reason(&err), "key.load_failed");
	tsso_signer_free(NULL);
	assert_null(tsso_signer_alg(NULL));
}

static void test_sign_refusals(void **state)
{
	struct tsso_err err = {0};
	struct tsso_signer *s = tsso_signer_load_pem(DATA "p256.pem", "ES256", "k1", &err);
	json_t *claims = json_pack("{s:s}", "sub", "x");
	json_t *bad_alg = json_pack("{s:s}", "alg", "none");
	json_t *bad_kid = json_pack("{s:s}", "kid", "other");
	json_t *big = json_object();
	json_t *arr = json_array();
	char *tok = (char *)"untouched";
	char filler[1024];
	(void)state;

	assert_non_null(s);
	assert_int_equal(tsso_jws_sign(s, "JWT", bad_alg, claims, &tok, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "sign.failed");
	assert_int_equal(tsso_jws_sign(s, "JWT", bad_kid, claims, &tok, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "sign.failed");
	assert_int_equal(tsso_jws_sign(s, "JWT", NULL, arr, &tok, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "sign.failed");
	assert_int_equal(tsso_jws_sign(s, "JWT", arr, claims, &tok, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "sign.failed");
	/* We never produce a token our own parser would refuse as too large. */
	memset(filler, 'a', sizeof(filler) - 1);
	filler[sizeof(filler) - 1] = '\0';
	for (int i = 0; i < 16; i++) {
		char name[16];

		snprintf(name, sizeof(name), "c%d", i);
		json_object_set_new(big, name, json_string(filler));
	}
	assert_int_equal(tsso_jws_sign(s, "JWT", NULL, big, &tok, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "sign.failed");
	assert_string_equal(tok, "untouched");
	json_decref(claims);
	json_decref(bad_alg);
	json_decref(bad_kid);
	json_decref(big);
	json_decref(arr);
	tsso_signer_free(s);
}

/* One parsed JWKS shared by several threads, each verifying many times. */
struct shared {
	const struct tsso_jwks *jwks;
	const char *tokens[3];
	int failures;
};

static void *verify_loop(void *arg)
{
	struct shared *sh = arg;
	static const char *const algs[] = {"RS256", "ES256", "EdDSA"};

	for (int i = 0; i < 150; i++) {
		struct tsso_err err = {0};
		struct tsso_jws *jws = tsso_jws_parse(sh->tokens[i % 3], &err);

		if (jws == NULL || tsso_jws_verify(jws, sh->jwks, algs, 3, NULL, 0, &err) != 0)
			__atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
		tsso_jws_free(jws);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct tsso_err err = {0};
	struct tsso_signer *s[3] = {
	    tsso_signer_load_pem(DATA "rsa2048.pem", "RS256", NULL, &err),
	    tsso_signer_load_pem(DATA "p256.pem", "ES256", NULL, &err),
	    tsso_signer_load_pem(DATA "ed25519.pem", "EdDSA", NULL, &err),
	};
	struct tsso_jwks *jwks = jwks_of_signers(s, 3);
	json_t *claims = json_pack("{s:s}", "sub", "t");
	struct shared sh = {.jwks = jwks};
	char *tok[3];
	pthread_t th[4];
	(void)state;

	for (int i = 0; i < 3; i++) {
		assert_int_equal(tsso_jws_sign(s[i], "JWT", NULL, claims, &tok[i], &err), 0);
		sh.tokens[i] = tok[i];
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, verify_loop, &sh), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(sh.failures, 0);
	for (int i = 0; i < 3; i++) {
		free(tok[i]);
		tsso_signer_free(s[i]);
	}
	json_decref(claims);
	tsso_jwks_free(jwks);
}

/* The DER reader behind ES* signatures: minimal positive INTEGERs only,
 * right-aligned and zero-padded to the coordinate length. */
static void test_ecdsa_der_reader(void **state)
{
	static const struct {
		const char *name;
		unsigned char der[16];
		size_t len;
		int ok;
		unsigned char raw[8]; /* coord_len 4 */
	} v[] = {
	    {"plain", {0x30, 6, 2, 1, 0x11, 2, 1, 0x22}, 8, 0, {0, 0, 0, 0x11, 0, 0, 0, 0x22}},
	    {"sign byte",
	     {0x30, 10, 2, 5, 0, 0x81, 2, 3, 4, 2, 1, 5},
	     12,
	     0,
	     {0x81, 2, 3, 4, 0, 0, 0, 5}},
	    {"full",
	     {0x30, 12, 2, 4, 1, 2, 3, 4, 2, 4, 5, 6, 7, 8},
	     14,
	     0,
	     {1, 2, 3, 4, 5, 6, 7, 8}},
	    {"too long", {0x30, 13, 2, 5, 1, 2, 3, 4, 5, 2, 4, 5, 6, 7, 8}, 15, -1, {0}},
	    {"non-minimal zero", {0x30, 7, 2, 2, 0, 0x11, 2, 1, 0x22}, 9, -1, {0}},
	    {"negative", {0x30, 6, 2, 1, 0x91, 2, 1, 0x22}, 8, -1, {0}},
	    {"empty integer", {0x30, 5, 2, 0, 2, 1, 0x22}, 7, -1, {0}},
	    {"trailing byte", {0x30, 7, 2, 1, 0x11, 2, 1, 0x22, 0}, 9, -1, {0}},
	    {"short sequence", {0x30, 5, 2, 1, 0x11, 2, 1, 0x22}, 8, -1, {0}},
	    {"not a sequence", {0x31, 6, 2, 1, 0x11, 2, 1, 0x22}, 8, -1, {0}},
	    {"not an integer", {0x30, 6, 4, 1, 0x11, 2, 1, 0x22}, 8, -1, {0}},
	    {"one integer", {0x30, 3, 2, 1, 0x11}, 5, -1, {0}},
	    {"long form too early", {0x30, 0x81, 6, 2, 1, 0x11, 2, 1, 0x22}, 9, -1, {0}},
	    {"truncated", {0x30}, 1, -1, {0}},
	};
	(void)state;

	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		unsigned char out[8] = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee};

		print_message("%s\n", v[i].name);
		assert_int_equal(tsso_jose_ecdsa_der_to_raw(v[i].der, v[i].len, 4, out), v[i].ok);
		if (v[i].ok == 0)
			assert_memory_equal(out, v[i].raw, 8);
	}
	/* P-521: 66-byte coordinates, the long-form sequence length. */
	{
		unsigned char der[3 + 2 * (2 + 67)], out[132];
		size_t o = 0;
		der[o++] = 0x30;
		der[o++] = 0x81;
		der[o++] = 2 * (2 + 67);
		for (int k = 0; k < 2; k++) {
			der[o++] = 2;
			der[o++] = 67;
			der[o++] = 0;
			der[o++] = 0x81;
			memset(der + o, k + 1, 65);
			o += 65;
		}
		assert_int_equal(tsso_jose_ecdsa_der_to_raw(der, o, 66, out), 0);
		assert_int_equal(out[0], 0x81);
		assert_int_equal(out[65], 1);
		assert_int_equal(out[66], 0x81);
		assert_int_equal(out[131], 2);
		/* One byte more than the curve allows. */
		assert_int_equal(tsso_jose_ecdsa_der_to_raw(der, o, 65, out), -1);
	}
}

/* The path the embed tokens take: a header built once, then many payloads
 * signed with it; every ES* signature (R and S with and without leading
 * zero bytes, over many draws) verifies, and the header is exactly
 * {"alg","typ","kid"}. */
static void test_compact_sign(void **state)
{
	static const struct {
		const char *alg, *file;
		int n;
	} v[] = {
	    {"ES256", "p256.pem", 300},  {"ES384", "p384.pem", 60},   {"ES512", "p521.pem", 30},
	    {"EdDSA", "ed25519.pem", 5}, {"RS256", "rsa2048.pem", 3}, {"PS256", "rsa2048.pem", 3},
	};
	(void)state;

	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		char path[512], want[256], *hdr;
		struct tsso_err err = {0};
		struct tsso_signer *s;
		struct tsso_jwks *jwks;
		const char *one[] = {v[i].alg};
		unsigned char *raw = NULL;
		size_t n = 0;

		snprintf(path, sizeof(path), DATA "%s", v[i].file);
		s = tsso_signer_load_pem(path, v[i].alg, "kid-1", &err);
		assert_non_null(s);
		jwks = jwks_of_signers(&s, 1);
		hdr = tsso_signer_header_b64(s, "JWT");
		assert_non_null(hdr);
		assert_int_equal(tsso_b64url_decode(hdr, strlen(hdr), &raw, &n), 0);
		snprintf(want, sizeof(want), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"kid-1\"}",
		         v[i].alg);
		assert_string_equal((char *)raw, want);
		free(raw);
		for (int k = 0; k < v[i].n; k++) {
			char payload[64], *tok = NULL;
			struct tsso_jws *jws;
			int len = snprintf(payload, sizeof(payload), "{\"n\":%d}", k);

			assert_int_equal(
			    tsso_jws_compact_sign(s, hdr, payload, (size_t)len, &tok, &err), 0);
			assert_int_equal(strncmp(tok, hdr, strlen(hdr)), 0);
			jws = tsso_jws_parse(tok, &err);
			assert_non_null(jws);
			assert_int_equal(tsso_jws_verify(jws, jwks, one, 1, NULL, 0, &err), 0);
			assert_int_equal(
			    json_integer_value(json_object_get(tsso_jws_claims(jws), "n")), k);
			tsso_jws_free(jws);
			free(tok);
		}
		free(hdr);
		tsso_jwks_free(jwks);
		tsso_signer_free(s);
	}
}

static void test_compact_sign_refusals(void **state)
{
	struct tsso_err err = {0};
	struct tsso_signer *s = tsso_signer_load_pem(DATA "p256.pem", "ES256", "k", &err);
	char *hdr, *tok = (char *)"untouched", *big;
	(void)state;

	assert_non_null(s);
	hdr = tsso_signer_header_b64(s, "JWT");
	assert_non_null(hdr);
	assert_null(tsso_signer_header_b64(NULL, "JWT"));
	assert_int_equal(tsso_jws_compact_sign(NULL, hdr, "{}", 2, &tok, &err), -1);
	assert_string_equal(err.reason, "sign.failed");
	assert_int_equal(tsso_jws_compact_sign(s, NULL, "{}", 2, &tok, &err), -1);
	assert_int_equal(tsso_jws_compact_sign(s, hdr, NULL, 0, &tok, &err), -1);
	assert_int_equal(tsso_jws_compact_sign(s, hdr, "{}", 2, NULL, &err), -1);
	/* Our own token size limit holds for what we make. */
	big = malloc(TSSO_TOKEN_MAX);
	assert_non_null(big);
	memset(big, 'a', TSSO_TOKEN_MAX);
	assert_int_equal(tsso_jws_compact_sign(s, hdr, big, TSSO_TOKEN_MAX * 3 / 4, &tok, &err),
	                 -1);
	assert_string_equal(err.reason, "sign.failed");
	assert_string_equal(tok, "untouched");
	assert_int_equal(
	    tsso_jws_compact_sign(s, hdr, big, TSSO_TOKEN_MAX * 3 / 4 - 200, &tok, &err), 0);
	assert_true(strlen(tok) <= TSSO_TOKEN_MAX);
	free(tok);
	free(big);
	free(hdr);
	tsso_signer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_every_alg),
	    cmocka_unit_test(test_rfc8037_key),
	    cmocka_unit_test(test_load_refusals),
	    cmocka_unit_test(test_load_oversize),
	    cmocka_unit_test(test_hmac_signer_refusals),
	    cmocka_unit_test(test_sign_refusals),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_ecdsa_der_reader),
	    cmocka_unit_test(test_compact_sign),
	    cmocka_unit_test(test_compact_sign_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
