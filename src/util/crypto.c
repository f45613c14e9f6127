/* CSPRNG, constant-time comparison and wiping, all on OpenSSL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "tsso/b64.h"
#include "tsso/crypto.h"

int tsso_rand_bytes(void *buf, size_t n)
{
	if (n > INT32_MAX)
		return -1;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

char *tsso_rand_token(size_t nbytes)
{
	unsigned char raw[64];
	char *out;

	if (nbytes == 0 || nbytes > sizeof(raw) || tsso_rand_bytes(raw, nbytes) < 0)
		return NULL;
	out = tsso_b64url_encode(raw, nbytes);
	OPENSSL_cleanse(raw, sizeof(raw));
	return out;
}

bool tsso_ct_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return false;
	return alen == 0 || CRYPTO_memcmp(a, b, alen) == 0;
}

bool tsso_ct_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return false;
	return tsso_ct_eq(a, strlen(a), b, strlen(b));
}

void tsso_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

void tsso_free_secret(char *s)
{
	if (s == NULL)
		return;
	tsso_wipe(s, strlen(s));
	free(s);
}
