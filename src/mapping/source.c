/* Where a value comes from: claim paths and their lookup, distributed claims. */
#include <stdlib.h>
#include <string.h>

#include "map_int.h"

/* Characters of a member name in the dotted string form. Anything else
 * (':', '/', '.', spaces...) needs the array form, so a URL-named claim is
 * never split at its dots by accident. */
static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '$';
}

void map_path_clear(struct map_path *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->seg[i].name);
	free(p->seg);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

static int path_push(struct map_path *p, const char *name, size_t len, size_t index)
{
	struct map_seg *s = &p->seg[p->n];

	s->name = NULL;
	s->index = index;
	if (name != NULL && (s->name = strndup(name, len)) == NULL)
		return -1;
	p->n++;
	return 0;
}

/* Dotted form: name ("[" digits "]")* ("." name ("[" digits "]")*)* */
static int path_parse_dotted(struct map_cc *cc, const char *key, const char *s, struct map_path *p)
{
	const char *c = s;

	if (*c == '\0') {
		map_problem(cc, key, "empty claim path");
		return -1;
	}
	for (;;) {
		const char *start = c;

		while (name_char(*c))
			c++;
		if (c == start) {
			map_problem(
			    cc, key,
			    "claim path \"%s\": expected a claim name at offset %zu (names with "
			    "other characters than letters, digits, _ - $, such as URLs, go in "
			    "the array form [\"https://...\"])",
			    s, (size_t)(start - s));
			return -1;
		}
		if (p->n >= TSSO_MAPPING_MAX_PATH || (size_t)(c - start) > TSSO_MAPPING_MAX_NAME)
			goto too_long;
		if (path_push(p, start, (size_t)(c - start), 0) < 0)
			return -1;
		while (*c == '[') {
			size_t idx = 0, digits = 0;

			c++;
			while (*c >= '0' && *c <= '9' && digits < 6) {
				idx = idx * 10 + (size_t)(*c - '0');
				c++;
				digits++;
			}
			if (digits == 0 || *c != ']') {
				map_problem(
				    cc, key,
				    "claim path \"%s\": bad array index (want [0]..[999999])", s);
				return -1;
			}
			c++;
			if (p->n >= TSSO_MAPPING_MAX_PATH)
				goto too_long;
			if (path_push(p, NULL, 0, idx) < 0)
				return -1;
		}
		if (*c == '\0')
			return 0;
		if (*c != '.') {
			map_problem(
			    cc, key,
			    "claim path \"%s\": unexpected '%c' at offset %zu (use the array form "
			    "[\"name\", ...] for claim names with such characters)",
			    s, *c, (size_t)(c - s));
			return -1;
		}
		c++;
	}
too_long:
	map_problem(cc, key, "claim path \"%s\": more than %d segments or a name over %d bytes", s,
	            TSSO_MAPPING_MAX_PATH, TSSO_MAPPING_MAX_NAME);
	return -1;
}

/* Array form: each element a member name (any non-empty string, taken
 * literally) or an array index (non-negative integer). */
static int path_parse_array(struct map_cc *cc, const char *key, const json_t *a, struct map_path *p)
{
	size_t i;
	json_t *e;

	if (json_array_size(a) == 0 || json_array_size(a) > TSSO_MAPPING_MAX_PATH) {
		map_problem(cc, key, "claim path: want 1 to %d segments", TSSO_MAPPING_MAX_PATH);
		return -1;
	}
	json_array_foreach(a, i, e)
	{
		if (json_is_string(e) && json_string_length(e) > 0 &&
		    json_string_length(e) <= TSSO_MAPPING_MAX_NAME &&
		    strlen(json_string_value(e)) == json_string_length(e)) {
			if (path_push(p, json_string_value(e), json_string_length(e), 0) < 0)
				return -1;
		} else if (json_is_integer(e) && json_integer_value(e) >= 0 &&
		           json_integer_value(e) < 1000000) {
			if (path_push(p, NULL, 0, (size_t)json_integer_value(e)) < 0)
				return -1;
		} else {
			map_problem(
			    cc, key,
			    "claim path segment %zu: want a claim name (non-empty string of at "
			    "most %d bytes) or an array index (integer >= 0)",
			    i, TSSO_MAPPING_MAX_NAME);
			return -1;
		}
	}
	return 0;
}

int map_path_compile(struct map_cc *cc, const char *key, const json_t *j, struct map_path *ret)
{
	struct map_path p = {0};

	p.seg = calloc(TSSO_MAPPING_MAX_PATH, sizeof(*p.seg));
	if (p.seg == NULL)
		goto oom;
	if (json_is_string(j)) {
		if (json_string_length(j) > TSSO_MAPPING_MAX_PATH * (TSSO_MAPPING_MAX_NAME + 8)) {
			map_problem(cc, key, "claim path too long");
			goto fail;
		}
		if (path_parse_dotted(cc, key, json_string_value(j), &p) < 0)
			goto fail;
		p.text = strdup(json_string_value(j));
	} else if (json_is_array(j)) {
		if (path_parse_array(cc, key, j, &p) < 0)
			goto fail;
		p.text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	} else {
		map_problem(cc, key,
		            "want a claim path: \"a.b[0]\" or [\"https://example.com/claim\", 0]");
		goto fail;
	}
	if (p.text == NULL)
		goto oom;
	*ret = p;
	return 0;
oom:
	map_problem(cc, key, "out of memory");
fail:
	map_path_clear(&p);
	return -1;
}

/* Borrowed: the value at path in obj, or NULL (missing or JSON null). */
static const json_t *path_walk(const json_t *obj, const struct map_path *p, size_t from)
{
	const json_t *v = obj;

	for (size_t i = from; i < p->n && v != NULL; i++) {
		if (p->seg[i].name != NULL)
			v = json_is_object(v) ? json_object_get(v, p->seg[i].name) : NULL;
		else
			v = json_is_array(v) ? json_array_get(v, p->seg[i].index) : NULL;
	}
	return json_is_null(v) ? NULL : v;
}

/*
 * The claim is not in obj: is it a distributed or aggregated claim (OIDC Core
 * §5.6.2: "_claim_names" maps it to a "_claim_sources" entry), or Entra ID's
 * overage marker ("hasgroups": true stands for "groups")? Returns 0 when it
 * simply is not there, 1 with *ret_endpoint (borrowed; NULL for "hasgroups")
 * for a claim that may be fetched, 2 for one that may not: an aggregated
 * claim (a JWT signed by another issuer, which this module does not verify)
 * or an endpoint that is not https (the endpoint comes from the IdP; a
 * resolver must still check it against its own allow-list).
 */
static int distributed(const json_t *obj, const char *claim, const char **ret_endpoint)
{
	const json_t *names = json_object_get(obj, "_claim_names");
	const json_t *src = json_is_object(names) ? json_object_get(names, claim) : NULL;

	*ret_endpoint = NULL;
	if (json_is_string(src)) {
		const json_t *sources = json_object_get(obj, "_claim_sources");
		const json_t *s = json_is_object(sources)
		                      ? json_object_get(sources, json_string_value(src))
		                      : NULL;
		const json_t *ep = json_is_object(s) ? json_object_get(s, "endpoint") : NULL;

		if (!json_is_string(ep) || strncmp(json_string_value(ep), "https://", 8) != 0 ||
		    strlen(json_string_value(ep)) != json_string_length(ep))
			return 2;
		*ret_endpoint = json_string_value(ep);
		return 1;
	}
	if (strcmp(claim, "groups") == 0 && json_is_true(json_object_get(obj, "hasgroups")))
		return 1;
	return 0;
}

int map_source_get(struct map_run *r, const char *rule, const struct map_source *s,
                   const json_t **ret)
{
	const json_t *obj = s->kind == MAP_SRC_CLAIM ? r->claims : r->userinfo;
	const char *where = s->kind == MAP_SRC_CLAIM ? "id_token" : "userinfo";
	const char *claim, *endpoint;
	json_t *cache, *v = NULL;
	struct tsso_err err = {0};
	int kind;

	*ret = NULL;
	if (s->kind == MAP_SRC_VALUE) {
		*ret = s->value;
		return 0;
	}
	if (!json_is_object(obj))
		return 0;
	claim = s->path.seg[0].name;
	if (claim == NULL) /* an index first: claims are an object, never there */
		return 0;
	if (json_object_get(obj, claim) != NULL) {
		*ret = path_walk(obj, &s->path, 0);
		return 0;
	}
	if ((kind = distributed(obj, claim, &endpoint)) == 0)
		return 0;
	cache = json_object_get(json_object_get(r->resolved, where), claim);
	if (cache != NULL) {
		*ret = path_walk(cache, &s->path, 1);
		return 0;
	}
	if (kind == 2)
		return map_refuse(
		    r, rule, "mapping.groups_overage",
		    "%s: the IdP left claim \"%s\" out and points to a source that cannot "
		    "be used (an aggregated claim, or an endpoint that is not https)",
		    rule, claim);
	if (!r->m->resolve_distributed || r->resolver == NULL || r->resolver->resolve == NULL) {
		return map_refuse(
		    r, rule, "mapping.groups_overage",
		    "%s: the IdP left claim \"%s\" out of the %s and points elsewhere instead "
		    "(distributed claim or group overage, OIDC Core 5.6.2)%s",
		    rule, claim, s->kind == MAP_SRC_CLAIM ? "ID token" : "UserInfo response",
		    r->m->resolve_distributed
		        ? "; this run cannot fetch it"
		        : "; the tenant refuses such logins (set mapping.distributed_claims to "
		          "\"resolve\", or have the IdP send fewer values, e.g. groups assigned "
		          "to the application)");
	}
	if (r->n_resolved >= TSSO_MAPPING_MAX_DISTRIBUTED)
		return map_refuse(r, rule, "mapping.too_large",
		                  "%s: more than %d distributed claims to fetch", rule,
		                  TSSO_MAPPING_MAX_DISTRIBUTED);
	r->n_resolved++;
	if (r->resolver->resolve(r->resolver->opaque, claim, endpoint, &v, &err) < 0 || v == NULL) {
		json_decref(v);
		return map_refuse(r, rule, "mapping.claims_unavailable",
		                  "%s: could not fetch distributed claim \"%s\": %s", rule, claim,
		                  err.reason != NULL ? err.msg : "no value");
	}
	cache = json_object_get(r->resolved, where);
	if (json_object_set_new(cache, claim, v) < 0)
		return map_refuse(r, rule, "mapping.internal", "%s: out of memory", rule);
	*ret = path_walk(v, &s->path, 1);
	return 0;
}
