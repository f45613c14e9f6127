/* Conditions on claims: access rules (403 when one fails), admin_if, maker_if. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map_int.h"

static const char *const op_names[] = {
    [MAP_OP_EXISTS] = "exists",
    [MAP_OP_EQUALS] = "equals",
    [MAP_OP_IN] = "in",
    [MAP_OP_CONTAINS] = "contains",
    [MAP_OP_CONTAINS_ANY] = "contains_any",
    [MAP_OP_AT_LEAST] = "at_least",
};

void map_cond_clear(struct map_cond *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_sub; i++)
		map_cond_clear(&c->sub[i]);
	free(c->sub);
	map_rule_clear(&c->value);
	json_decref(c->operand);
	json_decref(c->order);
	free(c->name);
	free(c->description);
	memset(c, 0, sizeof(*c));
}

static int list_compile(struct map_cc *cc, const char *key, const json_t *a, int depth,
                        struct map_cond *c)
{
	size_t i;
	json_t *e;

	if (!json_is_array(a) || json_array_size(a) == 0) {
		map_problem(cc, key, "want a non-empty list of conditions");
		return -1;
	}
	c->sub = calloc(json_array_size(a), sizeof(*c->sub));
	if (c->sub == NULL)
		return -1;
	json_array_foreach(a, i, e)
	{
		char k[220];

		map_key(k, sizeof(k), "%s[%zu]", key, i);
		if (map_cond_compile(cc, k, e, depth + 1, &c->sub[i]) < 0)
			return -1;
		c->n_sub = i + 1;
	}
	return 0;
}

static bool scalar(const json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static int operand_compile(struct map_cc *cc, const char *key, const json_t *j, struct map_cond *c)
{
	int found = -1;
	const json_t *v;
	char k[220];

	for (size_t i = 0; i < TSSO_ARRAY_LEN(op_names); i++) {
		if (json_object_get(j, op_names[i]) == NULL)
			continue;
		if (found >= 0) {
			map_problem(cc, key,
			            "one test per condition (\"%s\" and \"%s\"); use \"all\"",
			            op_names[found], op_names[i]);
			return -1;
		}
		found = (int)i;
	}
	if (found < 0) {
		map_problem(cc, key,
		            "no test: want one of exists, equals, in, contains, "
		            "contains_any, at_least");
		return -1;
	}
	c->op = (enum map_op)found;
	v = json_object_get(j, op_names[found]);
	map_key(k, sizeof(k), "%s.%s", key, op_names[found]);
	switch (c->op) {
	case MAP_OP_EXISTS:
		if (!json_is_boolean(v))
			goto bad;
		break;
	case MAP_OP_EQUALS:
	case MAP_OP_CONTAINS:
		if (!scalar(v))
			goto bad;
		break;
	case MAP_OP_IN:
	case MAP_OP_CONTAINS_ANY: {
		size_t i;
		json_t *e;

		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > TSSO_MAPPING_MAX_LIST)
			goto bad;
		json_array_foreach(v, i, e)
		{
			if (!scalar(e))
				goto bad;
		}
		break;
	}
	case MAP_OP_AT_LEAST: {
		const json_t *order = json_object_get(j, "order");

		if (json_is_number(v) && order == NULL)
			break;
		if (!json_is_string(v) || !json_is_array(order) ||
		    json_array_size(order) > TSSO_MAPPING_MAX_LIST) {
			map_problem(cc, k,
			            "want a number, or a string with \"order\": [weakest, ..., "
			            "strongest]");
			return -1;
		}
		bool listed = false;
		size_t i;
		json_t *e;

		json_array_foreach(order, i, e)
		{
			if (!json_is_string(e)) {
				map_problem(cc, k, "\"order\" entry %zu: want a string", i);
				return -1;
			}
			listed = listed || json_equal(e, v);
		}
		if (!listed) {
			map_problem(cc, k, "\"%.64s\" is not in \"order\"", json_string_value(v));
			return -1;
		}
		c->order = json_deep_copy(order);
		break;
	}
	}
	if (json_object_get(j, "order") != NULL && c->order == NULL) {
		map_problem(cc, key, "\"order\" goes only with \"at_least\"");
		return -1;
	}
	c->operand = json_deep_copy(v);
	return 0;
bad:
	map_problem(cc, k,
	            c->op == MAP_OP_EXISTS ? "want true or false"
	            : (c->op == MAP_OP_IN || c->op == MAP_OP_CONTAINS_ANY)
	                ? "want a non-empty list of strings, numbers or booleans"
	                : "want a string, number or boolean");
	return -1;
}

int map_cond_compile(struct map_cc *cc, const char *key, const json_t *j, int depth,
                     struct map_cond *ret)
{
	struct map_cond c = {0};
	const json_t *v;

	if (depth > TSSO_MAPPING_MAX_COND_DEPTH ||
	    ++cc->n_conditions > TSSO_MAPPING_MAX_CONDITIONS) {
		map_problem(cc, key, "conditions nested deeper than %d or more than %d in all",
		            TSSO_MAPPING_MAX_COND_DEPTH, TSSO_MAPPING_MAX_CONDITIONS);
		return -1;
	}
	if (!json_is_object(j)) {
		map_problem(cc, key, "want a condition object");
		return -1;
	}
	if ((c.name = strdup(key)) == NULL)
		goto fail;
	if ((v = json_object_get(j, "description")) != NULL) {
		if (!json_is_string(v) || json_string_length(v) > 200) {
			map_problem(cc, key, "\"description\": want a string of at most 200 bytes");
			goto fail;
		}
		if ((c.description = strdup(json_string_value(v))) == NULL)
			goto fail;
	}
	v = json_object_get(j, "all");
	c.kind = MAP_COND_ALL;
	if (v == NULL && (v = json_object_get(j, "any")) != NULL)
		c.kind = MAP_COND_ANY;
	if (v == NULL && (v = json_object_get(j, "not")) != NULL)
		c.kind = MAP_COND_NOT;
	if (v != NULL) {
		char k[220];
		size_t allowed = c.description != NULL ? 2 : 1;

		if (json_object_size(j) != allowed) {
			map_problem(cc, key,
			            "\"all\", \"any\" and \"not\" stand alone (with an optional "
			            "\"description\")");
			goto fail;
		}
		map_key(k, sizeof(k), "%s.%s", key,
		        c.kind == MAP_COND_ALL   ? "all"
		        : c.kind == MAP_COND_ANY ? "any"
		                                 : "not");
		if (c.kind == MAP_COND_NOT) {
			if ((c.sub = calloc(1, sizeof(*c.sub))) == NULL)
				goto fail;
			if (map_cond_compile(cc, k, v, depth + 1, &c.sub[0]) < 0)
				goto fail;
			c.n_sub = 1;
		} else if (list_compile(cc, k, v, depth, &c) < 0) {
			goto fail;
		}
		*ret = c;
		return 0;
	}
	c.kind = MAP_COND_TEST;
	if (operand_compile(cc, key, j, &c) < 0)
		goto fail;
	/* The value side is an ordinary rule (source, transforms), untyped. */
	if (map_rule_compile(cc, key, j, MAP_T_ANY, true, &c.value) < 0)
		goto fail;
	if (c.value.required) {
		map_problem(cc, key, "\"required\" has no meaning in a condition (use \"exists\")");
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	if (!cc->failed)
		map_problem(cc, key, "out of memory");
	map_cond_clear(&c);
	return -1;
}

int map_cond_compile_all(struct map_cc *cc, const char *key, const json_t *a, struct map_cond *ret)
{
	struct map_cond c = {0};

	c.kind = MAP_COND_ALL;
	if ((c.name = strdup(key)) == NULL || list_compile(cc, key, a, 0, &c) < 0) {
		if (!cc->failed)
			map_problem(cc, key, "out of memory");
		map_cond_clear(&c);
		return -1;
	}
	*ret = c;
	return 0;
}

/* --- run time --- */

static bool list_has(const json_t *list, const json_t *x)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
	{
		if (json_equal(e, x))
			return true;
	}
	return false;
}

static long order_index(const json_t *order, const json_t *x)
{
	size_t i;
	json_t *e;

	json_array_foreach(order, i, e)
	{
		if (json_equal(e, x))
			return (long)i;
	}
	return -1;
}

/* The test itself; sets *what to a description of a failure. */
static bool test_holds(const struct map_cond *c, const json_t *v, const char **what)
{
	switch (c->op) {
	case MAP_OP_EXISTS:
		*what = json_is_true(c->operand) ? "is missing or empty" : "is present";
		return map_value_empty(v) != json_is_true(c->operand);
	case MAP_OP_EQUALS:
		*what = json_is_array(v) ? "is a list, not one value" : "is not the expected value";
		return v != NULL && json_equal(v, c->operand);
	case MAP_OP_IN:
		*what = json_is_array(v) ? "is a list, not one value (use contains_any)"
		                         : "is not one of the allowed values";
		return v != NULL && !json_is_array(v) && list_has(c->operand, v);
	case MAP_OP_CONTAINS:
		*what = json_is_array(v) ? "does not contain the required value"
		                         : "is not a list (use equals)";
		return json_is_array(v) && list_has(v, c->operand);
	case MAP_OP_CONTAINS_ANY: {
		size_t i;
		json_t *e;

		*what = json_is_array(v) ? "contains none of the allowed values"
		                         : "is not a list (use in)";
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, e)
		{
			if (list_has(c->operand, e))
				return true;
		}
		return false;
	}
	case MAP_OP_AT_LEAST:
		if (c->order != NULL) {
			long have = v != NULL ? order_index(c->order, v) : -1;

			*what = "is below the required level (or not a known level)";
			return have >= 0 && have >= order_index(c->order, c->operand);
		}
		*what = "is not a number at least the required one";
		return json_is_number(v) && json_number_value(v) >= json_number_value(c->operand);
	}
	*what = "cannot be tested";
	return false;
}

int map_cond_eval(struct map_run *r, const struct map_cond *c, struct tsso_buf *fail)
{
	json_t *v = NULL;
	const char *what = NULL;
	int rc;

	switch (c->kind) {
	case MAP_COND_ALL:
		for (size_t i = 0; i < c->n_sub; i++)
			if ((rc = map_cond_eval(r, &c->sub[i], fail)) != 1)
				return rc;
		return 1;
	case MAP_COND_ANY:
		for (size_t i = 0; i < c->n_sub; i++)
			if ((rc = map_cond_eval(r, &c->sub[i], NULL)) != 0)
				return rc;
		if (fail != NULL && r->failed_cond == NULL)
			r->failed_cond = c->name;
		if (fail != NULL)
			map_note(fail, "%s: none of the alternatives holds%s%s%s", c->name,
			         c->description ? " (" : "", c->description ? c->description : "",
			         c->description ? ")" : "");
		return 0;
	case MAP_COND_NOT:
		rc = map_cond_eval(r, &c->sub[0], NULL);
		if (rc == 1 && fail != NULL && r->failed_cond == NULL)
			r->failed_cond = c->name;
		if (rc == 1 && fail != NULL)
			map_note(fail, "%s: the negated condition holds%s%s%s", c->name,
			         c->description ? " (" : "", c->description ? c->description : "",
			         c->description ? ")" : "");
		return rc < 0 ? -1 : !rc;
	case MAP_COND_TEST:
		break;
	}
	if (map_rule_eval(r, &c->value, &v) < 0)
		return -1;
	rc = test_holds(c, v, &what) ? 1 : 0;
	json_decref(v);
	if (rc == 0 && fail != NULL) {
		const struct map_source *s = &c->value.src[0];

		if (r->failed_cond == NULL)
			r->failed_cond = c->name;
		map_note(fail, "%s: %s %s %s (test: %s)%s%s%s", c->name,
		         s->kind == MAP_SRC_USERINFO ? "UserInfo claim" : "claim",
		         s->kind == MAP_SRC_VALUE ? "(constant)" : s->path.text, what,
		         op_names[c->op], c->description ? " (" : "",
		         c->description ? c->description : "", c->description ? ")" : "");
	}
	return rc;
}
