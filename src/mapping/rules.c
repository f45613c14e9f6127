/* Compiling one value rule: its sources, default, transforms, type and required flag. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map_int.h"

void map_key(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

void map_problem(struct map_cc *cc, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tsso_problems_add(cc->problems, cc->file, key, "%s", msg);
	cc->failed = 1;
}

static const char *const type_names[] = {
    [MAP_T_ANY] = "any",         [MAP_T_STRING] = "string",           [MAP_T_NUMBER] = "number",
    [MAP_T_BOOLEAN] = "boolean", [MAP_T_STRING_LIST] = "string_list",
};

const char *map_type_name(enum map_type t)
{
	return type_names[t];
}

const char *map_json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "list";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "value";
}

static bool is_string_list(const json_t *v)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return false;
	}
	return true;
}

bool map_type_fits(enum map_type t, const json_t *v)
{
	switch (t) {
	case MAP_T_ANY:
		return json_is_string(v) || json_is_number(v) || json_is_boolean(v) ||
		       is_string_list(v);
	case MAP_T_STRING:
		return json_is_string(v);
	case MAP_T_NUMBER:
		return json_is_number(v);
	case MAP_T_BOOLEAN:
		return json_is_boolean(v);
	case MAP_T_STRING_LIST:
		return is_string_list(v);
	}
	return false;
}

void map_rule_clear(struct map_rule *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_src; i++) {
		map_path_clear(&r->src[i].path);
		json_decref(r->src[i].value);
	}
	free(r->src);
	for (size_t i = 0; i < r->n_xf; i++)
		map_xf_clear(&r->xf[i]);
	free(r->xf);
	json_decref(r->dflt);
	free(r->name);
	memset(r, 0, sizeof(*r));
}

/* A constant ("value", "default"): a string, number, boolean or list of strings. */
static int constant_compile(struct map_cc *cc, const char *key, const json_t *j, json_t **ret)
{
	char *dump;
	size_t n;

	if (!map_type_fits(MAP_T_ANY, j)) {
		map_problem(cc, key, "want a string, number, boolean or list of strings, not a %s",
		            map_json_kind(j));
		return -1;
	}
	dump = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	n = dump != NULL ? strlen(dump) : 0;
	free(dump);
	if (n == 0 || n > TSSO_MAPPING_MAX_CONSTANT) {
		map_problem(cc, key, "constant over %d bytes of JSON", TSSO_MAPPING_MAX_CONSTANT);
		return -1;
	}
	*ret = json_deep_copy(j);
	return *ret != NULL ? 0 : -1;
}

static const char *const source_keys[] = {"claim", "userinfo", "value"};

/* One source object: exactly one of claim, userinfo, value. j is the rule
 * itself (extra keys allowed) or a first_of entry (only the source key). */
static int source_compile(struct map_cc *cc, const char *key, const json_t *j, bool alone,
                          struct map_source *ret)
{
	int found = -1;
	char k[200];

	for (size_t i = 0; i < TSSO_ARRAY_LEN(source_keys); i++) {
		if (json_object_get(j, source_keys[i]) == NULL)
			continue;
		if (found >= 0) {
			map_problem(cc, key,
			            "\"%s\" and \"%s\": one source per rule (use \"first_of\" "
			            "for alternatives)",
			            source_keys[found], source_keys[i]);
			return -1;
		}
		found = (int)i;
	}
	if (found < 0) {
		map_problem(cc, key, "no source: want \"claim\", \"userinfo\", \"value\"%s",
		            alone ? "" : " or \"first_of\"");
		return -1;
	}
	if (alone && json_object_size(j) != 1) {
		map_problem(cc, key, "a \"first_of\" entry has only its source key");
		return -1;
	}
	map_key(k, sizeof(k), "%s.%s", key, source_keys[found]);
	ret->kind = (enum map_src_kind)found;
	if (ret->kind == MAP_SRC_VALUE)
		return constant_compile(cc, k, json_object_get(j, "value"), &ret->value);
	return map_path_compile(cc, k, json_object_get(j, source_keys[found]), &ret->path);
}

static const char *const rule_keys[] = {"claim",    "userinfo", "value",
                                        "first_of", "default",  "transforms",
                                        "type",     "required", "description"};
static const char *const cond_keys[] = {"exists",       "equals",   "in",   "contains",
                                        "contains_any", "at_least", "order"};

static bool key_known(const char *k, bool cond_mode)
{
	for (size_t i = 0; i < TSSO_ARRAY_LEN(rule_keys); i++)
		if (strcmp(k, rule_keys[i]) == 0)
			return true;
	for (size_t i = 0; cond_mode && i < TSSO_ARRAY_LEN(cond_keys); i++)
		if (strcmp(k, cond_keys[i]) == 0)
			return true;
	return false;
}

static int type_compile(struct map_cc *cc, const char *key, const json_t *j, enum map_type *ret)
{
	for (int t = MAP_T_STRING; t <= MAP_T_STRING_LIST; t++) {
		if (json_is_string(j) && strcmp(json_string_value(j), type_names[t]) == 0) {
			*ret = (enum map_type)t;
			return 0;
		}
	}
	map_problem(cc, key, "want \"string\", \"number\", \"boolean\" or \"string_list\"");
	return -1;
}

static int sources_compile(struct map_cc *cc, const char *key, const json_t *j, struct map_rule *r)
{
	const json_t *alts = json_object_get(j, "first_of");
	char k[200];
	size_t i;
	json_t *e;

	r->src = calloc(TSSO_MAPPING_MAX_SOURCES, sizeof(*r->src));
	if (r->src == NULL)
		return -1;
	if (alts == NULL) {
		if (source_compile(cc, key, j, false, &r->src[0]) < 0)
			return -1;
		r->n_src = 1;
		return 0;
	}
	map_key(k, sizeof(k), "%s.first_of", key);
	for (size_t s = 0; s < TSSO_ARRAY_LEN(source_keys); s++) {
		if (json_object_get(j, source_keys[s]) != NULL) {
			map_problem(cc, k, "\"first_of\" replaces \"%s\": keep only one",
			            source_keys[s]);
			return -1;
		}
	}
	if (!json_is_array(alts) || json_array_size(alts) == 0 ||
	    json_array_size(alts) > TSSO_MAPPING_MAX_SOURCES) {
		map_problem(cc, k, "want a list of 1 to %d sources", TSSO_MAPPING_MAX_SOURCES);
		return -1;
	}
	json_array_foreach(alts, i, e)
	{
		char ke[220];

		map_key(ke, sizeof(ke), "%s[%zu]", k, i);
		if (!json_is_object(e)) {
			map_problem(
			    cc, ke,
			    "want {\"claim\": ...}, {\"userinfo\": ...} or {\"value\": ...}");
			return -1;
		}
		if (source_compile(cc, ke, e, true, &r->src[i]) < 0)
			return -1;
		r->n_src = i + 1;
	}
	return 0;
}

static int transforms_compile(struct map_cc *cc, const char *key, const json_t *a,
                              struct map_rule *r)
{
	size_t i;
	json_t *e;

	if (!json_is_array(a) || json_array_size(a) > TSSO_MAPPING_MAX_TRANSFORMS) {
		map_problem(cc, key, "want a list of at most %d transforms",
		            TSSO_MAPPING_MAX_TRANSFORMS);
		return -1;
	}
	if (json_array_size(a) == 0)
		return 0;
	r->xf = calloc(json_array_size(a), sizeof(*r->xf));
	if (r->xf == NULL)
		return -1;
	json_array_foreach(a, i, e)
	{
		char k[220];

		map_key(k, sizeof(k), "%s[%zu]", key, i);
		if (map_xf_compile(cc, k, e, &r->xf[i]) < 0)
			return -1;
		r->n_xf = i + 1;
	}
	return 0;
}

int map_rule_compile(struct map_cc *cc, const char *key, const json_t *j, enum map_type forced_type,
                     bool cond_mode, struct map_rule *ret)
{
	struct map_rule r = {0};
	const char *k;
	json_t *v;
	char kk[200];
	int bad = 0;

	if (!json_is_object(j)) {
		map_problem(cc, key, "want an object such as {\"claim\": \"email\"}");
		return -1;
	}
	json_object_foreach((json_t *)j, k, v)
	{
		if (!key_known(k, cond_mode)) {
			map_problem(cc, key, "unknown key \"%.64s\"", k);
			bad = 1;
		}
	}
	if (bad || (r.name = strdup(key)) == NULL)
		goto fail;
	if (sources_compile(cc, key, j, &r) < 0)
		goto fail;
	r.type = forced_type;
	if ((v = json_object_get(j, "type")) != NULL) {
		enum map_type t;

		map_key(kk, sizeof(kk), "%s.type", key);
		if (type_compile(cc, kk, v, &t) < 0)
			goto fail;
		if (forced_type != MAP_T_ANY && t != forced_type) {
			map_problem(cc, kk, "this value is always a %s", type_names[forced_type]);
			goto fail;
		}
		r.type = t;
	}
	if ((v = json_object_get(j, "required")) != NULL) {
		if (!json_is_boolean(v)) {
			map_key(kk, sizeof(kk), "%s.required", key);
			map_problem(cc, kk, "want true or false");
			goto fail;
		}
		r.required = json_is_true(v);
	}
	if ((v = json_object_get(j, "description")) != NULL && !json_is_string(v)) {
		map_key(kk, sizeof(kk), "%s.description", key);
		map_problem(cc, kk, "want a string");
		goto fail;
	}
	if ((v = json_object_get(j, "default")) != NULL) {
		map_key(kk, sizeof(kk), "%s.default", key);
		if (constant_compile(cc, kk, v, &r.dflt) < 0)
			goto fail;
		if (!map_type_fits(r.type, r.dflt)) {
			map_problem(cc, kk, "a %s does not fit type %s", map_json_kind(r.dflt),
			            type_names[r.type]);
			goto fail;
		}
	}
	if ((v = json_object_get(j, "transforms")) != NULL) {
		map_key(kk, sizeof(kk), "%s.transforms", key);
		if (transforms_compile(cc, kk, v, &r) < 0)
			goto fail;
		if (r.n_xf > 0 && (r.type == MAP_T_NUMBER || r.type == MAP_T_BOOLEAN)) {
			map_problem(cc, kk, "transforms work on text: a %s rule cannot have any",
			            type_names[r.type]);
			goto fail;
		}
	}
	/* A constant that cannot fit the type is a configuration error, not a
	 * login refusal. */
	for (size_t i = 0; i < r.n_src; i++) {
		if (r.src[i].kind == MAP_SRC_VALUE && r.n_xf == 0 &&
		    !map_type_fits(r.type, r.src[i].value)) {
			map_problem(cc, key, "constant %s does not fit type %s",
			            map_json_kind(r.src[i].value), type_names[r.type]);
			goto fail;
		}
	}
	*ret = r;
	return 0;
fail:
	if (!cc->failed)
		map_problem(cc, key, "out of memory");
	map_rule_clear(&r);
	return -1;
}
