/* Prometheus text exposition: request counters, latency histograms, refusals. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/metrics.h"

#define LABEL_MAX       96
#define HIST_ROUTES_MAX 32

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
	char *name;   /* metric name */
	char *labels; /* rendered label set, e.g. route="login",code="302" */
	unsigned long long value;
};

struct hist {
	char route[LABEL_MAX];
	unsigned long long counts[N_BUCKETS];
	unsigned long long total;
	double sum;
};

struct tsso_metrics {
	pthread_mutex_t lock;
	struct series *series;
	size_t n_series;
	struct hist hist[HIST_ROUTES_MAX];
	size_t n_hist;
};

struct tsso_metrics *tsso_metrics_new(void)
{
	struct tsso_metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->series = calloc(TSSO_METRICS_MAX_SERIES, sizeof(*m->series));
	if (m->series == NULL || pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m->series);
		free(m);
		return NULL;
	}
	return m;
}

void tsso_metrics_free(struct tsso_metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_series; i++) {
		free(m->series[i].name);
		free(m->series[i].labels);
	}
	free(m->series);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* Label values come from code (route names, reason codes, tenant ids that
 * passed validation); still, keep them to a safe alphabet. */
static void label_clean(char *out, const char *in)
{
	size_t i = 0;

	for (; in && in[i] && i < LABEL_MAX - 1; i++) {
		char ch = in[i];
		out[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		                 (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'
		             ? ch
		             : '_';
	}
	out[i] = '\0';
}

/* Caller holds the lock. */
static void series_add(struct tsso_metrics *m, const char *name, const char *labels)
{
	struct series *s;

	for (size_t i = 0; i < m->n_series; i++)
		if (strcmp(m->series[i].name, name) == 0 &&
		    strcmp(m->series[i].labels, labels) == 0) {
			m->series[i].value++;
			return;
		}
	if (m->n_series >= TSSO_METRICS_MAX_SERIES - 1) {
		labels = "overflow=\"true\"";
		for (size_t i = 0; i < m->n_series; i++)
			if (strcmp(m->series[i].name, name) == 0 &&
			    strcmp(m->series[i].labels, labels) == 0) {
				m->series[i].value++;
				return;
			}
		if (m->n_series >= TSSO_METRICS_MAX_SERIES)
			return;
	}
	s = &m->series[m->n_series];
	s->name = strdup(name);
	s->labels = strdup(labels);
	if (s->name == NULL || s->labels == NULL) {
		free(s->name);
		free(s->labels);
		return;
	}
	s->value = 1;
	m->n_series++;
}

void tsso_metrics_request(struct tsso_metrics *m, const char *route, int status, double seconds)
{
	char r[LABEL_MAX], labels[2 * LABEL_MAX];
	struct hist *h = NULL;

	if (m == NULL)
		return;
	label_clean(r, route);
	snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%d\"", r, status);
	pthread_mutex_lock(&m->lock);
	series_add(m, "tsso_http_requests_total", labels);
	for (size_t i = 0; i < m->n_hist && h == NULL; i++)
		if (strcmp(m->hist[i].route, r) == 0)
			h = &m->hist[i];
	if (h == NULL && m->n_hist < HIST_ROUTES_MAX) {
		h = &m->hist[m->n_hist++];
		memcpy(h->route, r, sizeof(r));
	}
	if (h != NULL) {
		for (size_t b = 0; b < N_BUCKETS; b++)
			if (seconds <= buckets[b])
				h->counts[b]++;
		h->total++;
		h->sum += seconds;
	}
	pthread_mutex_unlock(&m->lock);
}

void tsso_metrics_inc(struct tsso_metrics *m, const char *name, const char *label,
                      const char *value)
{
	char v[LABEL_MAX], labels[2 * LABEL_MAX];

	if (m == NULL)
		return;
	label_clean(v, value);
	snprintf(labels, sizeof(labels), "%s=\"%s\"", label, v);
	pthread_mutex_lock(&m->lock);
	series_add(m, name, labels);
	pthread_mutex_unlock(&m->lock);
}

void tsso_metrics_refusal(struct tsso_metrics *m, const char *tenant, const char *reason)
{
	char t[LABEL_MAX], r[LABEL_MAX], labels[3 * LABEL_MAX];

	if (m == NULL)
		return;
	label_clean(t, tenant ? tenant : "-");
	label_clean(r, reason);
	snprintf(labels, sizeof(labels), "tenant=\"%s\",reason=\"%s\"", t, r);
	pthread_mutex_lock(&m->lock);
	series_add(m, "tsso_refusals_total", labels);
	pthread_mutex_unlock(&m->lock);
}

static const char *help_for(const char *name)
{
	if (strcmp(name, "tsso_http_requests_total") == 0)
		return "HTTP requests answered, by route and status code.";
	if (strcmp(name, "tsso_refusals_total") == 0)
		return "Requests refused (login, token, logout), by tenant and reason code.";
	return "Counter.";
}

int tsso_metrics_render(struct tsso_metrics *m, struct tsso_buf *out)
{
	int r = 0;

	pthread_mutex_lock(&m->lock);
	/* Series of one name are rendered together, under one HELP/TYPE. */
	for (size_t i = 0; i < m->n_series && r == 0; i++) {
		bool first = true;

		for (size_t j = 0; j < i && first; j++)
			first = strcmp(m->series[j].name, m->series[i].name) != 0;
		if (!first)
			continue;
		r |= tsso_buf_addf(out, "# HELP %s %s\n# TYPE %s counter\n", m->series[i].name,
		                   help_for(m->series[i].name), m->series[i].name);
		for (size_t j = i; j < m->n_series && r == 0; j++)
			if (strcmp(m->series[j].name, m->series[i].name) == 0)
				r |= tsso_buf_addf(out, "%s{%s} %llu\n", m->series[j].name,
				                   m->series[j].labels, m->series[j].value);
	}
	r |= tsso_buf_adds(out, "# HELP tsso_http_request_duration_seconds Time to answer a "
	                        "request, by route.\n"
	                        "# TYPE tsso_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < m->n_hist && r == 0; i++) {
		const struct hist *h = &m->hist[i];

		for (size_t b = 0; b < N_BUCKETS; b++)
			r |= tsso_buf_addf(out,
			                   "tsso_http_request_duration_seconds_bucket{route=\"%s\","
			                   "le=\"%g\"} %llu\n",
			                   h->route, buckets[b], h->counts[b]);
		r |= tsso_buf_addf(
		    out,
		    "tsso_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
		    "%llu\n"
		    "tsso_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
		    "tsso_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
		    h->route, h->total, h->route, h->sum, h->route, h->total);
	}
	pthread_mutex_unlock(&m->lock);
	return r ? -1 : 0;
}
