/* Unit tests for src/oidc/fetch.c against a loopback HTTP(S) server, and the facade: refresh,
 * RP-initiated logout, concurrent use. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "src/oidc/oidc_int.h"
#include "tsso/err.h"
#include "tsso/fetch.h"

#include "oidc_test_op.h"
#include "oidc_test_server.h"

static struct test_server srv;
static struct test_op op;

static int group_setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (test_server_start(&srv, NULL) != 0 || op_start(&op) != 0)
		return -1;
	return op_idp(&op) != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	op_stop(&op);
	test_server_stop(&srv);
	curl_global_cleanup();
	return 0;
}

static char *url_of(bool https, const char *path)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s://127.0.0.1:%d%s", https ? "https" : "http",
	         https ? srv.https_port : srv.http_port, path);
	return buf;
}

static struct tsso_fetcher *fetcher(const char *ca, bool loopback, long total_ms)
{
	struct tsso_fetcher_opts o = {.ca_file = ca,
	                              .allow_http_loopback = loopback,
	                              .total_timeout_ms = total_ms,
	                              .connect_timeout_ms = 1000};
	struct tsso_err err = {0};
	struct tsso_fetcher *f = tsso_fetcher_new(&o, &err);

	assert_non_null(f);
	return f;
}

static int get(struct tsso_fetcher *f, const char *url, size_t cap, struct tsso_fetch_resp *r,
               struct tsso_err *err)
{
	struct tsso_fetch_req req = {.method = "GET", .url = url, .max_response = cap};

	int rc;

	tsso_err_clear(err);
	rc = tsso_fetch(f, &req, r, err);
	if (rc != 0)
		print_message("fetch %s: %s: %s\n", url, tsso_err_reason(err), err->msg);
	return rc;
}

static void test_fetch_ok_and_reuse(void **state)
{
	struct tsso_fetcher *f = fetcher(TSSO_TEST_DATA "/oidc/ca.pem", false, 0);
	struct tsso_fetch_resp r = {0};
	struct tsso_err err = {0};

	(void)state;
	assert_int_equal(get(f, url_of(true, "/ok"), 0, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/json");
	assert_string_equal(r.body, "{\"ok\":true}");
	assert_int_equal(r.body_len, 11);
	assert_int_equal(r.retry_after, -1);
	tsso_fetch_resp_free(&r);
	/* The second call reuses the kept-alive connection. */
	assert_int_equal(get(f, url_of(true, "/ok"), 0, &r, &err), 0);
	tsso_fetch_resp_free(&r);
	assert_int_equal(tsso_fetcher_connects(f), 1);
	tsso_fetcher_free(f);
}

static void test_fetch_post_and_retry_after(void **state)
{
	struct tsso_fetcher *f = fetcher(TSSO_TEST_DATA "/oidc/ca.pem", false, 0);
	const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	struct tsso_fetch_req req = {.method = "POST",
	                             .url = url_of(true, "/post"),
	                             .headers = hdrs,
	                             .body = "a=b&c=d",
	                             .body_len = 7};
	struct tsso_fetch_resp r = {0};
	struct tsso_err err = {0};

	(void)state;
	assert_int_equal(tsso_fetch(f, &req, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "a=b&c=d");
	assert_string_equal(r.content_type, "application/x-www-form-urlencoded");
	tsso_fetch_resp_free(&r);
	assert_int_equal(get(f, url_of(true, "/retry"), 0, &r, &err), 0);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.retry_after, 7);
	tsso_fetch_resp_free(&r);
	tsso_fetcher_free(f);
}

static void test_fetch_wrong_ca(void **state)
{
	struct tsso_fetcher *f = fetcher(TSSO_TEST_DATA "/oidc/wrong-ca.pem", false, 0);
	struct tsso_fetch_resp r = {.status = 42};
	struct tsso_err err = {0};

	(void)state;
	assert_int_equal(get(f, url_of(true, "/ok"), 0, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.tls");
	assert_int_equal(r.status, 42); /* untouched */
	tsso_fetcher_free(f);
}

static void test_fetch_missing_ca_file(void **state)
{
	struct tsso_fetcher_opts o = {.ca_file = TSSO_TEST_DATA "/oidc/no-such.pem"};
	struct tsso_err err = {0};

	(void)state;
	assert_null(tsso_fetcher_new(&o, &err));
	assert_string_equal(tsso_err_reason(&err), "fetch.ca_file");
}

static void test_fetch_size_caps(void **state)
{
	struct tsso_fetcher *f = fetcher(TSSO_TEST_DATA "/oidc/ca.pem", false, 0);
	struct tsso_fetch_resp r = {0};
	struct tsso_err err = {0};

	(void)state;
	/* Exactly at the cap passes; one byte over fails (announced length). */
	assert_int_equal(get(f, url_of(true, "/big?n=1000"), 1000, &r, &err), 0);
	assert_int_equal(r.body_len, 1000);
	tsso_fetch_resp_free(&r);
	assert_int_equal(get(f, url_of(true, "/big?n=1001"), 1000, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.too_large");
	/* Without a length, the write callback stops it as bytes arrive. */
	assert_int_equal(get(f, url_of(true, "/stream?n=200000"), 10000, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.too_large");
	tsso_fetcher_free(f);
}

static void test_fetch_no_redirect(void **state)
{
	struct tsso_fetcher *f = fetcher(TSSO_TEST_DATA "/oidc/ca.pem", false, 0);
	struct tsso_fetch_resp r = {0};
	struct tsso_err err = {0};

	(void)state;
	assert_int_equal(get(f, url_of(true, "/redirect"), 0, &r, &err), 0);
	assert_int_equal(r.status, 302);
	assert_int_equal(r.body_len, 0);
	tsso_fetch_resp_free(&r);
	tsso_fetcher_free(f);
}

static void test_fetch_timeout(void **state)
{
	struct tsso_fetcher *f = fetcher(TSSO_TEST_DATA "/oidc/ca.pem", false, 500);
	struct tsso_fetch_resp r = {0};
	struct tsso_err err = {0};

	(void)state;
	assert_int_equal(get(f, url_of(true, "/slow"), 0, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.timeout");
	tsso_fetcher_free(f);
}

static void test_fetch_schemes(void **state)
{
	struct tsso_fetcher *strict = fetcher(NULL, false, 0);
	struct tsso_fetcher *dev = fetcher(NULL, true, 0);
	struct tsso_fetch_resp r = {0};
	struct tsso_err err = {0};
	static const char *const refused[] = {
	    "ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/", "not a url", "/ok",
	};

	(void)state;
	assert_int_equal(get(strict, url_of(false, "/ok"), 0, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.scheme");
	for (size_t i = 0; i < TSSO_ARRAY_LEN(refused); i++) {
		assert_int_equal(get(dev, refused[i], 0, &r, &err), -1);
		assert_string_equal(tsso_err_reason(&err), "fetch.scheme");
	}
	/* http to a non-loopback host stays refused in development. */
	assert_int_equal(get(dev, "http://10.0.0.1/x", 0, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.scheme");
	assert_int_equal(get(dev, "http://127.0.0.1.example.com/x", 0, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.scheme");
	assert_int_equal(get(dev, url_of(false, "/ok"), 0, &r, &err), 0);
	assert_int_equal(r.status, 200);
	tsso_fetch_resp_free(&r);
	tsso_fetcher_free(strict);
	tsso_fetcher_free(dev);
}

static void test_fetch_connect_refused(void **state)
{
	struct tsso_fetcher *f = fetcher(NULL, true, 0);
	struct tsso_fetch_resp r = {0};
	struct tsso_err err = {0};

	(void)state;
	/* Port 1 on loopback: nothing listens. */
	assert_int_equal(get(f, "http://127.0.0.1:1/", 0, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.connect");
	tsso_fetcher_free(f);
}

struct slow_call {
	struct tsso_fetcher *f;
	int rc;
};

static void *slow_thread(void *arg)
{
	struct slow_call *c = arg;
	struct tsso_fetch_resp r = {0};
	struct tsso_err err = {0};

	c->rc = get(c->f, url_of(true, "/slow"), 0, &r, &err);
	if (c->rc == 0)
		tsso_fetch_resp_free(&r);
	return NULL;
}

/* One slot per fetcher: a second caller waits at most the connect timeout,
 * then gets fetch.busy instead of queueing behind a stuck IdP. */
static void test_fetch_busy(void **state)
{
	struct tsso_fetcher_opts o = {.ca_file = TSSO_TEST_DATA "/oidc/ca.pem",
	                              .max_connections = 1,
	                              .connect_timeout_ms = 300,
	                              .total_timeout_ms = 1200};
	struct tsso_err err = {0};
	struct tsso_fetcher *f = tsso_fetcher_new(&o, &err);
	struct tsso_fetcher *other = fetcher(TSSO_TEST_DATA "/oidc/ca.pem", false, 0);
	struct slow_call call = {.f = f};
	struct tsso_fetch_resp r = {0};
	pthread_t t;

	(void)state;
	assert_non_null(f);
	assert_int_equal(pthread_create(&t, NULL, slow_thread, &call), 0);
	usleep(150 * 1000);
	assert_int_equal(get(f, url_of(true, "/ok"), 0, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.busy");
	/* Another peer's fetcher is not affected. */
	assert_int_equal(get(other, url_of(true, "/ok"), 0, &r, &err), 0);
	tsso_fetch_resp_free(&r);
	pthread_join(t, NULL);
	assert_int_equal(call.rc, -1);
	tsso_fetcher_free(f);
	tsso_fetcher_free(other);
}

/* Answer the refresh grant with an ID token whose claims mut changes. */
static void refresh_response(void (*mut)(json_t *c), bool with_id_token)
{
	json_t *c = op_claims(&op, NULL);
	char *tok;

	if (mut != NULL)
		mut(c);
	tok = op_sign(&op.rs, c);
	op_token_response(&op, with_id_token ? tok : NULL, "access-token-2");
	free(tok);
	json_decref(c);
}

static void sub_other(json_t *c)
{
	json_object_set_new(c, "sub", json_string("user-2"));
}

static void iss_other(json_t *c)
{
	json_object_set_new(c, "iss", json_string("https://evil.example/idp"));
}

static const char *refresh(struct tsso_oidc_result *ret)
{
	static struct tsso_err err;
	struct tsso_oidc_result r = {0};

	tsso_err_clear(&err);
	if (tsso_idp_refresh(op.idp, "rt-1", "user-1", OP_NOW, &r, &err) != 0)
		return tsso_err_reason(&err);
	if (ret != NULL)
		*ret = r;
	else
		tsso_oidc_result_free(&r);
	return "ok";
}

/* OIDC Core §12.2: a refreshed ID token is validated like the first, same
 * iss and sub. */
/* Network refused on this thread: every call fails at once, the refusal is
 * recorded for the caller, and nothing is left behind. */
static void test_fetch_forbidden(void **state)
{
	struct tsso_fetcher *f = fetcher(TSSO_TEST_DATA "/oidc/ca.pem", false, 0);
	struct tsso_fetch_req req = {.method = "GET", .url = url_of(true, "/ok")};
	struct tsso_fetch_resp r = {0};
	struct tsso_err err = {0};

	(void)state;
	tsso_fetch_forbid(true);
	assert_true(tsso_fetch_forbidden());
	assert_false(tsso_fetch_refused());
	assert_int_equal(get(f, url_of(true, "/ok"), 0, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.would_block");
	assert_true(tsso_fetch_refused());
	assert_null(tsso_fetch_op_new(f, &req, &err));
	assert_string_equal(tsso_err_reason(&err), "fetch.would_block");
	tsso_fetch_forbid(false);
	assert_false(tsso_fetch_refused());
	assert_false(tsso_fetch_would_block());
	assert_int_equal(tsso_fetcher_connects(f), 0);
	assert_int_equal(get(f, url_of(true, "/ok"), 0, &r, &err), 0);
	tsso_fetch_resp_free(&r);
	tsso_fetcher_free(f);
}

static void count_done(void *user)
{
	(*(int *)user)++;
}

/* Drive a loop as an event thread does (sleep until its descriptor is
 * readable or its timeout is due, then run it) until `want` calls finished;
 * bounded. A loop that forgets to wake up sleeps to its next deadline. */
static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void drive(struct tsso_fetch_loop *l, int *done, int want)
{
	double end = mono_s() + 12.0;

	for (int i = 0; i < 1000 && *done < want && mono_s() < end; i++) {
		struct pollfd p = {.fd = tsso_fetch_loop_fd(l), .events = POLLIN};
		long to = tsso_fetch_loop_timeout(l);

		(void)poll(&p, 1, to < 0 || to > 6000 ? 6000 : (int)to);
		(void)tsso_fetch_loop_run(l, count_done);
	}
	assert_int_equal(*done, want);
}

/* One call through the loop from start to outcome, as tsso_fetch returns it. */
static int loop_call(struct tsso_fetch_loop *l, struct tsso_fetcher *f,
                     const struct tsso_fetch_req *req, struct tsso_fetch_resp *r,
                     struct tsso_err *err)
{
	struct tsso_fetch_op *call = tsso_fetch_op_new(f, req, err);
	int done = 0, rc;

	assert_non_null(call);
	assert_int_equal(tsso_fetch_loop_add(l, call, &done, err), 0);
	drive(l, &done, 1);
	rc = tsso_fetch_op_result(call, r, err);
	tsso_fetch_op_free(call);
	return rc;
}

static void test_fetch_loop(void **state)
{
	struct tsso_fetcher *f = fetcher(TSSO_TEST_DATA "/oidc/ca.pem", false, 0);
	struct tsso_fetcher *bad = fetcher(TSSO_TEST_DATA "/oidc/wrong-ca.pem", false, 500);
	const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	char ok_url[256], post_url[256];
	struct tsso_fetch_req get_ok = {.method = "GET", .url = ok_url};
	struct tsso_fetch_req post = {
	    .method = "POST", .url = post_url, .headers = hdrs, .body = "a=b", .body_len = 3};
	struct tsso_fetch_loop *l;
	struct tsso_fetch_op *a, *b;
	struct tsso_fetch_resp r = {0};
	struct tsso_err err = {0};
	int done = 0;

	(void)state;
	/* url_of returns one static buffer. */
	snprintf(ok_url, sizeof(ok_url), "%s", url_of(true, "/ok"));
	snprintf(post_url, sizeof(post_url), "%s", url_of(true, "/post"));
	l = tsso_fetch_loop_new(&err);
	assert_non_null(l);
	assert_int_equal(tsso_fetch_loop_timeout(l), -1);
	a = tsso_fetch_op_new(f, &get_ok, &err);
	b = tsso_fetch_op_new(f, &post, &err);
	assert_non_null(a);
	assert_non_null(b);
	/* Not finished: no outcome to read. */
	assert_int_equal(tsso_fetch_op_result(a, &r, &err), -1);
	assert_int_equal(tsso_fetch_loop_add(l, a, &done, &err), 0);
	assert_int_equal(tsso_fetch_loop_add(l, b, &done, &err), 0);
	assert_int_equal(tsso_fetch_loop_pending(l), 2);
	drive(l, &done, 2);
	assert_int_equal(tsso_fetch_loop_pending(l), 0);
	assert_int_equal(tsso_fetch_op_result(a, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"ok\":true}");
	tsso_fetch_resp_free(&r);
	assert_int_equal(tsso_fetch_op_result(b, &r, &err), 0);
	assert_string_equal(r.body, "a=b");
	tsso_fetch_resp_free(&r);
	tsso_fetch_op_free(a);
	tsso_fetch_op_free(b);
	/* The loop's connections go back to the fetcher's pool: a blocking
	 * call and another loop call reuse them (a multi handle's default
	 * limit once closed them: a handshake per login). */
	assert_int_equal(get(f, url_of(true, "/ok"), 0, &r, &err), 0);
	tsso_fetch_resp_free(&r);
	assert_int_equal(loop_call(l, f, &get_ok, &r, &err), 0);
	tsso_fetch_resp_free(&r);
	assert_true(tsso_fetcher_connects(f) <= 2);
	/* A failure comes back as tsso_fetch reports it. */
	assert_int_equal(loop_call(l, bad, &get_ok, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.tls");
	/* The loop enforces the total timeout (its timer, no socket event). */
	{
		struct tsso_fetcher *slow = fetcher(TSSO_TEST_DATA "/oidc/ca.pem", false, 500);
		struct tsso_fetch_req get_slow = {.method = "GET", .url = url_of(true, "/slow")};

		assert_int_equal(loop_call(l, slow, &get_slow, &r, &err), -1);
		assert_string_equal(tsso_err_reason(&err), "fetch.timeout");
		tsso_fetcher_free(slow);
	}
	tsso_fetch_loop_free(l);
	tsso_fetcher_free(bad);
	tsso_fetcher_free(f);
}

/* True when the loop's descriptor has an event waiting, within ms. */
static bool loop_readable(struct tsso_fetch_loop *l, int ms)
{
	struct pollfd p = {.fd = tsso_fetch_loop_fd(l), .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

/* A pooled connection's socket stays in the loop's epoll set between calls
 * (no EPOLL_CTL_DEL and ADD per call). Two ways that can go wrong are
 * checked: a peer that closes the idle connection must not leave the loop
 * woken for ever, and a socket number that libcurl closed and reused for a
 * new connection must be registered again, or its call never hears back. */
static void test_fetch_loop_parked(void **state)
{
	struct tsso_fetcher *f = fetcher(TSSO_TEST_DATA "/oidc/ca.pem", false, 0);
	char ok_url[256], hangup_url[256];
	struct tsso_fetch_req get_ok = {.method = "GET", .url = ok_url};
	struct tsso_fetch_req get_hangup = {.method = "GET", .url = hangup_url};
	struct tsso_fetch_resp r = {0};
	struct tsso_err err = {0};
	struct tsso_fetch_loop *l = tsso_fetch_loop_new(&err);

	(void)state;
	assert_non_null(l);
	snprintf(ok_url, sizeof(ok_url), "%s", url_of(true, "/ok"));
	snprintf(hangup_url, sizeof(hangup_url), "%s", url_of(true, "/hangup"));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(loop_call(l, f, &get_ok, &r, &err), 0);
		assert_int_equal(r.status, 200);
		tsso_fetch_resp_free(&r);
	}
	assert_int_equal(tsso_fetcher_connects(f), 1);
	assert_false(loop_readable(l, 0));
	/* The peer closes the parked connection: one wake-up, then quiet. */
	assert_int_equal(loop_call(l, f, &get_hangup, &r, &err), 0);
	tsso_fetch_resp_free(&r);
	assert_true(loop_readable(l, 5000));
	assert_int_equal(tsso_fetch_loop_run(l, count_done), 0);
	assert_false(loop_readable(l, 100));
	assert_int_equal(loop_call(l, f, &get_ok, &r, &err), 0);
	assert_int_equal(r.status, 200);
	tsso_fetch_resp_free(&r);
	assert_int_equal(tsso_fetcher_connects(f), 2);
	/* Its fetcher gone, the parked socket is closed; the next connection
	 * takes the lowest free number, the same one. */
	tsso_fetcher_free(f);
	f = fetcher(TSSO_TEST_DATA "/oidc/ca.pem", false, 2000);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(loop_call(l, f, &get_ok, &r, &err), 0);
		assert_int_equal(r.status, 200);
		tsso_fetch_resp_free(&r);
	}
	tsso_fetch_loop_free(l);
	tsso_fetcher_free(f);
}

/* One byte from peer makes the loop's descriptor readable within 1 s, and
 * reading it makes it quiet again. */
static bool heard(struct tsso_fetch_loop *l, int fd, int peer)
{
	char c;
	bool r;

	assert_int_equal(write(peer, "x", 1), 1);
	r = loop_readable(l, 1000);
	assert_int_equal(read(fd, &c, 1), 1);
	return r;
}

/* The parking of libcurl's sockets, through the loop's callbacks on a
 * socket pair: a socket let go and taken again stays registered; one that
 * libcurl closed is not trusted, and a new socket with the same number is
 * registered anew. */
static void test_fetch_loop_parked_numbers(void **state)
{
	struct tsso_err err = {0};
	struct tsso_fetch_loop *l = tsso_fetch_loop_new(&err);
	int sv[2], again[2];

	(void)state;
	assert_non_null(l);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(tsso_fetch_loop_socket(NULL, sv[0], CURL_POLL_IN, l, NULL), 0);
	assert_true(heard(l, sv[0], sv[1]));
	assert_false(loop_readable(l, 0));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tsso_fetch_loop_socket(NULL, sv[0], CURL_POLL_REMOVE, l,
		                                        TSSO_FETCH_SOCKETP(EPOLLIN)),
		                 0);
		assert_int_equal(tsso_fetch_loop_socket(NULL, sv[0], CURL_POLL_IN, l, NULL), 0);
		assert_true(heard(l, sv[0], sv[1]));
	}
	/* Taken again for other events: now writable is heard at once. */
	assert_int_equal(
	    tsso_fetch_loop_socket(NULL, sv[0], CURL_POLL_REMOVE, l, TSSO_FETCH_SOCKETP(EPOLLIN)),
	    0);
	assert_int_equal(tsso_fetch_loop_socket(NULL, sv[0], CURL_POLL_OUT, l, NULL), 0);
	assert_true(loop_readable(l, 1000));
	assert_int_equal(
	    tsso_fetch_loop_socket(NULL, sv[0], CURL_POLL_IN, l, TSSO_FETCH_SOCKETP(EPOLLOUT)), 0);
	assert_false(loop_readable(l, 0));
	/* Parked, closed by libcurl, and the number given to a new socket. */
	assert_int_equal(
	    tsso_fetch_loop_socket(NULL, sv[0], CURL_POLL_REMOVE, l, TSSO_FETCH_SOCKETP(EPOLLIN)),
	    0);
	assert_int_equal(tsso_fetch_close_socket(NULL, sv[0]), 0);
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, again), 0);
	assert_int_equal(again[0], sv[0]);
	assert_int_equal(tsso_fetch_loop_socket(NULL, again[0], CURL_POLL_IN, l, NULL), 0);
	assert_true(heard(l, again[0], again[1]));
	close(again[0]);
	close(again[1]);
	tsso_fetch_loop_free(l);
}

/* A fetcher of one slot, a loop, and a GET of /ok: the queueing tests. */
struct one_slot {
	struct tsso_fetcher *f;
	struct tsso_fetch_loop *l;
	char ok_url[256];
	struct tsso_fetch_req req;
};

static void one_slot_init(struct one_slot *t, long connect_ms, long total_ms)
{
	struct tsso_fetcher_opts o = {.ca_file = TSSO_TEST_DATA "/oidc/ca.pem",
	                              .max_connections = 1,
	                              .connect_timeout_ms = connect_ms,
	                              .total_timeout_ms = total_ms};
	struct tsso_err err = {0};

	t->f = tsso_fetcher_new(&o, &err);
	t->l = tsso_fetch_loop_new(&err);
	assert_non_null(t->f);
	assert_non_null(t->l);
	/* url_of returns one static buffer. */
	snprintf(t->ok_url, sizeof(t->ok_url), "%s", url_of(true, "/ok"));
	t->req = (struct tsso_fetch_req){.method = "GET", .url = t->ok_url};
}

static void one_slot_free(struct one_slot *t)
{
	tsso_fetch_loop_free(t->l);
	tsso_fetcher_free(t->f);
}

/* An event thread never waits for a pool slot: a call without one is
 * queued in the loop at once and starts when a slot comes free. */
static void test_fetch_op_queued(void **state)
{
	struct one_slot t;
	struct tsso_err err = {0};
	struct tsso_fetch_resp r = {0};
	struct tsso_fetch_op *a, *b;
	int done_a = 0, done_b = 0;
	double t0;

	(void)state;
	one_slot_init(&t, 5000, 0);
	a = tsso_fetch_op_new(t.f, &t.req, &err);
	assert_non_null(a);
	t0 = mono_s();
	b = tsso_fetch_op_new(t.f, &t.req, &err);
	assert_non_null(b);
	assert_true(mono_s() - t0 < 1.0);
	assert_int_equal(tsso_fetch_loop_add(t.l, a, &done_a, &err), 0);
	assert_int_equal(tsso_fetch_loop_add(t.l, b, &done_b, &err), 0);
	assert_int_equal(tsso_fetch_loop_pending(t.l), 2);
	drive(t.l, &done_a, 1);
	/* a is done but still holds the slot (until freed): b waits. */
	assert_int_equal(done_b, 0);
	assert_int_equal(tsso_fetch_loop_pending(t.l), 1);
	assert_int_equal(tsso_fetch_op_result(a, &r, &err), 0);
	tsso_fetch_resp_free(&r);
	t0 = mono_s();
	tsso_fetch_op_free(a); /* the release wakes the loop: no 5 s wait */
	drive(t.l, &done_b, 1);
	assert_true(mono_s() - t0 < 2.0);
	assert_int_equal(tsso_fetch_op_result(b, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"ok\":true}");
	tsso_fetch_resp_free(&r);
	assert_int_equal(tsso_fetch_loop_pending(t.l), 0);
	tsso_fetch_op_free(b);
	one_slot_free(&t);
}

/* A queued call waits at most the connect timeout, as a blocking caller
 * does, then ends with fetch.busy; freeing an op that never ran gives its
 * place back. */
static void test_fetch_op_queue_expires(void **state)
{
	struct one_slot t;
	struct tsso_err err = {0};
	struct tsso_fetch_resp r = {0};
	struct tsso_fetch_op *a, *b, *c;
	int done = 0;
	double t0, dt;

	(void)state;
	one_slot_init(&t, 300, 0);
	a = tsso_fetch_op_new(t.f, &t.req, &err); /* holds the only slot, never run */
	assert_non_null(a);
	b = tsso_fetch_op_new(t.f, &t.req, &err);
	assert_non_null(b);
	t0 = mono_s();
	assert_int_equal(tsso_fetch_loop_add(t.l, b, &done, &err), 0);
	drive(t.l, &done, 1);
	dt = mono_s() - t0;
	assert_true(dt >= 0.29);
	assert_true(dt < 2.0);
	assert_int_equal(tsso_fetch_loop_pending(t.l), 0);
	assert_int_equal(tsso_fetch_op_result(b, &r, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "fetch.busy");
	tsso_fetch_op_free(b);
	/* Queued, then freed without ever running: its copy of the request
	 * goes with it (LeakSanitizer in the sanitizer build). */
	c = tsso_fetch_op_new(t.f, &t.req, &err);
	assert_non_null(c);
	tsso_fetch_op_free(c);
	tsso_fetch_op_free(a);
	/* The slot is free: a blocking call gets it at once. */
	t0 = mono_s();
	assert_int_equal(get(t.f, t.ok_url, 0, &r, &err), 0);
	assert_true(mono_s() - t0 < 1.0);
	tsso_fetch_resp_free(&r);
	one_slot_free(&t);
}

/* A slot freed by another thread (a worker's blocking call) wakes the loop
 * that holds a queued call. */
static void test_fetch_op_queue_woken(void **state)
{
	struct one_slot t;
	struct slow_call call;
	struct tsso_err err = {0};
	struct tsso_fetch_resp r = {0};
	struct tsso_fetch_op *b;
	pthread_t th;
	int done = 0;
	double t0;

	(void)state;
	one_slot_init(&t, 5000, 600);
	call = (struct slow_call){.f = t.f};
	assert_int_equal(pthread_create(&th, NULL, slow_thread, &call), 0);
	usleep(150 * 1000);
	t0 = mono_s();
	b = tsso_fetch_op_new(t.f, &t.req, &err);
	assert_non_null(b);
	assert_int_equal(tsso_fetch_loop_add(t.l, b, &done, &err), 0);
	drive(t.l, &done, 1);
	/* Started when the worker's call timed out (~0.45 s), long before the
	 * 5 s a forgotten wake-up would take. */
	assert_true(mono_s() - t0 < 3.0);
	assert_int_equal(tsso_fetch_op_result(b, &r, &err), 0);
	assert_int_equal(r.status, 200);
	tsso_fetch_resp_free(&r);
	tsso_fetch_op_free(b);
	pthread_join(th, NULL);
	assert_int_equal(call.rc, -1);
	one_slot_free(&t);
}

static void test_refresh(void **state)
{
	struct tsso_oidc_result r = {0};
	char *req;

	(void)state;
	op_remove(&op, "token.status");
	refresh_response(NULL, true);
	assert_string_equal(refresh(&r), "ok");
	assert_string_equal(r.sub, "user-1");
	assert_non_null(r.claims);
	assert_string_equal(r.access_token, "access-token-2");
	assert_string_equal(r.refresh_token, "rt-1");
	tsso_oidc_result_free(&r);
	req = op_read(&op, "token.req");
	assert_string_equal(req, "grant_type=refresh_token&refresh_token=rt-1");
	free(req);
	refresh_response(sub_other, true);
	assert_string_equal(refresh(NULL), "id_token.sub_mismatch");
	refresh_response(iss_other, true);
	assert_string_equal(refresh(NULL), "id_token.iss_mismatch");
	/* No new ID token: the access token alone, same subject. */
	refresh_response(NULL, false);
	assert_string_equal(refresh(&r), "ok");
	assert_null(r.claims);
	assert_string_equal(r.sub, "user-1");
	assert_string_equal(r.access_token, "access-token-2");
	tsso_oidc_result_free(&r);
	op_write(&op, "token", "{\"error\":\"invalid_grant\"}");
	op_write(&op, "token.status", "400");
	assert_string_equal(refresh(NULL), "token.error");
	op_remove(&op, "token.status");
}

static void test_end_session_url(void **state)
{
	struct tsso_err err = {0};
	char *url = NULL, expect[300];
	json_t *d;

	(void)state;
	assert_int_equal(tsso_idp_end_session_url(op.idp, "hint.jwt.sig",
	                                          "https://app.example.com/bye", "st", OP_NOW, &url,
	                                          &err),
	                 0);
	snprintf(
	    expect, sizeof(expect),
	    "%s/logout?id_token_hint=hint.jwt.sig&client_id=toucan-sso&post_logout_redirect_uri="
	    "https%%3A%%2F%%2Fapp.example.com%%2Fbye&state=st",
	    op.issuer);
	assert_string_equal(url, expect);
	free(url);
	url = NULL;
	assert_int_equal(tsso_idp_end_session_url(op.idp, NULL, "https://evil.example/bye", NULL,
	                                          OP_NOW, &url, &err),
	                 -1);
	assert_string_equal(tsso_err_reason(&err), "logout.redirect_not_allowed");
	assert_null(url);
	d = op_discovery(&op);
	json_object_del(d, "end_session_endpoint");
	op_write_json(&op, "discovery", d);
	assert_non_null(op_idp(&op));
	assert_int_equal(tsso_idp_end_session_url(op.idp, NULL, NULL, NULL, OP_NOW, &url, &err),
	                 -1);
	assert_string_equal(tsso_err_reason(&err), "logout.no_end_session");
	op_write_json(&op, "discovery", op_discovery(&op));
	assert_non_null(op_idp(&op));
}

static void *logout_worker(void *arg)
{
	const char *tok = arg;
	long ok = 0;

	for (int i = 0; i < 20; i++) {
		struct tsso_logout_claims c = {0};
		struct tsso_err err = {0};

		if (tsso_idp_validate_logout_token(op.idp, tok, OP_NOW, &c, &err) == 0)
			ok++;
		tsso_logout_claims_free(&c);
	}
	return (void *)ok;
}

/* Readers keep validating while the metadata and keys are swapped under them. */
static void test_concurrent_swap(void **state)
{
	json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:s, s:{s:{}}}", "iss", op.issuer, "aud",
	                      OP_CLIENT_ID, "iat", (json_int_t)OP_NOW, "jti", "j", "sub", "user-1",
	                      "events", "http://schemas.openid.net/event/backchannel-logout");
	char *tok = op_sign(&op.rs, c);
	struct tsso_err err = {0};
	pthread_t t[4];

	(void)state;
	assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW, true, &err), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, logout_worker, tok), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(tsso_idp_refresh_metadata(op.idp, OP_NOW, true, &err), 0);
	for (int i = 0; i < 4; i++) {
		void *ok;

		pthread_join(t[i], &ok);
		assert_int_equal((long)ok, 20);
	}
	free(tok);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fetch_ok_and_reuse),
	    cmocka_unit_test(test_fetch_post_and_retry_after),
	    cmocka_unit_test(test_fetch_wrong_ca),
	    cmocka_unit_test(test_fetch_missing_ca_file),
	    cmocka_unit_test(test_fetch_size_caps),
	    cmocka_unit_test(test_fetch_no_redirect),
	    cmocka_unit_test(test_fetch_timeout),
	    cmocka_unit_test(test_fetch_schemes),
	    cmocka_unit_test(test_fetch_connect_refused),
	    cmocka_unit_test(test_fetch_busy),
	    cmocka_unit_test(test_fetch_forbidden),
	    cmocka_unit_test(test_fetch_loop),
	    cmocka_unit_test(test_fetch_loop_parked),
	    cmocka_unit_test(test_fetch_loop_parked_numbers),
	    cmocka_unit_test(test_fetch_op_queued),
	    cmocka_unit_test(test_fetch_op_queue_expires),
	    cmocka_unit_test(test_fetch_op_queue_woken),
	    cmocka_unit_test(test_refresh),
	    cmocka_unit_test(test_end_session_url),
	    cmocka_unit_test(test_concurrent_swap),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
