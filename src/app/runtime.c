/* Runtime snapshots: built from a configuration, swapped on reload, refcounted. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tsso/app.h"
#include "tsso/buf.h"
#include "tsso/metrics.h"

double tsso_now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double tsso_now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void tenant_fini(struct tsso_tenant *t)
{
	free(t->redirect_uri);
}

static void runtime_free(struct tsso_runtime *rt)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; i < rt->n_tenants; i++)
		tenant_fini(&rt->tenants[i]);
	free(rt->tenants);
	tsso_config_free(rt->cfg);
	free(rt);
}

struct tsso_runtime *tsso_runtime_new(struct tsso_config *cfg, struct tsso_err *err)
{
	struct tsso_runtime *rt = calloc(1, sizeof(*rt));

	if (rt == NULL) {
		tsso_config_free(cfg);
		tsso_err_set(err, "runtime.oom", "out of memory");
		return NULL;
	}
	rt->cfg = cfg;
	atomic_init(&rt->refs, 1);
	rt->loaded_at = tsso_now_wall();
	rt->tenants = calloc(cfg->n_tenants + 1, sizeof(*rt->tenants));
	if (rt->tenants == NULL)
		goto oom;
	for (size_t i = 0; i < cfg->n_tenants; i++) {
		struct tsso_tenant *t = &rt->tenants[i];
		struct tsso_buf b;

		t->cfg = &cfg->tenants[i];
		rt->n_tenants++;
		tsso_buf_init(&b, 4096);
		if (tsso_buf_addf(&b, "%s/%s/callback", cfg->public_url, t->cfg->id) < 0) {
			tsso_buf_free(&b);
			goto oom;
		}
		t->redirect_uri = tsso_buf_take(&b);
		if (t->redirect_uri == NULL)
			goto oom;
	}
	return rt;
oom:
	runtime_free(rt);
	tsso_err_set(err, "runtime.oom", "out of memory");
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
