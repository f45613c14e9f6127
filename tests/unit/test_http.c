/*
 * Unit tests for src/http: the real server started in-process on a loopback
 * port, fed raw requests over a socket: request limits, methods, malformed
 * input, response headers. No handler sees a request over a limit.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tsso/app.h"
#include "tsso/config.h"
#include "tsso/server.h"

static struct tsso_app app;
static struct tsso_server *srv;
static char dir[256];

static void write_file(const char *rel, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	chmod(path, 0600);
}

static int setup(void **state)
{
	struct tsso_problems p = {0};
	struct tsso_config *cfg;
	struct tsso_runtime *rt;
	struct tsso_err err = {0};
	char path[512];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tsso-test-http-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t", dir);
	mkdir(path, 0700);
	write_file("s.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
	write_file("k", "api-key\n");
	write_file("main.json",
	           "{\"mode\":\"development\",\"listen\":\"127.0.0.1:0\",\"public_url\":"
	           "\"http://127.0.0.1:1/sso\",\"tenants_dir\":\"t\",\"session\":{"
	           "\"store\":\"memory\",\"secret_file\":\"s.key\"}}");
	write_file("t/acme.json",
	           "{\"issuer\":\"http://127.0.0.1:1/idp\",\"client_id\":\"c\","
	           "\"client_secret\":\"s\",\"embed\":{\"scheme\":\"api\","
	           "\"toucan_url\":\"http://127.0.0.1:1\",\"api_key_file\":\"../k\"}}");
	snprintf(path, sizeof(path), "%s/main.json", dir);
	cfg = tsso_config_load(path, &p);
	for (size_t i = 0; i < p.n; i++)
		fprintf(stderr, "%s\n", p.v[i]);
	assert_non_null(cfg);
	rt = tsso_runtime_new(cfg, NULL, &p, &err);
	for (size_t i = 0; i < p.n; i++)
		fprintf(stderr, "%s\n", p.v[i]);
	tsso_problems_free(&p);
	assert_non_null(rt);
	assert_int_equal(tsso_app_init(&app, path, rt), 0);
	srv = tsso_server_start(&app, &err);
	assert_non_null(srv);
	assert_true(tsso_server_port(srv) > 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	tsso_server_stop(srv);
	tsso_app_fini(&app);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Send raw bytes, return what comes back (at most cap bytes, 5 s at most). */
static char *exchange(const char *req, size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(tsso_server_port(srv))};
	struct timeval tv = {.tv_sec = 5};
	size_t cap = 65536, n = 0, off = 0;
	char *out = calloc(1, cap + 1);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t r;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (off < len && (r = send(fd, req + off, len - off, MSG_NOSIGNAL)) > 0)
		off += (size_t)r;
	shutdown(fd, SHUT_WR);
	while (n < cap && (r = recv(fd, out + n, cap - n, 0)) > 0)
		n += (size_t)r;
	close(fd);
	return out;
}

static int status_of(const char *resp)
{
	int st = 0;

	if (sscanf(resp, "HTTP/1.%*d %d", &st) != 1)
		return 0;
	return st;
}

static void expect_status(const char *req, int want)
{
	char *out = exchange(req, strlen(req));

	if (status_of(out) != want)
		fail_msg("want %d for %.60s..., got: %.200s", want, req, out);
	free(out);
}

static void test_routes_and_methods(void **state)
{
	char *out;

	(void)state;
	{
		static const char req[] =
		    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

		out = exchange(req, strlen(req));
	}
	assert_int_equal(status_of(out), 200);
	assert_non_null(strstr(out, "Cache-Control: no-store"));
	assert_non_null(strstr(out, "X-Content-Type-Options: nosniff"));
	assert_non_null(strstr(out, "X-Request-Id: "));
	free(out);
	expect_status("GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404);
	expect_status("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: "
	              "close\r\n\r\n",
	              405);
	expect_status("DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405);
	expect_status("GET /sso/nobody/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	              404);
	expect_status("GET /sso/acme/embed-token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	              401);
	expect_status("PUT /sso/acme/embed-token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	              405);
}

static void test_limits(void **state)
{
	char *big = malloc(80000);
	size_t n;

	(void)state;
	/* URL over TSSO_HTTP_MAX_URL */
	n = (size_t)snprintf(big, 80000, "GET /healthz?a=");
	memset(big + n, 'a', 5000);
	n += 5000;
	n += (size_t)snprintf(big + n, 80000 - n, " HTTP/1.1\r\nHost: x\r\n\r\n");
	{
		char *out = exchange(big, n);
		int st = status_of(out);

		assert_true(st == 414 || st == 431);
		free(out);
	}
	/* Body over TSSO_HTTP_MAX_BODY, announced */
	expect_status("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", 413);
	/* Header block over the memory limit */
	n = (size_t)snprintf(big, 80000, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(big + n, 'b', 40000);
	n += 40000;
	n += (size_t)snprintf(big + n, 80000 - n, "\r\n\r\n");
	{
		char *out = exchange(big, n);

		assert_int_equal(status_of(out), 431);
		free(out);
	}
	/* Too many header fields */
	n = (size_t)snprintf(big, 80000, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 80; i++)
		n += (size_t)snprintf(big + n, 80000 - n, "X-H%d: v\r\n", i);
	n += (size_t)snprintf(big + n, 80000 - n, "Connection: close\r\n\r\n");
	{
		char *out = exchange(big, n);

		assert_int_equal(status_of(out), 431);
		free(out);
	}
	/* Too many query parameters */
	n = (size_t)snprintf(big, 80000, "GET /healthz?");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(big + n, 80000 - n, "p%d=1&", i);
	n += (size_t)snprintf(big + n, 80000 - n,
	                      " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	{
		char *out = exchange(big, n);

		assert_int_equal(status_of(out), 414);
		free(out);
	}
	free(big);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
	    "GARBAGE\r\n\r\n",
	    "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
	    "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
	    "POST /sso/acme/callback HTTP/1.1\r\nHost: x\r\nContent-Type: "
	    "application/x-www-form-urlencoded\r\nContent-Length: 5\r\nConnection: "
	    "close\r\n\r\na=%zz",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out = exchange(bad[i], strlen(bad[i]));
		int st = status_of(out);

		if (!(st == 0 || (st >= 400 && st < 600)))
			fail_msg("%s -> %d", bad[i], st);
		/* Nothing of the request comes back. */
		assert_null(strstr(out, "%zz"));
		assert_null(strstr(out, "GARBAGE"));
		free(out);
	}
	expect_status("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200);
}

/* The client address as it is logged: the same text as inet_ntop, for
 * every byte value in every position. */
static void test_ipv4_text(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 256; v++) {
		for (int pos = 0; pos < 4; pos++) {
			unsigned char a[4] = {10, 200, 7, 99};
			char ours[INET_ADDRSTRLEN], theirs[INET_ADDRSTRLEN];

			a[pos] = (unsigned char)v;
			memset(ours, 'x', sizeof(ours));
			tsso_server_ipv4_text(a, ours);
			assert_non_null(inet_ntop(AF_INET, a, theirs, sizeof(theirs)));
			assert_string_equal(ours, theirs);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_routes_and_methods),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_ipv4_text),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
