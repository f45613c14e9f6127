/* Token endpoint: response checks (RFC 6749 §5) and every client authentication method (RFC 6749
 * §2.3, OIDC Core §9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "oidc_test_op.h"
#include "src/oidc/oidc_int.h"
#include "tsso/limits.h"

static struct test_op op;

static int group_setup(void **state)
{
	(void)state;
	return op_start(&op);
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
	op.cfg.client_id = OP_CLIENT_ID;
	op.cfg.client_secret.value = OP_CLIENT_SECRET;
	op.cfg.client_secret.len = strlen(OP_CLIENT_SECRET);
	op.cfg.auth_method = TSSO_AUTH_CLIENT_SECRET_BASIC;
	op.cfg.client_private_key_file = NULL;
	op.cfg.client_key_alg = NULL;
	op_remove(&op, "token.status");
	op_remove(&op, "token.req");
	op_remove(&op, "token.auth");
	return op_idp(&op) != NULL ? 0 : -1;
}

static void test_response_table(void **state)
{
	static const struct {
		long status;
		const char *body;
		bool need_id;
		const char *reason;
	} cases[] = {
	    {200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x.y.z\"}", true,
	     "ok"},
	    {200, "{\"access_token\":\"a\",\"token_type\":\"bearer\",\"id_token\":\"x.y.z\"}", true,
	     "ok"},
	    {200,
	     "{\"access_token\":\"a\",\"token_type\":\"BEARER\",\"id_token\":\"x\",\"expires_in\":"
	     "60}",
	     true, "ok"},
	    {200, "{\"access_token\":\"a\",\"token_type\":\"DPoP\",\"id_token\":\"x.y.z\"}", true,
	     "token.token_type"},
	    {200, "{\"access_token\":\"a\",\"token_type\":\"mac\",\"id_token\":\"x.y.z\"}", true,
	     "token.token_type"},
	    {200, "{\"access_token\":\"a\",\"id_token\":\"x.y.z\"}", true, "token.token_type"},
	    {200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\"}", true,
	     "token.id_token_missing"},
	    {200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\"}", false, "ok"},
	    {200, "{\"token_type\":\"Bearer\",\"id_token\":\"x.y.z\"}", true, "token.malformed"},
	    {200, "{\"access_token\":7,\"token_type\":\"Bearer\",\"id_token\":\"x\"}", true,
	     "token.malformed"},
	    {200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":[]}", true,
	     "token.malformed"},
	    {200,
	     "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x\",\"expires_in\":"
	     "\"60\"}",
	     true, "token.malformed"},
	    {200,
	     "{\"access_token\":\"a\",\"access_token\":\"b\",\"token_type\":\"Bearer\",\"id_"
	     "token\":\"x\"}",
	     true, "token.malformed"},
	    {200, "[\"access_token\"]", true, "token.malformed"},
	    {200,
	     "{\"access_token\":\"a\\r\\nX-Evil: 1\",\"token_type\":\"Bearer\",\"id_token\":\"x\"}",
	     true, "token.malformed"},
	    {200, "{\"access_token\":\"a b\",\"token_type\":\"Bearer\",\"id_token\":\"x\"}", true,
	     "token.malformed"},
	    {200, "<html>oops</html>", true, "token.malformed"},
	    /* The fast reading and the jansson one agree (tsso/jsonflat.h). */
	    {200,
	     "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x\",\"scope\":"
	     "\"openid\",\"not-before-policy\":0,\"x\":[1,-2.5e3,{\"y\":null}],\"b\":true,"
	     "\"o\":{\"k\":\"v\"},\"expires_in\":3600}",
	     true, "ok"},
	    {200,
	     "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x\",\"expires_in\":"
	     "60.7}",
	     true, "ok"},
	    {200,
	     "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x\",\"expires_in\":"
	     "-1}",
	     true, "token.malformed"},
	    {200,
	     "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x\",\"expires_in\":"
	     "99999999999999999999}",
	     true, "token.malformed"},
	    {200,
	     "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x\",\"n\":"
	     "99999999999999999999}",
	     true, "token.malformed"},
	    {200,
	     "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x\",\"n\":[1e400]}",
	     true, "token.malformed"},
	    {200,
	     "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x\",\"o\":{\"k\":1,"
	     "\"\\u006b\":2}}",
	     true, "token.malformed"},
	    {200,
	     "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"token_type\":\"DPoP\",\"id_"
	     "token\":\"x\"}",
	     true, "token.malformed"},
	    {200,
	     "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x\",\"s\":"
	     "\"\\udc00\"}",
	     true, "token.malformed"},
	    {200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x\"} x", true,
	     "token.malformed"},
	    {200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"id_token\":\"x\",}", true,
	     "token.malformed"},
	    {200, "", true, "token.malformed"},
	    {400, "{\"error\":\"invalid_grant\"}", true, "token.error"},
	    {401, "{\"error\":\"invalid_client\"}", true, "token.error"},
	    {400, "not json", true, "token.http_error"},
	    {500, "{\"error\":\"server_error\"}", true, "token.http_error"},
	    {302, "", true, "token.http_error"},
	};

	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(cases); i++) {
		struct oidc_tokens t = {.expires_in = -1};
		struct tsso_err err = {0};
		int rc = oidc_token_response(cases[i].status, cases[i].body, strlen(cases[i].body),
		                             cases[i].need_id, &t, &err);
		const char *got = rc == 0 ? "ok" : tsso_err_reason(&err);

		if (strcmp(got, cases[i].reason) != 0)
			fail_msg("case %zu: expected %s, got %s", i, cases[i].reason, got);
		if (rc == 0)
			assert_string_equal(t.access_token, "a");
		if (rc == 0 && strstr(cases[i].body, "\"expires_in\":3600") != NULL)
			assert_int_equal(t.expires_in, 3600);
		if (rc == 0 && strstr(cases[i].body, "\"expires_in\":60.7") != NULL)
			assert_int_equal(t.expires_in, 60);
		oidc_tokens_clear(&t);
	}
}

static void test_error_code_escaped(void **state)
{
	struct oidc_tokens t = {0};
	struct tsso_err err = {0};
	const char *body = "{\"error\":\"<script>x</script>\"}";

	(void)state;
	assert_int_equal(oidc_token_response(400, body, strlen(body), true, &t, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "token.error");
	assert_null(strstr(err.msg, "<"));
}

/* Run a login whose token endpoint refuses, and return what it received. */
static void exchange(char **ret_req, char **ret_auth)
{
	struct tsso_login_state *ls = NULL;

	op_write(&op, "token", "{\"error\":\"invalid_grant\"}");
	op_write(&op, "token.status", "400");
	assert_int_equal(op_begin(&op, &ls, NULL), 0);
	assert_string_equal(op_finish(&op, ls, NULL, NULL), "token.error");
	*ret_req = op_read(&op, "token.req");
	*ret_auth = op_read(&op, "token.auth");
	assert_non_null(*ret_req);
	assert_non_null(*ret_auth);
	tsso_login_state_free(ls);
}

static void test_client_secret_basic(void **state)
{
	char *req, *auth, *expect;

	(void)state;
	/* RFC 6749 §2.3.1: each part form-urlencoded before base64. */
	op.cfg.client_id = "toucan:sso";
	op.cfg.client_secret.value = "s3cret+/ &:%";
	op.cfg.client_secret.len = strlen("s3cret+/ &:%");
	assert_non_null(op_idp(&op));
	exchange(&req, &auth);
	expect = oidc_b64_std("toucan%3Asso:s3cret%2B%2F+%26%3A%25", 35);
	assert_true(strncmp(auth, "Basic ", 6) == 0);
	assert_string_equal(auth + 6, expect);
	assert_null(strstr(req, "client_secret"));
	assert_null(strstr(req, "s3cret"));
	free(expect);
	free(req);
	free(auth);
}

static void test_client_secret_post(void **state)
{
	char *req, *auth;

	(void)state;
	op.cfg.auth_method = TSSO_AUTH_CLIENT_SECRET_POST;
	assert_non_null(op_idp(&op));
	exchange(&req, &auth);
	assert_string_equal(auth, "");
	assert_non_null(strstr(req, "client_id=toucan-sso"));
	assert_non_null(strstr(req, "client_secret=" OP_CLIENT_SECRET));
	free(req);
	free(auth);
}

static void test_public_client(void **state)
{
	char *req, *auth;

	(void)state;
	op.cfg.auth_method = TSSO_AUTH_NONE;
	assert_non_null(op_idp(&op));
	exchange(&req, &auth);
	assert_string_equal(auth, "");
	assert_non_null(strstr(req, "client_id=toucan-sso"));
	assert_null(strstr(req, "client_secret"));
	assert_non_null(strstr(req, "code_verifier="));
	free(req);
	free(auth);
}

/* Pull client_assertion out of a form body; new string. */
static char *assertion_of(const char *req)
{
	const char *p = strstr(req, "client_assertion=");
	size_t n;

	assert_non_null(p);
	p += strlen("client_assertion=");
	n = strcspn(p, "&");
	return strndup(p, n);
}

/* Check an assertion's signature and claims (RFC 7523 §3). */
static void check_assertion(const char *req, const struct tsso_jwks *jwks, const char *alg,
                            const void *hmac, size_t hmac_len)
{
	char *a = assertion_of(req), aud[200];
	struct tsso_err err = {0};
	struct tsso_jws *jws = tsso_jws_parse(a, &err);
	const char *algs[] = {alg};
	json_t *c;

	assert_non_null(strstr(req, "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-"
	                            "assertion-type%3Ajwt-bearer"));
	assert_non_null(jws);
	assert_string_equal(tsso_jws_alg(jws), alg);
	assert_int_equal(tsso_jws_verify(jws, jwks, algs, 1, hmac, hmac_len, &err), 0);
	c = tsso_jws_claims(jws);
	snprintf(aud, sizeof(aud), "%s/token", op.issuer);
	assert_string_equal(json_string_value(json_object_get(c, "iss")), OP_CLIENT_ID);
	assert_string_equal(json_string_value(json_object_get(c, "sub")), OP_CLIENT_ID);
	assert_string_equal(json_string_value(json_object_get(c, "aud")), aud);
	assert_true(json_string_length(json_object_get(c, "jti")) >= 20);
	assert_int_equal(json_integer_value(json_object_get(c, "iat")), OP_NOW);
	assert_int_equal(json_integer_value(json_object_get(c, "exp")),
	                 OP_NOW + TSSO_CLIENT_ASSERTION_TTL);
	tsso_jws_free(jws);
	free(a);
}

static void test_client_secret_jwt(void **state)
{
	char *req, *auth;

	(void)state;
	op.cfg.auth_method = TSSO_AUTH_CLIENT_SECRET_JWT;
	assert_non_null(op_idp(&op));
	exchange(&req, &auth);
	assert_string_equal(auth, "");
	assert_null(strstr(req, "client_secret="));
	check_assertion(req, NULL, "HS256", OP_CLIENT_SECRET, strlen(OP_CLIENT_SECRET));
	free(req);
	free(auth);
}

static void private_key_jwt(const char *type, const char *param, const char *alg)
{
	EVP_PKEY *pkey = strcmp(type, "RSA") == 0
	                     ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
	                     : EVP_PKEY_Q_keygen(NULL, NULL, "EC", param);
	FILE *f = fopen(op_path(&op, "client.pem"), "w");
	struct tsso_signer *s;
	struct tsso_jwks *jwks;
	struct tsso_err err = {0};
	char *req, *auth, *jwks_text;
	json_t *jwk;

	assert_non_null(f);
	PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	op.cfg.auth_method = TSSO_AUTH_PRIVATE_KEY_JWT;
	op.cfg.client_private_key_file = strdup(op_path(&op, "client.pem"));
	op.cfg.client_key_alg = (char *)alg;
	assert_non_null(op_idp(&op));
	exchange(&req, &auth);
	assert_string_equal(auth, "");
	/* The public half, as the IdP would have it registered. */
	s = tsso_signer_load_pem(op.cfg.client_private_key_file, alg, NULL, &err);
	assert_non_null(s);
	jwk = json_pack("{s:[o]}", "keys", tsso_signer_public_jwk(s));
	jwks_text = json_dumps(jwk, JSON_COMPACT);
	json_decref(jwk);
	jwks = tsso_jwks_parse(jwks_text, strlen(jwks_text), &err);
	assert_non_null(jwks);
	check_assertion(req, jwks, alg, NULL, 0);
	tsso_jwks_free(jwks);
	free(jwks_text);
	tsso_signer_free(s);
	free(req);
	free(auth);
	free(op.cfg.client_private_key_file);
	op.cfg.client_private_key_file = NULL;
	EVP_PKEY_free(pkey);
}

static void test_private_key_jwt_rs256(void **state)
{
	(void)state;
	private_key_jwt("RSA", NULL, "RS256");
}

static void test_private_key_jwt_es256(void **state)
{
	(void)state;
	private_key_jwt("EC", "P-256", "ES256");
}

static void test_private_key_missing(void **state)
{
	struct tsso_err err = {0};

	(void)state;
	op.cfg.auth_method = TSSO_AUTH_PRIVATE_KEY_JWT;
	op.cfg.client_private_key_file = TSSO_TEST_DATA "/oidc/no-such-key.pem";
	assert_null(tsso_idp_new(&op.cfg, OP_REDIRECT, false, &err));
	assert_string_equal(tsso_err_reason(&err), "key.load_failed");
	op.cfg.client_private_key_file = NULL;
}

/* Through the whole login: what the token endpoint answers decides. */
static void test_endpoint_failures(void **state)
{
	static const struct {
		const char *status, *body, *reason;
	} cases[] = {
	    {"500", "{\"error\":\"server_error\"}", "token.http_error"},
	    {"200", "garbage", "token.malformed"},
	    {"200", "{\"access_token\":\"a\",\"token_type\":\"Bearer\"}", "token.id_token_missing"},
	    {"200", "{\"access_token\":\"a\",\"token_type\":\"N_A\",\"id_token\":\"x\"}",
	     "token.token_type"},
	    {"400", "{\"error\":\"invalid_grant\"}", "token.error"},
	};
	struct tsso_login_state *ls = NULL;

	(void)state;
	assert_int_equal(op_begin(&op, &ls, NULL), 0);
	for (size_t i = 0; i < TSSO_ARRAY_LEN(cases); i++) {
		const char *got;

		op_write(&op, "token", cases[i].body);
		op_write(&op, "token.status", cases[i].status);
		got = op_finish(&op, ls, NULL, NULL);
		if (strcmp(got, cases[i].reason) != 0)
			fail_msg("case %zu: expected %s, got %s", i, cases[i].reason, got);
	}
	/* Token endpoint unreachable (gone from the server). */
	op_remove(&op, "token");
	op_remove(&op, "token.status");
	assert_string_equal(op_finish(&op, ls, NULL, NULL), "token.http_error");
	tsso_login_state_free(ls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_response_table),
	    cmocka_unit_test(test_error_code_escaped),
	    cmocka_unit_test_setup(test_client_secret_basic, setup),
	    cmocka_unit_test_setup(test_client_secret_post, setup),
	    cmocka_unit_test_setup(test_public_client, setup),
	    cmocka_unit_test_setup(test_client_secret_jwt, setup),
	    cmocka_unit_test_setup(test_private_key_jwt_rs256, setup),
	    cmocka_unit_test_setup(test_private_key_jwt_es256, setup),
	    cmocka_unit_test_setup(test_private_key_missing, setup),
	    cmocka_unit_test_setup(test_endpoint_failures, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
