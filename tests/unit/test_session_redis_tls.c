/* Unit tests for the redis store over TLS (rediss://, src/session/redis_tls.c)
 * against real redis-servers with TLS only (no plaintext port) that this test
 * starts on free loopback ports, with certificates it makes with the openssl
 * command: sessions with AUTH, a wrong CA and a certificate for another name
 * refused, and recovery after a restart. */
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "session_test_util.h"
#include "testlib.h"
#include "tsso/session.h"

#define PASSWORD "tls-s3cr3t-pw"

struct redis_proc {
	pid_t pid;
	int port;
};

static char dir[64];
static char keys[128];
static struct redis_proc good;  /* certificate for localhost */
static struct redis_proc other; /* certificate for other.example, same CA */

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void redis_start(struct redis_proc *r, const char *name)
{
	char port[16], cert[128], key[128], ca[128];

	snprintf(port, sizeof(port), "%d", r->port);
	snprintf(cert, sizeof(cert), "%s/%s.crt", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execlp("redis-server", "redis-server", "--port", "0", "--tls-port", port, "--bind",
		       "127.0.0.1", "--tls-cert-file", cert, "--tls-key-file", key,
		       "--tls-ca-cert-file", ca, "--tls-auth-clients", "no", "--requirepass",
		       PASSWORD, "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel",
		       "warning", (char *)NULL);
		_exit(127);
	}
	if (tsso_test_wait_listen(r->port, 5000) < 0)
		fail_msg("redis-server (TLS) did not listen within 5 s");
}

static void redis_stop(struct redis_proc *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
}

/* A CA, a certificate for localhost and one for other.example signed by it,
 * and an unrelated CA. */
static int make_certs(void)
{
	static const char *const names[][2] = {{"localhost", "DNS:localhost"},
	                                       {"other", "DNS:other.example"}};

	if (sh("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca "
	       "-keyout ca.key -out ca.crt >/dev/null 2>&1 && "
	       "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=wrong-ca "
	       "-keyout wrong.key -out wrong.crt >/dev/null 2>&1",
	       dir) != 0)
		return -1;
	for (size_t i = 0; i < 2; i++)
		if (sh("cd %s && openssl req -newkey rsa:2048 -nodes -subj /CN=%s -keyout %s.key "
		       "-out %s.csr >/dev/null 2>&1 && printf 'subjectAltName=%s\\n' > %s.ext && "
		       "openssl x509 -req -in %s.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		       "-days 1 -extfile %s.ext -out %s.crt >/dev/null 2>&1 && chmod 644 %s.key",
		       dir, names[i][0], names[i][0], names[i][0], names[i][1], names[i][0],
		       names[i][0], names[i][0], names[i][0], names[i][0]) != 0)
			return -1;
	return 0;
}

static int setup(void **state)
{
	FILE *f;

	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as serve does (it blocks SIGPIPE) */
	snprintf(dir, sizeof(dir), "/tmp/tsso-redistls-XXXXXX");
	if (mkdtemp(dir) == NULL || make_certs() < 0)
		return -1;
	snprintf(keys, sizeof(keys), "%s/session.keys", dir);
	f = fopen(keys, "w");
	if (f == NULL)
		return -1;
	fputs("4444444444444444444444444444444444444444444444444444444444444444\n", f);
	fclose(f);
	good.port = tsso_test_free_port();
	other.port = tsso_test_free_port();
	if (good.port < 0 || other.port < 0)
		return -1;
	redis_start(&good, "localhost");
	redis_start(&other, "other");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	redis_stop(&good);
	redis_stop(&other);
	sh("rm -rf %s", dir);
	return 0;
}

static struct tsso_store *tls_store(const char *host, int port, const char *ca,
                                    const char *password, struct tsso_err *err)
{
	char url[128], ca_file[128];
	struct tsso_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(url, sizeof(url), "rediss://%s:%d/0", host, port);
	snprintf(ca_file, sizeof(ca_file), "%s/%s", dir, ca);
	cfg.session.store = TSSO_STORE_REDIS;
	cfg.session.secret_file = keys;
	cfg.session.redis_url = url;
	cfg.session.redis_ca_file = ca_file;
	cfg.session.redis_key_prefix = (char *)"tls:";
	cfg.session.redis_pool_size = 2;
	cfg.session.redis_password.value = (char *)password;
	cfg.session.redis_password.len = password != NULL ? strlen(password) : 0;
	cfg.session.inactivity_timeout = 100;
	cfg.session.max_duration = 1000;
	return tsso_store_new(&cfg, err);
}

static char *login(struct tsso_store *st, const char *sub)
{
	return sess_login(st, sess_mk("acme", sub, NULL, NULL));
}

static const char *get_reason(struct tsso_store *st, const char *cookie)
{
	return sess_get_reason(st, "acme", cookie);
}

static void test_sessions_over_tls(void **state)
{
	struct tsso_err err = {0};
	struct tsso_store *st = tls_store("localhost", good.port, "ca.crt", PASSWORD, &err);
	char *cookie;
	(void)state;

	assert_non_null(st);
	assert_int_equal(tsso_store_health(st, &err), 0);
	cookie = login(st, "u1");
	assert_string_equal(get_reason(st, cookie), "ok");
	assert_int_equal(tsso_store_claim_once(st, "state:tls", 1000, &err), 0);
	assert_int_equal(tsso_store_claim_once(st, "state:tls", 1000, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.replayed");
	free(cookie);
	tsso_store_free(st);
	/* AUTH goes through the tunnel: a wrong password is refused. */
	st = tls_store("localhost", good.port, "ca.crt", "wrong-pw", &err);
	assert_non_null(st);
	assert_int_equal(tsso_store_health(st, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.unavailable");
	assert_non_null(strstr(err.msg, "AUTH refused"));
	assert_null(strstr(err.msg, "wrong-pw"));
	tsso_store_free(st);
}

static void test_wrong_ca(void **state)
{
	struct tsso_err err = {0};
	struct tsso_store *st = tls_store("localhost", good.port, "wrong.crt", PASSWORD, &err);
	(void)state;

	assert_non_null(st);
	assert_int_equal(tsso_store_health(st, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.unavailable");
	assert_non_null(strstr(err.msg, "TLS certificate refused"));
	tsso_store_free(st);
	/* A CA file with no certificate in it is a configuration error. */
	assert_null(tls_store("localhost", good.port, "session.keys", PASSWORD, &err));
	assert_string_equal(tsso_err_reason(&err), "store.config");
	assert_non_null(strstr(err.msg, "redis_ca_file"));
}

static void test_wrong_name(void **state)
{
	struct tsso_err err = {0};
	struct tsso_store *st;
	(void)state;

	/* Trusted CA, but the certificate names other.example. */
	st = tls_store("localhost", other.port, "ca.crt", PASSWORD, &err);
	assert_non_null(st);
	assert_int_equal(tsso_store_health(st, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.unavailable");
	assert_non_null(strstr(err.msg, "TLS certificate refused"));
	tsso_store_free(st);
	/* An IP literal is checked against iPAddress names: none here. */
	st = tls_store("127.0.0.1", good.port, "ca.crt", PASSWORD, &err);
	assert_non_null(st);
	assert_int_equal(tsso_store_health(st, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.unavailable");
	assert_non_null(strstr(err.msg, "TLS certificate refused"));
	tsso_store_free(st);
}

static void test_restart(void **state)
{
	struct tsso_err err = {0};
	struct tsso_store *st = tls_store("localhost", good.port, "ca.crt", PASSWORD, &err);
	char *cookie;
	const char *r = NULL;
	(void)state;

	assert_non_null(st);
	cookie = login(st, "u2");
	assert_string_equal(get_reason(st, cookie), "ok");
	redis_stop(&good); /* the data is gone with it (no persistence) */
	assert_string_equal(get_reason(st, cookie), "store.unavailable");
	redis_start(&good, "localhost");
	for (int i = 0; i < 140; i++) {
		r = get_reason(st, cookie);
		if (strcmp(r, "store.unavailable") != 0)
			break;
		tsso_test_sleep_ms(50);
	}
	assert_string_equal(r, "session.not_found");
	free(cookie);
	cookie = login(st, "u3");
	assert_string_equal(get_reason(st, cookie), "ok");
	free(cookie);
	tsso_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sessions_over_tls),
	    cmocka_unit_test(test_wrong_ca),
	    cmocka_unit_test(test_wrong_name),
	    cmocka_unit_test(test_restart),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
