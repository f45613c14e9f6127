/* base64url without padding, strict in what it decodes (RFC 7515 §2). */
#include <stdlib.h>

#include "tsso/b64.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t tsso_b64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

void tsso_b64url_encode_to(char *out, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t i;
	char *o = out;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		*o++ = b64url_alphabet[v >> 18 & 63];
		*o++ = b64url_alphabet[v >> 12 & 63];
		*o++ = b64url_alphabet[v >> 6 & 63];
		*o++ = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		*o++ = b64url_alphabet[v >> 18 & 63];
		*o++ = b64url_alphabet[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		*o++ = b64url_alphabet[v >> 18 & 63];
		*o++ = b64url_alphabet[v >> 12 & 63];
		*o++ = b64url_alphabet[v >> 6 & 63];
	}
	*o = '\0';
}

char *tsso_b64url_encode(const void *data, size_t n)
{
	char *out = malloc(tsso_b64url_encoded_len(n) + 1);

	if (out != NULL)
		tsso_b64url_encode_to(out, data, n);
	return out;
}

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int tsso_b64url_decode(const char *s, size_t len, unsigned char **ret_data, size_t *ret_n)
{
	unsigned char *out;
	size_t i, o = 0, rem = len % 4;
	unsigned acc = 0;
	int bits = 0;

	if (rem == 1)
		return -1;
	out = malloc(len / 4 * 3 + 3);
	if (out == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		int v = b64url_value((unsigned char)s[i]);

		if (v < 0)
			goto fail;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	/* Non-canonical encodings (non-zero leftover bits) are refused. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		goto fail;
	out[o] = '\0';
	*ret_data = out;
	*ret_n = o;
	return 0;
fail:
	free(out);
	return -1;
}
