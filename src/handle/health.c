/* /healthz (alive), /readyz (able to serve logins), /metrics (Prometheus). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "handle_int.h"
#include "tsso/app.h"
#include "tsso/handle.h"
#include "tsso/metrics.h"
#include "tsso/oidc.h"
#include "tsso/session.h"

static const char *health_name(enum tsso_idp_health h)
{
	switch (h) {
	case TSSO_IDP_OK:
		return "ok";
	case TSSO_IDP_FAILING:
		return "failing";
	default:
		return "loading";
	}
}

void tsso_handle_healthz(struct tsso_req *req, struct tsso_resp *resp)
{
	(void)req;
	tsso_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

/* Ready when not draining, the session store answers, and every tenant's IdP
 * metadata has loaded or is being retried (its state and reason are shown:
 * one customer's IdP outage must not take the whole service out of rotation). */
void tsso_handle_readyz(struct tsso_req *req, struct tsso_resp *resp)
{
	bool draining = atomic_load(&req->app->draining);
	json_t *tenants = json_object(), *store;
	struct tsso_err err = {0};
	bool ready = !draining, loading = false;
	long long now = hdl_now();

	for (size_t i = 0; i < req->rt->n_tenants; i++) {
		struct tsso_tenant *t = &req->rt->tenants[i];
		struct tsso_idp_status st = {0};

		tsso_idp_status(t->idp, now, &st);
		loading |= st.health == TSSO_IDP_LOADING;
		json_object_set_new(tenants, t->cfg->id,
		                    json_pack("{s:s, s:b, s:s?, s:I}", "idp",
		                              health_name(st.health), "stale", st.stale, "reason",
		                              st.reason, "metadata_age",
		                              (json_int_t)st.metadata_age));
	}
	if (tsso_store_health(req->rt->store, &err) < 0) {
		ready = false;
		store = json_pack("{s:s, s:s, s:s}", "kind", tsso_store_name(req->rt->store),
		                  "status", "unavailable", "reason", err.msg);
	} else {
		store = json_pack("{s:s, s:s}", "kind", tsso_store_name(req->rt->store), "status",
		                  "ok");
	}
	ready = ready && !loading;
	tsso_resp_json(resp, ready ? 200 : 503,
	               json_pack("{s:s, s:o, s:o}", "status",
	                         draining ? "draining" : (ready ? "ready" : "not_ready"), "store",
	                         store, "tenants", tenants));
}

void tsso_handle_metrics(struct tsso_req *req, struct tsso_resp *resp)
{
	long long now = hdl_now();
	int r = 0;

	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	if (tsso_metrics_render(req->app->metrics, &resp->body) < 0)
		r = -1;
	r |= tsso_buf_adds(
	    &resp->body,
	    "# HELP tsso_idp_up 1 when the tenant's IdP metadata and keys are usable.\n"
	    "# TYPE tsso_idp_up gauge\n");
	for (size_t i = 0; i < req->rt->n_tenants && r == 0; i++) {
		struct tsso_idp_status st = {0};

		tsso_idp_status(req->rt->tenants[i].idp, now, &st);
		r |= tsso_buf_addf(&resp->body, "tsso_idp_up{tenant=\"%s\"} %d\n",
		                   req->rt->tenants[i].cfg->id, st.health == TSSO_IDP_OK);
	}
	r |= tsso_buf_adds(&resp->body, "# HELP tsso_idp_connections_total New connections "
	                                "opened to the tenant's IdP.\n"
	                                "# TYPE tsso_idp_connections_total counter\n");
	for (size_t i = 0; i < req->rt->n_tenants && r == 0; i++) {
		struct tsso_idp_status st = {0};

		tsso_idp_status(req->rt->tenants[i].idp, now, &st);
		r |= tsso_buf_addf(&resp->body, "tsso_idp_connections_total{tenant=\"%s\"} %lu\n",
		                   req->rt->tenants[i].cfg->id, st.connections);
	}
	if (r != 0)
		tsso_resp_text(resp, 500, "text/plain; charset=utf-8", "metrics unavailable\n");
}
