/* Fuzz target: the redirect policy; whatever it accepts must be an allowed origin and stable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/redirect.h"
#include "tsso/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SELF "https://app.example.com"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allowed[] = {"https://dash.example.com"};
	struct tsso_url *u = NULL;
	char *s = malloc(size + 1), *loc = NULL, *loc2 = NULL, *origin = NULL;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tsso_redirect_check(s, SELF, allowed, 1, &loc, NULL) != 0)
		goto out;
	/* The Location we would send: our origin or the allowed one, no
	 * userinfo, no path starting "//", and accepted again as itself. */
	if (tsso_url_parse(loc, NULL, &u, NULL) != 0 || tsso_url_had_userinfo(u))
		abort();
	origin = tsso_url_origin(u);
	if (origin == NULL ||
	    (strcmp(origin, SELF) != 0 && strcmp(origin, "https://dash.example.com") != 0))
		abort();
	if (strncmp(tsso_url_path(u), "//", 2) == 0)
		abort();
	if (tsso_redirect_check(loc, SELF, allowed, 1, &loc2, NULL) != 0 || strcmp(loc, loc2) != 0)
		abort();
out:
	tsso_url_free(u);
	free(origin);
	free(loc);
	free(loc2);
	free(s);
	return 0;
}
