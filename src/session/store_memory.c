/* Memory store: sessions of one instance in striped hash tables (O(1) get,
 * put, delete), bounded with least-recently-used eviction, plus indexes
 * (tenant, sid) and (tenant, sub) -> sessions for back-channel logout. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/session/store_impl.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

#define MEM_STRIPES        16
#define MEM_BUCKETS_MAX    (1u << 18) /* per stripe; chains grow beyond */
#define MEM_INDEX_BKTS_MAX (1u << 20)

struct mem_group;

struct mem_entry {
	struct mem_entry *next;                /* bucket chain */
	struct mem_entry *lru_prev, *lru_next; /* prev: more recently used */
	struct mem_entry *idx_prev[2], *idx_next[2];
	struct mem_group *group[2]; /* STORE_BY_SID, STORE_BY_SUB; NULL when none */
	int64_t expires_ms;
	int64_t last_seen_ms;
	uint64_t hash;
	size_t json_len;
	char id[TSSO_SESSION_ID_LEN + 1];
	char json[]; /* the serialized record, wiped on free */
};

/* All sessions sharing one (tenant, sid) or (tenant, sub). */
struct mem_group {
	struct mem_group *next;
	struct mem_entry *head;
	uint64_t hash;
	char key[]; /* "<tenant>:<value>"; tenant ids have no ':' */
};

struct mem_index {
	struct mem_group **buckets;
	size_t mask;
	size_t bytes;
};

struct mem_stripe {
	pthread_mutex_t lock;
	struct mem_entry **buckets;
	size_t mask;
	struct mem_entry *lru_head, *lru_tail;
	size_t count;
	size_t bytes;
};

struct mem_store {
	struct mem_stripe stripes[MEM_STRIPES];
	size_t stripe_max;
	uint64_t seed[2];
	/* Lock order: a stripe, then the index lock. */
	pthread_mutex_t index_lock;
	struct mem_index index[2];
};

static size_t pow2_at_least(size_t n, size_t cap)
{
	size_t p = 16;

	while (p < n && p < cap)
		p *= 2;
	return p;
}

void *store_memory_new(size_t max_sessions, struct tsso_err *err)
{
	struct mem_store *m = calloc(1, sizeof(*m));
	size_t per;

	if (m == NULL || tsso_rand_bytes(m->seed, sizeof(m->seed)) < 0)
		goto fail;
	per = (max_sessions + MEM_STRIPES - 1) / MEM_STRIPES;
	m->stripe_max = per;
	pthread_mutex_init(&m->index_lock, NULL);
	for (size_t i = 0; i < MEM_STRIPES; i++) {
		struct mem_stripe *sp = &m->stripes[i];
		/* Up to four entries per bucket when full: still O(1), a quarter of
		 * the fixed memory. */
		size_t nb = pow2_at_least(per / 4, MEM_BUCKETS_MAX);

		pthread_mutex_init(&sp->lock, NULL);
		sp->buckets = calloc(nb, sizeof(*sp->buckets));
		if (sp->buckets == NULL)
			goto fail;
		sp->mask = nb - 1;
	}
	for (size_t i = 0; i < 2; i++) {
		size_t nb = pow2_at_least(max_sessions / 4, MEM_INDEX_BKTS_MAX);

		m->index[i].buckets = calloc(nb, sizeof(*m->index[i].buckets));
		if (m->index[i].buckets == NULL)
			goto fail;
		m->index[i].mask = nb - 1;
	}
	return m;
fail:
	store_memory_free(m);
	tsso_err_set(err, "store.config", "out of memory for the memory store");
	return NULL;
}

static void entry_free(struct mem_entry *e)
{
	tsso_wipe(e->json, e->json_len);
	free(e);
}

void store_memory_free(void *mem)
{
	struct mem_store *m = mem;

	if (m == NULL)
		return;
	for (size_t i = 0; i < MEM_STRIPES; i++) {
		struct mem_entry *e, *next;

		for (e = m->stripes[i].lru_head; e != NULL; e = next) {
			next = e->lru_next;
			entry_free(e);
		}
		free(m->stripes[i].buckets);
		if (m->stripes[i].buckets != NULL)
			pthread_mutex_destroy(&m->stripes[i].lock);
	}
	for (size_t i = 0; i < 2; i++) {
		for (size_t b = 0; m->index[i].buckets != NULL && b <= m->index[i].mask; b++) {
			struct mem_group *g, *next;

			for (g = m->index[i].buckets[b]; g != NULL; g = next) {
				next = g->next;
				free(g);
			}
		}
		free(m->index[i].buckets);
	}
	free(m);
}

size_t store_memory_bytes(const void *mem)
{
	const struct mem_store *m = mem;
	size_t n = sizeof(*m);

	for (size_t i = 0; i < MEM_STRIPES; i++)
		n += (m->stripes[i].mask + 1) * sizeof(struct mem_entry *) + m->stripes[i].bytes;
	for (size_t i = 0; i < 2; i++)
		n += (m->index[i].mask + 1) * sizeof(struct mem_group *) + m->index[i].bytes;
	return n;
}

/* --- indexes (index_lock held) --- */

static int group_key(const char *tenant, const char *value, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s:%s", tenant, value);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static struct mem_group *group_find(struct mem_store *m, int f, const char *key, uint64_t h)
{
	struct mem_group *g = m->index[f].buckets[h & m->index[f].mask];

	while (g != NULL && (g->hash != h || strcmp(g->key, key) != 0))
		g = g->next;
	return g;
}

static int index_link(struct mem_store *m, int f, struct mem_entry *e, const char *tenant,
                      const char *value)
{
	char key[TSSO_TENANT_ID_MAX + TSSO_SESSION_FIELD_MAX + 2];
	struct mem_group *g;
	uint64_t h;

	if (value == NULL)
		return 0;
	if (group_key(tenant, value, key, sizeof(key)) < 0)
		return -1;
	h = tsso_siphash(m->seed, key, strlen(key));
	g = group_find(m, f, key, h);
	if (g == NULL) {
		size_t klen = strlen(key);

		g = calloc(1, sizeof(*g) + klen + 1);
		if (g == NULL)
			return -1;
		memcpy(g->key, key, klen + 1);
		g->hash = h;
		g->next = m->index[f].buckets[h & m->index[f].mask];
		m->index[f].buckets[h & m->index[f].mask] = g;
		m->index[f].bytes += sizeof(*g) + klen + 1;
	}
	e->group[f] = g;
	e->idx_prev[f] = NULL;
	e->idx_next[f] = g->head;
	if (g->head != NULL)
		g->head->idx_prev[f] = e;
	g->head = e;
	return 0;
}

static void index_unlink(struct mem_store *m, int f, struct mem_entry *e)
{
	struct mem_group *g = e->group[f], **pp;

	if (g == NULL)
		return;
	if (e->idx_prev[f] != NULL)
		e->idx_prev[f]->idx_next[f] = e->idx_next[f];
	else
		g->head = e->idx_next[f];
	if (e->idx_next[f] != NULL)
		e->idx_next[f]->idx_prev[f] = e->idx_prev[f];
	e->group[f] = NULL;
	if (g->head != NULL)
		return;
	for (pp = &m->index[f].buckets[g->hash & m->index[f].mask]; *pp != g; pp = &(*pp)->next)
		;
	*pp = g->next;
	m->index[f].bytes -= sizeof(*g) + strlen(g->key) + 1;
	free(g);
}

/* --- stripes (stripe lock held) --- */

static struct mem_stripe *stripe_of(struct mem_store *m, uint64_t h)
{
	/* The low bits pick the bucket; the top bits pick the stripe. */
	return &m->stripes[h >> 60 & (MEM_STRIPES - 1)];
}

static struct mem_entry *stripe_find(struct mem_stripe *sp, const char *id, uint64_t h)
{
	struct mem_entry *e = sp->buckets[h & sp->mask];

	while (e != NULL && (e->hash != h || memcmp(e->id, id, TSSO_SESSION_ID_LEN) != 0))
		e = e->next;
	return e;
}

static void lru_unlink(struct mem_stripe *sp, struct mem_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		sp->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		sp->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct mem_stripe *sp, struct mem_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = sp->lru_head;
	if (sp->lru_head != NULL)
		sp->lru_head->lru_prev = e;
	else
		sp->lru_tail = e;
	sp->lru_head = e;
}

/* Take e out of its stripe and the indexes; the caller frees it. */
static void stripe_remove(struct mem_store *m, struct mem_stripe *sp, struct mem_entry *e)
{
	struct mem_entry **pp = &sp->buckets[e->hash & sp->mask];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	lru_unlink(sp, e);
	sp->count--;
	sp->bytes -= sizeof(*e) + e->json_len + 1;
	pthread_mutex_lock(&m->index_lock);
	index_unlink(m, STORE_BY_SID, e);
	index_unlink(m, STORE_BY_SUB, e);
	pthread_mutex_unlock(&m->index_lock);
}

static void stripe_insert(struct mem_stripe *sp, struct mem_entry *e)
{
	e->next = sp->buckets[e->hash & sp->mask];
	sp->buckets[e->hash & sp->mask] = e;
	lru_push(sp, e);
	sp->count++;
	sp->bytes += sizeof(*e) + e->json_len + 1;
}

static uint64_t id_hash(struct mem_store *m, const char *id)
{
	return tsso_siphash(m->seed, id, TSSO_SESSION_ID_LEN);
}

static int mem_put(struct tsso_store *st, const struct tsso_session *s, bool create,
                   char **ret_cookie, struct tsso_err *err)
{
	struct mem_store *m = st->memory;
	struct mem_entry *e = NULL, *old = NULL;
	struct mem_stripe *sp;
	char *json = NULL, *cookie = NULL;
	size_t n = 0;
	int64_t now = store_now(st);
	int rc = -1;

	if (tsso_session_to_json(s, &json, &n, err) < 0)
		return -1;
	e = calloc(1, sizeof(*e) + n + 1);
	cookie = strdup(s->id);
	if (e == NULL || cookie == NULL) {
		tsso_err_set(err, "store.full", "out of memory");
		goto out;
	}
	memcpy(e->json, json, n + 1);
	e->json_len = n;
	memcpy(e->id, s->id, sizeof(e->id));
	e->hash = id_hash(m, s->id);
	e->expires_ms = s->expires_ms;
	e->last_seen_ms = s->last_seen_ms;
	sp = stripe_of(m, e->hash);

	pthread_mutex_lock(&sp->lock);
	old = stripe_find(sp, s->id, e->hash);
	if (!create && old == NULL) {
		/* Ended (logout, eviction) meanwhile: do not bring it back. */
		pthread_mutex_unlock(&sp->lock);
		tsso_err_set(err, "session.not_found", "session ended");
		goto out;
	}
	if (old != NULL) {
		stripe_remove(m, sp, old);
	} else {
		/* Make room: expired sessions first, then the least recently used. */
		while (sp->lru_tail != NULL &&
		       (sp->count >= m->stripe_max || sp->lru_tail->expires_ms <= now)) {
			struct mem_entry *victim = sp->lru_tail;

			stripe_remove(m, sp, victim);
			entry_free(victim);
		}
	}
	pthread_mutex_lock(&m->index_lock);
	if (index_link(m, STORE_BY_SID, e, s->tenant, s->sid) < 0 ||
	    index_link(m, STORE_BY_SUB, e, s->tenant, s->sub) < 0) {
		index_unlink(m, STORE_BY_SID, e);
		index_unlink(m, STORE_BY_SUB, e);
		pthread_mutex_unlock(&m->index_lock);
		pthread_mutex_unlock(&sp->lock);
		tsso_err_set(err, "store.full", "out of memory");
		goto out;
	}
	pthread_mutex_unlock(&m->index_lock);
	stripe_insert(sp, e);
	pthread_mutex_unlock(&sp->lock);
	e = NULL;
	*ret_cookie = cookie;
	cookie = NULL;
	rc = 0;
out:
	if (old != NULL)
		entry_free(old);
	if (e != NULL)
		entry_free(e);
	free(cookie);
	tsso_wipe(json, n);
	free(json);
	return rc;
}

static bool id_valid(const char *id)
{
	if (strlen(id) != TSSO_SESSION_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

static int mem_get(struct tsso_store *st, const char *tenant, const char *cookie, int64_t now,
                   struct tsso_session **ret_s, char **ret_cookie, struct tsso_err *err)
{
	struct mem_store *m = st->memory;
	struct tsso_session *s = NULL;
	struct mem_entry *e;
	struct mem_stripe *sp;
	char *json = NULL;
	size_t n = 0;
	int64_t last_seen, expires;
	uint64_t h;

	if (!id_valid(cookie))
		return tsso_err_set(err, "session.none", "malformed session cookie");
	h = id_hash(m, cookie);
	sp = stripe_of(m, h);
	pthread_mutex_lock(&sp->lock);
	e = stripe_find(sp, cookie, h);
	if (e == NULL) {
		pthread_mutex_unlock(&sp->lock);
		return tsso_err_set(err, "session.not_found", "no such session");
	}
	if (e->expires_ms <= now) {
		stripe_remove(m, sp, e);
		pthread_mutex_unlock(&sp->lock);
		entry_free(e);
		return tsso_err_set(err, "session.expired", "session expired");
	}
	lru_unlink(sp, e);
	lru_push(sp, e);
	last_seen = e->last_seen_ms;
	expires = e->expires_ms;
	json = malloc(e->json_len + 1);
	if (json != NULL) {
		n = e->json_len;
		memcpy(json, e->json, n + 1);
	}
	pthread_mutex_unlock(&sp->lock);
	if (json == NULL)
		return tsso_err_set(err, "store.full", "out of memory");
	s = tsso_session_from_json(json, n, err);
	tsso_wipe(json, n);
	free(json);
	if (s == NULL)
		return -1;
	if (strcmp(s->tenant, tenant) != 0) {
		tsso_session_free(s);
		return tsso_err_set(err, "session.wrong_tenant", "session of another tenant");
	}
	s->last_seen_ms = last_seen;
	s->expires_ms = expires;
	if (!store_session_alive(st, s, now)) {
		tsso_session_free(s);
		return tsso_err_set(err, "session.expired", "session expired");
	}
	/* Slide the inactivity window on the entry itself (no re-serialization),
	 * at most once per touch period. */
	if (store_session_touch(st, s, now)) {
		pthread_mutex_lock(&sp->lock);
		e = stripe_find(sp, cookie, h);
		if (e != NULL) {
			e->last_seen_ms = s->last_seen_ms;
			e->expires_ms = s->expires_ms;
		}
		pthread_mutex_unlock(&sp->lock);
	}
	*ret_s = s;
	*ret_cookie = NULL;
	return 0;
}

static int mem_del_id(struct mem_store *m, const char *id)
{
	uint64_t h = id_hash(m, id);
	struct mem_stripe *sp = stripe_of(m, h);
	struct mem_entry *e;

	pthread_mutex_lock(&sp->lock);
	e = stripe_find(sp, id, h);
	if (e != NULL)
		stripe_remove(m, sp, e);
	pthread_mutex_unlock(&sp->lock);
	if (e == NULL)
		return 0;
	entry_free(e);
	return 1;
}

static int mem_del(struct tsso_store *st, const struct tsso_session *s, struct tsso_err *err)
{
	(void)err;
	(void)mem_del_id(st->memory, s->id);
	return 0;
}

static int mem_end_by(struct tsso_store *st, enum store_field f, const char *tenant,
                      const char *value, struct tsso_err *err)
{
	char key[TSSO_TENANT_ID_MAX + TSSO_SESSION_FIELD_MAX + 2];
	struct mem_store *m = st->memory;
	struct mem_group *g;
	struct mem_entry *e;
	char(*ids)[TSSO_SESSION_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	uint64_t h;
	int rc = 0;

	if (group_key(tenant, value, key, sizeof(key)) < 0)
		return tsso_err_set(err, "store.bad_key", "key too long");
	h = tsso_siphash(m->seed, key, strlen(key));
	/* Collect the ids under the index lock, delete under the stripe locks
	 * (the lock order is stripe, then index). */
	pthread_mutex_lock(&m->index_lock);
	g = group_find(m, (int)f, key, h);
	for (e = g != NULL ? g->head : NULL; e != NULL; e = e->idx_next[f])
		cap++;
	if (cap > 0 && (ids = calloc(cap, sizeof(*ids))) == NULL)
		rc = tsso_err_set(err, "store.full", "out of memory");
	for (e = g != NULL && ids != NULL ? g->head : NULL; e != NULL; e = e->idx_next[f])
		memcpy(ids[n++], e->id, sizeof(ids[0]));
	pthread_mutex_unlock(&m->index_lock);
	for (size_t i = 0; i < n; i++)
		(void)mem_del_id(m, ids[i]);
	free(ids);
	return rc;
}

const struct store_ops store_memory_ops = {
    .name = "memory",
    .put = mem_put,
    .get = mem_get,
    .del = mem_del,
    .end_by = mem_end_by,
};
