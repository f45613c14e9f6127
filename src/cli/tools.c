/* `toucan-sso map`, `mint` and `keys`: operator tools around the core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "tsso/app.h"
#include "tsso/cli.h"
#include "tsso/embed.h"
#include "tsso/limits.h"
#include "tsso/mapping.h"

static json_t *load_claims(const char *path)
{
	json_error_t jerr;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

	if (j == NULL)
		fprintf(stderr, "%s: invalid JSON at line %d column %d: %s\n", path, jerr.line,
		        jerr.column, jerr.text);
	else if (!json_is_object(j)) {
		fprintf(stderr, "%s: must be a JSON object of claims\n", path);
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* A claims file may hold the claims, or {"id_token": {...}, "userinfo": {...}}. */
static void split_claims(json_t *file, json_t **claims, json_t **userinfo)
{
	json_t *it = json_object_get(file, "id_token");

	if (json_is_object(it)) {
		*claims = it;
		*userinfo = json_object_get(file, "userinfo");
	} else {
		*claims = file;
		*userinfo = NULL;
	}
}

int tsso_cli_map(const char *config_path, const char *tenant, const char *claims_file)
{
	struct tsso_runtime *rt = tsso_cli_load_runtime(config_path);
	struct tsso_tenant *t;
	json_t *file = NULL, *claims, *userinfo;
	char *out = NULL;
	int rc = 1;

	if (rt == NULL)
		return 1;
	t = tsso_runtime_tenant(rt, tenant);
	if (t == NULL) {
		fprintf(stderr, "toucan-sso map: no tenant \"%s\"\n", tenant);
		goto out;
	}
	file = load_claims(claims_file);
	if (file == NULL)
		goto out;
	split_claims(file, &claims, &userinfo);
	rc = tsso_mapping_dry_run(t->mapping, claims, userinfo, (int)t->cfg->embed.scheme,
	                          t->cfg->embed.workspace_id, &out);
	if (out != NULL)
		fputs(out, rc == 0 ? stdout : stderr);
	rc = rc == 0 ? 0 : 1;
out:
	free(out);
	json_decref(file);
	tsso_runtime_release(rt);
	return rc;
}

/* The mint tool maps a claims file the way a login would. */
static struct tsso_identity *mint_map(void *ctx, const struct tsso_tenant_cfg *tc, json_t *file,
                                      struct tsso_err *err)
{
	struct tsso_tenant *t = ctx;
	struct tsso_mapping_refusal why = {0};
	struct tsso_mapping_opts o = {.scheme = tc->embed.scheme,
	                              .default_workspace = tc->embed.workspace_id};
	struct tsso_identity *id = NULL;
	json_t *claims, *userinfo;

	split_claims(file, &claims, &userinfo);
	if (tsso_mapping_apply(t->mapping, claims, userinfo, &o, &id, &why) < 0) {
		*err = why.err;
		return NULL;
	}
	return id;
}

int tsso_cli_mint(const char *config_path, const char *tenant, const char *claims_file)
{
	struct tsso_config *cfg = tsso_cli_load_config(config_path);
	struct tsso_runtime *rt = NULL;
	struct tsso_tenant *t;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	json_t *out;
	int rc = 1;

	if (cfg == NULL)
		return 1;
	/* Refused before anything else is loaded or contacted. */
	if (tsso_embed_dev_check(cfg, &err) < 0) {
		fprintf(stderr, "toucan-sso mint: %s\n", err.msg);
		tsso_config_free(cfg);
		return 1;
	}
	tsso_config_free(cfg);
	rt = tsso_cli_load_runtime(config_path);
	if (rt == NULL)
		return 1;
	t = tsso_runtime_tenant(rt, tenant);
	if (t == NULL) {
		fprintf(stderr, "toucan-sso mint: no tenant \"%s\"\n", tenant);
		goto out;
	}
	if (tsso_embed_dev_mint(rt->cfg, t->cfg, rt->keystore, claims_file, mint_map, t,
	                        (long long)time(NULL), &tok, &err) < 0) {
		fprintf(stderr, "toucan-sso mint: %s: %s\n", err.reason ? err.reason : "-",
		        err.msg);
		goto out;
	}
	out = tsso_embed_token_json(&tok, (long long)time(NULL));
	if (out != NULL) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(out);
		rc = 0;
	}
out:
	tsso_embed_token_clear(&tok);
	tsso_runtime_release(rt);
	return rc;
}

int tsso_cli_keys(const char *config_path, const char *action)
{
	struct tsso_config *cfg = tsso_cli_load_config(config_path);
	struct tsso_err err = {0};
	long long now = (long long)time(NULL);
	char *kid = NULL, *text = NULL;
	int rc = 1;

	if (cfg == NULL)
		return 1;
	if (cfg->embed.keys_dir == NULL) {
		fprintf(stderr, "%s: embed.keys_dir: is required for `toucan-sso keys`\n",
		        cfg->file);
		goto out;
	}
	if (strcmp(action, "generate") == 0) {
		if (tsso_embed_keys_generate(cfg->embed.keys_dir, cfg->embed.alg, now, &kid,
		                             &err) == 0) {
			printf("generated %s key %s in %s\n", cfg->embed.alg, kid,
			       cfg->embed.keys_dir);
			rc = 0;
		}
	} else if (strcmp(action, "rotate") == 0) {
		if (tsso_embed_keys_rotate(cfg->embed.keys_dir, cfg->embed.alg, now,
		                           cfg->embed.rotation_overlap, &kid, &err) == 0) {
			printf("added next key %s: published now, signs after %ld s; reload the "
			       "daemons (SIGHUP)\n",
			       kid, cfg->embed.rotation_overlap);
			rc = 0;
		}
	} else if (strcmp(action, "list") == 0) {
		if (tsso_embed_keys_list(cfg->embed.keys_dir, now, &text, &err) == 0) {
			fputs(text, stdout);
			rc = 0;
		}
	} else {
		fprintf(stderr, "toucan-sso keys: unknown action \"%s\" (generate, rotate, list)\n",
		        action);
		goto out;
	}
	if (rc != 0)
		fprintf(stderr, "toucan-sso keys %s: %s\n", action, err.msg);
out:
	free(kid);
	free(text);
	tsso_config_free(cfg);
	return rc;
}
