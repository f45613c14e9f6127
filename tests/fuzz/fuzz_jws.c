/* Fuzz target: compact JWS parsing and verification against a fixed JWKS (RFC 7515 vectors' keys).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/jose.h"
#include "tsso/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The public keys of RFC 7515 §A.2 (RSA), §A.3 (P-256) and RFC 8037 §A.2
 * (Ed25519), so that corpus tokens reach a successful verification. */
static const char jwks_json[] =
    "{\"keys\":["
    "{\"kty\":\"RSA\",\"kid\":\"rsa\",\"e\":\"AQAB\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_"
    "wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-"
    "pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-"
    "KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"
    "DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

/* RFC 7515 §A.1 HMAC key, decoded. */
static const unsigned char hmac_key[] = {
    3,   35,  53, 75,  43,  15, 165, 188, 131, 126, 6,   101, 119, 123, 166, 143,
    90,  179, 40, 230, 240, 84, 201, 40,  169, 15,  132, 178, 210, 80,  46,  191,
    211, 251, 90, 146, 210, 6,  71,  239, 150, 138, 180, 195, 119, 98,  61,  34,
    61,  46,  33, 114, 5,   46, 79,  8,   192, 205, 154, 245, 103, 208, 128, 163};

static const char *const algs[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
                                   "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512", "none"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsso_err err = {0};
	struct tsso_jwks *jwks;
	struct tsso_jws *jws;
	char *token;

	if (size > TSSO_TOKEN_MAX + 16)
		return 0;
	token = malloc(size + 1);
	if (token == NULL)
		return 0;
	memcpy(token, data, size);
	token[size] = '\0';
	(void)tsso_jwe_looks_like(token);
	jws = tsso_jws_parse(token, &err);
	if (jws != NULL) {
		jwks = tsso_jwks_parse(jwks_json, strlen(jwks_json), &err);
		(void)tsso_jws_alg(jws);
		(void)tsso_jws_kid(jws);
		/* The verdict itself is not checked: the target looks for crashes,
		 * leaks and undefined behaviour on the way to it. */
		if (tsso_jws_verify(jws, jwks, algs, sizeof(algs) / sizeof(algs[0]), hmac_key,
		                    sizeof(hmac_key), &err) == 0)
			(void)tsso_jws_claims(jws);
		free(tsso_jose_half_hash(tsso_jws_alg(jws), token));
		tsso_jwks_free(jwks);
		tsso_jws_free(jws);
	}
	free(token);
	return 0;
}
