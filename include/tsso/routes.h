/* The route table: which handler answers which method and path. */
#ifndef TSSO_ROUTES_H
#define TSSO_ROUTES_H

#include <stdbool.h>

#include "tsso/http.h"

enum tsso_route_scope {
	TSSO_ROUTE_ROOT,   /* absolute path, outside the base path (/healthz) */
	TSSO_ROUTE_BASE,   /* below the base path ({base}/.well-known/jwks.json) */
	TSSO_ROUTE_TENANT, /* below {base}/{tenant} */
};

#define TSSO_M_GET     1u
#define TSSO_M_HEAD    2u
#define TSSO_M_POST    4u
#define TSSO_M_OPTIONS 8u

struct tsso_route {
	const char *name; /* for metrics and logs */
	enum tsso_route_scope scope;
	const char *path; /* "/healthz", "/.well-known/jwks.json", "/login" (after tenant) */
	unsigned methods;
	tsso_handler_fn handler;
	/* True when the handler will answer this request without waiting on the
	 * network (IdP, Toucan, Redis): it then runs on the event thread. NULL,
	 * or false: it runs on a worker thread while the connection waits. */
	bool (*local)(const struct tsso_req *req);
};

/* Find the route for a decoded path. Returns it, or NULL with *ret_status
 * 404 (no such path) or 405 (path exists, method does not; *ret_allow then
 * holds the Allow header value). For tenant routes *ret_tenant points into a
 * static-lifetime copy owned by the caller-provided buffer tenant_buf. */
const struct tsso_route *tsso_route_match(const char *base_path, const char *path,
                                          const char *method, char *tenant_buf,
                                          size_t tenant_buf_len, const char **ret_route_path,
                                          int *ret_status, const char **ret_allow);
/* Bit for a method name; 0 when unknown. */
unsigned tsso_route_method_bit(const char *method);

#endif
