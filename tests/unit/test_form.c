/* Unit tests for src/http/form.c: x-www-form-urlencoded parsing, key/value lists, query encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tsso/form.h"
#include "tsso/limits.h"

static void parse_ok(const char *s, struct tsso_kvlist *l)
{
	struct tsso_err err = {0};

	if (tsso_form_parse(s, strlen(s), l, &err) != 0)
		fail_msg("%s: %s", s, tsso_err_reason(&err));
}

static void test_parse(void **state)
{
	struct tsso_kvlist l = {0};
	(void)state;
	parse_ok("code=abc&state=x%2By+z&&empty=&flag&=nokey&u=%E2%82%AC&p=%2b%20", &l);
	assert_int_equal(l.n, 7);
	assert_string_equal(tsso_kvlist_get(&l, "code"), "abc");
	assert_string_equal(tsso_kvlist_get(&l, "state"), "x+y z");
	assert_string_equal(tsso_kvlist_get(&l, "empty"), "");
	assert_string_equal(tsso_kvlist_get(&l, "flag"), "");
	assert_string_equal(tsso_kvlist_get(&l, ""), "nokey");
	assert_string_equal(tsso_kvlist_get(&l, "u"), "\xe2\x82\xac");
	assert_string_equal(tsso_kvlist_get(&l, "p"), "+ ");
	assert_null(tsso_kvlist_get(&l, "missing"));
	assert_null(tsso_kvlist_first_dup(&l));
	tsso_kvlist_free(&l);

	parse_ok("a=1=2&b%3D=%3D", &l);
	assert_string_equal(tsso_kvlist_get(&l, "a"), "1=2");
	assert_string_equal(tsso_kvlist_get(&l, "b="), "=");
	tsso_kvlist_free(&l);

	parse_ok("", &l);
	assert_int_equal(l.n, 0);
	tsso_kvlist_free(&l);
	parse_ok("&&&", &l);
	assert_int_equal(l.n, 0);
	tsso_kvlist_free(&l);
}

static void test_duplicates(void **state)
{
	struct tsso_kvlist l = {0};
	(void)state;
	parse_ok("state=a&code=c&state=b", &l);
	assert_int_equal(tsso_kvlist_count(&l, "state"), 2);
	assert_int_equal(tsso_kvlist_count(&l, "code"), 1);
	assert_int_equal(tsso_kvlist_count(&l, "nope"), 0);
	assert_string_equal(tsso_kvlist_first_dup(&l), "state");
	assert_string_equal(tsso_kvlist_get(&l, "state"), "a");
	tsso_kvlist_free(&l);
	/* Duplicates spelled differently are still duplicates once decoded. */
	parse_ok("state=a&st%61te=b", &l);
	assert_string_equal(tsso_kvlist_first_dup(&l), "state");
	tsso_kvlist_free(&l);
}

static void test_refusals(void **state)
{
	static const struct {
		const char *in;
		const char *reason;
	} v[] = {
	    {"a=%", "form.bad_escape"},      {"a=%4", "form.bad_escape"},
	    {"a=%zz", "form.bad_escape"},    {"a=%4g", "form.bad_escape"},
	    {"%=1", "form.bad_escape"},      {"a=1&b=%%41", "form.bad_escape"},
	    {"a=%u0041", "form.bad_escape"}, {"a=%00", "form.nul"},
	    {"%00=a", "form.nul"},           {"a=%ff", "form.utf8"},
	    {"a=%c3", "form.utf8"},          {"a=%c0%af", "form.utf8"},
	    {"a=%ed%a0%80", "form.utf8"},    {"a=\xff", "form.utf8"},
	    {"%f4%90%80%80=1", "form.utf8"},
	};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		struct tsso_kvlist l = {.v = (struct tsso_kv *)&l, .n = 99};
		struct tsso_err err = {0};

		assert_int_equal(tsso_form_parse(v[i].in, strlen(v[i].in), &l, &err), -1);
		if (strcmp(tsso_err_reason(&err), v[i].reason) != 0)
			fail_msg("%s: reason %s, want %s", v[i].in, tsso_err_reason(&err),
			         v[i].reason);
		/* ret untouched on failure */
		assert_ptr_equal(l.v, &l);
		assert_int_equal(l.n, 99);
	}
}

static void test_limits(void **state)
{
	struct tsso_kvlist l = {0};
	struct tsso_err err = {0};
	char *big = malloc(TSSO_HTTP_MAX_BODY + 2);
	size_t n = 0;
	(void)state;
	/* A raw NUL inside the declared length. */
	assert_int_equal(tsso_form_parse("a=1\0b=2", 7, &l, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "form.nul");
	/* Exactly TSSO_HTTP_MAX_PARAMS parameters pass, one more does not. */
	for (int i = 0; i < TSSO_HTTP_MAX_PARAMS; i++)
		n += (size_t)sprintf(big + n, "k%d=v&", i);
	assert_int_equal(tsso_form_parse(big, n, &l, &err), 0);
	assert_int_equal(l.n, TSSO_HTTP_MAX_PARAMS);
	tsso_kvlist_free(&l);
	n += (size_t)sprintf(big + n, "one=more");
	assert_int_equal(tsso_form_parse(big, n, &l, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "form.too_many");
	/* Body size: the limit passes, one byte more does not. */
	memset(big, 'a', TSSO_HTTP_MAX_BODY + 1);
	big[0] = 'k';
	big[1] = '=';
	assert_int_equal(tsso_form_parse(big, TSSO_HTTP_MAX_BODY, &l, &err), 0);
	assert_int_equal(strlen(tsso_kvlist_get(&l, "k")), TSSO_HTTP_MAX_BODY - 2);
	tsso_kvlist_free(&l);
	assert_int_equal(tsso_form_parse(big, TSSO_HTTP_MAX_BODY + 1, &l, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "form.too_large");
	free(big);
}

static void test_encode(void **state)
{
	struct tsso_buf b;
	struct tsso_kvlist l = {0};
	(void)state;
	tsso_buf_init(&b, 1024);
	assert_int_equal(tsso_buf_adds(&b, "https://idp.example/authorize?"), 0);
	assert_int_equal(tsso_form_encode_append(&b, "response_type", "code"), 0);
	assert_int_equal(tsso_form_encode_append(&b, "scope", "openid email"), 0);
	assert_int_equal(tsso_form_encode_append(&b, "redirect_uri",
	                                         "https://app.example.com/sso/acme/callback"),
	                 0);
	assert_int_equal(tsso_form_encode_append(&b, "x", "a+b&c=d/e?f#g%h~_.-\xc3\xa9"), 0);
	assert_string_equal(b.ptr,
	                    "https://idp.example/authorize?response_type=code"
	                    "&scope=openid%20email"
	                    "&redirect_uri=https%3A%2F%2Fapp.example.com%2Fsso%2Facme%2Fcallback"
	                    "&x=a%2Bb%26c%3Dd%2Fe%3Ff%23g%25h~_.-%C3%A9");
	/* What we encode, our own parser decodes back exactly. */
	{
		const char *q = strchr(b.ptr, '?') + 1;

		parse_ok(q, &l);
		assert_string_equal(tsso_kvlist_get(&l, "scope"), "openid email");
		assert_string_equal(tsso_kvlist_get(&l, "x"), "a+b&c=d/e?f#g%h~_.-\xc3\xa9");
		tsso_kvlist_free(&l);
	}
	/* Appending to an empty buffer or after '&' adds no separator. */
	tsso_buf_reset(&b);
	assert_int_equal(tsso_form_encode_append(&b, "a", ""), 0);
	assert_int_equal(tsso_buf_adds(&b, "&"), 0);
	assert_int_equal(tsso_form_encode_append(&b, "b c", "1"), 0);
	assert_string_equal(b.ptr, "a=&b%20c=1");
	tsso_buf_free(&b);
	/* The buffer's limit is respected. */
	tsso_buf_init(&b, 8);
	assert_int_equal(tsso_form_encode_append(&b, "key", "value"), -1);
	tsso_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_refusals), cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
