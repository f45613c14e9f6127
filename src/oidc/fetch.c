/* Outbound HTTPS client (libcurl): verified TLS, bounded, pooled, per-peer isolated. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "oidc_int.h"
#include "tsso/buf.h"
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

#define FETCH_CA_CACHE_S    86400L
#define FETCH_SYSTEM_CAPATH "/etc/ssl/certs"

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

/* Wait for a free slot at most the connect timeout: a slow IdP fills only its
 * own fetcher's slots, so other tenants are never queued behind it. */
static CURL *pool_acquire(struct tsso_fetcher *f, struct tsso_err *err)
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
		if (pthread_cond_timedwait(&f->pool_cv, &f->pool_mu, &deadline) == ETIMEDOUT &&
		    f->in_use >= f->max) {
			pthread_mutex_unlock(&f->pool_mu);
			tsso_err_set(err, "fetch.busy", "too many calls in flight to this peer");
			return NULL;
		}
	}
	f->in_use++;
	if (f->n_idle > 0)
		h = f->idle[--f->n_idle];
	pthread_mutex_unlock(&f->pool_mu);
	if (h == NULL) {
		h = curl_easy_init();
		if (h == NULL) {
			pthread_mutex_lock(&f->pool_mu);
			f->in_use--;
			pthread_cond_signal(&f->pool_cv);
			pthread_mutex_unlock(&f->pool_mu);
			tsso_err_set(err, "fetch.init", "out of memory");
		}
	}
	return h;
}

static void pool_release(struct tsso_fetcher *f, CURL *h)
{
	pthread_mutex_lock(&f->pool_mu);
	f->in_use--;
	if (f->n_idle < f->max)
		f->idle[f->n_idle++] = h;
	else
		curl_easy_cleanup(h);
	pthread_cond_signal(&f->pool_cv);
	pthread_mutex_unlock(&f->pool_mu);
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

int tsso_fetch(struct tsso_fetcher *f, const struct tsso_fetch_req *req,
               struct tsso_fetch_resp *ret, struct tsso_err *err)
{
	struct curl_slist *hdrs = NULL, *tmp;
	struct fetch_sink sink = {0};
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h = NULL;
	bool http = false;
	long status = 0, conns = 0;
	curl_off_t retry = -1;
	char *ct = NULL, *body = NULL;
	size_t body_len = 0;
	CURLcode c;
	int rc = -1;

	if (req == NULL || req->url == NULL || req->method == NULL ||
	    (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0))
		return tsso_err_set(err, "fetch.init", "bad request description");
	if (check_url(f, req->url, &http, err) != 0)
		return -1;
	/* Expect: 100-continue costs a round trip for nothing on small bodies. */
	hdrs = curl_slist_append(NULL, "Expect:");
	for (size_t i = 0; hdrs != NULL && req->headers != NULL && req->headers[i] != NULL; i++) {
		tmp = curl_slist_append(hdrs, req->headers[i]);
		if (tmp == NULL) {
			curl_slist_free_all(hdrs);
			hdrs = NULL;
		}
		hdrs = tmp;
	}
	if (hdrs == NULL)
		return tsso_err_set(err, "fetch.init", "out of memory");
	h = pool_acquire(f, err);
	if (h == NULL)
		goto out;
	if (setup_handle(f, h, req, http, hdrs, &sink, errbuf) != 0) {
		tsso_err_set(err, "fetch.init", "cannot configure the HTTP client");
		goto out;
	}
	c = curl_easy_perform(h);
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK && conns > 0)
		atomic_fetch_add(&f->connects, (unsigned long)conns);
	if (c != CURLE_OK) {
		map_error(c, &sink, errbuf, err);
		goto out;
	}
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status <= 0) {
		tsso_err_set(err, "fetch.connect", "no HTTP status");
		goto out;
	}
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
	body_len = sink.body.len;
	body = tsso_buf_take(&sink.body);
	if (body == NULL) {
		tsso_err_set(err, "fetch.init", "out of memory");
		goto out;
	}
	ret->status = status;
	ret->content_type = ct;
	ret->body = body;
	ret->body_len = body_len;
	ret->retry_after = retry > 86400 ? 86400 : (long)retry;
	ct = NULL;
	body = NULL;
	rc = 0;
out:
	if (h != NULL) {
		/* Drop pointers to this call's memory before the handle is reused. */
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
		pool_release(f, h);
	}
	curl_slist_free_all(hdrs);
	tsso_buf_free_secure(&sink.body);
	free(ct);
	tsso_free_secret(body);
	return rc;
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
