/*
 * Authenticated encryption for everything the daemon hands a browser to
 * bring back: login state, cookie sessions. AES-256-GCM with a fresh random
 * 96-bit IV per seal; a keyring of 32-byte keys, the first seals and all
 * open (key rotation). Sealed form, base64url:
 *   version(1) | key id (4, a hash of the key) | iv (12) | ciphertext | tag (16)
 * The associated data binds a token to its purpose ("login-state:acme",
 * "session:acme"), so one kind cannot be replayed as another.
 */
#ifndef TSSO_AEAD_H
#define TSSO_AEAD_H

#include <stddef.h>

#include "tsso/common.h"
#include "tsso/err.h"

#define TSSO_AEAD_KEY_LEN 32

struct tsso_keyring;

/* keys: n keys of TSSO_AEAD_KEY_LEN bytes each, copied. NULL on error. */
struct tsso_keyring *tsso_keyring_new(const unsigned char *keys, size_t n) TSSO_WUR;
/* Load from a file with one key per line: 64 hex digits or 43 base64url
 * characters; blank lines and #comments ignored; first line seals. */
struct tsso_keyring *tsso_keyring_load(const char *path, struct tsso_err *err) TSSO_WUR;
void tsso_keyring_free(struct tsso_keyring *kr); /* wipes */
size_t tsso_keyring_count(const struct tsso_keyring *kr);

/* Seal n bytes with the first key; *ret_token a new base64url string. */
int tsso_aead_seal(const struct tsso_keyring *kr, const char *aad, const void *plain, size_t n,
                   char **ret_token, struct tsso_err *err) TSSO_WUR;
/* Open a token sealed by any key of the ring. Reasons: aead.malformed,
 * aead.unknown_key, aead.forged. *ret_plain is new, NUL-terminated (not
 * counted in *ret_n). Outputs untouched on failure. */
int tsso_aead_open(const struct tsso_keyring *kr, const char *aad, const char *token,
                   unsigned char **ret_plain, size_t *ret_n, struct tsso_err *err) TSSO_WUR;

#endif
