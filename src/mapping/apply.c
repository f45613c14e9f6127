/* Applying compiled rules to one login's verified claims; the dry run of `toucan-sso map`. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map_int.h"
#include "tsso/jsonw.h"

void map_note(struct tsso_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (tsso_buf_vaddf(b, fmt, ap) < 0) {
		/* over the buffer's limit: what is already there stays */
	}
	va_end(ap);
}

int map_refuse(struct map_run *r, const char *rule, const char *reason, const char *fmt, ...)
{
	char msg[TSSO_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->n_refused == 0 && r->why != NULL) {
		(void)tsso_err_set(&r->why->err, reason, "%s", msg);
		snprintf(r->why->rule, sizeof(r->why->rule), "%s", rule);
	}
	r->n_refused++;
	if (r->all != NULL)
		map_note(r->all, "%s: %s\n", reason, msg);
	return -1;
}

bool map_value_empty(const json_t *v)
{
	return v == NULL || (json_is_string(v) && json_string_length(v) == 0) ||
	       (json_is_array(v) && json_array_size(v) == 0);
}

static bool text_ok(const json_t *s)
{
	return json_string_length(s) <= TSSO_MAPPING_MAX_STRING &&
	       strlen(json_string_value(s)) == json_string_length(s);
}

/* Claim values are IdP-controlled: bound them before any work. */
static int input_check(struct map_run *r, const struct map_rule *rule, const char *src,
                       const json_t *v)
{
	size_t i;
	json_t *e;

	if (json_is_object(v))
		return map_refuse(r, rule->name, "mapping.type_mismatch",
		                  "%s: %s is an object; point the path at a value inside it",
		                  rule->name, src);
	if (json_is_string(v) && !text_ok(v))
		return map_refuse(r, rule->name, "mapping.too_large",
		                  "%s: %s is over %d bytes or contains a NUL character", rule->name,
		                  src, TSSO_MAPPING_MAX_STRING);
	if (!json_is_array(v))
		return 0;
	if (json_array_size(v) > TSSO_MAPPING_MAX_VALUES)
		return map_refuse(r, rule->name, "mapping.too_large",
		                  "%s: %s has more than %d values", rule->name, src,
		                  TSSO_MAPPING_MAX_VALUES);
	json_array_foreach (v, i, e) {
		if (!json_is_string(e))
			return map_refuse(
			    r, rule->name, "mapping.type_mismatch",
			    "%s: %s is a list holding a %s; only lists of strings are "
			    "mapped",
			    rule->name, src, map_json_kind(e));
		if (!text_ok(e))
			return map_refuse(
			    r, rule->name, "mapping.too_large",
			    "%s: %s has a value over %d bytes or with a NUL character", rule->name,
			    src, TSSO_MAPPING_MAX_STRING);
	}
	return 0;
}

static void source_describe(const struct map_source *s, char *buf, size_t n)
{
	if (s->kind == MAP_SRC_VALUE)
		snprintf(buf, n, "the constant");
	else
		snprintf(buf, n, "%s \"%.200s\"",
		         s->kind == MAP_SRC_CLAIM ? "claim" : "UserInfo claim", s->path.text);
}

int map_rule_eval(struct map_run *r, const struct map_rule *rule, json_t **ret)
{
	const json_t *got = NULL;
	const struct map_source *from = NULL;
	json_t *v = NULL;
	char src[260] = "the default";

	*ret = NULL;
	for (size_t i = 0; i < rule->n_src && from == NULL; i++) {
		if (map_source_get(r, rule->name, &rule->src[i], &got) < 0)
			return -1;
		if (!map_value_empty(got))
			from = &rule->src[i];
	}
	if (from != NULL) {
		source_describe(from, src, sizeof(src));
		if (input_check(r, rule, src, got) < 0)
			return -1;
		if ((v = json_deep_copy(got)) == NULL)
			return map_refuse(r, rule->name, "mapping.internal", "%s: out of memory",
			                  rule->name);
		for (size_t i = 0; i < rule->n_xf && v != NULL; i++)
			if (map_xf_run(r, rule->name, i, &rule->xf[i], &v) < 0)
				goto fail;
	}
	if (map_value_empty(v) && rule->dflt != NULL) {
		json_decref(v);
		if ((v = json_deep_copy(rule->dflt)) == NULL)
			return map_refuse(r, rule->name, "mapping.internal", "%s: out of memory",
			                  rule->name);
	}
	if (map_value_empty(v) && rule->required) {
		char names[600] = "";
		size_t off = 0;

		if (from != NULL) {
			json_decref(v);
			return map_refuse(
			    r, rule->name, "mapping.empty",
			    "%s: %s gives no value once transformed and filtered, and the "
			    "rule requires one",
			    rule->name, src);
		}
		for (size_t i = 0; i < rule->n_src && off < sizeof(names); i++) {
			char d[260];

			source_describe(&rule->src[i], d, sizeof(d));
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
			                        i ? (i + 1 == rule->n_src ? " or " : ", ") : "", d);
		}
		json_decref(v);
		return map_refuse(r, rule->name, "mapping.claim_missing",
		                  "%s: required %s is missing or empty", rule->name, names);
	}
	if (v != NULL && !map_type_fits(rule->type, v)) {
		int rc =
		    map_refuse(r, rule->name, "mapping.type_mismatch",
		               "%s: %s gives a %s, the rule wants a %s (values are never "
		               "converted silently)",
		               rule->name, src, map_json_kind(v),
		               rule->type == MAP_T_ANY ? "string, number, boolean or string list"
		                                       : map_type_name(rule->type));
		json_decref(v);
		return rc;
	}
	*ret = v;
	return 0;
fail:
	json_decref(v);
	return -1;
}

/* Step failed: a real login stops at the first refusal, a dry run goes on. */
#define STOP(r) ((r)->n_refused > 0 && !(r)->dry_run)

/* Room to measure an embed_context that is over the limit (the refusal
 * names its size); one larger still is reported as over this. */
#define CONTEXT_PROBE_MAX (64 * TSSO_EMBED_CONTEXT_MAX)

static int context_refuse(struct map_run *r, size_t n, size_t max, bool api)
{
	return map_refuse(
	    r, "mapping", "mapping.too_large",
	    "mapping: the %s would be %s%zu bytes, over the limit of %zu; map fewer or "
	    "shorter groups and attributes (e.g. filter groups with \"allow\")",
	    api ? "Toucan AI user" : "Toucan 3.0 embed_context",
	    n > CONTEXT_PROBE_MAX ? "more than " : "",
	    n > CONTEXT_PROBE_MAX ? (size_t)CONTEXT_PROBE_MAX : n, max);
}

static int no_workspace(struct map_run *r)
{
	return map_refuse(r, "mapping.workspace_id", "mapping.empty",
	                  "mapping.workspace_id: no workspace id: set embed.workspace_id "
	                  "in the tenant file or a mapping.workspace_id rule");
}

/* The Toucan 3.0 embed_context's size, measured by writing it as minting
 * does (tsso/jsonw.h, no json_t tree, no jansson dump). */
static int context_size_check(struct map_run *r, const struct tsso_identity *id,
                              const struct tsso_mapping_opts *o)
{
	struct tsso_buf b;
	struct tsso_jsonw w;
	int rc;

	tsso_buf_init(&b, CONTEXT_PROBE_MAX);
	tsso_jsonw_init(&w, &b);
	rc = tsso_identity_embed_context_write(id, o->default_workspace, &w);
	if (rc < 0)
		rc = id->username != NULL
		         ? no_workspace(r)
		         : map_refuse(r, "mapping", "mapping.internal", "mapping: no username");
	else if (tsso_jsonw_finish(&w, NULL) < 0)
		rc = context_refuse(r, CONTEXT_PROBE_MAX + 1, TSSO_EMBED_CONTEXT_MAX, false);
	else if (b.len > TSSO_EMBED_CONTEXT_MAX)
		rc = context_refuse(r, b.len, TSSO_EMBED_CONTEXT_MAX, false);
	tsso_buf_free_secure(&b);
	return rc;
}

static int size_check(struct map_run *r, const struct tsso_identity *id,
                      const struct tsso_mapping_opts *o, char **ret_pretty)
{
	json_t *j = NULL;
	char *dump = NULL;
	size_t n, max;
	int rc = -1;

	/* Logins: measured without a tree; dry runs (map) also print it. */
	if (o->scheme != TSSO_EMBED_API && ret_pretty == NULL)
		return context_size_check(r, id, o);
	if (o->scheme == TSSO_EMBED_API) {
		json_t *user = tsso_identity_ai_user(id);

		j = user != NULL ? json_pack("{s:o}", "user", user) : NULL;
		max = TSSO_AI_USER_MAX;
	} else {
		j = tsso_identity_embed_context(id, o->default_workspace);
		max = TSSO_EMBED_CONTEXT_MAX;
		if (j == NULL && id->username != NULL)
			return no_workspace(r);
	}
	if (j == NULL)
		return map_refuse(r, "mapping", "mapping.internal", "mapping: out of memory");
	dump = json_dumps(j, JSON_COMPACT);
	n = dump != NULL ? strlen(dump) : 0;
	if (dump == NULL)
		map_refuse(r, "mapping", "mapping.internal", "mapping: out of memory");
	else if (n > max)
		context_refuse(r, n, max, o->scheme == TSSO_EMBED_API);
	else
		rc = 0;
	if (rc == 0 && ret_pretty != NULL &&
	    (*ret_pretty = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL)
		rc = map_refuse(r, "mapping", "mapping.internal", "mapping: out of memory");
	free(dump);
	json_decref(j);
	return rc;
}

static int fill(struct map_run *r, struct tsso_identity *id)
{
	const struct tsso_mapping *m = r->m;
	json_t *v = NULL;
	int rc;

	if (m->has_access) {
		struct tsso_buf fail;

		tsso_buf_init(&fail, 400);
		rc = map_cond_eval(r, &m->access, &fail);
		if (rc == 0)
			map_refuse(r, r->failed_cond != NULL ? r->failed_cond : "mapping.access",
			           "mapping.access_denied", "access refused: %s",
			           fail.ptr != NULL ? fail.ptr : "a condition does not hold");
		tsso_buf_free(&fail);
		if (STOP(r))
			return -1;
	}
	if (map_rule_eval(r, &m->username, &v) == 0 && v != NULL) {
		id->username = strdup(json_string_value(v));
		json_decref(v);
		if (id->username == NULL)
			return map_refuse(r, "mapping.username", "mapping.internal",
			                  "out of memory");
	}
	if (STOP(r))
		return -1;
	if (m->has_workspace && map_rule_eval(r, &m->workspace, &v) == 0 && v != NULL) {
		id->workspace_id = strdup(json_string_value(v));
		json_decref(v);
		if (id->workspace_id == NULL)
			return map_refuse(r, "mapping.workspace_id", "mapping.internal",
			                  "out of memory");
	}
	if (STOP(r))
		return -1;
	if (m->has_groups && map_rule_eval(r, &m->groups, &v) == 0 && v != NULL) {
		json_decref(id->groups);
		id->groups = v;
	}
	if (STOP(r))
		return -1;
	for (size_t i = 0; i < m->n_attrs; i++) {
		if (map_rule_eval(r, &m->attrs[i], &v) == 0 && v != NULL &&
		    json_object_set_new(id->attributes, m->attr_names[i], v) < 0)
			return map_refuse(r, m->attrs[i].name, "mapping.internal", "out of memory");
		if (STOP(r))
			return -1;
	}
	if (m->has_admin_if && (rc = map_cond_eval(r, &m->admin_if, NULL)) >= 0)
		id->admin = rc == 1;
	if (STOP(r))
		return -1;
	if (m->has_maker_if && (rc = map_cond_eval(r, &m->maker_if, NULL)) == 1) {
		free(id->ai_role);
		if ((id->ai_role = strdup("maker")) == NULL)
			return map_refuse(r, "mapping.maker_if", "mapping.internal",
			                  "out of memory");
	}
	if (STOP(r))
		return -1;
	if (m->privileges != NULL) {
		json_decref(id->privileges);
		if ((id->privileges = json_deep_copy(m->privileges)) == NULL)
			return map_refuse(r, "mapping.privileges", "mapping.internal",
			                  "out of memory");
	}
	return r->n_refused > 0 ? -1 : 0;
}

/* One run; *ret_id set on success. ret_pretty (dry run): the minted JSON. */
static int run(struct map_run *r, const struct tsso_mapping_opts *o, struct tsso_identity **ret_id,
               char **ret_pretty)
{
	struct tsso_identity *id = tsso_identity_new();
	int rc = -1;

	r->resolved = json_pack("{s:{},s:{}}", "id_token", "userinfo");
	if (id == NULL || r->resolved == NULL) {
		map_refuse(r, "mapping", "mapping.internal", "mapping: out of memory");
		goto out;
	}
	if (fill(r, id) < 0 && STOP(r))
		goto out;
	if (r->n_refused > 0 && id->username == NULL)
		goto out; /* nothing meaningful to measure */
	if (size_check(r, id, o, ret_pretty) < 0 || r->n_refused > 0)
		goto out;
	*ret_id = id;
	id = NULL;
	rc = 0;
out:
	json_decref(r->resolved);
	r->resolved = NULL;
	tsso_identity_free(id);
	return rc;
}

int tsso_mapping_apply(const struct tsso_mapping *m, const json_t *id_token_claims,
                       const json_t *userinfo, const struct tsso_mapping_opts *opts,
                       struct tsso_identity **ret, struct tsso_mapping_refusal *why)
{
	static const struct tsso_mapping_opts defaults = {.scheme = TSSO_EMBED_SIGNED_JWT};
	struct tsso_mapping_refusal scratch;
	struct map_run r = {.claims = id_token_claims,
	                    .userinfo = json_is_object(userinfo) ? userinfo : NULL,
	                    .m = m,
	                    .why = why != NULL ? why : &scratch};
	const struct tsso_mapping_opts *o = opts != NULL ? opts : &defaults;
	struct tsso_identity *id = NULL;

	memset(r.why, 0, sizeof(*r.why));
	r.resolver = o->resolver;
	if (m == NULL || !json_is_object(id_token_claims))
		return map_refuse(&r, "mapping", "mapping.claim_missing",
		                  "mapping: no verified claims to map");
	if (run(&r, o, &id, NULL) < 0) {
		if (r.n_refused == 0)
			map_refuse(&r, "mapping", "mapping.internal", "mapping: out of memory");
		return -1;
	}
	*ret = id;
	return 0;
}

int tsso_mapping_dry_run(const struct tsso_mapping *m, const json_t *claims, const json_t *userinfo,
                         int scheme, const char *default_workspace, char **ret_output)
{
	struct tsso_mapping_opts o = {.scheme =
	                                  scheme == 1 ? TSSO_EMBED_API : TSSO_EMBED_SIGNED_JWT,
	                              .default_workspace = default_workspace};
	struct tsso_buf all;
	struct map_run r = {.claims = claims,
	                    .userinfo = json_is_object(userinfo) ? userinfo : NULL,
	                    .m = m,
	                    .dry_run = true,
	                    .all = &all};
	struct tsso_identity *id = NULL;
	char *pretty = NULL, *out;

	tsso_buf_init(&all, 64 * 1024);
	if (m == NULL || !json_is_object(claims)) {
		map_refuse(&r, "mapping", "mapping.claim_missing",
		           "mapping: the claims file is not a JSON object");
	} else if (run(&r, &o, &id, &pretty) == 0) {
		tsso_identity_free(id);
		tsso_buf_free(&all);
		*ret_output = pretty;
		return 0;
	}
	free(pretty);
	if (all.len == 0)
		map_note(&all, "%s", "mapping.internal: mapping: out of memory\n");
	if ((out = tsso_buf_take(&all)) == NULL) {
		tsso_buf_free(&all);
		return -1;
	}
	*ret_output = out;
	return 1;
}
