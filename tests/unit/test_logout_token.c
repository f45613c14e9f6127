/* Back-channel logout tokens (Back-Channel Logout 1.0 §2.4, §2.6): every refusal and its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "oidc_test_op.h"
#include "tsso/limits.h"

#define BCL_EVENT "http://schemas.openid.net/event/backchannel-logout"

static struct test_op op;

static int group_setup(void **state)
{
	(void)state;
	if (op_start(&op) != 0)
		return -1;
	return op_idp(&op) != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	op_stop(&op);
	return 0;
}

static json_t *claims(void)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:{s:{}}}", "iss", op.issuer, "aud",
	                 OP_CLIENT_ID, "iat", (json_int_t)OP_NOW, "jti", "jti-1", "sub", "user-1",
	                 "sid", "session-9", "events", BCL_EVENT);
}

static const char *validate(const char *token, struct tsso_logout_claims *ret)
{
	static struct tsso_err err;
	struct tsso_logout_claims c = {0};

	tsso_err_clear(&err);
	if (tsso_idp_validate_logout_token(op.idp, token, OP_NOW, &c, &err) != 0)
		return tsso_err_reason(&err);
	if (ret != NULL)
		*ret = c;
	else
		tsso_logout_claims_free(&c);
	return "ok";
}

/* Sign c (stolen) with typ logout+jwt and validate. */
static const char *check(json_t *c, const char *typ)
{
	json_t *h = typ != NULL
	                ? json_pack("{s:s, s:s, s:s}", "alg", "RS256", "kid", "rs1", "typ", typ)
	                : json_pack("{s:s, s:s}", "alg", "RS256", "kid", "rs1");
	char *t = op_sign_raw(&op.rs, "RS256", h, c);
	const char *r = validate(t, NULL);

	free(t);
	json_decref(c);
	return r;
}

static json_t *without(const char *name)
{
	json_t *c = claims();

	json_object_del(c, name);
	return c;
}

static json_t *set(const char *name, json_t *v)
{
	json_t *c = claims();

	json_object_set_new(c, name, v);
	return c;
}

static void test_valid(void **state)
{
	struct tsso_logout_claims lc = {0};
	char *t;
	json_t *c = claims();

	(void)state;
	t = op_sign_raw(
	    &op.rs, "RS256",
	    json_pack("{s:s, s:s, s:s}", "alg", "RS256", "kid", "rs1", "typ", "logout+jwt"), c);
	assert_string_equal(validate(t, &lc), "ok");
	assert_string_equal(lc.jti, "jti-1");
	assert_string_equal(lc.sub, "user-1");
	assert_string_equal(lc.sid, "session-9");
	assert_string_equal(lc.iss, op.issuer);
	/* The caller keeps the jti at least as long as the token is acceptable. */
	assert_true(lc.exp >= OP_NOW + TSSO_LOGOUT_TOKEN_MAX_AGE);
	tsso_logout_claims_free(&lc);
	free(t);
	json_decref(c);
	assert_string_equal(check(without("sub"), "logout+jwt"), "ok");
	assert_string_equal(check(without("sid"), "logout+jwt"), "ok");
	assert_string_equal(check(claims(), NULL), "ok");
	assert_string_equal(check(claims(), "JWT"), "ok");
	assert_string_equal(check(claims(), "application/logout+jwt"), "ok");
	assert_string_equal(check(set("exp", json_integer(OP_NOW + 120)), "logout+jwt"), "ok");
}

static void test_refusals(void **state)
{
	(void)state;
	assert_string_equal(check(claims(), "at+jwt"), "logout_token.malformed");
	assert_string_equal(check(set("iss", json_string("https://evil.example")), NULL),
	                    "logout_token.iss_mismatch");
	assert_string_equal(check(without("iss"), NULL), "logout_token.iss_mismatch");
	assert_string_equal(check(set("aud", json_string("other")), NULL),
	                    "logout_token.aud_mismatch");
	assert_string_equal(check(without("aud"), NULL), "logout_token.aud_mismatch");
	assert_string_equal(check(set("aud", json_pack("[s,s]", "other", OP_CLIENT_ID)), NULL),
	                    "logout_token.azp_mismatch");
	assert_string_equal(check(without("iat"), NULL), "logout_token.iat_missing");
	assert_string_equal(check(set("iat", json_integer(OP_NOW + 61)), NULL),
	                    "logout_token.iat_future");
	assert_string_equal(
	    check(set("iat", json_integer(OP_NOW - TSSO_LOGOUT_TOKEN_MAX_AGE - 61)), NULL),
	    "logout_token.too_old");
	assert_string_equal(check(set("exp", json_integer(OP_NOW - 61)), NULL),
	                    "logout_token.expired");
	assert_string_equal(check(without("jti"), NULL), "logout_token.jti_missing");
	assert_string_equal(check(set("jti", json_integer(5)), NULL), "logout_token.jti_missing");
	assert_string_equal(check(without("events"), NULL), "logout_token.events_missing");
	assert_string_equal(check(set("events", json_pack("{s:b}", BCL_EVENT, 1)), NULL),
	                    "logout_token.events_missing");
	assert_string_equal(check(set("events", json_pack("[s]", BCL_EVENT)), NULL),
	                    "logout_token.events_missing");
	assert_string_equal(check(set("events", json_pack("{s:{}}", "http://other/event")), NULL),
	                    "logout_token.events_missing");
	{
		json_t *c = without("sub");

		json_object_del(c, "sid");
		assert_string_equal(check(c, NULL), "logout_token.sub_sid_missing");
	}
	assert_string_equal(check(set("sub", json_integer(1)), NULL), "logout_token.malformed");
	assert_string_equal(check(set("nonce", json_string("n")), NULL),
	                    "logout_token.nonce_present");
}

static void test_signature(void **state)
{
	json_t *c = claims();
	char *t;

	(void)state;
	t = op_sign_raw(NULL, "none", json_pack("{s:s}", "alg", "none"), c);
	assert_string_equal(validate(t, NULL), "logout_token.alg_not_allowed");
	free(t);
	t = op_sign_raw(NULL, "HS256", json_pack("{s:s}", "alg", "HS256"), c);
	assert_string_equal(validate(t, NULL), "logout_token.alg_not_allowed");
	free(t);
	t = op_sign_raw(&op.other, "RS256", json_pack("{s:s, s:s}", "alg", "RS256", "kid", "rs1"),
	                c);
	assert_string_equal(validate(t, NULL), "logout_token.bad_signature");
	free(t);
	t = op_sign(&op.other, c); /* kid rs2, not published */
	assert_string_equal(validate(t, NULL), "logout_token.kid_unknown");
	free(t);
	assert_string_equal(validate("", NULL), "logout_token.malformed");
	assert_string_equal(validate("a.b.c", NULL), "logout_token.malformed");
	json_decref(c);
}

/* An ID token is never a logout token (no events, a nonce). */
static void test_id_token_refused(void **state)
{
	json_t *c = op_claims(&op, "some-nonce");
	char *t = op_sign(&op.rs, c);

	(void)state;
	json_object_set_new(c, "jti", json_string("j"));
	assert_string_equal(validate(t, NULL), "logout_token.jti_missing");
	free(t);
	t = op_sign(&op.rs, c);
	assert_string_equal(validate(t, NULL), "logout_token.events_missing");
	free(t);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_signature),
	    cmocka_unit_test(test_id_token_refused),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
