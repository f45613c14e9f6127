/* jti values for embed JWTs: 128 bits of CSPRNG output each, drawn from a
 * per-client pool that one RAND_bytes call refills. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "embed_int.h"
#include "tsso/crypto.h"

/*
 * Why a pool: in OpenSSL 3, RAND_bytes costs about 6,600 instructions
 * whatever the length asked for (the per-thread DRBG lookup and CTR-DRBG's
 * fixed work per call), as much as the whole JSON of a token; one call for
 * 255 jti values spreads that over the tokens. The bytes are still the
 * CSPRNG's, unaltered, each given out once.
 *
 * The pool lives in a page marked MADV_WIPEONFORK: a forked child sees it
 * empty and refills from its own (reseeded) DRBG instead of repeating the
 * parent's values. Where the kernel refuses that, there is no pool and each
 * jti comes from RAND_bytes directly.
 */
struct jti_page {
	size_t left; /* unused bytes at the start of bytes[] */
	unsigned char bytes[4096 - sizeof(size_t)];
};

struct tsso_embed_jti {
	pthread_mutex_t mu;
	struct jti_page *page; /* NULL: no pool */
};

struct tsso_embed_jti *tsso_embed_jti_new(void)
{
	struct tsso_embed_jti *j = calloc(1, sizeof(*j));
	void *p;

	if (j == NULL)
		return NULL;
	if (pthread_mutex_init(&j->mu, NULL) != 0) {
		free(j);
		return NULL;
	}
#ifdef MADV_WIPEONFORK
	p = mmap(NULL, sizeof(struct jti_page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	         -1, 0);
	if (p != MAP_FAILED) {
		if (madvise(p, sizeof(struct jti_page), MADV_WIPEONFORK) == 0)
			j->page = p; /* zero-filled: empty */
		else
			munmap(p, sizeof(struct jti_page));
	}
#else
	(void)p;
#endif
	return j;
}

void tsso_embed_jti_free(struct tsso_embed_jti *j)
{
	if (j == NULL)
		return;
	if (j->page != NULL) {
		tsso_wipe(j->page, sizeof(*j->page));
		munmap(j->page, sizeof(*j->page));
	}
	pthread_mutex_destroy(&j->mu);
	free(j);
}

int tsso_embed_jti_draw(struct tsso_embed_jti *j, unsigned char out[TSSO_EMBED_JTI_BYTES])
{
	struct jti_page *pg;
	int rc = 0;

	if (j == NULL || j->page == NULL)
		return tsso_rand_bytes(out, TSSO_EMBED_JTI_BYTES);
	pthread_mutex_lock(&j->mu);
	pg = j->page;
	if (pg->left < TSSO_EMBED_JTI_BYTES || pg->left > sizeof(pg->bytes)) {
		pg->left = 0;
		if (tsso_rand_bytes(pg->bytes, sizeof(pg->bytes)) < 0) {
			rc = -1;
			goto out;
		}
		pg->left = sizeof(pg->bytes) - sizeof(pg->bytes) % TSSO_EMBED_JTI_BYTES;
	}
	pg->left -= TSSO_EMBED_JTI_BYTES;
	memcpy(out, pg->bytes + pg->left, TSSO_EMBED_JTI_BYTES);
	/* Given out once: wiped from the pool as it leaves. */
	tsso_wipe(pg->bytes + pg->left, TSSO_EMBED_JTI_BYTES);
out:
	pthread_mutex_unlock(&j->mu);
	return rc;
}
