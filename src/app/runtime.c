/* Runtime snapshots: built from a configuration, swapped on reload, refcounted. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsso/aead.h"
#include "tsso/app.h"
#include "tsso/buf.h"
#include "tsso/embed.h"
#include "tsso/mapping.h"
#include "tsso/metrics.h"
#include "tsso/oidc.h"
#include "tsso/session.h"
#include "tsso_build.h"

/* A session store shared by consecutive runtimes (an in-memory store must
 * survive a reload, or every session would end with it). */
struct tsso_store_ref {
	atomic_int refs;
	struct tsso_store *store;
	enum tsso_store_kind kind;
	char *fingerprint; /* the session settings it was built from */
};

const char *tsso_runtime_presets_dir(const struct tsso_config *cfg)
{
	struct stat st;

	if (cfg->presets_dir != NULL)
		return cfg->presets_dir;
	if (stat(TSSO_PRESETS_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		return TSSO_PRESETS_DIR;
	return TSSO_SOURCE_PRESETS_DIR;
}

static void store_ref_release(struct tsso_store_ref *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	tsso_store_free(r->store);
	free(r->fingerprint);
	free(r);
}

static char *store_fingerprint(const struct tsso_config *cfg)
{
	struct tsso_buf b;

	tsso_buf_init(&b, 8192);
	if (tsso_buf_addf(&b, "%d|%s|%s|%s|%ld|%ld|%ld|%s|%ld", (int)cfg->session.store,
	                  cfg->session.secret_file ? cfg->session.secret_file : "",
	                  cfg->session.redis_url ? cfg->session.redis_url : "",
	                  cfg->session.redis_key_prefix ? cfg->session.redis_key_prefix : "",
	                  cfg->session.redis_pool_size, cfg->session.inactivity_timeout,
	                  cfg->session.max_duration, cfg->session.cookie_name,
	                  cfg->session.memory_max_sessions) < 0) {
		tsso_buf_free(&b);
		return NULL;
	}
	return tsso_buf_take(&b);
}

static int store_attach(struct tsso_runtime *rt, struct tsso_runtime *prev, struct tsso_err *err)
{
	char *fp = store_fingerprint(rt->cfg);
	struct tsso_store_ref *r;

	if (fp == NULL)
		return tsso_err_set(err, "runtime.oom", "out of memory");
	/* Only the memory store holds state that a new store would lose. */
	if (prev != NULL && prev->store_ref != NULL &&
	    rt->cfg->session.store == TSSO_STORE_MEMORY &&
	    prev->store_ref->kind == TSSO_STORE_MEMORY &&
	    strcmp(prev->store_ref->fingerprint, fp) == 0) {
		free(fp);
		atomic_fetch_add(&prev->store_ref->refs, 1);
		rt->store_ref = prev->store_ref;
		rt->store = rt->store_ref->store;
		return 0;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		free(fp);
		return tsso_err_set(err, "runtime.oom", "out of memory");
	}
	r->store = tsso_store_new(rt->cfg, err);
	if (r->store == NULL) {
		free(fp);
		free(r);
		return -1;
	}
	/* Logouts and used single-use markers held in this process outlive the reload. */
	if (prev != NULL && prev->store_ref != NULL)
		tsso_store_inherit(r->store, prev->store_ref->store);
	atomic_init(&r->refs, 1);
	r->kind = rt->cfg->session.store;
	r->fingerprint = fp;
	rt->store_ref = r;
	rt->store = r->store;
	return 0;
}

static void tenant_fini(struct tsso_tenant *t)
{
	tsso_embed_client_free(t->embed);
	tsso_mapping_free(t->mapping);
	tsso_idp_free(t->idp);
	free(t->redirect_uri);
	free(t->base_url);
	free(t->cookie_path);
}

static void runtime_free(struct tsso_runtime *rt)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; i < rt->n_tenants; i++)
		tenant_fini(&rt->tenants[i]);
	free(rt->tenants);
	tsso_embed_keystore_free(rt->keystore);
	tsso_keyring_free(rt->keyring);
	store_ref_release(rt->store_ref);
	tsso_config_free(rt->cfg);
	free(rt);
}

static char *joinf(const char *a, const char *b, const char *c)
{
	struct tsso_buf buf;

	tsso_buf_init(&buf, 4096);
	if (tsso_buf_addf(&buf, "%s/%s%s", a, b, c) < 0) {
		tsso_buf_free(&buf);
		return NULL;
	}
	return tsso_buf_take(&buf);
}

static int tenant_init(struct tsso_runtime *rt, struct tsso_tenant *t,
                       const struct tsso_tenant_cfg *tc, struct tsso_problems *problems,
                       struct tsso_err *err)
{
	const struct tsso_config *cfg = rt->cfg;
	size_t before = problems ? problems->n : 0;

	t->cfg = tc;
	atomic_init(&t->next_refresh, 0);
	atomic_init(&t->refresh_backoff, 0);
	t->redirect_uri = joinf(cfg->public_url, tc->id, "/callback");
	t->base_url = joinf(cfg->public_url, tc->id, "");
	t->cookie_path = joinf(cfg->base_path, tc->id, "");
	if (t->redirect_uri == NULL || t->base_url == NULL || t->cookie_path == NULL)
		return tsso_err_set(err, "runtime.oom", "out of memory");
	t->idp = tsso_idp_new(tc, t->redirect_uri, cfg->mode == TSSO_MODE_DEVELOPMENT, err);
	if (t->idp == NULL) {
		tsso_problems_add(problems, tc->file, "-", "%s", err->msg);
		return -1;
	}
	t->mapping =
	    tsso_mapping_compile(tc->mapping, tsso_runtime_presets_dir(cfg), tc->file, problems);
	if (t->mapping == NULL || (problems && problems->n > before))
		return tsso_err_set(err, "mapping.config", "tenant %s: mapping rules have problems",
		                    tc->id);
	if (tc->embed.scheme == TSSO_EMBED_SIGNED_JWT && rt->keystore == NULL) {
		tsso_problems_add(problems, cfg->file, "embed.keys_dir",
		                  "tenant %s signs embed tokens: embed.keys_dir is required "
		                  "(create keys with `toucan-sso keys generate`)",
		                  tc->id);
		return tsso_err_set(err, "embed.no_signing_key", "no embed keys");
	}
	t->embed = tsso_embed_client_new(cfg, tc, rt->keystore, NULL, err);
	if (t->embed == NULL) {
		tsso_problems_add(problems, tc->file, "embed", "%s", err->msg);
		return -1;
	}
	return 0;
}

struct tsso_runtime *tsso_runtime_new(struct tsso_config *cfg, struct tsso_runtime *prev,
                                      struct tsso_problems *problems, struct tsso_err *err)
{
	struct tsso_runtime *rt = calloc(1, sizeof(*rt));
	bool failed = false;

	if (rt == NULL) {
		tsso_config_free(cfg);
		tsso_err_set(err, "runtime.oom", "out of memory");
		return NULL;
	}
	rt->cfg = cfg;
	atomic_init(&rt->refs, 1);
	rt->loaded_at = tsso_now_wall();
	rt->keyring = tsso_keyring_load(cfg->session.secret_file, err);
	if (rt->keyring == NULL) {
		tsso_problems_add(problems, cfg->file, "session.secret_file", "%s", err->msg);
		goto fail;
	}
	if (cfg->embed.keys_dir != NULL) {
		rt->keystore =
		    tsso_embed_keystore_load(cfg->embed.keys_dir, (long long)tsso_now_wall(), err);
		if (rt->keystore == NULL) {
			tsso_problems_add(problems, cfg->file, "embed.keys_dir", "%s", err->msg);
			failed = true;
		}
	}
	rt->tenants = calloc(cfg->n_tenants + 1, sizeof(*rt->tenants));
	if (rt->tenants == NULL)
		goto fail;
	/* Every tenant is built even after a failure, so that every problem is reported. */
	for (size_t i = 0; i < cfg->n_tenants; i++) {
		rt->n_tenants++;
		if (tenant_init(rt, &rt->tenants[i], &cfg->tenants[i], problems, err) < 0)
			failed = true;
	}
	if (failed)
		goto fail;
	if (store_attach(rt, prev, err) < 0) {
		tsso_problems_add(problems, cfg->file, "session", "%s", err->msg);
		goto fail;
	}
	return rt;
fail:
	if (err->reason == NULL)
		tsso_err_set(err, "runtime.config", "the configuration cannot be used");
	runtime_free(rt);
	return NULL;
}

static int tenant_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tsso_tenant *)elem)->cfg->id);
}

struct tsso_tenant *tsso_runtime_tenant(struct tsso_runtime *rt, const char *id)
{
	if (rt == NULL || id == NULL || rt->n_tenants == 0)
		return NULL;
	return bsearch(id, rt->tenants, rt->n_tenants, sizeof(*rt->tenants), tenant_cmp);
}

struct tsso_runtime *tsso_app_acquire(struct tsso_app *app)
{
	struct tsso_runtime *rt;

	pthread_mutex_lock(&app->lock);
	rt = app->rt;
	atomic_fetch_add(&rt->refs, 1);
	pthread_mutex_unlock(&app->lock);
	return rt;
}

void tsso_runtime_release(struct tsso_runtime *rt)
{
	if (rt != NULL && atomic_fetch_sub(&rt->refs, 1) == 1)
		runtime_free(rt);
}

void tsso_app_swap(struct tsso_app *app, struct tsso_runtime *rt)
{
	struct tsso_runtime *old;

	pthread_mutex_lock(&app->lock);
	old = app->rt;
	app->rt = rt;
	pthread_mutex_unlock(&app->lock);
	tsso_runtime_release(old);
}

int tsso_app_init(struct tsso_app *app, const char *config_path, struct tsso_runtime *rt)
{
	memset(app, 0, sizeof(*app));
	if (pthread_mutex_init(&app->lock, NULL) != 0)
		return -1;
	app->rt = rt;
	app->metrics = tsso_metrics_new();
	app->config_path = strdup(config_path);
	app->started_at = tsso_now_wall();
	atomic_init(&app->draining, false);
	return app->metrics != NULL && app->config_path != NULL ? 0 : -1;
}

void tsso_app_fini(struct tsso_app *app)
{
	tsso_runtime_release(app->rt);
	app->rt = NULL;
	tsso_metrics_free(app->metrics);
	free(app->config_path);
	pthread_mutex_destroy(&app->lock);
}
