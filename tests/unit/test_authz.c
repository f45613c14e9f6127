/* Authorization request (PKCE, parameters, PAR), login state and authorization response checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "oidc_test_op.h"
#include "src/oidc/oidc_int.h"
#include "tsso/limits.h"

OP_TEST_GROUP(op)

static int setup(void **state)
{
	(void)state;
	op_now = OP_NOW;
	op.cfg.par = TSSO_PAR_NEVER;
	op.cfg.response_mode = TSSO_RESPONSE_QUERY;
	op.cfg.prompt = NULL;
	op.cfg.max_age = -1;
	op.cfg.acr_values = NULL;
	op.cfg.acr_essential = false;
	json_decref(op.cfg.extra_auth_params);
	op.cfg.extra_auth_params = NULL;
	op_write_json(&op, "discovery", op_discovery(&op));
	op_publish_keys(&op, false);
	return op_idp(&op) != NULL ? 0 : -1;
}

/* RFC 7636 Appendix B: the 32 random octets, their base64url verifier and
 * its S256 challenge. */
static void test_pkce_rfc7636_vector(void **state)
{
	static const unsigned char octets[32] = {
	    116, 24,  223, 180, 151, 153, 224, 37,  79, 250, 96, 125, 216, 173, 187, 186,
	    22,  212, 37,  77,  105, 214, 191, 240, 91, 88,  5,  88,  83,  132, 141, 121};
	char *v = tsso_b64url_encode(octets, sizeof(octets));
	char *c = oidc_pkce_challenge(v);

	(void)state;
	assert_string_equal(v, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
	assert_string_equal(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	free(v);
	free(c);
}

static bool has(const char *url, const char *param)
{
	const char *q = strchr(url, '?');
	size_t n = strlen(param);

	for (const char *p = q; p != NULL; p = strchr(p + 1, '&'))
		if (strncmp(p + 1, param, n) == 0 && (p[1 + n] == '&' || p[1 + n] == '\0'))
			return true;
	return false;
}

static void test_begin_url(void **state)
{
	struct tsso_login_state *ls = NULL, *ls2 = NULL;
	char *url = NULL, *url2 = NULL, *challenge, buf[200];

	(void)state;
	assert_int_equal(op_begin(&op, &ls, &url), 0);
	snprintf(buf, sizeof(buf), "%s/authorize?", op.issuer);
	assert_true(strncmp(url, buf, strlen(buf)) == 0);
	assert_true(has(url, "response_type=code"));
	assert_true(has(url, "client_id=toucan-sso"));
	assert_true(has(url, "redirect_uri=https%3A%2F%2Fapp.example.com%2Fsso%2Facme%2Fcallback"));
	assert_true(has(url, "scope=openid%20email"));
	assert_true(has(url, "code_challenge_method=S256"));
	snprintf(buf, sizeof(buf), "state=%s", ls->state);
	assert_true(has(url, buf));
	snprintf(buf, sizeof(buf), "nonce=%s", ls->nonce);
	assert_true(has(url, buf));
	challenge = oidc_pkce_challenge(ls->code_verifier);
	snprintf(buf, sizeof(buf), "code_challenge=%s", challenge);
	assert_true(has(url, buf));
	free(challenge);
	assert_null(strstr(url, "response_mode"));
	assert_null(strstr(url, "code_verifier"));
	assert_null(strstr(url, ls->code_verifier));
	/* 256 bits each, base64url, fresh per login. */
	assert_int_equal(strlen(ls->state), 43);
	assert_int_equal(strlen(ls->nonce), 43);
	assert_int_equal(strlen(ls->code_verifier), 43);
	assert_int_equal(ls->created_at, OP_NOW);
	assert_string_equal(ls->tenant, "acme");
	assert_int_equal(op_begin(&op, &ls2, &url2), 0);
	assert_string_not_equal(ls->state, ls2->state);
	assert_string_not_equal(ls->nonce, ls2->nonce);
	assert_string_not_equal(ls->code_verifier, ls2->code_verifier);
	assert_string_not_equal(ls->state, ls->nonce);
	tsso_login_state_free(ls);
	tsso_login_state_free(ls2);
	free(url);
	free(url2);
}

static void test_begin_options(void **state)
{
	struct tsso_idp_begin_opts o = {.return_to = "/reports", .login_hint = "ann@acme.example"};
	struct tsso_login_state *ls = NULL;
	struct tsso_err err = {0};
	char *url = NULL;

	(void)state;
	op.cfg.response_mode = TSSO_RESPONSE_FORM_POST;
	op.cfg.prompt = "login";
	op.cfg.max_age = 300;
	op.cfg.acr_values = "gold silver";
	op.cfg.acr_essential = true;
	op.cfg.extra_auth_params = json_pack("{s:s}", "domain_hint", "acme.example");
	assert_non_null(op_idp(&op));
	assert_int_equal(tsso_idp_begin(op.idp, &o, OP_NOW, &url, &ls, &err), 0);
	assert_true(has(url, "response_mode=form_post"));
	assert_true(has(url, "prompt=login"));
	assert_true(has(url, "max_age=300"));
	assert_true(has(url, "acr_values=gold%20silver"));
	assert_true(has(url, "login_hint=ann%40acme.example"));
	assert_true(has(url, "domain_hint=acme.example"));
	assert_non_null(strstr(url, "claims=%7B%22id_token%22"));
	assert_string_equal(ls->return_to, "/reports");
	assert_int_equal(ls->max_age, 300);
	tsso_login_state_free(ls);
	free(url);
}

static void test_reserved_extra_param_refused(void **state)
{
	struct tsso_err err = {0};

	(void)state;
	op.cfg.extra_auth_params = json_pack("{s:s}", "redirect_uri", "https://evil.example/");
	assert_null(tsso_idp_new(&op.cfg, OP_REDIRECT, false, &err));
	assert_string_equal(tsso_err_reason(&err), "oidc.config");
}

/* The login state as it is sealed (tsso_login_state_write). */
static char *ls_text(const struct tsso_login_state *ls)
{
	struct tsso_buf b;

	tsso_buf_init(&b, 4096);
	assert_int_equal(tsso_login_state_write(&b, ls), 0);
	return tsso_buf_take(&b);
}

/* Parse a (tampered) object as the sealed text would carry it. */
static struct tsso_login_state *parse_obj(const json_t *j, struct tsso_err *err)
{
	char *t = json_dumps(j, JSON_COMPACT);
	struct tsso_login_state *ls;

	assert_non_null(t);
	ls = tsso_login_state_parse(t, strlen(t), err);
	free(t);
	return ls;
}

static void test_login_state_json(void **state)
{
	struct tsso_login_state *ls = NULL, *back;
	struct tsso_login_state fixed = {.tenant = "acme",
	                                 .state = "sssssssssssssssssssssss",
	                                 .nonce = "nnnnnnnnnnnnnnnnnnnnnnn",
	                                 .code_verifier =
	                                     "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
	                                 .return_to = "/d?x=\"1\"",
	                                 .created_at = 1800000000,
	                                 .max_age = -1};
	struct tsso_err err = {0};
	json_t *j, *bad;
	char *text;
	static const char *const breakers[] = {"v",  "tenant", "state",  "nonce",
	                                       "cv", "iat",    "max_age"};
	static const char *const texts[] = {
	    /* a repeated member, trailing text, not an object, a real for an integer */
	    "{\"v\":1,\"v\":1,\"tenant\":\"acme\",\"state\":\"sssssssssssssssssssssss\","
	    "\"nonce\":\"nnnnnnnnnnnnnnnnnnnnnnn\",\"cv\":"
	    "\"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\",\"iat\":1,\"max_age\":-1}",
	    "{\"v\":1,\"tenant\":\"acme\",\"state\":\"sssssssssssssssssssssss\","
	    "\"nonce\":\"nnnnnnnnnnnnnnnnnnnnnnn\",\"cv\":"
	    "\"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\",\"iat\":1,\"max_age\":-1}x",
	    "[1]",
	    "{\"v\":1.0,\"tenant\":\"acme\",\"state\":\"sssssssssssssssssssssss\","
	    "\"nonce\":\"nnnnnnnnnnnnnnnnnnnnnnn\",\"cv\":"
	    "\"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\",\"iat\":1,\"max_age\":-1}",
	};

	(void)state;
	/* The exact text sealed: the writer's compact form, rt last. */
	text = ls_text(&fixed);
	assert_string_equal(text,
	                    "{\"v\":1,\"tenant\":\"acme\",\"state\":\"sssssssssssssssssssssss\","
	                    "\"nonce\":\"nnnnnnnnnnnnnnnnnnnnnnn\",\"cv\":"
	                    "\"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\",\"iat\":"
	                    "1800000000,\"max_age\":-1,\"rt\":\"/d?x=\\\"1\\\"\"}");
	back = tsso_login_state_parse(text, strlen(text), &err);
	assert_non_null(back);
	assert_string_equal(back->return_to, "/d?x=\"1\"");
	assert_int_equal(back->created_at, 1800000000);
	tsso_login_state_free(back);
	free(text);

	assert_int_equal(op_begin(&op, &ls, NULL), 0);
	text = ls_text(ls);
	back = tsso_login_state_parse(text, strlen(text), &err);
	assert_non_null(back);
	assert_string_equal(back->state, ls->state);
	assert_string_equal(back->nonce, ls->nonce);
	assert_string_equal(back->code_verifier, ls->code_verifier);
	assert_string_equal(back->tenant, "acme");
	assert_null(back->return_to);
	assert_int_equal(back->created_at, OP_NOW);
	assert_int_equal(back->max_age, -1);
	tsso_login_state_free(back);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	free(text);
	/* Every member is required. */
	for (size_t i = 0; i < TSSO_ARRAY_LEN(breakers); i++) {
		bad = json_deep_copy(j);
		json_object_del(bad, breakers[i]);
		assert_null(parse_obj(bad, &err));
		assert_string_equal(tsso_err_reason(&err), "state.malformed");
		json_decref(bad);
	}
	/* Unknown members, wrong version, short verifier, bad characters, types. */
	bad = json_deep_copy(j);
	json_object_set_new(bad, "admin", json_true());
	assert_null(parse_obj(bad, &err));
	json_object_del(bad, "admin");
	json_object_set_new(bad, "v", json_integer(2));
	assert_null(parse_obj(bad, &err));
	json_object_set_new(bad, "v", json_integer(1));
	json_object_set_new(bad, "cv", json_string("too-short-for-rfc-7636"));
	assert_null(parse_obj(bad, &err));
	json_object_set_new(bad, "cv", json_string("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX/"));
	assert_null(parse_obj(bad, &err));
	json_object_set_new(bad, "cv", json_string("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
	json_object_set_new(bad, "iat", json_string("1800000000"));
	assert_null(parse_obj(bad, &err));
	json_object_set_new(bad, "iat", json_integer(INT64_MIN));
	assert_null(parse_obj(bad, &err));
	json_object_set_new(bad, "iat", json_integer(OP_NOW));
	json_object_set_new(bad, "max_age", json_integer(-2));
	assert_null(parse_obj(bad, &err));
	json_object_set_new(bad, "max_age", json_integer(-1));
	json_object_set_new(bad, "tenant", json_string(""));
	assert_null(parse_obj(bad, &err));
	json_object_set_new(bad, "tenant", json_string("acme"));
	json_object_set_new(bad, "rt", json_integer(1));
	assert_null(parse_obj(bad, &err));
	json_object_del(bad, "rt");
	back = parse_obj(bad, &err);
	assert_non_null(back); /* the repaired copy is accepted again */
	tsso_login_state_free(back);
	json_decref(bad);
	for (size_t i = 0; i < TSSO_ARRAY_LEN(texts); i++) {
		assert_null(tsso_login_state_parse(texts[i], strlen(texts[i]), &err));
		assert_string_equal(tsso_err_reason(&err), "state.malformed");
	}
	json_decref(j);
	tsso_login_state_free(ls);
}

/* Run the response check only (it fails before any token request). */
static const char *respond(const struct tsso_login_state *ls, const struct tsso_oidc_param *p,
                           size_t n, long long now, struct tsso_err *err)
{
	struct tsso_oidc_result r = {0};

	tsso_err_clear(err);
	if (tsso_idp_finish(op.idp, ls, p, n, now, &r, err) == 0) {
		tsso_oidc_result_free(&r);
		return "ok";
	}
	return tsso_err_reason(err);
}

static void test_response_checks(void **state)
{
	struct tsso_login_state *ls = NULL;
	struct tsso_err err = {0};
	char *saved;

	(void)state;
	assert_int_equal(op_begin(&op, &ls, NULL), 0);
	{
		struct tsso_oidc_param p[] = {{"code", "c"},
		                              {"state", "forged-state-value-aaaaaaaaa"}};

		assert_string_equal(respond(ls, p, 2, OP_NOW, &err), "state.mismatch");
	}
	{
		struct tsso_oidc_param p[] = {{"code", "c"}};

		assert_string_equal(respond(ls, p, 1, OP_NOW, &err), "state.mismatch");
	}
	{
		struct tsso_oidc_param p[] = {{"code", "c"}, {"state", ls->state}, {"code", "d"}};

		assert_string_equal(respond(ls, p, 3, OP_NOW, &err), "authz.duplicate_param");
	}
	{
		struct tsso_oidc_param p[] = {
		    {"state", ls->state}, {"state", ls->state}, {"code", "c"}};

		assert_string_equal(respond(ls, p, 3, OP_NOW, &err), "authz.duplicate_param");
	}
	{
		struct tsso_oidc_param p[] = {{"code", "c"}, {"state", ls->state}};

		assert_string_equal(respond(ls, p, 2, OP_NOW + TSSO_LOGIN_STATE_TTL + 1, &err),
		                    "state.expired");
	}
	{
		struct tsso_oidc_param p[] = {
		    {"code", "c"}, {"state", ls->state}, {"iss", "https://evil.example/idp"}};

		assert_string_equal(respond(ls, p, 3, OP_NOW, &err), "authz.iss_mismatch");
	}
	{
		struct tsso_oidc_param p[] = {{"state", ls->state}};

		assert_string_equal(respond(ls, p, 1, OP_NOW, &err), "authz.malformed");
	}
	{
		struct tsso_oidc_param p[] = {{"error", "access_denied"},
		                              {"error_description", "<script>alert(1)</script>"},
		                              {"state", ls->state}};

		assert_string_equal(respond(ls, p, 3, OP_NOW, &err), "authz.error");
		assert_non_null(strstr(err.msg, "access_denied"));
		assert_null(strstr(err.msg, "script"));
	}
	{
		struct tsso_oidc_param p[] = {{"error", "<b>x</b>"}, {"state", ls->state}};

		assert_string_equal(respond(ls, p, 2, OP_NOW, &err), "authz.error");
		assert_null(strstr(err.msg, "<b>"));
	}
	/* Another tenant's login state. */
	saved = ls->tenant;
	ls->tenant = "globex";
	{
		struct tsso_oidc_param p[] = {{"code", "c"}, {"state", ls->state}};

		assert_string_equal(respond(ls, p, 2, OP_NOW, &err), "state.mismatch");
	}
	ls->tenant = saved;
	/* RFC 9207: advertised, so required. */
	{
		json_t *d = op_discovery(&op);
		struct tsso_oidc_param p[] = {{"code", "c"}, {"state", ls->state}};

		json_object_set_new(d, "authorization_response_iss_parameter_supported",
		                    json_true());
		op_write_json(&op, "discovery", d);
		assert_non_null(op_idp(&op));
		assert_string_equal(respond(ls, p, 2, OP_NOW, &err), "authz.iss_missing");
	}
	tsso_login_state_free(ls);
}

static void test_response_ok_with_iss(void **state)
{
	struct tsso_login_state *ls = NULL;
	json_t *c;
	char *tok, *req;

	(void)state;
	assert_int_equal(op_begin(&op, &ls, NULL), 0);
	c = op_claims(&op, ls->nonce);
	tok = op_sign(&op.rs, c);
	op_token_response(&op, tok, "at");
	assert_string_equal(op_finish(&op, ls, op.issuer, NULL), "ok");
	/* The code went to the token endpoint with the PKCE verifier. */
	req = op_read(&op, "token.req");
	assert_non_null(strstr(req, "grant_type=authorization_code"));
	assert_non_null(strstr(req, "code=the-code"));
	assert_non_null(strstr(req, ls->code_verifier));
	assert_non_null(strstr(req, "redirect_uri=https%3A%2F%2Fapp.example.com"));
	free(req);
	free(tok);
	json_decref(c);
	tsso_login_state_free(ls);
}

static void test_par(void **state)
{
	struct tsso_login_state *ls = NULL;
	struct tsso_err err = {0};
	json_t *d = op_discovery(&op);
	char *url = NULL, *req, *auth, ep[200];

	(void)state;
	snprintf(ep, sizeof(ep), "%s/par", op.issuer);
	op.cfg.par = TSSO_PAR_REQUIRED;
	assert_non_null(op_idp(&op));
	/* Required but not offered. */
	assert_int_equal(tsso_idp_begin(op.idp, NULL, OP_NOW, &url, &ls, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "par.required");
	/* Offered and used in auto mode. */
	op.cfg.par = TSSO_PAR_AUTO;
	json_object_set_new(d, "pushed_authorization_request_endpoint", json_string(ep));
	op_write_json(&op, "discovery", d);
	op_write(&op, "par",
	         "{\"request_uri\":\"urn:ietf:params:oauth:request_uri:abc\",\"expires_in\":60}");
	op_write(&op, "par.status", "201");
	assert_non_null(op_idp(&op));
	assert_int_equal(tsso_idp_begin(op.idp, NULL, OP_NOW, &url, &ls, &err), 0);
	assert_true(has(url, "client_id=toucan-sso"));
	assert_true(has(url, "request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc"));
	assert_null(strstr(url, "state="));
	req = op_read(&op, "par.req");
	auth = op_read(&op, "par.auth");
	assert_non_null(strstr(req, ls->state));
	assert_non_null(strstr(req, "code_challenge_method=S256"));
	assert_true(strncmp(auth, "Basic ", 6) == 0);
	free(req);
	free(auth);
	free(url);
	tsso_login_state_free(ls);
	ls = NULL;
	/* The PAR endpoint refusing. */
	op_write(&op, "par", "{\"error\":\"invalid_request\"}");
	op_write(&op, "par.status", "400");
	assert_int_equal(tsso_idp_begin(op.idp, NULL, OP_NOW, &url, &ls, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "par.failed");
	/* Never: not used though offered. */
	op.cfg.par = TSSO_PAR_NEVER;
	assert_non_null(op_idp(&op));
	assert_int_equal(tsso_idp_begin(op.idp, NULL, OP_NOW, &url, &ls, &err), 0);
	assert_null(strstr(url, "request_uri"));
	free(url);
	tsso_login_state_free(ls);
	op_remove(&op, "par.status");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pkce_rfc7636_vector),
	    cmocka_unit_test_setup(test_begin_url, setup),
	    cmocka_unit_test_setup(test_begin_options, setup),
	    cmocka_unit_test_setup(test_reserved_extra_param_refused, setup),
	    cmocka_unit_test_setup(test_login_state_json, setup),
	    cmocka_unit_test_setup(test_response_checks, setup),
	    cmocka_unit_test_setup(test_response_ok_with_iss, setup),
	    cmocka_unit_test_setup(test_par, setup),
	};
	int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);

	json_decref(op.cfg.extra_auth_params);
	return rc;
}
