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

#include "tsso/clock.h"
#include "tsso/common.h"
#include "tsso/config.h"
#include "tsso/err.h"

struct tsso_metrics;
struct tsso_idp;
struct tsso_mapping;
struct tsso_embed_client;
struct tsso_embed_keystore;
struct tsso_keyring;
struct tsso_store;
struct tsso_store_ref;
struct tsso_problems;

/* Per-tenant runtime state, built from the tenant's configuration. */
struct tsso_tenant {
	const struct tsso_tenant_cfg *cfg; /* borrowed from the runtime's config */
	char *redirect_uri;                /* {public_url}/{tenant}/callback */
	char *base_url;                    /* {public_url}/{tenant} */
	char *cookie_path;                 /* {base}/{tenant} */
	struct tsso_idp *idp;              /* owned */
	struct tsso_mapping *mapping;      /* owned, compiled rules */
	struct tsso_embed_client *embed;   /* owned */
	atomic_llong next_refresh;         /* metadata refresher: next attempt (Unix s) */
	atomic_long refresh_backoff;       /* seconds, doubles while the IdP fails */
};

struct tsso_runtime {
	atomic_int refs;
	struct tsso_config *cfg;     /* owned */
	struct tsso_tenant *tenants; /* same order as cfg->tenants */
	size_t n_tenants;
	double loaded_at;                     /* wall-clock seconds */
	struct tsso_keyring *keyring;         /* session.secret_file: seals login state */
	struct tsso_embed_keystore *keystore; /* embed signing keys, NULL without keys_dir */
	struct tsso_store_ref *store_ref;     /* shared with the next runtime when possible */
	struct tsso_store *store;             /* borrowed from store_ref */
};

struct tsso_app {
	pthread_mutex_t lock; /* guards rt */
	struct tsso_runtime *rt;
	struct tsso_metrics *metrics;
	char *config_path;
	atomic_bool draining; /* SIGTERM received: /readyz answers 503 */
	double started_at;
};

/* Build the runtime for a loaded configuration (takes ownership of cfg, also
 * on failure): per-tenant relying parties, compiled mappings, embed clients,
 * the embed keystore, the login-state keyring and the session store. prev
 * (may be NULL) is the running runtime: an in-memory session store with the
 * same settings is carried over so a reload loses no session. */
struct tsso_runtime *tsso_runtime_new(struct tsso_config *cfg, struct tsso_runtime *prev,
                                      struct tsso_problems *problems,
                                      struct tsso_err *err) TSSO_WUR;
/* Directory of mapping presets for cfg: presets_dir, else the installed
 * ones, else the source tree's (running from a build directory). Borrowed. */
const char *tsso_runtime_presets_dir(const struct tsso_config *cfg);
/* Borrowed: the runtime tenant with this id, or NULL. */
struct tsso_tenant *tsso_runtime_tenant(struct tsso_runtime *rt, const char *id);
/* Take a reference to the current runtime; release it with tsso_runtime_release. */
struct tsso_runtime *tsso_app_acquire(struct tsso_app *app);
void tsso_runtime_release(struct tsso_runtime *rt);
/* Replace the current runtime with rt (takes ownership). */
void tsso_app_swap(struct tsso_app *app, struct tsso_runtime *rt);

int tsso_app_init(struct tsso_app *app, const char *config_path, struct tsso_runtime *rt) TSSO_WUR;
void tsso_app_fini(struct tsso_app *app);

#endif
