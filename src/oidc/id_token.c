/* ID token validation (OpenID Connect Core 1.0 §3.1.3.7) and the JWT checks shared with UserInfo
 * and logout tokens. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oidc_int.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

const struct oidc_reasons oidc_id_token_reasons = {
    .malformed = "id_token.malformed",
    .alg_not_allowed = "id_token.alg_not_allowed",
    .bad_signature = "id_token.bad_signature",
    .kid_unknown = "id_token.kid_unknown",
    .ambiguous_key = "id_token.ambiguous_key",
    .no_matching_key = "id_token.no_matching_key",
    .decrypt_failed = "id_token.decrypt_failed",
    .iss_mismatch = "id_token.iss_mismatch",
    .aud_mismatch = "id_token.aud_mismatch",
    .azp_mismatch = "id_token.azp_mismatch",
    .exp_missing = "id_token.exp_missing",
    .expired = "id_token.expired",
    .iat_missing = "id_token.iat_missing",
    .iat_future = "id_token.iat_future",
    .nbf_future = "id_token.nbf_future",
};

const struct oidc_reasons oidc_logout_token_reasons = {
    .malformed = "logout_token.malformed",
    .alg_not_allowed = "logout_token.alg_not_allowed",
    .bad_signature = "logout_token.bad_signature",
    .kid_unknown = "logout_token.kid_unknown",
    .ambiguous_key = "logout_token.ambiguous_key",
    .no_matching_key = "logout_token.no_matching_key",
    .decrypt_failed = "logout_token.decrypt_failed",
    .iss_mismatch = "logout_token.iss_mismatch",
    .aud_mismatch = "logout_token.aud_mismatch",
    .azp_mismatch = "logout_token.azp_mismatch",
    .exp_missing = "logout_token.exp_missing",
    .expired = "logout_token.expired",
    .iat_missing = "logout_token.iat_missing",
    .iat_future = "logout_token.iat_future",
    .nbf_future = "logout_token.nbf_future",
};

/* UserInfo failures all end the login the same way; the text says which check. */
const struct oidc_reasons oidc_userinfo_reasons = {
    .malformed = "userinfo.failed",
    .alg_not_allowed = "userinfo.failed",
    .bad_signature = "userinfo.failed",
    .kid_unknown = "userinfo.failed",
    .ambiguous_key = "userinfo.failed",
    .no_matching_key = "userinfo.failed",
    .decrypt_failed = "userinfo.failed",
    .iss_mismatch = "userinfo.failed",
    .aud_mismatch = "userinfo.failed",
    .azp_mismatch = "userinfo.failed",
    .exp_missing = "userinfo.failed",
    .expired = "userinfo.failed",
    .iat_missing = "userinfo.failed",
    .iat_future = "userinfo.failed",
    .nbf_future = "userinfo.failed",
};

/* Asymmetric algorithms allowed by default (never none; HS* only on request). */
static const char *const safe_algs[] = {
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
};
static const char *const hmac_algs[] = {"HS256", "HS384", "HS512"};

size_t oidc_allowed_algs(const struct tsso_idp *idp, const struct oidc_meta *meta,
                         const char **algs)
{
	const struct tsso_tenant_cfg *c = idp->cfg;
	bool hmac = c->allow_hmac_id_token && c->client_secret.value != NULL;
	size_t n = 0;

	if (c->id_token_algs.n > 0) {
		/* The tenant's explicit list, still within what is safe. */
		for (size_t i = 0; i < c->id_token_algs.n && n < 16; i++) {
			const char *a = c->id_token_algs.v[i];

			if (oidc_list_has(safe_algs, TSSO_ARRAY_LEN(safe_algs), a) ||
			    (hmac && oidc_list_has(hmac_algs, TSSO_ARRAY_LEN(hmac_algs), a)))
				algs[n++] = a;
		}
		return n;
	}
	if (meta == NULL || !meta->algs_advertised) {
		/* OIDC Core §3.1.3.7 step 7: RS256 is the default. */
		algs[n++] = "RS256";
		return n;
	}
	for (size_t i = 0; i < meta->n_algs && n < 16; i++) {
		const char *a = meta->algs[i];

		if (oidc_list_has(safe_algs, TSSO_ARRAY_LEN(safe_algs), a) ||
		    (hmac && oidc_list_has(hmac_algs, TSSO_ARRAY_LEN(hmac_algs), a)))
			algs[n++] = a;
	}
	return n;
}

static int map_jws_error(const struct tsso_err *jerr, const struct oidc_reasons *r,
                         struct tsso_err *err)
{
	const char *j = tsso_err_reason(jerr);
	const char *reason = r->malformed;

	if (strcmp(j, "jws.alg_none") == 0 || strcmp(j, "jws.alg_not_allowed") == 0)
		reason = r->alg_not_allowed;
	else if (strcmp(j, "jws.bad_signature") == 0)
		reason = r->bad_signature;
	else if (strcmp(j, "jws.kid_unknown") == 0)
		reason = r->kid_unknown;
	else if (strcmp(j, "jws.ambiguous_key") == 0)
		reason = r->ambiguous_key;
	else if (strcmp(j, "jws.no_matching_key") == 0)
		reason = r->no_matching_key;
	return tsso_err_set(err, reason, "%s", jerr->msg);
}

int oidc_jwt_verify(struct tsso_idp *idp, const struct oidc_meta *meta, const char *token,
                    long long now, const struct oidc_reasons *r, struct tsso_jws **ret,
                    struct tsso_err *err)
{
	const char *algs[16];
	size_t n_algs = oidc_allowed_algs(idp, meta, algs);
	struct tsso_jws *jws = NULL;
	struct oidc_keys *keys = NULL, *fresh = NULL;
	struct tsso_err jerr = {0};
	char *plain = NULL;
	const char *compact = token;
	const char *secret = idp->cfg->client_secret.value;
	size_t secret_len = secret != NULL ? idp->cfg->client_secret.len : 0;
	int rc = -1;

	if (token == NULL || strlen(token) > TSSO_TOKEN_MAX)
		return tsso_err_set(err, r->malformed, "token missing or too large");
	/* §3.1.3.7 step 1: decrypt first when the client registered a key. An
	 * encrypted token we cannot decrypt, or a plain one when encryption is
	 * configured (the OP must then encrypt), is refused. */
	if (tsso_jwe_looks_like(token)) {
		if (idp->jwe_key == NULL)
			return tsso_err_set(err, r->decrypt_failed,
			                    "encrypted token but no decryption key configured");
		if (tsso_jwe_decrypt(idp->jwe_key, token, &plain, &jerr) != 0)
			return tsso_err_set(err, r->decrypt_failed, "%s", jerr.msg);
		compact = plain;
	} else if (idp->jwe_key != NULL && r == &oidc_id_token_reasons) {
		return tsso_err_set(err, r->decrypt_failed, "token is not encrypted as configured");
	}
	jws = tsso_jws_parse(compact, &jerr);
	if (jws == NULL) {
		map_jws_error(&jerr, r, err);
		goto out;
	}
	if (n_algs == 0) {
		tsso_err_set(err, r->alg_not_allowed, "no signature algorithm is allowed");
		goto out;
	}
	if (oidc_keys_get(idp, meta, now, &keys, err) != 0)
		goto out;
	tsso_err_clear(&jerr);
	if (tsso_jws_verify(jws, keys->jwks, algs, n_algs, secret, secret_len, &jerr) == 0) {
		rc = 0;
		goto out;
	}
	if (strcmp(tsso_err_reason(&jerr), "jws.kid_unknown") != 0) {
		map_jws_error(&jerr, r, err);
		goto out;
	}
	/* An unknown kid may be a key the IdP rotated in: refetch once. */
	if (oidc_keys_refetch(idp, meta, keys->gen, now, &fresh, NULL) != 0) {
		map_jws_error(&jerr, r, err);
		goto out;
	}
	tsso_err_clear(&jerr);
	if (tsso_jws_verify(jws, fresh->jwks, algs, n_algs, secret, secret_len, &jerr) != 0) {
		map_jws_error(&jerr, r, err);
		goto out;
	}
	rc = 0;
out:
	oidc_keys_unref(keys);
	oidc_keys_unref(fresh);
	tsso_free_secret(plain);
	if (rc == 0)
		*ret = jws;
	else
		tsso_jws_free(jws);
	return rc;
}

/* A time claim: absent -> 1, present and a number -> 0, else -1. */
static int time_claim(const json_t *claims, const char *name, long long *ret)
{
	json_t *v = json_object_get(claims, name);

	if (v == NULL)
		return 1;
	return oidc_json_time(v, ret);
}

int oidc_check_common(const json_t *claims, const char *issuer, const char *client_id, long leeway,
                      long long now, bool exp_required, const struct oidc_reasons *r,
                      struct tsso_err *err)
{
	const char *iss = oidc_json_str(claims, "iss");
	json_t *aud = json_object_get(claims, "aud");
	json_t *azp = json_object_get(claims, "azp");
	bool has_client = false;
	size_t n_aud = 0, i;
	long long t;
	json_t *e;
	int k;

	if (json_object_size(claims) > TSSO_TOKEN_MAX_CLAIMS)
		return tsso_err_set(err, r->malformed, "too many claims");
	/* §3.1.3.7 step 2: iss exactly the issuer of the metadata. */
	if (iss == NULL || strcmp(iss, issuer) != 0)
		return tsso_err_set(err, r->iss_mismatch, "issuer is not the configured one");
	/* Step 3: aud contains our client_id (a string or an array of strings). */
	if (json_is_string(aud)) {
		n_aud = 1;
		has_client = strcmp(json_string_value(aud), client_id) == 0;
	} else if (json_is_array(aud)) {
		json_array_foreach(aud, i, e)
		{
			if (!json_is_string(e))
				return tsso_err_set(err, r->malformed, "aud holds a non-string");
			if (strcmp(json_string_value(e), client_id) == 0)
				has_client = true;
			n_aud++;
		}
	}
	if (!has_client)
		return tsso_err_set(err, r->aud_mismatch, "the token is not for this client");
	/* Steps 4-5: with other audiences we must be the authorized party, and
	 * an azp, when present, must be us. */
	if (azp != NULL && (!json_is_string(azp) || strcmp(json_string_value(azp), client_id) != 0))
		return tsso_err_set(err, r->azp_mismatch, "azp is not this client");
	if (n_aud > 1 && azp == NULL)
		return tsso_err_set(err, r->azp_mismatch, "several audiences and no azp");
	/* Step 9: exp; the leeway is the same for every time claim. */
	k = time_claim(claims, "exp", &t);
	if (k < 0)
		return tsso_err_set(err, r->malformed, "exp is not a number");
	if (k > 0 && exp_required)
		return tsso_err_set(err, r->exp_missing, "exp is missing");
	if (k == 0 && now >= t + leeway)
		return tsso_err_set(err, r->expired, "the token has expired");
	/* Step 10: iat required, not in the future. */
	k = time_claim(claims, "iat", &t);
	if (k < 0)
		return tsso_err_set(err, r->malformed, "iat is not a number");
	if (k > 0)
		return tsso_err_set(err, r->iat_missing, "iat is missing");
	if (t > now + leeway)
		return tsso_err_set(err, r->iat_future, "iat is in the future");
	/* RFC 7519 §4.1.5: not before. */
	k = time_claim(claims, "nbf", &t);
	if (k < 0)
		return tsso_err_set(err, r->malformed, "nbf is not a number");
	if (k == 0 && t > now + leeway)
		return tsso_err_set(err, r->nbf_future, "the token is not valid yet");
	return 0;
}

static bool acr_in(const char *acr, const struct tsso_strlist *l)
{
	/* acr_values is space separated (OIDC Core §3.1.2.1). */
	for (size_t i = 0; i < l->n; i++) {
		const char *p = l->v[i];

		while (*p != '\0') {
			size_t n = strcspn(p, " ");

			if (n == strlen(acr) && strncmp(p, acr, n) == 0)
				return true;
			p += n;
			p += strspn(p, " ");
		}
	}
	return false;
}

int oidc_id_token_check_claims(const json_t *claims, const struct oidc_id_expect *x,
                               struct tsso_err *err)
{
	const struct oidc_reasons *r = &oidc_id_token_reasons;
	json_t *nonce = json_object_get(claims, "nonce");
	json_t *sub = json_object_get(claims, "sub");
	json_t *at_hash = json_object_get(claims, "at_hash");
	long long auth_time;
	int k;

	if (oidc_check_common(claims, x->issuer, x->client_id, x->leeway, x->now, true, r, err) !=
	    0)
		return -1;
	/* Step 11: the nonce we sent, compared in constant time. */
	if (x->nonce != NULL) {
		if (nonce == NULL)
			return tsso_err_set(err, "id_token.nonce_missing", "nonce is missing");
		if (!json_is_string(nonce) || !tsso_ct_streq(json_string_value(nonce), x->nonce))
			return tsso_err_set(err, "id_token.nonce_mismatch",
			                    "nonce does not match this login");
	} else if (nonce != NULL && !json_is_string(nonce)) {
		return tsso_err_set(err, r->malformed, "nonce is not a string");
	}
	/* §3.1.3.8 / §3.2.2.9: at_hash binds the access token when present. */
	if (at_hash != NULL) {
		char *h = NULL;
		bool ok;

		if (!json_is_string(at_hash))
			return tsso_err_set(err, "id_token.at_hash_mismatch",
			                    "at_hash is not a string");
		if (x->access_token == NULL || x->alg == NULL)
			return tsso_err_set(err, "id_token.at_hash_mismatch",
			                    "no access token to bind");
		h = tsso_jose_half_hash(x->alg, x->access_token);
		ok = h != NULL && tsso_ct_streq(h, json_string_value(at_hash));
		free(h);
		if (!ok)
			return tsso_err_set(err, "id_token.at_hash_mismatch",
			                    "at_hash does not match the access token");
	}
	/* §2: sub REQUIRED, a string of at most 255 ASCII characters. */
	if (!json_is_string(sub) || json_string_length(sub) == 0)
		return tsso_err_set(err, "id_token.sub_missing", "sub is missing");
	if (json_string_length(sub) > TSSO_CLAIM_SUB_MAX ||
	    strlen(json_string_value(sub)) != json_string_length(sub))
		return tsso_err_set(err, r->malformed, "sub is too long");
	/* §12.2: a refreshed ID token is about the same subject. */
	if (x->sub != NULL && strcmp(json_string_value(sub), x->sub) != 0)
		return tsso_err_set(err, "id_token.sub_mismatch", "sub changed");
	/* Step 13: with max_age sent, auth_time is required and recent enough. */
	k = time_claim(claims, "auth_time", &auth_time);
	if (k < 0)
		return tsso_err_set(err, r->malformed, "auth_time is not a number");
	if (x->max_age >= 0) {
		if (k > 0)
			return tsso_err_set(err, "id_token.auth_time_missing",
			                    "auth_time is missing though max_age was sent");
		if (auth_time + x->max_age + x->leeway < x->now)
			return tsso_err_set(err, "id_token.auth_time_too_old",
			                    "the authentication is older than max_age");
	}
	/* Step 12: acr, when it was requested as an essential claim. */
	if (x->acr_required != NULL && x->acr_required->n > 0) {
		const char *acr = oidc_json_str(claims, "acr");

		if (acr == NULL || !acr_in(acr, x->acr_required))
			return tsso_err_set(err, "id_token.acr_mismatch",
			                    "the authentication context is not one requested");
	}
	return 0;
}
