/* Unit tests for src/mapping at login time: every source, transform, filter, type, condition and
 * refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tsso/identity.h"
#include "tsso/limits.h"
#include "tsso/mapping.h"

#define PRESETS TSSO_TEST_DATA "/../../../conf/presets"

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);

	if (j == NULL)
		fail_msg("bad test JSON: %s: %s", e.text, s);
	return j;
}

static struct tsso_mapping *compile_ok(const char *rules)
{
	struct tsso_problems p = {0};
	json_t *r = rules != NULL ? parse(rules) : NULL;
	struct tsso_mapping *m = tsso_mapping_compile(r, PRESETS, "t.json", &p);

	if (m == NULL)
		fail_msg("rules refused: %s: %s", rules, p.n > 0 ? p.v[0] : "(no problem)");
	assert_int_equal(p.n, 0);
	tsso_problems_free(&p);
	json_decref(r);
	return m;
}

/* --- successful mappings: the identity (to_json) must contain expect --- */
struct ok_case {
	const char *name, *rules, *claims, *userinfo, *expect;
};

static const struct ok_case ok_cases[] = {
    {"default: email", NULL, "{\"sub\":\"s1\",\"email\":\"a@x.io\",\"preferred_username\":\"pu\"}",
     NULL,
     "{\"username\":\"a@x.io\",\"admin\":false,\"ai_role\":\"explorer\",\"groups\":[],"
     "\"attributes\":{}}"},
    {"default: preferred_username", "{}", "{\"sub\":\"s1\",\"preferred_username\":\"pu\"}", NULL,
     "{\"username\":\"pu\"}"},
    {"default: sub", "{}", "{\"sub\":\"s1\",\"email\":\"\"}", NULL, "{\"username\":\"s1\"}"},
    {"claim path dotted", "{\"username\":{\"claim\":\"a.b.c\"}}",
     "{\"a\":{\"b\":{\"c\":\"deep\"}}}", NULL, "{\"username\":\"deep\"}"},
    {"claim path index", "{\"username\":{\"claim\":\"l[1].n\"}}",
     "{\"l\":[{\"n\":\"x\"},{\"n\":\"y\"}]}", NULL, "{\"username\":\"y\"}"},
    {"claim path array form with URL name",
     "{\"attributes\":{\"region\":{\"claim\":[\"https://acme.example/claims/region\"]}},"
     "\"username\":{\"claim\":\"sub\"}}",
     "{\"sub\":\"s\",\"https://acme.example/claims/region\":\"EMEA\"}", NULL,
     "{\"attributes\":{\"region\":\"EMEA\"}}"},
    {"claim path array form with index",
     "{\"username\":{\"claim\":[\"resource_access\",\"my.client\",\"roles\",0]}}",
     "{\"resource_access\":{\"my.client\":{\"roles\":[\"r0\",\"r1\"]}}}", NULL,
     "{\"username\":\"r0\"}"},
    {"userinfo source", "{\"username\":{\"userinfo\":\"email\"}}", "{\"sub\":\"s\"}",
     "{\"sub\":\"s\",\"email\":\"u@x.io\"}", "{\"username\":\"u@x.io\"}"},
    {"constant source", "{\"username\":{\"claim\":\"sub\"},\"workspace_id\":{\"value\":\"ws1\"}}",
     "{\"sub\":\"s\"}", NULL, "{\"workspace_id\":\"ws1\"}"},
    {"first_of falls through missing and empty",
     "{\"username\":{\"first_of\":[{\"claim\":\"upn\"},{\"userinfo\":\"email\"},{\"claim\":\"sub\"}"
     "]}}",
     "{\"sub\":\"s\",\"upn\":\"\"}", "{\"email\":\"e@x.io\"}", "{\"username\":\"e@x.io\"}"},
    {"default when missing",
     "{\"attributes\":{\"tier\":{\"claim\":\"tier\",\"default\":\"basic\"}}}", "{\"sub\":\"s\"}",
     NULL, "{\"attributes\":{\"tier\":\"basic\"}}"},
    {"optional attribute absent is omitted", "{\"attributes\":{\"tier\":{\"claim\":\"tier\"}}}",
     "{\"sub\":\"s\"}", NULL, "{\"attributes\":{}}"},
    {"lower", "{\"username\":{\"claim\":\"e\",\"transforms\":[\"lower\"]}}",
     "{\"e\":\"MiXed@X.IO\"}", NULL, "{\"username\":\"mixed@x.io\"}"},
    {"upper", "{\"username\":{\"claim\":\"e\",\"transforms\":[{\"upper\":true}]}}",
     "{\"e\":\"abc\"}", NULL, "{\"username\":\"ABC\"}"},
    {"trim", "{\"username\":{\"claim\":\"e\",\"transforms\":[\"trim\"]}}",
     "{\"e\":\" \\t ab \\n\"}", NULL, "{\"username\":\"ab\"}"},
    {"match keeps group 1 by default",
     "{\"username\":{\"claim\":\"e\",\"transforms\":[{\"match\":\"^([^@]+)@\"}]}}",
     "{\"e\":\"joe@x.io\"}", NULL, "{\"username\":\"joe\"}"},
    {"match with group 0",
     "{\"username\":{\"claim\":\"e\",\"transforms\":[{\"match\":\"[a-z]+\\\\.io\",\"group\":0}]}}",
     "{\"e\":\"joe@x.io\"}", NULL, "{\"username\":\"x.io\"}"},
    {"match drops non-matching list values",
     "{\"groups\":{\"claim\":\"g\",\"transforms\":[{\"match\":\"^toucan-(.*)$\"}]}}",
     "{\"sub\":\"s\",\"g\":[\"toucan-sales\",\"other\",\"toucan-hr\"]}", NULL,
     "{\"groups\":[\"sales\",\"hr\"]}"},
    {"replace with group reference",
     "{\"username\":{\"claim\":\"e\",\"transforms\":[{\"replace\":\"^(.*)@(.*)$\",\"with\":\"$"
     "2\\\\$1\"}]}}",
     "{\"e\":\"joe@x.io\"}", NULL, "{\"username\":\"x.io\\\\joe\"}"},
    {"replace is global",
     "{\"username\":{\"claim\":\"e\",\"transforms\":[{\"replace\":\"-\",\"with\":\"_\"}]}}",
     "{\"e\":\"a-b-c\"}", NULL, "{\"username\":\"a_b_c\"}"},
    {"split", "{\"groups\":{\"claim\":\"g\",\"transforms\":[{\"split\":\",\"}]}}",
     "{\"sub\":\"s\",\"g\":\"a,b,,c\"}", NULL, "{\"groups\":[\"a\",\"b\",\"\",\"c\"]}"},
    {"split then drop_empty",
     "{\"groups\":{\"claim\":\"g\",\"transforms\":[{\"split\":\",\"},\"drop_empty\"]}}",
     "{\"sub\":\"s\",\"g\":\"a,b,,c\"}", NULL, "{\"groups\":[\"a\",\"b\",\"c\"]}"},
    {"split flattens a list", "{\"groups\":{\"claim\":\"g\",\"transforms\":[{\"split\":\" \"}]}}",
     "{\"sub\":\"s\",\"g\":[\"a b\",\"c\"]}", NULL, "{\"groups\":[\"a\",\"b\",\"c\"]}"},
    {"join",
     "{\"attributes\":{\"g\":{\"claim\":\"g\",\"transforms\":[{\"join\":\"|\"}],\"type\":"
     "\"string\"}}}",
     "{\"sub\":\"s\",\"g\":[\"a\",\"b\"]}", NULL, "{\"attributes\":{\"g\":\"a|b\"}}"},
    {"lookup drops unmapped",
     "{\"groups\":{\"claim\":\"groups\",\"transforms\":[{\"lookup\":{\"0b1c\":\"sales\",\"9f2e\":"
     "\"hr\"}}]}}",
     "{\"sub\":\"s\",\"groups\":[\"9f2e\",\"dead\",\"0b1c\"]}", NULL,
     "{\"groups\":[\"hr\",\"sales\"]}"},
    {"unique after a lookup mapping several ids to one group",
     "{\"groups\":{\"claim\":\"groups\",\"transforms\":[{\"lookup\":{\"a\":\"G\",\"b\":\"G\","
     "\"c\":\"H\"}},\"unique\"]}}",
     "{\"sub\":\"s\",\"groups\":[\"a\",\"c\",\"b\",\"a\"]}", NULL, "{\"groups\":[\"G\",\"H\"]}"},
    {"unique on a single value",
     "{\"username\":{\"claim\":\"sub\",\"transforms\":[{\"unique\":true}]}}", "{\"sub\":\"s\"}",
     NULL, "{\"username\":\"s\"}"},
    {"lookup keeps unmapped",
     "{\"groups\":{\"claim\":\"groups\",\"transforms\":[{\"lookup\":{\"a\":\"A\"},\"otherwise\":"
     "\"keep\"}]}}",
     "{\"sub\":\"s\",\"groups\":[\"a\",\"b\"]}", NULL, "{\"groups\":[\"A\",\"b\"]}"},
    {"prefix and suffix",
     "{\"username\":{\"claim\":\"sub\",\"transforms\":[{\"prefix\":\"idp|\"},{\"suffix\":\"@t\"}]}"
     "}",
     "{\"sub\":\"s\"}", NULL, "{\"username\":\"idp|s@t\"}"},
    {"allow-list filter",
     "{\"groups\":{\"claim\":\"g\",\"transforms\":[{\"allow\":[\"a\",\"c\"]}]}}",
     "{\"sub\":\"s\",\"g\":[\"a\",\"b\",\"c\"]}", NULL, "{\"groups\":[\"a\",\"c\"]}"},
    {"deny-list filter", "{\"groups\":{\"claim\":\"g\",\"transforms\":[{\"deny\":[\"b\"]}]}}",
     "{\"sub\":\"s\",\"g\":[\"a\",\"b\",\"c\"]}", NULL, "{\"groups\":[\"a\",\"c\"]}"},
    {"lookup to default when all dropped",
     "{\"attributes\":{\"r\":{\"claim\":\"r\",\"transforms\":[{\"lookup\":{\"x\":\"X\"}}],"
     "\"default\":\"none\"}}}",
     "{\"sub\":\"s\",\"r\":\"y\"}", NULL, "{\"attributes\":{\"r\":\"none\"}}"},
    {"type number", "{\"attributes\":{\"level\":{\"claim\":\"lvl\",\"type\":\"number\"}}}",
     "{\"sub\":\"s\",\"lvl\":3}", NULL, "{\"attributes\":{\"level\":3}}"},
    {"type boolean", "{\"attributes\":{\"v\":{\"claim\":\"email_verified\",\"type\":\"boolean\"}}}",
     "{\"sub\":\"s\",\"email_verified\":true}", NULL, "{\"attributes\":{\"v\":true}}"},
    {"type string_list", "{\"attributes\":{\"c\":{\"claim\":\"c\",\"type\":\"string_list\"}}}",
     "{\"sub\":\"s\",\"c\":[\"FR\",\"DE\"]}", NULL, "{\"attributes\":{\"c\":[\"FR\",\"DE\"]}}"},
    {"split makes a one-value list explicitly",
     "{\"attributes\":{\"c\":{\"claim\":\"c\",\"type\":\"string_list\",\"transforms\":[{\"split\":"
     "\",\"}]}}}",
     "{\"sub\":\"s\",\"c\":\"FR\"}", NULL, "{\"attributes\":{\"c\":[\"FR\"]}}"},
    {"admin_if contains", "{\"admin_if\":{\"claim\":\"groups\",\"contains\":\"admins\"}}",
     "{\"sub\":\"s\",\"groups\":[\"x\",\"admins\"]}", NULL, "{\"admin\":true}"},
    {"admin_if false", "{\"admin_if\":{\"claim\":\"groups\",\"contains\":\"admins\"}}",
     "{\"sub\":\"s\",\"groups\":[\"x\"]}", NULL, "{\"admin\":false}"},
    {"maker_if", "{\"maker_if\":{\"claim\":\"role\",\"in\":[\"editor\",\"owner\"]}}",
     "{\"sub\":\"s\",\"role\":\"owner\"}", NULL, "{\"ai_role\":\"maker\"}"},
    {"access: email domain in list",
     "{\"access\":[{\"claim\":\"email\",\"transforms\":[{\"match\":\"@(.*)$\"},\"lower\"],\"in\":["
     "\"acme.example\"]}]}",
     "{\"sub\":\"s\",\"email\":\"j@ACME.example\"}", NULL, "{\"username\":\"j@ACME.example\"}"},
    {"access: any of",
     "{\"access\":{\"any\":[{\"claim\":\"groups\",\"contains\":\"a\"},{\"claim\":\"groups\","
     "\"contains\":\"b\"}]}}",
     "{\"sub\":\"s\",\"groups\":[\"b\"]}", NULL, "{\"username\":\"s\"}"},
    {"access: acr at least (ordered)",
     "{\"access\":{\"claim\":\"acr\",\"at_least\":\"mfa\",\"order\":[\"pwd\",\"mfa\",\"phr\"]}}",
     "{\"sub\":\"s\",\"acr\":\"phr\"}", NULL, "{\"username\":\"s\"}"},
    {"access: number at least", "{\"access\":{\"claim\":\"lvl\",\"at_least\":2}}",
     "{\"sub\":\"s\",\"lvl\":2.5}", NULL, "{\"username\":\"s\"}"},
    {"access: exists and not",
     "{\"access\":[{\"claim\":\"email_verified\",\"equals\":true},{\"not\":{\"claim\":\"blocked\","
     "\"exists\":true}}]}",
     "{\"sub\":\"s\",\"email_verified\":true}", NULL, "{\"username\":\"s\"}"},
    {"privileges constant", "{\"privileges\":{\"apps\":{\"x\":\"view\"}}}", "{\"sub\":\"s\"}", NULL,
     "{\"privileges\":{\"apps\":{\"x\":\"view\"}}}"},
    {"workspace from claim", "{\"workspace_id\":{\"claim\":\"tid\"}}",
     "{\"sub\":\"s\",\"tid\":\"t-1\"}", NULL, "{\"workspace_id\":\"t-1\"}"},
    {"null claim is missing",
     "{\"username\":{\"first_of\":[{\"claim\":\"email\"},{\"claim\":\"sub\"}]}}",
     "{\"sub\":\"s\",\"email\":null}", NULL, "{\"username\":\"s\"}"},
    {"UTF-8 kept by lower (ASCII only)",
     "{\"username\":{\"claim\":\"n\",\"transforms\":[\"lower\"]}}", "{\"n\":\"\\u00c9LODIE\"}",
     NULL, "{\"username\":\"\\u00c9lodie\"}"},
};

static void check_subset(const json_t *have, const json_t *want, const char *name)
{
	const char *k;
	json_t *v;

	json_object_foreach ((json_t *)want, k, v) {
		json_t *h = json_object_get(have, k);

		if (h == NULL || !json_equal(h, v)) {
			char *a = json_dumps(have, JSON_COMPACT),
			     *b = json_dumps(want, JSON_COMPACT);

			fail_msg("%s: member %s: have %s, want %s", name, k, a, b);
		}
	}
}

static void test_ok_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(ok_cases); i++) {
		const struct ok_case *c = &ok_cases[i];
		struct tsso_mapping *m = compile_ok(c->rules);
		json_t *claims = parse(c->claims), *ui = c->userinfo ? parse(c->userinfo) : NULL;
		json_t *want = parse(c->expect), *have;
		struct tsso_mapping_opts o = {.default_workspace = "ws"};
		struct tsso_mapping_refusal why;
		struct tsso_identity *id = NULL;

		if (tsso_mapping_apply(m, claims, ui, &o, &id, &why) != 0)
			fail_msg("%s: refused: %s: %s", c->name, why.err.reason, why.err.msg);
		have = tsso_identity_to_json(id);
		check_subset(have, want, c->name);
		json_decref(have);
		json_decref(want);
		json_decref(claims);
		json_decref(ui);
		tsso_identity_free(id);
		tsso_mapping_free(m);
	}
}

/* --- refusals: the reason code and the rule named --- */
struct refuse_case {
	const char *name, *rules, *claims, *reason, *rule, *msg_has;
};

static const struct refuse_case refuse_cases[] = {
    {"no username at all", NULL, "{\"iss\":\"x\"}", "mapping.claim_missing", "mapping.username",
     "claim \"email\""},
    {"required attribute missing",
     "{\"attributes\":{\"region\":{\"claim\":\"region\",\"required\":true}}}", "{\"sub\":\"s\"}",
     "mapping.claim_missing", "mapping.attributes.region", "claim \"region\""},
    {"required attribute empty string",
     "{\"attributes\":{\"region\":{\"claim\":\"region\",\"required\":true}}}",
     "{\"sub\":\"s\",\"region\":\"\"}", "mapping.claim_missing", "mapping.attributes.region", NULL},
    {"required attribute emptied by filter",
     "{\"groups\":{\"claim\":\"g\",\"required\":true,\"transforms\":[{\"allow\":[\"a\"]}]}}",
     "{\"sub\":\"s\",\"g\":[\"b\"]}", "mapping.empty", "mapping.groups", "transformed"},
    {"required scalar emptied by match",
     "{\"username\":{\"claim\":\"e\",\"transforms\":[{\"match\":\"^x(.*)\"}]}}", "{\"e\":\"abc\"}",
     "mapping.empty", "mapping.username", NULL},
    {"string wanted, list given", "{\"username\":{\"claim\":\"g\"}}", "{\"g\":[\"a\"]}",
     "mapping.type_mismatch", "mapping.username", "gives a list"},
    {"number wanted, string given",
     "{\"attributes\":{\"n\":{\"claim\":\"n\",\"type\":\"number\"}}}",
     "{\"sub\":\"s\",\"n\":\"3\"}", "mapping.type_mismatch", "mapping.attributes.n",
     "never converted"},
    {"boolean wanted, string given",
     "{\"attributes\":{\"b\":{\"claim\":\"b\",\"type\":\"boolean\"}}}",
     "{\"sub\":\"s\",\"b\":\"true\"}", "mapping.type_mismatch", "mapping.attributes.b", NULL},
    {"string_list wanted, string given", "{\"groups\":{\"claim\":\"g\"}}",
     "{\"sub\":\"s\",\"g\":\"a\"}", "mapping.type_mismatch", "mapping.groups", NULL},
    {"list of numbers", "{\"groups\":{\"claim\":\"g\"}}", "{\"sub\":\"s\",\"g\":[1,2]}",
     "mapping.type_mismatch", "mapping.groups", "holding a number"},
    {"object value", "{\"attributes\":{\"a\":{\"claim\":\"o\"}}}",
     "{\"sub\":\"s\",\"o\":{\"k\":1}}", "mapping.type_mismatch", "mapping.attributes.a",
     "is an object"},
    {"transform on a number",
     "{\"attributes\":{\"a\":{\"claim\":\"n\",\"transforms\":[\"lower\"]}}}",
     "{\"sub\":\"s\",\"n\":5}", "mapping.type_mismatch", "mapping.attributes.a", "works on text"},
    {"access denied",
     "{\"access\":{\"claim\":\"groups\",\"contains_any\":[\"a\",\"b\"],"
     "\"description\":\"members of a or b\"}}",
     "{\"sub\":\"s\",\"groups\":[\"c\"]}", "mapping.access_denied", "mapping.access",
     "members of a or b"},
    {"access denied: claim missing",
     "{\"access\":[{\"claim\":\"email_verified\",\"equals\":true}]}", "{\"sub\":\"s\"}",
     "mapping.access_denied", "mapping.access[0]", "mapping.access[0]"},
    {"access denied: acr too weak",
     "{\"access\":{\"claim\":\"acr\",\"at_least\":\"mfa\",\"order\":[\"pwd\",\"mfa\"]}}",
     "{\"sub\":\"s\",\"acr\":\"pwd\"}", "mapping.access_denied", "mapping.access", "below"},
    {"access denied: unknown acr",
     "{\"access\":{\"claim\":\"acr\",\"at_least\":\"mfa\",\"order\":[\"pwd\",\"mfa\"]}}",
     "{\"sub\":\"s\",\"acr\":\"zzz\"}", "mapping.access_denied", "mapping.access", NULL},
    {"access denied: in on a list", "{\"access\":{\"claim\":\"groups\",\"in\":[\"a\"]}}",
     "{\"sub\":\"s\",\"groups\":[\"a\"]}", "mapping.access_denied", "mapping.access",
     "contains_any"},
    {"access denied: not", "{\"access\":{\"not\":{\"claim\":\"blocked\",\"equals\":true}}}",
     "{\"sub\":\"s\",\"blocked\":true}", "mapping.access_denied", "mapping.access", "negated"},
    {"access denied names the failing condition",
     "{\"access\":[{\"claim\":\"a\",\"exists\":true},{\"any\":[{\"claim\":\"b\",\"equals\":1},"
     "{\"claim\":\"c\",\"equals\":2}]}]}",
     "{\"sub\":\"s\",\"a\":\"x\",\"b\":2,\"c\":1}", "mapping.access_denied", "mapping.access[1]",
     "none of the alternatives"},
    {"group overage refused (Entra _claim_names)", "{\"groups\":{\"claim\":\"groups\"}}",
     "{\"sub\":\"s\",\"_claim_names\":{\"groups\":\"src1\"},\"_claim_sources\":{\"src1\":"
     "{\"endpoint\":\"https://graph.windows.net/t/users/u/getMemberObjects\"}}}",
     "mapping.groups_overage", "mapping.groups", "claim \"groups\""},
    {"group overage refused (hasgroups)", "{\"groups\":{\"claim\":\"groups\"}}",
     "{\"sub\":\"s\",\"hasgroups\":true}", "mapping.groups_overage", "mapping.groups", NULL},
    {"aggregated claim refused",
     "{\"distributed_claims\":\"resolve\",\"groups\":{\"claim\":\"groups\"}}",
     "{\"sub\":\"s\",\"_claim_names\":{\"groups\":\"src1\"},\"_claim_sources\":{\"src1\":"
     "{\"JWT\":\"e30.e30.sig\"}}}",
     "mapping.groups_overage", "mapping.groups", "aggregated"},
    {"distributed claim with a plain http endpoint refused",
     "{\"distributed_claims\":\"resolve\",\"groups\":{\"claim\":\"groups\"}}",
     "{\"sub\":\"s\",\"_claim_names\":{\"groups\":\"src1\"},\"_claim_sources\":{\"src1\":"
     "{\"endpoint\":\"http://169.254.169.254/latest\"}}}",
     "mapping.groups_overage", "mapping.groups", "not https"},
    {"overage resolve but no resolver",
     "{\"distributed_claims\":\"resolve\",\"groups\":{\"claim\":\"groups\"}}",
     "{\"sub\":\"s\",\"hasgroups\":true}", "mapping.groups_overage", "mapping.groups",
     "cannot fetch"},
    {"claim value too long", "{\"username\":{\"claim\":\"sub\"}}", NULL, "mapping.too_large",
     "mapping.username", NULL},
    {"too many values", "{\"groups\":{\"claim\":\"g\"}}", NULL, "mapping.too_large",
     "mapping.groups", "more than"},
    {"embed_context too large", "{\"groups\":{\"claim\":\"g\"}}", NULL, "mapping.too_large",
     "mapping", "3500"},
    {"NUL inside a value", "{\"username\":{\"claim\":\"sub\"}}", "{\"sub\":\"a\\u0000b\"}",
     "mapping.too_large", "mapping.username", "NUL"},
};

/* Claims built in code for the size cases (NULL claims in the table). */
static json_t *big_claims(size_t i)
{
	json_t *c = json_object(), *g = json_array();
	char *s;

	switch (i) {
	case 0: /* one value over TSSO_MAPPING_MAX_STRING */
		s = calloc(1, TSSO_MAPPING_MAX_STRING + 2);
		memset(s, 'a', TSSO_MAPPING_MAX_STRING + 1);
		json_object_set_new(c, "sub", json_string(s));
		free(s);
		json_decref(g);
		return c;
	case 1: /* more values than TSSO_MAPPING_MAX_VALUES */
		for (int k = 0; k <= TSSO_MAPPING_MAX_VALUES; k++)
			json_array_append_new(g, json_sprintf("g%d", k));
		break;
	default: /* under the value limits, over the embed_context limit */
		for (int k = 0; k < 200; k++)
			json_array_append_new(g, json_sprintf("group-with-a-longish-name-%03d", k));
		break;
	}
	json_object_set_new(c, "sub", json_string("s"));
	json_object_set_new(c, "g", g);
	return c;
}

static void test_refusals(void **state)
{
	size_t big = 0;

	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(refuse_cases); i++) {
		const struct refuse_case *c = &refuse_cases[i];
		struct tsso_mapping *m = compile_ok(c->rules);
		json_t *claims = c->claims != NULL ? parse(c->claims) : big_claims(big++);
		struct tsso_mapping_opts o = {.default_workspace = "ws"};
		struct tsso_mapping_refusal why;
		struct tsso_identity *id = (struct tsso_identity *)&why; /* must stay untouched */

		if (tsso_mapping_apply(m, claims, NULL, &o, &id, &why) == 0)
			fail_msg("%s: accepted", c->name);
		assert_ptr_equal(id, (struct tsso_identity *)&why);
		if (strcmp(why.err.reason, c->reason) != 0 || strcmp(why.rule, c->rule) != 0)
			fail_msg("%s: got %s (%s): %s", c->name, why.err.reason, why.rule,
			         why.err.msg);
		if (c->msg_has != NULL && strstr(why.err.msg, c->msg_has) == NULL)
			fail_msg("%s: message lacks \"%s\": %s", c->name, c->msg_has, why.err.msg);
		json_decref(claims);
		tsso_mapping_free(m);
	}
}

/* Refusal texts never carry claim values (they may be secrets or personal data). */
static void test_refusal_hides_values(void **state)
{
	struct tsso_mapping *m =
	    compile_ok("{\"attributes\":{\"n\":{\"claim\":\"n\",\"type\":\"number\"}},"
	               "\"access\":{\"claim\":\"g\",\"equals\":\"ok\"}}");
	json_t *claims = parse("{\"sub\":\"s\",\"n\":\"SECRET-VALUE\",\"g\":\"SECRET-G\"}");
	char *out = NULL;

	(void)state;
	assert_int_equal(tsso_mapping_dry_run(m, claims, NULL, 0, "ws", &out), 1);
	assert_null(strstr(out, "SECRET"));
	assert_non_null(strstr(out, "mapping.access_denied"));
	assert_non_null(strstr(out, "mapping.type_mismatch"));
	free(out);
	json_decref(claims);
	tsso_mapping_free(m);
}

/* --- regex cost on hostile values --- */
static void test_regex_backtracking(void **state)
{
	struct tsso_mapping *m = compile_ok(
	    "{\"attributes\":{\"a\":{\"claim\":\"x\",\"transforms\":[{\"match\":\"^(a+)+$\"}]}}}");
	char value[TSSO_MAPPING_MAX_STRING];
	json_t *claims;
	struct tsso_mapping_refusal why;
	struct tsso_identity *id = NULL;
	struct timespec t0, t1;
	double secs;

	(void)state;
	memset(value, 'a', sizeof(value) - 2);
	value[sizeof(value) - 2] = '!';
	value[sizeof(value) - 1] = '\0';
	claims = json_pack("{s:s, s:s}", "sub", "s", "x", value);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(tsso_mapping_apply(m, claims, NULL, NULL, &id, &why), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_string_equal(why.err.reason, "mapping.regex_limit");
	assert_string_equal(why.rule, "mapping.attributes.a");
	assert_null(id);
	assert_true(secs < 1.0);
	json_decref(claims);
	tsso_mapping_free(m);
}

/* Many values each just under the per-match limit cannot add up: the login
 * has one regex time budget. */
static void test_regex_budget(void **state)
{
	struct tsso_mapping *m =
	    compile_ok("{\"groups\":{\"claim\":\"g\",\"transforms\":[{\"match\":\"^(a+)+$\"}]}}");
	json_t *claims = json_pack("{s:s, s:[]}", "sub", "s", "g");
	struct tsso_mapping_refusal why;
	struct tsso_identity *id = NULL;
	struct timespec t0, t1;

	(void)state;
	for (int i = 0; i < TSSO_MAPPING_MAX_VALUES; i++)
		json_array_append_new(json_object_get(claims, "g"),
		                      json_string("aaaaaaaaaaaaaa!")); /* 2^14 steps each */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(tsso_mapping_apply(m, claims, NULL, NULL, &id, &why), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_string_equal(why.err.reason, "mapping.regex_limit");
	assert_non_null(strstr(why.err.msg, "budget"));
	assert_true((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 <
	            2.0);
	json_decref(claims);
	tsso_mapping_free(m);
}

/* The limits leave room for honest patterns on the longest values. */
static void test_regex_long_value_ok(void **state)
{
	struct tsso_mapping *m = compile_ok("{\"username\":{\"claim\":\"e\",\"transforms\":[{"
	                                    "\"match\":\"^(.*)@(.*)$\",\"group\":2},"
	                                    "{\"replace\":\"(x)\",\"with\":\"$1\"}]}}");
	char value[TSSO_MAPPING_MAX_STRING + 1];
	json_t *claims;
	struct tsso_mapping_opts o = {.default_workspace = "ws"};
	struct tsso_mapping_refusal why;
	struct tsso_identity *id = NULL;

	(void)state;
	memset(value, 'x', TSSO_MAPPING_MAX_STRING);
	value[TSSO_MAPPING_MAX_STRING / 2] = '@';
	value[TSSO_MAPPING_MAX_STRING] = '\0';
	claims = json_pack("{s:s}", "e", value);
	if (tsso_mapping_apply(m, claims, NULL, &o, &id, &why) != 0)
		fail_msg("refused: %s", why.err.msg);
	assert_int_equal(strlen(id->username), TSSO_MAPPING_MAX_STRING / 2 - 1);
	tsso_identity_free(id);
	json_decref(claims);
	tsso_mapping_free(m);
}

/* --- distributed claims through the caller's resolver --- */
struct resolver_log {
	int calls;
	char endpoint[200];
	bool fail;
};

static int fake_resolve(void *opaque, const char *claim, const char *endpoint, json_t **ret_value,
                        struct tsso_err *err)
{
	struct resolver_log *log = opaque;

	log->calls++;
	snprintf(log->endpoint, sizeof(log->endpoint), "%s", endpoint ? endpoint : "(none)");
	if (log->fail)
		return tsso_err_set(err, "fetch.timeout", "graph did not answer");
	assert_string_equal(claim, "groups");
	*ret_value = json_pack("[s,s]", "0b1c", "9f2e");
	return 0;
}

static void test_overage_resolved(void **state)
{
	struct tsso_mapping *m = compile_ok(
	    "{\"distributed_claims\":\"resolve\",\"groups\":{\"claim\":\"groups\",\"transforms\":"
	    "[{\"lookup\":{\"0b1c\":\"sales\"}}]},\"admin_if\":{\"claim\":\"groups\",\"contains\":"
	    "\"9f2e\"}}");
	json_t *claims = parse("{\"sub\":\"s\",\"_claim_names\":{\"groups\":\"src1\"},"
	                       "\"_claim_sources\":{\"src1\":{\"endpoint\":\"https://graph/x\"}}}");
	struct resolver_log log = {0};
	struct tsso_mapping_resolver res = {fake_resolve, &log};
	struct tsso_mapping_opts o = {.default_workspace = "ws", .resolver = &res};
	struct tsso_mapping_refusal why;
	struct tsso_identity *id = NULL;
	json_t *want = parse("[\"sales\"]");

	(void)state;
	assert_int_equal(tsso_mapping_apply(m, claims, NULL, &o, &id, &why), 0);
	assert_int_equal(log.calls, 1); /* fetched once, used by two rules */
	assert_string_equal(log.endpoint, "https://graph/x");
	assert_true(json_equal(id->groups, want));
	assert_true(id->admin);
	tsso_identity_free(id);
	id = NULL;

	log.fail = true;
	assert_int_equal(tsso_mapping_apply(m, claims, NULL, &o, &id, &why), -1);
	assert_string_equal(why.err.reason, "mapping.claims_unavailable");
	assert_non_null(strstr(why.err.msg, "graph did not answer"));
	assert_null(id);
	json_decref(want);
	json_decref(claims);
	tsso_mapping_free(m);
}

/* --- serialized shapes and dry run --- */
static void test_dry_run(void **state)
{
	struct tsso_mapping *m =
	    compile_ok("{\"admin_if\":{\"claim\":\"adm\",\"equals\":true},"
	               "\"attributes\":{\"country\":{\"claim\":\"c\",\"required\":true}}}");
	json_t *claims = parse("{\"sub\":\"s\",\"email\":\"a@x.io\",\"adm\":true,\"c\":\"FR\"}");
	json_t *bad = parse("{\"iss\":\"i\"}");
	json_t *got, *want;
	char *out = NULL;

	(void)state;
	assert_int_equal(tsso_mapping_dry_run(m, claims, NULL, 0, "acme", &out), 0);
	got = parse(out);
	want = parse("{\"username\":\"a@x.io\",\"workspace_id\":\"acme\",\"roles\":[\"ADMIN\"],"
	             "\"privileges\":{},\"groups\":[],\"attributes\":{\"country\":\"FR\"}}");
	assert_true(json_equal(got, want));
	assert_non_null(strchr(out, '\n')); /* pretty */
	free(out);
	json_decref(got);
	json_decref(want);

	assert_int_equal(tsso_mapping_dry_run(m, claims, NULL, 1, NULL, &out), 0);
	got = parse(out);
	want = parse("{\"user\":{\"distinctId\":\"a@x.io\",\"role\":\"explorer\",\"attributes\":"
	             "{\"country\":\"FR\"}}}");
	assert_true(json_equal(got, want));
	free(out);
	json_decref(got);
	json_decref(want);

	/* Every reason, one per line. */
	assert_int_equal(tsso_mapping_dry_run(m, bad, NULL, 0, "acme", &out), 1);
	assert_non_null(strstr(out, "mapping.claim_missing: mapping.username:"));
	assert_non_null(strstr(out, "\nmapping.claim_missing: mapping.attributes.country:"));
	free(out);

	/* signed_jwt without any workspace id */
	assert_int_equal(tsso_mapping_dry_run(m, claims, NULL, 0, NULL, &out), 1);
	assert_non_null(strstr(out, "mapping.empty: mapping.workspace_id"));
	free(out);
	json_decref(claims);
	json_decref(bad);
	tsso_mapping_free(m);
}

/* The api scheme has its own, larger bound: 200 groups fit, no embed_context check. */
static void test_api_scheme_limit(void **state)
{
	struct tsso_mapping *m = compile_ok("{\"attributes\":{\"g\":{\"claim\":\"g\"}}}");
	json_t *claims = big_claims(2);
	struct tsso_mapping_opts api = {.scheme = TSSO_EMBED_API};
	struct tsso_mapping_opts jwt = {.scheme = TSSO_EMBED_SIGNED_JWT, .default_workspace = "w"};
	struct tsso_mapping_refusal why;
	struct tsso_identity *id = NULL;

	(void)state;
	assert_int_equal(tsso_mapping_apply(m, claims, NULL, &api, &id, &why), 0);
	tsso_identity_free(id);
	id = NULL;
	assert_int_equal(tsso_mapping_apply(m, claims, NULL, &jwt, &id, &why), -1);
	assert_string_equal(why.err.reason, "mapping.too_large");
	assert_non_null(strstr(why.err.msg, "embed_context would be "));
	assert_non_null(strstr(why.err.msg, "over the limit of 3500"));
	/* A login (not a dry run) without any workspace id is refused too. */
	jwt.default_workspace = NULL;
	json_decref(claims);
	claims = json_pack("{s:s}", "sub", "s");
	assert_int_equal(tsso_mapping_apply(m, claims, NULL, &jwt, &id, &why), -1);
	assert_null(id);
	assert_string_equal(why.err.reason, "mapping.empty");
	assert_string_equal(why.rule, "mapping.workspace_id");
	json_decref(claims);
	tsso_mapping_free(m);
}

static void test_apply_bad_input(void **state)
{
	struct tsso_mapping *m = compile_ok(NULL);
	json_t *arr = parse("[1]");
	struct tsso_mapping_refusal why;
	struct tsso_identity *id = NULL;

	(void)state;
	assert_int_equal(tsso_mapping_apply(m, arr, NULL, NULL, &id, &why), -1);
	assert_string_equal(why.err.reason, "mapping.claim_missing");
	assert_int_equal(tsso_mapping_apply(m, NULL, NULL, NULL, &id, NULL), -1);
	assert_null(id);
	json_decref(arr);
	tsso_mapping_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ok_cases),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_refusal_hides_values),
	    cmocka_unit_test(test_regex_backtracking),
	    cmocka_unit_test(test_regex_budget),
	    cmocka_unit_test(test_regex_long_value_ok),
	    cmocka_unit_test(test_overage_resolved),
	    cmocka_unit_test(test_dry_run),
	    cmocka_unit_test(test_api_scheme_limit),
	    cmocka_unit_test(test_apply_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
