/* Unit tests for the redis store against a real redis-server that this test
 * starts on a free loopback port (and fails without): sessions, expiry,
 * revocation, single use, locks, AUTH, a restart with recovery, and the
 * per-login / per-request command budgets counted by INFO commandstats. */
#include <netinet/in.h>
#include <pthread.h>
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
#include <hiredis/hiredis.h>

#include "session_test_util.h"
#include "src/session/redis_pool.h"
#include "src/session/store_impl.h"
#include "testlib.h"
#include "tsso/session.h"

struct redis_proc {
	pid_t pid;
	int port;
	char dir[64];
	char keys[96]; /* the session keyring file */
};

static struct redis_proc srv;

static redisContext *direct(void)
{
	struct timeval tv = {1, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", srv.port, tv);

	if (c != NULL && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Start redis-server and wait (bounded) until it answers. */
static void redis_start(void)
{
	char port[16];
	redisContext *c = NULL;
	int status;

	snprintf(port, sizeof(port), "%d", srv.port);
	srv.pid = fork();
	assert_true(srv.pid >= 0);
	if (srv.pid == 0) {
		/* Keep its start-up banner out of the test output. */
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "no", "--dir", srv.dir, "--loglevel",
		       "warning", (char *)NULL);
		fprintf(stderr, "redis-server is required (apt-get install redis-server)\n");
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (waitpid(srv.pid, &status, WNOHANG) == srv.pid)
			fail_msg("redis-server exited (missing or failed to start)");
		c = direct();
		if (c != NULL) {
			redisReply *r = redisCommand(c, "PING");

			if (r != NULL && r->type == REDIS_REPLY_STATUS) {
				freeReplyObject(r);
				redisFree(c);
				return;
			}
			if (r != NULL)
				freeReplyObject(r);
			redisFree(c);
		}
		tsso_test_sleep_ms(50);
	}
	fail_msg("redis-server did not answer within 5 s");
}

static void redis_stop(int sig)
{
	if (srv.pid > 0) {
		kill(srv.pid, sig);
		waitpid(srv.pid, NULL, 0);
		srv.pid = 0;
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(srv.dir, sizeof(srv.dir), "/tmp/tsso-redis-XXXXXX");
	if (mkdtemp(srv.dir) == NULL)
		return -1;
	srv.port = tsso_test_free_port();
	if (srv.port < 0)
		return -1;
	snprintf(srv.keys, sizeof(srv.keys), "%s/session.keys", srv.dir);
	{
		FILE *f = fopen(srv.keys, "w");

		if (f == NULL)
			return -1;
		fputs("# test keyring\n"
		      "4444444444444444444444444444444444444444444444444444444444444444\n",
		      f);
		fclose(f);
	}
	redis_start();
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	redis_stop(SIGKILL);
	snprintf(path, sizeof(path), "%s/dump.rdb", srv.dir);
	unlink(path);
	unlink(srv.keys);
	rmdir(srv.dir);
	return 0;
}

struct clock {
	int64_t now;
};

static int64_t fake_now(void *arg)
{
	return ((struct clock *)arg)->now;
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct tsso_store *redis_store(const char *url, const char *password, struct clock *c,
                                      struct tsso_err *err)
{
	char buf[128];
	struct tsso_config cfg;
	struct tsso_store *st;

	memset(&cfg, 0, sizeof(cfg));
	if (url == NULL) {
		snprintf(buf, sizeof(buf), "redis://127.0.0.1:%d/0", srv.port);
		url = buf;
	}
	cfg.session.store = TSSO_STORE_REDIS;
	cfg.session.secret_file = srv.keys;
	cfg.session.redis_url = (char *)url;
	cfg.session.redis_key_prefix = (char *)"test:";
	cfg.session.redis_pool_size = 4;
	cfg.session.redis_password.value = (char *)password;
	cfg.session.redis_password.len = password != NULL ? strlen(password) : 0;
	cfg.session.inactivity_timeout = 100;
	cfg.session.max_duration = 1000;
	st = tsso_store_new(&cfg, err);
	if (st != NULL && c != NULL)
		tsso_store_clock_set(st, fake_now, c);
	return st;
}

static struct tsso_session *mk(const char *sub, const char *sid)
{
	return sess_mk("acme", sub, sid, "eyJhbGciOiJSUzI1NiJ9.e30.sig");
}

static char *login(struct tsso_store *st, const char *sub, const char *sid)
{
	return sess_login(st, mk(sub, sid));
}

#define get_reason sess_get_reason

static long long direct_int(const char *cmd, const char *arg)
{
	redisContext *c = direct();
	redisReply *r;
	long long v;

	assert_non_null(c);
	r = redisCommand(c, "%s %s", cmd, arg);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	v = r->integer;
	freeReplyObject(r);
	redisFree(c);
	return v;
}

static void direct_cmd(const char *cmd)
{
	redisContext *c = direct();
	redisReply *r;

	assert_non_null(c);
	r = redisCommand(c, cmd);
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
}

/* Commands executed since the last CONFIG RESETSTAT, besides INFO/CONFIG. */
static long commands_since_reset(void)
{
	redisContext *c = direct();
	redisReply *r;
	long total = 0;
	const char *p;

	assert_non_null(c);
	r = redisCommand(c, "INFO commandstats");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	for (p = r->str; (p = strstr(p, "cmdstat_")) != NULL; p++) {
		const char *calls = strstr(p, "calls=");

		if (strncmp(p, "cmdstat_info:", 13) == 0 || strncmp(p, "cmdstat_config", 14) == 0)
			continue;
		assert_non_null(calls);
		total += strtol(calls + 6, NULL, 10);
	}
	freeReplyObject(r);
	redisFree(c);
	return total;
}

/* The Redis key of a session: prefix "s:" hash(id), id = the cookie's first 43 characters. */
static void session_key(char *out, size_t outlen, const char *prefix, const char *cookie)
{
	char id[TSSO_SESSION_ID_LEN + 1], h[STORE_HASH_LEN + 1];

	memcpy(id, cookie, TSSO_SESSION_ID_LEN);
	id[TSSO_SESSION_ID_LEN] = '\0';
	store_value_hash(id, h);
	snprintf(out, outlen, "%ss:%s", prefix, h);
}

static void test_sessions(void **state)
{
	struct clock c = {real_ms()};
	struct tsso_err err = {0};
	struct tsso_store *st = redis_store(NULL, NULL, &c, &err);
	struct tsso_session *s = mk("u1", "sid1"), *got = NULL;
	char *cookie = NULL, *cookie2 = NULL, *fresh = NULL, key[128];
	long long pttl;
	(void)state;

	assert_non_null(st);
	assert_string_equal(tsso_store_name(st), "redis");
	assert_int_equal(tsso_store_health(st, &err), 0);
	memset(s->id, 'A', TSSO_SESSION_ID_LEN);
	assert_int_equal(tsso_store_session_create(st, s, &cookie, &err), 0);
	assert_int_equal(tsso_store_session_create(st, s, &cookie2, &err), 0);
	assert_string_not_equal(cookie, cookie2); /* a fresh id per login */
	assert_null(strstr(cookie, "AAAAAAAAAA"));
	/* The key lives as long as the session: min(inactivity, max) = 100 s. */
	session_key(key, sizeof(key), "test:", cookie);
	pttl = direct_int("PTTL", key);
	assert_true(pttl > 99000 && pttl <= 100000);

	assert_int_equal(tsso_store_session_get(st, "acme", cookie, &got, &fresh, &err), 0);
	assert_string_equal(got->sub, "u1");
	assert_string_equal(got->sid, "sid1");
	assert_int_equal(tsso_session_set(&got->embed_token, "tok"), 0);
	assert_int_equal(tsso_store_session_update(st, got, &fresh, &err), 0);
	free(fresh);
	fresh = NULL;
	assert_string_equal(get_reason(st, "acme", cookie), "ok");
	/* Another tenant's record: the sealed record's AAD names its tenant. */
	assert_string_equal(get_reason(st, "beta", cookie), "session.forged");
	/* At rest: sealed, and the key does not reveal the session id. */
	{
		redisContext *dc = direct();
		redisReply *rep = redisCommand(dc, "GET %s", key);

		assert_int_equal(rep->type, REDIS_REPLY_STRING);
		/* Only base64url: no JSON, no token (a JWT has dots) in clear. */
		assert_int_equal(strspn(rep->str,
		                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                        "0123456789-_"),
		                 rep->len);
		assert_true(rep->len > 100);
		assert_null(strstr(key, s->id));
		/* A record moved under another session's key is refused. */
		{
			char other[128];
			redisReply *mv;

			session_key(other, sizeof(other), "test:", cookie2);
			mv = redisCommand(dc, "SET %s %s", other, rep->str);
			freeReplyObject(mv);
			assert_string_equal(get_reason(st, "acme", cookie2), "session.forged");
		}
		freeReplyObject(rep);
		rep = redisCommand(dc, "KEYS *");
		for (size_t i = 0; i < rep->elements; i++)
			assert_null(strstr(rep->element[i]->str, s->id));
		freeReplyObject(rep);
		redisFree(dc);
	}
	assert_string_equal(get_reason(st, "acme", "nonsense"), "session.none");
	cookie2[0] = cookie2[0] == 'A' ? 'B' : 'A';
	assert_string_equal(get_reason(st, "acme", cookie2), "session.not_found");

	/* The index hashes in the cookie must be the session's own. */
	{
		char *edited = strdup(cookie);
		size_t n = strlen(edited);

		edited[n - 1] = edited[n - 1] == 'A' ? 'Q' : 'A';
		assert_string_equal(get_reason(st, "acme", edited), "session.forged");
		free(edited);
	}

	/* Sliding window: a touch rewrites the key with a new TTL. */
	c.now += 50000;
	assert_string_equal(get_reason(st, "acme", cookie), "ok");
	pttl = direct_int("PTTL", key);
	assert_true(pttl > 99000 && pttl <= 100000);
	c.now += 100001;
	assert_string_equal(get_reason(st, "acme", cookie), "session.expired");

	/* Logout deletes the key. */
	c.now -= 100001;
	assert_int_equal(tsso_store_session_delete(st, got, &err), 0);
	assert_int_equal(direct_int("EXISTS", key), 0);
	assert_string_equal(get_reason(st, "acme", cookie), "session.not_found");
	assert_int_equal(tsso_store_session_update(st, got, &fresh, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "session.not_found");

	tsso_session_free(got);
	tsso_session_free(s);
	free(cookie);
	free(cookie2);
	tsso_store_free(st);
}

/* A record sealed with a key since removed from the keyring is refused by name. */
static void test_removed_key(void **state)
{
	char keys[] = "/tmp/tsso-redis-keys2-XXXXXX", url[64];
	int fd = mkstemp(keys);
	struct tsso_config cfg;
	struct tsso_err err = {0};
	struct tsso_store *a, *b;
	char *cookie;
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(
	    write(fd, "5555555555555555555555555555555555555555555555555555555555555555\n", 65),
	    65);
	close(fd);
	a = redis_store(NULL, NULL, NULL, &err);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv.port);
	cfg.session.store = TSSO_STORE_REDIS;
	cfg.session.secret_file = keys;
	cfg.session.redis_url = url;
	cfg.session.redis_key_prefix = (char *)"test:";
	b = tsso_store_new(&cfg, &err);
	unlink(keys);
	assert_non_null(a);
	assert_non_null(b);
	cookie = login(a, "u1", NULL);
	assert_string_equal(get_reason(a, "acme", cookie), "ok");
	assert_string_equal(get_reason(b, "acme", cookie), "session.unknown_key");
	free(cookie);
	tsso_store_free(a);
	tsso_store_free(b);
}

static void test_real_expiry(void **state)
{
	struct tsso_err err = {0};
	struct tsso_config cfg;
	struct tsso_store *st;
	char url[64], key[128], *cookie;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv.port);
	cfg.session.store = TSSO_STORE_REDIS;
	cfg.session.secret_file = srv.keys;
	cfg.session.redis_url = url;
	cfg.session.inactivity_timeout = 1;
	cfg.session.max_duration = 10;
	st = tsso_store_new(&cfg, &err);
	assert_non_null(st);
	cookie = login(st, "u1", NULL);
	session_key(key, sizeof(key), "tsso:", cookie); /* the default prefix */
	assert_int_equal(direct_int("EXISTS", key), 1);
	tsso_test_sleep_ms(1100);
	/* Redis dropped it by itself. */
	assert_int_equal(direct_int("EXISTS", key), 0);
	assert_string_equal(get_reason(st, "acme", cookie), "session.not_found");
	free(cookie);
	tsso_store_free(st);
}

static void test_revocation(void **state)
{
	struct clock c = {real_ms()};
	struct tsso_err err = {0};
	struct tsso_store *a = redis_store(NULL, NULL, &c, &err);
	struct tsso_store *b = redis_store(NULL, NULL, &c, &err); /* another instance */
	char *x = login(a, "u1", "X"), *y = login(a, "u1", "Y"), *z = login(a, "u2", NULL);
	(void)state;

	/* Back-channel logout reaches the session through any instance. */
	assert_int_equal(tsso_store_end_by_sid(b, "acme", "X", &err), 0);
	assert_string_equal(get_reason(a, "acme", x), "session.revoked");
	assert_string_equal(get_reason(a, "acme", y), "ok");
	assert_int_equal(tsso_store_end_by_sub(b, "beta", "u1", &err), 0);
	assert_string_equal(get_reason(a, "acme", y), "ok");
	assert_int_equal(tsso_store_end_by_sub(b, "acme", "u1", &err), 0);
	assert_string_equal(get_reason(a, "acme", y), "session.revoked");
	assert_string_equal(get_reason(a, "acme", z), "ok");
	/* A login after the logout (beyond the clock-skew margin) is fine. */
	c.now += 1001;
	free(x);
	x = login(a, "u1", "X");
	assert_string_equal(get_reason(b, "acme", x), "ok");
	free(x);
	free(y);
	free(z);
	tsso_store_free(a);
	tsso_store_free(b);
}

static void test_claim_once_and_lock(void **state)
{
	struct tsso_err err = {0};
	struct tsso_store *a = redis_store(NULL, NULL, NULL, &err);
	struct tsso_store *b = redis_store(NULL, NULL, NULL, &err);
	const char *odd = "jti:acme:%s %n\r\n*1\r\n$4\r\nPING\r\n";
	char *t1 = NULL, *t2 = NULL;
	(void)state;

	assert_int_equal(tsso_store_claim_once(a, "state:1", 200, &err), 0);
	assert_int_equal(tsso_store_claim_once(b, "state:1", 200, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.replayed");
	/* Keys are binary-safe arguments, never command text. */
	assert_int_equal(tsso_store_claim_once(a, odd, 200, &err), 0);
	assert_int_equal(tsso_store_claim_once(b, odd, 200, &err), -1);
	tsso_test_sleep_ms(250);
	assert_int_equal(tsso_store_claim_once(b, "state:1", 200, &err), 0);

	assert_int_equal(tsso_store_lock(a, "refresh:s1", 300, &t1, &err), 0);
	assert_int_equal(tsso_store_lock(b, "refresh:s1", 300, &t2, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.locked");
	assert_int_equal(tsso_store_unlock(b, "refresh:s1", "not-the-owner", &err), 0);
	assert_int_equal(tsso_store_lock(b, "refresh:s1", 300, &t2, &err), -1);
	assert_int_equal(tsso_store_unlock(a, "refresh:s1", t1, &err), 0);
	assert_int_equal(tsso_store_lock(b, "refresh:s1", 300, &t2, &err), 0);
	/* The lease expires; the late owner cannot release the next one's. */
	tsso_test_sleep_ms(350);
	free(t1);
	assert_int_equal(tsso_store_lock(a, "refresh:s1", 300, &t1, &err), 0);
	assert_int_equal(tsso_store_unlock(b, "refresh:s1", t2, &err), 0);
	free(t2);
	t2 = NULL;
	assert_int_equal(tsso_store_lock(b, "refresh:s1", 300, &t2, &err), -1);
	free(t1);
	tsso_store_free(a);
	tsso_store_free(b);
}

/* Issue 6: a login costs at most 4 commands, a request at most 1. */
static void test_command_budget(void **state)
{
	struct clock c = {real_ms()};
	struct tsso_err err = {0};
	struct tsso_store *st = redis_store(NULL, NULL, &c, &err);
	char *cookie;
	long n;
	(void)state;

	assert_int_equal(tsso_store_health(st, &err), 0); /* warm the pool */
	direct_cmd("CONFIG RESETSTAT");
	/* The callback: login state single use, then the session. */
	assert_int_equal(tsso_store_claim_once(st, "state:budget", 600000, &err), 0);
	cookie = login(st, "u1", "sid1");
	n = commands_since_reset();
	print_message("redis commands per login: %ld\n", n);
	assert_true(n <= 4);
	assert_int_equal(n, 2);

	direct_cmd("CONFIG RESETSTAT");
	for (int i = 0; i < 10; i++)
		assert_string_equal(get_reason(st, "acme", cookie), "ok");
	n = commands_since_reset();
	print_message("redis commands for 10 requests: %ld\n", n);
	assert_int_equal(n, 10);
	/* The inactivity refresh costs one write per touch period, not per request. */
	direct_cmd("CONFIG RESETSTAT");
	c.now += 20000;
	for (int i = 0; i < 10; i++)
		assert_string_equal(get_reason(st, "acme", cookie), "ok");
	n = commands_since_reset();
	assert_int_equal(n, 11);
	free(cookie);
	tsso_store_free(st);
}

static void test_restart_and_recovery(void **state)
{
	struct tsso_err err = {0};
	struct tsso_store *st = redis_store(NULL, NULL, NULL, &err);
	char *cookie = login(st, "u1", "sid1");
	const char *r = NULL;
	(void)state;

	/* A clean restart that keeps the data (as a persistent Redis would). */
	direct_cmd("SHUTDOWN SAVE");
	waitpid(srv.pid, NULL, 0);
	srv.pid = 0;
	assert_string_equal(get_reason(st, "acme", cookie), "store.unavailable");
	assert_int_equal(tsso_store_health(st, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.unavailable");
	assert_non_null(strstr(err.msg, "redis unreachable"));
	assert_int_equal(tsso_store_claim_once(st, "state:down", 1000, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.unavailable");
	/* Logins fail closed while Redis is away. */
	{
		struct tsso_session *s = mk("u2", NULL);
		char *c = NULL;

		assert_int_equal(tsso_store_session_create(st, s, &c, &err), -1);
		assert_string_equal(tsso_err_reason(&err), "store.unavailable");
		assert_null(c);
		tsso_session_free(s);
	}
	redis_start();
	/* Recovery without a restart of ours, within the backoff ceiling. */
	for (int i = 0; i < 140; i++) {
		r = get_reason(st, "acme", cookie);
		if (strcmp(r, "ok") == 0)
			break;
		tsso_test_sleep_ms(50);
	}
	assert_string_equal(r, "ok");
	assert_int_equal(tsso_store_health(st, &err), 0);
	free(cookie);
	cookie = login(st, "u3", NULL);
	assert_string_equal(get_reason(st, "acme", cookie), "ok");
	free(cookie);
	tsso_store_free(st);
}

static void test_auth(void **state)
{
	struct tsso_err err = {0};
	struct tsso_store *st;
	redisContext *c;
	redisReply *r;
	char *cookie;
	(void)state;

	direct_cmd("CONFIG SET requirepass s3cr3t-pw");
	st = redis_store(NULL, "s3cr3t-pw", NULL, &err);
	assert_non_null(st);
	cookie = login(st, "u1", NULL);
	assert_string_equal(get_reason(st, "acme", cookie), "ok");
	tsso_store_free(st);
	st = redis_store(NULL, "wrong-pw", NULL, &err);
	assert_int_equal(tsso_store_health(st, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.unavailable");
	assert_non_null(strstr(err.msg, "AUTH"));
	assert_null(strstr(err.msg, "wrong-pw"));
	tsso_store_free(st);
	st = redis_store(NULL, NULL, NULL, &err);
	assert_string_equal(get_reason(st, "acme", cookie), "store.unavailable");
	tsso_store_free(st);
	c = direct();
	r = redisCommand(c, "AUTH %s", "s3cr3t-pw");
	freeReplyObject(r);
	r = redisCommand(c, "CONFIG SET requirepass %s", "");
	freeReplyObject(r);
	redisFree(c);
	free(cookie);
}

/* The cookie store with session.redis_url: its revocation list and single-use
 * markers are shared, at one command per request. */
static void test_cookie_store_on_redis(void **state)
{
	char keys[] = "/tmp/tsso-redis-keys-XXXXXX", url[64];
	int fd = mkstemp(keys);
	struct tsso_config cfg;
	struct tsso_err err = {0};
	struct tsso_store *a, *b;
	struct clock c = {real_ms()};
	char *cookie = NULL, *cookie2 = NULL;
	struct tsso_session *s = mk("u1", "X");
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(write(fd,
	                       "33333333333333333333333333333333"
	                       "33333333333333333333333333333333\n",
	                       65),
	                 65);
	close(fd);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv.port);
	cfg.session.store = TSSO_STORE_COOKIE;
	cfg.session.secret_file = keys;
	cfg.session.redis_url = url;
	a = tsso_store_new(&cfg, &err);
	b = tsso_store_new(&cfg, &err);
	unlink(keys);
	assert_non_null(a);
	assert_non_null(b);
	tsso_store_clock_set(a, fake_now, &c);
	tsso_store_clock_set(b, fake_now, &c);
	assert_string_equal(tsso_store_name(a), "cookie");
	assert_int_equal(tsso_store_health(a, &err), 0);

	direct_cmd("CONFIG RESETSTAT");
	assert_int_equal(tsso_store_claim_once(a, "state:c1", 60000, &err), 0);
	assert_int_equal(tsso_store_session_create(a, s, &cookie, &err), 0);
	assert_int_equal(commands_since_reset(), 1);
	direct_cmd("CONFIG RESETSTAT");
	assert_string_equal(get_reason(b, "acme", cookie), "ok");
	assert_int_equal(commands_since_reset(), 1);
	assert_int_equal(tsso_store_claim_once(b, "state:c1", 60000, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.replayed");

	/* A logout on one instance ends the cookie on the other. */
	assert_int_equal(tsso_store_end_by_sid(a, "acme", "X", &err), 0);
	assert_string_equal(get_reason(b, "acme", cookie), "session.revoked");
	c.now += 1001;
	assert_int_equal(tsso_store_session_create(a, s, &cookie2, &err), 0);
	assert_string_equal(get_reason(b, "acme", cookie2), "ok");
	assert_int_equal(tsso_store_session_delete(b, s, &err), 0);
	assert_string_equal(get_reason(a, "acme", cookie2), "session.revoked");
	tsso_session_free(s);
	free(cookie);
	free(cookie2);
	tsso_store_free(a);
	tsso_store_free(b);
}

struct worker {
	struct tsso_store *st;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 100; i++) {
		struct tsso_session *s = mk("u-thread", NULL), *got = NULL;
		struct tsso_err err = {0};
		char *cookie = NULL, *fresh = NULL;

		if (tsso_store_session_create(w->st, s, &cookie, &err) < 0 ||
		    tsso_store_session_get(w->st, "acme", cookie, &got, &fresh, &err) < 0)
			w->failures++;
		tsso_session_free(got);
		tsso_session_free(s);
		free(cookie);
		free(fresh);
	}
	return NULL;
}

/* Four threads through a pool of two connections. */
static void test_pool_threads(void **state)
{
	struct tsso_err err = {0};
	char url[64];
	struct tsso_config cfg;
	struct tsso_store *st;
	struct worker w[4];
	pthread_t th[4];
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv.port);
	cfg.session.store = TSSO_STORE_REDIS;
	cfg.session.secret_file = srv.keys;
	cfg.session.redis_url = url;
	cfg.session.redis_pool_size = 2;
	st = tsso_store_new(&cfg, &err);
	assert_non_null(st);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){st, 0};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	tsso_store_free(st);
}

/* Several commands in one round trip, replies in order. */
static void test_pipeline(void **state)
{
	struct redis_pool_opts o = {.host = "127.0.0.1",
	                            .port = srv.port,
	                            .size = 1,
	                            .connect_timeout_ms = 1000,
	                            .command_timeout_ms = 1000};
	struct tsso_err err = {0};
	struct redis_pool *p = redis_pool_new(&o, &err);
	const char *set[] = {"SET", "pk", "v\r\n*1"}, *get[] = {"GET", "pk"},
	           *del[] = {"DEL", "pk"};
	const size_t setl[] = {3, 2, 5}, getl[] = {3, 2}, dell[] = {3, 2};
	const char **const argv[] = {set, get, del};
	const size_t *const argvlen[] = {setl, getl, dell};
	const int argc[] = {3, 2, 2};
	redisReply *rep[3] = {NULL};
	(void)state;

	assert_non_null(p);
	direct_cmd("CONFIG RESETSTAT");
	assert_int_equal(redis_pool_pipeline(p, 3, argc, argv, argvlen, rep, &err), 0);
	assert_int_equal(rep[0]->type, REDIS_REPLY_STATUS);
	assert_int_equal(rep[1]->type, REDIS_REPLY_STRING);
	assert_int_equal(rep[1]->len, 5);
	assert_memory_equal(rep[1]->str, "v\r\n*1", 5); /* binary-safe argument */
	assert_int_equal(rep[2]->type, REDIS_REPLY_INTEGER);
	assert_int_equal(rep[2]->integer, 1);
	assert_int_equal(commands_since_reset(), 3);
	for (int i = 0; i < 3; i++)
		freeReplyObject(rep[i]);
	redis_pool_free(p);
}

static void test_config_refusals(void **state)
{
	static const char *const bad[] = {
	    "rediss://user:pw@127.0.0.1",
	    "redis://user:pw@127.0.0.1",
	    "redis://:pw@127.0.0.1/0",
	    "http://127.0.0.1",
	    "redis://",
	    "redis://127.0.0.1:0",
	    "redis://127.0.0.1:70000",
	    "redis://127.0.0.1:12x",
	    "redis://127.0.0.1/db",
	    "redis://127.0.0.1/0 junk",
	    "redis://[::1",
	    "redis://127.0.0.1/999",
	};
	struct tsso_err err = {0};
	struct tsso_store *st;
	(void)state;

	for (size_t i = 0; i < TSSO_ARRAY_LEN(bad); i++) {
		assert_null(redis_store(bad[i], NULL, NULL, &err));
		assert_string_equal(tsso_err_reason(&err), "store.config");
	}
	{
		struct tsso_config cfg;
		char prefix[80];

		memset(&cfg, 0, sizeof(cfg));
		cfg.session.store = TSSO_STORE_REDIS;
		cfg.session.secret_file = srv.keys;
		assert_null(tsso_store_new(&cfg, &err)); /* no URL */
		assert_string_equal(tsso_err_reason(&err), "store.config");
		assert_non_null(strstr(err.msg, "redis_url"));
		cfg.session.redis_url = (char *)"redis://127.0.0.1";
		cfg.session.redis_pool_size = 257;
		assert_null(tsso_store_new(&cfg, &err));
		assert_string_equal(tsso_err_reason(&err), "store.config");
		assert_non_null(strstr(err.msg, "redis_pool_size"));
		cfg.session.redis_pool_size = 0;
		memset(prefix, 'p', sizeof(prefix) - 1);
		prefix[sizeof(prefix) - 1] = '\0';
		cfg.session.redis_key_prefix = prefix;
		assert_null(tsso_store_new(&cfg, &err));
		assert_string_equal(tsso_err_reason(&err), "store.config");
		assert_non_null(strstr(err.msg, "redis_key_prefix"));
		cfg.session.redis_key_prefix = NULL;
		cfg.session.redis_ca_file = (char *)"/etc/ssl/ca.pem";
		assert_null(tsso_store_new(&cfg, &err));
		assert_string_equal(tsso_err_reason(&err), "store.config");
		assert_non_null(strstr(err.msg, "rediss://"));
		/* Records are sealed at rest: the keyring is required. */
		cfg.session.redis_ca_file = NULL;
		cfg.session.secret_file = NULL;
		assert_null(tsso_store_new(&cfg, &err));
		assert_string_equal(tsso_err_reason(&err), "store.config");
		assert_non_null(strstr(err.msg, "secret_file"));
	}
	/* Accepted forms (connection is lazy). */
	st = redis_store("redis://[::1]:6379/2", NULL, NULL, &err);
	assert_non_null(st);
	tsso_store_free(st);
	st = redis_store("redis://localhost", NULL, NULL, &err);
	assert_non_null(st);
	tsso_store_free(st);
}

/* Each test starts from an empty database. */
static int flush(void **state)
{
	(void)state;
	direct_cmd("FLUSHALL");
	return 0;
}

#define T(f) cmocka_unit_test_setup(f, flush)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_config_refusals),     T(test_sessions),       T(test_real_expiry),
	    T(test_removed_key),         T(test_pipeline),       T(test_revocation),
	    T(test_claim_once_and_lock), T(test_command_budget), T(test_cookie_store_on_redis),
	    T(test_pool_threads),        T(test_auth),           T(test_restart_and_recovery),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
