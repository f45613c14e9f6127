/* Fuzz target: the strict top-level JSON reader (tsso/jsonflat.h), against
 * jansson with JSON_REJECT_DUPLICATES: whatever it accepts, jansson accepts,
 * with the same members, strings and integers (differential). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tsso/jsonflat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	json_t *ref;
	size_t n;
	bool unchecked; /* an object left to jansson (tsso_jflat_value.checked) */
};

static int member(void *arg, const char *key, struct tsso_jflat_value *v)
{
	struct seen *s = arg;
	json_t *r = json_object_get(s->ref, key);

	if (v->type == TSSO_JFLAT_OBJECT && !v->checked) {
		s->unchecked = true;
		return 0;
	}
	if (r == NULL)
		abort();
	s->n++;
	switch (v->type) {
	case TSSO_JFLAT_STRING:
		if (!json_is_string(r) || json_string_length(r) != v->len ||
		    memcmp(json_string_value(r), v->str, v->len) != 0)
			abort();
		break;
	case TSSO_JFLAT_INTEGER:
		if (!json_is_integer(r) || json_integer_value(r) != v->num)
			abort();
		break;
	case TSSO_JFLAT_OBJECT:
		if (!json_is_object(r))
			abort();
		break;
	default:
		if (json_is_string(r) || json_is_object(r))
			abort();
		break;
	}
	return 0;
}

static int any(void *arg, const char *key, struct tsso_jflat_value *v)
{
	struct seen *s = arg;

	(void)key;
	if (v->type == TSSO_JFLAT_OBJECT && !v->checked)
		s->unchecked = true;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *ref = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct seen s = {ref, 0, false};

	if (!json_is_object(ref)) {
		/* jansson refuses (or it is not an object): so must we, unless we
		 * said an object is left to jansson. */
		if (tsso_jflat_parse((const char *)data, size, any, &s) == 0 && !s.unchecked)
			abort();
	} else if (tsso_jflat_parse((const char *)data, size, member, &s) == 0 && !s.unchecked &&
	           s.n != json_object_size(ref)) {
		abort();
	}
	json_decref(ref);
	return 0;
}
