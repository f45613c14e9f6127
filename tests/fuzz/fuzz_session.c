/* Fuzz target: the session record parser (records come back from Redis and
 * from sealed cookies); whatever parses must be valid JSON to jansson too,
 * and must serialize and parse again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsso_session *s, *again;
	char *json = NULL;
	size_t n = 0;

	s = tsso_session_from_json((const char *)data, size, NULL);
	if (s == NULL)
		return 0;
	/* Differential: our fast parser never accepts what jansson refuses,
	 * and both read the same sub. */
	{
		json_error_t jerr;
		json_t *o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);

		if (!json_is_object(o) ||
		    strcmp(json_string_value(json_object_get(o, "sub")), s->sub) != 0)
			abort();
		json_decref(o);
	}
	if (tsso_session_to_json(s, &json, &n, NULL) == 0) {
		again = tsso_session_from_json(json, n, NULL);
		if (again == NULL || strcmp(again->sub, s->sub) != 0 ||
		    again->created_ms != s->created_ms)
			abort();
		tsso_session_free(again);
		free(json);
	}
	tsso_session_free(s);
	return 0;
}
