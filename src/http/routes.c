/* The route table and its matcher: exact paths, one {tenant} segment. */
#include <string.h>

#include "tsso/config.h"
#include "tsso/handle.h"
#include "tsso/routes.h"

#define GH (TSSO_M_GET | TSSO_M_HEAD)

#define GP (TSSO_M_GET | TSSO_M_POST)

static const struct tsso_route routes[] = {
    {"healthz", TSSO_ROUTE_ROOT, "/healthz", GH, tsso_handle_healthz, tsso_local_always},
    {"readyz", TSSO_ROUTE_ROOT, "/readyz", GH, tsso_handle_readyz, NULL},
    {"metrics", TSSO_ROUTE_ROOT, "/metrics", GH, tsso_handle_metrics, tsso_local_always},
    {"jwks", TSSO_ROUTE_BASE, "/.well-known/jwks.json", GH, tsso_handle_jwks, tsso_local_always},
    {"login_email", TSSO_ROUTE_BASE, "/login", GH, tsso_handle_login_email, NULL},
    {"login", TSSO_ROUTE_TENANT, "/login", GH, tsso_handle_login, tsso_login_local},
    {"callback", TSSO_ROUTE_TENANT, "/callback", GP, tsso_handle_callback, tsso_callback_local},
    {"embed_token", TSSO_ROUTE_TENANT, "/embed-token", GH | TSSO_M_OPTIONS, tsso_handle_embed_token,
     tsso_embed_token_local},
    {"embed_js", TSSO_ROUTE_TENANT, "/embed.js", GH, tsso_handle_embed_js, tsso_local_always},
    {"logout", TSSO_ROUTE_TENANT, "/logout", GP, tsso_handle_logout, NULL},
    {"backchannel_logout", TSSO_ROUTE_TENANT, "/backchannel-logout", TSSO_M_POST,
     tsso_handle_backchannel_logout, NULL},
    {"frontchannel_logout", TSSO_ROUTE_TENANT, "/frontchannel-logout", GH,
     tsso_handle_frontchannel_logout, NULL},
};

unsigned tsso_route_method_bit(const char *m)
{
	if (strcmp(m, "GET") == 0)
		return TSSO_M_GET;
	if (strcmp(m, "HEAD") == 0)
		return TSSO_M_HEAD;
	if (strcmp(m, "POST") == 0)
		return TSSO_M_POST;
	if (strcmp(m, "OPTIONS") == 0)
		return TSSO_M_OPTIONS;
	return 0;
}

static const char *allow_header(unsigned methods)
{
	static const char *const allow[] = {"",
	                                    "GET",
	                                    "HEAD",
	                                    "GET, HEAD",
	                                    "POST",
	                                    "GET, POST",
	                                    "HEAD, POST",
	                                    "GET, HEAD, POST",
	                                    "OPTIONS",
	                                    "GET, OPTIONS",
	                                    "HEAD, OPTIONS",
	                                    "GET, HEAD, OPTIONS",
	                                    "POST, OPTIONS",
	                                    "GET, POST, OPTIONS",
	                                    "HEAD, POST, OPTIONS",
	                                    "GET, HEAD, POST, OPTIONS"};
	return allow[methods & 15];
}

const struct tsso_route *tsso_route_match(const char *base_path, const char *path,
                                          const char *method, char *tenant_buf,
                                          size_t tenant_buf_len, const char **ret_route_path,
                                          int *ret_status, const char **ret_allow)
{
	size_t blen = strlen(base_path);
	const char *below = NULL, *tenant_rest = NULL;
	unsigned bit = tsso_route_method_bit(method);
	const struct tsso_route *found = NULL;

	*ret_status = 404;
	*ret_route_path = path;
	if (strncmp(path, base_path, blen) == 0 && path[blen] == '/')
		below = path + blen;
	/* {base}/{tenant}/rest: the tenant segment, validated by the caller. */
	if (below != NULL) {
		const char *slash = strchr(below + 1, '/');
		size_t tlen = slash ? (size_t)(slash - below - 1) : 0;

		if (slash != NULL && tlen > 0 && tlen < tenant_buf_len) {
			memcpy(tenant_buf, below + 1, tlen);
			tenant_buf[tlen] = '\0';
			tenant_rest = slash;
		}
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct tsso_route *r = &routes[i];
		const char *subject = r->scope == TSSO_ROUTE_ROOT   ? path
		                      : r->scope == TSSO_ROUTE_BASE ? below
		                                                    : tenant_rest;

		if (subject == NULL || strcmp(subject, r->path) != 0)
			continue;
		if (r->scope == TSSO_ROUTE_TENANT && !tsso_tenant_id_valid(tenant_buf))
			continue;
		*ret_route_path = r->scope == TSSO_ROUTE_ROOT ? path : below;
		if (r->methods & bit)
			return r;
		found = r;
	}
	if (found != NULL) {
		*ret_status = 405;
		*ret_allow = allow_header(found->methods);
	}
	return NULL;
}
