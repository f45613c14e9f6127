/* Route handlers, one file per route family in src/handle/. */
#ifndef TSSO_HANDLE_H
#define TSSO_HANDLE_H

#include "tsso/http.h"

/* health.c */
void tsso_handle_healthz(struct tsso_req *req, struct tsso_resp *resp);
void tsso_handle_readyz(struct tsso_req *req, struct tsso_resp *resp);
void tsso_handle_metrics(struct tsso_req *req, struct tsso_resp *resp);

#endif
