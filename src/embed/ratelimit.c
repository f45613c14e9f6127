/* Per-session rate limit of the embed-token route: a token bucket per
 * session, kept in a small bounded table inside the tenant's embed client. */
#include <assert.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "embed_int.h"
#include "tsso/crypto.h"

/* The table is set-associative: a key hashes to one set of
 * TSSO_EMBED_RATE_WAYS slots, and a new key takes the set's least recently
 * used slot. Memory stays fixed whatever the number of sessions; a session
 * pushed out by others starts again with a full bucket, which only happens
 * when more than WAYS sessions of one set are active at once. */
#define RATE_SETS (TSSO_EMBED_RATE_SLOTS / TSSO_EMBED_RATE_WAYS)

static_assert(TSSO_EMBED_RATE_SLOTS % TSSO_EMBED_RATE_WAYS == 0, "whole sets");

struct tsso_embed_rate_slot {
	unsigned char key[16]; /* truncated HMAC of the session key: no session id is kept */
	bool used;
	double tokens; /* available requests, at most TSSO_EMBED_RATE_BURST */
	double last;   /* monotonic seconds of the last refill */
};

struct tsso_embed_ratelimit {
	pthread_mutex_t mu;
	unsigned char salt[32];
	struct tsso_embed_rate_slot slots[TSSO_EMBED_RATE_SLOTS];
};

struct tsso_embed_ratelimit *tsso_embed_ratelimit_new(void)
{
	struct tsso_embed_ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	if (tsso_rand_bytes(rl->salt, sizeof(rl->salt)) < 0 ||
	    pthread_mutex_init(&rl->mu, NULL) != 0) {
		free(rl);
		return NULL;
	}
	return rl;
}

void tsso_embed_ratelimit_free(struct tsso_embed_ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->mu);
	tsso_wipe(rl, sizeof(*rl));
	free(rl);
}

/* Refill b to now: TSSO_EMBED_RATE_PER_MIN per minute, capped at the burst. */
static void refill(struct tsso_embed_rate_slot *b, double now)
{
	double dt = now - b->last;

	if (dt > 0) {
		b->tokens += dt * TSSO_EMBED_RATE_PER_MIN / 60.0;
		if (b->tokens > TSSO_EMBED_RATE_BURST)
			b->tokens = TSSO_EMBED_RATE_BURST;
	}
	b->last = now;
}

long tsso_embed_ratelimit_take(struct tsso_embed_ratelimit *rl, const void *key, size_t key_len,
                               double now)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	struct tsso_embed_rate_slot *set, *b = NULL, *lru;
	size_t idx;
	long wait = 0;

	/* Keyed hash: an outsider cannot pick session ids that share a set. */
	if (HMAC(EVP_sha256(), rl->salt, sizeof(rl->salt), key, key_len, mac, &mac_len) == NULL ||
	    mac_len < 24)
		return 0; /* fail open: the limit protects capacity, not identity */
	memcpy(&idx, mac + 16, sizeof(idx));
	set = &rl->slots[(idx % RATE_SETS) * TSSO_EMBED_RATE_WAYS];
	pthread_mutex_lock(&rl->mu);
	lru = &set[0];
	for (size_t i = 0; i < TSSO_EMBED_RATE_WAYS; i++) {
		if (set[i].used && memcmp(set[i].key, mac, sizeof(set[i].key)) == 0) {
			b = &set[i];
			break;
		}
		if (!set[i].used || (lru->used && set[i].last < lru->last))
			lru = &set[i];
	}
	if (b == NULL) {
		b = lru;
		memcpy(b->key, mac, sizeof(b->key));
		b->used = true;
		b->tokens = TSSO_EMBED_RATE_BURST;
		b->last = now;
	}
	refill(b, now);
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
	} else {
		/* Seconds until one whole request is available again, rounded up. */
		double need = (1.0 - b->tokens) * 60.0 / TSSO_EMBED_RATE_PER_MIN;

		wait = (long)need + 1;
	}
	pthread_mutex_unlock(&rl->mu);
	tsso_wipe(mac, sizeof(mac));
	return wait;
}
