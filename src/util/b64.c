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

/* Decoding table: the value of each alphabet byte, 255 for every other
 * byte (the high bit marks it, so four lookups are checked with one test:
 * cookies and tokens are decoded on every request, docs/performance.md). */
static const unsigned char b64url_rev[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 62,  255, 255, 52,  53,  54,  55,  56,  57,  58,  59,  60,
    61,  255, 255, 255, 255, 255, 255, 255, 0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   10,
    11,  12,  13,  14,  15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  255, 255, 255, 255,
    63,  255, 26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,  41,  42,
    43,  44,  45,  46,  47,  48,  49,  50,  51,  255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255,
};

int tsso_b64url_decode(const char *s, size_t len, unsigned char **ret_data, size_t *ret_n)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char *out;
	size_t i, o = 0, rem = len % 4, full = len - rem;
	unsigned v;

	if (rem == 1)
		return -1;
	out = malloc(len / 4 * 3 + 3);
	if (out == NULL)
		return -1;
	/* Four characters to three bytes at a time. */
	for (i = 0; i < full; i += 4) {
		unsigned a = b64url_rev[p[i]], b = b64url_rev[p[i + 1]], c = b64url_rev[p[i + 2]],
		         d = b64url_rev[p[i + 3]];

		if ((a | b | c | d) & 0x80)
			goto fail;
		v = a << 18 | b << 12 | c << 6 | d;
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	if (rem > 0) {
		unsigned a = b64url_rev[p[i]], b = b64url_rev[p[i + 1]];
		unsigned c = rem == 3 ? b64url_rev[p[i + 2]] : 0;

		if ((a | b | c) & 0x80)
			goto fail;
		v = a << 18 | b << 12 | c << 6;
		/* Non-canonical encodings (non-zero leftover bits) are refused. */
		if ((rem == 2 && (v & 0xffff) != 0) || (rem == 3 && (v & 0xff) != 0))
			goto fail;
		out[o++] = (unsigned char)(v >> 16);
		if (rem == 3)
			out[o++] = (unsigned char)(v >> 8);
	}
	out[o] = '\0';
	*ret_data = out;
	*ret_n = o;
	return 0;
fail:
	free(out);
	return -1;
}
