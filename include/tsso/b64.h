/* base64url without padding (RFC 4648 §5, RFC 7515 §2): strict decoding. */
#ifndef TSSO_B64_H
#define TSSO_B64_H

#include <stddef.h>

#include "tsso/common.h"

/* Encode n bytes; returns a new NUL-terminated string (caller frees) or NULL. */
char *tsso_b64url_encode(const void *data, size_t n);
/* Length of the encoding of n bytes, without the NUL. */
size_t tsso_b64url_encoded_len(size_t n);
/* Encode into out, which has room for tsso_b64url_encoded_len(n) + 1 bytes. */
void tsso_b64url_encode_to(char *out, const void *data, size_t n);
/* Decode exactly len characters; refuses padding, characters outside the
 * alphabet, impossible lengths and non-zero trailing bits. On success
 * *ret_data is a new buffer (one extra NUL byte appended, not counted) and
 * *ret_n its length; on failure the outputs are untouched. */
int tsso_b64url_decode(const char *s, size_t len, unsigned char **ret_data, size_t *ret_n) TSSO_WUR;

#endif
