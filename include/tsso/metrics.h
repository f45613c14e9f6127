/*
 * Prometheus counters and latency histograms, rendered in the text
 * exposition format (version 0.0.4). Label values are bounded in count: past
 * TSSO_METRICS_MAX_SERIES distinct series, new ones fold into "other".
 */
#ifndef TSSO_METRICS_H
#define TSSO_METRICS_H

#include "tsso/buf.h"
#include "tsso/common.h"

#define TSSO_METRICS_MAX_SERIES 4096

struct tsso_metrics;

struct tsso_metrics *tsso_metrics_new(void) TSSO_WUR;
void tsso_metrics_free(struct tsso_metrics *m);
/* One answered request on a named route ("login", "unknown"...). */
void tsso_metrics_request(struct tsso_metrics *m, const char *route, int status, double seconds);
/* A refusal: a login, token or logout that ended on reason (e.g. state.replayed). */
void tsso_metrics_refusal(struct tsso_metrics *m, const char *tenant, const char *reason);
/* A generic counter with one label pair, e.g. ("tsso_embed_tokens_total", "tenant", "acme"). */
void tsso_metrics_inc(struct tsso_metrics *m, const char *name, const char *label,
                      const char *value);
/* Append the exposition text. */
int tsso_metrics_render(struct tsso_metrics *m, struct tsso_buf *out) TSSO_WUR;

#endif
