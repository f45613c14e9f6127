/* Unit tests for the JSON writer: escaping of every byte class, numbers,
 * nesting, refusals with their reasons, and random trees checked byte for
 * byte against jansson's own compact dump and by reparsing. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tsso/jsonw.h"
#include "tsso/limits.h"

/* What jansson writes for v (any type), as the reference. */
static char *jansson_text(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	assert_non_null(s);
	return s;
}

/* Write v with the writer into a fresh buffer and check it succeeded. */
static void write_ok(const json_t *v, struct tsso_buf *b)
{
	struct tsso_jsonw w;
	struct tsso_err err = {0};

	tsso_buf_init(b, 1 << 20);
	tsso_jsonw_init(&w, b);
	tsso_jsonw_value(&w, v);
	assert_int_equal(tsso_jsonw_finish(&w, &err), 0);
	assert_non_null(b->ptr);
	assert_int_equal(strlen(b->ptr), b->len);
}

/* The writer's bytes are jansson's, and (when reparse: jansson's parser
 * refuses NUL in member names) they parse back to an equal value. */
static void assert_same_bytes(const json_t *v, bool reparse)
{
	struct tsso_buf b;
	char *want = jansson_text(v);
	json_t *back;

	write_ok(v, &b);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.ptr, want, b.len);
	if (reparse) {
		back = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		assert_non_null(back);
		assert_true(json_equal(back, v));
		json_decref(back);
	}
	free(want);
	tsso_buf_free(&b);
}

static void assert_same_as_jansson(const json_t *v)
{
	assert_same_bytes(v, true);
}

/* Write the n bytes s as a string and return the reason of the failure, or
 * NULL on success with *ret_text (new) the output. */
static const char *write_str(const char *s, size_t n, char **ret_text)
{
	struct tsso_buf b;
	struct tsso_jsonw w;
	struct tsso_err err = {0};

	tsso_buf_init(&b, 4096);
	tsso_jsonw_init(&w, &b);
	tsso_jsonw_strn(&w, s, n);
	if (tsso_jsonw_finish(&w, &err) < 0) {
		tsso_buf_free(&b);
		return err.reason;
	}
	*ret_text = tsso_buf_take(&b);
	return NULL;
}

/* RFC 8259 §7: every control character U+0000-U+001F is escaped, with
 * the short forms for \b \f \n \r \t and upper-case \u00XX otherwise. */
static void test_control_chars(void **state)
{
	static const char *const shorts[32] = {
	    [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r"};
	(void)state;

	for (int c = 0; c < 0x20; c++) {
		char in[3] = {'a', (char)c, 'z'}, want[16], *got = NULL;
		json_t *j = json_stringn(in, sizeof(in));

		if (shorts[c] != NULL)
			snprintf(want, sizeof(want), "\"a%sz\"", shorts[c]);
		else
			snprintf(want, sizeof(want), "\"a\\u%04Xz\"", (unsigned)c);
		assert_null(write_str(in, sizeof(in), &got));
		assert_string_equal(got, want);
		free(got);
		assert_same_as_jansson(j);
		json_decref(j);
	}
}

/* Every byte value at every position of a 31-byte string, so that the
 * 16-bytes-at-a-time scan (SSE2), the 8-bytes-at-a-time one and the byte
 * loop each meet it: ASCII as jansson writes
 * it, a lone byte >= 0x80 refused as not UTF-8. */
static void test_every_byte_every_position(void **state)
{
	(void)state;

	for (int c = 0; c < 256; c++) {
		for (size_t pos = 0; pos < 31; pos++) {
			char in[31], *got = NULL;
			const char *reason;

			memset(in, 'x', sizeof(in));
			in[pos] = (char)c;
			reason = write_str(in, sizeof(in), &got);
			if (c >= 0x80) {
				assert_string_equal(reason, "json.bad_value");
			} else {
				json_t *j = json_stringn(in, sizeof(in));
				char *want = jansson_text(j);
				assert_null(reason);
				assert_string_equal(got, want);
				free(want);
				free(got);
				json_decref(j);
			}
		}
	}
}

static void test_quotes_backslash_ascii(void **state)
{
	char all[128 - 0x20 + 1], *got = NULL;
	json_t *j;
	(void)state;

	assert_null(write_str("say \"hi\" \\ bye", 14, &got));
	assert_string_equal(got, "\"say \\\"hi\\\" \\\\ bye\"");
	free(got);
	/* '/' and DEL need no escape (RFC 8259 §7) and are not escaped. */
	assert_null(write_str("a/b\x7f", 4, &got));
	assert_string_equal(got, "\"a/b\x7f\"");
	free(got);
	/* Every printable ASCII byte, against jansson. */
	for (int c = 0x20; c < 0x80; c++)
		all[c - 0x20] = (char)c;
	all[sizeof(all) - 1] = '\0';
	j = json_string(all);
	assert_same_as_jansson(j);
	json_decref(j);
	/* Empty string. */
	assert_null(write_str("", 0, &got));
	assert_string_equal(got, "\"\"");
	free(got);
}

/* Well-formed non-ASCII text is copied unchanged, never \u-escaped. */
static void test_non_ascii_passthrough(void **state)
{
	static const char *const texts[] = {
	    "caf\xc3\xa9",                    /* é, 2 bytes */
	    "\xe2\x80\xa8 and \xe2\x80\xa9",  /* U+2028, U+2029 */
	    "\xef\xbf\xbf",                   /* U+FFFF */
	    "\xf0\x9f\x90\xa6 toucan",        /* U+1F426, 4 bytes */
	    "\xf4\x8f\xbf\xbf",               /* U+10FFFF, the last one */
	    "\xe6\x97\xa5\xe6\x9c\xac\"\\\n", /* mixed with escapes */
	};
	(void)state;

	for (size_t i = 0; i < TSSO_ARRAY_LEN(texts); i++) {
		char *got = NULL, want[64];
		json_t *j = json_string(texts[i]);

		assert_non_null(j);
		assert_null(write_str(texts[i], strlen(texts[i]), &got));
		if (strchr(texts[i], '"') == NULL) {
			snprintf(want, sizeof(want), "\"%s\"", texts[i]);
			assert_string_equal(got, want);
		}
		free(got);
		assert_same_as_jansson(j);
		json_decref(j);
	}
}

/* Text that is not UTF-8 is refused, not passed on for a parser to choke on. */
static void test_bad_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
	    {"\x80", 1},             /* lone continuation byte */
	    {"a\xc3", 2},            /* truncated 2-byte sequence */
	    {"\xc0\xaf", 2},         /* overlong '/' */
	    {"\xe0\x80\xaf", 3},     /* overlong, 3 bytes */
	    {"\xed\xa0\x80", 3},     /* UTF-16 surrogate U+D800 */
	    {"\xf4\x90\x80\x80", 4}, /* above U+10FFFF */
	    {"\xff", 1},             /* never in UTF-8 */
	    {"ok\xe2\x82", 5},       /* truncated at the end */
	};
	(void)state;

	for (size_t i = 0; i < TSSO_ARRAY_LEN(bad); i++) {
		char *got = NULL;

		assert_string_equal(write_str(bad[i].s, bad[i].n, &got), "json.bad_value");
		assert_null(got);
	}
}

static void test_numbers(void **state)
{
	static const long long ints[] = {0, 1, -1, 9, 10, -10, 4711, LLONG_MAX, LLONG_MIN};
	static const double reals[] = {
	    0.0,    -0.0, 0.1,           1.5,   -2.25,  1e15,    1e16,     1e17,
	    1.5e-7, 1e-5, 123456789.125, 1e300, 5e-324, DBL_MAX, -DBL_MIN, 3.141592653589793};
	(void)state;

	for (size_t i = 0; i < TSSO_ARRAY_LEN(ints); i++) {
		json_t *j = json_integer((json_int_t)ints[i]);
		assert_same_as_jansson(j);
		json_decref(j);
	}
	for (size_t i = 0; i < TSSO_ARRAY_LEN(reals); i++) {
		json_t *j = json_real(reals[i]);
		assert_same_as_jansson(j);
		json_decref(j);
	}
}

/* RFC 8259 §6: no NaN or infinity in JSON. */
static void test_non_finite(void **state)
{
	const double v[] = {NAN, INFINITY, -INFINITY};
	(void)state;

	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		struct tsso_buf b;
		struct tsso_jsonw w;
		struct tsso_err err = {0};

		tsso_buf_init(&b, 64);
		tsso_jsonw_init(&w, &b);
		tsso_jsonw_arr_begin(&w);
		tsso_jsonw_real(&w, v[i]);
		tsso_jsonw_arr_end(&w);
		assert_int_equal(tsso_jsonw_finish(&w, &err), -1);
		assert_string_equal(err.reason, "json.bad_value");
		tsso_buf_free(&b);
	}
}

/* Hand-written documents: separators, literals, nesting, empty containers. */
static void test_structure(void **state)
{
	struct tsso_buf b;
	struct tsso_jsonw w;
	struct tsso_err err = {0};
	json_t *nested = json_loads(
	    "{\"a\":[1,2,{\"b\":null,\"c\":[true,false,[]]}],\"d\":{},\"e\":\"x\"}", 0, NULL);
	(void)state;

	tsso_buf_init(&b, 4096);
	assert_int_equal(tsso_buf_add(&b, "prefix:", 7), 0);
	tsso_jsonw_init(&w, &b);
	tsso_jsonw_obj_begin(&w);
	tsso_jsonw_key(&w, "s");
	tsso_jsonw_str(&w, "v");
	tsso_jsonw_key(&w, "n");
	tsso_jsonw_int(&w, -3);
	tsso_jsonw_key(&w, "t");
	tsso_jsonw_bool(&w, true);
	tsso_jsonw_key(&w, "f");
	tsso_jsonw_bool(&w, false);
	tsso_jsonw_key(&w, "z");
	tsso_jsonw_null(&w);
	tsso_jsonw_key(&w, "a");
	tsso_jsonw_arr_begin(&w);
	tsso_jsonw_arr_begin(&w);
	tsso_jsonw_arr_end(&w);
	tsso_jsonw_obj_begin(&w);
	tsso_jsonw_obj_end(&w);
	tsso_jsonw_str(&w, "q\"");
	tsso_jsonw_arr_end(&w);
	tsso_jsonw_key(&w, "k\n");
	tsso_jsonw_value(&w, nested);
	tsso_jsonw_obj_end(&w);
	assert_int_equal(tsso_jsonw_finish(&w, &err), 0);
	/* Appended after what the buffer held. */
	assert_string_equal(b.ptr, "prefix:{\"s\":\"v\",\"n\":-3,\"t\":true,\"f\":false,\"z\":null,"
	                           "\"a\":[[],{},\"q\\\"\"],\"k\\n\":{\"a\":[1,2,{\"b\":null,\"c\":"
	                           "[true,false,[]]}],\"d\":{},\"e\":\"x\"}}");
	assert_same_as_jansson(nested);
	json_decref(nested);
	tsso_buf_free(&b);
}

/* Member names with NUL bytes (jansson 2.14 keeps their length). */
static void test_key_with_nul(void **state)
{
	json_t *o = json_object();
	(void)state;

	assert_int_equal(json_object_setn_new(o, "a\0b", 3, json_integer(1)), 0);
	assert_int_equal(json_object_set_new(o, "\xc3\xa9t\xc3\xa9", json_true()), 0);
	assert_same_bytes(o, false);
	json_decref(o);
}

static void test_depth(void **state)
{
	json_t *deep = json_array(), *cur = deep;
	struct tsso_buf b;
	struct tsso_jsonw w;
	struct tsso_err err = {0};
	(void)state;

	/* Exactly the limit is written... */
	for (int i = 1; i < TSSO_JSONW_DEPTH_MAX; i++) {
		json_t *next = json_array();
		json_array_append_new(cur, next);
		cur = next;
	}
	assert_same_as_jansson(deep);
	/* ...one more level is refused. */
	json_array_append_new(cur, json_array());
	tsso_buf_init(&b, 1 << 16);
	tsso_jsonw_init(&w, &b);
	tsso_jsonw_value(&w, deep);
	assert_int_equal(tsso_jsonw_finish(&w, &err), -1);
	assert_string_equal(err.reason, "json.bad_value");
	tsso_buf_free(&b);
	json_decref(deep);

	/* A cyclic tree ends at the depth limit instead of recursing forever. */
	{
		json_t *a = json_array(), *c = json_array();
		assert_int_equal(json_array_append(a, c), 0);
		assert_int_equal(json_array_append(c, a), 0);
		tsso_buf_init(&b, 1 << 16);
		tsso_jsonw_init(&w, &b);
		tsso_jsonw_value(&w, a);
		assert_int_equal(tsso_jsonw_finish(&w, &err), -1);
		assert_string_equal(err.reason, "json.bad_value");
		tsso_buf_free(&b);
		json_array_clear(c);
		json_decref(c);
		json_decref(a);
	}
}

/* Unbalanced calls are reported, not silently written. */
static void test_unbalanced(void **state)
{
	struct tsso_buf b;
	struct tsso_jsonw w;
	struct tsso_err err = {0};
	(void)state;

	tsso_buf_init(&b, 64);
	tsso_jsonw_init(&w, &b);
	tsso_jsonw_obj_begin(&w);
	assert_int_equal(tsso_jsonw_finish(&w, &err), -1);
	assert_string_equal(err.reason, "json.bad_value");
	tsso_buf_free(&b);

	tsso_buf_init(&b, 64);
	tsso_jsonw_init(&w, &b);
	tsso_jsonw_arr_end(&w);
	assert_int_equal(tsso_jsonw_finish(&w, &err), -1);
	assert_string_equal(err.reason, "json.bad_value");
	tsso_buf_free(&b);

	tsso_jsonw_init(&w, &b);
	tsso_jsonw_value(&w, NULL);
	assert_int_equal(tsso_jsonw_finish(&w, &err), -1);
	assert_string_equal(err.reason, "json.bad_value");
	tsso_buf_free(&b);
}

/* The buffer's limit gives json.too_large; the content never exceeds it,
 * and a failure is sticky (later writes change nothing). */
static void test_too_large_sticky(void **state)
{
	for (size_t max = 0; max < 24; max++) {
		struct tsso_buf b;
		struct tsso_jsonw w;
		struct tsso_err err = {0};
		const char *want = "{\"key\":\"value\",\"n\":12}";
		(void)state;

		tsso_buf_init(&b, max);
		tsso_jsonw_init(&w, &b);
		tsso_jsonw_obj_begin(&w);
		tsso_jsonw_key(&w, "key");
		tsso_jsonw_str(&w, "value");
		tsso_jsonw_key(&w, "n");
		tsso_jsonw_int(&w, 12);
		tsso_jsonw_obj_end(&w);
		assert_true(b.len <= max);
		if (max >= strlen(want)) {
			assert_int_equal(tsso_jsonw_finish(&w, &err), 0);
			assert_string_equal(b.ptr, want);
		} else {
			size_t len = b.len;
			assert_int_equal(tsso_jsonw_finish(&w, &err), -1);
			assert_string_equal(err.reason, "json.too_large");
			tsso_jsonw_str(&w, "x");
			tsso_jsonw_int(&w, 1);
			assert_int_equal(b.len, len);
		}
		tsso_buf_free(&b);
	}
}

/* --- random trees (a fixed-seed PRNG: reproducible test data, nothing
 * secret) --- */

static uint32_t rnd_state = 0x2545f491u;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* A random valid UTF-8 string with escapes, multi-byte sequences and (when
 * nul) NUL bytes. */
static json_t *rnd_string(bool nul)
{
	static const char *const pieces[] = {"a",
	                                     "Z",
	                                     " ",
	                                     "\"",
	                                     "\\",
	                                     "/",
	                                     "\n",
	                                     "\t",
	                                     "\x01",
	                                     "\x1f",
	                                     "\x7f",
	                                     "\xc3\xa9",
	                                     "\xe2\x80\xa8",
	                                     "\xf0\x9f\x90\xa6",
	                                     "toucan",
	                                     "{}[],:"};
	char buf[256];
	size_t n = 0, parts = rnd() % 12;

	for (size_t i = 0; i < parts; i++) {
		const char *p = pieces[rnd() % TSSO_ARRAY_LEN(pieces)];
		size_t l = strlen(p);
		if (nul && rnd() % 16 == 0) {
			buf[n++] = '\0';
			continue;
		}
		memcpy(buf + n, p, l);
		n += l;
	}
	return json_stringn(buf, n);
}

static json_t *rnd_tree(int depth)
{
	uint32_t kind = rnd() % (depth > 0 ? 9 : 7);

	switch (kind) {
	case 0:
		return json_null();
	case 1:
		return json_boolean(rnd() % 2);
	case 2:
		return json_integer((json_int_t)((int64_t)((uint64_t)rnd() << 32 | rnd())) >>
		                    (rnd() % 64));
	case 3: {
		double d;
		uint64_t bits = (uint64_t)rnd() << 32 | rnd();
		memcpy(&d, &bits, sizeof(d));
		return json_real(isfinite(d) ? d : 0.5);
	}
	case 4:
	case 5:
	case 6:
		return rnd_string(true);
	case 7: {
		json_t *a = json_array();
		for (uint32_t i = rnd() % 5; i > 0; i--)
			json_array_append_new(a, rnd_tree(depth - 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		for (uint32_t i = rnd() % 5; i > 0; i--) {
			json_t *k = rnd_string(false);
			json_object_setn_new(o, json_string_value(k), json_string_length(k),
			                     rnd_tree(depth - 1));
			json_decref(k);
		}
		return o;
	}
	}
}

static void test_random_trees(void **state)
{
	(void)state;

	for (int i = 0; i < 2000; i++) {
		json_t *t = rnd_tree(5);

		assert_non_null(t);
		assert_same_as_jansson(t);
		json_decref(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_control_chars),
	    cmocka_unit_test(test_every_byte_every_position),
	    cmocka_unit_test(test_quotes_backslash_ascii),
	    cmocka_unit_test(test_non_ascii_passthrough),
	    cmocka_unit_test(test_bad_utf8),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_non_finite),
	    cmocka_unit_test(test_structure),
	    cmocka_unit_test(test_key_with_nul),
	    cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_unbalanced),
	    cmocka_unit_test(test_too_large_sticky),
	    cmocka_unit_test(test_random_trees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
