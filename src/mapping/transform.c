/* Transforms and filters: compiled once from the rules, run on each login's values. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "map_int.h"

static const char *const xf_names[] = {
    [MAP_XF_LOWER] = "lower",           [MAP_XF_UPPER] = "upper",   [MAP_XF_TRIM] = "trim",
    [MAP_XF_DROP_EMPTY] = "drop_empty", [MAP_XF_UNIQUE] = "unique", [MAP_XF_MATCH] = "match",
    [MAP_XF_REPLACE] = "replace",       [MAP_XF_SPLIT] = "split",   [MAP_XF_JOIN] = "join",
    [MAP_XF_LOOKUP] = "lookup",         [MAP_XF_PREFIX] = "prefix", [MAP_XF_SUFFIX] = "suffix",
    [MAP_XF_ALLOW] = "allow",           [MAP_XF_DENY] = "deny",
};

const char *map_xf_name(enum map_xf_kind k)
{
	return xf_names[k];
}

static int xf_lookup_name(const char *s)
{
	for (size_t i = 0; i < TSSO_ARRAY_LEN(xf_names); i++)
		if (strcmp(s, xf_names[i]) == 0)
			return (int)i;
	return -1;
}

void map_xf_clear(struct map_xf *xf)
{
	if (xf == NULL)
		return;
	pcre2_code_free(xf->re);
	free(xf->str);
	json_decref(xf->table);
	memset(xf, 0, sizeof(*xf));
}

static int regex_compile(struct map_cc *cc, const char *key, const json_t *j, struct map_xf *xf)
{
	int code;
	PCRE2_SIZE off;
	char msg[160];

	if (!json_is_string(j) || json_string_length(j) == 0 ||
	    json_string_length(j) > TSSO_MAPPING_MAX_PATTERN) {
		map_problem(cc, key, "want a regular expression (1 to %d bytes)",
		            TSSO_MAPPING_MAX_PATTERN);
		return -1;
	}
	xf->re = pcre2_compile((PCRE2_SPTR)json_string_value(j), json_string_length(j),
	                       PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &code, &off, cc->ccx);
	if (xf->re == NULL) {
		if (pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof(msg)) < 0)
			snprintf(msg, sizeof(msg), "invalid");
		map_problem(cc, key, "bad regular expression at offset %zu: %s", (size_t)off, msg);
		return -1;
	}
	return 0;
}

/* A string argument: delimiter, prefix, replacement. */
static int str_arg(struct map_cc *cc, const char *key, const json_t *j, bool allow_empty,
                   char **ret)
{
	if (!json_is_string(j) || (!allow_empty && json_string_length(j) == 0) ||
	    json_string_length(j) > TSSO_MAPPING_MAX_STRING ||
	    strlen(json_string_value(j)) != json_string_length(j)) {
		map_problem(cc, key, "want a %sstring of at most %d bytes",
		            allow_empty ? "" : "non-empty ", TSSO_MAPPING_MAX_STRING);
		return -1;
	}
	if ((*ret = strdup(json_string_value(j))) == NULL) {
		map_problem(cc, key, "out of memory");
		return -1;
	}
	return 0;
}

/* allow/deny: a list of strings, kept as an object for O(1) membership. */
static int set_arg(struct map_cc *cc, const char *key, const json_t *j, json_t **ret)
{
	size_t i;
	json_t *e, *set;

	if (!json_is_array(j) || json_array_size(j) > TSSO_MAPPING_MAX_LIST) {
		map_problem(cc, key, "want a list of at most %d strings", TSSO_MAPPING_MAX_LIST);
		return -1;
	}
	if ((set = json_object()) == NULL)
		return -1;
	json_array_foreach(j, i, e)
	{
		if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e)) {
			map_problem(cc, key, "entry %zu: want a string", i);
			json_decref(set);
			return -1;
		}
		json_object_set(set, json_string_value(e), json_true());
	}
	*ret = set;
	return 0;
}

static int table_arg(struct map_cc *cc, const char *key, const json_t *j, json_t **ret)
{
	const char *k;
	json_t *v;

	if (!json_is_object(j) || json_object_size(j) > TSSO_MAPPING_MAX_LIST) {
		map_problem(cc, key, "want an object of at most %d \"from\": \"to\" strings",
		            TSSO_MAPPING_MAX_LIST);
		return -1;
	}
	json_object_foreach((json_t *)j, k, v)
	{
		if (!json_is_string(v) || json_string_length(v) > TSSO_MAPPING_MAX_STRING) {
			map_problem(cc, key, "entry \"%.64s\": want a string of at most %d bytes",
			            k, TSSO_MAPPING_MAX_STRING);
			return -1;
		}
	}
	*ret = json_deep_copy(j);
	return *ret != NULL ? 0 : -1;
}

/* Keys an object step may carry besides its verb. */
static bool modifier_ok(enum map_xf_kind k, const char *mod)
{
	return (k == MAP_XF_MATCH && strcmp(mod, "group") == 0) ||
	       (k == MAP_XF_REPLACE && strcmp(mod, "with") == 0) ||
	       (k == MAP_XF_LOOKUP && strcmp(mod, "otherwise") == 0);
}

static int xf_compile_object(struct map_cc *cc, const char *key, const json_t *j, struct map_xf *xf)
{
	const char *k, *verb = NULL;
	json_t *v, *arg, *mod;
	int kind = -1;
	uint32_t ncap = 0;

	json_object_foreach((json_t *)j, k, v)
	{
		int kk = xf_lookup_name(k);

		if (kk >= 0) {
			if (verb != NULL) {
				map_problem(cc, key, "one transform per step (\"%s\" and \"%s\")",
				            verb, k);
				return -1;
			}
			verb = k;
			kind = kk;
		}
	}
	if (verb == NULL) {
		map_problem(
		    cc, key,
		    "unknown transform (want one of lower, upper, trim, drop_empty, unique, "
		    "match, replace, split, join, lookup, prefix, suffix, allow, deny)");
		return -1;
	}
	xf->kind = (enum map_xf_kind)kind;
	json_object_foreach((json_t *)j, k, v)
	{
		if (strcmp(k, verb) != 0 && !modifier_ok(xf->kind, k)) {
			map_problem(cc, key, "unknown key \"%.64s\" for transform \"%s\"", k, verb);
			return -1;
		}
	}
	arg = json_object_get(j, verb);
	switch (xf->kind) {
	case MAP_XF_LOWER:
	case MAP_XF_UPPER:
	case MAP_XF_TRIM:
	case MAP_XF_DROP_EMPTY:
	case MAP_XF_UNIQUE:
		if (!json_is_true(arg)) {
			map_problem(cc, key,
			            "\"%s\" takes no argument: write \"%s\" or {\"%s\": true}",
			            verb, verb, verb);
			return -1;
		}
		return 0;
	case MAP_XF_MATCH:
		if (regex_compile(cc, key, arg, xf) < 0)
			return -1;
		(void)pcre2_pattern_info(xf->re, PCRE2_INFO_CAPTURECOUNT, &ncap);
		xf->group = ncap > 0 ? 1 : 0;
		if ((mod = json_object_get(j, "group")) != NULL) {
			if (!json_is_integer(mod) || json_integer_value(mod) < 0 ||
			    json_integer_value(mod) > (json_int_t)ncap) {
				map_problem(cc, key,
				            "\"group\": want 0 to %u (the pattern's groups)", ncap);
				return -1;
			}
			xf->group = (uint32_t)json_integer_value(mod);
		}
		return 0;
	case MAP_XF_REPLACE:
		if (regex_compile(cc, key, arg, xf) < 0)
			return -1;
		if ((mod = json_object_get(j, "with")) == NULL) {
			map_problem(cc, key,
			            "\"replace\" needs \"with\" (the replacement, $1 for a group)");
			return -1;
		}
		return str_arg(cc, key, mod, true, &xf->str);
	case MAP_XF_SPLIT:
	case MAP_XF_JOIN:
		return str_arg(cc, key, arg, xf->kind == MAP_XF_JOIN, &xf->str);
	case MAP_XF_PREFIX:
	case MAP_XF_SUFFIX:
		return str_arg(cc, key, arg, false, &xf->str);
	case MAP_XF_LOOKUP:
		if ((mod = json_object_get(j, "otherwise")) != NULL) {
			if (json_is_string(mod) && strcmp(json_string_value(mod), "keep") == 0)
				xf->keep_unmapped = true;
			else if (!json_is_string(mod) ||
			         strcmp(json_string_value(mod), "drop") != 0) {
				map_problem(cc, key, "\"otherwise\": want \"drop\" or \"keep\"");
				return -1;
			}
		}
		return table_arg(cc, key, arg, &xf->table);
	case MAP_XF_ALLOW:
	case MAP_XF_DENY:
		return set_arg(cc, key, arg, &xf->table);
	}
	return -1;
}

int map_xf_compile(struct map_cc *cc, const char *key, const json_t *j, struct map_xf *ret)
{
	struct map_xf xf = {0};
	int kind;

	if (json_is_string(j)) {
		kind = xf_lookup_name(json_string_value(j));
		if (kind < 0 || kind > MAP_XF_UNIQUE) {
			map_problem(
			    cc, key,
			    kind < 0
			        ? "unknown transform \"%.64s\" (want lower, upper, trim, "
			          "drop_empty, unique, or an object such as {\"match\": \"...\"})"
			        : "transform \"%.64s\" needs an argument: {\"%.64s\": ...}",
			    json_string_value(j), json_string_value(j));
			return -1;
		}
		xf.kind = (enum map_xf_kind)kind;
	} else if (json_is_object(j)) {
		if (xf_compile_object(cc, key, j, &xf) < 0) {
			map_xf_clear(&xf);
			return -1;
		}
	} else {
		map_problem(cc, key, "want a transform: a name or an object");
		return -1;
	}
	*ret = xf;
	return 0;
}

/* --- run time --- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One string in, a new string out (NULL with *dropped: value removed; NULL
 * without: refused, already recorded). */
static char *xf_one(struct map_run *r, const char *rule, size_t step, const struct map_xf *xf,
                    const char *s, size_t len, bool *dropped)
{
	char *out = NULL;
	int rc;

	*dropped = false;
	switch (xf->kind) {
	case MAP_XF_LOWER:
	case MAP_XF_UPPER:
		if ((out = strndup(s, len)) == NULL)
			break;
		/* ASCII only: predictable across locales; UTF-8 bytes are left alone. */
		for (size_t i = 0; i < len; i++) {
			if (xf->kind == MAP_XF_LOWER && out[i] >= 'A' && out[i] <= 'Z')
				out[i] = (char)(out[i] - 'A' + 'a');
			else if (xf->kind == MAP_XF_UPPER && out[i] >= 'a' && out[i] <= 'z')
				out[i] = (char)(out[i] - 'a' + 'A');
		}
		return out;
	case MAP_XF_TRIM: {
		size_t a = 0, b = len;

		while (a < b && strchr(" \t\r\n\f\v", s[a]) != NULL)
			a++;
		while (b > a && strchr(" \t\r\n\f\v", s[b - 1]) != NULL)
			b--;
		return strndup(s + a, b - a);
	}
	case MAP_XF_DROP_EMPTY:
		if (len == 0) {
			*dropped = true;
			return NULL;
		}
		return strndup(s, len);
	case MAP_XF_MATCH:
	case MAP_XF_REPLACE: {
		pcre2_match_data *md;
		double t0;

		/* Each match is bounded by the match context's limits; this bounds
		 * their sum, so many values just under the limit cannot add up. */
		if (r->regex_ms > TSSO_MAPPING_REGEX_BUDGET_MS) {
			map_refuse(r, rule, "mapping.regex_limit",
			           "%s: transform %zu (%s): the login's regular expression budget "
			           "(%d ms) is spent",
			           rule, step, map_xf_name(xf->kind), TSSO_MAPPING_REGEX_BUDGET_MS);
			return NULL;
		}
		if ((md = pcre2_match_data_create_from_pattern(xf->re, NULL)) == NULL)
			break;
		t0 = now_ms();
		if (xf->kind == MAP_XF_MATCH) {
			rc = pcre2_match(xf->re, (PCRE2_SPTR)s, len, 0, 0, md, r->m->mcx);
			if (rc >= 0) {
				PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
				PCRE2_SIZE a = ov[2 * xf->group], b = ov[2 * xf->group + 1];

				if (a == PCRE2_UNSET || (uint32_t)rc <= xf->group)
					*dropped = true;
				else
					out = strndup(s + a, b - a);
			} else if (rc == PCRE2_ERROR_NOMATCH) {
				*dropped = true;
			}
		} else {
			PCRE2_SIZE olen = TSSO_MAPPING_MAX_STRING + 1;

			out = malloc(olen);
			rc = out == NULL
			         ? 0
			         : pcre2_substitute(xf->re, (PCRE2_SPTR)s, len, 0,
			                            PCRE2_SUBSTITUTE_GLOBAL, md, r->m->mcx,
			                            (PCRE2_SPTR)xf->str, PCRE2_ZERO_TERMINATED,
			                            (PCRE2_UCHAR *)out, &olen);
			if (rc < 0) {
				free(out);
				out = NULL;
			}
		}
		pcre2_match_data_free(md);
		r->regex_ms += now_ms() - t0;
		if (out != NULL || *dropped)
			return out;
		if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
		    rc == PCRE2_ERROR_HEAPLIMIT) {
			map_refuse(r, rule, "mapping.regex_limit",
			           "%s: transform %zu (%s) gave up: the value makes the regular "
			           "expression backtrack too much",
			           rule, step, map_xf_name(xf->kind));
			return NULL;
		}
		if (rc == PCRE2_ERROR_NOMEMORY) {
			map_refuse(r, rule, "mapping.too_large",
			           "%s: transform %zu (replace) result over %d bytes", rule, step,
			           TSSO_MAPPING_MAX_STRING);
			return NULL;
		}
		if (rc < 0) {
			char msg[120];

			if (pcre2_get_error_message(rc, (PCRE2_UCHAR *)msg, sizeof(msg)) < 0)
				snprintf(msg, sizeof(msg), "error");
			map_refuse(r, rule, "mapping.regex_failed", "%s: transform %zu (%s): %s",
			           rule, step, map_xf_name(xf->kind), msg);
			return NULL;
		}
		break;
	}
	case MAP_XF_PREFIX:
	case MAP_XF_SUFFIX: {
		size_t al = strlen(xf->str);

		if ((out = malloc(len + al + 1)) == NULL)
			break;
		if (xf->kind == MAP_XF_PREFIX) {
			memcpy(out, xf->str, al);
			memcpy(out + al, s, len);
		} else {
			memcpy(out, s, len);
			memcpy(out + len, xf->str, al);
		}
		out[len + al] = '\0';
		return out;
	}
	case MAP_XF_LOOKUP: {
		json_t *to = json_object_getn(xf->table, s, len);

		if (to != NULL)
			return strdup(json_string_value(to));
		if (xf->keep_unmapped)
			return strndup(s, len);
		*dropped = true;
		return NULL;
	}
	case MAP_XF_ALLOW:
	case MAP_XF_DENY: {
		bool in = json_object_getn(xf->table, s, len) != NULL;

		if (in != (xf->kind == MAP_XF_ALLOW)) {
			*dropped = true;
			return NULL;
		}
		return strndup(s, len);
	}
	case MAP_XF_SPLIT:
	case MAP_XF_JOIN:
	case MAP_XF_UNIQUE:
		break; /* list-level, see map_xf_run */
	}
	if (out == NULL)
		map_refuse(r, rule, "mapping.internal", "%s: transform %zu: out of memory", rule,
		           step);
	return out;
}

/* Append a new string (taken) to list, checking the limits. */
static int list_add(struct map_run *r, const char *rule, size_t step, json_t *list, char *s)
{
	json_t *js;

	if (json_array_size(list) >= TSSO_MAPPING_MAX_VALUES ||
	    strlen(s) > TSSO_MAPPING_MAX_STRING) {
		free(s);
		return map_refuse(
		    r, rule, "mapping.too_large",
		    "%s: transform %zu (%s) gives more than %d values or a value over "
		    "%d bytes",
		    rule, step, "list", TSSO_MAPPING_MAX_VALUES, TSSO_MAPPING_MAX_STRING);
	}
	js = json_string(s);
	free(s);
	if (js == NULL || json_array_append_new(list, js) < 0)
		return map_refuse(r, rule, "mapping.type_mismatch",
		                  "%s: transform %zu gives text that is not UTF-8", rule, step);
	return 0;
}

static int xf_split(struct map_run *r, const char *rule, size_t step, const char *delim,
                    const char *s, json_t *out)
{
	size_t dl = strlen(delim);
	const char *p = s, *q;

	while ((q = strstr(p, delim)) != NULL) {
		char *part = strndup(p, (size_t)(q - p));

		if (part == NULL || list_add(r, rule, step, out, part) < 0)
			return -1;
		p = q + dl;
	}
	char *last = strdup(p);
	if (last == NULL)
		return -1;
	return list_add(r, rule, step, out, last);
}

static int xf_join(struct map_run *r, const char *rule, size_t step, const char *delim,
                   const json_t *list, json_t **ret)
{
	struct tsso_buf b;
	size_t i;
	json_t *e;

	tsso_buf_init(&b, TSSO_MAPPING_MAX_STRING);
	json_array_foreach(list, i, e)
	{
		if ((i > 0 && tsso_buf_adds(&b, delim) < 0) ||
		    tsso_buf_add(&b, json_string_value(e), json_string_length(e)) < 0) {
			tsso_buf_free(&b);
			return map_refuse(r, rule, "mapping.too_large",
			                  "%s: transform %zu (join) result over %d bytes", rule,
			                  step, TSSO_MAPPING_MAX_STRING);
		}
	}
	*ret = json_stringn(b.ptr != NULL ? b.ptr : "", b.len);
	tsso_buf_free(&b);
	return *ret != NULL ? 0 : -1;
}

/* A new list with the first occurrence of each value, in order. */
static json_t *list_unique(const json_t *in)
{
	json_t *out = json_array(), *seen = json_object(), *e;
	size_t i;

	if (out == NULL || seen == NULL)
		goto fail;
	json_array_foreach(in, i, e)
	{
		if (json_object_getn(seen, json_string_value(e), json_string_length(e)) != NULL)
			continue;
		if (json_object_setn(seen, json_string_value(e), json_string_length(e),
		                     json_true()) < 0 ||
		    json_array_append(out, e) < 0)
			goto fail;
	}
	json_decref(seen);
	return out;
fail:
	json_decref(seen);
	json_decref(out);
	return NULL;
}

int map_xf_run(struct map_run *r, const char *rule, size_t step, const struct map_xf *xf,
               json_t **v)
{
	json_t *in = *v, *out = NULL;
	size_t i;
	json_t *e;
	bool dropped;
	int before = r->n_refused;

	if (in == NULL)
		return 0;
	if (!json_is_string(in) && !json_is_array(in))
		return map_refuse(r, rule, "mapping.type_mismatch",
		                  "%s: transform %zu (%s) works on text, the value is a %s", rule,
		                  step, map_xf_name(xf->kind), map_json_kind(in));
	if (xf->kind == MAP_XF_UNIQUE) {
		if (json_is_string(in))
			return 0;
		if ((out = list_unique(in)) == NULL)
			goto fail;
		goto done;
	}
	if (xf->kind == MAP_XF_JOIN) {
		if (json_is_string(in))
			return 0;
		if (xf_join(r, rule, step, xf->str, in, &out) < 0)
			return -1;
		goto done;
	}
	if (json_is_string(in)) {
		char *s;

		if (xf->kind == MAP_XF_SPLIT) {
			if ((out = json_array()) == NULL ||
			    xf_split(r, rule, step, xf->str, json_string_value(in), out) < 0)
				goto fail;
			goto done;
		}
		s = xf_one(r, rule, step, xf, json_string_value(in), json_string_length(in),
		           &dropped);
		if (s == NULL && !dropped)
			return -1;
		if (s != NULL) {
			if (strlen(s) > TSSO_MAPPING_MAX_STRING) {
				free(s);
				return map_refuse(r, rule, "mapping.too_large",
				                  "%s: transform %zu (%s) result over %d bytes",
				                  rule, step, map_xf_name(xf->kind),
				                  TSSO_MAPPING_MAX_STRING);
			}
			out = json_string(s);
			free(s);
			if (out == NULL)
				return map_refuse(
				    r, rule, "mapping.type_mismatch",
				    "%s: transform %zu (%s) gives text that is not UTF-8", rule,
				    step, map_xf_name(xf->kind));
		}
		goto done;
	}
	/* A list: the transform applies to each value; split flattens. */
	if ((out = json_array()) == NULL)
		goto fail;
	json_array_foreach(in, i, e)
	{
		char *s;

		if (xf->kind == MAP_XF_SPLIT) {
			if (xf_split(r, rule, step, xf->str, json_string_value(e), out) < 0)
				goto fail;
			continue;
		}
		s = xf_one(r, rule, step, xf, json_string_value(e), json_string_length(e),
		           &dropped);
		if (s == NULL && !dropped)
			goto fail;
		if (s != NULL && list_add(r, rule, step, out, s) < 0)
			goto fail;
	}
done:
	json_decref(in);
	*v = out;
	return 0;
fail:
	json_decref(out);
	if (r->n_refused == before)
		return map_refuse(r, rule, "mapping.internal", "%s: transform %zu: out of memory",
		                  rule, step);
	return -1;
}
