/* Unit tests for tsso_store_inherit: a store rebuilt at reload keeps the
 * process-local single-use markers and revocation list of the one it replaces
 * (without it a SIGHUP revived logged-out cookie-store sessions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "session_test_util.h"
#include "tsso/session.h"

#define K1 "1111111111111111111111111111111111111111111111111111111111111111"
#define K2 "2222222222222222222222222222222222222222222222222222222222222222"

static struct tsso_store *store(enum tsso_store_kind kind, const char *keys)
{
	char path[] = "/tmp/tsso-reload-keys-XXXXXX";
	int fd = mkstemp(path);
	struct tsso_config cfg;
	struct tsso_err err = {0};
	struct tsso_store *st;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, keys, strlen(keys)), (ssize_t)strlen(keys));
	close(fd);
	memset(&cfg, 0, sizeof(cfg));
	cfg.session.store = kind;
	cfg.session.secret_file = path;
	cfg.session.inactivity_timeout = 100;
	cfg.session.max_duration = 1000;
	st = tsso_store_new(&cfg, &err);
	unlink(path);
	assert_non_null(st);
	return st;
}

static char *login(struct tsso_store *st, struct tsso_session **ret)
{
	struct tsso_session *s = sess_mk("acme", "jane", "sid-1", NULL);
	struct tsso_err err = {0};
	char *cookie = NULL;

	assert_int_equal(tsso_store_session_create(st, s, &cookie, &err), 0);
	*ret = s;
	return cookie;
}

static const char *get_reason(struct tsso_store *st, const char *cookie)
{
	return sess_get_reason(st, "acme", cookie);
}

static const char *claim(struct tsso_store *st, const char *key)
{
	static struct tsso_err err;

	tsso_err_clear(&err);
	return tsso_store_claim_once(st, key, 60000, &err) == 0 ? "ok" : tsso_err_reason(&err);
}

static void test_cookie_store_keeps_logouts_and_markers(void **state)
{
	struct tsso_store *old = store(TSSO_STORE_COOKIE, K1 "\n"), *fresh, *plain;
	struct tsso_session *s = NULL;
	struct tsso_err err = {0};
	char *c = login(old, &s), *c2;

	(void)state;
	assert_int_equal(tsso_store_session_delete(old, s, &err), 0);
	assert_string_equal(get_reason(old, c), "session.revoked");
	assert_string_equal(claim(old, "jti:acme:1"), "ok");
	/* The reload: the new key first, the old one kept. */
	fresh = store(TSSO_STORE_COOKIE, K2 "\n" K1 "\n");
	plain = store(TSSO_STORE_COOKIE, K2 "\n" K1 "\n");
	tsso_store_inherit(fresh, old);
	assert_string_equal(get_reason(fresh, c), "session.revoked");
	assert_string_equal(claim(fresh, "jti:acme:1"), "store.replayed");
	/* Without inheriting, the logout and the marker would be forgotten. */
	assert_string_equal(get_reason(plain, c), "ok");
	assert_string_equal(claim(plain, "jti:acme:1"), "ok");
	/* Shared both ways while both live; the new one outlives the old. */
	assert_string_equal(claim(fresh, "jti:acme:2"), "ok");
	assert_string_equal(claim(old, "jti:acme:2"), "store.replayed");
	tsso_store_free(old);
	assert_string_equal(get_reason(fresh, c), "session.revoked");
	assert_string_equal(claim(fresh, "jti:acme:2"), "store.replayed");
	tsso_session_free(s);
	c2 = login(fresh, &s);
	assert_string_equal(get_reason(fresh, c2), "ok");
	tsso_store_inherit(fresh, fresh); /* no-op */
	tsso_store_inherit(fresh, NULL);
	tsso_store_inherit(NULL, fresh);
	assert_string_equal(get_reason(fresh, c2), "ok");
	tsso_session_free(s);
	free(c);
	free(c2);
	tsso_store_free(fresh);
	tsso_store_free(plain);
}

static void test_memory_store_keeps_markers(void **state)
{
	struct tsso_store *old = store(TSSO_STORE_MEMORY, K1 "\n"), *fresh;

	(void)state;
	assert_string_equal(claim(old, "ls:acme:x"), "ok");
	fresh = store(TSSO_STORE_MEMORY, K1 "\n");
	tsso_store_inherit(fresh, old);
	tsso_store_free(old);
	assert_string_equal(claim(fresh, "ls:acme:x"), "store.replayed");
	assert_string_equal(claim(fresh, "ls:acme:y"), "ok");
	tsso_store_free(fresh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cookie_store_keeps_logouts_and_markers),
	    cmocka_unit_test(test_memory_store_keeps_markers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
