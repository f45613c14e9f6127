/* Fuzz target: the session record parser (records come back from Redis and
 * from sealed cookies); whatever parses must serialize and parse again. */
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
