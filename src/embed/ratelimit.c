/* Per-session rate limit of the embed-token route: a token bucket per
 * session, kept in a small bounded table inside the tenant's embed client. */
#include <assert.h>
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
	uint64_t tag; /* keyed hash of the session key: no session id is kept */
	bool used;
	double tokens; /* available requests, at most TSSO_EMBED_RATE_BURST */
	double last;   /* monotonic seconds of the last refill */
};

struct tsso_embed_ratelimit {
	pthread_mutex_t mu;
	double burst;     /* bucket size */
	double per_min;   /* refill rate */
	uint64_t salt[2]; /* SipHash key */
	struct tsso_embed_rate_slot slots[TSSO_EMBED_RATE_SLOTS];
};

struct tsso_embed_ratelimit *tsso_embed_ratelimit_new(long burst, long per_min)
{
	struct tsso_embed_ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	rl->burst = burst > 0 ? (double)burst : TSSO_EMBED_RATE_BURST;
	rl->per_min = per_min > 0 ? (double)per_min : TSSO_EMBED_RATE_PER_MIN;
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

/* Refill b to now: per_min per minute, capped at the burst. */
static void refill(const struct tsso_embed_ratelimit *rl, struct tsso_embed_rate_slot *b,
                   double now)
{
	double dt = now - b->last;

	if (dt > 0) {
		b->tokens += dt * rl->per_min / 60.0;
		if (b->tokens > rl->burst)
			b->tokens = rl->burst;
	}
	b->last = now;
}

long tsso_embed_ratelimit_take(struct tsso_embed_ratelimit *rl, const void *key, size_t key_len,
                               double now)
{
	/* Keyed hash (SipHash-2-4, as the session tables use): an outsider
	 * cannot pick session ids that share a set. The whole 64 bits are the
	 * slot's tag; two live sessions of one set sharing it is a 2^-64
	 * event, and would only share a bucket. (An HMAC here cost about as
	 * many instructions as the rest of a cached embed-token request.) */
	uint64_t tag = tsso_siphash(rl->salt, key, key_len);
	struct tsso_embed_rate_slot *set, *b = NULL, *lru;
	long wait = 0;

	set = &rl->slots[(size_t)(tag % RATE_SETS) * TSSO_EMBED_RATE_WAYS];
	pthread_mutex_lock(&rl->mu);
	lru = &set[0];
	for (size_t i = 0; i < TSSO_EMBED_RATE_WAYS; i++) {
		if (set[i].used && set[i].tag == tag) {
			b = &set[i];
			break;
		}
		if (!set[i].used || (lru->used && set[i].last < lru->last))
			lru = &set[i];
	}
	if (b == NULL) {
		b = lru;
		b->tag = tag;
		b->used = true;
		b->tokens = rl->burst;
		b->last = now;
	}
	refill(rl, b, now);
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
	} else {
		/* Seconds until one whole request is available again, rounded up. */
		double need = (1.0 - b->tokens) * 60.0 / rl->per_min;

		wait = (long)need + 1;
	}
	pthread_mutex_unlock(&rl->mu);
	return wait;
}
