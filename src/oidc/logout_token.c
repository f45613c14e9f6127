/* Back-channel logout token validation (OpenID Connect Back-Channel Logout 1.0 §2.4, §2.6). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oidc_int.h"
#include "tsso/limits.h"

void tsso_logout_claims_free(struct tsso_logout_claims *c)
{
	if (c == NULL)
		return;
	free(c->iss);
	free(c->sub);
	free(c->sid);
	free(c->jti);
	memset(c, 0, sizeof(*c));
}

/* A present string claim: NULL when absent; -1 when of another type or too long. */
static int opt_str(const json_t *claims, const char *name, const char **ret)
{
	json_t *v = json_object_get(claims, name);

	*ret = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > TSSO_CLAIM_SUB_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*ret = json_string_value(v);
	return 0;
}

int oidc_logout_check_claims(const json_t *header, const json_t *claims, const char *issuer,
                             const char *client_id, long leeway, long long now,
                             struct tsso_logout_claims *ret, struct tsso_err *err)
{
	const struct oidc_reasons *r = &oidc_logout_token_reasons;
	const char *typ = oidc_json_str(header, "typ");
	const char *sub, *sid, *jti;
	json_t *events, *ev;
	long long iat, exp = 0;
	struct tsso_logout_claims c = {0};

	/* §2.4: explicit typing "logout+jwt" (media type with or without the
	 * "application/" prefix); a token typed as something else (an access
	 * token, an ID token from elsewhere) is not a logout token. */
	if (json_object_get(header, "typ") != NULL) {
		if (typ == NULL ||
		    (strcasecmp(typ, "logout+jwt") != 0 &&
		     strcasecmp(typ, "application/logout+jwt") != 0 && strcasecmp(typ, "JWT") != 0))
			return tsso_err_set(err, r->malformed, "typ is not logout+jwt");
	}
	/* §2.6 step 3: iss, aud, iat (and exp when present) as for ID tokens. */
	if (oidc_check_common(claims, issuer, client_id, leeway, now, false, r, err) != 0)
		return -1;
	if (oidc_json_time(json_object_get(claims, "iat"), &iat) != 0)
		return tsso_err_set(err, r->iat_missing, "iat is missing");
	/* A bounded acceptance window bounds how long the caller must remember
	 * each jti for replay detection. */
	if (iat + TSSO_LOGOUT_TOKEN_MAX_AGE + leeway < now)
		return tsso_err_set(err, "logout_token.too_old", "the logout token is too old");
	if (json_object_get(claims, "exp") != NULL &&
	    oidc_json_time(json_object_get(claims, "exp"), &exp) != 0)
		return tsso_err_set(err, r->malformed, "exp is not a number");
	/* §2.4: jti REQUIRED (replay detection is the caller's, with this value). */
	if (opt_str(claims, "jti", &jti) != 0 || jti == NULL)
		return tsso_err_set(err, "logout_token.jti_missing", "jti is missing");
	/* §2.6 step 5: events is an object with the back-channel logout member,
	 * whose value is a JSON object. */
	events = json_object_get(claims, "events");
	ev = json_object_get(events, OIDC_BCL_EVENT);
	if (!json_is_object(events) || !json_is_object(ev))
		return tsso_err_set(err, "logout_token.events_missing",
		                    "the back-channel logout event is missing");
	/* §2.6 step 6: sub, sid or both. */
	if (opt_str(claims, "sub", &sub) != 0 || opt_str(claims, "sid", &sid) != 0)
		return tsso_err_set(err, r->malformed, "sub or sid is not a string");
	if (sub == NULL && sid == NULL)
		return tsso_err_set(err, "logout_token.sub_sid_missing", "neither sub nor sid");
	/* §2.6 step 7: a nonce is forbidden, so an ID token is never accepted
	 * as a logout token. */
	if (json_object_get(claims, "nonce") != NULL)
		return tsso_err_set(err, "logout_token.nonce_present", "a nonce is present");
	c.iss = strdup(issuer);
	c.jti = strdup(jti);
	c.sub = sub != NULL ? strdup(sub) : NULL;
	c.sid = sid != NULL ? strdup(sid) : NULL;
	c.exp = iat + TSSO_LOGOUT_TOKEN_MAX_AGE + leeway;
	if (exp != 0 && exp + leeway < c.exp)
		c.exp = exp + leeway;
	if (c.iss == NULL || c.jti == NULL || (sub != NULL && c.sub == NULL) ||
	    (sid != NULL && c.sid == NULL)) {
		tsso_logout_claims_free(&c);
		return tsso_err_set(err, "oidc.internal", "out of memory");
	}
	*ret = c;
	return 0;
}

int tsso_idp_validate_logout_token(struct tsso_idp *idp, const char *token, long long now,
                                   struct tsso_logout_claims *ret, struct tsso_err *err)
{
	struct oidc_meta *meta = NULL;
	struct tsso_jws *jws = NULL;
	int rc = -1;

	if (token == NULL || token[0] == '\0') {
		tsso_err_set(err, "logout_token.malformed", "no logout_token");
		goto out;
	}
	if (oidc_meta_get(idp, now, &meta, err) != 0)
		goto out;
	/* §2.6 steps 1-2: decrypt if encrypted, then signature and alg exactly
	 * as for ID tokens. */
	if (oidc_jwt_verify(idp, meta, token, now, &oidc_logout_token_reasons, &jws, err) != 0)
		goto out;
	rc = oidc_logout_check_claims(tsso_jws_header(jws), tsso_jws_claims(jws), meta->issuer,
	                              idp->cfg->client_id, idp->leeway, now, ret, err);
out:
	tsso_jws_free(jws);
	oidc_meta_unref(meta);
	return rc;
}
