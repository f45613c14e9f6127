/* Unit tests for src/config: every refusal path, relative paths, secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tsso/config.h"

#define CANARY "CANARY-secret-value-7f3a9"

static char dir[256];

static void write_file(const char *rel, const char *content, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static const char *main_prod =
    "{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\","
    "\"public_url\":\"https://app.example.com/sso\","
    "\"tenants_dir\":\"tenants.d\","
    "\"session\":{\"store\":\"cookie\",\"secret_file\":\"secrets/s.key\"}}";

static const char *tenant_ok =
    "{\"issuer\":\"https://login.acme.example/\",\"client_id\":\"c1\","
    "\"client_secret_file\":\"../secrets/acme.secret\","
    "\"embed\":{\"scheme\":\"signed_jwt\",\"issuer\":\"i\","
    "\"audience\":\"https://oauth.toucan.example/acme/oauth/oauth-token\","
    "\"workspace_id\":\"acme\"}}";

static int setup(void **state)
{
	char path[512];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tsso-test-config-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tenants.d", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/secrets", dir);
	mkdir(path, 0700);
	write_file("secrets/s.key",
	           "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600);
	write_file("secrets/acme.secret", CANARY "\n", 0600);
	write_file("main.json", main_prod, 0644);
	write_file("tenants.d/acme.json", tenant_ok, 0644);
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Load main.json; return the problems joined by newlines (caller frees). */
static char *load(struct tsso_config **ret_cfg)
{
	struct tsso_problems p = {0};
	struct tsso_config *cfg;
	char path[512], *all;
	size_t len = 1;

	snprintf(path, sizeof(path), "%s/main.json", dir);
	cfg = tsso_config_load(path, &p);
	for (size_t i = 0; i < p.n; i++)
		len += strlen(p.v[i]) + 1;
	all = calloc(1, len);
	for (size_t i = 0; i < p.n; i++) {
		strcat(all, p.v[i]);
		strcat(all, "\n");
	}
	assert_true((cfg == NULL) == (p.n > 0));
	tsso_problems_free(&p);
	if (ret_cfg)
		*ret_cfg = cfg;
	else
		tsso_config_free(cfg);
	/* No problem text ever carries a secret value. */
	assert_null(strstr(all, CANARY));
	return all;
}

static void expect_problem(const char *needle)
{
	char *all = load(NULL);

	if (strstr(all, needle) == NULL)
		fail_msg("expected a problem containing \"%s\", got:\n%s", needle, all);
	free(all);
}

static void test_valid(void **state)
{
	struct tsso_config *cfg = NULL;
	const struct tsso_tenant_cfg *t;
	char *all = load(&cfg);

	(void)state;
	assert_string_equal(all, "");
	free(all);
	assert_non_null(cfg);
	assert_int_equal(cfg->mode, TSSO_MODE_PRODUCTION);
	assert_string_equal(cfg->base_path, "/sso");
	assert_string_equal(cfg->public_origin, "https://app.example.com");
	assert_int_equal(cfg->listen_port, 8080);
	assert_int_equal(cfg->n_tenants, 1);
	t = tsso_config_tenant(cfg, "acme");
	assert_non_null(t);
	assert_string_equal(t->client_secret.value, CANARY);
	assert_int_equal(t->auth_method, TSSO_AUTH_CLIENT_SECRET_BASIC);
	assert_int_equal(t->scopes.n, 3);
	assert_string_equal(t->scopes.v[0], "openid");
	assert_int_equal(t->max_age, -1);
	assert_int_equal(t->max_idp_calls, 32);
	assert_true(t->embed.mint_at_login);
	assert_string_equal(t->default_return_to, "/");
	assert_null(tsso_config_tenant(cfg, "nope"));
	/* The secret file path resolved against the tenant file, not the cwd. */
	assert_non_null(strstr(t->client_secret.source, "/secrets/acme.secret"));
	assert_string_equal(cfg->session.cookie_name, "__Secure-tsso");
	tsso_config_free(cfg);
}

struct main_case {
	const char *json;
	const char *problem;
};

static void test_main_refusals(void **state)
{
	static const struct main_case cases[] = {
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"sesion\":{}}",
	     "sesion: unknown key"},
	    {"{\"listen\":\"127.0.0.1:8080\",\"public_url\":\"https://a.example\","
	     "\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":\"secrets/s.key\"}}",
	     "mode: is required"},
	    {"{\"mode\":\"prod\",\"listen\":\"127.0.0.1:8080\",\"public_url\":\"https://"
	     "a.example\","
	     "\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":\"secrets/s.key\"}}",
	     "mode: must be one of"},
	    {"{\"mode\":\"production\",\"listen\":\"8080\",\"public_url\":\"https://a.example\","
	     "\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":\"secrets/s.key\"}}",
	     "listen: must be HOST:PORT"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:99999\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\"}}",
	     "listen: must be HOST:PORT"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"http://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\"}}",
	     "public_url: must be https:// in production mode"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://u@a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\"}}",
	     "public_url: must not contain user information"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"nowhere\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\"}}",
	     "tenants_dir: cannot read"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{}}",
	     "session.secret_file: is required"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\"},\"http\":{\"shutdown_grace\":3601}}",
	     "http.shutdown_grace: must be between 0 and 3600"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\"},\"http\":{\"threads\":0}}",
	     "http.threads: must be between 1 and 256"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"store\":\"redis\","
	     "\"secret_file\":\"secrets/s.key\"}}",
	     "session.redis_url: is required"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\",\"inactivity_timeout\":\"30\"}}",
	     "session.inactivity_timeout: must be an integer"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\",\"redis_url\":\"http://x\"}}",
	     "session.redis_url: must be redis://"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\",\"redis_url\":\"redis://x\",\"redis_ca_file\":"
	     "\"secrets/s.key\"}}",
	     "session.redis_ca_file: needs a rediss:// redis_url"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\",\"redis_ca_file\":\"secrets/s.key\"}}",
	     "session.redis_ca_file: needs a rediss:// redis_url"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\",\"redis_url\":\"rediss://x\",\"redis_ca_file\":"
	     "\"secrets/nope.pem\"}}",
	     "session.redis_ca_file: cannot read"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\"},\"embed\":{\"alg\":\"HS256\"}}",
	     "embed.alg: must be one of"},
	    {"{\"mode\":\"production\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	     "\"https://a.example\",\"tenants_dir\":\"tenants.d\",\"session\":{\"secret_file\":"
	     "\"secrets/s.key\"},\"log\":{\"level\":\"loud\"}}",
	     "log.level: must be debug"},
	    {"{\"mode\":\"production\",\"mode\":\"development\"}", "invalid JSON"},
	    {"[1,2]", "must be a JSON object"},
	    {"{\"mode\":", "invalid JSON at line 1"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file("main.json", cases[i].json, 0644);
		expect_problem(cases[i].problem);
	}
}

static void set_tenant(const char *json)
{
	write_file("tenants.d/acme.json", json, 0644);
}

static void test_tenant_refusals(void **state)
{
	static const struct main_case cases[] = {
	    {"{\"isuer\":\"https://x\"}", "acme.json: isuer: unknown key"},
	    {"{\"client_id\":\"c\"}", "acme.json: issuer: is required"},
	    {"{\"issuer\":\"http://login.acme.example\"}",
	     "issuer: must be https:// in production mode"},
	    {"{\"issuer\":\"https://login.acme.example/?x=1\"}",
	     "issuer: must not contain a query"},
	    {"{\"issuer\":\"https://x\",\"client_id\":\"c\"}", "client_secret_file: is required"},
	    {"{\"issuer\":\"https://x\",\"client_id\":\"c\",\"client_secret\":\"" CANARY "\"}",
	     "client_secret: inline secrets are refused in production mode"},
	    {"{\"issuer\":\"https://x\",\"client_id\":\"c\",\"client_secret_file\":\"../secrets/"
	     "acme.secret\",\"client_secret_env\":\"X\"}",
	     "give only one of"},
	    {"{\"issuer\":\"https://x\",\"client_id\":\"c\",\"client_secret_env\":"
	     "\"TSSO_TEST_UNSET_VAR\"}",
	     "environment variable TSSO_TEST_UNSET_VAR is not set"},
	    {"{\"issuer\":\"https://x\",\"client_id\":\"c\",\"token_endpoint_auth_method\":"
	     "\"private_key_jwt\"}",
	     "client_private_key_file: is required for private_key_jwt"},
	    {"{\"token_endpoint_auth_method\":\"client_secret\"}",
	     "token_endpoint_auth_method: must be one of"},
	    {"{\"token_endpoint_auth_method\":\"client_secret_jwt\",\"client_secret_file\":"
	     "\"../secrets/acme.secret\"}",
	     "client_secret_jwt needs a secret of at least 32 bytes"},
	    {"{\"response_mode\":\"fragment\"}", "response_mode: must be one of"},
	    {"{\"scopes\":[\"email\"]}", "scopes: must include \"openid\""},
	    {"{\"scopes\":\"openid\"}", "scopes: must be an array"},
	    {"{\"prompt\":\"login bogus\"}", "prompt: unknown prompt value \"bogus\""},
	    {"{\"max_age\":-5}", "max_age: must be between"},
	    {"{\"extra_auth_params\":{\"redirect_uri\":\"https://evil\"}}",
	     "extra_auth_params.redirect_uri: is set by toucan-sso"},
	    {"{\"id_token_signing_algs\":[\"none\"]}", "\"none\" is not allowed"},
	    {"{\"id_token_signing_algs\":[\"HS256\"]}", "\"HS256\" is not allowed"},
	    {"{\"clock_leeway\":3600}", "clock_leeway: must be between 0 and 300"},
	    {"{\"max_idp_calls\":0}", "max_idp_calls: must be between 1 and 1024"},
	    {"{\"max_idp_calls\":1025}", "max_idp_calls: must be between 1 and 1024"},
	    {"{\"return_to_origins\":[\"https://dash.example.com/path\"]}",
	     "must be an origin (no path)"},
	    {"{\"return_to_origins\":[\"javascript:alert(1)\"]}", "must be an https:// URL"},
	    {"{\"default_return_to\":\"//evil.example\"}",
	     "default_return_to: must be a path starting with one /"},
	    {"{\"email_domains\":[\"Acme.COM\"]}", "must be a lower-case domain name"},
	    {"{\"post_logout_redirect_uris\":[\"http://app.example.com/bye\"]}",
	     "post_logout_redirect_uris: \"http://app.example.com/bye\" must be https://"},
	    {"{\"mapping\":[1]}", "mapping: must be an object"},
	    {"{\"issuer\":\"https://x\"}", "embed: is required"},
	    {"{\"embed\":{\"scheme\":\"jwt\"}}", "embed.scheme: must be one of"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\"}}", "embed.audience: is required"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\",\"audience\":\"http://toucan\"}}",
	     "embed.audience: must be https://"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\",\"api_key_file\":\"x\"}}",
	     "embed.api_key_file: belongs to scheme \"api\""},
	    {"{\"embed\":{\"scheme\":\"api\",\"toucan_url\":\"https://toucanai.cloud\"}}",
	     "embed.api_key_file: is required"},
	    {"{\"embed\":{\"scheme\":\"api\"}}", "embed.toucan_url: is required"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\",\"cors_origins\":[\"https://a/b\"]}}",
	     "embed.cors_origins: \"https://a/b\" must be an origin"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\",\"ttl\":86400}}", "embed.ttl: must be between"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\",\"token_url\":\"https://t\"}}",
	     "embed.embed_client_secret_file: is required"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\",\"nope\":1}}", "embed.nope: unknown key"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\",\"mint_at_login\":\"no\"}}",
	     "embed.mint_at_login: must be true or false"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\",\"rate_limit\":{\"burst\":0}}}",
	     "embed.rate_limit.burst: must be between 1 and"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\",\"rate_limit\":{\"burst\":1000001}}}",
	     "embed.rate_limit.burst: must be between 1 and"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\",\"rate_limit\":{\"per_minute\":100000001}}}",
	     "embed.rate_limit.per_minute: must be between 1 and"},
	    {"{\"embed\":{\"scheme\":\"signed_jwt\",\"rate_limit\":{\"rps\":5}}}",
	     "embed.rate_limit.rps: unknown key"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set_tenant(cases[i].json);
		expect_problem(cases[i].problem);
	}
}

static void test_every_problem_reported(void **state)
{
	char *all;
	size_t lines = 0;

	(void)state;
	set_tenant("{\"isuer\":1,\"client_id\":2,\"scopes\":[\"email\"],\"embed\":{}}");
	all = load(NULL);
	for (const char *p = all; *p; p++)
		lines += *p == '\n';
	assert_true(lines >= 5);
	/* Each problem names the file and the key. */
	assert_non_null(strstr(all, "acme.json: isuer: unknown key"));
	assert_non_null(strstr(all, "acme.json: client_id: must be a string"));
	assert_non_null(strstr(all, "acme.json: scopes: must include"));
	assert_non_null(strstr(all, "acme.json: embed.scheme: is required"));
	free(all);
}

static void test_secret_file_modes(void **state)
{
	(void)state;
	write_file("secrets/acme.secret", CANARY "\n", 0644);
	expect_problem("is accessible by other users (mode 644)");
	write_file("secrets/acme.secret", CANARY "\n", 0620);
	expect_problem("is accessible by other users (mode 620)");
	write_file("secrets/acme.secret", CANARY "\n", 0640);
	{
		char *all = load(NULL); /* group read is allowed */

		assert_string_equal(all, "");
		free(all);
	}
	write_file("secrets/s.key", "00\n", 0604);
	expect_problem("session.secret_file: ");
	write_file("secrets/acme.secret", "\n", 0600);
	expect_problem("is empty");
}

static void test_development_mode(void **state)
{
	struct tsso_config *cfg = NULL;
	char *all;

	(void)state;
	write_file("main.json",
	           "{\"mode\":\"development\",\"listen\":\"127.0.0.1:8080\",\"public_url\":"
	           "\"http://127.0.0.1:8080\",\"tenants_dir\":\"tenants.d\",\"session\":{"
	           "\"secret_file\":\"secrets/s.key\"}}",
	           0644);
	set_tenant("{\"issuer\":\"http://127.0.0.1:3000\",\"client_id\":\"c\",\"client_secret\":"
	           "\"dev-inline\",\"embed\":{\"scheme\":\"api\",\"toucan_url\":"
	           "\"http://localhost:4000\",\"api_key\":\"k\"}}");
	all = load(&cfg);
	assert_string_equal(all, "");
	free(all);
	assert_non_null(cfg);
	assert_string_equal(cfg->base_path, "");
	assert_string_equal(cfg->session.cookie_name, "tsso");
	assert_string_equal(cfg->tenants[0].client_secret.value, "dev-inline");
	tsso_config_free(cfg);
	/* Loopback means the host, not a prefix of it. */
	set_tenant("{\"issuer\":\"http://127.0.0.1.evil.example\",\"client_id\":\"c\","
	           "\"client_secret\":\"x\",\"embed\":{\"scheme\":\"api\",\"toucan_url\":"
	           "\"http://localhost:4000\",\"api_key\":\"k\"}}");
	expect_problem("issuer: must be https:// (http:// only to a loopback host)");
	set_tenant("{\"issuer\":\"http://localhost.evil.example:3000\",\"client_id\":\"c\","
	           "\"client_secret\":\"x\",\"embed\":{\"scheme\":\"api\",\"toucan_url\":"
	           "\"http://localhost:4000\",\"api_key\":\"k\"}}");
	expect_problem("issuer: must be https:// (http:// only to a loopback host)");
	set_tenant("{\"issuer\":\"http://10.0.0.1\",\"client_id\":\"c\",\"client_secret\":\"x\","
	           "\"embed\":{\"scheme\":\"api\",\"toucan_url\":\"http://localhost:4000\","
	           "\"api_key\":\"k\"}}");
	expect_problem("issuer: must be https://");
}

static void test_tenant_ids(void **state)
{
	(void)state;
	write_file("tenants.d/Acme.json", tenant_ok, 0644);
	expect_problem("tenant id \"Acme\" must match");
	{
		char p[512];

		snprintf(p, sizeof(p), "%s/tenants.d/Acme.json", dir);
		unlink(p);
	}
	write_file("tenants.d/login.json", tenant_ok, 0644);
	expect_problem("tenant id \"login\"");
	assert_true(tsso_tenant_id_valid("acme"));
	assert_true(tsso_tenant_id_valid("acme-2_b"));
	assert_false(tsso_tenant_id_valid("-acme"));
	assert_false(tsso_tenant_id_valid("ac/me"));
	assert_false(tsso_tenant_id_valid("ac.me"));
	assert_false(tsso_tenant_id_valid(""));
	assert_false(tsso_tenant_id_valid("metrics"));
	assert_false(tsso_tenant_id_valid(
	    "a1234567890123456789012345678901234567890123456789012345678901234"));
}

static void test_email_domains(void **state)
{
	struct tsso_config *cfg = NULL;
	char *all;

	(void)state;
	set_tenant("{\"issuer\":\"https://login.acme.example/\",\"client_id\":\"c1\","
	           "\"client_secret_file\":\"../secrets/acme.secret\",\"email_domains\":"
	           "[\"acme.example\"],\"embed\":{\"scheme\":\"signed_jwt\",\"issuer\":\"i\","
	           "\"audience\":\"https://o.example/t\",\"workspace_id\":\"acme\"}}");
	all = load(&cfg);
	assert_string_equal(all, "");
	free(all);
	assert_non_null(tsso_config_tenant_by_email(cfg, "alice@ACME.example"));
	assert_null(tsso_config_tenant_by_email(cfg, "alice@evil.example"));
	assert_null(tsso_config_tenant_by_email(cfg, "acme.example"));
	assert_null(tsso_config_tenant_by_email(cfg, "@acme.example"));
	assert_null(tsso_config_tenant_by_email(cfg, "alice@"));
	tsso_config_free(cfg);
	write_file("tenants.d/beta.json",
	           "{\"issuer\":\"https://login.beta.example/\",\"client_id\":\"c1\","
	           "\"client_secret_file\":\"../secrets/acme.secret\",\"email_domains\":"
	           "[\"acme.example\"],\"embed\":{\"scheme\":\"signed_jwt\",\"issuer\":\"i\","
	           "\"audience\":\"https://o.example/t\",\"workspace_id\":\"beta\"}}",
	           0644);
	expect_problem("domain acme.example is also claimed by tenant acme");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_valid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_main_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tenant_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_problem_reported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secret_file_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_development_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tenant_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_email_domains, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
