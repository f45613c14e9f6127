/* Differential fuzz target: tsso_json_parse against jansson's json_loadb on the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tsso/json.h"
#include "tsso/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The flags our callers used with jansson before: duplicates refused at
 * every level; any value at the top (tsso_json_parse leaves the type check
 * to its callers). */
#define JANSSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* Exact comparison: same members in the same order, same numbers to the
 * last bit of a double (json_equal alone takes -0.0 for 0.0). */
static char *dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

static void diverged(const char *why, const uint8_t *data, size_t size)
{
	fprintf(stderr, "fuzz_json: %s on %zu bytes\n", why, size);
	fwrite(data, 1, size < 200 ? size : 200, stderr);
	fputc('\n', stderr);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsso_err err = {0};
	json_error_t jerr;
	json_t *ours, *theirs;
	char *a, *b;

	if (size > TSSO_TOKEN_MAX * 4)
		return 0;
	ours = tsso_json_parse((const char *)data, size, &err);
	theirs = json_loadb((const char *)data, size, JANSSON_FLAGS, &jerr);
	if (ours == NULL) {
		/* Deliberate difference 1: our nesting limit is lower. */
		if (strcmp(tsso_err_reason(&err), "json.too_deep") == 0) {
			json_decref(theirs);
			return 0;
		}
		/* Deliberate difference 2: jansson's lexer drops a raw NUL byte
		 * that follows a number or a literal ("[1\0]" loads as [1]); RFC
		 * 8259 has no place for one, we refuse it. */
		if (theirs != NULL && memchr(data, '\0', size) != NULL) {
			json_decref(theirs);
			return 0;
		}
		if (theirs != NULL)
			diverged("we refuse what jansson accepts", data, size);
		/* A duplicate is a duplicate for both, unless another fault came
		 * first for one of them (jansson looks before reading the value). */
		if (strcmp(tsso_err_reason(&err), "json.duplicate_member") == 0 &&
		    json_error_code(&jerr) != json_error_duplicate_key &&
		    json_error_code(&jerr) != json_error_stack_overflow)
			diverged("duplicate for us only", data, size);
		return 0;
	}
	if (theirs == NULL)
		diverged("we accept what jansson refuses", data, size);
	if (!json_equal(ours, theirs))
		diverged("values differ", data, size);
	a = dump(ours);
	b = dump(theirs);
	if (a == NULL || b == NULL || strcmp(a, b) != 0)
		diverged("serializations differ", data, size);
	free(a);
	free(b);
	json_decref(ours);
	json_decref(theirs);
	return 0;
}
