/* Unit tests for src/util/json.c: RFC 8259 values in, jansson values out, every refusal class. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tsso/json.h"
#include "tsso/limits.h"

static json_t *parse(const char *text, struct tsso_err *err)
{
	return tsso_json_parse(text, strlen(text), err);
}

/* Parses to the same value as jansson, member order included. */
static void assert_same_as_jansson(const char *text)
{
	struct tsso_err err = {0};
	json_t *ours = parse(text, &err), *theirs;
	char *a, *b;

	if (ours == NULL)
		fail_msg("refused %s: %s %s", text, tsso_err_reason(&err), err.msg);
	theirs = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	assert_non_null(theirs);
	assert_true(json_equal(ours, theirs));
	a = json_dumps(ours, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	b = json_dumps(theirs, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	assert_string_equal(a, b);
	free(a);
	free(b);
	json_decref(ours);
	json_decref(theirs);
}

static void assert_refused(const char *text, size_t len, const char *reason)
{
	struct tsso_err err = {0};
	json_t *v = tsso_json_parse(text, len, &err);

	if (v != NULL)
		fail_msg("accepted: %.*s", (int)len, text);
	assert_string_equal(tsso_err_reason(&err), reason);
	/* jansson refuses it too, but for the documented differences: the
	 * depth and size limits, and a raw NUL byte outside a string. */
	if (text != NULL && strcmp(reason, "json.malformed") == 0 &&
	    memchr(text, '\0', len) == NULL) {
		v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
		if (v != NULL)
			fail_msg("jansson accepts: %.*s", (int)len, text);
	}
}

static void test_accepts(void **state)
{
	static const char *const ok[] = {
	    "{}",
	    "[]",
	    " \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } } \n",
	    "{\"iss\":\"https://idp.example\",\"aud\":[\"c1\",\"c2\"],\"exp\":1764500000,"
	    "\"email_verified\":true,\"x\":false,\"y\":null,\"address\":{\"country\":\"FR\"}}",
	    "\"a string at the top\"",
	    "0",
	    "-0",
	    "true",
	    "null",
	    "[0,-1,9223372036854775807,-9223372036854775808]",
	    "[1.5,-0.0,1e10,1E-5,2.5e+3,0.1,1e-400,6.02214076e23]",
	    "[12345678901234567890123456789012345678901234567890123456789012345678901234567890.5]",
	    "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]",
	    "[\"\\u00e9\\u00E9\\u20ac\\ud83d\\ude00\\uDBFF\\uDFFF\"]",
	    "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \x7f\"]",
	    "{\"a\":1,\"A\":2,\"a \":3,\"\":4}",
	    "{\"a\":{\"x\":1},\"b\":{\"x\":1}}", /* same name in two objects */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_same_as_jansson(ok[i]);
}

static void test_values(void **state)
{
	struct tsso_err err = {0};
	json_t *v =
	    parse("{\"n\":-9223372036854775808,\"r\":2.5,\"s\":\"a\\u0062c\\/\","
	          "\"long\":\"" /* longer than the decoding scratch, with escapes */
	          "\\n0123456789012345678901234567890123456789012345678901234567890123456789"
	          "0123456789012345678901234567890123456789012345678901234567890123456789"
	          "0123456789012345678901234567890123456789012345678901234567890123456789"
	          "0123456789012345678901234567890123456789012345678901234567890123456789"
	          "0123456789012345678901234567890123456789012345678901234567890123456789"
	          "0123456789012345678901234567890123456789012345678901234567890123456789"
	          "0123456789012345678901234567890123456789012345678901234567890123456789"
	          "0123456789012345678901234567890123456789012345678901234567890123456789"
	          "\",\"k\\u00e9\\n\":1}",
	          &err);

	(void)state;
	assert_non_null(v);
	assert_true(json_is_integer(json_object_get(v, "n")));
	assert_true(json_integer_value(json_object_get(v, "n")) == INT64_MIN);
	assert_true(json_is_real(json_object_get(v, "r")));
	assert_string_equal(json_string_value(json_object_get(v, "s")), "abc/");
	assert_int_equal(json_string_length(json_object_get(v, "long")), 1 + 8 * 70);
	assert_int_equal(json_string_value(json_object_get(v, "long"))[0], '\n');
	assert_non_null(json_object_get(v, "k\xc3\xa9\n"));
	json_decref(v);
}

/* RFC 7515 §5.2 / RFC 7519 §4: a name twice is refused at every depth and
 * whatever the spelling of the name (escapes decode first). */
static void test_duplicates(void **state)
{
	static const char *const dup[] = {
	    "{\"a\":1,\"a\":1}",   "{\"a\":1,\"b\":2,\"a\":3}",   "{\"a\":1,\"\\u0061\":2}",
	    "{\"\\/\":1,\"/\":2}", "{\"x\":{\"a\":[],\"a\":{}}}", "[1,{\"a\":1,\"a\":2}]",
	    "{\"\":1,\"\":2}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(dup) / sizeof(dup[0]); i++)
		assert_refused(dup[i], strlen(dup[i]), "json.duplicate_member");
}

static void test_syntax(void **state)
{
	static const char *const bad[] = {
	    "",
	    " ",
	    "{",
	    "}",
	    "[1,]",
	    "[,1]",
	    "{\"a\":1,}",
	    "{\"a\" 1}",
	    "{a:1}",
	    "{'a':1}",
	    "{\"a\":1 \"b\":2}",
	    "[1 2]",
	    "tru",
	    "truex",
	    "True",
	    "nul",
	    "NaN",
	    "Infinity",
	    "[undefined]",
	    "{\"a\":1}{}",    /* trailing garbage */
	    "{\"a\":1} x",    /* trailing garbage after whitespace */
	    "[1]\f",          /* form feed is not JSON whitespace */
	    "\xef\xbb\xbf{}", /* a byte order mark */
	    "[\"abc]",        /* unterminated string */
	    "[\"abc\\\"]",    /* escaped quote then the end */
	    "/* c */ {}",     /* comments */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(bad[i], strlen(bad[i]), "json.malformed");
	/* A raw NUL byte is never JSON, also where jansson would skip it. */
	assert_refused("[1\0]", 4, "json.malformed");
	assert_refused("{}\0", 3, "json.malformed");
	assert_refused("[\"a\0\"]", 6, "json.malformed");
	assert_refused(NULL, 0, "json.malformed");
}

/* RFC 8259 §6: no leading zeros, no '+', no bare '.', digits after '.' and
 * 'e'; integers must fit json_int_t and reals a double (as in jansson). */
static void test_numbers(void **state)
{
	static const char *const bad[] = {
	    "01",
	    "-01",
	    "00",
	    "+1",
	    "-",
	    ".5",
	    "1.",
	    "1.e5",
	    "1e",
	    "1e+",
	    "1E-",
	    "0x10",
	    "1_0",
	    "--1",
	    "-a",
	    "1.5.5",
	    "[01]",
	    "[1e]",
	    "- 1",
	    "9223372036854775808",
	    "-9223372036854775809",
	    "99999999999999999999999",
	    "1e400",
	    "-1e400",
	    "[1.7976931348623159e308]",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(bad[i], strlen(bad[i]), "json.malformed");
	assert_same_as_jansson("[9223372036854775807,-9223372036854775808,1.7976931348623157e308]");
}

/* RFC 8259 §7-8 and RFC 3629 §4: strings are well-formed UTF-8 without raw
 * control characters; escapes are the listed ones; \u escapes pair their
 * surrogates; \u0000 is refused (jansson without JSON_ALLOW_NUL). */
static void test_strings(void **state)
{
	static const char *const bad[] = {
	    "[\"a\x01\"]", /* control character */
	    "[\"a\nb\"]",  /* raw newline */
	    "[\"a\tb\"]",  /* raw tab */
	    "[\"\x1f\"]",
	    "[\"\\x41\"]", /* not a JSON escape */
	    "[\"\\a\"]",
	    "[\"\\'\"]",
	    "[\"\\u12\"]",      /* short \u */
	    "[\"\\u12G4\"]",    /* not hex */
	    "[\"\\u0000\"]",    /* NUL */
	    "{\"a\\u0000\":1}", /* NUL in a name */
	    "[\"\\ud800\"]",    /* lone high surrogate */
	    "[\"\\ud800x\"]",
	    "[\"\\ud800\\n\"]",
	    "[\"\\ud800\\u0041\"]", /* high then not low */
	    "[\"\\ud800\\ud800\"]",
	    "[\"\\udc00\"]",        /* lone low surrogate */
	    "[\"\\udfff\\ud800\"]", /* reversed pair */
	    "[\"\xc0\xaf\"]",       /* overlong '/' */
	    "[\"\xc1\xbf\"]",
	    "[\"\xe0\x80\xaf\"]",     /* overlong, 3 bytes */
	    "[\"\xf0\x80\x80\xaf\"]", /* overlong, 4 bytes */
	    "[\"\xed\xa0\x80\"]",     /* UTF-8 encoded surrogate */
	    "[\"\xf4\x90\x80\x80\"]", /* above U+10FFFF */
	    "[\"\xf5\x80\x80\x80\"]",
	    "[\"\xff\"]",
	    "[\"\x80\"]", /* lone continuation byte */
	    "[\"\xc3\"]", /* truncated sequence */
	    "[\"\xe2\x82\"]",
	    "[\"\xc3(\"]", /* bad continuation */
	    "[\xc3\xa9]",  /* UTF-8 outside a string */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(bad[i], strlen(bad[i]), "json.malformed");
	assert_refused("[\"\xc3", 3, "json.malformed"); /* truncated at the end of the text */
}

/* The eight-at-a-time scan of plain string bytes stops at the right byte
 * whatever its position in a group: each special byte at each offset. */
static void test_string_positions(void **state)
{
	static const struct {
		const char *ins;
		bool ok;
	} kinds[] = {
	    {"\\n", true},   {"\\u00e9", true}, {"\xc3\xa9", true}, {"\xf0\x9f\x98\x80", true},
	    {"\x7f", true},  {"\x01", false},   {"\x1f", false},    {"\xc3", false},
	    {"\xff", false}, {"\\x", false},    {"\n", false},
	};
	char text[128];

	(void)state;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t pos = 0; pos < 20; pos++) {
			size_t n = 0;

			text[n++] = '[';
			text[n++] = '"';
			for (size_t i = 0; i < pos; i++)
				text[n++] = (char)('a' + i);
			memcpy(text + n, kinds[k].ins, strlen(kinds[k].ins));
			n += strlen(kinds[k].ins);
			memcpy(text + n, "0123456789abcdef\"]", 19);
			text[n + 19] = '\0';
			if (kinds[k].ok)
				assert_same_as_jansson(text);
			else
				assert_refused(text, strlen(text), "json.malformed");
		}
	}
}

static char *nested(size_t depth, char open, char close)
{
	char *s = malloc(2 * depth + 1);

	memset(s, open, depth);
	memset(s + depth, close, depth);
	s[2 * depth] = '\0';
	return s;
}

/* 33 objects, each the only member of the one around it. */
static const char deep_objects[] =
    "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":"
    "{\"l\":{\"m\":{\"n\":{\"o\":{\"p\":{\"q\":{\"r\":{\"s\":{\"t\":{\"u\":{\"v\":"
    "{\"w\":{\"x\":{\"y\":{\"z\":{\"0\":{\"1\":{\"2\":{\"3\":{\"4\":{\"5\":{}"
    "}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}";

/* TSSO_JSON_MAX_DEPTH nested containers are read, one more is refused
 * (before the stack could grow with the attacker's input). */
static void test_depth(void **state)
{
	char *ok = nested(TSSO_JSON_MAX_DEPTH, '[', ']');
	char *deep = nested(TSSO_JSON_MAX_DEPTH + 1, '[', ']');
	char *deeper = nested(100000, '[', ']');
	struct tsso_err err = {0};
	json_t *v;

	(void)state;
	v = parse(ok, &err);
	assert_non_null(v);
	json_decref(v);
	assert_refused(deep, strlen(deep), "json.too_deep");
	assert_refused(deeper, strlen(deeper), "json.too_deep");
	assert_refused(deep_objects, strlen(deep_objects), "json.too_deep");
	free(ok);
	free(deep);
	free(deeper);
}

static void test_size(void **state)
{
	size_t n = TSSO_JSON_MAX_TEXT + 1;
	char *big = malloc(n);
	struct tsso_err err = {0};

	(void)state;
	memset(big, ' ', n);
	big[0] = '0';
	assert_null(tsso_json_parse(big, n, &err));
	assert_string_equal(tsso_err_reason(&err), "json.too_large");
	free(big);
}

/* The message names an offset, never the input (it may be a token). */
static void test_message(void **state)
{
	struct tsso_err err = {0};

	(void)state;
	assert_null(parse("{\"secret-value\":01}", &err));
	assert_null(strstr(err.msg, "secret"));
	assert_non_null(strstr(err.msg, "byte 17"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepts),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_string_positions),
	    cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_size),
	    cmocka_unit_test(test_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
