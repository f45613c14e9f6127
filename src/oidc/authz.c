/* Authorization request (OIDC Core §3.1.2.1, RFC 7636) and response (RFC 6749 §4.1.2, RFC 9207);
 * the login state. */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "oidc_int.h"
#include "tsso/b64.h"
#include "tsso/crypto.h"
#include "tsso/jsonflat.h"
#include "tsso/jsonw.h"
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
	if (tsso_sha256(verifier, strlen(verifier), h) < 0) {
		tsso_wipe(h, sizeof(h));
		return NULL;
	}
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

int tsso_login_state_write(struct tsso_buf *out, const struct tsso_login_state *ls)
{
	struct tsso_jsonw w;

	tsso_jsonw_init(&w, out);
	tsso_jsonw_obj_begin(&w);
	tsso_jsonw_key(&w, "v");
	tsso_jsonw_int(&w, 1);
	tsso_jsonw_key(&w, "tenant");
	tsso_jsonw_str(&w, ls->tenant);
	tsso_jsonw_key(&w, "state");
	tsso_jsonw_str(&w, ls->state);
	tsso_jsonw_key(&w, "nonce");
	tsso_jsonw_str(&w, ls->nonce);
	tsso_jsonw_key(&w, "cv");
	tsso_jsonw_str(&w, ls->code_verifier);
	tsso_jsonw_key(&w, "iat");
	tsso_jsonw_int(&w, ls->created_at);
	tsso_jsonw_key(&w, "max_age");
	tsso_jsonw_int(&w, ls->max_age);
	if (ls->return_to != NULL) {
		tsso_jsonw_key(&w, "rt");
		tsso_jsonw_str(&w, ls->return_to);
	}
	tsso_jsonw_obj_end(&w);
	return tsso_jsonw_finish(&w, NULL);
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

/* The members of a login state, in the order written; all but rt required. */
enum { LS_V, LS_TENANT, LS_STATE, LS_NONCE, LS_CV, LS_IAT, LS_MAX_AGE, LS_RT, LS_N };
static const char *const ls_keys[LS_N] = {"v",  "tenant", "state",   "nonce",
                                          "cv", "iat",    "max_age", "rt"};

struct ls_read {
	char *s[LS_N];   /* strings taken from the reader */
	int64_t n[LS_N]; /* integers */
	unsigned seen;
};

static int ls_member(void *arg, const char *k, struct tsso_jflat_value *v)
{
	struct ls_read *r = arg;
	size_t i = 0;

	while (i < LS_N && strcmp(k, ls_keys[i]) != 0)
		i++;
	if (i == LS_N || (r->seen & (1u << i)) != 0)
		return -1; /* unknown or repeated */
	r->seen |= 1u << i;
	if (i == LS_V || i == LS_IAT || i == LS_MAX_AGE) {
		if (v->type != TSSO_JFLAT_INTEGER)
			return -1;
		r->n[i] = v->num;
		return 0;
	}
	if (v->type != TSSO_JFLAT_STRING)
		return -1;
	r->s[i] = v->str;
	v->str = NULL;
	return 0;
}

struct tsso_login_state *tsso_login_state_parse(const char *json, size_t n, struct tsso_err *err)
{
	const unsigned required = (1u << LS_RT) - 1;
	struct tsso_login_state *ls = NULL;
	struct ls_read r = {0};

	if (n > TSSO_AEAD_TOKEN_MAX || tsso_jflat_parse(json, n, ls_member, &r) < 0 ||
	    (r.seen & required) != required || r.n[LS_V] != 1)
		goto bad;
	if (strlen(r.s[LS_TENANT]) == 0 || strlen(r.s[LS_TENANT]) > TSSO_TENANT_ID_MAX ||
	    !token_chars(r.s[LS_STATE], 16, OIDC_RANDOM_MAX) ||
	    !token_chars(r.s[LS_NONCE], 16, OIDC_RANDOM_MAX) ||
	    /* RFC 7636 §4.1: 43 to 128 characters. */
	    !token_chars(r.s[LS_CV], 43, 128) ||
	    (r.s[LS_RT] != NULL && strlen(r.s[LS_RT]) > TSSO_RETURN_TO_MAX) ||
	    r.n[LS_MAX_AGE] < -1 || r.n[LS_MAX_AGE] > 0x7fffffffL || r.n[LS_IAT] < 0 ||
	    r.n[LS_IAT] > OIDC_TIME_MAX)
		goto bad;
	ls = calloc(1, sizeof(*ls));
	if (ls == NULL)
		goto bad;
	/* The decoded strings become the state's own. */
	ls->tenant = r.s[LS_TENANT];
	ls->state = r.s[LS_STATE];
	ls->nonce = r.s[LS_NONCE];
	ls->code_verifier = r.s[LS_CV];
	ls->return_to = r.s[LS_RT];
	for (size_t i = 0; i < LS_N; i++)
		r.s[i] = NULL;
	ls->created_at = r.n[LS_IAT];
	ls->max_age = (long)r.n[LS_MAX_AGE];
	return ls;
bad:
	for (size_t i = 0; i < LS_N; i++)
		tsso_free_secret(r.s[i]);
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

		json_object_foreach (c->extra_auth_params, k, v) {
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
