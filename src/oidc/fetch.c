/* Outbound HTTPS client (libcurl): verified TLS, bounded, pooled, per-peer isolated. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "oidc_int.h"
#include "tsso/buf.h"
#include "tsso/clock.h"
#include "tsso/crypto.h"
#include "tsso/fetch.h"
#include "tsso/limits.h"
#include "tsso_build.h"

/*
 * Process-wide setup: main() calls curl_global_init(CURL_GLOBAL_DEFAULT) once,
 * before any thread starts (libcurl requires it; this module owns no global
 * state of its own).
 *
 * Reuse: each fetcher keeps a small pool of easy handles (at most
 * max_connections). An easy handle keeps its private multi handle between
 * transfers, which is where libcurl's OpenSSL backend caches the parsed CA
 * store (CURLOPT_CA_CACHE_TIMEOUT): the bundle is parsed once per pooled
 * handle, never per call. Connections, TLS sessions and DNS answers live in a
 * share object guarded by one mutex per data kind.
 */

#define FETCH_CA_CACHE_S       86400L
#define FETCH_SYSTEM_CAPATH    "/etc/ssl/certs"
#define FETCH_LOOP_MAXCONNECTS 256
/* Idle sockets an event loop keeps registered (see park). */
#define FETCH_LOOP_PARKED 64

struct tsso_fetcher {
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	bool share_locks_ok;

	char *ca_file;
	bool also_system_ca;
	long connect_timeout_ms;
	long total_timeout_ms;
	bool allow_http_loopback;

	/* The pool: free handles on a stack; in_use counts handles lent out. */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	bool pool_ok;
	CURL **idle;
	size_t n_idle;
	size_t in_use;
	size_t max;
	size_t queued; /* calls waiting in loops for a slot (wake them on release) */

	atomic_ulong connects;
};

struct fetch_sink {
	struct tsso_buf body;
	bool too_large;
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *user)
{
	struct tsso_fetcher *f = user;

	(void)h;
	(void)access;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&f->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *user)
{
	struct tsso_fetcher *f = user;

	(void)h;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&f->share_locks[data]);
}

void tsso_fetcher_free(struct tsso_fetcher *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n_idle; i++)
		curl_easy_cleanup(f->idle[i]);
	free(f->idle);
	if (f->share != NULL)
		curl_share_cleanup(f->share);
	if (f->share_locks_ok)
		for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&f->share_locks[i]);
	if (f->pool_ok) {
		pthread_mutex_destroy(&f->pool_mu);
		pthread_cond_destroy(&f->pool_cv);
	}
	free(f->ca_file);
	free(f);
}

struct tsso_fetcher *tsso_fetcher_new(const struct tsso_fetcher_opts *opts, struct tsso_err *err)
{
	struct tsso_fetcher *f = NULL;
	struct tsso_fetcher_opts none = {0};

	if (opts == NULL)
		opts = &none;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		goto oom;
	f->connect_timeout_ms =
	    opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : TSSO_OUT_CONNECT_TIMEOUT_MS;
	f->total_timeout_ms =
	    opts->total_timeout_ms > 0 ? opts->total_timeout_ms : TSSO_OUT_TOTAL_TIMEOUT_MS;
	f->max = opts->max_connections > 0 ? opts->max_connections : TSSO_TENANT_MAX_OUTBOUND;
	f->allow_http_loopback = opts->allow_http_loopback;
	f->also_system_ca = opts->also_system_ca;
	atomic_init(&f->connects, 0);

	if (opts->ca_file != NULL) {
		/* Fail at start-up, not at the first login, when the trust store is unusable. */
		FILE *fp = fopen(opts->ca_file, "r");

		if (fp == NULL) {
			tsso_err_set(err, "fetch.ca_file", "cannot read CA file %s: %s",
			             opts->ca_file, strerror(errno));
			goto fail;
		}
		fclose(fp);
		f->ca_file = strdup(opts->ca_file);
		if (f->ca_file == NULL)
			goto oom;
	}

	f->idle = calloc(f->max, sizeof(*f->idle));
	if (f->idle == NULL)
		goto oom;
	if (pthread_mutex_init(&f->pool_mu, NULL) != 0)
		goto oom;
	if (pthread_cond_init(&f->pool_cv, NULL) != 0) {
		pthread_mutex_destroy(&f->pool_mu);
		goto oom;
	}
	f->pool_ok = true;

	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) {
		if (pthread_mutex_init(&f->share_locks[i], NULL) != 0) {
			while (i-- > 0)
				pthread_mutex_destroy(&f->share_locks[i]);
			goto oom;
		}
	}
	f->share_locks_ok = true;

	f->share = curl_share_init();
	if (f->share == NULL ||
	    curl_share_setopt(f->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(f->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(f->share, CURLSHOPT_USERDATA, f) != CURLSHE_OK ||
	    curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
	        CURLSHE_OK ||
	    curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
		tsso_err_set(err, "fetch.init", "cannot set up the HTTP client");
		goto fail;
	}
	return f;
oom:
	tsso_err_set(err, "fetch.init", "out of memory");
fail:
	tsso_fetcher_free(f);
	return NULL;
}

static void wake_loops(void);

/* A slot given back, with its handle (kept idle) or without (NULL): a
 * waiting worker, or the loops holding queued calls, may take it. */
static void slot_free(struct tsso_fetcher *f, CURL *h)
{
	bool waiting;

	pthread_mutex_lock(&f->pool_mu);
	f->in_use--;
	if (h != NULL && f->n_idle < f->max)
		f->idle[f->n_idle++] = h;
	else if (h != NULL)
		curl_easy_cleanup(h);
	waiting = f->queued > 0;
	pthread_cond_signal(&f->pool_cv);
	pthread_mutex_unlock(&f->pool_mu);
	if (waiting)
		wake_loops();
}

/* A handle for a call that has its slot (in_use counted): an idle one or
 * new; NULL (the slot given back) when out of memory. */
static CURL *pool_handle(struct tsso_fetcher *f, CURL *h)
{
	if (h == NULL) {
		h = curl_easy_init();
		if (h == NULL)
			slot_free(f, NULL);
	}
	return h;
}

/* Wait for a free slot at most the connect timeout (not at all unless
 * `wait`): a slow IdP fills only its own fetcher's slots, so other tenants
 * are never queued behind it. With `queue` (a loop's call), a full pool
 * counts the call as queued instead (*queued set, NULL returned, no error):
 * pool_take_queued then takes a slot for it when one is free. */
static CURL *pool_acquire(struct tsso_fetcher *f, bool wait, bool queue, bool *queued,
                          struct tsso_err *err)
{
	struct timespec deadline;
	CURL *h = NULL;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += f->connect_timeout_ms / 1000;
	deadline.tv_nsec += (f->connect_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->pool_mu);
	while (f->in_use >= f->max) {
		if (queue) {
			/* Counted under the lock that a release takes: no wake-up is
			 * lost between this check and the loop queueing the call. */
			f->queued++;
			pthread_mutex_unlock(&f->pool_mu);
			*queued = true;
			return NULL;
		}
		if (!wait ||
		    (pthread_cond_timedwait(&f->pool_cv, &f->pool_mu, &deadline) == ETIMEDOUT &&
		     f->in_use >= f->max)) {
			pthread_mutex_unlock(&f->pool_mu);
			tsso_err_set(err, "fetch.busy", "too many calls in flight to this peer");
			return NULL;
		}
	}
	f->in_use++;
	if (f->n_idle > 0)
		h = f->idle[--f->n_idle];
	pthread_mutex_unlock(&f->pool_mu);
	h = pool_handle(f, h);
	if (h == NULL)
		tsso_err_set(err, "fetch.init", "out of memory");
	return h;
}

/* For a queued call: a slot if one is free (0, *ret set; NULL when out of
 * memory), else 1 (still queued). gone: stop queueing without a slot. */
static int pool_take_queued(struct tsso_fetcher *f, bool gone, CURL **ret)
{
	CURL *h = NULL;

	pthread_mutex_lock(&f->pool_mu);
	if (!gone && f->in_use >= f->max) {
		pthread_mutex_unlock(&f->pool_mu);
		return 1;
	}
	f->queued--;
	if (gone) {
		pthread_mutex_unlock(&f->pool_mu);
		*ret = NULL;
		return 0;
	}
	f->in_use++;
	if (f->n_idle > 0)
		h = f->idle[--f->n_idle];
	pthread_mutex_unlock(&f->pool_mu);
	*ret = pool_handle(f, h);
	return 0;
}

static size_t sink_write(char *p, size_t size, size_t n, void *user)
{
	struct fetch_sink *s = user;
	size_t len = size * n;

	/* The cap is enforced as bytes arrive: returning short aborts the transfer. */
	if (tsso_buf_add(&s->body, p, len) != 0) {
		s->too_large = true;
		return 0;
	}
	return len;
}

/* Only https, or http to loopback in development: checked with curl's own URL
 * parser, the one that will make the connection. */
static int check_url(const struct tsso_fetcher *f, const char *url, bool *ret_http,
                     struct tsso_err *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = -1;

	if (u == NULL)
		return tsso_err_set(err, "fetch.init", "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		tsso_err_set(err, "fetch.scheme", "not an absolute URL");
		goto out;
	}
	if (strcmp(scheme, "https") == 0) {
		*ret_http = false;
		rc = 0;
	} else if (strcmp(scheme, "http") == 0 && f->allow_http_loopback &&
	           oidc_host_is_loopback(host)) {
		*ret_http = true;
		rc = 0;
	} else {
		tsso_err_set(err, "fetch.scheme", "only https URLs may be fetched");
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static void lower_media_type(const char *ct, char **ret)
{
	size_t n = strcspn(ct, ";");
	char *s;

	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	s = strndup(ct, n);
	if (s != NULL)
		for (char *c = s; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	*ret = s;
}

/*
 * A count of closes per socket number (modulo FD_GEN_SLOTS), bumped before
 * libcurl closes one of its sockets. An event loop that keeps a socket in its
 * epoll set after libcurl let go of it (see park below) knows by this count
 * whether the number still names that socket. Numbers that share a slot only
 * make a socket look closed when it is not, which costs a system call.
 */
#define FD_GEN_SLOTS 1024
static atomic_uint fd_gen[FD_GEN_SLOTS];

static unsigned fd_gen_now(curl_socket_t fd)
{
	return atomic_load(&fd_gen[(unsigned)fd % FD_GEN_SLOTS]);
}

int tsso_fetch_close_socket(void *user, curl_socket_t fd)
{
	(void)user;
	atomic_fetch_add(&fd_gen[(unsigned)fd % FD_GEN_SLOTS], 1);
	return close(fd);
}

/* Every option is set before each transfer, so a pooled handle carries
 * nothing from its previous call but its caches. */
static int setup_handle(struct tsso_fetcher *f, CURL *h, const struct tsso_fetch_req *req,
                        bool http, struct curl_slist *hdrs, struct fetch_sink *sink, char *errbuf)
{
	size_t cap = req->max_response > 0 ? req->max_response : TSSO_OUT_MAX_RESPONSE;
	bool post = strcmp(req->method, "POST") == 0;
	CURLcode c = CURLE_OK;

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (c == CURLE_OK)                                                                 \
			c = curl_easy_setopt(h, opt, val);                                         \
	} while (0)
	SET(CURLOPT_SHARE, f->share);
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, http ? "http" : "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_MAXREDIRS, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_CA_CACHE_TIMEOUT, FETCH_CA_CACHE_S);
	if (f->ca_file != NULL) {
		SET(CURLOPT_CAINFO, f->ca_file);
		SET(CURLOPT_CAPATH, f->also_system_ca ? FETCH_SYSTEM_CAPATH : NULL);
	}
	SET(CURLOPT_CONNECTTIMEOUT_MS, f->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, f->total_timeout_ms);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
	SET(CURLOPT_WRITEFUNCTION, sink_write);
	SET(CURLOPT_WRITEDATA, sink);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_USERAGENT, "toucan-sso/" TSSO_VERSION);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	/* The share's connection cache is trimmed to the MAXCONNECTS of the
	 * handle returning a connection (libcurl's default: 5). With fewer slots
	 * than pooled handles, busy logins closed connections and paid a new TLS
	 * handshake (and SSL_CTX) almost every time (docs/performance.md). */
	SET(CURLOPT_MAXCONNECTS, (long)f->max);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_FAILONERROR, 0L);
	SET(CURLOPT_CLOSESOCKETFUNCTION, tsso_fetch_close_socket);
	if (post) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
		SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
	} else {
		SET(CURLOPT_HTTPGET, 1L);
	}
#undef SET
	tsso_buf_init(&sink->body, cap);
	sink->too_large = false;
	return c == CURLE_OK ? 0 : -1;
}

static int map_error(CURLcode c, const struct fetch_sink *sink, const char *errbuf,
                     struct tsso_err *err)
{
	const char *detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(c);

	if (sink->too_large || c == CURLE_FILESIZE_EXCEEDED)
		return tsso_err_set(err, "fetch.too_large", "response larger than allowed");
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		return tsso_err_set(err, "fetch.timeout", "%s", detail);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return tsso_err_set(err, "fetch.scheme", "%s", detail);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return tsso_err_set(err, "fetch.tls", "%s", detail);
	default:
		return tsso_err_set(err, "fetch.connect", "%s", detail);
	}
}

/* One call's handle and the memory it points into, from set-up to result. */
struct tsso_fetch_op {
	struct tsso_fetcher *f;
	CURL *h;
	struct curl_slist *hdrs;
	struct fetch_sink sink;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode code;
	bool done;
	void *user; /* for the loop's done callback */

	/* Waiting for a slot (no handle yet): what the transfer needs later. */
	bool queued;
	struct tsso_fetch_req req; /* url is `url`, owned; headers already in hdrs */
	char *url;
	bool http;
	double deadline;             /* monotonic seconds: fetch.busy after */
	const char *fail, *fail_msg; /* reason and message when it ended without a transfer */
	struct tsso_fetch_op *next;  /* in its loop's queue */
};

/* Network refused on this thread (an event thread finishing a request): see
 * tsso_fetch_forbid. */
static _Thread_local bool forbid_here;
static _Thread_local bool refused_here;

void tsso_fetch_forbid(bool on)
{
	forbid_here = on;
	refused_here = false;
}

bool tsso_fetch_would_block(void)
{
	if (forbid_here)
		refused_here = true;
	return forbid_here;
}

bool tsso_fetch_forbidden(void)
{
	return forbid_here;
}

bool tsso_fetch_refused(void)
{
	return refused_here;
}

static void op_release(struct tsso_fetch_op *op)
{
	if (op->queued) {
		CURL *none;

		(void)pool_take_queued(op->f, true, &none);
		op->queued = false;
	}
	free(op->url);
	op->url = NULL;
	if (op->h != NULL) {
		/* Drop pointers to this call's memory before the handle is reused. */
		curl_easy_setopt(op->h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(op->h, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(op->h, CURLOPT_WRITEDATA, NULL);
		curl_easy_setopt(op->h, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(op->h, CURLOPT_PRIVATE, NULL);
		slot_free(op->f, op->h);
		op->h = NULL;
	}
	curl_slist_free_all(op->hdrs);
	op->hdrs = NULL;
	tsso_buf_free_secure(&op->sink.body);
}

/* The handle set for this call, once it has its slot. */
static int op_start(struct tsso_fetch_op *op, const struct tsso_fetch_req *req, bool http)
{
	return setup_handle(op->f, op->h, req, http, op->hdrs, &op->sink, op->errbuf) == 0 &&
	               curl_easy_setopt(op->h, CURLOPT_PRIVATE, op) == CURLE_OK
	           ? 0
	           : -1;
}

/* Everything before the transfer; `wait` for a pool slot, or (`queue`, a
 * loop's call) be queued for one, or neither (fetch.busy at once). */
static int op_setup(struct tsso_fetcher *f, const struct tsso_fetch_req *req, bool wait, bool queue,
                    struct tsso_fetch_op *op, struct tsso_err *err)
{
	struct curl_slist *tmp;
	bool http = false;

	op->f = f;
	if (req == NULL || req->url == NULL || req->method == NULL ||
	    (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0))
		return tsso_err_set(err, "fetch.init", "bad request description");
	if (tsso_fetch_would_block())
		return tsso_err_set(err, "fetch.would_block", "no outbound call on this thread");
	if (check_url(f, req->url, &http, err) != 0)
		return -1;
	/* Expect: 100-continue costs a round trip for nothing on small bodies. */
	op->hdrs = curl_slist_append(NULL, "Expect:");
	for (size_t i = 0; op->hdrs != NULL && req->headers != NULL && req->headers[i] != NULL;
	     i++) {
		tmp = curl_slist_append(op->hdrs, req->headers[i]);
		if (tmp == NULL) {
			curl_slist_free_all(op->hdrs);
			op->hdrs = NULL;
		}
		op->hdrs = tmp;
	}
	if (op->hdrs == NULL)
		return tsso_err_set(err, "fetch.init", "out of memory");
	op->h = pool_acquire(f, wait, queue, &op->queued, err);
	if (op->queued) {
		op->req = *req;
		op->req.headers = NULL;
		op->req.url = op->url = strdup(req->url);
		op->http = http;
		return op->url != NULL ? 0 : tsso_err_set(err, "fetch.init", "out of memory");
	}
	if (op->h == NULL)
		return -1;
	if (op_start(op, req, http) != 0)
		return tsso_err_set(err, "fetch.init", "cannot configure the HTTP client");
	return 0;
}

/* The outcome of a finished transfer (op->code set). */
static int op_collect(struct tsso_fetch_op *op, struct tsso_fetch_resp *ret, struct tsso_err *err)
{
	CURL *h = op->h;
	long status = 0, conns = 0;
	curl_off_t retry = -1;
	char *ct = NULL, *body = NULL;
	size_t body_len = 0;

	if (op->fail != NULL)
		return tsso_err_set(err, op->fail, "%s", op->fail_msg);
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK && conns > 0)
		atomic_fetch_add(&op->f->connects, (unsigned long)conns);
	if (op->code != CURLE_OK)
		return map_error(op->code, &op->sink, op->errbuf, err);
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status <= 0)
		return tsso_err_set(err, "fetch.connect", "no HTTP status");
	{
		char *raw_ct = NULL;

		if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &raw_ct) == CURLE_OK &&
		    raw_ct != NULL)
			lower_media_type(raw_ct, &ct);
	}
	/* libcurl reports 0 both for no header and for "Retry-After: 0"; either
	 * way there is no delay to honour. */
	if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry) != CURLE_OK || retry <= 0)
		retry = -1;
	body_len = op->sink.body.len;
	body = tsso_buf_take(&op->sink.body);
	if (body == NULL) {
		free(ct);
		return tsso_err_set(err, "fetch.init", "out of memory");
	}
	ret->status = status;
	ret->content_type = ct;
	ret->body = body;
	ret->body_len = body_len;
	ret->retry_after = retry > 86400 ? 86400 : (long)retry;
	return 0;
}

int tsso_fetch(struct tsso_fetcher *f, const struct tsso_fetch_req *req,
               struct tsso_fetch_resp *ret, struct tsso_err *err)
{
	struct tsso_fetch_op op = {0};
	int rc = -1;

	if (op_setup(f, req, true, false, &op, err) == 0) {
		op.code = curl_easy_perform(op.h);
		rc = op_collect(&op, ret, err);
	}
	op_release(&op);
	return rc;
}

struct tsso_fetch_op *tsso_fetch_op_new(struct tsso_fetcher *f, const struct tsso_fetch_req *req,
                                        struct tsso_err *err)
{
	struct tsso_fetch_op *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		tsso_err_set(err, "fetch.init", "out of memory");
		return NULL;
	}
	if (op_setup(f, req, false, true, op, err) != 0) {
		tsso_fetch_op_free(op);
		return NULL;
	}
	return op;
}

int tsso_fetch_op_result(struct tsso_fetch_op *op, struct tsso_fetch_resp *ret,
                         struct tsso_err *err)
{
	if (op == NULL || !op->done)
		return tsso_err_set(err, "fetch.init", "the call has not finished");
	return op_collect(op, ret, err);
}

bool tsso_fetch_op_done(const struct tsso_fetch_op *op)
{
	return op != NULL && op->done;
}

void tsso_fetch_op_free(struct tsso_fetch_op *op)
{
	if (op == NULL)
		return;
	op_release(op);
	free(op);
}

/*
 * The loop: one multi handle per event thread, driven through libcurl's socket
 * interface. Its sockets sit in an epoll set of their own, whose descriptor the
 * event thread waits on beside its HTTP server's.
 */
struct tsso_fetch_loop {
	CURLM *m;
	int epfd;
	double deadline; /* monotonic seconds when libcurl wants its timeout run; < 0 none */
	size_t pending;  /* calls added and not yet reported done, queued ones included */

	/* Calls waiting for a slot of their fetcher, oldest first. A release on
	 * any thread writes wake_fd (in epfd) while this loop has some; `kick`
	 * makes the next run try at once (a call just queued). */
	struct tsso_fetch_op *q_head, **q_tail;
	atomic_size_t n_queued;
	bool kick;
	int wake_fd;
	struct tsso_fetch_loop *next_loop; /* in `loops` */

	/* Sockets libcurl let go of that stay in epfd, newest last. A pooled
	 * connection's socket is let go at the end of every call and taken
	 * again by the next: keeping it registered spares the EPOLL_CTL_DEL
	 * and EPOLL_CTL_ADD of each call. */
	struct parked_fd {
		curl_socket_t fd;
		unsigned gen;    /* fd_gen_now when parked */
		uint32_t events; /* as registered */
	} parked[FETCH_LOOP_PARKED];
	size_t n_parked;
};

/* Every loop, for wake_loops. */
static pthread_mutex_t loops_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tsso_fetch_loop *loops;

/* A slot came free somewhere and calls wait for one: loops that hold queued
 * calls try again (each takes a slot only if one is still free). */
static void wake_loops(void)
{
	const uint64_t one = 1;

	pthread_mutex_lock(&loops_mu);
	for (struct tsso_fetch_loop *l = loops; l != NULL; l = l->next_loop)
		if (atomic_load(&l->n_queued) > 0 && write(l->wake_fd, &one, sizeof(one)) < 0) {
			/* EAGAIN: the counter is full, so the loop wakes anyway. */
		}
	pthread_mutex_unlock(&loops_mu);
}

static ssize_t parked_find(const struct tsso_fetch_loop *l, curl_socket_t fd)
{
	for (size_t i = l->n_parked; i-- > 0;)
		if (l->parked[i].fd == fd)
			return (ssize_t)i;
	return -1;
}

/* Takes entry i out of the parked list; returns it. */
static struct parked_fd unpark(struct tsso_fetch_loop *l, size_t i)
{
	struct parked_fd p = l->parked[i];

	memmove(&l->parked[i], &l->parked[i + 1], (l->n_parked - i - 1) * sizeof(l->parked[0]));
	l->n_parked--;
	return p;
}

/* Takes a parked socket out of epfd, unless it was closed since: then the
 * kernel took it out, and its number may now name another socket. */
static void unpark_del(struct tsso_fetch_loop *l, size_t i)
{
	struct parked_fd p = unpark(l, i);

	if (p.gen == fd_gen_now(p.fd))
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, p.fd, NULL);
}

/* libcurl let go of fd, registered for events: keep it in epfd. Its events
 * while parked are not libcurl's concern; the first one takes it out
 * (tsso_fetch_loop_run), as does a full list, oldest first. */
static void park(struct tsso_fetch_loop *l, curl_socket_t fd, uint32_t events)
{
	if (l->n_parked == FETCH_LOOP_PARKED)
		unpark_del(l, 0);
	l->parked[l->n_parked++] = (struct parked_fd){fd, fd_gen_now(fd), events};
}

/* socketp is TSSO_FETCH_SOCKETP(the events fd is registered for), so that
 * a REMOVE can park it with them. */
#define EVENTS_OF(socketp) ((uint32_t)((uintptr_t)(socketp)&0xffu))

int tsso_fetch_loop_socket(CURL *h, curl_socket_t fd, int what, void *user, void *socketp)
{
	struct tsso_fetch_loop *l = user;
	struct epoll_event ev = {.data.fd = fd};
	ssize_t i;

	(void)h;
	if (what == CURL_POLL_REMOVE) {
		if (socketp != NULL)
			park(l, fd, EVENTS_OF(socketp));
		else
			(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		(void)curl_multi_assign(l->m, fd, NULL);
		return 0;
	}
	ev.events =
	    ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
	if (socketp == NULL && (i = parked_find(l, fd)) >= 0) {
		struct parked_fd p = unpark(l, (size_t)i);

		/* Still the socket that was parked: registered already, with the
		 * same events or changed by one EPOLL_CTL_MOD. */
		if (p.gen == fd_gen_now(fd) &&
		    (p.events == ev.events || epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)) {
			(void)curl_multi_assign(l->m, fd, TSSO_FETCH_SOCKETP(ev.events));
			return 0;
		}
	}
	if (socketp == NULL) {
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 &&
		    (errno != EEXIST || epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) != 0))
			return -1;
	} else if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 &&
	           (errno != ENOENT || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)) {
		return -1;
	}
	(void)curl_multi_assign(l->m, fd, TSSO_FETCH_SOCKETP(ev.events));
	return 0;
}

static int loop_timer(CURLM *m, long timeout_ms, void *user)
{
	struct tsso_fetch_loop *l = user;

	(void)m;
	l->deadline = timeout_ms < 0 ? -1.0 : tsso_now_mono() + (double)timeout_ms / 1000.0;
	return 0;
}

struct tsso_fetch_loop *tsso_fetch_loop_new(struct tsso_err *err)
{
	struct tsso_fetch_loop *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		tsso_err_set(err, "fetch.init", "out of memory");
		return NULL;
	}
	l->deadline = -1.0;
	l->q_tail = &l->q_head;
	atomic_init(&l->n_queued, 0);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	l->m = curl_multi_init();
	if (l->epfd >= 0 && l->wake_fd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->wake_fd};

		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev) != 0) {
			close(l->wake_fd);
			l->wake_fd = -1;
		}
	}
	if (l->epfd < 0 || l->wake_fd < 0 || l->m == NULL ||
	    curl_multi_setopt(l->m, CURLMOPT_SOCKETFUNCTION, tsso_fetch_loop_socket) != CURLM_OK ||
	    curl_multi_setopt(l->m, CURLMOPT_SOCKETDATA, l) != CURLM_OK ||
	    curl_multi_setopt(l->m, CURLMOPT_TIMERFUNCTION, loop_timer) != CURLM_OK ||
	    curl_multi_setopt(l->m, CURLMOPT_TIMERDATA, l) != CURLM_OK ||
	    /* A returned connection is kept while its fetcher's share holds
	     * fewer than this (libcurl's default: 4 per transfer in this multi,
	     * which closed pooled connections and cost a handshake per login,
	     * as CURLOPT_MAXCONNECTS once did); a fetcher never holds more
	     * connections than calls it allows at once, per peer. */
	    curl_multi_setopt(l->m, CURLMOPT_MAXCONNECTS, (long)FETCH_LOOP_MAXCONNECTS) !=
	        CURLM_OK) {
		tsso_err_set(err, "fetch.init", "cannot set up the outbound event loop");
		tsso_fetch_loop_free(l);
		return NULL;
	}
	pthread_mutex_lock(&loops_mu);
	l->next_loop = loops;
	loops = l;
	pthread_mutex_unlock(&loops_mu);
	return l;
}

void tsso_fetch_loop_free(struct tsso_fetch_loop *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&loops_mu);
	for (struct tsso_fetch_loop **p = &loops; *p != NULL; p = &(*p)->next_loop)
		if (*p == l) {
			*p = l->next_loop;
			break;
		}
	pthread_mutex_unlock(&loops_mu);
	if (l->m != NULL)
		curl_multi_cleanup(l->m);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
}

int tsso_fetch_loop_fd(const struct tsso_fetch_loop *l)
{
	return l->epfd;
}

long tsso_fetch_loop_timeout(const struct tsso_fetch_loop *l)
{
	double at = l->deadline, left;

	if (l->kick)
		return 0;
	for (const struct tsso_fetch_op *op = l->q_head; op != NULL; op = op->next)
		if (at < 0 || op->deadline < at)
			at = op->deadline;
	if (at < 0)
		return -1;
	left = (at - tsso_now_mono()) * 1000.0;
	return left <= 0 ? 0 : (long)left + 1;
}

size_t tsso_fetch_loop_pending(const struct tsso_fetch_loop *l)
{
	return l->pending;
}

int tsso_fetch_loop_add(struct tsso_fetch_loop *l, struct tsso_fetch_op *op, void *user,
                        struct tsso_err *err)
{
	op->user = user;
	op->done = false;
	if (op->queued) {
		/* No slot yet: wait here, never holding the thread, at most the
		 * connect timeout (as a blocking call waits for one). */
		op->deadline = tsso_now_mono() + (double)op->f->connect_timeout_ms / 1000.0;
		op->next = NULL;
		*l->q_tail = op;
		l->q_tail = &op->next;
		atomic_fetch_add(&l->n_queued, 1);
		l->kick = true;
	} else if (curl_multi_add_handle(l->m, op->h) != CURLM_OK) {
		return tsso_err_set(err, "fetch.init", "cannot start the call");
	}
	l->pending++;
	return 0;
}

/* Queued calls: started when their fetcher has a free slot, failed with
 * fetch.busy past their deadline; those that end here are reported done. */
static unsigned run_queue(struct tsso_fetch_loop *l, void (*done)(void *user))
{
	struct tsso_fetch_op *op = l->q_head, *ended = NULL, **ended_tail = &ended;
	double now = tsso_now_mono();
	unsigned n = 0;

	l->kick = false;
	l->q_head = NULL;
	l->q_tail = &l->q_head;
	while (op != NULL) {
		struct tsso_fetch_op *next = op->next;
		int wait = pool_take_queued(op->f, false, &op->h);

		op->next = NULL;
		if (wait != 0 && now < op->deadline) {
			*l->q_tail = op; /* still waiting, in its place */
			l->q_tail = &op->next;
			op = next;
			continue;
		}
		if (wait != 0) {
			(void)pool_take_queued(op->f, true, &op->h);
			op->fail = "fetch.busy";
			op->fail_msg = "too many calls in flight to this peer";
		} else if (op->h == NULL || op_start(op, &op->req, op->http) != 0 ||
		           curl_multi_add_handle(l->m, op->h) != CURLM_OK) {
			op->fail = "fetch.init";
			op->fail_msg = "cannot start the call";
		}
		op->queued = false;
		atomic_fetch_sub(&l->n_queued, 1);
		if (op->fail != NULL) {
			*ended_tail = op;
			ended_tail = &op->next;
		}
		op = next;
	}
	/* Reported after the queue is whole again: done() may add calls. */
	while (ended != NULL) {
		op = ended;
		ended = op->next;
		op->next = NULL;
		op->done = true;
		l->pending--;
		n++;
		done(op->user);
	}
	return n;
}

unsigned tsso_fetch_loop_run(struct tsso_fetch_loop *l, void (*done)(void *user))
{
	struct epoll_event ev[16];
	int n = epoll_wait(l->epfd, ev, 16, 0), running = 0, left = 0;
	unsigned finished = 0;
	CURLMsg *msg;

	for (int i = 0; i < n; i++) {
		if (ev[i].data.fd == l->wake_fd) {
			uint64_t v;

			if (read(l->wake_fd, &v, sizeof(v)) < 0) {
				/* EAGAIN: already read; the queue is tried below anyway. */
			}
			continue;
		}
		ssize_t pi = parked_find(l, ev[i].data.fd);

		if (pi >= 0) {
			/* Idle, and libcurl is not waiting on it (a peer closing a
			 * pooled connection, or another loop's call on it). */
			unpark_del(l, (size_t)pi);
			continue;
		}
		int mask = ((ev[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
		           ((ev[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
		           ((ev[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);

		(void)curl_multi_socket_action(l->m, ev[i].data.fd, mask, &running);
	}
	if (l->deadline >= 0 && tsso_now_mono() >= l->deadline) {
		l->deadline = -1.0;
		(void)curl_multi_socket_action(l->m, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	while ((msg = curl_multi_info_read(l->m, &left)) != NULL) {
		struct tsso_fetch_op *op = NULL;
		CURL *h = msg->easy_handle;
		CURLcode code = msg->data.result; /* msg is not ours after the removal */

		if (msg->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&op);
		(void)curl_multi_remove_handle(l->m, h);
		l->pending--;
		if (op == NULL)
			continue; /* not ours: never added by tsso_fetch_loop_add */
		op->code = code;
		op->done = true;
		finished++;
		done(op->user);
	}
	if (l->q_head != NULL || l->kick)
		finished += run_queue(l, done);
	return finished;
}

void tsso_fetch_resp_free(struct tsso_fetch_resp *resp)
{
	if (resp == NULL)
		return;
	free(resp->content_type);
	/* Bodies carry tokens (token endpoint, UserInfo): wipe them. */
	if (resp->body != NULL)
		tsso_wipe(resp->body, resp->body_len);
	free(resp->body);
	resp->content_type = NULL;
	resp->body = NULL;
	resp->body_len = 0;
}

unsigned long tsso_fetcher_connects(const struct tsso_fetcher *f)
{
	return f == NULL ? 0 : atomic_load(&((struct tsso_fetcher *)f)->connects);
}
