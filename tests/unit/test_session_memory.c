/* Unit tests for the memory store: lookups, fixation, expiry, eviction,
 * back-channel indexes, single use, locks, threads and memory per session. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session_test_util.h"
#include "tsso/session.h"

struct clock {
	int64_t now;
};

static int64_t fake_now(void *arg)
{
	return ((struct clock *)arg)->now;
}

static struct tsso_store *mem_store(long max, struct clock *c)
{
	struct tsso_config cfg;
	struct tsso_err err = {0};
	struct tsso_store *st;

	memset(&cfg, 0, sizeof(cfg));
	cfg.session.store = TSSO_STORE_MEMORY;
	cfg.session.inactivity_timeout = 100;
	cfg.session.max_duration = 1000;
	cfg.session.memory_max_sessions = max;
	st = tsso_store_new(&cfg, &err);
	assert_non_null(st);
	assert_string_equal(tsso_store_name(st), "memory");
	if (c != NULL)
		tsso_store_clock_set(st, fake_now, c);
	return st;
}

static struct tsso_session *mk(const char *tenant, const char *sub, const char *sid)
{
	return sess_mk(tenant, sub, sid, "eyJhbGciOi.x.y");
}

/* Create and return the cookie value. */
static char *login(struct tsso_store *st, const char *tenant, const char *sub, const char *sid)
{
	return sess_login(st, mk(tenant, sub, sid));
}

#define get_reason sess_get_reason

static void test_config_refusals(void **state)
{
	struct tsso_config cfg;
	struct tsso_err err = {0};
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.session.store = TSSO_STORE_MEMORY;
	cfg.session.memory_max_sessions = -1;
	assert_null(tsso_store_new(&cfg, &err));
	assert_string_equal(tsso_err_reason(&err), "store.config");
	cfg.session.memory_max_sessions = 0;
	cfg.session.max_duration = 400L * 86400;
	assert_null(tsso_store_new(&cfg, &err));
	assert_string_equal(tsso_err_reason(&err), "store.config");
	cfg.session.max_duration = 0;
	cfg.session.store = (enum tsso_store_kind)7;
	assert_null(tsso_store_new(&cfg, &err));
	assert_string_equal(tsso_err_reason(&err), "store.config");
}

static void test_create_get(void **state)
{
	struct clock c = {1700000000000};
	struct tsso_store *st = mem_store(0, &c);
	struct tsso_session *s = mk("acme", "u1", "sid1"), *got = NULL;
	struct tsso_err err = {0};
	char *cookie = NULL, *cookie2 = NULL, *fresh = NULL;
	(void)state;

	/* An attacker-chosen id is replaced: a fresh id at every login. */
	memset(s->id, 'A', TSSO_SESSION_ID_LEN);
	assert_int_equal(tsso_store_session_create(st, s, &cookie, &err), 0);
	assert_int_equal(strlen(cookie), TSSO_SESSION_ID_LEN);
	assert_string_equal(cookie, s->id);
	assert_null(strstr(cookie, "AAAAAAAAAA"));
	assert_true(s->created_ms == c.now && s->expires_ms == c.now + 100000);
	assert_int_equal(tsso_store_session_create(st, s, &cookie2, &err), 0);
	assert_string_not_equal(cookie, cookie2);

	assert_int_equal(tsso_store_session_get(st, "acme", cookie, &got, &fresh, &err), 0);
	assert_null(fresh);
	assert_string_equal(got->sub, "u1");
	assert_string_equal(got->sid, "sid1");
	assert_string_equal(got->id, cookie);
	/* Update: a cached embed token survives the next read. */
	assert_int_equal(tsso_session_set(&got->embed_token, "tok"), 0);
	got->embed_exp = 123;
	assert_int_equal(tsso_store_session_update(st, got, &fresh, &err), 0);
	free(fresh);
	tsso_session_free(got);
	got = NULL;
	assert_int_equal(tsso_store_session_get(st, "acme", cookie, &got, &fresh, &err), 0);
	assert_string_equal(got->embed_token, "tok");

	assert_string_equal(get_reason(st, "other", cookie), "session.wrong_tenant");
	assert_string_equal(get_reason(st, "acme", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
	                    "session.not_found");
	assert_string_equal(get_reason(st, "acme", "short"), "session.none");
	assert_string_equal(get_reason(st, "acme", ""), "session.none");
	assert_string_equal(get_reason(st, "acme", NULL), "session.none");
	assert_string_equal(get_reason(st, "acme", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+"),
	                    "session.none");

	/* Logout: gone, and an update cannot bring it back. */
	assert_int_equal(tsso_store_session_delete(st, got, &err), 0);
	assert_string_equal(get_reason(st, "acme", cookie), "session.not_found");
	assert_int_equal(tsso_store_session_update(st, got, &fresh, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "session.not_found");
	assert_string_equal(get_reason(st, "acme", cookie2), "ok");
	assert_int_equal(tsso_store_health(st, &err), 0);

	tsso_session_free(got);
	tsso_session_free(s);
	free(cookie);
	free(cookie2);
	tsso_store_free(st);
}

static void test_expiry(void **state)
{
	struct clock c = {1700000000000};
	struct tsso_store *st = mem_store(0, &c);
	char *a = login(st, "acme", "u", NULL), *b = login(st, "acme", "u", NULL);
	(void)state;

	/* Inactivity (100 s): a touches every 50 s, b never. */
	c.now += 50000;
	assert_string_equal(get_reason(st, "acme", a), "ok");
	c.now += 50001;
	assert_string_equal(get_reason(st, "acme", b), "session.expired");
	assert_string_equal(get_reason(st, "acme", b), "session.not_found"); /* dropped */
	/* Activity cannot outlive max_duration (1000 s). */
	while (c.now + 40000 < 1700000000000 + 1000000) {
		c.now += 40000;
		assert_string_equal(get_reason(st, "acme", a), "ok");
	}
	c.now += 40000;
	assert_string_equal(get_reason(st, "acme", a), "session.expired");
	free(a);
	free(b);
	tsso_store_free(st);
}

static void test_eviction(void **state)
{
	struct clock c = {1700000000000};
	struct tsso_store *st = mem_store(32, &c);
	char *cookies[200];
	size_t alive = 0;
	(void)state;

	for (int i = 0; i < 200; i++) {
		char sub[16];

		snprintf(sub, sizeof(sub), "u%d", i);
		cookies[i] = login(st, "acme", sub, "s");
		c.now += 1;
	}
	for (int i = 0; i < 200; i++)
		alive += strcmp(get_reason(st, "acme", cookies[i]), "ok") == 0;
	/* Bounded (16 stripes of 2), and the newest is never the victim. */
	assert_true(alive <= 32);
	assert_true(alive >= 16);
	assert_string_equal(get_reason(st, "acme", cookies[199]), "ok");
	for (int i = 0; i < 200; i++)
		free(cookies[i]);
	tsso_store_free(st);
}

static void test_indexes(void **state)
{
	struct clock c = {1700000000000};
	struct tsso_store *st = mem_store(0, &c);
	struct tsso_err err = {0};
	char *a = login(st, "acme", "u1", "X"), *b = login(st, "acme", "u1", "X");
	char *d = login(st, "acme", "u1", "Y"), *e = login(st, "acme", "u2", "X2");
	char *f = login(st, "beta", "u1", "X"), *g = login(st, "acme", "u3", NULL);
	(void)state;

	assert_int_equal(tsso_store_end_by_sid(st, "acme", "X", &err), 0);
	assert_string_equal(get_reason(st, "acme", a), "session.not_found");
	assert_string_equal(get_reason(st, "acme", b), "session.not_found");
	assert_string_equal(get_reason(st, "acme", d), "ok");
	assert_string_equal(get_reason(st, "beta", f), "ok"); /* other tenant, same sid */
	assert_int_equal(tsso_store_end_by_sub(st, "acme", "u1", &err), 0);
	assert_string_equal(get_reason(st, "acme", d), "session.not_found");
	assert_string_equal(get_reason(st, "acme", e), "ok");
	assert_string_equal(get_reason(st, "beta", f), "ok");
	assert_string_equal(get_reason(st, "acme", g), "ok");
	/* Unknown keys end nothing and are no error; bad input is refused. */
	assert_int_equal(tsso_store_end_by_sub(st, "acme", "nobody", &err), 0);
	assert_int_equal(tsso_store_end_by_sid(st, "acme", "", &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.bad_key");
	assert_int_equal(tsso_store_end_by_sub(st, "beta", "u1", &err), 0);
	assert_string_equal(get_reason(st, "beta", f), "session.not_found");
	/* A new login after logout works. */
	free(a);
	a = login(st, "acme", "u1", "X");
	assert_string_equal(get_reason(st, "acme", a), "ok");
	free(a);
	free(b);
	free(d);
	free(e);
	free(f);
	free(g);
	tsso_store_free(st);
}

static void test_claim_once_and_lock(void **state)
{
	struct clock c = {1700000000000};
	struct tsso_store *st = mem_store(0, &c);
	struct tsso_err err = {0};
	char *t1 = NULL, *t2 = NULL;
	char big[600];
	(void)state;

	assert_int_equal(tsso_store_claim_once(st, "state:abc", 1000, &err), 0);
	assert_int_equal(tsso_store_claim_once(st, "state:abc", 1000, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.replayed");
	assert_int_equal(tsso_store_claim_once(st, "state:abd", 1000, &err), 0);
	c.now += 1000;
	assert_int_equal(tsso_store_claim_once(st, "state:abc", 1000, &err), 0);
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(tsso_store_claim_once(st, big, 1000, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.bad_key");
	assert_int_equal(tsso_store_claim_once(st, "k", 0, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.bad_key");

	assert_int_equal(tsso_store_lock(st, "refresh:s1", 5000, &t1, &err), 0);
	assert_int_equal(tsso_store_lock(st, "refresh:s1", 5000, &t2, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.locked");
	assert_null(t2);
	/* Only the owner releases. */
	assert_int_equal(tsso_store_unlock(st, "refresh:s1", "not-the-token", &err), 0);
	assert_int_equal(tsso_store_lock(st, "refresh:s1", 5000, &t2, &err), -1);
	assert_int_equal(tsso_store_unlock(st, "refresh:s1", t1, &err), 0);
	assert_int_equal(tsso_store_lock(st, "refresh:s1", 5000, &t2, &err), 0);
	/* The lease ends by itself; the old owner cannot release the new one. */
	c.now += 5000;
	free(t1);
	assert_int_equal(tsso_store_lock(st, "refresh:s1", 5000, &t1, &err), 0);
	assert_int_equal(tsso_store_unlock(st, "refresh:s1", t2, &err), 0);
	free(t2);
	t2 = NULL;
	assert_int_equal(tsso_store_lock(st, "refresh:s1", 5000, &t2, &err), -1);
	free(t1);
	tsso_store_free(st);
}

struct worker {
	struct tsso_store *st;
	int n;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct tsso_err err = {0};

	for (int i = 0; i < w->n; i++) {
		char sub[32], sid[32];
		struct tsso_session *s, *got = NULL;
		char *cookie = NULL, *fresh = NULL;

		snprintf(sub, sizeof(sub), "u%d", i % 7);
		snprintf(sid, sizeof(sid), "sid%d", i % 5);
		s = mk("acme", sub, sid);
		if (tsso_store_session_create(w->st, s, &cookie, &err) < 0)
			w->failures++;
		else if (tsso_store_session_get(w->st, "acme", cookie, &got, &fresh, &err) == 0)
			tsso_session_free(got);
		if (i % 10 == 0 && tsso_store_end_by_sid(w->st, "acme", sid, &err) < 0)
			w->failures++;
		if (i % 3 == 0 && tsso_store_session_delete(w->st, s, &err) < 0)
			w->failures++;
		tsso_session_free(s);
		free(cookie);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct tsso_store *st = mem_store(256, NULL);
	struct worker w[4];
	pthread_t th[4];
	(void)state;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){st, 2000, 0};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	tsso_store_free(st);
}

/* What a session costs beyond its own record (issue 7: under 1 KiB). */
static void test_bytes_per_session(void **state)
{
	struct tsso_store *st = mem_store(10000, NULL);
	struct tsso_err err = {0};
	size_t before = tsso_store_bytes_used(st), record = 0, after;
	(void)state;

	for (int i = 0; i < 10000; i++) {
		char sub[32], sid[48];
		struct tsso_session *s;
		char *cookie = NULL, *json = NULL;
		size_t n = 0;

		snprintf(sub, sizeof(sub), "user-%d", i);
		snprintf(sid, sizeof(sid), "sid-%d", i);
		s = mk("acme", sub, sid);
		assert_int_equal(tsso_store_session_create(st, s, &cookie, &err), 0);
		assert_int_equal(tsso_session_to_json(s, &json, &n, &err), 0);
		record += n;
		free(json);
		free(cookie);
		tsso_session_free(s);
	}
	after = tsso_store_bytes_used(st);
	/* Fixed tables included: the whole overhead, spread over the sessions. */
	print_message("memory store: %zu bytes/session beyond the record (record %zu), "
	              "%zu of fixed tables\n",
	              (after - record) / 10000, record / 10000, before);
	assert_true(after > before + record);
	assert_true((after - record) / 10000 < 1024);
	tsso_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_refusals), cmocka_unit_test(test_create_get),
	    cmocka_unit_test(test_expiry),          cmocka_unit_test(test_eviction),
	    cmocka_unit_test(test_indexes),         cmocka_unit_test(test_claim_once_and_lock),
	    cmocka_unit_test(test_threads),         cmocka_unit_test(test_bytes_per_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
