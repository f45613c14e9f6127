/* Small cryptographic utilities: CSPRNG, constant-time compare, wiping. */
#ifndef TSSO_CRYPTO_H
#define TSSO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "tsso/common.h"

/* Fill buf from OpenSSL's CSPRNG; -1 if it fails (never silently weak). */
int tsso_rand_bytes(void *buf, size_t n) TSSO_WUR;
/* A pool of CSPRNG output: draws of up to TSSO_RAND_POOL_MAX_DRAW bytes are
 * served from a page that one RAND_bytes call fills, each byte given out
 * once; thread-safe; empty in a forked child (see crypto.c). Larger draws,
 * and any draw without a pool (p NULL, or the kernel refused), call
 * RAND_bytes directly. tsso_rand_bytes draws from its thread's own pool. */
#define TSSO_RAND_POOL_MAX_DRAW 64
struct tsso_rand_pool;
struct tsso_rand_pool *tsso_rand_pool_new(void);
void tsso_rand_pool_free(struct tsso_rand_pool *p);
int tsso_rand_pool_draw(struct tsso_rand_pool *p, void *out, size_t n) TSSO_WUR;
/* nbytes random bytes, base64url-encoded; new string (caller frees) or NULL. */
char *tsso_rand_token(size_t nbytes);
/* Compare in time that depends only on the lengths. */
bool tsso_ct_eq(const void *a, size_t alen, const void *b, size_t blen);
bool tsso_ct_streq(const char *a, const char *b);
/* SHA-256 of data into out; -1 if OpenSSL fails. */
int tsso_sha256(const void *data, size_t n, unsigned char out[32]) TSSO_WUR;
/* SHA-256, -384 or -512 by digest length (32, 48, 64), fetched once and
 * shared (never free it); NULL for another length. */
const EVP_MD *tsso_sha_md(size_t len);
/* SipHash-2-4 of data under a 128-bit key: the index of in-memory tables
 * whose keys others choose (siphash.c). */
uint64_t tsso_siphash(const uint64_t key[2], const void *data, size_t n);
/* Wipe memory the compiler may not optimise away. Accepts NULL. */
void tsso_wipe(void *p, size_t n);
/* Wipe a NUL-terminated string, then free it. Accepts NULL. */
void tsso_free_secret(char *s);

#endif
