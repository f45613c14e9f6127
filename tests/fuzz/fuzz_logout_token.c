/* Fuzz target: logout token parsing and claim checks (src/oidc/logout_token.c).
 * Input starting with '{' is a claims object checked directly (signature
 * checks are jose's and fuzzed there); anything else is a compact JWS. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/oidc/oidc_int.h"
#include "tsso/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsso_logout_claims c = {0};
	struct tsso_err err = {0};
	struct tsso_jws *jws = NULL;
	json_t *claims = NULL, *header = NULL;
	char *s;

	if (size > TSSO_TOKEN_MAX)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (size > 0 && s[0] == '{') {
		claims = oidc_json_object(s, size);
		header = json_object();
	} else if ((jws = tsso_jws_parse(s, &err)) != NULL) {
		claims = json_incref(tsso_jws_claims(jws));
		header = json_incref(tsso_jws_header(jws));
	}
	if (claims != NULL && header != NULL &&
	    oidc_logout_check_claims(header, claims, "https://idp.example/t", "toucan-sso", 60,
	                             1800000000LL, &c, &err) == 0)
		tsso_logout_claims_free(&c);
	json_decref(claims);
	json_decref(header);
	tsso_jws_free(jws);
	free(s);
	return 0;
}
