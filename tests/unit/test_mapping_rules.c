/* Unit tests for src/mapping at configuration time: every rule problem is reported as FILE: KEY:
 * problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tsso/limits.h"
#include "tsso/mapping.h"

#define PRESETS TSSO_TEST_DATA "/../../../conf/presets"

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &e);

	if (j == NULL)
		fail_msg("bad test JSON: %s: %s", e.text, s);
	return j;
}

/* --- compile problems: "FILE: KEY: problem" --- */
struct bad_rules {
	const char *rules, *problem;
};

static const struct bad_rules bad_rules[] = {
    {"[]", "t.json: mapping: want an object"},
    {"{\"usernme\":{}}", "t.json: mapping.usernme: unknown key"},
    {"{\"username\":{\"claim\":\"sub\",\"tranforms\":[]}}",
     "t.json: mapping.username: unknown key \"tranforms\""},
    {"{\"username\":{}}", "t.json: mapping.username: no source"},
    {"{\"username\":{\"claim\":\"a\",\"value\":\"b\"}}", "one source per rule"},
    {"{\"username\":{\"claim\":\"https://x.io/c\"}}", "array form"},
    {"{\"username\":{\"claim\":\"a..b\"}}", "expected a claim name"},
    {"{\"username\":{\"claim\":\"a[x]\"}}", "bad array index"},
    {"{\"username\":{\"claim\":[]}}", "want 1 to"},
    {"{\"username\":{\"claim\":[\"a\",-1]}}", "segment 1"},
    {"{\"username\":{\"claim\":5}}", "want a claim path"},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[\"shout\"]}}",
     "t.json: mapping.username.transforms[0]: unknown transform \"shout\""},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"match\":\"(\"}]}}",
     "t.json: mapping.username.transforms[0]: bad regular expression"},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"match\":\"(a)\",\"group\":2}]}}",
     "\"group\": want 0 to 1"},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"replace\":\"a\"}]}}", "needs \"with\""},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"split\":\"\"}]}}", "non-empty string"},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"lookup\":{\"a\":1}}]}}", "entry \"a\""},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"lookup\":{},\"otherwise\":\"x\"}]}}",
     "\"otherwise\""},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"allow\":\"a\"}]}}", "list of at most"},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"lower\":true,\"upper\":true}]}}",
     "one transform per step"},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[\"split\"]}}", "needs an argument"},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"prefix\":\"x\",\"group\":1}]}}",
     "unknown key \"group\""},
    {"{\"username\":{\"claim\":\"e\",\"type\":\"number\"}}", "always a string"},
    {"{\"attributes\":{\"a\":{\"claim\":\"e\",\"type\":\"integer\"}}}",
     "mapping.attributes.a.type: want"},
    {"{\"attributes\":{\"a\":{\"claim\":\"e\",\"type\":\"number\",\"transforms\":[\"lower\"]}}}",
     "transforms work on text"},
    {"{\"attributes\":{\"a\":{\"claim\":\"e\",\"type\":\"number\",\"default\":\"x\"}}}",
     "does not fit type number"},
    {"{\"attributes\":{\"a\":{\"value\":[1]}}}", "not a list"},
    {"{\"attributes\":{\"bad name\":{\"claim\":\"e\"}}}", "attribute names"},
    {"{\"attributes\":{\"a\":{\"claim\":\"e\",\"required\":\"yes\"}}}", "true or false"},
    {"{\"username\":{\"first_of\":[]}}", "want a list of 1"},
    {"{\"username\":{\"first_of\":[{\"claim\":\"a\",\"default\":\"x\"}]}}", "only its source"},
    {"{\"username\":{\"claim\":\"x\",\"first_of\":[{\"claim\":\"a\"}]}}", "replaces"},
    {"{\"access\":{\"claim\":\"g\"}}", "mapping.access: no test"},
    {"{\"access\":{\"claim\":\"g\",\"in\":[]}}", "mapping.access.in: want a non-empty list"},
    {"{\"access\":{\"claim\":\"g\",\"in\":[\"a\"],\"equals\":\"a\"}}", "one test per condition"},
    {"{\"access\":{\"claim\":\"acr\",\"at_least\":\"x\",\"order\":[\"a\"]}}", "not in \"order\""},
    {"{\"access\":{\"claim\":\"acr\",\"equals\":\"x\",\"order\":[\"a\"]}}", "only with"},
    {"{\"access\":{\"any\":[],\"claim\":\"x\"}}", "stand alone"},
    {"{\"access\":{\"not\":{\"not\":{\"not\":{\"not\":{\"not\":{\"claim\":\"a\",\"exists\":true}}}}"
     "}}}",
     "nested deeper"},
    {"{\"access\":{\"claim\":\"a\",\"exists\":true,\"required\":true}}", "no meaning"},
    {"{\"privileges\":[]}", "mapping.privileges: want an object"},
    {"{\"distributed_claims\":\"fetch\"}", "want \"refuse\" or \"resolve\""},
    {"{\"preset\":\"../etc/passwd\"}", "mapping.preset: want a preset name"},
    {"{\"attributes\":{\"a\":{\"value\":\"x\",\"type\":\"number\"}}}",
     "constant string does not fit type number"},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"shout\":1}]}}", "unknown transform"},
    {"{\"username\":{\"first_of\":[5]}}", "mapping.username.first_of[0]: want"},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"lower\":false}]}}", "takes no argument"},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"unique\":1}]}}", "takes no argument"},
    {"{\"username\":{\"claim\":\"e\",\"transforms\":[{\"match\":\"(a)(b)\",\"group\":\"1\"}]}}",
     "\"group\": want 0 to 2"},
    {"{\"preset\":\"no-such-idp\"}", "cannot open"},
};

static void test_compile_problems(void **state)
{
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(bad_rules); i++) {
		struct tsso_problems p = {0};
		json_t *r = parse(bad_rules[i].rules);
		struct tsso_mapping *m = tsso_mapping_compile(r, PRESETS, "t.json", &p);
		bool found = false;

		if (m != NULL)
			fail_msg("accepted: %s", bad_rules[i].rules);
		for (size_t k = 0; k < p.n; k++)
			found = found || strstr(p.v[k], bad_rules[i].problem) != NULL;
		if (!found)
			fail_msg("%s: want \"%s\", got \"%s\"", bad_rules[i].rules,
			         bad_rules[i].problem, p.n > 0 ? p.v[0] : "(nothing)");
		tsso_problems_free(&p);
		json_decref(r);
	}
}

/* Each count limit of the rule language, one over. */
static void test_compile_limits(void **state)
{
	struct {
		const char *key, *problem;
		int n;
	} cases[] = {
	    {"transforms", "at most 16 transforms", TSSO_MAPPING_MAX_TRANSFORMS + 1},
	    {"attributes", "at most 64 attribute rules", TSSO_MAPPING_MAX_ATTRIBUTES + 1},
	    {"access", "more than 32 in all", TSSO_MAPPING_MAX_CONDITIONS + 1},
	    {"path", "want 1 to 16 segments", TSSO_MAPPING_MAX_PATH + 1},
	    {"first_of", "want a list of 1 to 8 sources", TSSO_MAPPING_MAX_SOURCES + 1},
	    {"pattern", "1 to 512 bytes", TSSO_MAPPING_MAX_PATTERN + 1},
	    {"lookup", "at most 1024", TSSO_MAPPING_MAX_LIST + 1},
	};

	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(cases); i++) {
		json_t *rules = json_object(), *list = json_array();
		struct tsso_problems p = {0};
		bool found = false;

		for (int k = 0; k < cases[i].n; k++) {
			if (strcmp(cases[i].key, "transforms") == 0)
				json_array_append_new(list, json_string("lower"));
			else if (strcmp(cases[i].key, "access") == 0)
				json_array_append_new(
				    list, json_pack("{s:s,s:b}", "claim", "a", "exists", 1));
			else if (strcmp(cases[i].key, "path") == 0)
				json_array_append_new(list, json_string("a"));
			else if (strcmp(cases[i].key, "first_of") == 0)
				json_array_append_new(list, json_pack("{s:s}", "claim", "a"));
		}
		if (strcmp(cases[i].key, "transforms") == 0) {
			json_object_set_new(
			    rules, "username",
			    json_pack("{s:s,s:o}", "claim", "e", "transforms", list));
		} else if (strcmp(cases[i].key, "attributes") == 0) {
			json_t *attrs = json_object();

			for (int k = 0; k < cases[i].n; k++) {
				char name[16];

				snprintf(name, sizeof(name), "a%d", k);
				json_object_set_new(attrs, name, json_pack("{s:s}", "claim", "x"));
			}
			json_object_set_new(rules, "attributes", attrs);
			json_decref(list);
		} else if (strcmp(cases[i].key, "access") == 0) {
			json_object_set_new(rules, "access", list);
		} else if (strcmp(cases[i].key, "path") == 0) {
			json_object_set_new(rules, "username", json_pack("{s:o}", "claim", list));
		} else if (strcmp(cases[i].key, "first_of") == 0) {
			json_object_set_new(rules, "username",
			                    json_pack("{s:o}", "first_of", list));
		} else if (strcmp(cases[i].key, "pattern") == 0) {
			char *pat = calloc(1, (size_t)cases[i].n + 1);

			memset(pat, 'a', (size_t)cases[i].n);
			json_object_set_new(
			    rules, "username",
			    json_pack("{s:s,s:[{s:s}]}", "claim", "e", "transforms", "match", pat));
			free(pat);
			json_decref(list);
		} else {
			json_t *table = json_object();

			for (int k = 0; k < cases[i].n; k++) {
				char name[16];

				snprintf(name, sizeof(name), "k%d", k);
				json_object_set_new(table, name, json_string("v"));
			}
			json_object_set_new(rules, "username",
			                    json_pack("{s:s,s:[{s:o}]}", "claim", "e", "transforms",
			                              "lookup", table));
			json_decref(list);
		}
		assert_null(tsso_mapping_compile(rules, NULL, "t.json", &p));
		for (size_t k = 0; k < p.n; k++)
			found = found || strstr(p.v[k], cases[i].problem) != NULL;
		if (!found)
			fail_msg("%s: want \"%s\", got \"%s\"", cases[i].key, cases[i].problem,
			         p.n > 0 ? p.v[0] : "(nothing)");
		tsso_problems_free(&p);
		json_decref(rules);
	}
}

/* Every problem is reported, not only the first. */
static void test_compile_reports_all(void **state)
{
	struct tsso_problems p = {0};
	json_t *r = parse("{\"x\":1,\"username\":{\"claim\":\"a..b\"},\"attributes\":{\"a\":{"
	                  "\"claim\":\"e\",\"transforms\":[\"nope\"]}}}");

	(void)state;
	assert_null(tsso_mapping_compile(r, NULL, "t.json", &p));
	assert_int_equal(p.n, 3);
	tsso_problems_free(&p);
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_compile_problems),
	    cmocka_unit_test(test_compile_reports_all),
	    cmocka_unit_test(test_compile_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
