/*
 * What a route handler sees: a parsed, bounded request and a response to
 * fill. libmicrohttpd stays inside src/http/server.c; handlers never see it.
 * Everything in a request is borrowed and lives until the handler returns.
 */
#ifndef TSSO_HTTP_H
#define TSSO_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "tsso/buf.h"
#include "tsso/common.h"

struct tsso_app;
struct tsso_runtime;
struct tsso_tenant;

struct tsso_kv {
	char *key;
	char *value;
};

struct tsso_kvlist {
	struct tsso_kv *v;
	size_t n;
};

struct tsso_req;
struct tsso_resp;
struct tsso_fetch_op;
struct tsso_fetch_loop;

/* The rest of a deferred handler. may_block false: it runs on the event
 * thread and must not wait on the network; it returns false, having answered
 * nothing, when it would (tsso_fetch_refused), and is then run again on a
 * worker with may_block true. True: it answered. */
typedef bool (*tsso_cont_fn)(struct tsso_req *req, struct tsso_resp *resp, void *ctx,
                             bool may_block);

struct tsso_defer {
	struct tsso_fetch_op *op; /* the call for the loop, or NULL: straight to a worker */
	tsso_cont_fn cont;
	void *ctx; /* owned: freed with ctx_free when the request ends */
	void (*ctx_free)(void *ctx);
};

struct tsso_req {
	const char *method;     /* "GET", "POST", ... */
	const char *path;       /* decoded path, as received */
	const char *route_path; /* path below the base path, starts with '/' */
	const char *tenant_id;  /* the {tenant} segment for tenant routes, else NULL */
	const char *request_id; /* random, also in logs and error pages */
	const char *remote_addr;
	const char *content_type; /* NULL when none */
	const char *body;         /* NUL-terminated; NULL when none */
	size_t body_len;
	struct tsso_kvlist query;
	struct tsso_kvlist form; /* application/x-www-form-urlencoded POST bodies */
	struct tsso_kvlist headers;
	struct tsso_kvlist cookies;
	bool query_dup;          /* a query or form parameter appeared twice (see tsso_req_param) */
	struct tsso_app *app;    /* borrowed, daemon-wide */
	struct tsso_runtime *rt; /* borrowed, the configuration this request runs on */
	struct tsso_tenant *tenant; /* borrowed, set for tenant routes (exists) */
	double start;               /* monotonic seconds */
	/* Set by the server on an event thread, NULL elsewhere: the handler may
	 * then leave one outbound call to this thread's loop (tsso_req_defer). */
	struct tsso_fetch_loop *loop;
	struct tsso_defer defer;
};

/* Borrowed value of the first parameter/header/cookie with that name, or
 * NULL. Header names compare case-insensitively. */
const char *tsso_req_query(const struct tsso_req *req, const char *name);
const char *tsso_req_form(const struct tsso_req *req, const char *name);
const char *tsso_req_header(const struct tsso_req *req, const char *name);
const char *tsso_req_cookie(const struct tsso_req *req, const char *name);
/* Query parameter, or form parameter for a form POST. */
const char *tsso_req_param(const struct tsso_req *req, const char *name);
/* Number of occurrences of a query or form parameter (RFC 6749 §3.1:
 * parameters must not be repeated). */
size_t tsso_req_param_count(const struct tsso_req *req, const char *name);

#define TSSO_RESP_MAX_HEADERS 16
#define TSSO_RESP_MAX_COOKIES 8

struct tsso_resp {
	int status;
	const char *content_type; /* static string */
	struct tsso_buf body;
	struct tsso_kv headers[TSSO_RESP_MAX_HEADERS];
	size_t n_headers;
	char *cookies[TSSO_RESP_MAX_COOKIES]; /* Set-Cookie values */
	size_t n_cookies;
	const char *reason; /* refusal reason code for logs and metrics, or NULL */
};

/* Add a header (copied); -1 when the table is full. */
int tsso_resp_header(struct tsso_resp *resp, const char *name, const char *value);
/* Add a Set-Cookie value (copied); -1 when the table is full. */
int tsso_resp_cookie(struct tsso_resp *resp, const char *set_cookie);
/* Set status and a JSON body; steals body. Sets Cache-Control: no-store. */
void tsso_resp_json(struct tsso_resp *resp, int status, json_t *body);
/* The same answer written without a json_t: set status and content type,
 * empty the body and return it to append the JSON to; when that fails,
 * tsso_resp_json_failed turns the answer into tsso_resp_json's 500. */
struct tsso_buf *tsso_resp_json_body(struct tsso_resp *resp, int status);
void tsso_resp_json_failed(struct tsso_resp *resp);
/* Set status and a body of the given static content type. */
void tsso_resp_text(struct tsso_resp *resp, int status, const char *content_type, const char *text);
/* 302/303 to location (must be already validated). */
void tsso_resp_redirect(struct tsso_resp *resp, int status, const char *location);
/* An error answer: JSON when the client asks for JSON (Accept or a non-GET
 * API route), else a short HTML page. Shows title and detail (escaped) and
 * the request id; records reason for the access log and /metrics. Reflects
 * nothing from the request. */
void tsso_resp_error(const struct tsso_req *req, struct tsso_resp *resp, int status,
                     const char *reason, const char *title, const char *detail);

typedef void (*tsso_handler_fn)(struct tsso_req *req, struct tsso_resp *resp);

/* From a handler on an event thread (req->loop set), instead of answering:
 * the server suspends the connection, runs op (when not NULL) on the
 * thread's loop, then cont(req, resp, ctx, false) there, or cont(..., true)
 * on a worker. ctx is freed with ctx_free when the request ends, op with it
 * (the continuation's ctx owns it). */
void tsso_req_defer(struct tsso_req *req, struct tsso_fetch_op *op, tsso_cont_fn cont, void *ctx,
                    void (*ctx_free)(void *ctx));

#endif
