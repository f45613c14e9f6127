/* ID token validation (OIDC Core §3.1.3.7) through tsso_idp_finish against the fake OP: every
 * check, its refusal and its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "oidc_test_op.h"
#include "tsso/limits.h"

OP_TEST_GROUP(op)

/* Each test starts from the default tenant, keys and metadata. */
static int setup(void **state)
{
	(void)state;
	op_now = OP_NOW;
	op.cfg.allow_hmac_id_token = false;
	op.cfg.max_age = -1;
	op.cfg.id_token_algs.n = 0;
	op.cfg.acr_essential = false;
	op.cfg.acr_values = NULL;
	op_write_json(&op, "discovery", op_discovery(&op));
	op_publish_keys(&op, false);
	return op_idp(&op) != NULL ? 0 : -1;
}

/* One login whose ID token has claims changed by mut, signed by key. */
typedef void (*mutate_fn)(json_t *claims);

static const char *login_with(const struct test_key *key, mutate_fn mut,
                              struct tsso_oidc_result *res)
{
	struct tsso_login_state *ls = NULL;
	json_t *claims;
	char *tok;
	const char *reason;

	assert_int_equal(op_begin(&op, &ls, NULL), 0);
	claims = op_claims(&op, ls->nonce);
	if (mut != NULL)
		mut(claims);
	tok = op_sign(key, claims);
	op_token_response(&op, tok, "access-token-1");
	reason = op_finish(&op, ls, NULL, res);
	json_decref(claims);
	free(tok);
	tsso_login_state_free(ls);
	return reason;
}

static void set_iss_other(json_t *c)
{
	json_object_set_new(c, "iss", json_string("https://evil.example/idp"));
}
static void set_iss_slash(json_t *c)
{
	char buf[200];

	snprintf(buf, sizeof(buf), "%s/", op.issuer);
	json_object_set_new(c, "iss", json_string(buf));
}
static void del_iss(json_t *c)
{
	json_object_del(c, "iss");
}
static void set_aud_other(json_t *c)
{
	json_object_set_new(c, "aud", json_string("someone-else"));
}
static void set_aud_multi(json_t *c)
{
	json_object_set_new(c, "aud", json_pack("[s,s]", "someone-else", OP_CLIENT_ID));
}
static void set_aud_multi_azp(json_t *c)
{
	set_aud_multi(c);
	json_object_set_new(c, "azp", json_string(OP_CLIENT_ID));
}
static void set_aud_multi_azp_other(json_t *c)
{
	set_aud_multi(c);
	json_object_set_new(c, "azp", json_string("someone-else"));
}
static void set_azp_other(json_t *c)
{
	json_object_set_new(c, "azp", json_string("someone-else"));
}
static void set_aud_array_without_us(json_t *c)
{
	json_object_set_new(c, "aud", json_pack("[s,s]", "a", "b"));
}
static void del_exp(json_t *c)
{
	json_object_del(c, "exp");
}
static void set_exp_past(json_t *c)
{
	json_object_set_new(c, "exp", json_integer(OP_NOW - 60)); /* leeway 60: now >= exp + 60 */
}
static void set_exp_in_leeway(json_t *c)
{
	json_object_set_new(c, "exp", json_integer(OP_NOW - 59));
}
static void set_exp_string(json_t *c)
{
	json_object_set_new(c, "exp", json_string("1900000000"));
}
static void set_exp_real(json_t *c)
{
	json_object_set_new(c, "exp", json_real((double)OP_NOW + 300.5));
}
static void set_exp_huge(json_t *c)
{
	json_object_set_new(c, "exp", json_integer(INT64_MAX));
}
static void del_iat(json_t *c)
{
	json_object_del(c, "iat");
}
static void set_iat_future(json_t *c)
{
	json_object_set_new(c, "iat", json_integer(OP_NOW + 61));
}
static void set_iat_in_leeway(json_t *c)
{
	json_object_set_new(c, "iat", json_integer(OP_NOW + 60));
}
static void set_nbf_future(json_t *c)
{
	json_object_set_new(c, "nbf", json_integer(OP_NOW + 61));
}
static void set_nbf_in_leeway(json_t *c)
{
	json_object_set_new(c, "nbf", json_integer(OP_NOW + 60));
}
static void del_nonce(json_t *c)
{
	json_object_del(c, "nonce");
}
static void set_nonce_other(json_t *c)
{
	json_object_set_new(c, "nonce", json_string("another-login-nonce-aaaaaaaaaaaaaaaaa"));
}
static void set_nonce_number(json_t *c)
{
	json_object_set_new(c, "nonce", json_integer(7));
}
static void set_at_hash_ok(json_t *c)
{
	char *h = tsso_jose_half_hash("RS256", "access-token-1");

	json_object_set_new(c, "at_hash", json_string(h));
	free(h);
}
static void set_at_hash_bad(json_t *c)
{
	char *h = tsso_jose_half_hash("RS256", "another-access-token");

	json_object_set_new(c, "at_hash", json_string(h));
	free(h);
}
static void del_sub(json_t *c)
{
	json_object_del(c, "sub");
}
static void set_sub_empty(json_t *c)
{
	json_object_set_new(c, "sub", json_string(""));
}
static void set_sub_number(json_t *c)
{
	json_object_set_new(c, "sub", json_integer(12));
}
static void set_sub_long(json_t *c)
{
	char buf[257];

	memset(buf, 'a', 256);
	buf[256] = '\0';
	json_object_set_new(c, "sub", json_string(buf));
}
static void set_sub_255(json_t *c)
{
	char buf[256];

	memset(buf, 'a', 255);
	buf[255] = '\0';
	json_object_set_new(c, "sub", json_string(buf));
}
static void set_sid(json_t *c)
{
	json_object_set_new(c, "sid", json_string("session-9"));
}
static void set_auth_time_recent(json_t *c)
{
	json_object_set_new(c, "auth_time", json_integer(OP_NOW - 100));
}
static void set_auth_time_old(json_t *c)
{
	json_object_set_new(c, "auth_time", json_integer(OP_NOW - 1000));
}
static void set_acr_gold(json_t *c)
{
	json_object_set_new(c, "acr", json_string("gold"));
}
static void set_acr_bronze(json_t *c)
{
	json_object_set_new(c, "acr", json_string("bronze"));
}

static const struct {
	const char *name;
	mutate_fn mut;
	const char *reason;
} cases[] = {
    {"valid", NULL, "ok"},
    {"iss other", set_iss_other, "id_token.iss_mismatch"},
    {"iss with extra slash", set_iss_slash, "id_token.iss_mismatch"},
    {"iss missing", del_iss, "id_token.iss_mismatch"},
    {"aud other", set_aud_other, "id_token.aud_mismatch"},
    {"aud list without us", set_aud_array_without_us, "id_token.aud_mismatch"},
    {"aud list, no azp", set_aud_multi, "id_token.azp_mismatch"},
    {"aud list, azp us", set_aud_multi_azp, "ok"},
    {"aud list, azp other", set_aud_multi_azp_other, "id_token.azp_mismatch"},
    {"azp other", set_azp_other, "id_token.azp_mismatch"},
    {"exp missing", del_exp, "id_token.exp_missing"},
    {"exp past", set_exp_past, "id_token.expired"},
    {"exp within leeway", set_exp_in_leeway, "ok"},
    {"exp string", set_exp_string, "id_token.malformed"},
    {"exp fractional", set_exp_real, "ok"},
    {"exp overflowing", set_exp_huge, "id_token.malformed"},
    {"iat missing", del_iat, "id_token.iat_missing"},
    {"iat future", set_iat_future, "id_token.iat_future"},
    {"iat within leeway", set_iat_in_leeway, "ok"},
    {"nbf future", set_nbf_future, "id_token.nbf_future"},
    {"nbf within leeway", set_nbf_in_leeway, "ok"},
    {"nonce missing", del_nonce, "id_token.nonce_missing"},
    {"nonce other", set_nonce_other, "id_token.nonce_mismatch"},
    {"nonce number", set_nonce_number, "id_token.nonce_mismatch"},
    {"at_hash right", set_at_hash_ok, "ok"},
    {"at_hash wrong", set_at_hash_bad, "id_token.at_hash_mismatch"},
    {"sub missing", del_sub, "id_token.sub_missing"},
    {"sub empty", set_sub_empty, "id_token.sub_missing"},
    {"sub number", set_sub_number, "id_token.sub_missing"},
    {"sub 256 chars", set_sub_long, "id_token.malformed"},
    {"sub 255 chars", set_sub_255, "ok"},
};

static void test_claim_checks(void **state)
{
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(cases); i++) {
		const char *got = login_with(&op.rs, cases[i].mut, NULL);

		if (strcmp(got, cases[i].reason) != 0)
			fail_msg("case '%s': expected %s, got %s", cases[i].name, cases[i].reason,
			         got);
	}
}

static void test_result(void **state)
{
	struct tsso_oidc_result r = {0};

	(void)state;
	assert_string_equal(login_with(&op.es, set_sid, &r), "ok");
	assert_string_equal(r.sub, "user-1");
	assert_string_equal(r.sid, "session-9");
	assert_string_equal(r.access_token, "access-token-1");
	assert_string_equal(r.refresh_token, "rt-1");
	assert_int_equal(r.access_expires_at, OP_NOW + 300);
	assert_int_equal(r.id_token_exp, OP_NOW + 300);
	assert_string_equal(json_string_value(json_object_get(r.claims, "iss")), op.issuer);
	assert_null(r.userinfo);
	tsso_oidc_result_free(&r);
}

static void test_max_age(void **state)
{
	(void)state;
	op.cfg.max_age = 600;
	assert_non_null(op_idp(&op));
	assert_string_equal(login_with(&op.rs, NULL, NULL), "id_token.auth_time_missing");
	assert_string_equal(login_with(&op.rs, set_auth_time_recent, NULL), "ok");
	/* 1000 s ago > max_age 600 + leeway 60. */
	assert_string_equal(login_with(&op.rs, set_auth_time_old, NULL),
	                    "id_token.auth_time_too_old");
}

static void test_acr_essential(void **state)
{
	(void)state;
	op.cfg.acr_values = "gold silver";
	op.cfg.acr_essential = true;
	assert_non_null(op_idp(&op));
	assert_string_equal(login_with(&op.rs, NULL, NULL), "id_token.acr_mismatch");
	assert_string_equal(login_with(&op.rs, set_acr_bronze, NULL), "id_token.acr_mismatch");
	assert_string_equal(login_with(&op.rs, set_acr_gold, NULL), "ok");
}

/* A login whose token is built by build(nonce). */
static const char *login_token(char *(*build)(const char *nonce))
{
	struct tsso_login_state *ls = NULL;
	char *tok;
	const char *reason;

	assert_int_equal(op_begin(&op, &ls, NULL), 0);
	tok = build(ls->nonce);
	op_token_response(&op, tok, "access-token-1");
	reason = op_finish(&op, ls, NULL, NULL);
	free(tok);
	tsso_login_state_free(ls);
	return reason;
}

static char *tok_none(const char *nonce)
{
	json_t *c = op_claims(&op, nonce);
	char *t = op_sign_raw(NULL, "none", json_pack("{s:s}", "alg", "none"), c);

	json_decref(c);
	return t;
}
static char *tok_hs256(const char *nonce)
{
	json_t *c = op_claims(&op, nonce);
	char *t = op_sign_raw(NULL, "HS256", json_pack("{s:s}", "alg", "HS256"), c);

	json_decref(c);
	return t;
}
static char *tok_wrong_key(const char *nonce)
{
	/* Signed by a key the IdP does not publish, claiming the published kid. */
	json_t *c = op_claims(&op, nonce);
	char *t = op_sign_raw(&op.other, "RS256",
	                      json_pack("{s:s, s:s}", "alg", "RS256", "kid", "rs1"), c);

	json_decref(c);
	return t;
}
static char *tok_es_wrong_key(const char *nonce)
{
	struct test_key k = {0};
	json_t *c = op_claims(&op, nonce);
	char *t;

	assert_int_equal(op_key(&k, "EC", "P-256", "ES256", "x"), 0);
	t = op_sign_raw(&k, "ES256", json_pack("{s:s, s:s}", "alg", "ES256", "kid", "es1"), c);
	op_key_free(&k);
	json_decref(c);
	return t;
}
static char *tok_unknown_kid(const char *nonce)
{
	json_t *c = op_claims(&op, nonce);
	char *t = op_sign(&op.other, c);

	json_decref(c);
	return t;
}
static char *tok_no_kid_rs(const char *nonce)
{
	json_t *c = op_claims(&op, nonce);
	char *t = op_sign_raw(&op.rs, "RS256", json_pack("{s:s}", "alg", "RS256"), c);

	json_decref(c);
	return t;
}
static char *tok_es_with_rsa_kid(const char *nonce)
{
	json_t *c = op_claims(&op, nonce);
	char *t =
	    op_sign_raw(&op.es, "ES256", json_pack("{s:s, s:s}", "alg", "ES256", "kid", "rs1"), c);

	json_decref(c);
	return t;
}
static char *tok_tampered(const char *nonce)
{
	/* A signed token whose payload is swapped for another (sub "admin"). */
	json_t *c = op_claims(&op, nonce);
	char *t = op_sign(&op.rs, c), *body, *pb, *out;
	const char *sig = strrchr(t, '.');
	size_t hlen = (size_t)(strchr(t, '.') - t), n;

	json_object_set_new(c, "sub", json_string("admin"));
	body = json_dumps(c, JSON_COMPACT);
	pb = tsso_b64url_encode(body, strlen(body));
	n = hlen + strlen(pb) + strlen(sig) + 2;
	out = malloc(n);
	snprintf(out, n, "%.*s.%s%s", (int)hlen, t, pb, sig);
	free(t);
	free(body);
	free(pb);
	json_decref(c);
	return out;
}
static char *tok_garbage(const char *nonce)
{
	(void)nonce;
	return strdup("not.a-token");
}
static char *tok_duplicate_iss(const char *nonce)
{
	/* {"iss":"evil","iss":"<ours>",...}: refused, not "last one wins". */
	json_t *c = op_claims(&op, nonce);
	char *body = json_dumps(c, JSON_COMPACT), *dup = malloc(strlen(body) + 64), *t;
	char *hb, *pb;

	snprintf(dup, strlen(body) + 64, "{\"iss\":\"https://evil.example\",%s", body + 1);
	hb = tsso_b64url_encode("{\"alg\":\"RS256\",\"kid\":\"rs1\"}", 27);
	pb = tsso_b64url_encode(dup, strlen(dup));
	t = malloc(strlen(hb) + strlen(pb) + 16);
	snprintf(t, strlen(hb) + strlen(pb) + 16, "%s.%s.AAAA", hb, pb);
	free(hb);
	free(pb);
	free(body);
	free(dup);
	json_decref(c);
	return t;
}
static char *tok_logout_typed(const char *nonce)
{
	json_t *c = op_claims(&op, nonce);
	char *t = op_sign_raw(
	    &op.rs, "RS256",
	    json_pack("{s:s, s:s, s:s}", "alg", "RS256", "kid", "rs1", "typ", "logout+jwt"), c);

	json_decref(c);
	return t;
}
static char *tok_jwe(const char *nonce)
{
	(void)nonce;
	return strdup("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.AAAA.AAAA.AAAA.AAAA");
}

static void test_signature_checks(void **state)
{
	(void)state;
	assert_string_equal(login_token(tok_none), "id_token.alg_not_allowed");
	assert_string_equal(login_token(tok_hs256), "id_token.alg_not_allowed");
	assert_string_equal(login_token(tok_wrong_key), "id_token.bad_signature");
	assert_string_equal(login_token(tok_es_wrong_key), "id_token.bad_signature");
	assert_string_equal(login_token(tok_tampered), "id_token.bad_signature");
	assert_string_equal(login_token(tok_es_with_rsa_kid), "id_token.no_matching_key");
	assert_string_equal(login_token(tok_garbage), "id_token.malformed");
	assert_string_equal(login_token(tok_duplicate_iss), "id_token.malformed");
	assert_string_equal(login_token(tok_jwe), "id_token.decrypt_failed");
	assert_string_equal(login_token(tok_logout_typed), "id_token.malformed");
	/* Without kid: fine with exactly one RSA key, ambiguous with two. */
	assert_string_equal(login_token(tok_no_kid_rs), "ok");
	op_publish_keys(&op, true);
	assert_non_null(op_idp(&op));
	assert_string_equal(login_token(tok_no_kid_rs), "id_token.ambiguous_key");
}

static void test_hmac_opt_in(void **state)
{
	(void)state;
	op.cfg.allow_hmac_id_token = true;
	assert_non_null(op_idp(&op));
	assert_string_equal(login_token(tok_hs256), "ok");
	assert_string_equal(login_token(tok_none), "id_token.alg_not_allowed");
}

static void test_alg_allow_list(void **state)
{
	char *algs[] = {"ES256", "none", "HS256"};

	(void)state;
	/* The tenant's list wins over the advertised one; none and HS* (not
	 * opted in) are dropped even when listed. */
	op.cfg.id_token_algs.v = algs;
	op.cfg.id_token_algs.n = 3;
	assert_non_null(op_idp(&op));
	assert_string_equal(login_with(&op.rs, NULL, NULL), "id_token.alg_not_allowed");
	assert_string_equal(login_with(&op.es, NULL, NULL), "ok");
	assert_string_equal(login_token(tok_hs256), "id_token.alg_not_allowed");
	assert_string_equal(login_token(tok_none), "id_token.alg_not_allowed");
	op.cfg.id_token_algs.n = 0;
	/* Default: the advertised list within the safe set. */
	op_write(&op, "discovery", "");
	{
		json_t *d = op_discovery(&op);

		json_object_set_new(d, "id_token_signing_alg_values_supported",
		                    json_pack("[s,s]", "ES256", "none"));
		op_write_json(&op, "discovery", d);
	}
	assert_non_null(op_idp(&op));
	assert_string_equal(login_with(&op.rs, NULL, NULL), "id_token.alg_not_allowed");
	assert_string_equal(login_with(&op.es, NULL, NULL), "ok");
}

/* Key rotation: a new kid triggers one JWKS refetch, even right after a
 * scheduled fetch (the IdP may have rotated a moment later); unknown kids do
 * not hammer the IdP: one unknown-kid refetch per TSSO_JWKS_REFETCH_MIN_S. */
static void test_kid_rotation(void **state)
{
	(void)state;
	assert_string_equal(login_with(&op.rs, NULL, NULL), "ok"); /* keys cached */
	op_publish_keys(&op, true);                                /* rotate in rs2 */
	/* Just after the scheduled fetch, the first unknown kid refetches. */
	assert_string_equal(login_token(tok_unknown_kid), "ok");
	/* Fresh idp: first unknown kid refetches (still unknown), the next one
	 * within the rate window does not refetch even after the key is published. */
	op_publish_keys(&op, false);
	assert_non_null(op_idp(&op));
	assert_string_equal(login_with(&op.rs, NULL, NULL), "ok");
	assert_string_equal(login_token(tok_unknown_kid), "id_token.kid_unknown");
	op_publish_keys(&op, true);
	assert_string_equal(login_token(tok_unknown_kid), "id_token.kid_unknown");
	/* Once the window has passed, it refetches again and finds the key. */
	op_now = OP_NOW + TSSO_JWKS_REFETCH_MIN_S;
	assert_string_equal(login_token(tok_unknown_kid), "ok");
	op_now = OP_NOW;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_claim_checks, setup),
	    cmocka_unit_test_setup(test_result, setup),
	    cmocka_unit_test_setup(test_max_age, setup),
	    cmocka_unit_test_setup(test_acr_essential, setup),
	    cmocka_unit_test_setup(test_signature_checks, setup),
	    cmocka_unit_test_setup(test_hmac_opt_in, setup),
	    cmocka_unit_test_setup(test_alg_allow_list, setup),
	    cmocka_unit_test_setup(test_kid_rotation, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
