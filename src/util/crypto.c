/* CSPRNG, constant-time comparison and wiping, all on OpenSSL. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tsso/b64.h"
#include "tsso/crypto.h"

static int rand_direct(void *buf, size_t n)
{
	if (n > INT32_MAX)
		return -1;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

/*
 * Why pools: in OpenSSL 3, RAND_bytes costs about 6,600 instructions and a
 * getpid() (its fork check) whatever the length asked for; a login draws
 * seven small values (state, nonce, PKCE verifier, session id, AES-GCM
 * nonces). One call fills a page that serves many draws; the bytes are the
 * CSPRNG's, unaltered, each given out once and wiped from the page as it
 * leaves.
 *
 * The page is marked MADV_WIPEONFORK (a forked child sees it empty and
 * refills from its own, reseeded DRBG instead of repeating the parent's
 * values) and MADV_DONTDUMP (kept out of core dumps). Where the kernel
 * refuses WIPEONFORK there is no pool: every draw calls RAND_bytes.
 */
struct rand_page {
	size_t left; /* unused bytes at the start of bytes[] */
	unsigned char bytes[4096 - sizeof(size_t)];
};

struct tsso_rand_pool {
	pthread_mutex_t mu;
	struct rand_page *page; /* NULL: no pool */
};

struct tsso_rand_pool *tsso_rand_pool_new(void)
{
	struct tsso_rand_pool *p = calloc(1, sizeof(*p));
	void *m;

	if (p == NULL)
		return NULL;
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		return NULL;
	}
#ifdef MADV_WIPEONFORK
	m = mmap(NULL, sizeof(struct rand_page), PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED) {
		if (madvise(m, sizeof(struct rand_page), MADV_WIPEONFORK) == 0) {
#ifdef MADV_DONTDUMP
			(void)madvise(m, sizeof(struct rand_page), MADV_DONTDUMP);
#endif
			p->page = m; /* zero-filled: empty */
		} else {
			munmap(m, sizeof(struct rand_page));
		}
	}
#else
	(void)m;
#endif
	return p;
}

void tsso_rand_pool_free(struct tsso_rand_pool *p)
{
	if (p == NULL)
		return;
	if (p->page != NULL) {
		tsso_wipe(p->page, sizeof(*p->page));
		munmap(p->page, sizeof(*p->page));
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int tsso_rand_pool_draw(struct tsso_rand_pool *p, void *out, size_t n)
{
	struct rand_page *pg;
	int rc = 0;

	if (p == NULL || p->page == NULL || n > TSSO_RAND_POOL_MAX_DRAW)
		return rand_direct(out, n);
	if (n == 0)
		return 0;
	pthread_mutex_lock(&p->mu);
	pg = p->page;
	if (pg->left < n || pg->left > sizeof(pg->bytes)) {
		pg->left = 0;
		if (rand_direct(pg->bytes, sizeof(pg->bytes)) < 0) {
			rc = -1;
			goto out;
		}
		pg->left = sizeof(pg->bytes);
	}
	pg->left -= n;
	memcpy(out, pg->bytes + pg->left, n);
	/* Given out once: wiped from the pool as it leaves. */
	tsso_wipe(pg->bytes + pg->left, n);
out:
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* tsso_rand_bytes draws from a pool per thread (made at the thread's first
 * draw, freed when it ends), so that threads never wait on each other's. */
static pthread_key_t thread_pool_key;
static bool thread_pool_ok;
static pthread_once_t thread_pool_once = PTHREAD_ONCE_INIT;

static void thread_pool_free(void *p)
{
	tsso_rand_pool_free(p);
}

static void thread_pool_init(void)
{
	thread_pool_ok = pthread_key_create(&thread_pool_key, thread_pool_free) == 0;
}

int tsso_rand_bytes(void *buf, size_t n)
{
	struct tsso_rand_pool *p;

	if (n > TSSO_RAND_POOL_MAX_DRAW)
		return rand_direct(buf, n);
	(void)pthread_once(&thread_pool_once, thread_pool_init);
	if (!thread_pool_ok)
		return rand_direct(buf, n);
	p = pthread_getspecific(thread_pool_key);
	if (p == NULL) {
		p = tsso_rand_pool_new();
		if (p != NULL && pthread_setspecific(thread_pool_key, p) != 0) {
			tsso_rand_pool_free(p);
			p = NULL;
		}
	}
	return tsso_rand_pool_draw(p, buf, n);
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

/* glibc's explicit_bzero: the vectorised memset behind a barrier the
 * compiler may not remove. OPENSSL_cleanse does the same a byte or a word
 * at a time (about 19 k instructions a login for the ~40 wipes). */
void tsso_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void tsso_free_secret(char *s)
{
	if (s == NULL)
		return;
	tsso_wipe(s, strlen(s));
	free(s);
}

/* SHA-256, -384 and -512 fetched once: the one-shot SHA256() and the
 * legacy EVP_sha256() of OpenSSL 3 fetch the algorithm by name on every
 * use (about 5,800 instructions for a short input with SHA256(), more than
 * half of it the fetch; docs/performance.md). Never freed: they live as
 * long as the process. */
static EVP_MD *sha_md[3];
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void sha_fetch(void)
{
	sha_md[0] = EVP_MD_fetch(NULL, "SHA256", NULL);
	sha_md[1] = EVP_MD_fetch(NULL, "SHA384", NULL);
	sha_md[2] = EVP_MD_fetch(NULL, "SHA512", NULL);
}

const EVP_MD *tsso_sha_md(size_t len)
{
	size_t i = len == 32 ? 0 : len == 48 ? 1 : len == 64 ? 2 : 3;

	if (i == 3)
		return NULL;
	(void)pthread_once(&sha_once, sha_fetch);
	if (sha_md[i] != NULL)
		return sha_md[i];
	return i == 0 ? EVP_sha256() : i == 1 ? EVP_sha384() : EVP_sha512();
}

int tsso_sha256(const void *data, size_t n, unsigned char out[32])
{
	unsigned int len = 0;

	if (EVP_Digest(data, n, out, &len, tsso_sha_md(32), NULL) != 1 || len != 32)
		return -1;
	return 0;
}
