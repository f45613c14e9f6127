/* One tenant file ({tenants_dir}/{tenant}.json): its IdP, client, options, embed scheme. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_int.h"
#include "tsso/jose.h"
#include "tsso/limits.h"

static const char *const tenant_keys[] = {"issuer",
                                          "client_id",
                                          "client_secret",
                                          "client_secret_file",
                                          "client_secret_env",
                                          "token_endpoint_auth_method",
                                          "client_private_key_file",
                                          "client_key_alg",
                                          "response_mode",
                                          "scopes",
                                          "ca_file",
                                          "prompt",
                                          "max_age",
                                          "acr_values",
                                          "acr_essential",
                                          "extra_auth_params",
                                          "par",
                                          "id_token_signing_algs",
                                          "allow_hmac_id_token",
                                          "id_token_decryption_key_file",
                                          "clock_leeway",
                                          "max_idp_calls",
                                          "userinfo",
                                          "return_to_origins",
                                          "default_return_to",
                                          "email_domains",
                                          "distributed_claims_origins",
                                          "post_logout_redirect_uris",
                                          "refresh_tokens",
                                          "mapping",
                                          "embed",
                                          "description",
                                          NULL};
static const char *const embed_keys[] = {"scheme",
                                         "issuer",
                                         "audience",
                                         "workspace_id",
                                         "ttl",
                                         "token_url",
                                         "embed_client_secret",
                                         "embed_client_secret_file",
                                         "embed_client_secret_env",
                                         "toucan_url",
                                         "api_key",
                                         "api_key_file",
                                         "api_key_env",
                                         "cors_origins",
                                         "audit_values",
                                         "rate_limit",
                                         "mint_at_login",
                                         NULL};
static const char *const auth_methods[] = {"client_secret_basic",
                                           "client_secret_post",
                                           "client_secret_jwt",
                                           "private_key_jwt",
                                           "none",
                                           NULL};
static const char *const response_modes[] = {"query", "form_post", NULL};
static const char *const par_modes[] = {"auto", "never", "required", NULL};
static const char *const schemes[] = {"signed_jwt", "api", NULL};
/* What an ID token may be signed with (issue: RS/PS/ES families and EdDSA; HS* only
 * through allow_hmac_id_token). */
static const char *const safe_id_token_algs[] = {
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", NULL};
static const char *const prompts[] = {"none", "login", "consent", "select_account", NULL};

static bool in_list(const char *const *l, const char *s)
{
	for (; *l; l++)
		if (strcmp(*l, s) == 0)
			return true;
	return false;
}

/* An origin: scheme://host[:port], nothing else. */
static void check_origins(struct cfg_ctx *c, const char *prefix, const char *key,
                          const struct tsso_strlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *why = NULL, *o = l->v[i];
		const char *host = strstr(o, "://");

		if (!cfg_url_ok(c, o, false, &why))
			cfg_problem(c, prefix, key, "\"%s\" %s", o, why);
		else if (host == NULL || strchr(host + 3, '/') != NULL)
			cfg_problem(c, prefix, key, "\"%s\" must be an origin (no path)", o);
	}
}

static void parse_embed(struct cfg_ctx *c, const json_t *t, struct tsso_tenant_cfg *r)
{
	json_t *e = cfg_object(c, t, "", "embed");
	const char *P = "embed", *why = NULL;

	if (e == NULL) {
		cfg_problem(c, "", "embed", "is required (scheme signed_jwt or api)");
		return;
	}
	cfg_unknown_keys(c, e, P, embed_keys);
	if (json_object_get(e, "scheme") == NULL)
		cfg_problem(c, P, "scheme", "is required (\"signed_jwt\" or \"api\")");
	r->embed.scheme = (enum tsso_embed_scheme)cfg_enum(c, e, P, "scheme", schemes, 0);
	cfg_long(c, e, P, "ttl", 30, TSSO_EMBED_TTL_MAX, &r->embed.ttl);
	cfg_strlist(c, e, P, "cors_origins", &r->embed.cors_origins);
	check_origins(c, P, "cors_origins", &r->embed.cors_origins);
	cfg_bool(c, e, P, "audit_values", &r->embed.audit_values);
	r->embed.mint_at_login = true;
	cfg_bool(c, e, P, "mint_at_login", &r->embed.mint_at_login);
	r->embed.rate_burst = TSSO_EMBED_RATE_BURST;
	r->embed.rate_per_min = TSSO_EMBED_RATE_PER_MIN;
	{
		static const char *const rate_keys[] = {"burst", "per_minute", NULL};
		json_t *rl = cfg_object(c, e, P, "rate_limit");

		if (rl != NULL) {
			cfg_unknown_keys(c, rl, "embed.rate_limit", rate_keys);
			cfg_long(c, rl, "embed.rate_limit", "burst", 1, 1000000,
			         &r->embed.rate_burst);
			cfg_long(c, rl, "embed.rate_limit", "per_minute", 1, 100000000,
			         &r->embed.rate_per_min);
		}
	}
	if (r->embed.scheme == TSSO_EMBED_SIGNED_JWT) {
		cfg_str(c, e, P, "issuer", true, &r->embed.issuer);
		if (cfg_str(c, e, P, "audience", true, &r->embed.audience) &&
		    !cfg_url_ok(c, r->embed.audience, false, &why))
			cfg_problem(c, P, "audience", "%s", why);
		cfg_str(c, e, P, "workspace_id", true, &r->embed.workspace_id);
		if (cfg_str(c, e, P, "token_url", false, &r->embed.token_url)) {
			if (!cfg_url_ok(c, r->embed.token_url, false, &why))
				cfg_problem(c, P, "token_url", "%s", why);
			cfg_secret(c, e, P, "embed_client_secret", true,
			           &r->embed.embed_client_secret);
		}
		for (const char *const *k =
		         (const char *const[]){"toucan_url", "api_key_file", "api_key_env", NULL};
		     *k; k++)
			if (json_object_get(e, *k) != NULL)
				cfg_problem(c, P, *k, "belongs to scheme \"api\"");
	} else {
		if (cfg_str(c, e, P, "toucan_url", true, &r->embed.toucan_url) &&
		    !cfg_url_ok(c, r->embed.toucan_url, false, &why))
			cfg_problem(c, P, "toucan_url", "%s", why);
		cfg_secret(c, e, P, "api_key", true, &r->embed.api_key);
		for (const char *const *k =
		         (const char *const[]){"issuer", "audience", "token_url", NULL};
		     *k; k++)
			if (json_object_get(e, *k) != NULL)
				cfg_problem(c, P, *k, "belongs to scheme \"signed_jwt\"");
	}
}

static void parse_auth(struct cfg_ctx *c, const json_t *t, struct tsso_tenant_cfg *r)
{
	static const char *const key_algs[] = {"RS256", "RS384", "RS512", "PS256",
	                                       "ES256", "ES384", "EdDSA", NULL};
	bool needs_secret;

	r->auth_method = (enum tsso_auth_method)cfg_enum(c, t, "", "token_endpoint_auth_method",
	                                                 auth_methods, 0);
	needs_secret = r->auth_method == TSSO_AUTH_CLIENT_SECRET_BASIC ||
	               r->auth_method == TSSO_AUTH_CLIENT_SECRET_POST ||
	               r->auth_method == TSSO_AUTH_CLIENT_SECRET_JWT;
	cfg_bool(c, t, "", "allow_hmac_id_token", &r->allow_hmac_id_token);
	cfg_secret(c, t, "", "client_secret", needs_secret || r->allow_hmac_id_token,
	           &r->client_secret);
	if (r->auth_method == TSSO_AUTH_CLIENT_SECRET_JWT && r->client_secret.value != NULL &&
	    r->client_secret.len < 32)
		cfg_problem(
		    c, "", "client_secret",
		    "client_secret_jwt needs a secret of at least 32 bytes (RFC 7518 §3.2)");
	if (r->auth_method == TSSO_AUTH_PRIVATE_KEY_JWT) {
		if (json_object_get(t, "client_private_key_file") == NULL)
			cfg_problem(c, "", "client_private_key_file",
			            "is required for private_key_jwt");
		else if (cfg_path(c, t, "", "client_private_key_file", true,
		                  &r->client_private_key_file))
			(void)cfg_check_secret_file(c, "", "client_private_key_file",
			                            r->client_private_key_file);
	} else if (json_object_get(t, "client_private_key_file") != NULL) {
		cfg_problem(c, "", "client_private_key_file",
		            "is only used with token_endpoint_auth_method private_key_jwt");
	}
	r->client_key_alg = strdup("RS256");
	if (json_object_get(t, "client_key_alg") != NULL) {
		int i = cfg_enum(c, t, "", "client_key_alg", key_algs, -1);

		if (i >= 0) {
			free(r->client_key_alg);
			r->client_key_alg = strdup(key_algs[i]);
		}
	}
}

static void parse_oidc_options(struct cfg_ctx *c, const json_t *t, struct tsso_tenant_cfg *r)
{
	json_t *extra;

	r->response_mode =
	    (enum tsso_response_mode)cfg_enum(c, t, "", "response_mode", response_modes, 0);
	if (!cfg_strlist(c, t, "", "scopes", &r->scopes)) {
		static const char *const dflt[] = {"openid", "email", "profile"};

		r->scopes.v = calloc(4, sizeof(char *));
		for (size_t i = 0; r->scopes.v && i < 3; i++)
			r->scopes.v[r->scopes.n++] = strdup(dflt[i]);
	} else {
		bool openid = false;

		for (size_t i = 0; i < r->scopes.n; i++) {
			openid |= strcmp(r->scopes.v[i], "openid") == 0;
			if (strpbrk(r->scopes.v[i], " \"\\") != NULL)
				cfg_problem(c, "", "scopes",
				            "scope \"%s\" has a forbidden character",
				            r->scopes.v[i]);
		}
		if (!openid)
			cfg_problem(c, "", "scopes", "must include \"openid\"");
	}
	if (json_object_get(t, "prompt") != NULL &&
	    cfg_str(c, t, "", "prompt", false, &r->prompt)) {
		/* Space-separated list of the values OIDC Core §3.1.2.1 defines. */
		for (const char *w = r->prompt; *w;) {
			size_t n = strcspn(w, " ");
			bool known = false;

			for (size_t i = 0; prompts[i] && !known; i++)
				known = strlen(prompts[i]) == n && strncmp(prompts[i], w, n) == 0;
			if (!known)
				cfg_problem(c, "", "prompt", "unknown prompt value \"%.*s\"",
				            (int)n, w);
			w += n;
			w += *w == ' ';
		}
	}
	r->max_age = -1;
	cfg_long(c, t, "", "max_age", 0, 365L * 86400, &r->max_age);
	cfg_str(c, t, "", "acr_values", false, &r->acr_values);
	cfg_bool(c, t, "", "acr_essential", &r->acr_essential);
	if (r->acr_essential && r->acr_values == NULL)
		cfg_problem(c, "", "acr_essential", "needs acr_values (the values to require)");
	extra = cfg_object(c, t, "", "extra_auth_params");
	if (extra != NULL) {
		static const char *const reserved[] = {
		    "client_id",     "redirect_uri", "response_type",  "scope",
		    "state",         "nonce",        "code_challenge", "code_challenge_method",
		    "response_mode", "request",      "request_uri",    NULL};
		const char *k;
		json_t *v;

		json_object_foreach (extra, k, v) {
			if (!json_is_string(v))
				cfg_problem(c, "extra_auth_params", k, "must be a string");
			else if (in_list(reserved, k))
				cfg_problem(c, "extra_auth_params", k,
				            "is set by toucan-sso and cannot be overridden");
		}
		r->extra_auth_params = json_incref(extra);
	}
	r->par = (enum tsso_par_mode)cfg_enum(c, t, "", "par", par_modes, 0);
	if (cfg_strlist(c, t, "", "id_token_signing_algs", &r->id_token_algs)) {
		for (size_t i = 0; i < r->id_token_algs.n; i++) {
			const char *a = r->id_token_algs.v[i];

			if (strncmp(a, "HS", 2) == 0 && r->allow_hmac_id_token)
				continue;
			if (!in_list(safe_id_token_algs, a))
				cfg_problem(c, "", "id_token_signing_algs",
				            "\"%s\" is not allowed (RS*, PS*, ES*, EdDSA; HS* "
				            "only with allow_hmac_id_token)",
				            a);
		}
	}
	if (json_object_get(t, "id_token_decryption_key_file") != NULL &&
	    cfg_path(c, t, "", "id_token_decryption_key_file", true,
	             &r->id_token_decryption_key_file))
		(void)cfg_check_secret_file(c, "", "id_token_decryption_key_file",
		                            r->id_token_decryption_key_file);
	r->clock_leeway = TSSO_CLOCK_LEEWAY_DEFAULT;
	cfg_long(c, t, "", "clock_leeway", 0, TSSO_CLOCK_LEEWAY_MAX, &r->clock_leeway);
	r->max_idp_calls = TSSO_TENANT_MAX_OUTBOUND;
	cfg_long(c, t, "", "max_idp_calls", 1, TSSO_IDP_CALLS_MAX, &r->max_idp_calls);
	cfg_bool(c, t, "", "userinfo", &r->userinfo);
	cfg_bool(c, t, "", "refresh_tokens", &r->refresh_tokens);
}

static void parse_redirects(struct cfg_ctx *c, const json_t *t, struct tsso_tenant_cfg *r)
{
	const char *why = NULL;

	cfg_strlist(c, t, "", "return_to_origins", &r->return_to_origins);
	check_origins(c, "", "return_to_origins", &r->return_to_origins);
	if (cfg_str(c, t, "", "default_return_to", false, &r->default_return_to) &&
	    (r->default_return_to[0] != '/' || r->default_return_to[1] == '/' ||
	     r->default_return_to[1] == '\\'))
		cfg_problem(c, "", "default_return_to", "must be a path starting with one /");
	if (r->default_return_to == NULL)
		r->default_return_to = strdup("/");
	cfg_strlist(c, t, "", "email_domains", &r->email_domains);
	cfg_strlist(c, t, "", "distributed_claims_origins", &r->distributed_claims_origins);
	check_origins(c, "", "distributed_claims_origins", &r->distributed_claims_origins);
	for (size_t i = 0; i < r->email_domains.n; i++)
		for (const char *p = r->email_domains.v[i]; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
			      *p == '-')) {
				cfg_problem(c, "", "email_domains",
				            "\"%s\" must be a lower-case domain name",
				            r->email_domains.v[i]);
				break;
			}
	cfg_strlist(c, t, "", "post_logout_redirect_uris", &r->post_logout_redirect_uris);
	for (size_t i = 0; i < r->post_logout_redirect_uris.n; i++)
		if (!cfg_url_ok(c, r->post_logout_redirect_uris.v[i], true, &why))
			cfg_problem(c, "", "post_logout_redirect_uris", "\"%s\" %s",
			            r->post_logout_redirect_uris.v[i], why);
}

void cfg_tenant_load(const struct tsso_config *cfg, const char *path, const char *id,
                     struct tsso_problems *problems, struct tsso_tenant_cfg *r)
{
	struct cfg_ctx c = {.file = path, .mode = cfg->mode, .problems = problems};
	json_error_t jerr;
	json_t *t = NULL, *m;
	char *tmp = strdup(path);
	const char *why = NULL;

	r->id = strdup(id);
	r->file = strdup(path);
	c.dir = tmp ? strdup(dirname(tmp)) : NULL;
	free(tmp);
	t = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (t == NULL || !json_is_object(t)) {
		tsso_problems_add(problems, path, "-", "invalid JSON at line %d column %d: %s",
		                  jerr.line, jerr.column, t ? "must be an object" : jerr.text);
		goto out;
	}
	cfg_unknown_keys(&c, t, "", tenant_keys);
	if (cfg_str(&c, t, "", "issuer", true, &r->issuer) &&
	    !cfg_url_ok(&c, r->issuer, false, &why))
		cfg_problem(&c, "", "issuer", "%s", why);
	cfg_str(&c, t, "", "client_id", true, &r->client_id);
	parse_auth(&c, t, r);
	if (json_object_get(t, "ca_file") != NULL)
		cfg_path(&c, t, "", "ca_file", true, &r->ca_file);
	parse_oidc_options(&c, t, r);
	parse_redirects(&c, t, r);
	m = json_object_get(t, "mapping");
	if (m != NULL && !json_is_null(m)) {
		if (!json_is_object(m))
			cfg_problem(&c, "", "mapping", "must be an object");
		else
			r->mapping = json_incref(m);
	}
	parse_embed(&c, t, r);
out:
	json_decref(t);
	free(c.dir);
}

void cfg_tenant_free(struct tsso_tenant_cfg *t)
{
	free(t->id);
	free(t->file);
	free(t->issuer);
	free(t->client_id);
	cfg_secret_free(&t->client_secret);
	free(t->client_private_key_file);
	free(t->client_key_alg);
	cfg_strlist_free(&t->scopes);
	free(t->ca_file);
	free(t->prompt);
	free(t->acr_values);
	json_decref(t->extra_auth_params);
	cfg_strlist_free(&t->id_token_algs);
	free(t->id_token_decryption_key_file);
	cfg_strlist_free(&t->return_to_origins);
	free(t->default_return_to);
	cfg_strlist_free(&t->email_domains);
	cfg_strlist_free(&t->post_logout_redirect_uris);
	cfg_strlist_free(&t->distributed_claims_origins);
	json_decref(t->mapping);
	free(t->embed.issuer);
	free(t->embed.audience);
	free(t->embed.workspace_id);
	free(t->embed.token_url);
	cfg_secret_free(&t->embed.embed_client_secret);
	free(t->embed.toucan_url);
	cfg_secret_free(&t->embed.api_key);
	cfg_strlist_free(&t->embed.cors_origins);
}
