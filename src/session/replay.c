/* In-memory markers: single-use keys (login state, logout-token jti), lease
 * locks and revocations for one instance. Bounded: when full, the oldest
 * marker goes first (it is also the closest to expiring). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "src/session/store_impl.h"
#include "tsso/crypto.h"
#include "tsso/session.h"

#define MARKER_TOKEN_MAX 48

struct marker {
	struct marker *next;          /* bucket chain */
	struct marker *older, *newer; /* insertion order, for eviction */
	int64_t expires;
	int64_t num;
	uint64_t hash;
	char token[MARKER_TOKEN_MAX];
	char key[];
};

struct store_markers {
	atomic_int refs; /* shared by the stores of consecutive runtimes (reload) */
	pthread_mutex_t lock;
	uint64_t seed[2];
	struct marker **buckets;
	size_t mask;
	size_t count, max;
	size_t bytes;
	struct marker *oldest, *newest;
};

struct store_markers *store_markers_new(size_t max)
{
	struct store_markers *m = calloc(1, sizeof(*m));
	size_t nb = 64;

	if (m == NULL)
		return NULL;
	while (nb < max / 4)
		nb *= 2;
	m->buckets = calloc(nb, sizeof(*m->buckets));
	if (m->buckets == NULL || tsso_rand_bytes(m->seed, sizeof(m->seed)) < 0) {
		free(m->buckets);
		free(m);
		return NULL;
	}
	m->mask = nb - 1;
	m->max = max;
	atomic_init(&m->refs, 1);
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

struct store_markers *store_markers_share(struct store_markers *m)
{
	if (m != NULL)
		atomic_fetch_add(&m->refs, 1);
	return m;
}

void store_markers_free(struct store_markers *m)
{
	struct marker *e, *next;

	if (m == NULL || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	for (e = m->oldest; e != NULL; e = next) {
		next = e->newer;
		tsso_wipe(e->token, sizeof(e->token));
		free(e);
	}
	free(m->buckets);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

size_t store_markers_bytes(const struct store_markers *m)
{
	if (m == NULL)
		return 0;
	return sizeof(*m) + (m->mask + 1) * sizeof(*m->buckets) + m->bytes;
}

static void marker_unlink(struct store_markers *m, struct marker *e)
{
	struct marker **pp = &m->buckets[e->hash & m->mask];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		m->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		m->newest = e->older;
	m->count--;
	m->bytes -= sizeof(*e) + strlen(e->key) + 1;
	tsso_wipe(e->token, sizeof(e->token));
	free(e);
}

/* The live marker for key, dropping expired ones met on the way. */
static struct marker *marker_find(struct store_markers *m, const char *key, uint64_t h, int64_t now)
{
	struct marker *e = m->buckets[h & m->mask], *next;

	for (; e != NULL; e = next) {
		next = e->next;
		if (e->expires <= now) {
			marker_unlink(m, e);
			continue;
		}
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

static int marker_insert(struct store_markers *m, const char *key, uint64_t h, int64_t expires,
                         int64_t num, const char *token)
{
	size_t klen = strlen(key);
	struct marker *e;

	if (token != NULL && strlen(token) >= MARKER_TOKEN_MAX)
		return -1;
	while (m->count >= m->max && m->oldest != NULL)
		marker_unlink(m, m->oldest);
	e = calloc(1, sizeof(*e) + klen + 1);
	if (e == NULL)
		return -1;
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	e->expires = expires;
	e->num = num;
	if (token != NULL)
		memcpy(e->token, token, strlen(token) + 1);
	e->next = m->buckets[h & m->mask];
	m->buckets[h & m->mask] = e;
	e->older = m->newest;
	if (m->newest != NULL)
		m->newest->newer = e;
	else
		m->oldest = e;
	m->newest = e;
	m->count++;
	m->bytes += sizeof(*e) + klen + 1;
	return 0;
}

int store_markers_add(struct store_markers *m, const char *key, int64_t expires, int64_t num,
                      const char *token, int64_t now)
{
	uint64_t h = tsso_siphash(m->seed, key, strlen(key));
	int rc;

	pthread_mutex_lock(&m->lock);
	if (marker_find(m, key, h, now) != NULL)
		rc = 1;
	else
		rc = marker_insert(m, key, h, expires, num, token);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int store_markers_raise(struct store_markers *m, const char *key, int64_t expires, int64_t num,
                        int64_t now)
{
	uint64_t h = tsso_siphash(m->seed, key, strlen(key));
	struct marker *e;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	e = marker_find(m, key, h, now);
	if (e == NULL) {
		rc = marker_insert(m, key, h, expires, num, NULL);
	} else {
		if (num > e->num)
			e->num = num;
		if (expires > e->expires)
			e->expires = expires;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int store_markers_get(struct store_markers *m, const char *key, int64_t now, int64_t *ret_num)
{
	uint64_t h = tsso_siphash(m->seed, key, strlen(key));
	struct marker *e;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	e = marker_find(m, key, h, now);
	if (e != NULL) {
		*ret_num = e->num;
		rc = 1;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int store_markers_del_if(struct store_markers *m, const char *key, const char *token)
{
	uint64_t h = tsso_siphash(m->seed, key, strlen(key));
	struct marker *e;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	for (e = m->buckets[h & m->mask]; e != NULL; e = e->next) {
		if (e->hash == h && strcmp(e->key, key) == 0) {
			if (tsso_ct_streq(e->token, token)) {
				marker_unlink(m, e);
				rc = 1;
			}
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}
