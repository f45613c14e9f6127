/* Unit tests for the cookie store: sealed sessions, forgery, expiry, size,
 * key rotation and removal, fixation, and logout through the revocation list. */
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
#include "tsso/limits.h"
#include "tsso/session.h"

#define K1 "1111111111111111111111111111111111111111111111111111111111111111"
#define K2 "2222222222222222222222222222222222222222222222222222222222222222"

struct clock {
	int64_t now;
};

static int64_t fake_now(void *arg)
{
	return ((struct clock *)arg)->now;
}

static struct tsso_store *cookie_store(const char *keys, struct clock *c, struct tsso_err *err)
{
	char path[] = "/tmp/tsso-cookie-keys-XXXXXX";
	int fd = mkstemp(path);
	struct tsso_config cfg;
	struct tsso_store *st;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, keys, strlen(keys)), (ssize_t)strlen(keys));
	close(fd);
	memset(&cfg, 0, sizeof(cfg));
	cfg.session.store = TSSO_STORE_COOKIE;
	cfg.session.secret_file = path;
	cfg.session.inactivity_timeout = 100;
	cfg.session.max_duration = 1000;
	st = tsso_store_new(&cfg, err);
	unlink(path);
	if (st != NULL && c != NULL)
		tsso_store_clock_set(st, fake_now, c);
	return st;
}

static struct tsso_session *mk(const char *sub, const char *sid)
{
	struct tsso_session *s = sess_mk("acme", sub, sid, "eyJhbGciOiJSUzI1NiJ9.e30.sig");

	s->identity = json_pack("{s:s}", "username", "jane@acme.example");
	return s;
}

static char *login(struct tsso_store *st, const char *sub, const char *sid)
{
	return sess_login(st, mk(sub, sid));
}

#define get_reason sess_get_reason

static void test_round_trip_and_fixation(void **state)
{
	struct clock c = {1700000000000};
	struct tsso_err err = {0};
	struct tsso_store *st = cookie_store(K1 "\n", &c, &err);
	struct tsso_session *s = mk("u1", "sid1"), *got = NULL;
	char *cookie = NULL, *cookie2 = NULL, *fresh = NULL;
	char first_id[TSSO_SESSION_ID_LEN + 1];
	(void)state;

	assert_non_null(st);
	assert_string_equal(tsso_store_name(st), "cookie");
	memset(s->id, 'A', TSSO_SESSION_ID_LEN);
	assert_int_equal(tsso_store_session_create(st, s, &cookie, &err), 0);
	assert_true(strlen(cookie) < TSSO_SESSION_COOKIE_MAX);
	/* Nothing readable in the cookie. */
	assert_null(strstr(cookie, "jane"));
	assert_string_not_equal(s->id, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	memcpy(first_id, s->id, sizeof(first_id));
	/* Every login: a new id (and a new IV). */
	assert_int_equal(tsso_store_session_create(st, s, &cookie2, &err), 0);
	assert_string_not_equal(first_id, s->id);
	assert_string_not_equal(cookie, cookie2);

	assert_int_equal(tsso_store_session_get(st, "acme", cookie, &got, &fresh, &err), 0);
	assert_null(fresh);
	assert_string_equal(got->id, first_id);
	assert_string_equal(got->sub, "u1");
	assert_string_equal(
	    json_string_value(json_object_get(tsso_session_identity(got), "username")),
	    "jane@acme.example");
	/* Update re-seals. */
	assert_int_equal(tsso_session_set(&got->embed_token, "tok"), 0);
	assert_int_equal(tsso_store_session_update(st, got, &fresh, &err), 0);
	assert_non_null(fresh);
	tsso_session_free(got);
	got = NULL;
	free(cookie2);
	cookie2 = NULL;
	assert_int_equal(tsso_store_session_get(st, "acme", fresh, &got, &cookie2, &err), 0);
	assert_string_equal(got->embed_token, "tok");
	/* The sliding window: after the touch period a new cookie comes back. */
	free(fresh);
	fresh = NULL;
	c.now += 20000;
	tsso_session_free(got);
	got = NULL;
	free(cookie2);
	cookie2 = NULL;
	assert_int_equal(tsso_store_session_get(st, "acme", cookie, &got, &fresh, &err), 0);
	assert_non_null(fresh);
	assert_true(got->last_seen_ms == c.now);
	tsso_session_free(got);
	free(fresh);
	free(cookie);
	tsso_session_free(s);
	tsso_store_free(st);
}

static void test_forged_and_malformed(void **state)
{
	struct clock c = {1700000000000};
	struct tsso_err err = {0};
	struct tsso_store *st = cookie_store(K1 "\n", &c, &err);
	char *cookie = login(st, "u1", "sid1");
	size_t n = strlen(cookie);
	(void)state;

	/* A changed character anywhere past the header is a forgery. */
	for (size_t i = 8; i < n - 1; i += 7) {
		char save = cookie[i];

		cookie[i] = cookie[i] == 'A' ? 'B' : 'A';
		assert_string_equal(get_reason(st, "acme", cookie), "session.forged");
		cookie[i] = save;
	}
	/* Another tenant's cookie is another purpose. */
	assert_string_equal(get_reason(st, "beta", cookie), "session.forged");
	assert_string_equal(get_reason(st, "acme", "garbage!"), "session.none");
	assert_string_equal(get_reason(st, "acme", "AAAA"), "session.none");
	assert_string_equal(get_reason(st, "acme", ""), "session.none");
	cookie[(n / 2) & ~(size_t)3] = '\0'; /* decodable, cut short */
	assert_string_equal(get_reason(st, "acme", cookie), "session.forged");
	free(cookie);
	tsso_store_free(st);
}

static void test_expired(void **state)
{
	struct clock c = {1700000000000};
	struct tsso_err err = {0};
	struct tsso_store *st = cookie_store(K1 "\n", &c, &err);
	char *cookie = login(st, "u1", NULL);
	(void)state;

	c.now += 99999;
	assert_string_equal(get_reason(st, "acme", cookie), "ok");
	/* A sealed cookie kept past its inactivity window is dead, even though
	 * a later one was issued (the old one is never touched). */
	c.now += 2;
	assert_string_equal(get_reason(st, "acme", cookie), "session.expired");
	free(cookie);
	tsso_store_free(st);
}

static void test_too_large(void **state)
{
	struct clock c = {1700000000000};
	struct tsso_err err = {0};
	struct tsso_store *st = cookie_store(K1 "\n", &c, &err);
	struct tsso_session *s = mk("u1", "sid1");
	char *cookie = (char *)"untouched", *big = malloc(4000);
	(void)state;

	memset(big, 'x', 3999);
	big[3999] = '\0';
	json_object_set_new(s->identity, "attributes", json_pack("{s:s}", "blob", big));
	assert_int_equal(tsso_store_session_create(st, s, &cookie, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "session.too_large");
	assert_string_equal(cookie, "untouched");
	/* Just under the limit still fits. */
	big[2000] = '\0';
	json_object_set_new(s->identity, "attributes", json_pack("{s:s}", "blob", big));
	assert_int_equal(tsso_store_session_create(st, s, &cookie, &err), 0);
	assert_true(strlen(cookie) <= TSSO_SESSION_COOKIE_MAX - 256);
	free(cookie);
	free(big);
	tsso_session_free(s);
	tsso_store_free(st);
}

static void test_rotation_and_removed_key(void **state)
{
	struct clock c = {1700000000000};
	struct tsso_err err = {0};
	struct tsso_store *old = cookie_store(K1 "\n", &c, &err);
	struct tsso_store *rotated = cookie_store("# new first\n" K2 "\n" K1 "\n", &c, &err);
	struct tsso_store *removed = cookie_store(K2 "\n", &c, &err);
	char *a = login(old, "u1", NULL), *b = login(rotated, "u1", NULL);
	(void)state;

	assert_non_null(old);
	assert_non_null(rotated);
	assert_non_null(removed);
	/* During the overlap both open; the new key seals. */
	assert_string_equal(get_reason(rotated, "acme", a), "ok");
	assert_string_equal(get_reason(removed, "acme", b), "ok");
	/* After the old key is removed, its cookies are refused by name. */
	assert_string_equal(get_reason(removed, "acme", a), "session.unknown_key");
	free(a);
	free(b);
	tsso_store_free(old);
	tsso_store_free(rotated);
	tsso_store_free(removed);
}

static void test_logout_revocation(void **state)
{
	struct clock c = {1700000000000};
	struct tsso_err err = {0};
	struct tsso_store *st = cookie_store(K1 "\n", &c, &err);
	char *a = login(st, "u1", "X"), *b = login(st, "u1", "Y"), *d = login(st, "u2", "Z");
	struct tsso_session *s = NULL;
	char *fresh = NULL;
	(void)state;

	/* RP-initiated logout: a copy of the cookie is useless afterwards. */
	assert_int_equal(tsso_store_session_get(st, "acme", d, &s, &fresh, &err), 0);
	assert_int_equal(tsso_store_session_delete(st, s, &err), 0);
	assert_string_equal(get_reason(st, "acme", d), "session.revoked");
	tsso_session_free(s);
	/* Back-channel by sid, then by sub. */
	assert_int_equal(tsso_store_end_by_sid(st, "acme", "X", &err), 0);
	assert_string_equal(get_reason(st, "acme", a), "session.revoked");
	assert_string_equal(get_reason(st, "acme", b), "ok");
	assert_int_equal(tsso_store_end_by_sub(st, "beta", "u1", &err), 0);
	assert_string_equal(get_reason(st, "acme", b), "ok"); /* another tenant's sub */
	assert_int_equal(tsso_store_end_by_sub(st, "acme", "u1", &err), 0);
	assert_string_equal(get_reason(st, "acme", b), "session.revoked");
	/* Logging in again afterwards works. */
	c.now += 1;
	free(a);
	a = login(st, "u1", "X");
	assert_string_equal(get_reason(st, "acme", a), "ok");
	/* Single use works without Redis too. */
	assert_int_equal(tsso_store_claim_once(st, "jti:acme:1", 1000, &err), 0);
	assert_int_equal(tsso_store_claim_once(st, "jti:acme:1", 1000, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "store.replayed");
	assert_true(tsso_store_bytes_used(st) > 0);
	/* A flood of single-use markers (anyone can finish logins) does not
	 * push revocations out. */
	for (int i = 0; i < TSSO_STORE_MARKERS_MAX + 10; i++) {
		char key[32];

		snprintf(key, sizeof(key), "state:%d", i);
		assert_int_equal(tsso_store_claim_once(st, key, 600000, &err), 0);
	}
	assert_string_equal(get_reason(st, "acme", b), "session.revoked");
	assert_string_equal(get_reason(st, "acme", d), "session.revoked");
	/* ...while the oldest markers made room (bounded memory). */
	assert_int_equal(tsso_store_claim_once(st, "state:0", 600000, &err), 0);
	free(a);
	free(b);
	free(d);
	tsso_store_free(st);
}

static void test_config_refusals(void **state)
{
	struct tsso_config cfg;
	struct tsso_err err = {0};
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.session.store = TSSO_STORE_COOKIE;
	assert_null(tsso_store_new(&cfg, &err));
	assert_string_equal(tsso_err_reason(&err), "store.config");
	assert_null(cookie_store(K1 " trailing\n", NULL, &err));
	assert_string_equal(tsso_err_reason(&err), "keyring.bad_key");
	cfg.session.secret_file = (char *)"/nonexistent";
	assert_null(tsso_store_new(&cfg, &err));
	assert_string_equal(tsso_err_reason(&err), "keyring.unreadable");
	cfg.session.inactivity_timeout = -5;
	assert_null(tsso_store_new(&cfg, &err));
	assert_string_equal(tsso_err_reason(&err), "store.config");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_and_fixation),
	    cmocka_unit_test(test_forged_and_malformed),
	    cmocka_unit_test(test_expired),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_rotation_and_removed_key),
	    cmocka_unit_test(test_logout_revocation),
	    cmocka_unit_test(test_config_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
