/* Unit tests for the embed module's glue: cache policy, HTTP statuses, the
 * route answer, development-mode mint, the audit line, and embed.js. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/embed/embed_int.h"
#include "embed_test_util.h"
#include "tsso/embed.h"
#include "tsso/identity.h"
#include "tsso/jsonw.h"
#include "tsso/limits.h"
#include "tsso/log.h"

static void test_should_remint(void **state)
{
	static const struct {
		long long iat, exp, now;
		bool want;
	} v[] = {
	    {1000, 1300, 1000, false}, /* fresh */
	    {1000, 1300, 1199, false}, /* just under two thirds */
	    {1000, 1300, 1200, true},  /* two thirds spent */
	    {1000, 1300, 1299, true},
	    {1000, 1300, 1300, true}, /* expired */
	    {1000, 1300, 5000, true},
	    {1000, 1000, 1000, true}, /* no life */
	    {1000, 900, 950, true},   /* nonsense */
	    {1000, 4600, 3399, false},
	    {1000, 4600, 3400, true}, /* one hour */
	    {1000, 1300, 1000 - TSSO_CLOCK_LEEWAY_DEFAULT, false},
	    {1000, 1300, 1000 - TSSO_CLOCK_LEEWAY_DEFAULT - 1, true}, /* clock went back */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(tsso_embed_should_remint(v[i].iat, v[i].exp, v[i].now), v[i].want);
}

static void test_err_status(void **state)
{
	static const struct {
		const char *reason;
		int status;
	} v[] = {
	    {"embed.toucan_unavailable", 503}, {"embed.circuit_open", 503},
	    {"embed.toucan_refused", 502},     {"embed.too_large", 500},
	    {"embed.sign_failed", 500},        {"embed.no_signing_key", 500},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct tsso_err err = {0};
		tsso_err_set(&err, v[i].reason, "x");
		assert_int_equal(tsso_embed_err_status(&err), v[i].status);
	}
}

static void test_token_json(void **state)
{
	struct tsso_embed_token t = {0};
	json_t *j;
	(void)state;

	t.token = strdup("abc");
	t.issued_at = 100;
	t.expires_at = 400;
	t.expires_in = 300;
	j = tsso_embed_token_json(&t, 250);
	assert_int_equal(json_object_size(j), 3);
	assert_string_equal(json_string_value(json_object_get(j, "token")), "abc");
	assert_int_equal(json_integer_value(json_object_get(j, "expires_at")), 400);
	assert_int_equal(json_integer_value(json_object_get(j, "expires_in")), 150);
	json_decref(j);
	j = tsso_embed_token_json(&t, 500);
	assert_int_equal(json_integer_value(json_object_get(j, "expires_in")), 0);
	json_decref(j);
	tsso_embed_token_clear(&t);
	assert_null(t.token);
	assert_null(tsso_embed_token_json(&t, 0));
}

/* The answer written straight to a buffer is byte for byte the json_t one
 * as the JSON writer dumps it (what the route sent before). */
static void test_token_write(void **state)
{
	static const char *const tokens[] = {"eyJhbGciOiJFUzI1NiJ9.e30.sig",
	                                     "odd \"quoted\" \\ token"};
	static const long long nows[] = {250, 400, 500, -5};
	struct tsso_embed_token t = {.issued_at = 100, .expires_at = 400, .expires_in = 300};
	struct tsso_buf a, b;

	(void)state;
	for (size_t i = 0; i < 2; i++)
		for (size_t k = 0; k < sizeof(nows) / sizeof(nows[0]); k++) {
			json_t *j;

			t.token = (char *)tokens[i];
			j = tsso_embed_token_json(&t, nows[k]);
			tsso_buf_init(&a, 4096);
			tsso_buf_init(&b, 4096);
			assert_int_equal(tsso_jsonw_dump(&a, j, NULL), 0);
			assert_int_equal(tsso_embed_token_write(&b, &t, nows[k]), 0);
			assert_int_equal(a.len, b.len);
			assert_memory_equal(a.ptr, b.ptr, a.len);
			json_decref(j);
			tsso_buf_free(&a);
			tsso_buf_free(&b);
		}
	/* No token, or no room: refused. */
	t.token = NULL;
	tsso_buf_init(&b, 4096);
	assert_int_equal(tsso_embed_token_write(&b, &t, 0), -1);
	tsso_buf_free(&b);
	t.token = (char *)tokens[0];
	tsso_buf_init(&b, 16);
	assert_int_equal(tsso_embed_token_write(&b, &t, 0), -1);
	tsso_buf_free(&b);
}

struct dev {
	char *dir, *claims;
	struct tsso_config cfg;
	struct tsso_tenant_cfg t;
	struct tsso_embed_keystore *ks;
	long long now;
};

static void dev_init(struct dev *d)
{
	struct tsso_err err = {0};
	struct tsso_identity *id = tsso_identity_new();
	json_t *j;
	char *text;

	memset(d, 0, sizeof(*d));
	d->now = (long long)time(NULL);
	d->dir = tmpdir_new();
	assert_int_equal(tsso_embed_keys_generate(d->dir, "ES256", d->now - 1, NULL, &err), 0);
	d->ks = tsso_embed_keystore_load(d->dir, d->now, &err);
	d->t.id = (char *)"acme";
	d->t.embed.issuer = (char *)"iss";
	d->t.embed.audience = (char *)"aud";
	d->t.embed.workspace_id = (char *)"ws";
	id->username = strdup("dev@acme.example");
	json_object_set_new(id->attributes, "region", json_string("EMEA"));
	j = tsso_identity_to_json(id);
	text = json_dumps(j, 0);
	d->claims = malloc(strlen(d->dir) + 16);
	sprintf(d->claims, "%s/claims.json", d->dir); /* test code: sized above */
	assert_int_equal(write_file(d->claims, text), 0);
	free(text);
	json_decref(j);
	tsso_identity_free(id);
}

static void dev_free(struct dev *d)
{
	tsso_embed_keystore_free(d->ks);
	free(d->claims);
	tmpdir_free(d->dir);
}

static struct tsso_identity *fake_map(void *ctx, const struct tsso_tenant_cfg *t, json_t *claims,
                                      struct tsso_err *err)
{
	struct tsso_identity *id = tsso_identity_new();
	(void)t;
	(void)claims;
	(void)err;
	*(int *)ctx += 1;
	id->username = strdup("mapped");
	return id;
}

static void test_dev_mint(void **state)
{
	struct dev d;
	struct tsso_embed_token tok = {.token = (char *)"untouched"};
	struct tsso_err err = {0};
	int calls = 0;
	(void)state;

	dev_init(&d);
	/* Production mode (the default) refuses before reading anything. */
	assert_int_equal(tsso_embed_dev_check(&d.cfg, &err), -1);
	assert_string_equal(err.reason, "embed.production_mode");
	assert_int_equal(
	    tsso_embed_dev_mint(&d.cfg, &d.t, d.ks, d.claims, fake_map, &calls, d.now, &tok, &err),
	    -1);
	assert_string_equal(err.reason, "embed.production_mode");
	assert_int_equal(calls, 0);
	assert_string_equal(tok.token, "untouched");
	assert_int_equal(tsso_embed_dev_check(NULL, &err), -1);

	d.cfg.mode = TSSO_MODE_DEVELOPMENT;
	assert_int_equal(tsso_embed_dev_check(&d.cfg, &err), 0);
	/* The file as an identity. */
	assert_int_equal(
	    tsso_embed_dev_mint(&d.cfg, &d.t, d.ks, d.claims, NULL, NULL, d.now, &tok, &err), 0);
	assert_int_equal(strlen(tok.jti), 22);
	tsso_embed_token_clear(&tok);
	/* The file as claims, through a mapper. */
	assert_int_equal(
	    tsso_embed_dev_mint(&d.cfg, &d.t, d.ks, d.claims, fake_map, &calls, d.now, &tok, &err),
	    0);
	assert_int_equal(calls, 1);
	tsso_embed_token_clear(&tok);
	/* Files that are not JSON objects. */
	assert_int_equal(write_file(d.claims, "[1,2]"), 0);
	assert_int_equal(
	    tsso_embed_dev_mint(&d.cfg, &d.t, d.ks, d.claims, NULL, NULL, d.now, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.claims_file");
	assert_int_equal(write_file(d.claims, "{\"username\":\"a\",\"username\":\"b\"}"), 0);
	assert_int_equal(
	    tsso_embed_dev_mint(&d.cfg, &d.t, d.ks, d.claims, NULL, NULL, d.now, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.claims_file");
	assert_int_equal(tsso_embed_dev_mint(&d.cfg, &d.t, d.ks, "/nonexistent.json", NULL, NULL,
	                                     d.now, &tok, &err),
	                 -1);
	assert_string_equal(err.reason, "embed.claims_file");
	dev_free(&d);
}

/* One audit line per token: names always, values only when opted in. */
static void test_audit_line(void **state)
{
	struct dev d;
	struct tsso_embed_client *c;
	struct tsso_identity *id = tsso_identity_new();
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	struct capture cap;
	char *log, *line;
	json_t *j;
	(void)state;

	dev_init(&d);
	id->username = strdup("alice@acme.example");
	json_object_set_new(id->attributes, "country", json_string("Narnia"));
	json_object_set_new(id->attributes, "dept", json_string("R&D"));
	c = tsso_embed_client_new(&d.cfg, &d.t, d.ks, NULL, &err);
	assert_non_null(c);

	tsso_log_setup(TSSO_LOG_INFO, true);
	capture_start(&cap);
	assert_int_equal(tsso_embed_mint(c, id, d.now, &tok, &err), 0);
	log = capture_stop(&cap);
	line = strstr(log, "{\"ts\"");
	assert_non_null(line);
	/* Exactly one audit line. */
	assert_null(strstr(strstr(log, "embed.minted") + 1, "embed.minted"));
	j = json_loads(line, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "event")), "embed.minted");
	assert_string_equal(json_string_value(json_object_get(j, "tenant")), "acme");
	assert_string_equal(json_string_value(json_object_get(j, "subject")), "alice@acme.example");
	assert_string_equal(json_string_value(json_object_get(j, "jti")), tok.jti);
	assert_string_equal(json_string_value(json_object_get(j, "scheme")), "signed_jwt");
	assert_non_null(json_object_get(j, "kid"));
	assert_non_null(json_object_get(j, "expires_at"));
	assert_string_equal(json_string_value(json_object_get(j, "attributes")), "country,dept");
	assert_null(strstr(log, "Narnia"));
	assert_null(strstr(log, tok.token)); /* never the token */
	json_decref(j);
	free(log);
	tsso_embed_token_clear(&tok);

	d.t.embed.audit_values = true;
	capture_start(&cap);
	assert_int_equal(tsso_embed_mint(c, id, d.now, &tok, &err), 0);
	log = capture_stop(&cap);
	assert_non_null(strstr(log, "Narnia"));
	free(log);
	tsso_embed_token_clear(&tok);
	tsso_log_setup(TSSO_LOG_WARN, true);

	tsso_embed_client_free(c);
	tsso_identity_free(id);
	dev_free(&d);
}

static void test_embed_js(void **state)
{
	size_t len = 0;
	const char *js = tsso_embed_js(&len), *etag = tsso_embed_js_etag();
	(void)state;

	assert_non_null(js);
	assert_int_equal(strlen(js), len);
	assert_true(len > 500 && len < 8192); /* small */
	assert_non_null(strstr(js, "tc-dashboard"));
	assert_non_null(strstr(js, "tc-ai-assistant"));
	assert_non_null(strstr(js, "auth-token"));
	assert_non_null(strstr(js, "MutationObserver"));
	assert_non_null(strstr(js, "credentials: 'include'"));
	assert_non_null(strstr(js, "window.ToucanSSO"));
	assert_non_null(strstr(js, "return_to"));
	/* CSP-friendly: nothing that needs unsafe-eval or unsafe-inline. */
	assert_null(strstr(js, "eval("));
	assert_null(strstr(js, "new Function"));
	assert_null(strstr(js, "innerHTML"));
	assert_null(strstr(js, "document.write"));
	assert_null(strstr(js, "setAttribute('on"));
	/* Strong ETag, quoted. */
	assert_int_equal(strlen(etag), 34);
	assert_true(etag[0] == '"' && etag[33] == '"');
}

/* When node is installed, drive embed.js in a fake DOM: it sets the
 * attribute on present and later elements, refreshes, and goes to login on
 * 401 with return_to. Skipped without node. */
static void test_embed_js_behaviour(void **state)
{
	char cmd[1024];
	const char *root = getenv("TSSO_SOURCE_ROOT");
	(void)state;

	if (root == NULL || system("command -v node >/dev/null 2>&1") != 0)
		skip();
	snprintf(cmd, sizeof(cmd),
	         "node '%s/tests/unit/data/embed/embed_js_check.cjs' '%s/src/embed/embed.js'", root,
	         root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_should_remint), cmocka_unit_test(test_err_status),
	    cmocka_unit_test(test_token_json),    cmocka_unit_test(test_token_write),
	    cmocka_unit_test(test_dev_mint),      cmocka_unit_test(test_audit_line),
	    cmocka_unit_test(test_embed_js),      cmocka_unit_test(test_embed_js_behaviour),
	};
	tsso_log_setup(TSSO_LOG_WARN, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
