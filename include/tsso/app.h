/*
 * The daemon's context. A runtime is one immutable configuration snapshot
 * plus the per-tenant state built from it; SIGHUP builds a new one and swaps
 * it in atomically, requests in flight keep the one they started with.
 */
#ifndef TSSO_APP_H
#define TSSO_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "tsso/common.h"
#include "tsso/config.h"
#include "tsso/err.h"

struct tsso_metrics;

/* Per-tenant runtime state. Modules add their state here as they land. */
struct tsso_tenant {
	const struct tsso_tenant_cfg *cfg; /* borrowed from the runtime's config */
	char *redirect_uri;                /* {public_url}/{tenant}/callback */
};

struct tsso_runtime {
	atomic_int refs;
	struct tsso_config *cfg;     /* owned */
	struct tsso_tenant *tenants; /* same order as cfg->tenants */
	size_t n_tenants;
	double loaded_at; /* wall-clock seconds */
};

struct tsso_app {
	pthread_mutex_t lock; /* guards rt */
	struct tsso_runtime *rt;
	struct tsso_metrics *metrics;
	char *config_path;
	atomic_bool draining; /* SIGTERM received: /readyz answers 503 */
	double started_at;
};

/* Build the runtime for a loaded configuration (takes ownership of cfg, also on failure). */
struct tsso_runtime *tsso_runtime_new(struct tsso_config *cfg, struct tsso_err *err) TSSO_WUR;
/* Borrowed: the runtime tenant with this id, or NULL. */
struct tsso_tenant *tsso_runtime_tenant(struct tsso_runtime *rt, const char *id);
/* Take a reference to the current runtime; release it with tsso_runtime_release. */
struct tsso_runtime *tsso_app_acquire(struct tsso_app *app);
void tsso_runtime_release(struct tsso_runtime *rt);
/* Replace the current runtime with rt (takes ownership). */
void tsso_app_swap(struct tsso_app *app, struct tsso_runtime *rt);

int tsso_app_init(struct tsso_app *app, const char *config_path, struct tsso_runtime *rt) TSSO_WUR;
void tsso_app_fini(struct tsso_app *app);

/* Monotonic and wall-clock time in seconds. */
double tsso_now_mono(void);
double tsso_now_wall(void);

#endif
