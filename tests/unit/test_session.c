/* Unit tests for src/session/session.c (the record and its JSON form) and the
 * keyed hash the in-memory tables use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/session/store_impl.h"
#include "tsso/limits.h"
#include "tsso/session.h"

static struct tsso_session *sample(void)
{
	struct tsso_session *s = tsso_session_new();

	assert_non_null(s);
	memset(s->id, 'A', TSSO_SESSION_ID_LEN);
	assert_int_equal(tsso_session_set(&s->tenant, "acme"), 0);
	assert_int_equal(tsso_session_set(&s->iss, "https://login.acme.example/"), 0);
	assert_int_equal(tsso_session_set(&s->sub, "248289761001"), 0);
	assert_int_equal(tsso_session_set(&s->sid, "08a5019c-17e1-4977-8f42-65a12843ea02"), 0);
	assert_int_equal(tsso_session_set(&s->id_token, "eyJ.id.token"), 0);
	assert_int_equal(tsso_session_set(&s->access_token, "at-\"quoted\"\n"), 0);
	assert_int_equal(tsso_session_set(&s->refresh_token, "rt"), 0);
	assert_int_equal(tsso_session_set(&s->embed_token, "embed"), 0);
	s->created_ms = 1700000000123;
	s->last_seen_ms = 1700000000456;
	s->expires_ms = 1700001800456;
	s->access_exp = 1700000300;
	s->refresh_exp = 1700086400;
	s->embed_exp = 1700000600;
	s->embed_iat = 1700000300;
	s->identity = json_pack("{s:s, s:b, s:[s], s:{s:s}}", "username", "jane@acme.example",
	                        "admin", 0, "groups", "finance", "attributes", "region", "EU");
	assert_non_null(s->identity);
	return s;
}

static void test_round_trip(void **state)
{
	struct tsso_session *s = sample(), *b;
	struct tsso_err err = {0};
	char *json = NULL;
	size_t n = 0;
	(void)state;

	assert_int_equal(tsso_session_to_json(s, &json, &n, &err), 0);
	assert_int_equal(strlen(json), n);
	b = tsso_session_from_json(json, n, &err);
	assert_non_null(b);
	assert_string_equal(b->id, s->id);
	assert_string_equal(b->tenant, "acme");
	assert_string_equal(b->iss, s->iss);
	assert_string_equal(b->sub, s->sub);
	assert_string_equal(b->sid, s->sid);
	assert_string_equal(b->id_token, s->id_token);
	assert_string_equal(b->access_token, s->access_token);
	assert_string_equal(b->refresh_token, "rt");
	assert_string_equal(b->embed_token, "embed");
	assert_true(b->created_ms == s->created_ms && b->last_seen_ms == s->last_seen_ms &&
	            b->expires_ms == s->expires_ms && b->access_exp == s->access_exp &&
	            b->refresh_exp == s->refresh_exp && b->embed_exp == s->embed_exp);
	assert_true(b->embed_iat == s->embed_iat);
	assert_true(json_equal(tsso_session_identity(b), s->identity));
	free(json);
	tsso_session_free(b);

	/* Optional members absent: still a valid record, and compact. */
	tsso_session_free(s);
	s = tsso_session_new();
	assert_int_equal(tsso_session_set(&s->tenant, "acme"), 0);
	assert_int_equal(tsso_session_set(&s->iss, "i"), 0);
	assert_int_equal(tsso_session_set(&s->sub, "s"), 0);
	s->created_ms = 1;
	s->expires_ms = 2;
	assert_int_equal(tsso_session_to_json(s, &json, &n, &err), 0);
	assert_true(n < 64);
	b = tsso_session_from_json(json, n, &err);
	assert_non_null(b);
	assert_null(b->sid);
	assert_null(b->identity);
	assert_string_equal(b->id, "");
	free(json);
	tsso_session_free(b);
	tsso_session_free(s);
}

static void test_to_json_refusals(void **state)
{
	struct tsso_session *s = sample();
	struct tsso_err err = {0};
	char *json = (char *)"untouched", *big;
	size_t n = 7;
	(void)state;

	big = malloc(TSSO_SESSION_FIELD_MAX + 2);
	memset(big, 's', TSSO_SESSION_FIELD_MAX + 1);
	big[TSSO_SESSION_FIELD_MAX + 1] = '\0';
	assert_int_equal(tsso_session_set(&s->sid, big), 0);
	assert_int_equal(tsso_session_to_json(s, &json, &n, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "session.too_large");
	assert_string_equal(json, "untouched");
	assert_int_equal(tsso_session_set(&s->sid, NULL), 0);
	free(big);

	big = malloc(TSSO_SESSION_JSON_MAX + 1);
	memset(big, 't', TSSO_SESSION_JSON_MAX);
	big[TSSO_SESSION_JSON_MAX] = '\0';
	assert_int_equal(tsso_session_set(&s->access_token, big), 0);
	assert_int_equal(tsso_session_to_json(s, &json, &n, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "session.too_large");
	free(big);

	/* Just over the limit with escapes: every quote doubles. */
	assert_int_equal(tsso_session_set(&s->access_token, NULL), 0);
	big = malloc(TSSO_SESSION_JSON_MAX / 2 + 1);
	memset(big, '"', TSSO_SESSION_JSON_MAX / 2);
	big[TSSO_SESSION_JSON_MAX / 2] = '\0';
	assert_int_equal(tsso_session_set(&s->access_token, big), 0);
	assert_int_equal(tsso_session_to_json(s, &json, &n, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "session.too_large");
	assert_int_equal(tsso_session_set(&s->access_token, NULL), 0);
	free(big);

	/* Not UTF-8 (jansson refused these too). */
	assert_int_equal(tsso_session_set(&s->sid, "sid\xc3("), 0);
	assert_int_equal(tsso_session_to_json(s, &json, &n, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "session.invalid");
	assert_int_equal(tsso_session_set(&s->sid, NULL), 0);

	/* An identity that is not an object. */
	json_decref(s->identity);
	s->identity = json_string("jane");
	assert_int_equal(tsso_session_to_json(s, &json, &n, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "session.invalid");

	assert_int_equal(tsso_session_set(&s->sub, NULL), 0);
	assert_int_equal(tsso_session_to_json(s, &json, &n, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "session.invalid");
	assert_int_equal(n, 7);
	assert_string_equal(json, "untouched");
	tsso_session_free(s);
}

/* Escapes and non-ASCII survive a write and a read, byte for byte. */
static void test_to_json_escapes(void **state)
{
	struct tsso_session *s = sample(), *b;
	struct tsso_err err = {0};
	char *json = NULL;
	size_t n = 0;
	(void)state;

	assert_int_equal(tsso_session_set(&s->sub, "q\"b\\s/\x01\x1f\n\xc3\xa9\xf0\x9f\x98\x80"),
	                 0);
	assert_int_equal(tsso_session_to_json(s, &json, &n, &err), 0);
	assert_int_equal(strlen(json), n);
	b = tsso_session_from_json(json, n, &err);
	assert_non_null(b);
	assert_string_equal(b->sub, s->sub);
	assert_true(json_equal(tsso_session_identity(b), s->identity));
	tsso_session_free(b);
	free(json);
	tsso_session_free(s);
}

static void test_from_json_refusals(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "not json",
	    "{\"v\":1,\"t\":\"acme\",\"iss\":\"i\",\"sub\":\"s\",\"c\":1}", /* no x */
	    "{\"t\":\"acme\",\"iss\":\"i\",\"sub\":\"s\",\"c\":1,\"x\":2}", /* no v */
	    "{\"v\":2,\"t\":\"acme\",\"iss\":\"i\",\"sub\":\"s\",\"c\":1,\"x\":2}",
	    "{\"v\":1,\"t\":\"acme\",\"iss\":\"i\",\"sub\":\"s\",\"c\":1,\"x\":2,\"zz\":1}",
	    "{\"v\":1,\"t\":\"acme\",\"iss\":\"i\",\"sub\":\"s\",\"sub\":\"t\",\"c\":1,\"x\":2}",
	    "{\"v\":1,\"t\":\"acme\",\"iss\":\"i\",\"sub\":7,\"c\":1,\"x\":2}",
	    "{\"v\":1,\"t\":\"acme\",\"iss\":\"i\",\"sub\":\"s\",\"c\":-1,\"x\":2}",
	    "{\"v\":1,\"t\":\"acme\",\"iss\":\"i\",\"sub\":\"s\",\"c\":1.5,\"x\":2}",
	    "{\"v\":1,\"t\":\"acme\",\"iss\":\"i\",\"sub\":\"s\\u0000x\",\"c\":1,\"x\":2}",
	    "{\"v\":1,\"t\":\"acme\",\"iss\":\"i\",\"sub\":\"s\",\"c\":1,\"x\":2,\"id\":\"short\"}",
	    "{\"v\":1,\"t\":\"acme\",\"iss\":\"i\",\"sub\":\"s\",\"c\":1,\"x\":2,\"idn\":[]}",
	    "{\"v\":1,\"t\":\"acme\",\"iss\":\"i\",\"sub\":\"s\",\"c\":1,\"x\":2} trailing",
	};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(bad); i++) {
		struct tsso_err err = {0};

		assert_null(tsso_session_from_json(bad[i], strlen(bad[i]), &err));
		assert_string_equal(tsso_err_reason(&err), "session.malformed");
	}
	{
		struct tsso_err err = {0};
		char *big = malloc(TSSO_SESSION_JSON_MAX + 2);

		memset(big, ' ', TSSO_SESSION_JSON_MAX + 1);
		big[0] = '{';
		big[TSSO_SESSION_JSON_MAX] = '}';
		assert_null(tsso_session_from_json(big, TSSO_SESSION_JSON_MAX + 1, &err));
		assert_string_equal(tsso_err_reason(&err), "session.malformed");
		free(big);
	}
}

static struct tsso_session *parse_with_sub(const char *sub_json, const char *extra)
{
	char buf[16384];
	struct tsso_err err = {0};

	snprintf(buf, sizeof(buf),
	         " {\"v\":1,\"t\":\"acme\",\"iss\":\"i\",\"sub\":%s,\"c\":1,\"x\":2%s}\n", sub_json,
	         extra);
	return tsso_session_from_json(buf, strlen(buf), &err);
}

/* The record parser is our own (speed): RFC 8259 strings and numbers, strictly. */
static void test_json_strings(void **state)
{
	static const struct {
		const char *json, *decoded;
	} ok[] = {
	    {"\"plain\"", "plain"},
	    {"\"q\\\"b\\\\s\\/\"", "q\"b\\s/"},
	    {"\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t"},
	    {"\"\\u00e9\\u20AC\"", "\xc3\xa9\xe2\x82\xac"},
	    {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"},
	    {"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
	    {"\"\"", ""},
	};
	static const char *const bad[] = {
	    "\"\\u0000\"",          /* NUL */
	    "\"\\ud83d\"",          /* lone high surrogate */
	    "\"\\ude00\"",          /* lone low surrogate */
	    "\"\\ud83dx\"",         /* high surrogate without its pair */
	    "\"\\u12\"",            /* short escape */
	    "\"\\x41\"",            /* unknown escape */
	    "\"a\tb\"",             /* raw control character */
	    "\"\xc3\"",             /* truncated UTF-8 */
	    "\"\xc0\xaf\"",         /* overlong */
	    "\"\xed\xa0\x80\"",     /* encoded surrogate */
	    "\"\xf4\x90\x80\x80\"", /* above U+10FFFF */
	    "\"\xff\"",
	    "\"unterminated",
	};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(ok); i++) {
		struct tsso_session *s = parse_with_sub(ok[i].json, "");

		assert_non_null(s);
		assert_string_equal(s->sub, ok[i].decoded);
		tsso_session_free(s);
	}
	for (size_t i = 0; i < TSSO_ARRAY_LEN(bad); i++)
		assert_null(parse_with_sub(bad[i], ""));
}

static void test_json_structure(void **state)
{
	static const char *const bad_extra[] = {
	    ",\"l\":01",                                 /* leading zero */
	    ",\"l\":1e3",                                /* exponent */
	    ",\"l\":-",                                  /* sign alone */
	    ",\"l\":99999999999999999999",               /* overflow */
	    ",\"l\":true",                               /* other types */
	    ",\"l\":null", ",\"idn\":{\"a\":1,\"a\":2}", /* duplicate inside the identity */
	    ",\"idn\":{\"a\":[1}",                       /* broken identity */
	    ",\"idn\":{\"a\":\"}\"",                     /* unterminated object */
	    /* The identity is checked at read as strictly as jansson parses it. */
	    ",\"idn\":{\"a\":{\"b\":1,\"b\":2}}",         /* duplicate one level down */
	    ",\"idn\":{\"a\":[{\"b\":1,\"\\u0062\":2}]}", /* same name, escaped */
	    ",\"idn\":{\"a\":01}",                        /* leading zero */
	    ",\"idn\":{\"a\":1.}",                        /* fraction without digits */
	    ",\"idn\":{\"a\":1e}",                        /* exponent without digits */
	    ",\"idn\":{\"a\":-}",                         /* sign alone */
	    ",\"idn\":{\"a\":tru}",                       /* broken literal */
	    ",\"idn\":{\"a\":[1,]}",                      /* trailing comma in an array */
	    ",\"idn\":{\"a\":1,}",                        /* trailing comma in an object */
	    ",\"idn\":{\"a\" 1}",                         /* missing colon */
	    ",\"idn\":{\"a\":\"\\u0000\"}",               /* NUL */
	    ",\"idn\":{\"a\":\"\\udc00\"}",               /* lone low surrogate */
	    ",\"idn\":{\"a\":\"\xc3\"}",                  /* truncated UTF-8 */
	    ",\"idn\":{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	    "}",        /* deep */
	    ",",        /* trailing comma */
	    ",\"c\":1", /* duplicate */
	};
	struct tsso_session *s;
	(void)state;

	for (size_t i = 0; i < TSSO_ARRAY_LEN(bad_extra); i++)
		assert_null(parse_with_sub("\"u\"", bad_extra[i]));
	/* Braces inside identity strings do not confuse the object boundary. */
	s = parse_with_sub("\"u\"", ", \"idn\" : {\"x\":\"}{\\\"\",\"y\":[{}]} , \"l\" : 0");
	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(tsso_session_identity(s), "x")),
	                    "}{\"");
	tsso_session_free(s);
	/* Every value type the grammar has passes the check, and parses on use. */
	s = parse_with_sub("\"u\"", ",\"idn\":{\"n\":[0,-1,1.5,2e10,-0.25E-3],\"t\":true,"
	                            "\"f\":false,\"z\":null,\"s\":\"\\u00e9\\ud83d\\ude00\","
	                            "\"o\":{\"a\":{}},\"e\":[]}");
	assert_non_null(s);
	assert_null(s->identity);
	assert_non_null(tsso_session_identity(s));
	assert_true(json_is_true(json_object_get(s->identity, "t")));
	assert_int_equal(json_array_size(json_object_get(s->identity, "n")), 5);
	tsso_session_free(s);
}

/* An identity too big for the reader's check (129 members) is parsed at
 * read by jansson, strictly: accepted when valid, refused with a repeat. */
static void test_identity_many_members(void **state)
{
	char extra[8192];
	size_t o;
	struct tsso_session *s;
	(void)state;

	for (int dup = 0; dup < 2; dup++) {
		o = (size_t)snprintf(extra, sizeof(extra), ",\"idn\":{");
		for (int i = 0; i < 129; i++)
			o += (size_t)snprintf(extra + o, sizeof(extra) - o, "%s\"k%d\":%d",
			                      i ? "," : "", dup && i == 128 ? 0 : i, i);
		snprintf(extra + o, sizeof(extra) - o, "}");
		s = parse_with_sub("\"u\"", extra);
		if (dup) {
			assert_null(s);
			continue;
		}
		assert_non_null(s);
		assert_non_null(s->identity); /* built at read */
		assert_null(s->identity_text);
		assert_int_equal(json_object_size(s->identity), 129);
		tsso_session_free(s);
	}
}

/* A read session's identity is built only when asked for; written back
 * unused, it comes out as it went in. */
static void test_identity_lazy(void **state)
{
	struct tsso_session *s = sample(), *b, *c;
	struct tsso_err err = {0};
	char *json = NULL, *json2 = NULL;
	size_t n = 0, n2 = 0;
	(void)state;

	assert_int_equal(tsso_session_to_json(s, &json, &n, &err), 0);
	b = tsso_session_from_json(json, n, &err);
	assert_non_null(b);
	assert_null(b->identity);
	assert_non_null(b->identity_text);
	assert_int_equal(tsso_session_to_json(b, &json2, &n2, &err), 0);
	assert_int_equal(n2, n);
	assert_memory_equal(json2, json, n);
	c = tsso_session_from_json(json2, n2, &err);
	assert_non_null(c);
	assert_true(json_equal(tsso_session_identity(c), s->identity));
	assert_null(c->identity_text);
	/* Once built, the object is what gets written. */
	assert_int_equal(json_object_set_new(c->identity, "new", json_true()), 0);
	free(json2);
	assert_int_equal(tsso_session_to_json(c, &json2, &n2, &err), 0);
	assert_non_null(strstr(json2, "\"new\":true"));
	tsso_session_free(b);
	tsso_session_free(c);
	free(json);
	free(json2);
	tsso_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_to_json_refusals),
	    cmocka_unit_test(test_to_json_escapes),
	    cmocka_unit_test(test_identity_lazy),
	    cmocka_unit_test(test_identity_many_members),
	    cmocka_unit_test(test_from_json_refusals),
	    cmocka_unit_test(test_json_strings),
	    cmocka_unit_test(test_json_structure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
