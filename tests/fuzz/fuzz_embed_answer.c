/* Fuzz target: Toucan AI token API answers (tsso_embed_api_parse) and the
 * "1h"-style durations they carry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/embed/embed_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsso_embed_token tok = {0};
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tsso_embed_api_parse(s, size, 1000000, &tok, NULL) == 0) {
		/* What comes out is always a sane token. */
		if (tok.token == NULL || !tsso_embed_token_charset_ok(tok.token) ||
		    tok.expires_in <= 0 || tok.expires_in > TSSO_EMBED_API_TTL_MAX)
			abort();
		tsso_embed_token_clear(&tok);
	}
	(void)tsso_embed_duration_parse(s);
	free(s);
	return 0;
}
