/*
 * `toucan-sso serve`: start, then wait for signals on the main thread (every
 * other thread has them blocked). SIGHUP reloads; SIGTERM/SIGINT drain.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "tsso/app.h"
#include "tsso/cli.h"
#include "tsso/config.h"
#include "tsso/limits.h"
#include "tsso/log.h"
#include "tsso/refresher.h"
#include "tsso/server.h"
#include "tsso_build.h"

static void reload(struct tsso_app *app)
{
	struct tsso_problems problems = {0};
	struct tsso_config *cfg = tsso_config_load(app->config_path, &problems);
	struct tsso_runtime *cur, *rt = NULL;
	struct tsso_err err = {0};
	char n[16];

	if (cfg != NULL) {
		cur = tsso_app_acquire(app);
		if (strcmp(cur->cfg->listen_host, cfg->listen_host) != 0 ||
		    cur->cfg->listen_port != cfg->listen_port)
			tsso_log(TSSO_LOG_WARN, "config.listen_unchanged", "detail",
			         "a new listen address takes effect at restart", NULL);
		rt = tsso_runtime_new(cfg, cur, &problems, &err);
		tsso_runtime_release(cur);
	}
	if (rt == NULL) {
		for (size_t i = 0; i < problems.n; i++)
			tsso_log(TSSO_LOG_ERROR, "config.problem", "problem", problems.v[i], NULL);
		tsso_log(TSSO_LOG_ERROR, "config.reload_failed", "file", app->config_path, "detail",
		         "the new configuration has problems; the previous one keeps serving",
		         NULL);
		tsso_problems_free(&problems);
		return;
	}
	tsso_log_setup((enum tsso_log_level)rt->cfg->log.level, rt->cfg->log.json);
	snprintf(n, sizeof(n), "%zu", rt->n_tenants);
	tsso_app_swap(app, rt);
	tsso_log(TSSO_LOG_INFO, "config.reloaded", "file", app->config_path, "tenants", n, NULL);
}

static void drain(struct tsso_app *app, struct tsso_server *srv, long grace_s)
{
	atomic_store(&app->draining, true);
	tsso_server_quiesce(srv);
	/* Bounded: in-flight requests get http.shutdown_grace seconds. */
	if (!tsso_server_wait_idle(srv, grace_s * 1000))
		tsso_log(TSSO_LOG_WARN, "server.drain_timeout", "detail",
		         "requests still in flight at the end of the grace period", NULL);
}

/* glibc returns the free top of a thread's heap to the kernel once it passes
 * 128 KiB (MADV_DONTNEED), and the next requests fault those pages back in:
 * with the allocations of a login going up and down by about that much,
 * the event thread did so every ten logins or so (perf: madvise and page
 * faults 3.4% of a login's CPU; docs/performance.md, finding 14). A
 * long-running server keeps its high-water mark instead: trim only past
 * TRIM_MIB of free memory at the top. Setting the trim threshold freezes
 * the mmap threshold at its default (128 KiB), which would send every
 * larger buffer to mmap and munmap: it is set too, so that only the rare
 * allocation over MMAP_MIB (a configuration file) is mapped on its own. */
#define TRIM_MIB 16
#define MMAP_MIB 4

static void malloc_tune(void)
{
	if (mallopt(M_MMAP_THRESHOLD, MMAP_MIB * 1024 * 1024) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, TRIM_MIB * 1024 * 1024) != 1)
		tsso_log(TSSO_LOG_WARN, "server.malloc_tune", "detail",
		         "mallopt refused; the defaults stay", NULL);
}

int tsso_cli_serve(const char *config_path)
{
	struct tsso_config *cfg = tsso_cli_load_config(config_path);
	struct tsso_runtime *rt = NULL;
	struct tsso_server *srv = NULL;
	struct tsso_refresher *refresher = NULL;
	struct tsso_problems problems = {0};
	struct tsso_app app;
	struct tsso_err err = {0};
	sigset_t set;
	char port[8], threads[12];
	int sig = 0, rc = 1;
	bool app_ok = false;

	if (cfg == NULL) {
		fprintf(stderr, "%s: configuration refused, not starting\n", config_path);
		return 1;
	}
	tsso_log_setup((enum tsso_log_level)cfg->log.level, cfg->log.json);
	malloc_tune();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		tsso_config_free(cfg);
		return 1;
	}
	rt = tsso_runtime_new(cfg, NULL, &problems, &err);
	for (size_t i = 0; i < problems.n; i++)
		fprintf(stderr, "%s\n", problems.v[i]);
	tsso_problems_free(&problems);
	if (rt == NULL)
		goto out;
	if (tsso_app_init(&app, config_path, rt) < 0)
		goto out;
	app_ok = true;
	srv = tsso_server_start(&app, &err);
	if (srv == NULL)
		goto out;
	refresher = tsso_refresher_start(&app);
	snprintf(port, sizeof(port), "%u", tsso_server_port(srv));
	snprintf(threads, sizeof(threads), "%u", tsso_server_threads(srv));
	tsso_log(TSSO_LOG_INFO, "server.started", "version", TSSO_VERSION, "listen",
	         app.rt->cfg->listen_host, "port", port, "public_url", app.rt->cfg->public_url,
	         "mode", app.rt->cfg->mode == TSSO_MODE_PRODUCTION ? "production" : "development",
	         "event_threads", threads, NULL);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(&app);
			continue;
		}
		if (sig == SIGPIPE)
			continue;
		break;
	}
	{
		/* The grace of the configuration in force (reloads included). */
		struct tsso_runtime *cur = tsso_app_acquire(&app);
		long grace = cur->cfg->http.shutdown_grace;
		char grace_s[24], inflight_s[16];

		tsso_runtime_release(cur);
		snprintf(grace_s, sizeof(grace_s), "%ld", grace);
		snprintf(inflight_s, sizeof(inflight_s), "%u", tsso_server_inflight(srv));
		tsso_log(TSSO_LOG_INFO, "server.stopping", "signal",
		         sig == SIGINT ? "SIGINT" : "SIGTERM", "grace_s", grace_s, "in_flight",
		         inflight_s, NULL);
		drain(&app, srv, grace);
	}
	rc = 0;
out:
	if (rc != 0 && err.reason != NULL)
		tsso_log(TSSO_LOG_ERROR, "server.start_failed", "reason", err.reason, "detail",
		         err.msg, NULL);
	/* The server first: it lets requests still calling out end, and those
	 * may be waiting for a refresh in progress. */
	tsso_server_stop(srv);
	tsso_refresher_stop(refresher);
	if (app_ok)
		tsso_app_fini(&app);
	else
		tsso_runtime_release(rt);
	curl_global_cleanup();
	if (rc == 0)
		tsso_log(TSSO_LOG_INFO, "server.stopped", NULL);
	return rc;
}
