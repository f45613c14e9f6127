/* Fuzz target: the JSON writer against jansson. Whatever jansson parses,
 * the writer writes as jansson's own compact dump, and that parses back to
 * an equal value; the input as one string is written iff it is UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/jsonw.h"
#include "tsso/limits.h"
#include "tsso/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Containers on the deepest path of v (jansson's parser bounds it). */
static size_t depth_of(const json_t *v)
{
	size_t d = 0, i;
	const char *k;
	json_t *m;

	if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++) {
			size_t c = depth_of(json_array_get(v, i));
			d = c > d ? c : d;
		}
		return d + 1;
	}
	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, k, m) {
			size_t c = depth_of(m);
			d = c > d ? c : d;
		}
		return d + 1;
	}
	return 0;
}

static void tree(const uint8_t *data, size_t size)
{
	json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	struct tsso_buf b;
	struct tsso_jsonw w;
	struct tsso_err err = {0};
	char *want;
	json_t *back;

	if (in == NULL)
		return;
	tsso_buf_init(&b, 4 * size + 64);
	tsso_jsonw_init(&w, &b);
	tsso_jsonw_value(&w, in);
	if (tsso_jsonw_finish(&w, &err) < 0) {
		/* The only refusal of a parsed tree: deeper than the writer goes. */
		if (strcmp(err.reason, "json.bad_value") != 0 ||
		    depth_of(in) <= TSSO_JSONW_DEPTH_MAX)
			abort();
		goto out;
	}
	want = json_dumps(in, JSON_COMPACT | JSON_ENCODE_ANY);
	if (want == NULL || strlen(want) != b.len || memcmp(want, b.ptr, b.len) != 0)
		abort();
	free(want);
	back = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (back == NULL || !json_equal(back, in))
		abort();
	json_decref(back);
out:
	tsso_buf_free(&b);
	json_decref(in);
}

static void string(const uint8_t *data, size_t size)
{
	struct tsso_buf b;
	struct tsso_jsonw w;
	struct tsso_err err = {0};
	json_t *back;
	int rc;

	tsso_buf_init(&b, 6 * size + 2);
	tsso_jsonw_init(&w, &b);
	tsso_jsonw_strn(&w, (const char *)data, size);
	rc = tsso_jsonw_finish(&w, &err);
	if (!tsso_utf8_valid((const char *)data, size)) {
		if (rc != -1 || strcmp(err.reason, "json.bad_value") != 0)
			abort();
		goto out;
	}
	if (rc != 0)
		abort();
	back = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (back == NULL || json_string_length(back) != size ||
	    memcmp(json_string_value(back), data, size) != 0)
		abort();
	json_decref(back);
out:
	tsso_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	tree(data, size);
	string(data, size);
	return 0;
}
