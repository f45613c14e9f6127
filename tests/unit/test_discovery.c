/* Discovery (OpenID Connect Discovery 1.0 §3, §4) and the metadata/JWKS caches: strict checks,
 * staleness bounds, status. */
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
	op.cfg.issuer = op.issuer;
	op_remove(&op, "discovery.status");
	op_remove(&op, "jwks.status");
	op_write_json(&op, "discovery", op_discovery(&op));
	op_publish_keys(&op, false);
	return op_idp(&op) != NULL ? 0 : -1;
}

#define ISS "https://idp.example/t"

/* Parse d (stolen) against ISS; the reason or "ok". */
static const char *parse(json_t *d, bool dev)
{
	static struct tsso_err err;
	char *s = json_dumps(d, JSON_COMPACT);
	struct oidc_meta *m;

	json_decref(d);
	tsso_err_clear(&err);
	m = oidc_meta_parse(s, strlen(s), ISS, dev, &err);
	free(s);
	if (m == NULL)
		return tsso_err_reason(&err);
	oidc_meta_unref(m);
	return "ok";
}

static json_t *doc(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:[s], s:[s,s,s]}", "issuer", ISS,
	                 "authorization_endpoint", ISS "/authorize", "token_endpoint", ISS "/token",
	                 "jwks_uri", ISS "/keys", "response_types_supported", "code",
	                 "id_token_signing_alg_values_supported", "RS256", "none", "XX999");
}

static json_t *with(const char *name, json_t *v)
{
	json_t *d = doc();

	if (v == NULL)
		json_object_del(d, name);
	else
		json_object_set_new(d, name, v);
	return d;
}

static void test_parse_table(void **state)
{
	static const char *const required[] = {"authorization_endpoint", "token_endpoint",
	                                       "jwks_uri", "response_types_supported", "issuer"};
	static const char bad1[] = "[1]";
	static const char bad2[] = "{\"issuer\":\"https://evil.example\",\"issuer\":\"" ISS "\"}";
	struct tsso_err err = {0};
	struct oidc_meta *m;
	char *s;

	(void)state;
	assert_string_equal(parse(doc(), false), "ok");
	for (size_t i = 0; i < TSSO_ARRAY_LEN(required); i++)
		assert_string_equal(parse(with(required[i], NULL), false), "discovery.malformed");
	/* §4.3: the issuer byte for byte. */
	assert_string_equal(parse(with("issuer", json_string(ISS "/")), false),
	                    "discovery.issuer_mismatch");
	assert_string_equal(parse(with("issuer", json_string("https://IDP.example/t")), false),
	                    "discovery.issuer_mismatch");
	assert_string_equal(parse(with("issuer", json_string("https://evil.example/t")), false),
	                    "discovery.issuer_mismatch");
	assert_string_equal(parse(with("issuer", json_integer(1)), false), "discovery.malformed");
	/* Endpoints: https only (loopback http in development), no fragment. */
	assert_string_equal(
	    parse(with("token_endpoint", json_string("http://idp.example/token")), false),
	    "discovery.malformed");
	assert_string_equal(
	    parse(with("token_endpoint", json_string("http://127.0.0.1/token")), false),
	    "discovery.malformed");
	assert_string_equal(
	    parse(with("token_endpoint", json_string("http://127.0.0.1/token")), true), "ok");
	assert_string_equal(
	    parse(with("token_endpoint", json_string("http://idp.example/t")), true),
	    "discovery.malformed");
	assert_string_equal(parse(with("jwks_uri", json_string(ISS "/keys#frag")), false),
	                    "discovery.malformed");
	assert_string_equal(
	    parse(with("jwks_uri", json_string("https://u:p@idp.example/keys")), false),
	    "discovery.malformed");
	assert_string_equal(parse(with("jwks_uri", json_string("javascript:alert(1)")), false),
	                    "discovery.malformed");
	assert_string_equal(parse(with("userinfo_endpoint", json_integer(3)), false),
	                    "discovery.malformed");
	assert_string_equal(parse(with("end_session_endpoint", json_string("ftp://x/")), false),
	                    "discovery.malformed");
	assert_string_equal(
	    parse(with("response_types_supported", json_pack("[s]", "id_token")), false),
	    "discovery.malformed");
	assert_string_equal(parse(with("response_types_supported", json_string("code")), false),
	                    "discovery.malformed");
	assert_string_equal(
	    parse(with("id_token_signing_alg_values_supported", json_pack("[i]", 1)), false),
	    "discovery.malformed");
	assert_string_equal(
	    parse(with("authorization_response_iss_parameter_supported", json_string("true")),
	          false),
	    "discovery.malformed");
	/* Not an object, duplicates. */
	assert_null(oidc_meta_parse(bad1, strlen(bad1), ISS, false, &err));
	assert_string_equal(tsso_err_reason(&err), "discovery.malformed");
	assert_null(oidc_meta_parse(bad2, strlen(bad2), ISS, false, &err));
	assert_string_equal(tsso_err_reason(&err), "discovery.malformed");
	/* Known algorithms only; "none" is dropped from what is advertised. */
	{
		json_t *d = with("authorization_response_iss_parameter_supported", json_true());

		s = json_dumps(d, JSON_COMPACT);
		json_decref(d);
	}
	m = oidc_meta_parse(s, strlen(s), ISS, false, &err);
	assert_non_null(m);
	assert_true(m->iss_parameter_supported);
	assert_int_equal(m->n_algs, 1);
	assert_string_equal(m->algs[0], "RS256");
	assert_string_equal(m->jwks_uri, ISS "/keys");
	assert_null(m->par_endpoint);
	oidc_meta_unref(m);
	free(s);
}

static void test_status_and_refresh(void **state)
{
	struct tsso_idp_status st;
	struct tsso_err err = {0};

	(void)state;
	tsso_idp_status(op.idp, OP_NOW, &st);
	assert_int_equal(st.health, TSSO_IDP_LOADING);
	assert_int_equal(st.metadata_age, -1);
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW, false, &err), 0);
	tsso_idp_status(op.idp, OP_NOW + 5, &st);
	assert_int_equal(st.health, TSSO_IDP_OK);
	assert_false(st.stale);
	assert_null(st.reason);
	assert_int_equal(st.metadata_age, 5);
	assert_true(st.connections >= 1);
	/* Not due: no fetch even with the IdP down. */
	op_write(&op, "discovery.status", "503");
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW + 10, false, &err), 0);
	/* Forced: fails, the cache keeps serving, status says stale. */
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW + 20, true, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "discovery.unreachable");
	tsso_idp_status(op.idp, OP_NOW + 20, &st);
	assert_int_equal(st.health, TSSO_IDP_OK);
	assert_true(st.stale);
	assert_string_equal(st.reason, "discovery.unreachable");
}

static void test_first_fetch_fails(void **state)
{
	struct tsso_idp_status st;
	struct tsso_login_state *ls = NULL;
	struct tsso_err err = {0};
	char *url = NULL;

	(void)state;
	op_write(&op, "discovery.status", "500");
	assert_int_equal(tsso_idp_begin(op.idp, NULL, OP_NOW, &url, &ls, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "discovery.unreachable");
	tsso_idp_status(op.idp, OP_NOW, &st);
	assert_int_equal(st.health, TSSO_IDP_FAILING);
	assert_string_equal(st.reason, "discovery.unreachable");
	/* Logins right after do not hit the failing IdP again. */
	op_remove(&op, "discovery.auth");
	assert_int_equal(tsso_idp_begin(op.idp, NULL, OP_NOW + 1, &url, &ls, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "discovery.unreachable");
	assert_null(op_read(&op, "discovery.auth"));
	/* Metadata for another issuer, once the retry delay has passed. */
	op_remove(&op, "discovery.status");
	{
		json_t *d = op_discovery(&op);

		json_object_set_new(d, "issuer", json_string("https://evil.example/idp"));
		op_write_json(&op, "discovery", d);
	}
	assert_int_equal(
	    tsso_idp_begin(op.idp, NULL, OP_NOW + TSSO_JWKS_REFETCH_MIN_S, &url, &ls, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "discovery.issuer_mismatch");
	op_write(&op, "discovery", "{\"issuer\":");
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW, true, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "discovery.malformed");
}

/* Served stale for at most TSSO_META_MAX_STALE_S while the IdP is down. */
static void test_bounded_staleness(void **state)
{
	struct tsso_idp_status st;
	struct tsso_login_state *ls = NULL;
	struct tsso_err err = {0};
	char *url = NULL;
	long long later = OP_NOW + TSSO_META_REFRESH_S + 100;

	(void)state;
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW, false, &err), 0);
	op_write(&op, "discovery.status", "503");
	/* Due for refresh, the refresh fails, the login still starts. */
	assert_int_equal(tsso_idp_begin(op.idp, NULL, later, &url, &ls, &err), 0);
	free(url);
	tsso_login_state_free(ls);
	tsso_idp_status(op.idp, later, &st);
	assert_int_equal(st.health, TSSO_IDP_OK);
	assert_true(st.stale);
	/* Past the bound: refused, and /readyz says so. */
	later = OP_NOW + TSSO_META_MAX_STALE_S;
	assert_int_equal(tsso_idp_begin(op.idp, NULL, later, &url, &ls, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "discovery.unreachable");
	tsso_idp_status(op.idp, later, &st);
	assert_int_equal(st.health, TSSO_IDP_FAILING);
	/* The IdP comes back: the next attempt after the retry delay works. */
	op_remove(&op, "discovery.status");
	assert_int_equal(tsso_idp_begin(op.idp, NULL, later + 1, &url, &ls, &err), -1);
	assert_int_equal(
	    tsso_idp_begin(op.idp, NULL, later + TSSO_JWKS_REFETCH_MIN_S, &url, &ls, &err), 0);
	free(url);
	tsso_login_state_free(ls);
}

static void test_jwks_failures(void **state)
{
	struct tsso_err err = {0};
	struct tsso_idp_status st;

	(void)state;
	op_write(&op, "jwks.status", "404");
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW, true, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "jwks.unreachable");
	tsso_idp_status(op.idp, OP_NOW, &st);
	assert_int_equal(st.health, TSSO_IDP_FAILING);
	assert_string_equal(st.reason, "jwks.unreachable");
	op_remove(&op, "jwks.status");
	op_write(&op, "jwks", "{\"keys\":[{\"kty\":\"RSA\"}]}");
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW, true, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "jwks.malformed");
	op_write(&op, "jwks", "{\"keys\":[],\"keys\":[]}");
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW, true, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "jwks.malformed");
	/* A login whose keys cannot be fetched fails with the JWKS reason. */
	{
		struct tsso_login_state *ls = NULL;
		json_t *c;
		char *tok;

		op_write(&op, "jwks.status", "500");
		assert_non_null(op_idp(&op));
		assert_int_equal(op_begin(&op, &ls, NULL), 0);
		c = op_claims(&op, ls->nonce);
		tok = op_sign(&op.rs, c);
		op_token_response(&op, tok, "at");
		assert_string_equal(op_finish(&op, ls, NULL, NULL), "jwks.unreachable");
		/* The next login moments later does not ask the failing JWKS again. */
		op_remove(&op, "jwks.auth");
		assert_string_equal(op_finish(&op, ls, NULL, NULL), "jwks.unreachable");
		assert_null(op_read(&op, "jwks.auth"));
		/* A malformed set: the fail-fast answer keeps the real reason. */
		op_remove(&op, "jwks.status");
		op_write(&op, "jwks", "{\"keys\":\"none\"}");
		assert_non_null(op_idp(&op));
		assert_string_equal(op_finish(&op, ls, NULL, NULL), "jwks.malformed");
		assert_string_equal(op_finish(&op, ls, NULL, NULL), "jwks.malformed");
		free(tok);
		json_decref(c);
		tsso_login_state_free(ls);
	}
}

/* Keys come from the discovered jwks_uri only; a changed jwks_uri is
 * followed at the next refresh. */
static void test_jwks_uri_followed(void **state)
{
	struct tsso_err err = {0};
	json_t *d = op_discovery(&op);
	char uri[200], *auth;

	(void)state;
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW, false, &err), 0);
	snprintf(uri, sizeof(uri), "%s/odd-keys-path", op.issuer);
	json_object_set_new(d, "jwks_uri", json_string(uri));
	op_write_json(&op, "discovery", d);
	auth = op_read(&op, "jwks");
	op_write(&op, "odd-keys-path", auth);
	free(auth);
	op_remove(&op, "odd-keys-path.auth");
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW + 1, true, &err), 0);
	auth = op_read(&op, "odd-keys-path.auth"); /* written when it was fetched */
	assert_non_null(auth);
	free(auth);
}

static void test_issuer_trailing_slash(void **state)
{
	struct tsso_err err = {0};
	char iss[200];
	json_t *d = op_discovery(&op);

	(void)state;
	/* Discovery §4: the '/' is dropped before the well-known suffix, and
	 * the metadata issuer must still be the configured one exactly. */
	snprintf(iss, sizeof(iss), "%s/", op.issuer);
	json_object_set_new(d, "issuer", json_string(iss));
	op_write_json(&op, "discovery", d);
	op.cfg.issuer = iss;
	assert_non_null(op_idp(&op));
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW, false, &err), 0);
	op.cfg.issuer = op.issuer;
	assert_non_null(op_idp(&op));
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW, false, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "discovery.issuer_mismatch");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test_setup(test_status_and_refresh, setup),
	    cmocka_unit_test_setup(test_first_fetch_fails, setup),
	    cmocka_unit_test_setup(test_bounded_staleness, setup),
	    cmocka_unit_test_setup(test_jwks_failures, setup),
	    cmocka_unit_test_setup(test_jwks_uri_followed, setup),
	    cmocka_unit_test_setup(test_issuer_trailing_slash, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
