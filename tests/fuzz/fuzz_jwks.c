/* Fuzz target: JWK Set parsing (one EVP_PKEY per key) and a verification against the parsed set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/jose.h"
#include "tsso/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 7515 §A.3 (ES256), verified against whatever set the input yields. */
static const char token[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cn"
    "VlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const algs[] = {"ES256", "RS256", "EdDSA"};
	struct tsso_err err = {0};
	struct tsso_jwks *jwks;
	struct tsso_jws *jws;

	jwks = tsso_jwks_parse((const char *)data, size, &err);
	if (jwks == NULL)
		return 0;
	(void)tsso_jwks_count(jwks);
	(void)tsso_jwks_has_kid(jwks, "1");
	jws = tsso_jws_parse(token, &err);
	if (jws != NULL && tsso_jws_verify(jws, jwks, algs, 3, NULL, 0, &err) == 0)
		(void)tsso_jws_claims(jws);
	tsso_jws_free(jws);
	tsso_jwks_free(jwks);
	return 0;
}
