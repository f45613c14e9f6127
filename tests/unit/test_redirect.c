/* Unit tests for src/util/redirect.c: the open-redirect corpus, the accepted targets, each reason
 * code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tsso/limits.h"
#include "tsso/redirect.h"

#define SELF "https://app.example.com"

static const char *const allowed[] = {"https://dash.example.com"};

/* Undo the corpus notation: {0xHH} is the byte HH. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r;) {
		unsigned v;

		if (strncmp(r, "{0x", 3) == 0 && r[5] == '}' && sscanf(r + 3, "%2x", &v) == 1) {
			*w++ = (char)v;
			r += 6;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* Calls fn(line) for each payload line of a corpus file; returns the count. */
static size_t each_line(const char *name, void (*fn)(char *line, size_t lineno))
{
	char path[1024], line[8192];
	size_t count = 0, lineno = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", TSSO_TEST_DATA, name);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line);

		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0 || strncmp(line, "# ", 2) == 0)
			continue;
		unescape(line);
		fn(line, lineno);
		count++;
	}
	fclose(f);
	return count;
}

static size_t bad_accepted;

static void check_bad(char *line, size_t lineno)
{
	static const char *const reasons[] = {"redirect.invalid", "redirect.not_allowed",
	                                      "redirect.scheme", "redirect.userinfo",
	                                      "redirect.too_long"};
	char *loc = (char *)"untouched";
	struct tsso_err err = {0};
	bool known = false;

	if (tsso_redirect_check(line, SELF, allowed, 1, &loc, &err) != -1) {
		print_error("redirects-bad.txt:%zu accepted as %s\n", lineno, loc);
		free(loc);
		bad_accepted++;
		return;
	}
	assert_string_equal(loc, "untouched");
	for (size_t i = 0; i < TSSO_ARRAY_LEN(reasons); i++)
		known |= strcmp(tsso_err_reason(&err), reasons[i]) == 0;
	if (!known)
		fail_msg("redirects-bad.txt:%zu reason %s", lineno, tsso_err_reason(&err));
}

static void test_corpus_bad(void **state)
{
	(void)state;
	/* The corpus is hundreds of lines; losing it must fail the test. */
	assert_true(each_line("redirects-bad.txt", check_bad) >= 500);
	assert_int_equal(bad_accepted, 0);
}

static void check_good(char *line, size_t lineno)
{
	char *tab = strchr(line, '\t'), *loc = NULL, *again = NULL;
	struct tsso_err err = {0};

	assert_non_null(tab);
	*tab = '\0';
	if (tsso_redirect_check(line, SELF, allowed, 1, &loc, &err) != 0)
		fail_msg("redirects-good.txt:%zu refused: %s", lineno, tsso_err_reason(&err));
	if (strcmp(loc, tab + 1) != 0)
		fail_msg("redirects-good.txt:%zu Location %s, want %s", lineno, loc, tab + 1);
	/* What we send is itself accepted unchanged. */
	if (tsso_redirect_check(tab + 1, SELF, allowed, 1, &again, &err) != 0 ||
	    strcmp(again, loc) != 0)
		fail_msg("redirects-good.txt:%zu Location %s is not stable", lineno, loc);
	free(again);
	free(loc);
}

static void test_corpus_good(void **state)
{
	(void)state;
	assert_true(each_line("redirects-good.txt", check_good) >= 40);
}

/* Each refusal with the reason it must carry. */
static void test_reasons(void **state)
{
	static const struct {
		const char *in, *reason;
	} v[] = {
	    {"", "redirect.invalid"},
	    {"//evil.com", "redirect.invalid"},
	    {"/\\evil.com", "redirect.invalid"},
	    {"\\\\evil.com", "redirect.invalid"},
	    {"/\t/evil.com", "redirect.invalid"},
	    {"/%2f%2fevil.com", "redirect.invalid"},
	    {"/%5cevil.com", "redirect.invalid"},
	    {"/%09/evil.com", "redirect.invalid"},
	    {"/%0d%0aSet-Cookie:x=1", "redirect.invalid"},
	    {"/x%00", "redirect.invalid"},
	    {"/..//evil.com", "redirect.invalid"},
	    {"/;//evil.com", "redirect.invalid"},
	    {"evil.com", "redirect.invalid"},
	    {"?x=1", "redirect.invalid"},
	    {"#x", "redirect.invalid"},
	    {"https:evil.com", "redirect.invalid"},
	    {"https:/evil.com", "redirect.invalid"},
	    {"https://evil%E3%80%82com", "redirect.invalid"},
	    {"https://dash.example.com:99999/", "redirect.invalid"},
	    {"/%25252525252f", "redirect.invalid"},
	    {"/\xff", "redirect.invalid"},
	    {"https://evil.com/", "redirect.not_allowed"},
	    {"http://dash.example.com/", "redirect.not_allowed"},
	    {"https://dash.example.com:8443/", "redirect.not_allowed"},
	    {"https://dash.example.com./", "redirect.not_allowed"},
	    {"http:evil.com", "redirect.not_allowed"},
	    {"https://0x7f.1/", "redirect.not_allowed"},
	    {"javascript:alert(1)", "redirect.scheme"},
	    {" JaVa\tScRiPt:alert(1)", "redirect.invalid"}, /* the tab is seen first */
	    {" JaVaScRiPt:alert(1)", "redirect.scheme"},
	    {"data:text/html,x", "redirect.scheme"},
	    {"vbscript:x", "redirect.scheme"},
	    {"file:///etc/passwd", "redirect.scheme"},
	    {"blob:https://dash.example.com/x", "redirect.scheme"},
	    {"ws://dash.example.com/", "redirect.scheme"},
	    {"%6Aavascript:alert(1)", "redirect.invalid"},
	    {"/%2e%2e/%2f/evil.com", "redirect.invalid"},
	    {"https://app.example.com@evil.com", "redirect.userinfo"},
	    {"https://evil.com@dash.example.com/", "redirect.userinfo"},
	    {"https://@dash.example.com/", "redirect.userinfo"},
	    {"https://u:p@dash.example.com/", "redirect.userinfo"},
	};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		char *loc = NULL;
		struct tsso_err err = {0};

		if (tsso_redirect_check(v[i].in, SELF, allowed, 1, &loc, &err) != -1)
			fail_msg("%s accepted as %s", v[i].in, loc);
		if (strcmp(tsso_err_reason(&err), v[i].reason) != 0)
			fail_msg("%s: reason %s, want %s", v[i].in, tsso_err_reason(&err),
			         v[i].reason);
		assert_null(loc);
	}
}

static void test_lengths(void **state)
{
	char *s = malloc(TSSO_RETURN_TO_MAX + 2), *loc = NULL;
	struct tsso_err err = {0};
	(void)state;
	/* Exactly the limit once serialized: accepted. */
	s[0] = '/';
	memset(s + 1, 'a', TSSO_RETURN_TO_MAX - 1 - strlen(SELF));
	s[TSSO_RETURN_TO_MAX - strlen(SELF)] = '\0';
	assert_int_equal(tsso_redirect_check(s, SELF, NULL, 0, &loc, &err), 0);
	assert_int_equal(strlen(loc), TSSO_RETURN_TO_MAX);
	free(loc);
	loc = NULL;
	/* One more byte of path: the Location would be over. */
	s[TSSO_RETURN_TO_MAX - strlen(SELF)] = 'a';
	s[TSSO_RETURN_TO_MAX - strlen(SELF) + 1] = '\0';
	assert_int_equal(tsso_redirect_check(s, SELF, NULL, 0, &loc, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "redirect.too_long");
	/* The candidate itself over the limit. */
	memset(s + 1, 'a', TSSO_RETURN_TO_MAX);
	s[TSSO_RETURN_TO_MAX + 1] = '\0';
	assert_int_equal(tsso_redirect_check(s, SELF, NULL, 0, &loc, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "redirect.too_long");
	/* Short, but percent-encoding triples it past the limit. */
	memset(s + 1, ' ', 1000);
	s[1000] = 'x';
	s[1001] = '\0';
	assert_int_equal(tsso_redirect_check(s, SELF, NULL, 0, &loc, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "redirect.too_long");
	assert_null(loc);
	assert_int_equal(tsso_redirect_check(NULL, SELF, NULL, 0, &loc, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "redirect.invalid");
	free(s);
}

static void test_origins(void **state)
{
	static const char *const odd[] = {NULL, "not a url", "https://DASH.example.com:443/",
	                                  "https://2130706433", "javascript:x"};
	char *loc = NULL, *o = NULL;
	struct tsso_err err = {0};
	(void)state;
	/* Allowed origins are parsed like candidates: case, default port and
	 * IPv4 number forms normalise; junk entries never match. */
	assert_int_equal(
	    tsso_redirect_check("https://dash.example.com/x", SELF, odd, 5, &loc, &err), 0);
	assert_string_equal(loc, "https://dash.example.com/x");
	free(loc);
	assert_int_equal(tsso_redirect_check("https://0x7f.1/x", SELF, odd, 5, &loc, &err), 0);
	assert_string_equal(loc, "https://127.0.0.1/x");
	free(loc);
	/* Our own host given as an IP: its other spellings are the same origin. */
	assert_int_equal(tsso_redirect_check("https://0177.0.0.1:443/r", "https://127.0.0.1", NULL,
	                                     0, &loc, &err),
	                 0);
	assert_string_equal(loc, "https://127.0.0.1/r");
	free(loc);
	assert_int_equal(tsso_redirect_check("/r", "http://[::1]:8080", NULL, 0, &loc, &err), 0);
	assert_string_equal(loc, "http://[::1]:8080/r");
	free(loc);
	loc = NULL;
	/* Without an allowed list only our origin passes. */
	assert_int_equal(
	    tsso_redirect_check("https://dash.example.com/", SELF, NULL, 0, &loc, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "redirect.not_allowed");
	/* A broken self origin is a configuration error, not a pass. */
	static const char *const bad_self[] = {"", "app.example.com", "https://app.example.com/sso",
	                                       "https://u@app.example.com",
	                                       "ftp://app.example.com"};
	for (size_t i = 0; i < TSSO_ARRAY_LEN(bad_self); i++) {
		assert_int_equal(tsso_redirect_check("/x", bad_self[i], NULL, 0, &loc, &err), -1);
		assert_string_equal(tsso_err_reason(&err), "redirect.config");
		assert_null(loc);
	}
	assert_int_equal(tsso_redirect_check("/x", NULL, NULL, 0, &loc, &err), -1);
	assert_string_equal(tsso_err_reason(&err), "redirect.config");

	assert_int_equal(tsso_redirect_origin_normalize("HTTPS://App.Example.COM:443", &o, &err),
	                 0);
	assert_string_equal(o, "https://app.example.com");
	free(o);
	assert_int_equal(tsso_redirect_origin_normalize("http://app.example.com:8080/", &o, &err),
	                 0);
	assert_string_equal(o, "http://app.example.com:8080");
	free(o);
	o = NULL;
	static const char *const not_origins[] = {"https://a/b",   "https://a/?q", "https://a/#f",
	                                          "https://u:p@a", "data:x",       "/a",
	                                          "https://a b"};
	for (size_t i = 0; i < TSSO_ARRAY_LEN(not_origins); i++) {
		assert_int_equal(tsso_redirect_origin_normalize(not_origins[i], &o, &err), -1);
		assert_string_equal(tsso_err_reason(&err), "redirect.config");
		assert_null(o);
	}
}

/* Each thread keeps its last own origin parsed: changing it between calls,
 * or passing a broken one, must give the same answers as a first call. */
static void test_self_memo(void **state)
{
	static const char *const selves[] = {"https://app.example.com", "https://other.example.com",
	                                     "https://app.example.com:8443", "not an origin",
	                                     "https://APP.example.com:443"};
	static const char *const want[] = {
	    "https://app.example.com/x", "https://other.example.com/x",
	    "https://app.example.com:8443/x", NULL, "https://app.example.com/x"};
	struct tsso_err err = {0};
	char *loc = NULL;
	(void)state;

	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < TSSO_ARRAY_LEN(selves); i++) {
			int rc = tsso_redirect_check("/x", selves[i], NULL, 0, &loc, &err);
			bool same_origin_ok;

			if (want[i] == NULL) {
				assert_int_equal(rc, -1);
				assert_string_equal(tsso_err_reason(&err), "redirect.config");
				continue;
			}
			assert_int_equal(rc, 0);
			assert_string_equal(loc, want[i]);
			free(loc);
			loc = NULL;
			/* An absolute target on app.example.com passes only where that is us. */
			same_origin_ok = i == 0 || i == 4;
			assert_int_equal(tsso_redirect_check("https://app.example.com/y", selves[i],
			                                     NULL, 0, &loc, &err),
			                 same_origin_ok ? 0 : -1);
			free(loc);
			loc = NULL;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corpus_bad), cmocka_unit_test(test_corpus_good),
	    cmocka_unit_test(test_reasons),    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_origins),    cmocka_unit_test(test_self_memo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
