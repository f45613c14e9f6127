/* The HTTP server (libmicrohttpd: event threads, and worker threads for
 * requests that wait on the network; bounded). */
#ifndef TSSO_SERVER_H
#define TSSO_SERVER_H

#include <stdbool.h>

#include "tsso/common.h"
#include "tsso/err.h"

struct tsso_app;
struct tsso_server;

/* Listen on the configured address and serve; NULL with err set on failure. */
struct tsso_server *tsso_server_start(struct tsso_app *app, struct tsso_err *err) TSSO_WUR;
/* Stop accepting new connections; requests in flight continue. */
void tsso_server_quiesce(struct tsso_server *s);
/* Requests currently being handled. */
unsigned tsso_server_inflight(const struct tsso_server *s);
/* Wait until no request is being handled, at most ms milliseconds (polled
 * every 10 ms); false when some still are. */
bool tsso_server_wait_idle(const struct tsso_server *s, long ms);
/* The port actually bound (for listen ":0" in tests). */
unsigned short tsso_server_port(const struct tsso_server *s);
/* The number of event threads started (http.threads or its default). */
unsigned tsso_server_threads(const struct tsso_server *s);
/* Close every connection and free. Accepts NULL. */
void tsso_server_stop(struct tsso_server *s);
/* The IPv4 address at addr (4 bytes, network order) in dotted decimal, as
 * inet_ntop writes it, into out (16 bytes: INET_ADDRSTRLEN). */
void tsso_server_ipv4_text(const void *addr, char *out);

#endif
