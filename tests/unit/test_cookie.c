/* Unit tests for src/http/cookie.c: Cookie header reading and Set-Cookie building. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tsso/cookie.h"
#include "tsso/form.h"
#include "tsso/limits.h"

static void test_parse_basic(void **state)
{
	struct tsso_kvlist l = {0};
	(void)state;
	assert_int_equal(tsso_cookie_parse("a=1; b=two;c=\"q\" ;  d = x y", &l, NULL), 0);
	/* "d = x y": value has a space, not a cookie-octet: dropped. */
	assert_int_equal(l.n, 3);
	assert_string_equal(tsso_kvlist_get(&l, "a"), "1");
	assert_string_equal(tsso_kvlist_get(&l, "b"), "two");
	assert_string_equal(tsso_kvlist_get(&l, "c"), "q");
	assert_null(tsso_kvlist_get(&l, "d"));
	/* A second Cookie header appends. */
	assert_int_equal(tsso_cookie_parse("a=2;e=", &l, NULL), 0);
	assert_int_equal(l.n, 5);
	assert_int_equal(tsso_kvlist_count(&l, "a"), 2);
	assert_string_equal(tsso_kvlist_get(&l, "a"), "1");
	assert_string_equal(tsso_kvlist_get(&l, "e"), "");
	assert_string_equal(tsso_kvlist_first_dup(&l), "a");
	tsso_kvlist_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
	tsso_kvlist_free(&l);
	tsso_kvlist_free(NULL);
}

/* Malformed pairs are dropped one by one; their neighbours survive. */
static void test_parse_drops(void **state)
{
	static const char *const bad[] = {
	    "novalue", "=v",         "sp ace=v", "se\tmi=v",    "a\"b=v", "a,b=v",     "a(b=v",
	    "a@b=v",   "k=v\"",      "k=\"v",    "k=a,b",       "k=a\\b", "k=a\"b",    "k=\x01",
	    "k=\x7f",  "k=\xc3\xa9", "k\x01=v",  "k\xc3\xa9=v", "k=a b",  "k=\"a b\"", "k=\"\"\"",
	    "{k}=v",   "k/=v",       "[k]=v",    "k?=v",
	};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(bad); i++) {
		struct tsso_kvlist l = {0};
		char hdr[256];

		snprintf(hdr, sizeof(hdr), "ok1=1; %s; ok2=2", bad[i]);
		assert_int_equal(tsso_cookie_parse(hdr, &l, NULL), 0);
		if (l.n != 2)
			fail_msg("%s: %zu cookies", bad[i], l.n);
		assert_string_equal(l.v[0].key, "ok1");
		assert_string_equal(l.v[1].key, "ok2");
		tsso_kvlist_free(&l);
	}
}

/* Every byte value in a value: kept exactly when RFC 6265 §4.1.1 allows it
 * (the parser checks values through a table). */
static void test_parse_every_octet(void **state)
{
	(void)state;
	for (int c = 1; c < 256; c++) {
		bool allowed = c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
		               (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
		struct tsso_kvlist l = {0};
		char hdr[16];

		if (c == ';')
			continue; /* splits the pair; covered by test_parse_basic */
		snprintf(hdr, sizeof(hdr), "k=a%cb", c);
		assert_int_equal(tsso_cookie_parse(hdr, &l, NULL), 0);
		if (l.n != (allowed ? 1u : 0u))
			fail_msg("byte 0x%02x: %zu cookies", (unsigned)c, l.n);
		tsso_kvlist_free(&l);
	}
}

/* Every byte value at every position of a 31-byte value, so that the
 * 16-bytes-at-a-time check (SSE2), the 8-bytes-at-a-time one and the byte
 * loop each meet it: a Set-Cookie value is
 * refused, and a parsed one dropped (interior positions: the parser trims
 * the ends), exactly when the byte is not a cookie-octet. */
static void test_every_octet_every_position(void **state)
{
	(void)state;
	for (int c = 1; c < 256; c++) {
		bool allowed = c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
		               (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);

		for (size_t pos = 0; pos < 31; pos++) {
			char value[32], hdr[48];
			struct tsso_cookie_opts o = {.name = "k",
			                             .value = value,
			                             .path = "/",
			                             .max_age = 60,
			                             .same_site = TSSO_SAMESITE_LAX};
			struct tsso_kvlist l = {0};

			memset(value, 'x', 31);
			value[31] = '\0';
			value[pos] = (char)c;
			if ((tsso_cookie_opts_check(&o, NULL) == 0) != allowed)
				fail_msg("Set-Cookie byte 0x%02x at %zu", (unsigned)c, pos);
			if (pos == 0 || pos == 30 || c == ';')
				continue;
			snprintf(hdr, sizeof(hdr), "k=%s", value);
			assert_int_equal(tsso_cookie_parse(hdr, &l, NULL), 0);
			if (l.n != (allowed ? 1u : 0u))
				fail_msg("Cookie byte 0x%02x at %zu: %zu cookies", (unsigned)c, pos,
				         l.n);
			tsso_kvlist_free(&l);
		}
	}
}

static void test_parse_limits(void **state)
{
	struct tsso_kvlist l = {0};
	char *hdr = malloc(64 * (TSSO_HTTP_MAX_COOKIES + 10) + 2 * TSSO_HTTP_MAX_COOKIE_VALUE);
	size_t n = 0;
	(void)state;
	/* A value exactly at the limit is kept; one byte more is dropped. */
	memcpy(hdr, "big=", 4);
	memset(hdr + 4, 'v', TSSO_HTTP_MAX_COOKIE_VALUE);
	memcpy(hdr + 4 + TSSO_HTTP_MAX_COOKIE_VALUE, "; bigger=", 9);
	memset(hdr + 13 + TSSO_HTTP_MAX_COOKIE_VALUE, 'v', TSSO_HTTP_MAX_COOKIE_VALUE + 1);
	hdr[13 + 2 * TSSO_HTTP_MAX_COOKIE_VALUE + 1] = '\0';
	assert_int_equal(tsso_cookie_parse(hdr, &l, NULL), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].key, "big");
	assert_int_equal(strlen(l.v[0].value), TSSO_HTTP_MAX_COOKIE_VALUE);
	tsso_kvlist_free(&l);
	/* Past TSSO_HTTP_MAX_COOKIES the rest is ignored, not an error. */
	for (int i = 0; i < TSSO_HTTP_MAX_COOKIES + 10; i++)
		n += (size_t)sprintf(hdr + n, "c%d=%d; ", i, i);
	assert_int_equal(tsso_cookie_parse(hdr, &l, NULL), 0);
	assert_int_equal(l.n, TSSO_HTTP_MAX_COOKIES);
	assert_string_equal(l.v[TSSO_HTTP_MAX_COOKIES - 1].key, "c49");
	assert_int_equal(tsso_cookie_parse("more=1", &l, NULL), 0);
	assert_int_equal(l.n, TSSO_HTTP_MAX_COOKIES);
	assert_null(tsso_kvlist_get(&l, "more"));
	tsso_kvlist_free(&l);
	assert_int_equal(tsso_cookie_parse("", &l, NULL), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(tsso_cookie_parse(";;; ;", &l, NULL), 0);
	assert_int_equal(l.n, 0);
	tsso_kvlist_free(&l);
	free(hdr);
}

static void test_build(void **state)
{
	struct tsso_cookie_opts o = {.name = "__Host-tsso",
	                             .value = "abc-DEF_123",
	                             .path = "/",
	                             .max_age = 300,
	                             .secure = true,
	                             .http_only = true,
	                             .same_site = TSSO_SAMESITE_LAX};
	char *s;
	(void)state;
	s = tsso_cookie_build(&o);
	assert_string_equal(s, "__Host-tsso=abc-DEF_123; Path=/; Max-Age=300; Secure; HttpOnly; "
	                       "SameSite=Lax");
	free(s);
	o.remove = true;
	s = tsso_cookie_build(&o);
	assert_string_equal(s, "__Host-tsso=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax");
	free(s);
	o = (struct tsso_cookie_opts){.name = "st",
	                              .value = "x",
	                              .path = "/sso/acme/callback",
	                              .max_age = TSSO_COOKIE_SESSION,
	                              .secure = true,
	                              .same_site = TSSO_SAMESITE_NONE};
	s = tsso_cookie_build(&o);
	assert_string_equal(s, "st=x; Path=/sso/acme/callback; Secure; SameSite=None");
	free(s);
	o = (struct tsso_cookie_opts){.name = "d",
	                              .value = "",
	                              .domain = "example.com",
	                              .max_age = 0,
	                              .same_site = TSSO_SAMESITE_STRICT};
	s = tsso_cookie_build(&o);
	assert_string_equal(s, "d=; Domain=example.com; Max-Age=0; SameSite=Strict");
	free(s);
}

static void test_build_refusals(void **state)
{
	char big[TSSO_SESSION_COOKIE_MAX + 1];
	const struct {
		struct tsso_cookie_opts o;
		const char *reason;
	} v[] = {
	    {{.name = NULL, .value = "v"}, "cookie.name"},
	    {{.name = "", .value = "v"}, "cookie.name"},
	    {{.name = "a b", .value = "v"}, "cookie.name"},
	    {{.name = "a=b", .value = "v"}, "cookie.name"},
	    {{.name = "a;b", .value = "v"}, "cookie.name"},
	    {{.name = "a\r\nSet-Cookie: x", .value = "v"}, "cookie.name"},
	    {{.name = "n", .value = NULL}, "cookie.value"},
	    {{.name = "n", .value = "a b"}, "cookie.value"},
	    {{.name = "n", .value = "a;b"}, "cookie.value"},
	    {{.name = "n", .value = "a,b"}, "cookie.value"},
	    {{.name = "n", .value = "a\"b"}, "cookie.value"},
	    {{.name = "n", .value = "a\\b"}, "cookie.value"},
	    {{.name = "n", .value = "a\r\nb"}, "cookie.value"},
	    {{.name = "n", .value = "\xc3\xa9"}, "cookie.value"},
	    {{.name = "n", .value = big}, "cookie.too_long"},
	    {{.name = "n", .value = "v", .path = "relative"}, "cookie.path"},
	    {{.name = "n", .value = "v", .path = "/a;Domain=evil"}, "cookie.path"},
	    {{.name = "n", .value = "v", .path = "/a\nb"}, "cookie.path"},
	    {{.name = "n", .value = "v", .path = ""}, "cookie.path"},
	    {{.name = "n", .value = "v", .domain = ""}, "cookie.domain"},
	    {{.name = "n", .value = "v", .domain = ".example.com"}, "cookie.domain"},
	    {{.name = "n", .value = "v", .domain = "example.com;x"}, "cookie.domain"},
	    {{.name = "n", .value = "v", .domain = "-a.com"}, "cookie.domain"},
	    {{.name = "n", .value = "v", .domain = "a..com"}, "cookie.domain"},
	    {{.name = "n", .value = "v", .max_age = -2}, "cookie.max_age"},
	    {{.name = "n", .value = "v", .max_age = TSSO_COOKIE_MAX_AGE_MAX + 1}, "cookie.max_age"},
	    {{.name = "n", .value = "v", .same_site = TSSO_SAMESITE_NONE}, "cookie.samesite"},
	    {{.name = "n", .value = "v", .same_site = (enum tsso_cookie_samesite)7, .secure = true},
	     "cookie.samesite"},
	    {{.name = "__Secure-n", .value = "v"}, "cookie.prefix"},
	    {{.name = "__secure-n", .value = "v"}, "cookie.prefix"},
	    {{.name = "__Host-n", .value = "v", .path = "/", .secure = false}, "cookie.prefix"},
	    {{.name = "__Host-n", .value = "v", .path = NULL, .secure = true}, "cookie.prefix"},
	    {{.name = "__Host-n", .value = "v", .path = "/sso", .secure = true}, "cookie.prefix"},
	    {{.name = "__HOST-n", .value = "v", .path = "/sso", .secure = true}, "cookie.prefix"},
	    {{.name = "__Host-n", .value = "v", .path = "/", .secure = true, .domain = "a.com"},
	     "cookie.prefix"},
	};
	(void)state;
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		struct tsso_err err = {0};

		assert_int_equal(tsso_cookie_opts_check(&v[i].o, &err), -1);
		if (strcmp(tsso_err_reason(&err), v[i].reason) != 0)
			fail_msg("[%zu] reason %s, want %s", i, tsso_err_reason(&err), v[i].reason);
		assert_null(tsso_cookie_build(&v[i].o));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_basic),
	    cmocka_unit_test(test_parse_drops),
	    cmocka_unit_test(test_parse_every_octet),
	    cmocka_unit_test(test_every_octet_every_position),
	    cmocka_unit_test(test_parse_limits),
	    cmocka_unit_test(test_build),
	    cmocka_unit_test(test_build_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
