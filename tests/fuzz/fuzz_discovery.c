/* Fuzz target: provider metadata parsing and checks (src/oidc/discovery.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/oidc/oidc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsso_err err = {0};
	struct oidc_meta *m;

	/* Both modes: production (https only) and development (loopback http). */
	m = oidc_meta_parse((const char *)data, size, "https://idp.example/t", false, &err);
	oidc_meta_unref(m);
	m = oidc_meta_parse((const char *)data, size, "https://idp.example/t", true, &err);
	oidc_meta_unref(m);
	return 0;
}
