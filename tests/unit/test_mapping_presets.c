/* Unit tests for conf/presets: each preset against a realistic claim set of its IdP. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tsso/identity.h"
#include "tsso/mapping.h"

#define PRESETS TSSO_TEST_DATA "/../../../conf/presets"
#define CLAIMS  TSSO_TEST_DATA "/claims/"

static json_t *load(const char *name)
{
	char path[512];
	json_error_t e;
	json_t *j;

	snprintf(path, sizeof(path), "%s%s", CLAIMS, name);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL)
		fail_msg("%s: %s", path, e.text);
	return j;
}

static struct tsso_mapping *compile(const char *rules)
{
	struct tsso_problems p = {0};
	json_error_t e;
	json_t *r = json_loads(rules, JSON_REJECT_DUPLICATES, &e);
	struct tsso_mapping *m;

	if (r == NULL)
		fail_msg("bad rules: %s", e.text);
	m = tsso_mapping_compile(r, PRESETS, "tenant.json", &p);
	if (m == NULL)
		fail_msg("%s: %s", rules, p.n > 0 ? p.v[0] : "?");
	tsso_problems_free(&p);
	json_decref(r);
	return m;
}

struct preset_case {
	const char *name, *rules, *claims, *userinfo;
	const char *expect; /* subset of tsso_identity_to_json, or NULL when refused */
	const char *reason;
};

static const struct preset_case cases[] = {
    {"okta", "{\"preset\":\"okta\"}", "okta.json", NULL,
     "{\"username\":\"jane.doe@acme.example\",\"admin\":true,\"ai_role\":\"explorer\","
     "\"groups\":[\"toucan-admins\",\"sales-emea\"],"
     "\"attributes\":{\"okta_user_id\":\"00uid4BxXw6I6TV4m0g3\"}}",
     NULL},
    {"entra-id", "{\"preset\":\"entra-id\"}", "entra-id.json", NULL,
     "{\"username\":\"abeli@contoso.example\",\"admin\":false,\"ai_role\":\"maker\","
     "\"groups\":[\"0b1c3e2a-6b7e-4d5f-9a3c-2f1e0d9c8b7a\",\"9f2e4d6c-1a3b-4c5d-8e7f-"
     "6a5b4c3d2e1f\"],"
     "\"attributes\":{\"tenant_id\":\"9122040d-6c67-4c5b-b112-36a304b66dad\","
     "\"object_id\":\"00000000-0000-0000-66f3-3332eca7ea81\"}}",
     NULL},
    {"entra-id with a lookup of group ids and an attribute removed",
     "{\"preset\":\"entra-id\",\"groups\":{\"claim\":\"groups\",\"transforms\":[{\"lookup\":"
     "{\"0b1c3e2a-6b7e-4d5f-9a3c-2f1e0d9c8b7a\":\"sales\"}}]},\"attributes\":{\"object_id\":null,"
     "\"region\":{\"value\":\"EMEA\"}}}",
     "entra-id.json", NULL,
     "{\"groups\":[\"sales\"],\"attributes\":{\"tenant_id\":\"9122040d-6c67-4c5b-b112-"
     "36a304b66dad\","
     "\"region\":\"EMEA\"}}",
     NULL},
    {"entra-id group overage", "{\"preset\":\"entra-id\"}", "entra-id-overage.json", NULL, NULL,
     "mapping.groups_overage"},
    {"google-workspace", "{\"preset\":\"google-workspace\"}", "google-workspace.json", NULL,
     "{\"username\":\"jsmith@acme.example\",\"admin\":false,\"groups\":[],"
     "\"attributes\":{\"domain\":\"acme.example\"}}",
     NULL},
    {"google consumer account refused", "{\"preset\":\"google-workspace\"}", "google-consumer.json",
     NULL, NULL, "mapping.access_denied"},
    {"google restricted to another domain",
     "{\"preset\":\"google-workspace\",\"access\":{\"claim\":\"hd\",\"transforms\":[\"lower\"],"
     "\"in\":[\"other.example\"]}}",
     "google-workspace.json", NULL, NULL, "mapping.access_denied"},
    {"keycloak", "{\"preset\":\"keycloak\"}", "keycloak.json", NULL,
     "{\"username\":\"ktan\",\"admin\":true,\"groups\":[\"sales/emea\",\"finance\"]}", NULL},
    {"keycloak client roles as groups",
     "{\"preset\":\"keycloak\",\"groups\":{\"claim\":[\"resource_access\",\"toucan-sso\",\"roles\"]"
     "}}",
     "keycloak.json", NULL, "{\"groups\":[\"viewer\"]}", NULL},
    {"auth0", "{\"preset\":\"auth0\"}", "auth0.json", NULL,
     "{\"username\":\"pat@acme.example\",\"admin\":false,\"ai_role\":\"maker\","
     "\"groups\":[\"analysts\",\"emea\"],\"attributes\":{\"org_id\":\"org_9ybsU1dN2dKfDkBi\"}}",
     NULL},
    {"auth0 unverified email refused", "{\"preset\":\"auth0\"}", "auth0-unverified.json", NULL,
     NULL, "mapping.access_denied"},
    {"ping, groups from UserInfo", "{\"preset\":\"ping\"}", "ping.json", "ping.userinfo.json",
     "{\"username\":\"lee.chan@acme.example\",\"admin\":true,\"ai_role\":\"maker\","
     "\"groups\":[\"sales\",\"toucan-makers\",\"toucan-admins\"]}",
     NULL},
    {"ping, ID token only", "{\"preset\":\"ping\"}", "ping.json", NULL,
     "{\"admin\":false,\"ai_role\":\"maker\",\"groups\":[\"sales\",\"toucan-makers\"]}", NULL},
    {"ping truncated group list refused", "{\"preset\":\"ping\"}", "ping-truncated.json", NULL,
     NULL, "mapping.access_denied"},
};

static void check_subset(const json_t *have, const json_t *want, const char *name)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)want, k, v)
	{
		if (!json_equal(json_object_get(have, k), v)) {
			char *a = json_dumps(have, JSON_COMPACT);

			fail_msg("%s: member %s differs: have %s", name, k, a);
		}
	}
}

static void test_presets(void **state)
{
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(cases); i++) {
		const struct preset_case *c = &cases[i];
		struct tsso_mapping *m = compile(c->rules);
		json_t *claims = load(c->claims), *ui = c->userinfo ? load(c->userinfo) : NULL;
		struct tsso_mapping_opts o = {.default_workspace = "acme"};
		struct tsso_mapping_refusal why;
		struct tsso_identity *id = NULL;
		int rc = tsso_mapping_apply(m, claims, ui, &o, &id, &why);

		if (c->expect != NULL) {
			json_t *want = json_loads(c->expect, 0, NULL), *have;

			if (rc != 0)
				fail_msg("%s: refused: %s", c->name, why.err.msg);
			assert_non_null(want);
			have = tsso_identity_to_json(id);
			check_subset(have, want, c->name);
			json_decref(have);
			json_decref(want);
		} else {
			if (rc == 0)
				fail_msg("%s: accepted", c->name);
			if (strcmp(why.err.reason, c->reason) != 0)
				fail_msg("%s: %s: %s", c->name, why.err.reason, why.err.msg);
		}
		tsso_identity_free(id);
		json_decref(claims);
		json_decref(ui);
		tsso_mapping_free(m);
	}
}

/* Every preset file compiles on its own, and the dry run of each claim set
 * that should pass fits Toucan 3.0's embed_context limit. */
static void test_every_preset_compiles(void **state)
{
	DIR *d = opendir(PRESETS);
	struct dirent *e;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char rules[128], name[64];
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0 || len - 5 >= sizeof(name))
			continue;
		memcpy(name, e->d_name, len - 5);
		name[len - 5] = '\0';
		snprintf(rules, sizeof(rules), "{\"preset\":\"%s\"}", name);
		tsso_mapping_free(compile(rules));
		n++;
	}
	closedir(d);
	assert_int_equal(n, 6);
}

static void test_preset_dry_run(void **state)
{
	struct tsso_mapping *m = compile("{\"preset\":\"entra-id\"}");
	json_t *claims = load("entra-id.json");
	char *out = NULL;

	(void)state;
	assert_int_equal(tsso_mapping_dry_run(m, claims, NULL, 0, "acme", &out), 0);
	assert_non_null(strstr(out, "\"workspace_id\": \"acme\""));
	assert_non_null(strstr(out, "\"roles\": ["));
	free(out);
	json_decref(claims);
	claims = load("entra-id-overage.json");
	assert_int_equal(tsso_mapping_dry_run(m, claims, NULL, 1, "acme", &out), 1);
	assert_non_null(strstr(out, "mapping.groups_overage: mapping.groups:"));
	free(out);
	json_decref(claims);
	tsso_mapping_free(m);
}

/* A broken preset is reported against its own file, not the tenant's. */
static void test_preset_problem_names_preset_file(void **state)
{
	char dir[] = "/tmp/tsso-presets-XXXXXX", path[128];
	struct tsso_problems p = {0};
	json_t *r = json_pack("{s:s}", "preset", "broken");
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/broken.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"username\": {\"claim\": \"a..b\"}}", f);
	fclose(f);
	assert_null(tsso_mapping_compile(r, dir, "tenant.json", &p));
	assert_int_equal(p.n, 1);
	assert_non_null(strstr(p.v[0], "broken.json: mapping.username.claim:"));
	tsso_problems_free(&p);
	unlink(path);
	rmdir(dir);
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_presets),
	    cmocka_unit_test(test_every_preset_compiles),
	    cmocka_unit_test(test_preset_dry_run),
	    cmocka_unit_test(test_preset_problem_names_preset_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
