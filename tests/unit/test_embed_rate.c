/* Unit tests for the embed-token route's per-session rate limit: the burst,
 * the refill rate and Retry-After, independence of sessions, bounded memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/embed/embed_int.h"
#include "tsso/limits.h"

static long take(struct tsso_embed_ratelimit *rl, const char *key, double now)
{
	return tsso_embed_ratelimit_take(rl, key, strlen(key), now);
}

static void test_burst_then_refused(void **state)
{
	struct tsso_embed_ratelimit *rl = tsso_embed_ratelimit_new();
	(void)state;

	assert_non_null(rl);
	for (int i = 0; i < TSSO_EMBED_RATE_BURST; i++)
		assert_int_equal(take(rl, "session-a", 100.0), 0);
	/* The next request waits for one refill: 60 / PER_MIN seconds, rounded up. */
	long wait = take(rl, "session-a", 100.0);
	assert_true(wait >= 1 && wait <= 60 / TSSO_EMBED_RATE_PER_MIN + 1);
	/* Refused requests do not consume: still refused just before the refill. */
	assert_true(take(rl, "session-a", 100.0 + 60.0 / TSSO_EMBED_RATE_PER_MIN - 0.1) > 0);
	assert_int_equal(take(rl, "session-a", 100.0 + 60.0 / TSSO_EMBED_RATE_PER_MIN + 0.01), 0);
	assert_true(take(rl, "session-a", 100.0 + 60.0 / TSSO_EMBED_RATE_PER_MIN + 0.02) > 0);
	tsso_embed_ratelimit_free(rl);
}

static void test_sessions_independent(void **state)
{
	struct tsso_embed_ratelimit *rl = tsso_embed_ratelimit_new();
	(void)state;

	for (int i = 0; i < TSSO_EMBED_RATE_BURST; i++)
		assert_int_equal(take(rl, "session-a", 5.0), 0);
	assert_true(take(rl, "session-a", 5.0) > 0);
	assert_int_equal(take(rl, "session-b", 5.0), 0);
	/* A key that differs in one byte is another session. */
	assert_int_equal(take(rl, "session-A", 5.0), 0);
	tsso_embed_ratelimit_free(rl);
}

static void test_refill_capped_at_burst(void **state)
{
	struct tsso_embed_ratelimit *rl = tsso_embed_ratelimit_new();
	(void)state;

	assert_int_equal(take(rl, "s", 0.0), 0);
	/* An hour idle refills to the burst, not beyond. */
	for (int i = 0; i < TSSO_EMBED_RATE_BURST; i++)
		assert_int_equal(take(rl, "s", 3600.0), 0);
	assert_true(take(rl, "s", 3600.0) > 0);
	/* The clock going back does not add requests. */
	assert_true(take(rl, "s", 10.0) > 0);
	tsso_embed_ratelimit_free(rl);
}

static void test_bounded_table(void **state)
{
	struct tsso_embed_ratelimit *rl = tsso_embed_ratelimit_new();
	char key[32];
	(void)state;

	/* Far more sessions than slots: memory stays fixed, every new session
	 * is allowed, and an exhausted session pushed out starts afresh. */
	for (int i = 0; i < TSSO_EMBED_RATE_BURST; i++)
		assert_int_equal(take(rl, "hot", 1.0), 0);
	assert_true(take(rl, "hot", 1.0) > 0);
	for (int i = 0; i < 4 * TSSO_EMBED_RATE_SLOTS; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(take(rl, key, 2.0 + i * 1e-6), 0);
	}
	assert_int_equal(take(rl, "hot", 3.0), 0);
	tsso_embed_ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_refused),
	    cmocka_unit_test(test_sessions_independent),
	    cmocka_unit_test(test_refill_capped_at_burst),
	    cmocka_unit_test(test_bounded_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
