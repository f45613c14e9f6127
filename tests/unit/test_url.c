/* Unit tests for src/util/url.c: the WHATWG URL Standard's expectations (web-platform-tests
 * urltestdata) for http(s). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tsso/limits.h"
#include "tsso/url.h"
#include "tsso/utf8.h"

#define B1 "http://example.org/foo/bar"

struct vec {
	const char *input;
	const char *base;   /* NULL: none */
	const char *href;   /* NULL: must fail */
	const char *origin; /* checked when not NULL */
	const char *reason; /* on failure */
};

/* Successes, as the URL Standard (and web-platform-tests' urltestdata.json)
 * says browsers read them. */
static const struct vec good[] = {
    {"http://example\t.\norg", B1, "http://example.org/", "http://example.org", NULL},
    {"http://user:pass@foo:21/bar;par?b#c", B1, "http://user:pass@foo:21/bar;par?b#c",
     "http://foo:21", NULL},
    {"https://test:@test", NULL, "https://test@test/", "https://test", NULL},
    {"https://:@test", NULL, "https://test/", "https://test", NULL},
    {"http:foo.com", B1, "http://example.org/foo/foo.com", NULL, NULL},
    {"\t   :foo.com   \n", B1, "http://example.org/foo/:foo.com", NULL, NULL},
    {" foo.com  ", B1, "http://example.org/foo/foo.com", NULL, NULL},
    {"http://f:21/ b ? d # e ", B1, "http://f:21/%20b%20?%20d%20#%20e", NULL, NULL},
    {"http://f:/c", B1, "http://f/c", "http://f", NULL},
    {"http://f:00000000000000/c", B1, "http://f:0/c", "http://f:0", NULL},
    {"http://f:00000000000000000000080/c", B1, "http://f/c", NULL, NULL},
    {"http://f:\n/c", B1, "http://f/c", NULL, NULL},
    {"", B1, "http://example.org/foo/bar", NULL, NULL},
    {"  \t", B1, "http://example.org/foo/bar", NULL, NULL},
    {":foo.com/", B1, "http://example.org/foo/:foo.com/", NULL, NULL},
    {":", B1, "http://example.org/foo/:", NULL, NULL},
    {":a", B1, "http://example.org/foo/:a", NULL, NULL},
    {":/", B1, "http://example.org/foo/:/", NULL, NULL},
    {":#", B1, "http://example.org/foo/:#", NULL, NULL},
    {"#", B1, "http://example.org/foo/bar#", NULL, NULL},
    {"#/", B1, "http://example.org/foo/bar#/", NULL, NULL},
    {"#\\", B1, "http://example.org/foo/bar#\\", NULL, NULL},
    {"#;?", B1, "http://example.org/foo/bar#;?", NULL, NULL},
    {"?", B1, "http://example.org/foo/bar?", NULL, NULL},
    {"/", B1, "http://example.org/", NULL, NULL},
    {":23", B1, "http://example.org/foo/:23", NULL, NULL},
    {"/:23", B1, "http://example.org/:23", NULL, NULL},
    {"\\x", B1, "http://example.org/x", NULL, NULL},
    {"\\\\x\\hello", B1, "http://x/hello", "http://x", NULL},
    {"::", B1, "http://example.org/foo/::", NULL, NULL},
    {"::23", B1, "http://example.org/foo/::23", NULL, NULL},
    {"http://a:b@c:29/d", B1, "http://a:b@c:29/d", "http://c:29", NULL},
    {"http::@c:29", B1, "http://example.org/foo/:@c:29", NULL, NULL},
    {"http://&a:foo(b]c@d:2/", B1, "http://&a:foo(b%5Dc@d:2/", "http://d:2", NULL},
    {"http://::@c@d:2", B1, "http://:%3A%40c@d:2/", "http://d:2", NULL},
    {"http://foo.com:b@d/", B1, "http://foo.com:b@d/", "http://d", NULL},
    {"http://foo.com/\\@", B1, "http://foo.com//@", NULL, NULL},
    {"http:\\\\foo.com\\", B1, "http://foo.com/", NULL, NULL},
    {"http:\\\\a\\b:c\\d@foo.com\\", B1, "http://a/b:c/d@foo.com/", "http://a", NULL},
    {"http:", B1, "http://example.org/foo/bar", NULL, NULL},
    {"http:/example.com/", B1, "http://example.org/example.com/", NULL, NULL},
    {"https:/example.com/", B1, "https://example.com/", "https://example.com", NULL},
    {"http:example.com/", B1, "http://example.org/foo/example.com/", NULL, NULL},
    {"https:example.com/", B1, "https://example.com/", NULL, NULL},
    {"/a/ /c", B1, "http://example.org/a/%20/c", NULL, NULL},
    {"/a%2fc", B1, "http://example.org/a%2fc", NULL, NULL},
    {"/a/%2f/c", B1, "http://example.org/a/%2f/c", NULL, NULL},
    {"#\xce\xb2", B1, "http://example.org/foo/bar#%CE%B2", NULL, NULL},
    {"../..", "http://example.org/a/b/c", "http://example.org/", NULL, NULL},
    {"./", "http://example.org/a/b/c", "http://example.org/a/b/", NULL, NULL},
    {"?x", "https://example.org/a?q#f", "https://example.org/a?x", NULL, NULL},
    {"#y", "https://example.org/a?q#f", "https://example.org/a?q#y", NULL, NULL},
    /* IPv6 */
    {"http://[1:0::]", NULL, "http://[1::]/", "http://[1::]", NULL},
    {"http://[0:0:0:0:0:0:13.1.68.3]", NULL, "http://[::d01:4403]/", NULL, NULL},
    {"http://[::127.0.0.1]", NULL, "http://[::7f00:1]/", NULL, NULL},
    {"http://[1:2:3:4:5:6:7:8]", NULL, "http://[1:2:3:4:5:6:7:8]/", NULL, NULL},
    {"http://[1:0:0:2::3:0]/", NULL, "http://[1::2:0:0:3:0]/", NULL, NULL},
    {"http://[0:1:0:1:0:1:0:1]", NULL, "http://[0:1:0:1:0:1:0:1]/", NULL, NULL},
    {"http://[1:0:1:0:1:0:1:0]", NULL, "http://[1:0:1:0:1:0:1:0]/", NULL, NULL},
    {"http://[::ffff:192.168.0.1]:8080", NULL, "http://[::ffff:c0a8:1]:8080/",
     "http://[::ffff:c0a8:1]:8080", NULL},
    {"http://[0::0]", NULL, "http://[::]/", NULL, NULL},
    /* dot segments, %2e forms */
    {"http://example.com/foo/%2e", NULL, "http://example.com/foo/", NULL, NULL},
    {"http://example.com/foo/%2e%2", NULL, "http://example.com/foo/%2e%2", NULL, NULL},
    {"http://example.com/foo/%2e./%2e%2e/.%2e/%2e.bar", NULL, "http://example.com/%2e.bar", NULL,
     NULL},
    {"http://example.com////../..", NULL, "http://example.com//", NULL, NULL},
    {"http://example.com/foo/bar//../..", NULL, "http://example.com/foo/", NULL, NULL},
    {"http://example.com/foo/bar//..", NULL, "http://example.com/foo/bar/", NULL, NULL},
    {"http://example.com/%2E%2e/x", NULL, "http://example.com/x", NULL, NULL},
    /* path encoding */
    {"http://example.com/foo%", NULL, "http://example.com/foo%", NULL, NULL},
    {"http://example.com/foo%2zbar", NULL, "http://example.com/foo%2zbar", NULL, NULL},
    {"http://example.com/foo%41%7a", NULL, "http://example.com/foo%41%7a", NULL, NULL},
    {"http://example.com/foo\t\xc2\x91%91", NULL, "http://example.com/foo%C2%91%91", NULL, NULL},
    {"http://example.com/(%28:%3A%29)", NULL, "http://example.com/(%28:%3A%29)", NULL, NULL},
    {"http://example.com/foo\tbar", NULL, "http://example.com/foobar", NULL, NULL},
    {"http://example.com\\\\foo\\\\bar", NULL, "http://example.com//foo//bar", NULL, NULL},
    {"http://example.com/@asdf%40", NULL, "http://example.com/@asdf%40", NULL, NULL},
    {"http://example.com/\xe4\xbd\xa0\xe5\xa5\xbd", NULL, "http://example.com/%E4%BD%A0%E5%A5%BD",
     NULL, NULL},
    {"http://example.com/\xe2\x80\xae/foo", NULL, "http://example.com/%E2%80%AE/foo", NULL, NULL},
    {"http://example.com/a b\"<>`{}^|x", NULL, "http://example.com/a%20b%22%3C%3E%60%7B%7D%5E|x",
     NULL, NULL},
    /* query and fragment encoding */
    {"http://www.google.com/foo?bar=baz# \xc2\xbb", NULL,
     "http://www.google.com/foo?bar=baz#%20%C2%BB", NULL, NULL},
    {"http://example.org/test?\"", NULL, "http://example.org/test?%22", NULL, NULL},
    {"http://example.org/test?#", NULL, "http://example.org/test?#", NULL, NULL},
    {"http://example.org/test?<>", NULL, "http://example.org/test?%3C%3E", NULL, NULL},
    {"http://example.org/test?%23%23", NULL, "http://example.org/test?%23%23", NULL, NULL},
    {"http://example.org/test?%GH", NULL, "http://example.org/test?%GH", NULL, NULL},
    {"http://example.org/test?a#%GH", NULL, "http://example.org/test?a#%GH", NULL, NULL},
    {"https://example.org/test?'`", NULL, "https://example.org/test?%27`", NULL, NULL},
    {"http://example.org/test#`<", NULL, "http://example.org/test#%60%3C", NULL, NULL},
    /* hosts */
    {"http://www.google.com", NULL, "http://www.google.com/", NULL, NULL},
    {"http://ExAmPlE.CoM:80", NULL, "http://example.com/", "http://example.com", NULL},
    {"http://%25DOMAIN:foobar@foodomain.com/", NULL, "http://%25DOMAIN:foobar@foodomain.com/", NULL,
     NULL},
    {"http:\\\\www.google.com\\foo", NULL, "http://www.google.com/foo", NULL, NULL},
    {"http://www/foo%2Ehtml", NULL, "http://www/foo%2Ehtml", NULL, NULL},
    {"http://ex%41mple.com", NULL, "http://example.com/", NULL, NULL},
    {"http://foo:80/", NULL, "http://foo/", NULL, NULL},
    {"http://foo:81/", NULL, "http://foo:81/", "http://foo:81", NULL},
    {"https://foo:443/", NULL, "https://foo/", "https://foo", NULL},
    {"https://foo:80/", NULL, "https://foo:80/", "https://foo:80", NULL},
    {"http://example.com./", NULL, "http://example.com./", NULL, NULL},
    {"http://-x-.example/", NULL, "http://-x-.example/", NULL, NULL},
    /* IPv4 number forms */
    {"http://192.0x00A80001", NULL, "http://192.168.0.1/", NULL, NULL},
    {"http://0x.0x.0", NULL, "http://0.0.0.0/", NULL, NULL},
    {"https://0x.0x.0", NULL, "https://0.0.0.0/", NULL, NULL},
    {"http://4294967295", NULL, "http://255.255.255.255/", NULL, NULL},
    {"http://0xffffffff", NULL, "http://255.255.255.255/", NULL, NULL},
    {"http://256", NULL, "http://0.0.1.0/", NULL, NULL},
    {"http://256.", NULL, "http://0.0.1.0/", NULL, NULL},
    {"http://256.com", NULL, "http://256.com/", NULL, NULL},
    {"http://999999999", NULL, "http://59.154.201.255/", NULL, NULL},
    {"http://999999999.", NULL, "http://59.154.201.255/", NULL, NULL},
    {"http://999999999.com", NULL, "http://999999999.com/", NULL, NULL},
    {"http://10000000000.com", NULL, "http://10000000000.com/", NULL, NULL},
    {"http://0x7f.0.0.0x7g", NULL, "http://0x7f.0.0.0x7g/", NULL, NULL},
    {"http://0X7F.0.0.0X7G", NULL, "http://0x7f.0.0.0x7g/", NULL, NULL},
    {"http://0x7f.1", NULL, "http://127.0.0.1/", "http://127.0.0.1", NULL},
    {"http://2130706433", NULL, "http://127.0.0.1/", NULL, NULL},
    {"http://0177.0.0.1", NULL, "http://127.0.0.1/", NULL, NULL},
    {"http://017700000001", NULL, "http://127.0.0.1/", NULL, NULL},
    {"http://127.1", NULL, "http://127.0.0.1/", NULL, NULL},
    {"http://127.0.1", NULL, "http://127.0.0.1/", NULL, NULL},
    {"http://%30%78%37%66.1/", NULL, "http://127.0.0.1/", NULL, NULL},
    {"http://0/", NULL, "http://0.0.0.0/", NULL, NULL},
};

static const struct vec bad[] = {
    {"http://f:b/c", B1, NULL, NULL, "url.port"},
    {"http://f: /c", B1, NULL, NULL, "url.port"},
    {"http://f:fifty-two/c", B1, NULL, NULL, "url.port"},
    {"http://f:999999/c", B1, NULL, NULL, "url.port"},
    {"http://f:65536/c", B1, NULL, NULL, "url.port"},
    {"http://f: 21 / b ? d # e ", B1, NULL, NULL, "url.port"},
    {"http://f:99999999999999999999999/", NULL, NULL, NULL, "url.port"},
    {"https:", B1, NULL, NULL, "url.host"},
    {"http://user:pass@/", NULL, NULL, NULL, "url.host"},
    {"http://user@/www.example.com", NULL, NULL, NULL, "url.host"},
    {"http:/:@/www.example.com", NULL, NULL, NULL, "url.host"},
    {"http://@/www.example.com", NULL, NULL, NULL, "url.host"},
    {"http://:80/", NULL, NULL, NULL, "url.host"},
    {"http://", NULL, NULL, NULL, "url.host"},
    {"http:///", NULL, NULL, NULL, "url.host"},
    {"http://example example.com", NULL, NULL, NULL, "url.host"},
    {"http://Goo%20 goo%7C|.com", NULL, NULL, NULL, "url.host"},
    {"http://%zz%66%a.com", NULL, NULL, NULL, "url.host"},
    {"http://%25", NULL, NULL, NULL, "url.host"},
    {"http://hello%00", NULL, NULL, NULL, "url.host"},
    {"http://192.168.0.1 hello", NULL, NULL, NULL, "url.host"},
    {"https://x x:12", NULL, NULL, NULL, "url.host"},
    {"http://a<b", NULL, NULL, NULL, "url.host"},
    {"http://a^b", NULL, NULL, NULL, "url.host"},
    {"http://a|b", NULL, NULL, NULL, "url.host"},
    {"http://a%2fb", NULL, NULL, NULL, "url.host"},
    {"http://a%5cb", NULL, NULL, NULL, "url.host"},
    {"http://a%40b", NULL, NULL, NULL, "url.host"},
    {"http://a%3ab", NULL, NULL, NULL, "url.host"},
    {"http://a%7fb", NULL, NULL, NULL, "url.host"},
    {"http://[]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[:]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[google.com]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[::1.2.3.]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[::1.2.]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[::1.]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[::1.2.3.4x]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[::127.0.0.1.]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[::1:2::3]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[0:1:2:3:4:5:6:7:8]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[1:2:3:4:5:6:7]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[::01.2.3.4]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[::256.2.3.4]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[12345::]", NULL, NULL, NULL, "url.ipv6"},
    {"http://[::1", NULL, NULL, NULL, "url.ipv6"},
    {"http://[::1]x/", NULL, NULL, NULL, "url.ipv6"},
    {"http://192.168.0.257", NULL, NULL, NULL, "url.ipv4"},
    {"http://%3g%78%63%30%2e%30%32%35%30%2E.06", NULL, NULL, NULL, "url.host"},
    {"http://4294967296", NULL, NULL, NULL, "url.ipv4"},
    {"http://0xffffffff1", NULL, NULL, NULL, "url.ipv4"},
    {"http://256.256.256.256", NULL, NULL, NULL, "url.ipv4"},
    {"http://10000000000", NULL, NULL, NULL, "url.ipv4"},
    {"http://256.256.256.256.256", NULL, NULL, NULL, "url.ipv4"},
    {"https://0x100000000/test", NULL, NULL, NULL, "url.ipv4"},
    {"https://256.0.0.1/test", NULL, NULL, NULL, "url.ipv4"},
    {"http://1.2.3.4.5", NULL, NULL, NULL, "url.ipv4"},
    {"http://1.2.3.4.5.", NULL, NULL, NULL, "url.ipv4"},
    {"http://0..0x300/", NULL, NULL, NULL, "url.ipv4"},
    {"http://0..0x300./", NULL, NULL, NULL, "url.ipv4"},
    {"http://1.2.3.08", NULL, NULL, NULL, "url.ipv4"},
    {"http://1.2.3.08.", NULL, NULL, NULL, "url.ipv4"},
    {"http://1.2.3.09", NULL, NULL, NULL, "url.ipv4"},
    {"http://09.2.3.4", NULL, NULL, NULL, "url.ipv4"},
    {"http://01.2.3.4.5", NULL, NULL, NULL, "url.ipv4"},
    {"http://0x100.2.3.4", NULL, NULL, NULL, "url.ipv4"},
    {"http://0x1.2.3.4.5", NULL, NULL, NULL, "url.ipv4"},
    {"http://foo.1.2.3.4", NULL, NULL, NULL, "url.ipv4"},
    {"http://foo.2.3.4", NULL, NULL, NULL, "url.ipv4"},
    {"http://foo.09", NULL, NULL, NULL, "url.ipv4"},
    {"http://foo.0x4", NULL, NULL, NULL, "url.ipv4"},
    {"http://foo.09.", NULL, NULL, NULL, "url.ipv4"},
    {"http://0999999999999999999/", NULL, NULL, NULL, "url.ipv4"},
    {"http://foo.0x", NULL, NULL, NULL, "url.ipv4"},
    {"http://foo.0XFfFfFfFfFfFfFfFfFfAcE123", NULL, NULL, NULL, "url.ipv4"},
    {"http://0xffffffffffffffffffffffffffffff/", NULL, NULL, NULL, "url.ipv4"},
    /* Everything that is not http(s): refused, never guessed. */
    {"a:\t foo.com", B1, NULL, NULL, "url.scheme"},
    {"foo://", B1, NULL, NULL, "url.scheme"},
    {"javascript:alert(1)", B1, NULL, NULL, "url.scheme"},
    {"JaVaScRiPt:alert(1)", B1, NULL, NULL, "url.scheme"},
    {" java\tscript:alert(1)", B1, NULL, NULL, "url.scheme"},
    {"data:text/html,test#test", B1, NULL, NULL, "url.scheme"},
    {"vbscript:msgbox", B1, NULL, NULL, "url.scheme"},
    {"file:///etc/passwd", B1, NULL, NULL, "url.scheme"},
    {"blob:https://a/b", B1, NULL, NULL, "url.scheme"},
    {"ftp://example.com/", NULL, NULL, NULL, "url.scheme"},
    {"ws://example.com/", NULL, NULL, NULL, "url.scheme"},
    {"wss://example.com/", NULL, NULL, NULL, "url.scheme"},
    {"tel:1234567890", B1, NULL, NULL, "url.scheme"},
    {"localhost:8080/x", B1, NULL, NULL, "url.scheme"},
    /* Non-ASCII hosts: IDNA would map them; we refuse. */
    {"http://www.foo\xe3\x80\x82"
     "bar.com",
     NULL, NULL, NULL, "url.host_idna"},
    {"http://\xef\xb7\x90zyx.com", NULL, NULL, NULL, "url.host_idna"},
    {"http://%ef%bc%85%ef%bc%94%ef%bc%91.com", NULL, NULL, NULL, "url.host_idna"},
    {"http://GOO\xc2\xa0\xe3\x80\x80goo.com", NULL, NULL, NULL, "url.host_idna"},
    {"http://\xf0\x9f\x92\xa9.123/", NULL, NULL, NULL, "url.host_idna"},
    {"http://xn--nxasmq6b.com/", NULL, NULL, NULL, "url.host_idna"},
    {"http://a.XN--p1ai/", NULL, NULL, NULL, "url.host_idna"},
    {"http://ex\xc9\x91mple.com/", NULL, NULL, NULL, "url.host_idna"},
    /* Relative without base, bad UTF-8. */
    {"/path", NULL, NULL, NULL, "url.no_base"},
    {"//example.com", NULL, NULL, NULL, "url.no_base"},
    {"", NULL, NULL, NULL, "url.no_base"},
    {"http://example.com/\xff", NULL, NULL, NULL, "url.utf8"},
    {"http://example.com/\xc0\xaf", NULL, NULL, NULL, "url.utf8"},
    {"http://example.com/\xed\xa0\x80", NULL, NULL, NULL, "url.utf8"},
    {"http://example.com/\xe2\x82", NULL, NULL, NULL, "url.utf8"},
};

static struct tsso_url *parse_base(const char *b)
{
	struct tsso_url *u = NULL;

	if (b == NULL)
		return NULL;
	assert_int_equal(tsso_url_parse(b, NULL, &u, NULL), 0);
	return u;
}

static void test_whatwg_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(good); i++) {
		struct tsso_url *base = parse_base(good[i].base), *u = NULL;
		struct tsso_err err = {0};
		char *h, *o;

		if (tsso_url_parse(good[i].input, base, &u, &err) != 0)
			fail_msg("[%zu] %s: %s", i, good[i].input, tsso_err_reason(&err));
		h = tsso_url_href(u);
		o = tsso_url_origin(u);
		if (strcmp(h, good[i].href) != 0)
			fail_msg("[%zu] %s: href %s, want %s", i, good[i].input, h, good[i].href);
		if (good[i].origin != NULL && strcmp(o, good[i].origin) != 0)
			fail_msg("[%zu] %s: origin %s, want %s", i, good[i].input, o,
			         good[i].origin);
		/* The serialization is a fixed point of the parser. */
		{
			struct tsso_url *again = NULL;
			char *h2;

			assert_int_equal(tsso_url_parse(h, NULL, &again, NULL), 0);
			h2 = tsso_url_href(again);
			assert_string_equal(h, h2);
			free(h2);
			tsso_url_free(again);
		}
		free(h);
		free(o);
		tsso_url_free(u);
		tsso_url_free(base);
	}
}

static void test_whatwg_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(bad); i++) {
		struct tsso_url *base = parse_base(bad[i].base);
		struct tsso_url *u = (struct tsso_url *)&u; /* must stay untouched */
		struct tsso_url *const sentinel = u;
		struct tsso_err err = {0};

		if (tsso_url_parse(bad[i].input, base, &u, &err) != -1)
			fail_msg("[%zu] %s: accepted", i, bad[i].input);
		if (strcmp(tsso_err_reason(&err), bad[i].reason) != 0)
			fail_msg("[%zu] %s: reason %s, want %s", i, bad[i].input,
			         tsso_err_reason(&err), bad[i].reason);
		assert_ptr_equal(u, sentinel);
		tsso_url_free(base);
	}
}

static void test_components(void **state)
{
	struct tsso_url *u = NULL;
	(void)state;
	assert_int_equal(tsso_url_parse("HTTPS://us%65r:p%40ss@Host.Example:8443/a/../b?q=1#frag",
	                                NULL, &u, NULL),
	                 0);
	assert_string_equal(tsso_url_scheme(u), "https");
	assert_string_equal(tsso_url_username(u), "us%65r");
	assert_string_equal(tsso_url_password(u), "p%40ss");
	assert_string_equal(tsso_url_host(u), "host.example");
	assert_int_equal(tsso_url_port(u), 8443);
	assert_string_equal(tsso_url_path(u), "/b");
	assert_string_equal(tsso_url_query(u), "q=1");
	assert_string_equal(tsso_url_fragment(u), "frag");
	assert_true(tsso_url_had_userinfo(u));
	assert_int_equal(tsso_url_ref_kind(u), TSSO_URL_REF_ABSOLUTE);
	tsso_url_free(u);

	assert_int_equal(tsso_url_parse("https://@host", NULL, &u, NULL), 0);
	assert_true(tsso_url_had_userinfo(u));
	assert_string_equal(tsso_url_username(u), "");
	assert_null(tsso_url_query(u));
	assert_null(tsso_url_fragment(u));
	assert_int_equal(tsso_url_port(u), -1);
	tsso_url_free(u);
	tsso_url_free(NULL);
}

static void test_ref_kinds(void **state)
{
	static const struct {
		const char *in;
		enum tsso_url_ref kind;
	} v[] = {
	    {"/x", TSSO_URL_REF_PATH_ABSOLUTE},    {"\\x", TSSO_URL_REF_PATH_ABSOLUTE},
	    {"//x", TSSO_URL_REF_NETWORK},         {"/\\x", TSSO_URL_REF_NETWORK},
	    {"\\\\x", TSSO_URL_REF_NETWORK},       {"///x", TSSO_URL_REF_NETWORK},
	    {"x", TSSO_URL_REF_PATH_RELATIVE},     {"?x", TSSO_URL_REF_PATH_RELATIVE},
	    {"#x", TSSO_URL_REF_PATH_RELATIVE},    {"https:/x", TSSO_URL_REF_SCHEME_ONLY},
	    {"https:x", TSSO_URL_REF_SCHEME_ONLY}, {"https://x", TSSO_URL_REF_ABSOLUTE},
	    {"http:/x", TSSO_URL_REF_ABSOLUTE},
	};
	struct tsso_url *base = parse_base("https://app.example.com/a/b");
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		struct tsso_url *u = NULL;

		assert_int_equal(tsso_url_parse(v[i].in, base, &u, NULL), 0);
		if (tsso_url_ref_kind(u) != v[i].kind)
			fail_msg("%s: kind %d want %d", v[i].in, tsso_url_ref_kind(u), v[i].kind);
		tsso_url_free(u);
	}
	tsso_url_free(base);
}

static void test_limits(void **state)
{
	char *big = malloc(TSSO_URL_MAX + 2);
	struct tsso_url *u = NULL;
	struct tsso_err err = {0};
	(void)state;
	memcpy(big, "https://a/", 10);
	memset(big + 10, 'a', TSSO_URL_MAX - 10);
	big[TSSO_URL_MAX] = '\0';
	assert_int_equal(tsso_url_parse(big, NULL, &u, &err), 0);
	tsso_url_free(u);
	u = NULL;
	big[TSSO_URL_MAX] = 'a';
	big[TSSO_URL_MAX + 1] = '\0';
	assert_int_equal(tsso_url_parse(big, NULL, &u, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "url.too_long");
	assert_null(u);
	assert_int_equal(tsso_url_parse(NULL, NULL, &u, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "url.too_long");
	/* Every byte percent-encoded: the parts grow threefold and still fit. */
	memset(big + 10, ' ', TSSO_URL_MAX - 11);
	big[TSSO_URL_MAX - 1] = 'x';
	big[TSSO_URL_MAX] = '\0';
	assert_int_equal(tsso_url_parse(big, NULL, &u, &err), 0);
	assert_int_equal(strlen(tsso_url_path(u)), 1 + 3 * (TSSO_URL_MAX - 11) + 1);
	tsso_url_free(u);
	free(big);
}

/* Undo the data-file notation: {0xHH} is the byte HH. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r;) {
		unsigned v;

		if (strncmp(r, "{0x", 3) == 0 && r[3] != '\0' && r[4] != '\0' && r[5] == '}' &&
		    sscanf(r + 3, "%2x", &v) == 1) {
			*w++ = (char)v;
			r += 6;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* Thousands of inputs (fuzz finds, redirect payloads) with the results of a
 * reference WHATWG implementation: every one must match. */
static void test_reference(void **state)
{
	char path[1024], line[16384];
	struct tsso_url *base = parse_base("https://app.example.com/a/b?q#f");
	size_t count = 0, lineno = 0, wrong = 0;
	FILE *f;
	(void)state;
	snprintf(path, sizeof(path), "%s/url-reference.txt", TSSO_TEST_DATA);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *t1, *t2, *want;
		struct tsso_url *u = NULL;
		char *got = NULL;
		size_t n = strlen(line);

		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		t1 = strchr(line, '\t');
		assert_non_null(t1);
		t2 = strchr(t1 + 1, '\t');
		assert_non_null(t2);
		*t1 = *t2 = '\0';
		want = t2 + 1;
		unescape(line);
		if (tsso_url_parse(line, t1[1] == 'B' ? base : NULL, &u, NULL) == 0)
			got = tsso_url_href(u);
		if (strcmp(got != NULL ? got : "FAIL", want) != 0) {
			print_error("url-reference.txt:%zu: got %s, want %s\n", lineno,
			            got != NULL ? got : "FAIL", want);
			wrong++;
		}
		free(got);
		tsso_url_free(u);
		count++;
	}
	fclose(f);
	tsso_url_free(base);
	assert_true(count > 1000);
	assert_int_equal(wrong, 0);
}

/* RFC 3629 §4 and the Unicode table 3-7 edges. */
static void test_utf8(void **state)
{
	static const char *const ok8[] = {"",
	                                  "a",
	                                  "\xc2\x80",
	                                  "\xdf\xbf",
	                                  "\xe0\xa0\x80",
	                                  "\xed\x9f\xbf",
	                                  "\xee\x80\x80",
	                                  "\xef\xbf\xbf",
	                                  "\xf0\x90\x80\x80",
	                                  "\xf4\x8f\xbf\xbf"};
	static const char *const bad8[] = {"\x80",
	                                   "\xbf",
	                                   "\xc0\x80",
	                                   "\xc1\xbf",
	                                   "\xc2",
	                                   "\xc2\x41",
	                                   "\xe0\x80\x80",
	                                   "\xe0\x9f\xbf",
	                                   "\xed\xa0\x80",
	                                   "\xed\xbf\xbf",
	                                   "\xf0\x80\x80\x80",
	                                   "\xf0\x8f\xbf\xbf",
	                                   "\xf4\x90\x80\x80",
	                                   "\xf5\x80\x80\x80",
	                                   "\xff",
	                                   "a\xe2\x82"};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(ok8); i++)
		assert_true(tsso_utf8_valid(ok8[i], strlen(ok8[i])));
	for (size_t i = 0; i < TSSO_ARRAY_LEN(bad8); i++)
		if (tsso_utf8_valid(bad8[i], strlen(bad8[i])))
			fail_msg("bad8[%zu] accepted", i);
	assert_int_equal(tsso_hex_value('0'), 0);
	assert_int_equal(tsso_hex_value('f'), 15);
	assert_int_equal(tsso_hex_value('F'), 15);
	assert_int_equal(tsso_hex_value('g'), -1);
	assert_int_equal(tsso_hex_value('/'), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whatwg_good), cmocka_unit_test(test_whatwg_bad),
	    cmocka_unit_test(test_components),  cmocka_unit_test(test_ref_kinds),
	    cmocka_unit_test(test_limits),      cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
