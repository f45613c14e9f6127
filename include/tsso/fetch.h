/*
 * Outbound HTTPS calls (IdP discovery, JWKS, token, UserInfo, PAR; Toucan's
 * APIs). One fetcher per peer trust domain (a tenant's IdP, a Toucan URL):
 * it verifies TLS with the configured CA file or the system store, loads that
 * trust store once (not per connection), reuses connections and TLS sessions,
 * applies connect and total timeouts and caps the response size. libcurl
 * stays inside src/oidc/fetch.c. A fetcher is safe to use from many threads.
 */
#ifndef TSSO_FETCH_H
#define TSSO_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "tsso/common.h"
#include "tsso/err.h"

struct tsso_fetcher;

struct tsso_fetcher_opts {
	const char *ca_file;     /* PEM bundle to trust; NULL: the system store */
	bool also_system_ca;     /* with ca_file: trust the system store too */
	long connect_timeout_ms; /* 0: TSSO_OUT_CONNECT_TIMEOUT_MS */
	long total_timeout_ms;   /* 0: TSSO_OUT_TOTAL_TIMEOUT_MS */
	size_t
	    max_connections; /* concurrent calls allowed (isolation); 0: TSSO_TENANT_MAX_OUTBOUND */
	bool allow_http_loopback; /* development mode: http:// to 127.0.0.0/8 and ::1 allowed */
};

struct tsso_fetch_req {
	const char *method; /* "GET" or "POST" */
	const char *url;
	const char *const *headers; /* "Name: value" strings, NULL-terminated, may be NULL */
	const char *body;           /* may be NULL */
	size_t body_len;
	size_t max_response; /* 0: TSSO_OUT_MAX_RESPONSE */
};

struct tsso_fetch_resp {
	long status;
	char *content_type; /* lower-cased media type without parameters, or NULL */
	char *body;         /* NUL-terminated */
	size_t body_len;
	long retry_after; /* seconds from Retry-After, or -1 */
};

/* New fetcher (caller frees); NULL with err set when the CA file cannot be loaded. */
struct tsso_fetcher *tsso_fetcher_new(const struct tsso_fetcher_opts *opts,
                                      struct tsso_err *err) TSSO_WUR;
void tsso_fetcher_free(struct tsso_fetcher *f);

/* Perform one call. A response of any HTTP status is a success of the call
 * (check ret->status); transport failures, timeouts, TLS failures and bodies
 * over the cap fail with reasons fetch.connect, fetch.timeout, fetch.tls,
 * fetch.too_large, fetch.scheme (only https, or loopback http when allowed),
 * fetch.busy (the connection limit is reached). Redirects are never followed.
 * On success *ret is filled (free with tsso_fetch_resp_free). */
int tsso_fetch(struct tsso_fetcher *f, const struct tsso_fetch_req *req,
               struct tsso_fetch_resp *ret, struct tsso_err *err) TSSO_WUR;
void tsso_fetch_resp_free(struct tsso_fetch_resp *resp);

/*
 * Asynchronous calls, for an event thread (src/http/server.c). A call is
 * prepared like tsso_fetch's but never waits for a pool slot: without one it
 * is queued, and its loop starts it when a slot of its fetcher comes free
 * (a release on any thread wakes the loop), or ends it with fetch.busy after
 * the connect timeout, as long as a blocking caller would wait. The thread's
 * loop drives it; its outcome is read as tsso_fetch returns it. The request's
 * body must stay valid until the op is freed.
 */
struct tsso_fetch_op;
struct tsso_fetch_loop;

struct tsso_fetch_op *tsso_fetch_op_new(struct tsso_fetcher *f, const struct tsso_fetch_req *req,
                                        struct tsso_err *err) TSSO_WUR;
/* Once the loop reported it done; call once. */
int tsso_fetch_op_result(struct tsso_fetch_op *op, struct tsso_fetch_resp *ret,
                         struct tsso_err *err) TSSO_WUR;
/* True once a loop reported it finished. */
bool tsso_fetch_op_done(const struct tsso_fetch_op *op);
/* Not while the op is in a loop. */
void tsso_fetch_op_free(struct tsso_fetch_op *op);

/* A loop belongs to one thread. Its descriptor becomes readable when one of
 * its connections is ready; tsso_fetch_loop_timeout is when it must run
 * anyway (ms, -1 never); tsso_fetch_loop_run drives the calls and reports
 * each one finished to done(user) (then removed from the loop). */
struct tsso_fetch_loop *tsso_fetch_loop_new(struct tsso_err *err) TSSO_WUR;
void tsso_fetch_loop_free(struct tsso_fetch_loop *l);
int tsso_fetch_loop_fd(const struct tsso_fetch_loop *l);
long tsso_fetch_loop_timeout(const struct tsso_fetch_loop *l);
size_t tsso_fetch_loop_pending(const struct tsso_fetch_loop *l);
int tsso_fetch_loop_add(struct tsso_fetch_loop *l, struct tsso_fetch_op *op, void *user,
                        struct tsso_err *err) TSSO_WUR;
unsigned tsso_fetch_loop_run(struct tsso_fetch_loop *l, void (*done)(void *user));

/*
 * Work that must not wait on the network (an event thread finishing a
 * request) runs between tsso_fetch_forbid(true) and (false). Meanwhile every
 * call fails at once with fetch.would_block, and code that would fetch after
 * bookkeeping or a lock asks tsso_fetch_would_block() first; both record the
 * refusal, and tsso_fetch_refused() then tells the caller to redo the work
 * where it may wait. tsso_fetch_forbidden() only asks (for optional
 * refreshes, skipped).
 */
void tsso_fetch_forbid(bool on);
bool tsso_fetch_would_block(void);
bool tsso_fetch_forbidden(void);
bool tsso_fetch_refused(void);

/* Number of new TLS/TCP connections this fetcher has opened (for /metrics
 * and the benchmark's "connections per login"). */
unsigned long tsso_fetcher_connects(const struct tsso_fetcher *f);

#endif
