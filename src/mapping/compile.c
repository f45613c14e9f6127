/* Compiling a tenant's "mapping" rules: top-level keys, defaults, regex limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map_int.h"

static const char *const top_keys[] = {
    "preset", "description", "username",   "workspace_id", "admin_if",           "maker_if",
    "groups", "privileges",  "attributes", "access",       "distributed_claims",
};

/* The product contract's default: email, else preferred_username, else sub. */
static const char default_username[] =
    "{\"first_of\": [{\"claim\": \"email\"}, {\"claim\": \"preferred_username\"}, "
    "{\"claim\": \"sub\"}]}";

/* Attribute names become keys of Toucan's attributes object: keep them plain. */
static bool attr_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int attributes_compile(struct map_cc *cc, const json_t *a, struct tsso_mapping *m)
{
	const char *name;
	json_t *v;

	if (!json_is_object(a) || json_object_size(a) > TSSO_MAPPING_MAX_ATTRIBUTES) {
		map_problem(cc, "mapping.attributes",
		            "want an object of at most %d attribute rules",
		            TSSO_MAPPING_MAX_ATTRIBUTES);
		return -1;
	}
	m->attrs = calloc(json_object_size(a) + 1, sizeof(*m->attrs));
	m->attr_names = calloc(json_object_size(a) + 1, sizeof(*m->attr_names));
	if (m->attrs == NULL || m->attr_names == NULL)
		return -1;
	json_object_foreach((json_t *)a, name, v)
	{
		char key[200];

		map_key(key, sizeof(key), "mapping.attributes.%.64s", name);
		if (!attr_name_ok(name)) {
			map_problem(cc, key, "attribute names are 1 to 64 letters, digits, _ or -");
			continue;
		}
		if (map_rule_compile(cc, key, v, MAP_T_ANY, false, &m->attrs[m->n_attrs]) < 0)
			continue;
		if ((m->attr_names[m->n_attrs] = strdup(name)) == NULL) {
			map_rule_clear(&m->attrs[m->n_attrs]);
			return -1;
		}
		m->n_attrs++;
	}
	return 0;
}

static int privileges_compile(struct map_cc *cc, const json_t *p, struct tsso_mapping *m)
{
	char *dump;
	size_t n;

	if (!json_is_object(p)) {
		map_problem(cc, "mapping.privileges",
		            "want an object (Toucan 3.0 privileges or "
		            "Toucan AI permissions)");
		return -1;
	}
	dump = json_dumps(p, JSON_COMPACT);
	n = dump != NULL ? strlen(dump) : 0;
	free(dump);
	if (n == 0 || n > TSSO_MAPPING_MAX_CONSTANT) {
		map_problem(cc, "mapping.privileges", "over %d bytes of JSON",
		            TSSO_MAPPING_MAX_CONSTANT);
		return -1;
	}
	json_decref(m->privileges);
	m->privileges = json_deep_copy(p);
	return m->privileges != NULL ? 0 : -1;
}

static int distributed_compile(struct map_cc *cc, const json_t *v, struct tsso_mapping *m)
{
	const char *s = json_string_value(v);

	if (s != NULL && strcmp(s, "refuse") == 0) {
		m->resolve_distributed = false;
		return 0;
	}
	if (s != NULL && strcmp(s, "resolve") == 0) {
		m->resolve_distributed = true;
		return 0;
	}
	map_problem(cc, "mapping.distributed_claims", "want \"refuse\" or \"resolve\"");
	return -1;
}

int map_compile_object(struct map_cc *cc, const json_t *rules, struct tsso_mapping *m)
{
	const char *k;
	json_t *v, *dflt = NULL;

	json_object_foreach((json_t *)rules, k, v)
	{
		bool known = false;

		for (size_t i = 0; i < TSSO_ARRAY_LEN(top_keys); i++)
			known = known || strcmp(k, top_keys[i]) == 0;
		if (!known) {
			char key[200];

			map_key(key, sizeof(key), "mapping.%.64s", k);
			map_problem(cc, key,
			            "unknown key (want one of preset, username, workspace_id, "
			            "admin_if, maker_if, groups, privileges, attributes, "
			            "access, distributed_claims, description)");
		}
	}
	if ((v = json_object_get(rules, "description")) != NULL && !json_is_string(v))
		map_problem(cc, "mapping.description", "want a string");
	if ((v = json_object_get(rules, "username")) == NULL) {
		dflt = json_loads(default_username, 0, NULL);
		v = dflt;
	}
	(void)map_rule_compile(cc, "mapping.username", v, MAP_T_STRING, false, &m->username);
	json_decref(dflt);
	m->username.required = true; /* a login without a user name is never minted */
	if ((v = json_object_get(rules, "workspace_id")) != NULL)
		m->has_workspace = map_rule_compile(cc, "mapping.workspace_id", v, MAP_T_STRING,
		                                    false, &m->workspace) == 0;
	if ((v = json_object_get(rules, "groups")) != NULL)
		m->has_groups = map_rule_compile(cc, "mapping.groups", v, MAP_T_STRING_LIST, false,
		                                 &m->groups) == 0;
	if ((v = json_object_get(rules, "admin_if")) != NULL)
		m->has_admin_if = map_cond_compile(cc, "mapping.admin_if", v, 0, &m->admin_if) == 0;
	if ((v = json_object_get(rules, "maker_if")) != NULL)
		m->has_maker_if = map_cond_compile(cc, "mapping.maker_if", v, 0, &m->maker_if) == 0;
	if ((v = json_object_get(rules, "access")) != NULL) {
		if (json_is_array(v))
			m->has_access =
			    map_cond_compile_all(cc, "mapping.access", v, &m->access) == 0;
		else
			m->has_access =
			    map_cond_compile(cc, "mapping.access", v, 0, &m->access) == 0;
	}
	if ((v = json_object_get(rules, "privileges")) != NULL &&
	    privileges_compile(cc, v, m) < 0 && !cc->failed)
		map_problem(cc, "mapping.privileges", "out of memory");
	if ((v = json_object_get(rules, "attributes")) != NULL &&
	    attributes_compile(cc, v, m) < 0 && !cc->failed)
		map_problem(cc, "mapping.attributes", "out of memory");
	if ((v = json_object_get(rules, "distributed_claims")) != NULL)
		(void)distributed_compile(cc, v, m);
	return cc->failed ? -1 : 0;
}

void map_mapping_clear(struct tsso_mapping *m)
{
	map_rule_clear(&m->username);
	map_rule_clear(&m->workspace);
	map_rule_clear(&m->groups);
	map_cond_clear(&m->admin_if);
	map_cond_clear(&m->maker_if);
	map_cond_clear(&m->access);
	for (size_t i = 0; i < m->n_attrs; i++) {
		map_rule_clear(&m->attrs[i]);
		free(m->attr_names[i]);
	}
	free(m->attrs);
	free(m->attr_names);
	json_decref(m->privileges);
	m->attrs = NULL;
	m->attr_names = NULL;
	m->privileges = NULL;
	m->n_attrs = 0;
}

void tsso_mapping_free(struct tsso_mapping *m)
{
	if (m == NULL)
		return;
	map_mapping_clear(m);
	pcre2_compile_context_free(m->ccx);
	pcre2_match_context_free(m->mcx);
	free(m);
}

/* Regex limits, fixed at config time: a hostile claim value cannot make a
 * match backtrack without bound (the classic (a+)+$ on "aaaa...!"). */
static int regex_contexts(struct tsso_mapping *m)
{
	m->ccx = pcre2_compile_context_create(NULL);
	m->mcx = pcre2_match_context_create(NULL);
	if (m->ccx == NULL || m->mcx == NULL)
		return -1;
	if (pcre2_set_max_pattern_length(m->ccx, TSSO_MAPPING_MAX_PATTERN) != 0 ||
	    pcre2_set_parens_nest_limit(m->ccx, 32) != 0 ||
	    pcre2_set_match_limit(m->mcx, TSSO_MAPPING_REGEX_MATCH_LIMIT) != 0 ||
	    pcre2_set_depth_limit(m->mcx, TSSO_MAPPING_REGEX_DEPTH_LIMIT) != 0 ||
	    pcre2_set_heap_limit(m->mcx, TSSO_MAPPING_REGEX_HEAP_LIMIT) != 0)
		return -1;
	return 0;
}

struct tsso_mapping *tsso_mapping_compile(const json_t *rules, const char *presets_dir,
                                          const char *file, struct tsso_problems *problems)
{
	struct map_cc cc = {.problems = problems, .file = file};
	struct tsso_mapping *m = calloc(1, sizeof(*m));
	json_t *empty = NULL, *merged = NULL;

	if (m == NULL || regex_contexts(m) < 0) {
		map_problem(&cc, "mapping", "out of memory");
		goto fail;
	}
	cc.ccx = m->ccx;
	cc.mcx = m->mcx;
	if (rules == NULL || json_is_null(rules)) {
		if ((empty = json_object()) == NULL)
			goto fail;
		rules = empty;
	}
	if (!json_is_object(rules)) {
		map_problem(&cc, "mapping", "want an object of rules (see docs/mapping.md)");
		goto fail;
	}
	if ((merged = map_preset_merge(&cc, rules, presets_dir)) == NULL)
		goto fail;
	if (map_compile_object(&cc, merged, m) < 0)
		goto fail;
	json_decref(merged);
	json_decref(empty);
	return m;
fail:
	json_decref(merged);
	json_decref(empty);
	tsso_mapping_free(m);
	return NULL;
}
