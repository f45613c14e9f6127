/* Unit tests for the route table: paths, methods, tenant segments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tsso/routes.h"

struct route_case {
	const char *base, *path, *method;
	const char *route; /* expected route name, or NULL */
	int status;        /* when route is NULL */
	const char *tenant;
};

static void test_route_table(void **state)
{
	static const struct route_case cases[] = {
	    {"/sso", "/healthz", "GET", "healthz", 0, NULL},
	    {"/sso", "/healthz", "HEAD", "healthz", 0, NULL},
	    {"/sso", "/readyz", "GET", "readyz", 0, NULL},
	    {"/sso", "/metrics", "GET", "metrics", 0, NULL},
	    {"/sso", "/healthz", "POST", NULL, 405, NULL},
	    {"/sso", "/healthz/", "GET", NULL, 404, NULL},
	    {"/sso", "/HEALTHZ", "GET", NULL, 404, NULL},
	    {"/sso", "/sso/healthz", "GET", NULL, 404, NULL},
	    {"/sso", "/", "GET", NULL, 404, NULL},
	    {"/sso", "", "GET", NULL, 404, NULL},
	    {"/sso", "/nope", "GET", NULL, 404, NULL},
	    {"/sso", "/metrics", "PUT", NULL, 405, NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char tenant[80] = "";
		const char *rp = NULL, *allow = NULL;
		int status = 0;
		const struct tsso_route *r =
		    tsso_route_match(cases[i].base, cases[i].path, cases[i].method, tenant,
		                     sizeof(tenant), &rp, &status, &allow);

		if (cases[i].route != NULL) {
			assert_non_null(r);
			assert_string_equal(r->name, cases[i].route);
		} else {
			assert_null(r);
			assert_int_equal(status, cases[i].status);
			if (status == 405)
				assert_non_null(allow);
		}
	}
}

static void test_method_bits(void **state)
{
	(void)state;
	assert_int_equal(tsso_route_method_bit("GET"), TSSO_M_GET);
	assert_int_equal(tsso_route_method_bit("POST"), TSSO_M_POST);
	assert_int_equal(tsso_route_method_bit("get"), 0);
	assert_int_equal(tsso_route_method_bit("TRACE"), 0);
	assert_int_equal(tsso_route_method_bit("DELETE"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_table),
	    cmocka_unit_test(test_method_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
