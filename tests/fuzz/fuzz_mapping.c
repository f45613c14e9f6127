/*
 * Fuzz target for the claim mapping: input is RULES \0 CLAIMS [\0 USERINFO],
 * each a JSON document. Compiles the rules like `toucan-sso check` would,
 * then applies them (with a stub resolver for distributed claims) and dry-
 * runs both Toucan schemes. Must never crash, leak or hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/identity.h"
#include "tsso/mapping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int stub_resolve(void *opaque, const char *claim, const char *endpoint, json_t **ret_value,
                        struct tsso_err *err)
{
	(void)opaque;
	(void)claim;
	if (endpoint == NULL)
		return tsso_err_set(err, "fuzz.no_endpoint", "no endpoint");
	*ret_value = json_pack("[s,s]", "g1", "g2");
	return *ret_value != NULL ? 0 : -1;
}

static json_t *part(const uint8_t *p, size_t n)
{
	return json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep1 = memchr(data, 0, size), *sep2 = NULL;
	struct tsso_problems problems = {0};
	struct tsso_mapping *m = NULL;
	json_t *rules = NULL, *claims = NULL, *ui = NULL;
	struct tsso_mapping_resolver res = {stub_resolve, NULL};
	struct tsso_mapping_opts opts = {.default_workspace = "ws", .resolver = &res};
	struct tsso_mapping_refusal why;
	struct tsso_identity *id = NULL;
	char *out = NULL;

	if (size > 64 * 1024)
		return 0;
	rules = part(data, sep1 != NULL ? (size_t)(sep1 - data) : size);
	m = tsso_mapping_compile(rules, NULL, "fuzz.json", &problems);
	tsso_problems_free(&problems);
	if (m == NULL || sep1 == NULL)
		goto out;
	sep1++;
	sep2 = memchr(sep1, 0, size - (size_t)(sep1 - data));
	claims = part(sep1, sep2 != NULL ? (size_t)(sep2 - sep1) : size - (size_t)(sep1 - data));
	if (sep2 != NULL)
		ui = part(sep2 + 1, size - (size_t)(sep2 + 1 - data));
	if (tsso_mapping_apply(m, claims, ui, &opts, &id, &why) == 0) {
		json_t *j = tsso_identity_to_json(id);
		struct tsso_identity *back = tsso_identity_from_json(j);

		if (back == NULL)
			abort(); /* what apply makes must survive a session round-trip */
		tsso_identity_free(back);
		json_decref(j);
	}
	tsso_identity_free(id);
	for (int scheme = 0; scheme <= 1; scheme++) {
		if (tsso_mapping_dry_run(m, claims, ui, scheme, "ws", &out) >= 0)
			free(out);
		out = NULL;
	}
out:
	json_decref(rules);
	json_decref(claims);
	json_decref(ui);
	tsso_mapping_free(m);
	return 0;
}
