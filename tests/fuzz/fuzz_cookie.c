/* Fuzz target: Cookie header parsing and Set-Cookie building. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/cookie.h"
#include "tsso/form.h"
#include "tsso/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
	       (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsso_kvlist l = {0};
	char *s = malloc(size + 1), *sc = NULL;
	const char *eq;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tsso_cookie_parse(s, &l, NULL) == 0) {
		if (l.n > TSSO_HTTP_MAX_COOKIES)
			abort();
		for (size_t i = 0; i < l.n; i++) {
			if (l.v[i].key[0] == '\0' ||
			    strlen(l.v[i].value) > TSSO_HTTP_MAX_COOKIE_VALUE)
				abort();
			for (const char *p = l.v[i].value; *p; p++)
				if (!octet((unsigned char)*p))
					abort();
		}
	}
	tsso_kvlist_free(&l);
	/* Build "name=value" from the input; what we emit, we read back. */
	eq = strchr(s, '=');
	if (eq != NULL) {
		struct tsso_cookie_opts o = {.path = "/", .secure = true, .http_only = true};

		s[eq - s] = '\0';
		o.name = s;
		o.value = eq + 1;
		o.max_age = (long)(size % 7) * 60;
		o.same_site = (enum tsso_cookie_samesite)(size % 3);
		sc = tsso_cookie_build(&o);
		if (sc != NULL) {
			char *semi = strchr(sc, ';');

			*semi = '\0';
			if (tsso_cookie_parse(sc, &l, NULL) != 0 || l.n != 1 ||
			    strcmp(l.v[0].key, o.name) != 0 || strcmp(l.v[0].value, o.value) != 0)
				abort();
			tsso_kvlist_free(&l);
		}
	}
	free(sc);
	free(s);
	return 0;
}
