/* Private to src/config: typed, problem-collecting readers of JSON config. */
#ifndef TSSO_CFG_INT_H
#define TSSO_CFG_INT_H

#include <stdbool.h>

#include <jansson.h>

#include "tsso/config.h"

/* Where values come from while one file is parsed. */
struct cfg_ctx {
	const char *file; /* the file being read, for messages */
	char *dir;        /* its directory, for relative paths */
	enum tsso_mode mode;
	struct tsso_problems *problems;
};

/* Each reader reports problems as "FILE: PREFIX.KEY: ..." and leaves *ret
 * unchanged when the key is absent or wrong. */
void cfg_problem(struct cfg_ctx *c, const char *prefix, const char *key, const char *fmt, ...)
    TSSO_PRINTF(4, 5);
void cfg_unknown_keys(struct cfg_ctx *c, const json_t *obj, const char *prefix,
                      const char *const *allowed);
json_t *cfg_object(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key);
bool cfg_str(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key,
             bool required, char **ret);
bool cfg_long(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key, long min,
              long max, long *ret);
bool cfg_bool(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key, bool *ret);
bool cfg_strlist(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key,
                 struct tsso_strlist *ret);
int cfg_enum(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key,
             const char *const *names, int dflt);
/* A path: resolved against the naming file's directory; must exist when must_exist. */
bool cfg_path(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key,
              bool must_exist, char **ret);
/* A secret given as KEY_file or KEY_env (or inline KEY in development mode only).
 * Files must be regular, bounded, and not accessible by others in production. */
void cfg_secret(struct cfg_ctx *c, const json_t *obj, const char *prefix, const char *key,
                bool required, struct tsso_secret *ret);
/* Absolute path for p relative to dir (new string). */
char *cfg_resolve(const char *dir, const char *p);
/* Check a file holding key material: regular file, size-bounded, mode. */
bool cfg_check_secret_file(struct cfg_ctx *c, const char *prefix, const char *key,
                           const char *path);
/* URL checks: https, or in development http to a loopback host. */
bool cfg_url_ok(const struct cfg_ctx *c, const char *url, bool allow_query, const char **ret_why);

void cfg_strlist_free(struct tsso_strlist *l);
void cfg_secret_free(struct tsso_secret *s);

/* Tenants (tenant.c). */
void cfg_tenant_load(const struct tsso_config *cfg, const char *path, const char *id,
                     struct tsso_problems *problems, struct tsso_tenant_cfg *ret);
void cfg_tenant_free(struct tsso_tenant_cfg *t);

#endif
