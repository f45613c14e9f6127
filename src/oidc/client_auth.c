/* Client authentication at the token and PAR endpoints (RFC 6749 §2.3, OIDC Core §9, RFC 7523). */
#include <stdlib.h>
#include <string.h>

#include "oidc_int.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

/* RFC 6749 §2.3.1: client_id and secret are form-urlencoded before they are
 * joined with ':' and base64-encoded (a ':' in a client_id must survive). */
static char *basic_header(const char *id, const char *secret)
{
	struct tsso_buf raw, enc;
	char *b64 = NULL, *out = NULL;

	tsso_buf_init(&raw, TSSO_CFG_MAX_SECRET_FILE * 4);
	tsso_buf_init(&enc, TSSO_CFG_MAX_SECRET_FILE * 8);
	if (oidc_form_escape(&raw, id) != 0 || tsso_buf_add(&raw, ":", 1) != 0 ||
	    oidc_form_escape(&raw, secret) != 0)
		goto out;
	b64 = oidc_b64_std(raw.ptr, raw.len);
	if (b64 == NULL || tsso_buf_adds(&enc, "Authorization: Basic ") != 0 ||
	    tsso_buf_adds(&enc, b64) != 0)
		goto out;
	out = tsso_buf_take(&enc);
out:
	tsso_free_secret(b64);
	tsso_buf_free_secure(&raw);
	tsso_buf_free_secure(&enc);
	return out;
}

/* RFC 7523 §3 / OIDC Core §9: iss = sub = client_id, aud = the endpoint,
 * a random jti, short exp. */
static int assertion(const struct tsso_idp *idp, const char *aud, long long now, bool client_id,
                     struct tsso_buf *form, struct tsso_err *err)
{
	const struct tsso_tenant_cfg *c = idp->cfg;
	struct tsso_signer *hmac = NULL;
	const struct tsso_signer *s = idp->client_signer;
	char *jti = tsso_rand_token(16), *jwt = NULL;
	json_t *claims = NULL;
	int rc = -1;

	if (jti == NULL) {
		tsso_err_set(err, "oidc.internal", "no randomness");
		goto out;
	}
	if (c->auth_method == TSSO_AUTH_CLIENT_SECRET_JWT) {
		if (c->client_secret.value == NULL) {
			tsso_err_set(err, "oidc.config", "client_secret_jwt needs a client secret");
			goto out;
		}
		hmac = tsso_signer_hmac(c->client_secret.value, c->client_secret.len, "HS256", err);
		if (hmac == NULL)
			goto out;
		s = hmac;
	}
	if (s == NULL) {
		tsso_err_set(err, "oidc.config", "no client key");
		goto out;
	}
	claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", c->client_id, "sub",
	                   c->client_id, "aud", aud, "jti", jti, "iat", (json_int_t)now, "exp",
	                   (json_int_t)(now + TSSO_CLIENT_ASSERTION_TTL));
	if (claims == NULL) {
		tsso_err_set(err, "oidc.internal", "out of memory");
		goto out;
	}
	if (tsso_jws_sign(s, "JWT", NULL, claims, &jwt, err) != 0)
		goto out;
	if ((client_id && oidc_form_add(form, "client_id", c->client_id) != 0) ||
	    oidc_form_add(form, "client_assertion_type", OIDC_ASSERTION_TYPE) != 0 ||
	    oidc_form_add(form, "client_assertion", jwt) != 0) {
		tsso_err_set(err, "oidc.internal", "request too large");
		goto out;
	}
	rc = 0;
out:
	json_decref(claims);
	tsso_signer_free(hmac);
	free(jti);
	tsso_free_secret(jwt);
	return rc;
}

int oidc_client_auth(const struct tsso_idp *idp, const char *aud, long long now, bool client_id,
                     struct tsso_buf *form, char **hdrs, size_t *n_hdrs, struct tsso_err *err)
{
	const struct tsso_tenant_cfg *c = idp->cfg;
	const char *secret = c->client_secret.value;

	switch (c->auth_method) {
	case TSSO_AUTH_CLIENT_SECRET_BASIC: {
		char *h;

		if (secret == NULL)
			return tsso_err_set(err, "oidc.config",
			                    "client_secret_basic needs a secret");
		h = basic_header(c->client_id, secret);
		if (h == NULL)
			return tsso_err_set(err, "oidc.internal", "out of memory");
		hdrs[(*n_hdrs)++] = h;
		return 0;
	}
	case TSSO_AUTH_CLIENT_SECRET_POST:
		if (secret == NULL)
			return tsso_err_set(err, "oidc.config",
			                    "client_secret_post needs a secret");
		if ((client_id && oidc_form_add(form, "client_id", c->client_id) != 0) ||
		    oidc_form_add(form, "client_secret", secret) != 0)
			return tsso_err_set(err, "oidc.internal", "request too large");
		return 0;
	case TSSO_AUTH_CLIENT_SECRET_JWT:
	case TSSO_AUTH_PRIVATE_KEY_JWT:
		return assertion(idp, aud, now, client_id, form, err);
	case TSSO_AUTH_NONE:
	default:
		/* Public client (RFC 6749 §4.1.3): identifies itself, PKCE protects the code. */
		if (client_id && oidc_form_add(form, "client_id", c->client_id) != 0)
			return tsso_err_set(err, "oidc.internal", "request too large");
		return 0;
	}
}
