/* UserInfo (OIDC Core §5.3): Bearer request, JSON and signed responses, sub bound to the ID token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "oidc_test_op.h"

static struct test_op op;

static int group_setup(void **state)
{
	(void)state;
	if (op_start(&op) != 0)
		return -1;
	op.cfg.userinfo = true;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	op_stop(&op);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	op_now = OP_NOW;
	op_remove(&op, "userinfo.status");
	op_remove(&op, "userinfo.ctype");
	op_remove(&op, "userinfo.auth");
	op_write_json(&op, "discovery", op_discovery(&op));
	op_publish_keys(&op, false);
	return op_idp(&op) != NULL ? 0 : -1;
}

/* A full login; the reason, result in *res when given. */
static const char *login(struct tsso_oidc_result *res)
{
	struct tsso_login_state *ls = NULL;
	json_t *c;
	char *tok;
	const char *reason;

	assert_int_equal(op_begin(&op, &ls, NULL), 0);
	c = op_claims(&op, ls->nonce);
	tok = op_sign(&op.rs, c);
	op_token_response(&op, tok, "access-token-1");
	reason = op_finish(&op, ls, NULL, res);
	free(tok);
	json_decref(c);
	tsso_login_state_free(ls);
	return reason;
}

static void test_json_ok(void **state)
{
	struct tsso_oidc_result r = {0};
	char *auth;

	(void)state;
	op_write(&op, "userinfo", "{\"sub\":\"user-1\",\"email\":\"ann@acme.example\"}");
	assert_string_equal(login(&r), "ok");
	assert_string_equal(json_string_value(json_object_get(r.userinfo, "email")),
	                    "ann@acme.example");
	tsso_oidc_result_free(&r);
	/* RFC 6750 §2.1: the access token as a Bearer header. */
	auth = op_read(&op, "userinfo.auth");
	assert_string_equal(auth, "Bearer access-token-1");
	free(auth);
}

static void test_json_refusals(void **state)
{
	static const struct {
		const char *status, *body, *reason;
	} cases[] = {
	    {"200", "{\"sub\":\"user-2\",\"email\":\"mallory@evil.example\"}",
	     "userinfo.sub_mismatch"},
	    {"200", "{\"email\":\"ann@acme.example\"}", "userinfo.sub_mismatch"},
	    {"200", "{\"sub\":7}", "userinfo.sub_mismatch"},
	    {"200", "{\"sub\":\"user-2\",\"sub\":\"user-1\"}", "userinfo.failed"},
	    {"200", "[\"user-1\"]", "userinfo.failed"},
	    {"200", "not json", "userinfo.failed"},
	    {"401", "{\"error\":\"invalid_token\"}", "userinfo.failed"},
	    {"500", "{}", "userinfo.failed"},
	};

	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(cases); i++) {
		const char *got;

		op_write(&op, "userinfo", cases[i].body);
		op_write(&op, "userinfo.status", cases[i].status);
		got = login(NULL);
		if (strcmp(got, cases[i].reason) != 0)
			fail_msg("case %zu: expected %s, got %s", i, cases[i].reason, got);
	}
}

static void signed_userinfo(json_t *claims, const struct test_key *key, const char *alg)
{
	char *t = key != NULL ? op_sign(key, claims)
	                      : op_sign_raw(NULL, alg, json_pack("{s:s}", "alg", alg), claims);

	op_write(&op, "userinfo", t);
	op_write(&op, "userinfo.ctype", "application/jwt");
	free(t);
	json_decref(claims);
}

static void test_signed(void **state)
{
	struct tsso_oidc_result r = {0};

	(void)state;
	signed_userinfo(json_pack("{s:s, s:s, s:s, s:s}", "sub", "user-1", "iss", op.issuer, "aud",
	                          OP_CLIENT_ID, "email", "ann@acme.example"),
	                &op.es, NULL);
	assert_string_equal(login(&r), "ok");
	assert_string_equal(json_string_value(json_object_get(r.userinfo, "email")),
	                    "ann@acme.example");
	tsso_oidc_result_free(&r);
	/* Without iss/aud: accepted (checked only when present). */
	signed_userinfo(json_pack("{s:s}", "sub", "user-1"), &op.rs, NULL);
	assert_string_equal(login(NULL), "ok");
	signed_userinfo(json_pack("{s:s, s:s}", "sub", "user-1", "iss", "https://evil.example"),
	                &op.rs, NULL);
	assert_string_equal(login(NULL), "userinfo.failed");
	signed_userinfo(json_pack("{s:s, s:s}", "sub", "user-1", "aud", "another-client"), &op.rs,
	                NULL);
	assert_string_equal(login(NULL), "userinfo.failed");
	signed_userinfo(json_pack("{s:s, s:I}", "sub", "user-1", "exp", (json_int_t)(OP_NOW - 100)),
	                &op.rs, NULL);
	assert_string_equal(login(NULL), "userinfo.failed");
	signed_userinfo(json_pack("{s:s}", "sub", "user-2"), &op.rs, NULL);
	assert_string_equal(login(NULL), "userinfo.sub_mismatch");
	signed_userinfo(json_pack("{s:s}", "sub", "user-1"), NULL, "none");
	assert_string_equal(login(NULL), "userinfo.failed");
	signed_userinfo(json_pack("{s:s}", "sub", "user-1"), &op.other, NULL); /* unknown kid */
	assert_string_equal(login(NULL), "userinfo.failed");
}

static void test_no_endpoint(void **state)
{
	json_t *d = op_discovery(&op);

	(void)state;
	json_object_del(d, "userinfo_endpoint");
	op_write_json(&op, "discovery", d);
	assert_non_null(op_idp(&op));
	assert_string_equal(login(NULL), "userinfo.failed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_json_ok, setup),
	    cmocka_unit_test_setup(test_json_refusals, setup),
	    cmocka_unit_test_setup(test_signed, setup),
	    cmocka_unit_test_setup(test_no_endpoint, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
