/*
 * The HTTP front: libmicrohttpd, event-driven (epoll) on a few event threads,
 * one per core by default. Each event thread runs its own MHD daemon on the
 * shared listening socket, and an outbound loop (tsso_fetch_loop) in the
 * same epoll wait. A request whose handler never waits on the network (the
 * route's `local` predicate: a cached embed token, a login start or callback
 * with fresh IdP metadata, health and metrics) is answered on the event
 * thread; a callback leaves its token call to the thread's outbound loop and
 * finishes on the same thread when the answer is in (tsso_req_defer). Any
 * other request (PAR, Redis, Toucan's API, a callback that needs UserInfo)
 * runs on a worker thread while its connection is suspended, so a slow IdP
 * or Redis never stalls another connection; workers are started on demand,
 * at most one per allowed connection, and leave after a while idle. Requests
 * are bounded (URL, headers, parameters, cookies, body) before any handler
 * runs, then dispatched through the route table. Only this file sees MHD.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "tsso/app.h"
#include "tsso/b64.h"
#include "tsso/clock.h"
#include "tsso/cookie.h"
#include "tsso/cpu.h"
#include "tsso/crypto.h"
#include "tsso/fetch.h"
#include "tsso/form.h"
#include "tsso/limits.h"
#include "tsso/log.h"
#include "tsso/metrics.h"
#include "tsso/routes.h"
#include "tsso/server.h"

struct conn_state;

/* Workers for handlers that may wait on the network: a queue of suspended
 * connections' requests, threads started on demand up to max. */
struct workq {
	pthread_mutex_t mu;
	pthread_cond_t work_cv; /* a job was queued, or stopping */
	pthread_cond_t done_cv; /* jobs or threads reached zero */
	struct conn_state *head, *tail;
	unsigned threads, idle, max;
	unsigned queued; /* in the queue, not yet taken by a worker */
	unsigned jobs;   /* queued or running, until their connection is resumed */
	bool stopping;
};

#define WORKER_IDLE_S     10                /* an idle worker leaves after this */
#define STOP_FLUSH_MS     2000              /* at stop, for answers still being sent */
#define WORKER_STACK_SIZE ((size_t)1 << 20) /* as the event threads */

/* The per-address connection limit, shared by the event threads' daemons
 * (each MHD daemon would count only its own). */
#define IPL_BUCKETS 1024
struct ip_count {
	struct ip_count *next;
	unsigned n;
	unsigned char len;
	unsigned char addr[16];
};
struct ip_limits {
	pthread_mutex_t mu;
	unsigned max; /* 0: no limit */
	struct ip_count *b[IPL_BUCKETS];
};

/* One event thread: its daemon, its outbound loop, one epoll set for both. */
struct evloop {
	struct tsso_server *s;
	pthread_t th;
	bool running;
	struct MHD_Daemon *d;
	struct tsso_fetch_loop *fl;
	int epfd;
	int wake_fd; /* eventfd: stop or quiesce */
	atomic_bool quiesce;
};

/* The event thread this code runs on, NULL elsewhere. */
static _Thread_local struct evloop *cur_loop;

struct tsso_server {
	struct evloop *loops;
	unsigned n_loops;
	atomic_bool stop_loops;
	atomic_uint quiesced;
	struct ip_limits ipl;
	struct workq wq;
	struct tsso_app *app;
	atomic_uint inflight;
	unsigned short port;
	/* Request ids: a random seed per start, and a counter (see request_id). */
	uint64_t rid_seed;
	uint32_t rid_prefix;
	atomic_uint_fast64_t rid_next;
};

#define REQUEST_ID_LEN 16 /* base64url of 12 bytes */

/* A request id: unique per server start, for correlating a user's report
 * with the logs. It is not a secret and not meant to be unpredictable: it is
 * shown to users and logged, and nothing decides access on it. The counter
 * goes through splitmix64's finalizer (a bijection on 64 bits, so ids never
 * repeat within a run) only so that ids do not read as a sequence; someone
 * holding two ids can invert it and learn how many requests came between.
 * It costs a few instructions where a CSPRNG draw cost about 8,000
 * (RAND_bytes in OpenSSL 3; docs/performance.md). */
static void request_id(struct tsso_server *s, char out[REQUEST_ID_LEN + 1])
{
	uint64_t z = s->rid_seed + atomic_fetch_add(&s->rid_next, 1) * 0x9e3779b97f4a7c15ULL;
	unsigned char raw[12];

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	for (int i = 0; i < 4; i++)
		raw[i] = (unsigned char)(s->rid_prefix >> (8 * i));
	for (int i = 0; i < 8; i++)
		raw[4 + i] = (unsigned char)(z >> (8 * i));
	tsso_b64url_encode_to(out, raw, sizeof(raw));
}

/* QUEUED: for a worker; LOOP: its outbound call on the event thread's loop;
 * both with the connection suspended until DONE. */
enum job_state { JOB_NONE, JOB_QUEUED, JOB_LOOP, JOB_DONE };

/* Per-request state kept across MHD's calls while a body arrives, and while
 * the handler runs on a worker (the request and response live here). */
struct conn_state {
	struct tsso_buf body;
	char *raw_uri; /* as received, for strict query parsing; NULL when over the limit */
	double start;
	bool started;
	bool too_large;
	bool counted;
	bool prepared; /* req and resp hold data to free */
	enum job_state job;
	struct conn_state *next; /* in the work queue */
	struct tsso_server *server;
	struct evloop *lp; /* the event thread whose daemon holds the connection */
	struct MHD_Connection *conn;
	const struct tsso_route *route;
	const char *route_name;
	struct tsso_req req;
	struct tsso_resp resp;
	char tenant_buf[TSSO_TENANT_ID_MAX + 2];
	char addr[64];
	char rid[REQUEST_ID_LEN + 1];
};

/* Answers decided before routing (limits): short bodies that reflect no input. */
static enum MHD_Result early_answer(struct tsso_server *s, struct MHD_Connection *c, int status,
                                    const char *reason, const char *route)
{
	char body[256], rid_buf[32];
	char *rid = tsso_rand_token(12);
	struct MHD_Response *r;
	enum MHD_Result ret;

	snprintf(rid_buf, sizeof(rid_buf), "%s", rid ? rid : "-");
	free(rid);
	snprintf(body, sizeof(body), "{\"error\":\"%s\",\"request_id\":\"%s\"}\n", reason, rid_buf);
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Request-Id", rid_buf);
	MHD_add_response_header(r, "Connection", "close");
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	tsso_log(TSSO_LOG_INFO, "http.refused", "request_id", rid_buf, "reason", reason, NULL);
	tsso_metrics_request(s->app->metrics, route, status, 0);
	return ret;
}

struct collect {
	struct tsso_kvlist *l;
	size_t max;
	size_t max_value;
	bool overflow;
};

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	struct collect *col = cls;
	struct tsso_kv *kv;

	(void)kind;
	if (col->l->n >= col->max || (value && strlen(value) > col->max_value)) {
		col->overflow = true;
		return MHD_NO;
	}
	kv = &col->l->v[col->l->n];
	kv->key = strdup(key);
	kv->value = strdup(value ? value : "");
	if (kv->key == NULL || kv->value == NULL) {
		free(kv->key);
		free(kv->value);
		col->overflow = true;
		return MHD_NO;
	}
	col->l->n++;
	return MHD_YES;
}

static bool collect_values(struct MHD_Connection *c, enum MHD_ValueKind kind, struct tsso_kvlist *l,
                           size_t max, size_t max_value)
{
	struct collect col = {.l = l, .max = max, .max_value = max_value};

	l->v = calloc(max + 1, sizeof(*l->v));
	if (l->v == NULL)
		return false;
	MHD_get_connection_values(c, kind, collect_kv, &col);
	return !col.overflow;
}

static void req_free(struct tsso_req *req)
{
	/* Values may hold codes, tokens and cookies: tsso_kvlist_free wipes them. */
	tsso_kvlist_free(&req->query);
	tsso_kvlist_free(&req->form);
	tsso_kvlist_free(&req->headers);
	tsso_kvlist_free(&req->cookies);
}

static void resp_free(struct tsso_resp *resp)
{
	for (size_t i = 0; i < resp->n_headers; i++) {
		free(resp->headers[i].key);
		free(resp->headers[i].value);
	}
	for (size_t i = 0; i < resp->n_cookies; i++)
		tsso_free_secret(resp->cookies[i]);
	tsso_buf_free_secure(&resp->body);
}

static bool resp_has_header(const struct tsso_resp *resp, const char *name)
{
	for (size_t i = 0; i < resp->n_headers; i++)
		if (strcasecmp(resp->headers[i].key, name) == 0)
			return true;
	return false;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct tsso_req *req,
                                 struct tsso_resp *resp)
{
	struct MHD_Response *r;
	size_t len = resp->body.len;
	char *body = tsso_buf_take(&resp->body);
	enum MHD_Result ret;

	if (body == NULL)
		return MHD_NO;
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type",
	                        resp->content_type ? resp->content_type
	                                           : "text/plain; charset=utf-8");
	if (!resp_has_header(resp, "Cache-Control"))
		MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Request-Id", req->request_id);
	if (resp->content_type && strncmp(resp->content_type, "text/html", 9) == 0 &&
	    !resp_has_header(resp, "Content-Security-Policy")) {
		MHD_add_response_header(
		    r, "Content-Security-Policy",
		    "default-src 'none'; style-src 'unsafe-inline'; "
		    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
		MHD_add_response_header(r, "X-Frame-Options", "DENY");
	}
	for (size_t i = 0; i < resp->n_headers; i++)
		MHD_add_response_header(r, resp->headers[i].key, resp->headers[i].value);
	for (size_t i = 0; i < resp->n_cookies; i++)
		MHD_add_response_header(r, "Set-Cookie", resp->cookies[i]);
	ret = MHD_queue_response(c, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Through sprintf, inet_ntop costs 1.7 k instructions a request. */
void tsso_server_ipv4_text(const void *addr, char *out)
{
	const unsigned char *b = addr;

	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];

		if (v >= 100)
			*out++ = (char)('0' + v / 100);
		if (v >= 10)
			*out++ = (char)('0' + v / 10 % 10);
		*out++ = (char)('0' + v % 10);
		*out++ = i < 3 ? '.' : '\0';
	}
}

static void client_addr(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, n, "-");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET && n >= INET_ADDRSTRLEN)
		tsso_server_ipv4_text(&((const struct sockaddr_in *)ci->client_addr)->sin_addr,
		                      out);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, out,
		          (socklen_t)n);
}

static bool is_form_content(const char *ct)
{
	return ct != NULL && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 &&
	       (ct[33] == '\0' || ct[33] == ';' || ct[33] == ' ');
}

/* Form bodies: form_post callbacks and back-channel logout. */
static int parse_form(struct tsso_req *req, struct tsso_err *err)
{
	return tsso_form_parse(req->body, req->body_len, &req->form, err);
}

static int parse_query(const char *raw_uri, struct tsso_req *req, struct tsso_err *err)
{
	const char *q = raw_uri ? strchr(raw_uri, '?') : NULL;
	size_t n;

	if (q == NULL)
		return 0;
	q++;
	n = strcspn(q, "#");
	return n == 0 ? 0 : tsso_form_parse(q, n, &req->query, err);
}

enum prep { PREP_RUN, PREP_ANSWER, PREP_DROP };

/* Everything before the handler: limits, parsing, routing, the tenant. */
static enum prep prepare(struct tsso_server *s, struct MHD_Connection *c, const char *url,
                         const char *method, struct conn_state *st)
{
	struct tsso_req *req = &st->req;
	struct tsso_resp *resp = &st->resp;
	const struct tsso_route *route;
	const char *allow = NULL;
	int status = 404;
	struct tsso_err err = {0};

	st->prepared = true;
	st->route_name = "unknown";
	tsso_buf_init(&resp->body, 4 * 1024 * 1024);
	req->method = method;
	req->path = url;
	req->start = st->start;
	req->app = s->app;
	request_id(s, st->rid);
	req->request_id = st->rid;
	client_addr(c, st->addr, sizeof(st->addr));
	req->remote_addr = st->addr;
	req->rt = tsso_app_acquire(s->app);

	if (!collect_values(c, MHD_HEADER_KIND, &req->headers, TSSO_HTTP_MAX_HEADER_COUNT,
	                    TSSO_HTTP_MAX_HEADER)) {
		tsso_resp_error(req, resp, 431, "http.headers_too_large", "Request too large",
		                "The request carries too many or too large headers.");
		return PREP_ANSWER;
	}
	/* The query is parsed strictly from the raw request target (MHD's own
	 * argument decoding is lenient): bad escapes, NUL, invalid UTF-8 refused. */
	if (parse_query(st->raw_uri, req, &err) < 0) {
		bool many = strcmp(tsso_err_reason(&err), "form.too_many") == 0 ||
		            strcmp(tsso_err_reason(&err), "form.too_large") == 0;

		tsso_resp_error(req, resp, many ? 414 : 400,
		                many ? "http.query_too_large" : "http.bad_query",
		                many ? "Request too large" : "Bad request",
		                many ? "The address has too many or too long parameters."
		                     : "The address has malformed parameters.");
		return PREP_ANSWER;
	}
	req->query_dup = tsso_kvlist_first_dup(&req->query) != NULL;
	for (size_t i = 0; i < req->headers.n; i++)
		if (strcasecmp(req->headers.v[i].key, "Cookie") == 0 &&
		    tsso_cookie_parse(req->headers.v[i].value, &req->cookies, &err) < 0)
			return PREP_DROP;
	req->content_type = tsso_req_header(req, "Content-Type");
	if (st->body.len > 0) {
		req->body = st->body.ptr;
		req->body_len = st->body.len;
	}
	if (strcmp(method, "POST") == 0 && is_form_content(req->content_type) &&
	    req->body != NULL && parse_form(req, &err) < 0) {
		tsso_resp_error(req, resp, 400, err.reason ? err.reason : "http.bad_form",
		                "Bad request", "The form data could not be read.");
		return PREP_ANSWER;
	}

	route = tsso_route_match(req->rt->cfg->base_path, url, method, st->tenant_buf,
	                         sizeof(st->tenant_buf), &req->route_path, &status, &allow);
	if (route == NULL) {
		if (status == 405) {
			st->route_name = "method_not_allowed";
			tsso_resp_error(req, resp, 405, "http.method_not_allowed",
			                "Method not allowed",
			                "This address does not accept that method.");
			if (allow != NULL)
				(void)tsso_resp_header(resp, "Allow", allow);
		} else {
			tsso_resp_error(req, resp, 404, "http.not_found", "Not found",
			                "There is nothing at this address.");
		}
		return PREP_ANSWER;
	}
	st->route_name = route->name;
	if (route->scope == TSSO_ROUTE_TENANT) {
		req->tenant = tsso_runtime_tenant(req->rt, st->tenant_buf);
		if (req->tenant == NULL) {
			tsso_resp_error(req, resp, 404, "tenant.unknown", "Unknown organisation",
			                "This sign-in address does not belong to a configured "
			                "organisation. Check the link you followed.");
			return PREP_ANSWER;
		}
		req->tenant_id = req->tenant->cfg->id;
	}
	st->route = route;
	return PREP_RUN;
}

static void ensure_answer(struct conn_state *st)
{
	if (st->resp.status == 0)
		tsso_resp_error(&st->req, &st->resp, 500, "http.no_answer", "Internal error",
		                "The server could not answer this request.");
}

/* The handler, or the rest of a deferred one, where it may wait. */
static void run_blocking(struct conn_state *st)
{
	struct tsso_defer *d = &st->req.defer;

	st->req.loop = NULL;
	if (d->cont != NULL)
		(void)d->cont(&st->req, &st->resp, d->ctx, true);
	else
		st->route->handler(&st->req, &st->resp);
	ensure_answer(st);
}

static void release(struct conn_state *st)
{
	struct tsso_defer *d = &st->req.defer;

	if (!st->prepared)
		return;
	st->prepared = false;
	if (d->ctx_free != NULL)
		d->ctx_free(d->ctx);
	memset(d, 0, sizeof(*d));
	tsso_runtime_release(st->req.rt);
	req_free(&st->req);
	resp_free(&st->resp);
}

/* Send the answer (on the connection's event thread), log, count, free. */
static enum MHD_Result finish(struct tsso_server *s, struct MHD_Connection *c, const char *method,
                              struct conn_state *st)
{
	struct tsso_req *req = &st->req;
	struct tsso_resp *resp = &st->resp;
	char status_s[8], ms[32];
	enum MHD_Result ret = send_resp(c, req, resp);

	/* Formatting the line costs more than the rest of a cached answer:
	 * only when the level lets it through. */
	if (tsso_log_enabled(resp->status >= 500 ? TSSO_LOG_WARN : TSSO_LOG_INFO)) {
		snprintf(status_s, sizeof(status_s), "%d", resp->status);
		snprintf(ms, sizeof(ms), "%.3f", (tsso_now_mono() - st->start) * 1000.0);
		tsso_log(resp->status >= 500 ? TSSO_LOG_WARN : TSSO_LOG_INFO, "http.request",
		         "request_id", req->request_id, "method", method, "route", st->route_name,
		         "tenant", req->tenant_id, "status", status_s, "ms", ms, "reason",
		         resp->reason, "remote", st->addr, NULL);
	}
	tsso_metrics_request(s->app->metrics, st->route_name, resp->status,
	                     tsso_now_mono() - st->start);
	if (resp->reason != NULL && resp->status >= 400 && resp->status != 404 &&
	    resp->status != 405)
		tsso_metrics_refusal(s->app->metrics, req->tenant_id, resp->reason);
	release(st);
	return ret;
}

static int workq_init(struct workq *q, unsigned max)
{
	memset(q, 0, sizeof(*q));
	q->max = max > 0 ? max : 1;
	if (pthread_mutex_init(&q->mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&q->work_cv, NULL) != 0) {
		pthread_mutex_destroy(&q->mu);
		return -1;
	}
	if (pthread_cond_init(&q->done_cv, NULL) != 0) {
		pthread_cond_destroy(&q->work_cv);
		pthread_mutex_destroy(&q->mu);
		return -1;
	}
	return 0;
}

static void workq_destroy(struct workq *q)
{
	pthread_cond_destroy(&q->done_cv);
	pthread_cond_destroy(&q->work_cv);
	pthread_mutex_destroy(&q->mu);
}

static void loop_wake(struct evloop *lp);

/* Count jobs (q->mu held); waiters learn when none is left. */
static void jobs_add_locked(struct workq *q, int n)
{
	q->jobs = (unsigned)((int)q->jobs + n);
	if (q->jobs == 0)
		pthread_cond_broadcast(&q->done_cv);
}

static void *worker_main(void *arg)
{
	struct workq *q = arg;
	struct conn_state *st;
	struct evloop *lp;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->head == NULL && !q->stopping) {
			struct timespec until;
			int rc;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += WORKER_IDLE_S;
			q->idle++;
			rc = pthread_cond_timedwait(&q->work_cv, &q->mu, &until);
			q->idle--;
			if (rc == ETIMEDOUT && q->head == NULL)
				break;
			continue;
		}
		if (q->head == NULL)
			break; /* stopping */
		st = q->head;
		q->head = st->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->queued--;
		pthread_mutex_unlock(&q->mu);
		lp = st->lp;
		run_blocking(st);
		st->job = JOB_DONE;
		/* MHD calls on_request again on the event thread, which sends
		 * (and may free st); MHD does not wake a daemon without its own
		 * thread: we do. */
		MHD_resume_connection(st->conn);
		loop_wake(lp);
		pthread_mutex_lock(&q->mu);
		jobs_add_locked(q, -1);
	}
	if (--q->threads == 0)
		pthread_cond_broadcast(&q->done_cv);
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* Queue a request for a worker; false when no worker can run it (none could
 * be started, or stopping): the caller runs it. With `c`, the connection is
 * suspended here (before any worker can resume it) and counted as a job;
 * without, it is already both (a deferred request coming from the loop). */
static bool workq_push(struct workq *q, struct MHD_Connection *c, struct conn_state *st)
{
	pthread_mutex_lock(&q->mu);
	if (q->stopping) {
		pthread_mutex_unlock(&q->mu);
		return false;
	}
	/* A worker for every job not yet taken: `idle` still counts a worker
	 * that was signalled but has not run yet, and each of those takes one
	 * queued job. Comparing with the queue (not just idle == 0) keeps a
	 * second job from waiting behind the first one's slow IdP. */
	if (q->queued + 1 > q->idle && q->threads < q->max) {
		pthread_attr_t attr;
		pthread_t t;
		bool ok = pthread_attr_init(&attr) == 0;

		if (ok) {
			(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			(void)pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
			ok = pthread_create(&t, &attr, worker_main, q) == 0;
			pthread_attr_destroy(&attr);
		}
		if (ok)
			q->threads++;
		else
			tsso_log(TSSO_LOG_WARN, "http.worker_failed", "detail",
			         "cannot start a worker thread", NULL);
	}
	if (q->threads == 0) {
		pthread_mutex_unlock(&q->mu);
		return false;
	}
	st->job = JOB_QUEUED;
	st->next = NULL;
	if (c != NULL) {
		st->conn = c;
		MHD_suspend_connection(c);
		jobs_add_locked(q, 1);
	}
	if (q->tail != NULL)
		q->tail->next = st;
	else
		q->head = st;
	q->tail = st;
	q->queued++;
	pthread_cond_signal(&q->work_cv);
	pthread_mutex_unlock(&q->mu);
	return true;
}

static void jobs_add(struct workq *q, int n)
{
	pthread_mutex_lock(&q->mu);
	jobs_add_locked(q, n);
	pthread_mutex_unlock(&q->mu);
}

/* A deferred request's outbound call finished (on its event thread): the
 * rest runs here if it needs no network, else on a worker. */
static void on_call_done(void *user)
{
	struct conn_state *st = user;
	struct tsso_server *s = st->server;
	struct tsso_defer *d = &st->req.defer;

	if (!d->cont(&st->req, &st->resp, d->ctx, false)) {
		if (workq_push(&s->wq, NULL, st))
			return;
		run_blocking(st);
	}
	ensure_answer(st);
	st->job = JOB_DONE;
	MHD_resume_connection(st->conn);
	jobs_add(&s->wq, -1);
}

/* A request (or the rest of a deferred one) for a worker, its connection
 * suspended meanwhile; run here when no worker can take it. */
static enum MHD_Result to_worker(struct tsso_server *s, struct MHD_Connection *c,
                                 const char *method, struct conn_state *st)
{
	if (workq_push(&s->wq, c, st))
		return MHD_YES;
	run_blocking(st);
	return finish(s, c, method, st);
}

/* After a handler on the event thread deferred: its call to the loop, or
 * the rest to a worker, or (no worker) the rest here. */
static enum MHD_Result start_deferred(struct tsso_server *s, struct MHD_Connection *c,
                                      const char *method, struct conn_state *st)
{
	struct tsso_defer *d = &st->req.defer;
	struct tsso_err err = {0};

	if (d->op != NULL && tsso_fetch_loop_add(st->req.loop, d->op, st, &err) == 0) {
		/* Nothing finishes before the loop runs: suspending now is safe. */
		st->job = JOB_LOOP;
		st->conn = c;
		jobs_add(&s->wq, 1);
		MHD_suspend_connection(c);
		return MHD_YES;
	}
	return to_worker(s, c, method, st);
}

static enum MHD_Result dispatch(struct tsso_server *s, struct MHD_Connection *c, const char *url,
                                const char *method, struct conn_state *st)
{
	if (st->job == JOB_DONE)
		return finish(s, c, method, st);
	if (st->job != JOB_NONE)
		return MHD_YES; /* not expected: MHD does not call a suspended connection */
	switch (prepare(s, c, url, method, st)) {
	case PREP_DROP:
		release(st);
		return MHD_NO;
	case PREP_ANSWER:
		return finish(s, c, method, st);
	case PREP_RUN:
		break;
	}
	if (st->route->local != NULL && st->route->local(&st->req)) {
		st->req.loop = cur_loop != NULL ? cur_loop->fl : NULL;
		st->route->handler(&st->req, &st->resp);
		if (st->req.defer.cont != NULL)
			return start_deferred(s, c, method, st);
		ensure_answer(st);
		return finish(s, c, method, st);
	}
	return to_worker(s, c, method, st);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct tsso_server *s = cls;
	struct conn_state *st = *con_cls;

	(void)version;
	if (st == NULL)
		return MHD_NO; /* the URI logger always creates it */
	if (!st->started) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		char *end = NULL;

		st->started = true;
		st->server = s;
		st->lp = cur_loop;
		st->start = tsso_now_mono();
		atomic_fetch_add(&s->inflight, 1);
		st->counted = true;
		if (st->raw_uri == NULL || strlen(url) > TSSO_HTTP_MAX_URL)
			return early_answer(s, c, 414, "http.url_too_long", "limits");
		if (tsso_route_method_bit(method) == 0)
			return early_answer(s, c, 405, "http.method_not_allowed", "limits");
		if (cl != NULL) {
			unsigned long long n = strtoull(cl, &end, 10);

			if (end == cl || *end != '\0' || n > TSSO_HTTP_MAX_BODY)
				return early_answer(s, c, 413, "http.body_too_large", "limits");
		}
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (!st->too_large && tsso_buf_add(&st->body, upload_data, *upload_data_size) < 0)
			st->too_large = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (st->too_large)
		return early_answer(s, c, 413, "http.body_too_large", "limits");
	return dispatch(s, c, url, method, st);
}

/* Called by MHD with the raw request target before anything else: the
 * per-request state starts here, keeping the target for strict parsing. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct conn_state *st = calloc(1, sizeof(*st));

	(void)cls;
	(void)c;
	if (st == NULL)
		return NULL;
	tsso_buf_init(&st->body, TSSO_HTTP_MAX_BODY);
	if (uri != NULL && strlen(uri) <= TSSO_HTTP_MAX_URL)
		st->raw_uri = strdup(uri);
	return st;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct tsso_server *s = cls;
	struct conn_state *st = *con_cls;

	(void)c;
	(void)toe;
	if (st == NULL)
		return;
	release(st); /* answered by no one: the connection closed, or the server stops */
	if (st->counted)
		atomic_fetch_sub(&s->inflight, 1);
	tsso_buf_free_secure(&st->body);
	tsso_free_secret(st->raw_uri);
	free(st);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	tsso_log(TSSO_LOG_DEBUG, "http.server", "message", msg, NULL);
}

static size_t ip_key(const struct sockaddr *sa, unsigned char out[16])
{
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		/* An IPv4 client on a dual-stack socket is the same address. */
		if (memcmp(a, mapped, 12) == 0) {
			memcpy(out, a + 12, 4);
			return 4;
		}
		memcpy(out, a, 16);
		return 16;
	}
	return 0;
}

static struct ip_count **ip_slot(struct ip_limits *l, const unsigned char *k, size_t len)
{
	uint32_t h = 2166136261u;
	struct ip_count **p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ k[i]) * 16777619u;
	for (p = &l->b[h % IPL_BUCKETS]; *p != NULL; p = &(*p)->next)
		if ((*p)->len == len && memcmp((*p)->addr, k, len) == 0)
			break;
	return p;
}

/* MHD's accept policy: refuse an address at its limit. Counting happens when
 * the connection starts (on_connection), so a connection MHD drops between
 * the two is never counted; two threads accepting from one address at the
 * same instant may pass it by one each. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct ip_limits *l = cls;
	unsigned char k[16];
	size_t len = ip_key(addr, k);
	struct ip_count **p;
	bool ok;

	(void)addrlen;
	if (l->max == 0 || len == 0)
		return MHD_YES;
	pthread_mutex_lock(&l->mu);
	p = ip_slot(l, k, len);
	ok = *p == NULL || (*p)->n < l->max;
	pthread_mutex_unlock(&l->mu);
	if (!ok)
		tsso_log(TSSO_LOG_DEBUG, "http.per_ip_limit", NULL);
	return ok ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct ip_limits *l = cls;
	const union MHD_ConnectionInfo *ci;
	unsigned char k[16];
	size_t len;
	struct ip_count **p, *e;

	if (l->max == 0)
		return;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		len = ci != NULL ? ip_key(ci->client_addr, k) : 0;
		if (len == 0)
			return;
		pthread_mutex_lock(&l->mu);
		p = ip_slot(l, k, len);
		if (*p == NULL && (*p = calloc(1, sizeof(**p))) != NULL) {
			memcpy((*p)->addr, k, len);
			(*p)->len = (unsigned char)len;
		}
		if (*p != NULL) {
			(*p)->n++;
			*socket_context = *p;
		}
		pthread_mutex_unlock(&l->mu);
		return;
	}
	e = *socket_context;
	if (e == NULL)
		return;
	*socket_context = NULL;
	pthread_mutex_lock(&l->mu);
	if (--e->n == 0) {
		p = ip_slot(l, e->addr, e->len);
		*p = e->next;
		free(e);
	}
	pthread_mutex_unlock(&l->mu);
}

enum { TAG_MHD = 1, TAG_CALLS, TAG_WAKE };

static void *loop_main(void *arg)
{
	struct evloop *lp = arg;
	struct tsso_server *s = lp->s;
	struct epoll_event ev[4];

	cur_loop = lp;
	while (!atomic_load(&s->stop_loops)) {
		MHD_UNSIGNED_LONG_LONG mt = 0;
		long to = -1, ft = tsso_fetch_loop_timeout(lp->fl);
		bool run_mhd = false, run_calls = false;
		int n;

		if (MHD_get_timeout(lp->d, &mt) == MHD_YES)
			to = mt > 60000 ? 60000 : (long)mt;
		if (ft >= 0 && (to < 0 || ft < to))
			to = ft;
		n = epoll_wait(lp->epfd, ev, 4, (int)to);
		if (n == 0)
			run_mhd = run_calls = true; /* a timeout is due */
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u32 == TAG_MHD) {
				run_mhd = true;
			} else if (ev[i].data.u32 == TAG_CALLS) {
				run_calls = true;
			} else {
				uint64_t v;

				run_mhd = true; /* a worker resumed a connection, or a stop */
				if (read(lp->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					tsso_log(TSSO_LOG_DEBUG, "server.wake", NULL);
			}
		}
		if (atomic_exchange(&lp->quiesce, false)) {
			MHD_socket fd = MHD_quiesce_daemon(lp->d);

			if (fd != MHD_INVALID_SOCKET)
				close(fd);
			atomic_fetch_add(&s->quiesced, 1);
		}
		if (run_mhd)
			MHD_run(lp->d);
		/* Calls just added by handlers are started in the same turn. */
		if ((run_calls || tsso_fetch_loop_timeout(lp->fl) == 0) &&
		    tsso_fetch_loop_run(lp->fl, on_call_done) > 0)
			MHD_run(lp->d);
	}
	cur_loop = NULL;
	return NULL;
}

static void loop_wake(struct evloop *lp)
{
	uint64_t one = 1;

	/* Fails only when the counter is full, i.e. a wake-up is pending anyway. */
	if (lp->wake_fd >= 0 && write(lp->wake_fd, &one, sizeof(one)) < 0)
		return;
}

static int listen_socket(const struct addrinfo *ai, unsigned short *ret_port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (ai->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		close(fd);
		return -1;
	}
	*ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                           : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static void loops_stop(struct tsso_server *s)
{
	atomic_store(&s->stop_loops, true);
	for (unsigned i = 0; i < s->n_loops; i++) {
		struct evloop *lp = &s->loops[i];

		if (lp->running) {
			loop_wake(lp);
			pthread_join(lp->th, NULL);
			lp->running = false;
		}
	}
	for (unsigned i = 0; i < s->n_loops; i++) {
		struct evloop *lp = &s->loops[i];

		if (lp->d != NULL)
			MHD_stop_daemon(lp->d);
		tsso_fetch_loop_free(lp->fl);
		if (lp->epfd >= 0)
			close(lp->epfd);
		if (lp->wake_fd >= 0)
			close(lp->wake_fd);
	}
	free(s->loops);
	s->loops = NULL;
	s->n_loops = 0;
}

static void ipl_free(struct ip_limits *l)
{
	for (size_t i = 0; i < IPL_BUCKETS; i++)
		while (l->b[i] != NULL) {
			struct ip_count *e = l->b[i];

			l->b[i] = e->next;
			free(e);
		}
	pthread_mutex_destroy(&l->mu);
}

/* One event thread: a daemon on a copy of the listening socket, an outbound
 * loop, the epoll set that waits on both. */
static int loop_open(struct tsso_server *s, struct evloop *lp, int listen_fd, unsigned flags,
                     unsigned conn_limit, const struct tsso_config *cfg, struct tsso_err *err)
{
	const union MHD_DaemonInfo *info;
	struct epoll_event ev = {.events = EPOLLIN};
	pthread_attr_t attr;
	int fd;

	lp->s = s;
	lp->epfd = epoll_create1(EPOLL_CLOEXEC);
	lp->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	atomic_init(&lp->quiesce, false);
	lp->fl = tsso_fetch_loop_new(err);
	if (lp->epfd < 0 || lp->wake_fd < 0 || lp->fl == NULL)
		return tsso_err_set(err, "server.listen", "cannot set up an event thread");
	fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return tsso_err_set(err, "server.listen", "cannot share the listening socket");
	lp->d = MHD_start_daemon(
	    flags, 0, on_accept, &s->ipl, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, conn_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->http.connection_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(TSSO_HTTP_MAX_HEADERS_SIZE * 2),
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, &s->ipl, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
	    MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
	if (lp->d == NULL) {
		close(fd);
		return tsso_err_set(err, "server.listen", "cannot start the HTTP server");
	}
	info = MHD_get_daemon_info(lp->d, MHD_DAEMON_INFO_EPOLL_FD);
	ev.data.u32 = TAG_MHD;
	if (info == NULL || epoll_ctl(lp->epfd, EPOLL_CTL_ADD, info->epoll_fd, &ev) != 0)
		return tsso_err_set(err, "server.listen", "cannot wait on the HTTP server");
	ev.data.u32 = TAG_CALLS;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, tsso_fetch_loop_fd(lp->fl), &ev) != 0)
		return tsso_err_set(err, "server.listen", "cannot wait on outbound calls");
	ev.data.u32 = TAG_WAKE;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->wake_fd, &ev) != 0)
		return tsso_err_set(err, "server.listen",
		                    "cannot wait on the event thread's wake-ups");
	if (pthread_attr_init(&attr) != 0)
		return tsso_err_set(err, "server.listen", "cannot start an event thread");
	(void)pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
	lp->running = pthread_create(&lp->th, &attr, loop_main, lp) == 0;
	pthread_attr_destroy(&attr);
	if (!lp->running)
		return tsso_err_set(err, "server.listen", "cannot start an event thread");
	return 0;
}

struct tsso_server *tsso_server_start(struct tsso_app *app, struct tsso_err *err)
{
	struct tsso_runtime *rt = tsso_app_acquire(app);
	const struct tsso_config *cfg = rt->cfg;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
	struct addrinfo *ai = NULL;
	struct tsso_server *s = NULL;
	char port[8];
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	unsigned threads, max_conn = (unsigned)cfg->http.max_connections;
	int listen_fd = -1, gai;

	snprintf(port, sizeof(port), "%u", cfg->listen_port);
	gai = getaddrinfo(cfg->listen_host, port, &hints, &ai);
	if (gai != 0) {
		tsso_err_set(err, "server.listen", "cannot use listen address %s: %s",
		             cfg->listen_host, gai_strerror(gai));
		goto fail;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto fail;
	s->app = app;
	if (workq_init(&s->wq, max_conn) < 0) {
		free(s);
		s = NULL;
		tsso_err_set(err, "server.listen", "cannot create the worker queue");
		goto fail;
	}
	if (pthread_mutex_init(&s->ipl.mu, NULL) != 0) {
		workq_destroy(&s->wq);
		free(s);
		s = NULL;
		tsso_err_set(err, "server.listen", "out of memory");
		goto fail;
	}
	s->ipl.max = (unsigned)cfg->http.max_per_ip;
	atomic_init(&s->inflight, 0);
	atomic_init(&s->rid_next, 0);
	atomic_init(&s->stop_loops, false);
	atomic_init(&s->quiesced, 0);
	if (tsso_rand_bytes(&s->rid_seed, sizeof(s->rid_seed)) < 0 ||
	    tsso_rand_bytes(&s->rid_prefix, sizeof(s->rid_prefix)) < 0) {
		tsso_err_set(err, "server.listen", "random generator failed");
		goto fail;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	listen_fd = listen_socket(ai, &s->port);
	if (listen_fd < 0) {
		tsso_err_set(err, "server.listen",
		             "cannot listen on %s:%u (in use, or not allowed)", cfg->listen_host,
		             cfg->listen_port);
		goto fail;
	}
	/* Event threads: http.threads, else one per usable CPU less one. */
	threads = cfg->http.threads > 0 ? (unsigned)cfg->http.threads
	                                : tsso_cpu_default_threads(tsso_cpus_usable());
	if (threads > max_conn)
		threads = max_conn;
	s->loops = calloc(threads, sizeof(*s->loops));
	if (s->loops == NULL) {
		tsso_err_set(err, "server.listen", "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < threads; i++) {
		s->loops[i].epfd = s->loops[i].wake_fd = -1;
		s->n_loops++;
		/* The connection limit is shared out as MHD's own pool does. */
		if (loop_open(s, &s->loops[i], listen_fd, flags,
		              max_conn / threads + (i < max_conn % threads ? 1u : 0u), cfg,
		              err) != 0)
			goto fail;
	}
	close(listen_fd);
	freeaddrinfo(ai);
	tsso_runtime_release(rt);
	return s;
fail:
	if (listen_fd >= 0)
		close(listen_fd);
	if (ai)
		freeaddrinfo(ai);
	if (s != NULL) {
		loops_stop(s);
		ipl_free(&s->ipl);
		workq_destroy(&s->wq);
	}
	free(s);
	tsso_runtime_release(rt);
	return NULL;
}

void tsso_server_quiesce(struct tsso_server *s)
{
	const struct timespec pause = {0, 1000 * 1000};

	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->n_loops; i++) {
		atomic_store(&s->loops[i].quiesce, true);
		loop_wake(&s->loops[i]);
	}
	/* Closed when this returns (a new connection is refused), or after 1 s. */
	for (int i = 0; i < 1000 && atomic_load(&s->quiesced) < s->n_loops; i++)
		nanosleep(&pause, NULL);
}

unsigned tsso_server_inflight(const struct tsso_server *s)
{
	return s ? atomic_load(&((struct tsso_server *)s)->inflight) : 0;
}

bool tsso_server_wait_idle(const struct tsso_server *s, long ms)
{
	const struct timespec pause = {0, 10 * 1000 * 1000};

	for (long waited = 0; tsso_server_inflight(s) > 0; waited += 10) {
		if (waited >= ms)
			return false;
		nanosleep(&pause, NULL);
	}
	return true;
}

unsigned short tsso_server_port(const struct tsso_server *s)
{
	return s ? s->port : 0;
}

unsigned tsso_server_threads(const struct tsso_server *s)
{
	return s ? s->n_loops : 0;
}

void tsso_server_stop(struct tsso_server *s)
{
	struct workq *q;

	if (s == NULL)
		return;
	q = &s->wq;
	/* MHD must not stop with a connection suspended: let the jobs finish
	 * (each is bounded by its own outbound timeouts; the event threads still
	 * run the outbound loops) and resume theirs. */
	pthread_mutex_lock(&q->mu);
	if (q->jobs > 0)
		tsso_log(TSSO_LOG_WARN, "server.stop_wait", "detail",
		         "waiting for requests still calling out", NULL);
	while (q->jobs > 0)
		pthread_cond_wait(&q->done_cv, &q->mu);
	pthread_mutex_unlock(&q->mu);
	/* Their answers go out on the event threads: a short, bounded wait. */
	(void)tsso_server_wait_idle(s, STOP_FLUSH_MS);
	loops_stop(s);
	pthread_mutex_lock(&q->mu);
	q->stopping = true;
	pthread_cond_broadcast(&q->work_cv);
	while (q->threads > 0)
		pthread_cond_wait(&q->done_cv, &q->mu);
	pthread_mutex_unlock(&q->mu);
	workq_destroy(q);
	ipl_free(&s->ipl);
	free(s);
}
