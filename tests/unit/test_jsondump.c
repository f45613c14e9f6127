/* Unit tests for src/util/jsondump.c: the same text as jansson's compact dump, and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tsso/b64.h"
#include "tsso/buf.h"
#include "tsso/jsondump.h"

/* Ours must be byte for byte what json_dumps(v, JSON_COMPACT) writes. */
static void same_as_jansson(json_t *v)
{
	char *ref = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	struct tsso_buf b;

	assert_non_null(ref);
	tsso_buf_init(&b, 1 << 20);
	assert_int_equal(tsso_json_dump_append(&b, v), 0);
	assert_string_equal(b.ptr, ref);
	tsso_buf_free(&b);
	free(ref);
	json_decref(v);
}

static void test_matches_jansson(void **state)
{
	(void)state;
	same_as_jansson(json_pack("{s:s, s:I, s:I, s:b, s:b, s:n, s:f, s:f, s:[], s:{}}", "a", "b",
	                          "n", (json_int_t)-9223372036854775807LL - 1, "z", (json_int_t)0,
	                          "t", 1, "f", 0, "nul", "r", 1.5, "ri", 3.0, "ea", "eo"));
	same_as_jansson(json_pack("[s, s, s, s]", "quote\" back\\ slash/", "ctl\x01\x1f\b\f\n\r\t",
	                          "utf-8: \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\x7f del"));
	same_as_jansson(json_pack("{s:[{s:[i, i]}, [], {}], s:s}", "nested", "k", 1, 2, "x", ""));
	same_as_jansson(json_stringn("nul\0inside", 10));
	same_as_jansson(json_real(1e300));
	same_as_jansson(json_real(-0.1));
	same_as_jansson(json_real(1e-5));
	same_as_jansson(json_real(-2.5e-300));
	same_as_jansson(json_real(1e21));
	same_as_jansson(json_integer(1234567890123LL));
}

static void test_refuses(void **state)
{
	struct tsso_buf b;
	json_t *deep = json_array(), *v;
	(void)state;

	tsso_buf_init(&b, 1 << 20);
	/* Invalid UTF-8 in a string jansson did not check. */
	v = json_stringn_nocheck("\xc0\xaf", 2);
	assert_int_equal(tsso_json_dump_append(&b, v), -1);
	json_decref(v);
	/* Nesting beyond the limit. */
	for (int i = 0; i < TSSO_JSON_DUMP_DEPTH + 1; i++) {
		json_t *outer = json_array();

		assert_int_equal(json_array_append_new(outer, deep), 0);
		deep = outer;
	}
	tsso_buf_reset(&b);
	assert_int_equal(tsso_json_dump_append(&b, deep), -1);
	json_decref(deep);
	assert_int_equal(tsso_json_dump_append(&b, NULL), -1);
	tsso_buf_free(&b);
	/* Over the buffer's limit. */
	tsso_buf_init(&b, 8);
	v = json_string("123456789");
	assert_int_equal(tsso_json_dump_append(&b, v), -1);
	json_decref(v);
	tsso_buf_free(&b);
}

static void test_str_append(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out; /* NULL: refused */
	} v[] = {
	    {"plain", 5, "\"plain\""},
	    {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
	    {"\x00\x1f", 2, "\"\\u0000\\u001F\""},
	    {"\xe2\x82\xac", 3, "\"\xe2\x82\xac\""},
	    {"\xc0\xaf", 2, NULL},         /* overlong '/' */
	    {"\x80", 1, NULL},             /* lone continuation byte */
	    {"\xed\xa0\x80", 3, NULL},     /* UTF-16 surrogate */
	    {"\xf4\x90\x80\x80", 4, NULL}, /* beyond U+10FFFF */
	    {"ok\xe2\x82", 4, NULL},       /* truncated sequence */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct tsso_buf b;

		tsso_buf_init(&b, 64);
		if (v[i].out != NULL) {
			assert_int_equal(tsso_json_str_append(&b, v[i].in, v[i].n), 0);
			assert_string_equal(b.ptr, v[i].out);
		} else {
			assert_int_equal(tsso_json_str_append(&b, v[i].in, v[i].n), -1);
		}
		tsso_buf_free(&b);
	}
}

static void test_int_append(void **state)
{
	struct tsso_buf b;
	(void)state;
	tsso_buf_init(&b, 64);
	assert_int_equal(tsso_json_int_append(&b, 0), 0);
	assert_int_equal(tsso_buf_add(&b, ",", 1), 0);
	assert_int_equal(tsso_json_int_append(&b, -42), 0);
	assert_int_equal(tsso_buf_add(&b, ",", 1), 0);
	assert_int_equal(tsso_json_int_append(&b, INT64_MIN), 0);
	assert_string_equal(b.ptr, "0,-42,-9223372036854775808");
	tsso_buf_free(&b);
}

/* The base64url decoder, group by group: every length round-trips, and a
 * byte outside the alphabet at any position is refused. */
static void test_b64url_every_length(void **state)
{
	unsigned char data[70];
	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(data); n++) {
		char *e = tsso_b64url_encode(data, n);
		size_t len = strlen(e);
		unsigned char *d = NULL;
		size_t dn = 0;

		assert_int_equal(tsso_b64url_decode(e, len, &d, &dn), 0);
		assert_int_equal(dn, n);
		assert_memory_equal(d, data, n);
		free(d);
		for (size_t pos = 0; pos < len; pos++) {
			char saved = e[pos];

			e[pos] = pos % 2 ? '=' : '\0';
			assert_int_equal(tsso_b64url_decode(e, len, &d, &dn), -1);
			e[pos] = saved;
		}
		free(e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_matches_jansson),     cmocka_unit_test(test_refuses),
	    cmocka_unit_test(test_str_append),          cmocka_unit_test(test_int_append),
	    cmocka_unit_test(test_b64url_every_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
