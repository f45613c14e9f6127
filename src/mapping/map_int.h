/*
 * Inside the mapping module: compiled rules and the per-login run state.
 * PCRE2 types stay here, never in include/tsso/mapping.h.
 */
#ifndef TSSO_MAP_INT_H
#define TSSO_MAP_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <pcre2.h>

#include "tsso/buf.h"
#include "tsso/config.h"
#include "tsso/limits.h"
#include "tsso/mapping.h"

/* Where compile problems go: "FILE: KEY: problem". */
struct map_cc {
	struct tsso_problems *problems;
	const char *file;
	pcre2_compile_context *ccx;
	pcre2_match_context *mcx; /* shared, read-only at match time */
	size_t n_conditions;      /* running total, against TSSO_MAPPING_MAX_CONDITIONS */
	int failed;
};

/* Build a rule key ("mapping.attributes.x.transforms[2]"), cut to fit. */
void map_key(char *out, size_t n, const char *fmt, ...) TSSO_PRINTF(3, 4);
void map_problem(struct map_cc *cc, const char *key, const char *fmt, ...) TSSO_PRINTF(3, 4);

/* --- claim paths (source.c) --- */
struct map_seg {
	char *name; /* member name, or NULL for an array index */
	size_t index;
};

struct map_path {
	struct map_seg *seg;
	size_t n;
	char *text; /* as written, for messages */
};

enum map_src_kind { MAP_SRC_CLAIM = 0, MAP_SRC_USERINFO, MAP_SRC_VALUE };

struct map_source {
	enum map_src_kind kind;
	struct map_path path; /* claim, userinfo */
	json_t *value;        /* constant */
};

int map_path_compile(struct map_cc *cc, const char *key, const json_t *j, struct map_path *ret);
void map_path_clear(struct map_path *p);

/* --- transforms and filters (transform.c) --- */
enum map_xf_kind {
	MAP_XF_LOWER = 0,
	MAP_XF_UPPER,
	MAP_XF_TRIM,
	MAP_XF_DROP_EMPTY,
	MAP_XF_UNIQUE, /* last of the steps without argument */
	MAP_XF_MATCH,
	MAP_XF_REPLACE,
	MAP_XF_SPLIT,
	MAP_XF_JOIN,
	MAP_XF_LOOKUP,
	MAP_XF_PREFIX,
	MAP_XF_SUFFIX,
	MAP_XF_ALLOW,
	MAP_XF_DENY,
};

struct map_xf {
	enum map_xf_kind kind;
	pcre2_code *re;     /* match, replace */
	uint32_t group;     /* match: capture group kept */
	char *str;          /* replace: replacement; split/join: delimiter; prefix/suffix */
	json_t *table;      /* lookup: object string -> string; allow/deny: object used as a set */
	bool keep_unmapped; /* lookup: "otherwise": "keep" */
};

int map_xf_compile(struct map_cc *cc, const char *key, const json_t *j, struct map_xf *ret);
void map_xf_clear(struct map_xf *xf);
const char *map_xf_name(enum map_xf_kind k);

/* --- value rules (rules.c) --- */
enum map_type { MAP_T_ANY = 0, MAP_T_STRING, MAP_T_NUMBER, MAP_T_BOOLEAN, MAP_T_STRING_LIST };

struct map_rule {
	char *name; /* "mapping.attributes.region" */
	struct map_source *src;
	size_t n_src;
	json_t *dflt; /* "default", may be NULL */
	struct map_xf *xf;
	size_t n_xf;
	enum map_type type;
	bool required;
};

/* Compile a value rule from j at key. forced_type (not MAP_T_ANY) fixes the
 * type; cond_mode accepts the condition operators as extra keys. */
int map_rule_compile(struct map_cc *cc, const char *key, const json_t *j, enum map_type forced_type,
                     bool cond_mode, struct map_rule *ret);
void map_rule_clear(struct map_rule *r);
const char *map_type_name(enum map_type t);
bool map_type_fits(enum map_type t, const json_t *v);
const char *map_json_kind(const json_t *v);

/* --- conditions (access.c) --- */
enum map_cond_kind { MAP_COND_ALL = 0, MAP_COND_ANY, MAP_COND_NOT, MAP_COND_TEST };
enum map_op {
	MAP_OP_EXISTS = 0,
	MAP_OP_EQUALS,
	MAP_OP_IN,
	MAP_OP_CONTAINS,
	MAP_OP_CONTAINS_ANY,
	MAP_OP_AT_LEAST
};

struct map_cond {
	enum map_cond_kind kind;
	char *name;        /* "mapping.access[1]" */
	char *description; /* operator's words, may be NULL */
	struct map_cond *sub;
	size_t n_sub;
	struct map_rule value; /* MAP_COND_TEST */
	enum map_op op;
	json_t *operand;
	json_t *order; /* at_least on strings: ordered list */
};

int map_cond_compile(struct map_cc *cc, const char *key, const json_t *j, int depth,
                     struct map_cond *ret);
/* A list of conditions that must all hold, named key[0], key[1]... */
int map_cond_compile_all(struct map_cc *cc, const char *key, const json_t *a, struct map_cond *ret);
void map_cond_clear(struct map_cond *c);

/* --- presets (preset.c) --- */
/* The rules to compile: the tenant's, or a preset's with the tenant's on top.
 * New reference, or NULL with problems reported. */
json_t *map_preset_merge(struct map_cc *cc, const json_t *rules, const char *presets_dir);
/* Compile a rules object (no "preset" key) into m. */
int map_compile_object(struct map_cc *cc, const json_t *rules, struct tsso_mapping *m);
void map_mapping_clear(struct tsso_mapping *m);

/* --- the compiled mapping --- */
struct tsso_mapping {
	struct map_rule username;
	struct map_rule workspace;
	bool has_workspace;
	struct map_cond admin_if;
	bool has_admin_if;
	struct map_cond maker_if;
	bool has_maker_if;
	struct map_rule groups;
	bool has_groups;
	json_t *privileges; /* object */
	struct map_rule *attrs;
	char **attr_names;
	size_t n_attrs;
	struct map_cond access;
	bool has_access;
	bool resolve_distributed; /* "distributed_claims": "resolve" */
	pcre2_compile_context *ccx;
	pcre2_match_context *mcx;
};

/* --- one login (apply.c, value.c) --- */
struct map_run {
	const json_t *claims;
	const json_t *userinfo;
	json_t *
	    resolved; /* distributed claims fetched in this run: {"id_token": {}, "userinfo": {}} */
	size_t n_resolved;
	double regex_ms;         /* spent in PCRE2 this run, against TSSO_MAPPING_REGEX_BUDGET_MS */
	const char *failed_cond; /* borrowed: name of the first access condition that failed */
	const struct tsso_mapping *m;
	const struct tsso_mapping_resolver *resolver;
	bool dry_run;
	/* refusals: the first in why, every one in all (dry run) */
	struct tsso_mapping_refusal *why;
	struct tsso_buf *all;
	int n_refused;
};

/* Append to a message buffer; text past its limit is cut, not an error. */
void map_note(struct tsso_buf *b, const char *fmt, ...) TSSO_PRINTF(2, 3);

/* No value: NULL (missing or JSON null), "" or []. */
bool map_value_empty(const json_t *v);

/* Record a refusal; returns -1. */
int map_refuse(struct map_run *r, const char *rule, const char *reason, const char *fmt, ...)
    TSSO_PRINTF(4, 5);

/* Evaluate a rule: 0 with *ret a new value or NULL (absent, not required),
 * -1 refused. */
int map_rule_eval(struct map_run *r, const struct map_rule *rule, json_t **ret);
/* Look a path up for a source: borrowed value or NULL; -1 when refused
 * (distributed claim that cannot be resolved). */
int map_source_get(struct map_run *r, const char *rule, const struct map_source *s,
                   const json_t **ret);
/* Run one transform on a value (a string, number, boolean or string list);
 * *v is replaced (may become NULL: dropped). */
int map_xf_run(struct map_run *r, const char *rule, size_t step, const struct map_xf *xf,
               json_t **v);
/* Evaluate a condition: 1 holds, 0 does not (why in fail, when not NULL), -1 refused. */
int map_cond_eval(struct map_run *r, const struct map_cond *c, struct tsso_buf *fail);

#endif
