/* Route handlers, one file per route family in src/handle/. */
#ifndef TSSO_HANDLE_H
#define TSSO_HANDLE_H

#include <stdbool.h>

#include "tsso/http.h"

/* Which requests a handler answers without waiting on the network (the
 * route table's `local`): those run on the server's event thread. Each is
 * conservative: when in doubt, false (a worker thread runs it). */
bool tsso_local_always(const struct tsso_req *req);
/* A login start: the IdP's metadata is cached and not due for refresh, and
 * no PAR request is needed. */
bool tsso_login_local(const struct tsso_req *req);
/* Its start needs no network (see callback.c): begin on an event thread. */
bool tsso_callback_local(const struct tsso_req *req);
/* embed-token: a local session store (cookie without Redis, memory), a
 * locally signed token (signed_jwt without the exchange), no refresh tokens;
 * and every CORS preflight. */
bool tsso_embed_token_local(const struct tsso_req *req);

/* health.c: liveness, readiness (IdP metadata, store), Prometheus metrics */
void tsso_handle_healthz(struct tsso_req *req, struct tsso_resp *resp);
void tsso_handle_readyz(struct tsso_req *req, struct tsso_resp *resp);
void tsso_handle_metrics(struct tsso_req *req, struct tsso_resp *resp);

/* login.c: start a login; find the tenant by email domain */
void tsso_handle_login(struct tsso_req *req, struct tsso_resp *resp);
void tsso_handle_login_email(struct tsso_req *req, struct tsso_resp *resp);

/* callback.c: finish a login */
void tsso_handle_callback(struct tsso_req *req, struct tsso_resp *resp);

/* embed.c: embed tokens, the helper script, the public keys */
void tsso_handle_embed_token(struct tsso_req *req, struct tsso_resp *resp);
void tsso_handle_embed_js(struct tsso_req *req, struct tsso_resp *resp);
void tsso_handle_jwks(struct tsso_req *req, struct tsso_resp *resp);

/* logout.c: RP-initiated, back-channel and front-channel logout */
void tsso_handle_logout(struct tsso_req *req, struct tsso_resp *resp);
void tsso_handle_backchannel_logout(struct tsso_req *req, struct tsso_resp *resp);
void tsso_handle_frontchannel_logout(struct tsso_req *req, struct tsso_resp *resp);

#endif
