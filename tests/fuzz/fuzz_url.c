/* Fuzz target: the WHATWG URL parser, with and without a base; serializations must re-parse to
 * themselves. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A serialized URL is a fixed point of the parser; anything else is a bug. */
static void check_roundtrip(const struct tsso_url *u)
{
	struct tsso_url *again = NULL;
	char *h = tsso_url_href(u), *o = tsso_url_origin(u), *h2 = NULL;

	if (h == NULL || o == NULL)
		goto out;
	if (tsso_url_parse(h, NULL, &again, NULL) != 0)
		abort();
	h2 = tsso_url_href(again);
	if (h2 == NULL || strcmp(h, h2) != 0)
		abort();
	if (!tsso_url_had_userinfo(u) && strncmp(h, o, strlen(o)) != 0)
		abort();
	for (const char *p = h; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			abort(); /* serializations are printable ASCII */
out:
	free(h);
	free(h2);
	free(o);
	tsso_url_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsso_url *base = NULL, *u = NULL;
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tsso_url_parse(s, NULL, &u, NULL) == 0) {
		check_roundtrip(u);
		tsso_url_free(u);
		u = NULL;
	}
	if (tsso_url_parse("https://app.example.com/a/b?q#f", NULL, &base, NULL) == 0 &&
	    tsso_url_parse(s, base, &u, NULL) == 0)
		check_roundtrip(u);
	tsso_url_free(u);
	tsso_url_free(base);
	free(s);
	return 0;
}
