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

/* Number of new TLS/TCP connections this fetcher has opened (for /metrics
 * and the benchmark's "connections per login"). */
unsigned long tsso_fetcher_connects(const struct tsso_fetcher *f);

#endif
