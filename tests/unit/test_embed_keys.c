/* Unit tests for the embed keystore: generate, rotate, list, states over
 * (injected) time, JWKS contents, and every refusal with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/embed/embed_int.h"
#include "embed_test_util.h"
#include "tsso/embed.h"
#include "tsso/limits.h"

#define T0      1800000000LL
#define OVERLAP 1000

static char *path_of(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);

	sprintf(p, "%s/%s", dir, name); /* test code: sizes computed above */
	return p;
}

static char *pem_of(const char *dir, const char *kid)
{
	char name[128];

	snprintf(name, sizeof(name), "%s.pem", kid);
	return path_of(dir, name);
}

/* State of kid in describe(now), or NULL. */
static const char *state_of(const char *dir, const char *kid, long long now, json_t **keep)
{
	json_t *arr = tsso_embed_keys_describe(dir, now, NULL), *o;
	size_t i;

	*keep = arr;
	json_array_foreach(arr, i,
	                   o) if (strcmp(json_string_value(json_object_get(o, "kid")), kid) ==
	                          0) return json_string_value(json_object_get(o, "state"));
	return NULL;
}

static void assert_state(const char *dir, const char *kid, long long now, const char *want)
{
	json_t *keep = NULL;
	const char *s = state_of(dir, kid, now, &keep);

	if (want == NULL)
		assert_null(s);
	else
		assert_string_equal(s, want);
	json_decref(keep);
}

static bool jwks_has(const struct tsso_embed_keystore *ks, long long now, const char *kid)
{
	json_t *j = tsso_embed_jwks_json(ks, now), *k;
	size_t i;
	bool found = false;

	json_array_foreach(json_object_get(j, "keys"), i, k)
	{
		found |= strcmp(json_string_value(json_object_get(k, "kid")), kid) == 0;
		/* public members only */
		assert_null(json_object_get(k, "d"));
		assert_string_equal(json_string_value(json_object_get(k, "use")), "sig");
	}
	json_decref(j);
	return found;
}

static void test_generate_rotate_states(void **state)
{
	char *dir = tmpdir_new(), *k1 = NULL, *k2 = NULL, *k3 = NULL, *p;
	struct tsso_err err = {0};
	struct tsso_embed_keystore *ks;
	struct stat st;
	long long r2;
	(void)state;

	assert_non_null(dir);
	assert_int_equal(tsso_embed_keys_generate(dir, "ES256", T0, &k1, &err), 0);
	p = pem_of(dir, k1);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(p);
	assert_state(dir, k1, T0, "current");

	/* A second generate never touches the existing key. */
	assert_int_equal(tsso_embed_keys_generate(dir, "ES256", T0 + 1, NULL, &err), -1);
	assert_string_equal(err.reason, "keys.exist");

	/* Rotate: the new key is published (next) for the overlap, then signs. */
	assert_int_equal(tsso_embed_keys_rotate(dir, NULL, T0 + 100, OVERLAP, &k2, &err), 0);
	assert_string_not_equal(k1, k2);
	assert_state(dir, k1, T0 + 100, "current");
	assert_state(dir, k2, T0 + 100, "next");
	assert_int_equal(tsso_embed_keys_rotate(dir, NULL, T0 + 200, OVERLAP, NULL, &err), -1);
	assert_string_equal(err.reason, "keys.rotation_pending");

	r2 = T0 + 100 + OVERLAP;
	assert_state(dir, k1, r2 - 1, "current");
	assert_state(dir, k2, r2, "current");
	assert_state(dir, k1, r2, "retired");
	assert_state(dir, k1, r2 + TSSO_EMBED_RETIRED_KEEP - 1, "retired");
	assert_state(dir, k1, r2 + TSSO_EMBED_RETIRED_KEEP, "expired");

	/* The daemon's snapshot, loaded once, follows the clock. */
	ks = tsso_embed_keystore_load(dir, T0 + 150, &err);
	assert_non_null(ks);
	assert_int_equal(tsso_embed_keystore_count(ks), 2);
	assert_string_equal(tsso_embed_keystore_current_kid(ks, T0 + 150), k1);
	assert_string_equal(tsso_embed_keystore_current_kid(ks, r2), k2);
	assert_true(jwks_has(ks, T0 + 150, k1));
	assert_true(jwks_has(ks, T0 + 150, k2));
	assert_true(jwks_has(ks, r2 + 10, k1)); /* retired, still verifying */
	assert_false(jwks_has(ks, r2 + TSSO_EMBED_RETIRED_KEEP, k1));
	assert_true(jwks_has(ks, r2 + TSSO_EMBED_RETIRED_KEEP, k2));
	assert_null(tsso_embed_keystore_current_kid(ks, T0 - 10));
	tsso_embed_keystore_free(ks);

	/* A load after k1 expired does not even read it; rotation prunes it. */
	ks = tsso_embed_keystore_load(dir, r2 + TSSO_EMBED_RETIRED_KEEP, &err);
	assert_int_equal(tsso_embed_keystore_count(ks), 1);
	tsso_embed_keystore_free(ks);
	assert_int_equal(
	    tsso_embed_keys_rotate(dir, "EdDSA", r2 + TSSO_EMBED_RETIRED_KEEP, 0, &k3, &err), 0);
	assert_state(dir, k1, r2 + TSSO_EMBED_RETIRED_KEEP, NULL);
	p = pem_of(dir, k1);
	assert_int_equal(stat(p, &st), -1);
	free(p);
	assert_state(dir, k3, r2 + TSSO_EMBED_RETIRED_KEEP, "current");
	assert_state(dir, k2, r2 + TSSO_EMBED_RETIRED_KEEP, "retired");

	free(k1);
	free(k2);
	free(k3);
	tmpdir_free(dir);
}

static void test_list_no_material(void **state)
{
	char *dir = tmpdir_new(), *kid = NULL, *text = NULL;
	struct tsso_err err = {0};
	(void)state;

	assert_int_equal(tsso_embed_keys_generate(dir, "EdDSA", T0, &kid, &err), 0);
	assert_int_equal(tsso_embed_keys_list(dir, T0, &text, &err), 0);
	assert_non_null(strstr(text, kid));
	assert_non_null(strstr(text, "current"));
	assert_non_null(strstr(text, "EdDSA"));
	assert_non_null(strstr(text, "2027-01-15T08:00:00Z")); /* T0 */
	assert_null(strstr(text, "PRIVATE"));
	free(text);
	free(kid);
	tmpdir_free(dir);
}

/* RS512 with RSA 3072 is the default; checked with openssl, not with us. */
static void test_default_rs512_3072(void **state)
{
	char *dir = tmpdir_new(), *kid = NULL, *p, cmd[512];
	struct tsso_err err = {0};
	json_t *keep = NULL;
	(void)state;

	assert_int_equal(tsso_embed_keys_generate(dir, NULL, T0, &kid, &err), 0);
	p = pem_of(dir, kid);
	snprintf(cmd, sizeof(cmd),
	         "openssl pkey -in '%s' -noout -text | head -1 | grep -q '3072 bit'", p);
	assert_int_equal(system(cmd), 0);
	free(p);
	assert_non_null(state_of(dir, kid, T0, &keep));
	assert_string_equal(json_string_value(json_object_get(json_array_get(keep, 0), "alg")),
	                    "RS512");
	json_decref(keep);
	free(kid);
	tmpdir_free(dir);
}

static void test_refusals(void **state)
{
	char *dir = tmpdir_new(), *kid = NULL, *p;
	struct tsso_err err = {0};
	struct tsso_embed_keystore *ks;
	(void)state;

	/* Algorithms outside the allowed set, HMAC and none included. */
	assert_int_equal(tsso_embed_keys_generate(dir, "HS256", T0, NULL, &err), -1);
	assert_string_equal(err.reason, "keys.bad_alg");
	assert_int_equal(tsso_embed_keys_generate(dir, "none", T0, NULL, &err), -1);
	assert_string_equal(err.reason, "keys.bad_alg");
	assert_false(tsso_embed_alg_allowed("RS384"));
	assert_true(tsso_embed_alg_allowed("PS256"));

	/* Rotation needs a first key. */
	assert_int_equal(tsso_embed_keys_rotate(dir, NULL, T0, 10, NULL, &err), -1);
	assert_string_equal(err.reason, "keys.none");

	/* A stray private key counts as existing keys. */
	p = path_of(dir, "stray.pem");
	assert_int_equal(write_file(p, "x"), 0);
	assert_int_equal(tsso_embed_keys_generate(dir, "ES256", T0, NULL, &err), -1);
	assert_string_equal(err.reason, "keys.exist");
	unlink(p);
	free(p);

	/* Permissions: a key readable by group or others is refused at load. */
	assert_int_equal(tsso_embed_keys_generate(dir, "ES256", T0, &kid, &err), 0);
	p = pem_of(dir, kid);
	assert_int_equal(chmod(p, 0640), 0);
	ks = tsso_embed_keystore_load(dir, T0, &err);
	assert_null(ks);
	assert_string_equal(err.reason, "keys.permissions");
	assert_int_equal(chmod(p, 0604), 0);
	assert_null(tsso_embed_keystore_load(dir, T0, &err));
	assert_string_equal(err.reason, "keys.permissions");
	assert_int_equal(chmod(p, 0600), 0);
	ks = tsso_embed_keystore_load(dir, T0, &err);
	assert_non_null(ks);
	tsso_embed_keystore_free(ks);

	/* A symlink in place of the key is not followed. */
	{
		char *moved = path_of(dir, "elsewhere");
		assert_int_equal(rename(p, moved), 0);
		assert_int_equal(symlink(moved, p), 0);
		assert_null(tsso_embed_keystore_load(dir, T0, &err));
		assert_string_equal(err.reason, "keys.io");
		unlink(p);
		assert_int_equal(rename(moved, p), 0);
		free(moved);
	}

	/* A directory others can write to is refused by the keys commands. */
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(tsso_embed_keys_rotate(dir, NULL, T0, 10, NULL, &err), -1);
	assert_string_equal(err.reason, "keys.permissions");
	assert_null(tsso_embed_keystore_load(dir, T0, &err)); /* and by the daemon */
	assert_string_equal(err.reason, "keys.permissions");
	assert_int_equal(chmod(dir, 0700), 0);

	free(p);
	free(kid);
	tmpdir_free(dir);
}

static void test_metadata_refusals(void **state)
{
	static const char *const bad[] = {
	    "{\"version\":1,\"keys\":[],\"keys\":[]}",
	    "{\"version\":2,\"keys\":[]}",
	    "{\"version\":1,\"keys\":[{\"kid\":\"../x\",\"alg\":\"ES256\",\"created_at\":1,"
	    "\"activates_at\":1}]}",
	    "{\"version\":1,\"keys\":[{\"kid\":\"a\",\"alg\":\"HS256\",\"created_at\":1,"
	    "\"activates_at\":1}]}",
	    "{\"version\":1,\"keys\":[{\"kid\":\"a\",\"alg\":\"ES256\",\"created_at\":5,"
	    "\"activates_at\":1}]}",
	    "{\"version\":1,\"keys\":[{\"kid\":\"a\",\"alg\":\"ES256\",\"created_at\":1,"
	    "\"activates_at\":1,\"d\":\"x\"}]}",
	    "{\"version\":1,\"keys\":[{\"kid\":\"a\",\"alg\":\"ES256\",\"created_at\":1,"
	    "\"activates_at\":1},{\"kid\":\"a\",\"alg\":\"ES256\",\"created_at\":1,"
	    "\"activates_at\":1}]}",
	    "not json",
	};
	char *dir = tmpdir_new(), *meta = path_of(dir, "keys.json");
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tsso_err err = {0};
		assert_int_equal(write_file(meta, bad[i]), 0);
		assert_null(tsso_embed_keystore_load(dir, T0, &err));
		assert_string_equal(err.reason, "keys.metadata");
	}
	free(meta);
	tmpdir_free(dir);
}

/* A 1024-bit RSA key slipped into keys_dir is refused by the jose module. */
static void test_weak_key_refused(void **state)
{
	char *dir = tmpdir_new(), *meta = path_of(dir, "keys.json"), *p = pem_of(dir, "weak");
	char cmd[512];
	struct tsso_err err = {0};
	(void)state;

	snprintf(cmd, sizeof(cmd),
	         "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out '%s' "
	         "2>/dev/null && chmod 600 '%s'",
	         p, p);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(write_file(meta, "{\"version\":1,\"keys\":[{\"kid\":\"weak\",\"alg\":"
	                                  "\"RS512\",\"created_at\":1,\"activates_at\":1}]}"),
	                 0);
	assert_null(tsso_embed_keystore_load(dir, T0, &err));
	assert_string_equal(err.reason, "key.too_weak");
	free(meta);
	free(p);
	tmpdir_free(dir);
}

static void test_absent_dir_is_empty(void **state)
{
	struct tsso_err err = {0};
	struct tsso_embed_keystore *ks = tsso_embed_keystore_load("/nonexistent/keys", T0, &err);
	json_t *j;
	(void)state;

	assert_non_null(ks);
	assert_int_equal(tsso_embed_keystore_count(ks), 0);
	j = tsso_embed_jwks_json(ks, T0);
	assert_int_equal(json_array_size(json_object_get(j, "keys")), 0);
	json_decref(j);
	tsso_embed_keystore_free(ks);
}

static void test_check(void **state)
{
	struct tsso_tenant_cfg tenants[2] = {{0}};
	struct tsso_config cfg = {0};
	struct tsso_err err = {0};
	char *dir = tmpdir_new();
	struct tsso_embed_keystore *ks = tsso_embed_keystore_load(dir, T0, &err);
	(void)state;

	tenants[0].id = (char *)"ai";
	tenants[0].embed.scheme = TSSO_EMBED_API;
	tenants[1].id = (char *)"v3";
	tenants[1].embed.scheme = TSSO_EMBED_SIGNED_JWT;
	cfg.tenants = tenants;
	cfg.n_tenants = 1;
	assert_int_equal(tsso_embed_keystore_check(&cfg, ks, T0, &err), 0);
	cfg.n_tenants = 2;
	assert_int_equal(tsso_embed_keystore_check(&cfg, ks, T0, &err), -1);
	assert_string_equal(err.reason, "embed.no_signing_key");
	tsso_embed_keystore_free(ks);
	assert_int_equal(tsso_embed_keys_generate(dir, "EdDSA", T0, NULL, &err), 0);
	ks = tsso_embed_keystore_load(dir, T0, &err);
	assert_int_equal(tsso_embed_keystore_check(&cfg, ks, T0, &err), 0);
	tsso_embed_keystore_free(ks);
	tmpdir_free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generate_rotate_states), cmocka_unit_test(test_list_no_material),
	    cmocka_unit_test(test_default_rs512_3072),     cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_metadata_refusals),      cmocka_unit_test(test_weak_key_refused),
	    cmocka_unit_test(test_absent_dir_is_empty),    cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
