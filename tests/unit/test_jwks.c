/* Unit tests for src/jose JWK Set parsing: what is kept, what is skipped, what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/jose/jose_int.h"
#include "tsso/jose.h"
#include "tsso/limits.h"

/* RFC 7517 §A.1 keys (the RSA one is also RFC 7638 §3.1's). */
#define RFC_EC                                                                                     \
	"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\"," \
	"\"y\":"                                                                                   \
	"\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\",\"use\":\"enc\",\"kid\":\"1\"}"
#define RFC_RSA_N                                                                                  \
	"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"  \
	"BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_" \
	"FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"        \
	"bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
/* The same modulus with its last bit cleared ("w" -> "g"): even. */
#define RFC_RSA_N_EVEN                                                                             \
	"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"  \
	"BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_" \
	"FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"        \
	"bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgg"
#define RFC_RSA                                                                                    \
	"{\"kty\":\"RSA\",\"n\":\"" RFC_RSA_N                                                      \
	"\",\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}"
#define ED_KEY                                                                                     \
	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_"                              \
	"7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"
/* RFC 7515 §A.3 P-256 public key. */
#define P256_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define P256_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"

static struct tsso_jwks *parse(const char *s, struct tsso_err *err)
{
	return tsso_jwks_parse(s, strlen(s), err);
}

/* Kept keys, and keys skipped without failing the set. */
static void test_skips(void **state)
{
	static const struct {
		const char *key;
		size_t kept; /* 0 or 1 */
	} v[] = {
	    {RFC_RSA, 1},
	    {RFC_EC, 0}, /* use "enc" */
	    {ED_KEY, 1},
	    {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y "\"}", 1},
	    {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y
	     "\",\"use\":\"sig\",\"key_ops\":[\"verify\"]}",
	     1},
	    {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y
	     "\",\"key_ops\":[\"encrypt\"]}",
	     0},
	    {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y
	     "\",\"key_ops\":\"verify\"}",
	     0},
	    {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y
	     "\",\"use\":\"sig\",\"alg\":\"ES384\"}",
	     0}, /* alg does not fit the curve */
	    {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y
	     "\",\"alg\":\"ECDH-ES\"}",
	     0}, /* an encryption alg */
	    {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y
	     "\",\"kid\":5}",
	     0},
	    {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y
	     "\",\"kid\":\"\"}",
	     0},
	    {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y
	     "\",\"use\":5}",
	     0},
	    {"{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y "\"}", 0},
	    {"{\"kty\":\"EC\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y "\"}", 0},
	    {"{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr8\"}", 0},
	    {"{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"11qYAYKxCrfVS_"
	     "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
	     0},
	    {"{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"11qYAYKxCrfVS_"
	     "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
	     0},
	    {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_"
	     "7TyWQHOg7hcvPapiMlrwIaaPcHUR\"}",
	     0}, /* 31 bytes */
	    {"{\"kty\":\"PQC\",\"x\":\"AA\"}", 0},
	    {"{\"n\":\"" RFC_RSA_N "\",\"e\":\"AQAB\"}", 0},                      /* no kty */
	    {"{\"kty\":\"RSA\",\"n\":\"" RFC_RSA_N "\",\"e\":\"AQ\"}", 0},        /* e = 1 */
	    {"{\"kty\":\"RSA\",\"n\":\"" RFC_RSA_N "\",\"e\":\"AQA\"}", 0},       /* e even */
	    {"{\"kty\":\"RSA\",\"n\":\"" RFC_RSA_N_EVEN "\",\"e\":\"AQAB\"}", 0}, /* n even */
	    {"{\"kty\":\"RSA\",\"n\":\"" RFC_RSA_N "\"}", 0},
	    {"{\"kty\":\"RSA\",\"n\":\"" RFC_RSA_N "=\",\"e\":\"AQAB\"}", 0}, /* padded */
	    {"\"a string\"", 0},
	};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		char buf[4096];
		struct tsso_err err = {0};
		struct tsso_jwks *jwks;

		/* Alone: kept, or the set is empty. */
		snprintf(buf, sizeof(buf), "{\"keys\":[%s]}", v[i].key);
		jwks = parse(buf, &err);
		if (v[i].kept) {
			assert_non_null(jwks);
			assert_int_equal(tsso_jwks_count(jwks), 1);
		} else {
			assert_null(jwks);
			assert_string_equal(tsso_err_reason(&err), "jwks.empty");
		}
		tsso_jwks_free(jwks);
		/* Next to a good key: never fatal. */
		snprintf(buf, sizeof(buf), "{\"keys\":[%s,%s]}", v[i].key, ED_KEY);
		jwks = parse(buf, &err);
		assert_non_null(jwks);
		assert_int_equal(tsso_jwks_count(jwks), 1 + v[i].kept);
		tsso_jwks_free(jwks);
	}
}

/* Invalid keys of supported types: skipped, and the reason is in the text. */
static void test_invalid_keys(void **state)
{
	static const struct {
		const char *key, *why;
	} v[] = {
	    /* y changed in its last byte: the point is not on P-256. */
	    {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X
	     "\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4\"}",
	     "not on curve"},
	    /* x of 31 bytes (RFC 7518 §6.2.1.2: the full coordinate size). */
	    {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":"
	     "\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE\",\"y\":"
	     "\"" P256_Y "\"}",
	     "32 bytes"},
	    /* P-256 coordinates presented as P-384. */
	    {"{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y "\"}",
	     "48 bytes"},
	    /* The 1024-bit key of tests/unit/data/jose/rsa1024.pem. */
	    {"{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"o_5pd_MCi1Bi0JSzy6nNK_DAtlBI1aWQC78_"
	     "tNKudqc8KkWVmrFTAmBK64bb14VHXOj1s_DrzOHPhN1Y_abBBKwzOo7wfMC-h00j3PYDiVr1PZwRj2Q_"
	     "rC2gARAUN9y-Ci_uJ_KZ6ZY11BHTa9zheyWIGIBZXLNguW1UYnFtu7s\"}",
	     "1024 bits"},
	};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		char buf[4096];
		struct tsso_err err = {0};

		snprintf(buf, sizeof(buf), "{\"keys\":[%s]}", v[i].key);
		assert_null(parse(buf, &err));
		assert_string_equal(tsso_err_reason(&err), "jwks.empty");
		assert_non_null(strstr(err.msg, v[i].why));
	}
}

static void test_document_refusals(void **state)
{
	static const struct {
		const char *doc, *reason;
	} v[] = {
	    {"", "jwks.malformed"},
	    {"[]", "jwks.malformed"},
	    {"{}", "jwks.malformed"},
	    {"{\"keys\":{}}", "jwks.malformed"},
	    {"{\"keys\":[]}", "jwks.empty"},
	    {"{\"keys\":[" ED_KEY "],\"keys\":[]}", "jwks.malformed"}, /* duplicate member */
	    {"{\"keys\":[{\"kty\":\"OKP\",\"kty\":\"RSA\",\"crv\":\"Ed25519\",\"x\":"
	     "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}",
	     "jwks.malformed"},
	    {"{\"keys\":[" ED_KEY "]} trailing", "jwks.malformed"},
	};
	struct tsso_err err = {0};
	struct tsso_jwks *jwks;
	char *big;
	size_t o = 0;
	(void)state;

	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		tsso_err_clear(&err);
		assert_null(parse(v[i].doc, &err));
		assert_string_equal(tsso_err_reason(&err), v[i].reason);
	}
	assert_null(tsso_jwks_parse(NULL, 0, &err));
	/* TSSO_JWKS_MAX_KEYS + 1 keys. */
	big = malloc(16384);
	o += (size_t)snprintf(big + o, 16384 - o, "{\"keys\":[");
	for (int i = 0; i <= TSSO_JWKS_MAX_KEYS; i++)
		o += (size_t)snprintf(big + o, 16384 - o, "%s" ED_KEY, i ? "," : "");
	snprintf(big + o, 16384 - o, "]}");
	assert_null(parse(big, &err));
	assert_string_equal(tsso_err_reason(&err), "jwks.too_many_keys");
	free(big);
	/* Over TSSO_OUT_MAX_JWKS bytes, refused before parsing. */
	big = calloc(1, TSSO_OUT_MAX_JWKS + 2);
	memset(big, ' ', TSSO_OUT_MAX_JWKS + 1);
	memcpy(big, "{\"keys\":[" ED_KEY "]}", strlen("{\"keys\":[" ED_KEY "]}"));
	assert_null(tsso_jwks_parse(big, TSSO_OUT_MAX_JWKS + 1, &err));
	assert_string_equal(tsso_err_reason(&err), "jwks.malformed");
	/* Exactly at the limit it parses (trailing whitespace is fine JSON). */
	jwks = tsso_jwks_parse(big, TSSO_OUT_MAX_JWKS, &err);
	assert_non_null(jwks);
	tsso_jwks_free(jwks);
	free(big);
}

/* RFC 7638 §3.1 and RFC 8037 §A.3 thumbprints. */
static void test_thumbprints(void **state)
{
	static const struct {
		const char *key, *thumb;
	} v[] = {
	    {RFC_RSA, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
	    {ED_KEY, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		char buf[4096], *t;
		struct tsso_err err = {0};
		struct tsso_jwks *jwks;

		snprintf(buf, sizeof(buf), "{\"keys\":[%s]}", v[i].key);
		jwks = parse(buf, &err);
		assert_non_null(jwks);
		t = tsso_jose_pkey_thumbprint(jwks->keys[0].pkey);
		assert_string_equal(t, v[i].thumb);
		free(t);
		tsso_jwks_free(jwks);
	}
}

static void test_lookup(void **state)
{
	static const char doc[] = "{\"keys\":[" RFC_RSA "," RFC_EC "," ED_KEY "]}";
	struct tsso_err err = {0};
	struct tsso_jwks *jwks = parse(doc, &err);
	(void)state;

	assert_non_null(jwks);
	assert_int_equal(tsso_jwks_count(jwks), 2);
	assert_true(tsso_jwks_has_kid(jwks, "2011-04-29"));
	assert_false(tsso_jwks_has_kid(jwks, "1")); /* the enc key was skipped */
	assert_false(tsso_jwks_has_kid(jwks, NULL));
	assert_false(tsso_jwks_has_kid(NULL, "x"));
	assert_int_equal(tsso_jwks_count(NULL), 0);
	tsso_jwks_free(jwks);
	tsso_jwks_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_skips),
	    cmocka_unit_test(test_invalid_keys),
	    cmocka_unit_test(test_document_refusals),
	    cmocka_unit_test(test_thumbprints),
	    cmocka_unit_test(test_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
