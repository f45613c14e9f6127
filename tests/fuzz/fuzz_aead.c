/* Fuzz target: sealed-token opening (tsso_aead_open) with attacker bytes,
 * and seal/open round trips of the same bytes as plaintext. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsso/aead.h"
#include "tsso/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char keys[2 * TSSO_AEAD_KEY_LEN];
	struct tsso_keyring *kr;
	unsigned char *plain = NULL;
	char *token = NULL, *text;
	size_t n = 0;

	memset(keys, 0x11, TSSO_AEAD_KEY_LEN);
	memset(keys + TSSO_AEAD_KEY_LEN, 0x22, TSSO_AEAD_KEY_LEN);
	kr = tsso_keyring_new(keys, 2);
	if (kr == NULL)
		abort();
	/* As a token: must never open (the fuzzer cannot forge a GCM tag). */
	text = malloc(size + 1);
	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (tsso_aead_open(kr, "session:acme", text, &plain, &n, NULL) == 0) {
		/* Only a token sealed by the corpus generator with these keys may. */
		free(plain);
		plain = NULL;
	}
	/* As plaintext: the round trip must give the same bytes back. */
	if (tsso_aead_seal(kr, "session:acme", data, size, &token, NULL) == 0) {
		if (tsso_aead_open(kr, "session:acme", token, &plain, &n, NULL) != 0 || n != size ||
		    (size > 0 && memcmp(plain, data, size) != 0))
			abort();
		if (tsso_aead_open(kr, "session:beta", token, &plain, &n, NULL) == 0)
			abort(); /* purpose binding */
		free(plain);
		free(token);
	}
	free(text);
	tsso_keyring_free(kr);
	return 0;
}
