/* Unit tests for the embed identity: defaults, session round-trip, both Toucan shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tsso/identity.h"
#include "tsso/jsonw.h"

static json_t *parse(const char *s)
{
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, NULL);

	assert_non_null(j);
	return j;
}

static struct tsso_identity *sample(void)
{
	struct tsso_identity *id = tsso_identity_new();

	assert_non_null(id);
	id->username = strdup("jane@acme.example");
	json_array_append_new(id->groups, json_string("sales"));
	json_object_set_new(id->attributes, "country", json_string("FR"));
	json_object_set_new(id->attributes, "level", json_integer(3));
	return id;
}

static void test_defaults(void **state)
{
	struct tsso_identity *id = tsso_identity_new();

	(void)state;
	assert_null(id->username);
	assert_null(id->workspace_id);
	assert_false(id->admin);
	assert_string_equal(id->ai_role, "explorer");
	assert_int_equal(json_array_size(id->groups), 0);
	assert_int_equal(json_object_size(id->privileges), 0);
	assert_int_equal(json_object_size(id->attributes), 0);
	tsso_identity_free(id);
	tsso_identity_free(NULL);
}

/* Toucan 3.0 embed_context: exactly the documented members. */
static void test_embed_context(void **state)
{
	struct tsso_identity *id = sample();
	json_t *ec, *want;

	(void)state;
	ec = tsso_identity_embed_context(id, "acme");
	want = parse(
	    "{\"username\":\"jane@acme.example\",\"workspace_id\":\"acme\",\"roles\":[\"USER\"],"
	    "\"privileges\":{},\"groups\":[\"sales\"],\"attributes\":{\"country\":\"FR\","
	    "\"level\":3}}");
	assert_true(json_equal(ec, want));
	json_decref(ec);
	json_decref(want);

	id->admin = true;
	id->workspace_id = strdup("ws-own");
	ec = tsso_identity_embed_context(id, "acme");
	assert_string_equal(json_string_value(json_object_get(ec, "workspace_id")), "ws-own");
	assert_string_equal(json_string_value(json_array_get(json_object_get(ec, "roles"), 0)),
	                    "ADMIN");
	assert_int_equal(json_array_size(json_object_get(ec, "roles")), 1);
	json_decref(ec);

	/* No workspace at all, no username: nothing to mint. */
	free(id->workspace_id);
	id->workspace_id = NULL;
	assert_null(tsso_identity_embed_context(id, NULL));
	assert_null(tsso_identity_embed_context(id, ""));
	free(id->username);
	id->username = NULL;
	assert_null(tsso_identity_embed_context(id, "acme"));
	tsso_identity_free(id);
}

/* The writer's embed_context (the one signed into tokens) is byte for byte
 * jansson's dump of the tree form, or -1 with nothing written. */
static void assert_write_matches(const struct tsso_identity *id, const char *ws)
{
	json_t *ec = tsso_identity_embed_context(id, ws);
	struct tsso_buf b;
	struct tsso_jsonw w;
	struct tsso_err err = {0};
	char *want;

	tsso_buf_init(&b, 1 << 16);
	tsso_jsonw_init(&w, &b);
	if (ec == NULL) {
		assert_int_equal(tsso_identity_embed_context_write(id, ws, &w), -1);
		assert_int_equal(b.len, 0);
		tsso_buf_free(&b);
		return;
	}
	assert_int_equal(tsso_identity_embed_context_write(id, ws, &w), 0);
	assert_int_equal(tsso_jsonw_finish(&w, &err), 0);
	want = json_dumps(ec, JSON_COMPACT);
	assert_string_equal(b.ptr, want);
	free(want);
	json_decref(ec);
	tsso_buf_free(&b);
}

static void test_embed_context_write(void **state)
{
	struct tsso_identity *id = sample();
	(void)state;

	assert_write_matches(id, "acme");
	id->admin = true;
	id->workspace_id = strdup("ws-\xc3\xa9\"quoted\"");
	json_object_set_new(id->privileges, "app-1", json_pack("[s,s]", "view", "export"));
	json_array_append_new(id->groups, json_string("line\nbreak \xf0\x9f\x90\xa6"));
	json_object_set_new(id->attributes, "ratio", json_real(0.25));
	json_object_set_new(id->attributes, "on", json_true());
	json_object_set_new(id->attributes, "tags", json_pack("[s]", "a"));
	assert_write_matches(id, "acme");
	/* Missing containers are written empty, as the tree form does. */
	json_decref(id->groups);
	json_decref(id->privileges);
	json_decref(id->attributes);
	id->groups = id->privileges = id->attributes = NULL;
	assert_write_matches(id, "acme");
	/* No workspace at all, no username: -1 and nothing written. */
	free(id->workspace_id);
	id->workspace_id = NULL;
	assert_write_matches(id, NULL);
	assert_write_matches(id, "");
	free(id->username);
	id->username = NULL;
	assert_write_matches(id, "acme");
	assert_write_matches(NULL, "acme");
	tsso_identity_free(id);
}

/* Toucan AI user: permissions only when set. */
static void test_ai_user(void **state)
{
	struct tsso_identity *id = sample();
	json_t *u, *want;

	(void)state;
	u = tsso_identity_ai_user(id);
	want = parse("{\"distinctId\":\"jane@acme.example\",\"role\":\"explorer\",\"attributes\":"
	             "{\"country\":\"FR\",\"level\":3}}");
	assert_true(json_equal(u, want));
	json_decref(u);
	json_decref(want);

	free(id->ai_role);
	id->ai_role = strdup("maker");
	json_object_set_new(id->privileges, "dashboard", json_string("can_view"));
	u = tsso_identity_ai_user(id);
	assert_string_equal(json_string_value(json_object_get(u, "role")), "maker");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(u, "permissions"), "dashboard")),
	    "can_view");
	json_decref(u);
	free(id->username);
	id->username = NULL;
	assert_null(tsso_identity_ai_user(id));
	tsso_identity_free(id);
}

static void test_json_round_trip(void **state)
{
	struct tsso_identity *id = sample(), *back;
	json_t *j, *j2;

	(void)state;
	id->admin = true;
	id->workspace_id = strdup("w");
	j = tsso_identity_to_json(id);
	back = tsso_identity_from_json(j);
	assert_non_null(back);
	assert_string_equal(back->username, "jane@acme.example");
	assert_string_equal(back->workspace_id, "w");
	assert_true(back->admin);
	j2 = tsso_identity_to_json(back);
	assert_true(json_equal(j, j2));
	json_decref(j);
	json_decref(j2);
	tsso_identity_free(back);
	tsso_identity_free(id);
}

/* from_json refuses anything but the exact shape to_json writes. */
static void test_from_json_strict(void **state)
{
	static const char *const bad[] = {
	    "[]",
	    "{}",
	    /* unknown member */
	    "{\"username\":\"u\",\"admin\":false,\"ai_role\":\"explorer\",\"groups\":[],"
	    "\"privileges\":{},\"attributes\":{},\"extra\":1}",
	    /* wrong types */
	    "{\"username\":1,\"admin\":false,\"ai_role\":\"explorer\",\"groups\":[],"
	    "\"privileges\":{},\"attributes\":{}}",
	    "{\"username\":\"u\",\"admin\":\"no\",\"ai_role\":\"explorer\",\"groups\":[],"
	    "\"privileges\":{},\"attributes\":{}}",
	    "{\"username\":\"u\",\"admin\":false,\"ai_role\":\"explorer\",\"groups\":[1],"
	    "\"privileges\":{},\"attributes\":{}}",
	    "{\"username\":\"u\",\"admin\":false,\"ai_role\":\"explorer\",\"groups\":[],"
	    "\"privileges\":[],\"attributes\":{}}",
	    "{\"username\":\"u\",\"admin\":false,\"ai_role\":\"explorer\",\"groups\":[],"
	    "\"privileges\":{},\"attributes\":{\"a\":{\"nested\":1}}}",
	    "{\"username\":\"u\",\"admin\":false,\"ai_role\":\"explorer\",\"groups\":[],"
	    "\"privileges\":{},\"attributes\":{\"a\":[1]}}",
	    "{\"username\":\"u\",\"workspace_id\":5,\"admin\":false,\"ai_role\":\"explorer\","
	    "\"groups\":[],\"privileges\":{},\"attributes\":{}}",
	    /* a role Toucan AI does not have */
	    "{\"username\":\"u\",\"admin\":false,\"ai_role\":\"admin\",\"groups\":[],"
	    "\"privileges\":{},\"attributes\":{}}",
	    /* missing member */
	    "{\"username\":\"u\",\"admin\":false,\"ai_role\":\"explorer\",\"groups\":[],"
	    "\"privileges\":{}}",
	};

	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(bad); i++) {
		json_t *j = parse(bad[i]);

		if (tsso_identity_from_json(j) != NULL)
			fail_msg("accepted: %s", bad[i]);
		json_decref(j);
	}
	assert_null(tsso_identity_from_json(NULL));
	assert_null(tsso_identity_to_json(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),         cmocka_unit_test(test_embed_context),
	    cmocka_unit_test(test_ai_user),          cmocka_unit_test(test_json_round_trip),
	    cmocka_unit_test(test_from_json_strict), cmocka_unit_test(test_embed_context_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
