/* Compact JWS parsing (RFC 7515 §7.1, §5.2): strict, bounded, verifies nothing yet. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jose_int.h"
#include "tsso/b64.h"
#include "tsso/jose.h"
#include "tsso/json.h"
#include "tsso/limits.h"

void tsso_jws_free(struct tsso_jws *jws)
{
	if (jws == NULL)
		return;
	free(jws->input);
	free(jws->sig);
	json_decref(jws->header);
	json_decref(jws->claims);
	free(jws);
}

const char *tsso_jws_alg(const struct tsso_jws *jws)
{
	return jws != NULL ? jws->alg : NULL;
}

const char *tsso_jws_kid(const struct tsso_jws *jws)
{
	return jws != NULL ? jws->kid : NULL;
}

json_t *tsso_jws_header(const struct tsso_jws *jws)
{
	return jws != NULL ? jws->header : NULL;
}

json_t *tsso_jws_claims(const struct tsso_jws *jws)
{
	return jws != NULL ? jws->claims : NULL;
}

/* Decode one base64url part and parse it as a JSON object; duplicate member
 * names are refused (RFC 7515 §5.2 step 4 and RFC 7519 §4: a parser that
 * keeps the last or the first member would let two readers disagree). */
static json_t *part_json(const char *s, size_t len, const char *what, struct tsso_err *err)
{
	unsigned char *raw = NULL;
	size_t n = 0;
	struct tsso_err jerr = {0};
	json_t *obj;

	if (len == 0 || tsso_b64url_decode(s, len, &raw, &n) < 0) {
		tsso_err_set(err, "jws.malformed", "JWS %s is not base64url", what);
		return NULL;
	}
	obj = tsso_json_parse((const char *)raw, n, &jerr);
	free(raw);
	if (obj == NULL) {
		if (strcmp(tsso_err_reason(&jerr), "json.duplicate_member") == 0)
			tsso_err_set(err, "jws.duplicate_member", "JWS %s has a duplicate member",
			             what);
		else
			tsso_err_set(err, "jws.malformed", "JWS %s is not JSON", what);
		return NULL;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		tsso_err_set(err, "jws.malformed", "JWS %s is not a JSON object", what);
		return NULL;
	}
	return obj;
}

/* RFC 7515 §4.1: checks on the protected header that do not need a key. */
static int header_check(struct tsso_jws *jws, struct tsso_err *err)
{
	json_t *alg = json_object_get(jws->header, "alg");
	json_t *kid = json_object_get(jws->header, "kid");

	if (!json_is_string(alg))
		return tsso_err_set(err, "jws.malformed", "JWS header alg missing or not a string");
	/* RFC 7518 §3.6: unsecured JWS is never accepted, whatever the spelling. */
	if (strcasecmp(json_string_value(alg), "none") == 0)
		return tsso_err_set(err, "jws.alg_none", "JWS alg none refused");
	/* RFC 7515 §4.1.11: we understand no extension, so any "crit" is fatal.
	 * RFC 7797 "b64" changes what is signed and is only valid with crit. */
	if (json_object_get(jws->header, "crit") != NULL ||
	    json_object_get(jws->header, "b64") != NULL)
		return tsso_err_set(err, "jws.crit_unsupported",
		                    "JWS header crit/b64 not supported");
	if (kid != NULL && (!json_is_string(kid) || json_string_length(kid) > TSSO_JWK_KID_MAX ||
	                    strlen(json_string_value(kid)) != json_string_length(kid)))
		return tsso_err_set(err, "jws.malformed", "JWS header kid is not a valid string");
	jws->alg = json_string_value(alg);
	jws->kid = kid != NULL ? json_string_value(kid) : NULL;
	return 0;
}

struct tsso_jws *tsso_jws_parse(const char *compact, struct tsso_err *err)
{
	struct tsso_jws *jws = NULL;
	const char *d1, *d2;
	size_t len;

	if (compact == NULL)
		goto malformed;
	len = strnlen(compact, TSSO_TOKEN_MAX + 1);
	if (len > TSSO_TOKEN_MAX) {
		tsso_err_set(err, "jws.too_large", "JWS longer than %d bytes", TSSO_TOKEN_MAX);
		return NULL;
	}
	/* RFC 7515 §7.1: exactly three parts, two dots. */
	d1 = memchr(compact, '.', len);
	d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - compact)) : NULL;
	if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - compact)) != NULL)
		goto malformed;
	jws = calloc(1, sizeof(*jws));
	if (jws == NULL)
		goto malformed;
	jws->header = part_json(compact, (size_t)(d1 - compact), "header", err);
	if (jws->header == NULL || header_check(jws, err) < 0)
		goto fail;
	jws->claims = part_json(d1 + 1, (size_t)(d2 - d1 - 1), "payload", err);
	if (jws->claims == NULL)
		goto fail;
	if (json_object_size(jws->claims) > TSSO_TOKEN_MAX_CLAIMS) {
		tsso_err_set(err, "jws.too_large", "JWS with more than %d claims",
		             TSSO_TOKEN_MAX_CLAIMS);
		goto fail;
	}
	/* The signature is never empty: only "none" has an empty one. */
	if ((size_t)(compact + len - d2 - 1) == 0 ||
	    tsso_b64url_decode(d2 + 1, (size_t)(compact + len - d2 - 1), &jws->sig, &jws->sig_len) <
	        0) {
		tsso_err_set(err, "jws.malformed", "JWS signature is not base64url");
		goto fail;
	}
	/* RFC 7515 §5.2 step 8: the signing input is the ASCII of the first two parts. */
	jws->input_len = (size_t)(d2 - compact);
	jws->input = strndup(compact, jws->input_len);
	if (jws->input == NULL) {
		tsso_err_set(err, "jws.malformed", "out of memory");
		goto fail;
	}
	return jws;
malformed:
	tsso_err_set(err, "jws.malformed", "not a compact JWS (three base64url parts)");
fail:
	tsso_jws_free(jws);
	return NULL;
}
