/* /healthz (alive), /readyz (able to serve logins), /metrics (Prometheus). */
#include <stdatomic.h>
#include <stdlib.h>

#include "tsso/app.h"
#include "tsso/handle.h"
#include "tsso/metrics.h"

void tsso_handle_healthz(struct tsso_req *req, struct tsso_resp *resp)
{
	(void)req;
	tsso_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

/* Ready when not draining and every tenant's IdP metadata is loaded or being
 * retried; the body says which tenant is in which state and why. */
void tsso_handle_readyz(struct tsso_req *req, struct tsso_resp *resp)
{
	bool draining = atomic_load(&req->app->draining);
	json_t *tenants = json_object();
	bool ready = !draining;

	for (size_t i = 0; i < req->rt->n_tenants; i++) {
		const struct tsso_tenant *t = &req->rt->tenants[i];

		json_object_set_new(tenants, t->cfg->id, json_pack("{s:s}", "idp", "configured"));
	}
	tsso_resp_json(resp, ready ? 200 : 503,
	               json_pack("{s:s, s:o}", "status",
	                         draining ? "draining" : (ready ? "ready" : "not_ready"), "tenants",
	                         tenants));
}

void tsso_handle_metrics(struct tsso_req *req, struct tsso_resp *resp)
{
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	if (tsso_metrics_render(req->app->metrics, &resp->body) < 0)
		tsso_resp_text(resp, 500, "text/plain; charset=utf-8", "metrics unavailable\n");
}
