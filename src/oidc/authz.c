/* Authorization request (OIDC Core §3.1.2.1, RFC 7636) and response (RFC 6749 §4.1.2, RFC 9207);
 * the login state. */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "oidc_int.h"
#include "tsso/b64.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

/* 32 random bytes -> 43 base64url characters: 256 bits for state and nonce,
 * and the verifier length RFC 7636 §4.1 recommends. */
#define OIDC_RANDOM_BYTES 32
#define OIDC_RANDOM_MAX   128 /* longest state/nonce/verifier accepted back */

void tsso_login_state_free(struct tsso_login_state *ls)
{
	if (ls == NULL)
		return;
	free(ls->tenant);
	tsso_free_secret(ls->state);
	tsso_free_secret(ls->nonce);
	tsso_free_secret(ls->code_verifier);
	free(ls->return_to);
	free(ls);
}

char *oidc_pkce_challenge(const char *verifier)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	char *out;

	/* RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))). */
	SHA256((const unsigned char *)verifier, strlen(verifier), h);
	out = tsso_b64url_encode(h, sizeof(h));
	tsso_wipe(h, sizeof(h));
	return out;
}

struct tsso_login_state *oidc_login_state_new(const char *tenant, const char *return_to,
                                              long max_age, long long now)
{
	struct tsso_login_state *ls = calloc(1, sizeof(*ls));

	if (ls == NULL)
		return NULL;
	ls->tenant = strdup(tenant);
	ls->state = tsso_rand_token(OIDC_RANDOM_BYTES);
	ls->nonce = tsso_rand_token(OIDC_RANDOM_BYTES);
	ls->code_verifier = tsso_rand_token(OIDC_RANDOM_BYTES);
	ls->return_to = return_to != NULL ? strdup(return_to) : NULL;
	ls->created_at = now;
	ls->max_age = max_age;
	if (ls->tenant == NULL || ls->state == NULL || ls->nonce == NULL ||
	    ls->code_verifier == NULL || (return_to != NULL && ls->return_to == NULL)) {
		tsso_login_state_free(ls);
		return NULL;
	}
	return ls;
}

json_t *tsso_login_state_to_json(const struct tsso_login_state *ls)
{
	json_t *j =
	    json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I}", "v", 1, "tenant", ls->tenant, "state",
	              ls->state, "nonce", ls->nonce, "cv", ls->code_verifier, "iat",
	              (json_int_t)ls->created_at, "max_age", (json_int_t)ls->max_age);

	if (j != NULL && ls->return_to != NULL &&
	    json_object_set_new(j, "rt", json_string(ls->return_to)) != 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static bool token_chars(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	/* base64url, plus RFC 7636 §4.1 unreserved characters for verifiers. */
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '~'))
			return false;
	}
	return true;
}

struct tsso_login_state *tsso_login_state_from_json(const json_t *j, struct tsso_err *err)
{
	struct tsso_login_state *ls = NULL;
	const char *tenant, *state, *nonce, *cv, *rt = NULL;
	json_int_t v, iat, max_age;
	json_error_t jerr;

	if (!json_is_object(j) || json_object_size(j) > 8 ||
	    json_unpack_ex((json_t *)j, &jerr, JSON_STRICT,
	                   "{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s?s}", "v", &v, "tenant", &tenant,
	                   "state", &state, "nonce", &nonce, "cv", &cv, "iat", &iat, "max_age",
	                   &max_age, "rt", &rt) != 0 ||
	    v != 1)
		goto bad;
	if (strlen(tenant) == 0 || strlen(tenant) > TSSO_TENANT_ID_MAX ||
	    !token_chars(state, 16, OIDC_RANDOM_MAX) || !token_chars(nonce, 16, OIDC_RANDOM_MAX) ||
	    /* RFC 7636 §4.1: 43 to 128 characters. */
	    !token_chars(cv, 43, 128) || (rt != NULL && strlen(rt) > TSSO_RETURN_TO_MAX) ||
	    max_age < -1 || max_age > 0x7fffffffL || iat < 0 || iat > OIDC_TIME_MAX)
		goto bad;
	ls = calloc(1, sizeof(*ls));
	if (ls == NULL)
		goto bad;
	ls->tenant = strdup(tenant);
	ls->state = strdup(state);
	ls->nonce = strdup(nonce);
	ls->code_verifier = strdup(cv);
	ls->return_to = rt != NULL ? strdup(rt) : NULL;
	ls->created_at = iat;
	ls->max_age = (long)max_age;
	if (ls->tenant == NULL || ls->state == NULL || ls->nonce == NULL ||
	    ls->code_verifier == NULL || (rt != NULL && ls->return_to == NULL))
		goto bad;
	return ls;
bad:
	tsso_login_state_free(ls);
	tsso_err_set(err, "state.malformed", "login state is malformed");
	return NULL;
}

/* Parameters this module sets itself; extra_auth_params may not override them. */
static const char *const reserved[] = {
    "response_type", "client_id", "redirect_uri",   "scope",
    "state",         "nonce",     "code_challenge", "code_challenge_method",
    "response_mode", "request",   "request_uri",    "claims",
};

bool oidc_param_reserved(const char *name)
{
	return oidc_list_has(reserved, TSSO_ARRAY_LEN(reserved), name);
}

static int add_scope(const struct tsso_tenant_cfg *c, struct tsso_buf *b)
{
	struct tsso_buf s;
	bool openid = false;
	int rc = -1;

	tsso_buf_init(&s, TSSO_HTTP_MAX_URL);
	for (size_t i = 0; i < c->scopes.n; i++)
		if (strcmp(c->scopes.v[i], "openid") == 0)
			openid = true;
	/* OIDC Core §3.1.2.1: the openid scope makes it an OpenID request. */
	if (!openid && tsso_buf_adds(&s, "openid") != 0)
		goto out;
	for (size_t i = 0; i < c->scopes.n; i++)
		if ((s.len > 0 && tsso_buf_adds(&s, " ") != 0) ||
		    tsso_buf_adds(&s, c->scopes.v[i]) != 0)
			goto out;
	rc = oidc_form_add(b, "scope", s.ptr);
out:
	tsso_buf_free(&s);
	return rc;
}

/* {"id_token":{"acr":{"essential":true,"values":[...]}}} (OIDC Core §5.5.1.1). */
static char *acr_claims(const char *acr_values)
{
	json_t *values = json_array(), *j;
	const char *p = acr_values;
	char *out = NULL;

	if (values == NULL)
		return NULL;
	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n > 0 && json_array_append_new(values, json_stringn(p, n)) != 0)
			goto out;
		p += n;
		p += strspn(p, " ");
	}
	j = json_pack("{s:{s:{s:b, s:O}}}", "id_token", "acr", "essential", 1, "values", values);
	if (j != NULL) {
		out = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
out:
	json_decref(values);
	return out;
}

int oidc_authz_params(const struct tsso_idp *idp, const struct tsso_login_state *ls,
                      const struct tsso_idp_begin_opts *opts, struct tsso_buf *b)
{
	const struct tsso_tenant_cfg *c = idp->cfg;
	const char *prompt = opts != NULL && opts->prompt != NULL ? opts->prompt : c->prompt;
	char *challenge = oidc_pkce_challenge(ls->code_verifier);
	char num[32];
	int rc = -1;

	if (challenge == NULL)
		return -1;
	if (oidc_form_add(b, "response_type", "code") != 0 ||
	    oidc_form_add(b, "client_id", c->client_id) != 0 ||
	    oidc_form_add(b, "redirect_uri", idp->redirect_uri) != 0 || add_scope(c, b) != 0 ||
	    oidc_form_add(b, "state", ls->state) != 0 ||
	    oidc_form_add(b, "nonce", ls->nonce) != 0 ||
	    oidc_form_add(b, "code_challenge", challenge) != 0 ||
	    oidc_form_add(b, "code_challenge_method", "S256") != 0)
		goto out;
	/* OAuth 2.0 Form Post Response Mode; "query" is the code flow's default. */
	if (c->response_mode == TSSO_RESPONSE_FORM_POST &&
	    oidc_form_add(b, "response_mode", "form_post") != 0)
		goto out;
	if (prompt != NULL && prompt[0] != '\0' && oidc_form_add(b, "prompt", prompt) != 0)
		goto out;
	if (ls->max_age >= 0) {
		snprintf(num, sizeof(num), "%ld", ls->max_age);
		if (oidc_form_add(b, "max_age", num) != 0)
			goto out;
	}
	if (c->acr_values != NULL && c->acr_values[0] != '\0') {
		if (oidc_form_add(b, "acr_values", c->acr_values) != 0)
			goto out;
		if (c->acr_essential) {
			char *claims = acr_claims(c->acr_values);
			int k = claims != NULL ? oidc_form_add(b, "claims", claims) : -1;

			free(claims);
			if (k != 0)
				goto out;
		}
	}
	if (opts != NULL && opts->login_hint != NULL && opts->login_hint[0] != '\0' &&
	    oidc_form_add(b, "login_hint", opts->login_hint) != 0)
		goto out;
	if (json_is_object(c->extra_auth_params)) {
		const char *k;
		json_t *v;

		json_object_foreach(c->extra_auth_params, k, v)
		{
			if (json_is_string(v) && !oidc_param_reserved(k) &&
			    oidc_form_add(b, k, json_string_value(v)) != 0)
				goto out;
		}
	}
	rc = 0;
out:
	free(challenge);
	return rc;
}

static const char *param(const struct tsso_oidc_param *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].name != NULL && strcmp(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}

int oidc_authz_response(const struct tsso_idp *idp, const struct oidc_meta *meta,
                        const struct tsso_login_state *ls, const struct tsso_oidc_param *params,
                        size_t n, long long now, const char **ret_code, struct tsso_err *err)
{
	const char *state, *iss, *error, *code;
	char safe[72];

	if (n > TSSO_HTTP_MAX_PARAMS)
		return tsso_err_set(err, "authz.malformed", "too many parameters");
	/* RFC 6749 §3.1: parameters must not be repeated; a repeated one could
	 * mean different things to different readers. */
	for (size_t i = 0; i < n; i++) {
		if (params[i].name == NULL || params[i].value == NULL)
			return tsso_err_set(err, "authz.malformed", "empty parameter");
		for (size_t j = 0; j < i; j++)
			if (strcmp(params[i].name, params[j].name) == 0)
				return tsso_err_set(err, "authz.duplicate_param",
				                    "a parameter is repeated");
	}
	/* The login state must be this tenant's and young enough. */
	if (ls == NULL || strcmp(ls->tenant, idp->cfg->id) != 0)
		return tsso_err_set(err, "state.mismatch", "the login belongs to another tenant");
	if (now - ls->created_at > TSSO_LOGIN_STATE_TTL || ls->created_at - now > idp->leeway)
		return tsso_err_set(err, "state.expired", "the login took too long");
	/* RFC 6749 §10.12 (CSRF): state equal to the one bound to this browser,
	 * compared in constant time. */
	state = param(params, n, "state");
	if (state == NULL || !tsso_ct_streq(state, ls->state))
		return tsso_err_set(err, "state.mismatch",
		                    "state does not match this browser's login");
	/* RFC 9207 §2.4: a present iss must be our issuer; it must be present
	 * when the provider says it sends it. Error responses included. */
	iss = param(params, n, "iss");
	if (iss != NULL && strcmp(iss, meta->issuer) != 0)
		return tsso_err_set(err, "authz.iss_mismatch",
		                    "the response comes from another issuer (mix-up)");
	if (iss == NULL && meta->iss_parameter_supported)
		return tsso_err_set(err, "authz.iss_missing",
		                    "the response lacks the iss parameter");
	/* RFC 6749 §4.1.2.1: only the error code goes into our message; the
	 * description is the IdP's free text and is not shown verbatim. */
	error = param(params, n, "error");
	if (error != NULL)
		return tsso_err_set(err, "authz.error", "the identity provider answered: %s",
		                    oidc_safe_code(error, safe, sizeof(safe)));
	code = param(params, n, "code");
	if (code == NULL || code[0] == '\0')
		return tsso_err_set(err, "authz.malformed", "the response has no code");
	*ret_code = code;
	return 0;
}
