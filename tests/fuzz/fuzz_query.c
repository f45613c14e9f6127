/* Fuzz target: x-www-form-urlencoded parsing; parsed pairs re-encode and re-parse identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/form.h"
#include "tsso/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsso_kvlist l = {0}, l2 = {0};
	struct tsso_buf b;

	if (tsso_form_parse((const char *)data, size, &l, NULL) != 0)
		return 0;
	if (l.n > TSSO_HTTP_MAX_PARAMS)
		abort();
	tsso_buf_init(&b, 4 * TSSO_HTTP_MAX_BODY);
	for (size_t i = 0; i < l.n; i++)
		if (tsso_form_encode_append(&b, l.v[i].key, l.v[i].value) != 0)
			abort();
	if (b.len > 0 && b.len <= TSSO_HTTP_MAX_BODY) {
		if (tsso_form_parse(b.ptr, b.len, &l2, NULL) != 0)
			abort();
		/* Empty keys with empty values encode as "=" and parse back. */
		if (l2.n != l.n)
			abort();
		for (size_t i = 0; i < l.n; i++)
			if (strcmp(l.v[i].key, l2.v[i].key) != 0 ||
			    strcmp(l.v[i].value, l2.v[i].value) != 0)
				abort();
	}
	tsso_buf_free(&b);
	tsso_kvlist_free(&l);
	tsso_kvlist_free(&l2);
	return 0;
}
