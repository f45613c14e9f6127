/*
 * Background refresh of every tenant's IdP metadata and keys, so logins never
 * wait for discovery. One thread walks the current runtime's tenants; a
 * failing IdP is retried with exponential backoff (2 s doubling to 60 s) and
 * keeps its cached metadata for the stale window the oidc module allows.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "tsso/app.h"
#include "tsso/log.h"
#include "tsso/oidc.h"
#include "tsso/refresher.h"

#define REFRESH_TICK_S 1
#define RETRY_MIN_S    2
#define RETRY_MAX_S    60
#define CHECK_EVERY_S  60

struct tsso_refresher {
	struct tsso_app *app;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static void refresh_tenant(struct tsso_tenant *t, long long now)
{
	struct tsso_err err = {0};
	long backoff;

	if (atomic_load(&t->next_refresh) > now)
		return;
	if (tsso_idp_refresh_metadata(t->idp, now, false, &err) == 0) {
		if (atomic_exchange(&t->refresh_backoff, 0) != 0)
			tsso_log(TSSO_LOG_INFO, "idp.recovered", "tenant", t->cfg->id, NULL);
		atomic_store(&t->next_refresh, now + CHECK_EVERY_S);
		return;
	}
	backoff = atomic_load(&t->refresh_backoff);
	backoff =
	    backoff == 0 ? RETRY_MIN_S : (backoff * 2 > RETRY_MAX_S ? RETRY_MAX_S : backoff * 2);
	atomic_store(&t->refresh_backoff, backoff);
	atomic_store(&t->next_refresh, now + backoff);
	tsso_log(TSSO_LOG_WARN, "idp.refresh_failed", "tenant", t->cfg->id, "reason", err.reason,
	         "detail", err.msg, NULL);
}

static void *refresher_main(void *arg)
{
	struct tsso_refresher *r = arg;

	for (;;) {
		struct tsso_runtime *rt = tsso_app_acquire(r->app);
		struct timespec until;

		for (size_t i = 0; i < rt->n_tenants; i++) {
			pthread_mutex_lock(&r->lock);
			bool stop = r->stop;
			pthread_mutex_unlock(&r->lock);
			if (stop)
				break;
			refresh_tenant(&rt->tenants[i], (long long)time(NULL));
		}
		tsso_runtime_release(rt);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += REFRESH_TICK_S;
		pthread_mutex_lock(&r->lock);
		while (!r->stop && pthread_cond_timedwait(&r->cond, &r->lock, &until) != ETIMEDOUT)
			;
		if (r->stop) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		pthread_mutex_unlock(&r->lock);
	}
}

struct tsso_refresher *tsso_refresher_start(struct tsso_app *app)
{
	struct tsso_refresher *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->app = app;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (pthread_create(&r->thread, NULL, refresher_main, r) != 0) {
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->cond);
		free(r);
		return NULL;
	}
	return r;
}

void tsso_refresher_stop(struct tsso_refresher *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
