/* The IdP's signing keys: fetched from the discovered jwks_uri only, swapped atomically, refetched
 * on an unknown kid at a bounded rate. */
#include <stdlib.h>
#include <string.h>

#include "oidc_int.h"
#include "tsso/limits.h"

void oidc_keys_unref(struct oidc_keys *k)
{
	if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	tsso_jwks_free(k->jwks);
	free(k->uri);
	free(k);
}

static struct oidc_keys *keys_current(struct tsso_idp *idp)
{
	struct oidc_keys *k;

	pthread_mutex_lock(&idp->mu);
	k = idp->keys;
	if (k != NULL)
		atomic_fetch_add(&k->refs, 1);
	pthread_mutex_unlock(&idp->mu);
	return k;
}

/* Readers hold references to the old set while the new one is parsed and
 * swapped in under the short lock: nobody waits on the network but the
 * thread that fetches. */
int oidc_keys_fetch(struct tsso_idp *idp, const struct oidc_meta *meta, long long now,
                    struct tsso_err *err)
{
	const char *hdrs[] = {"Accept: application/jwk-set+json, application/json", NULL};
	struct tsso_fetch_req req = {.method = "GET",
	                             .url = meta->jwks_uri,
	                             .headers = hdrs,
	                             .max_response = TSSO_OUT_MAX_JWKS};
	struct tsso_fetch_resp resp = {0};
	struct tsso_err ferr = {0};
	struct oidc_keys *k = NULL, *old;
	int rc = -1;

	/* Before any bookkeeping: a refusal here is no failure of the IdP. */
	if (tsso_fetch_would_block())
		return tsso_err_set(err, "fetch.would_block", "no JWKS fetch on this thread");
	idp->jwks_last_attempt = now;
	if (tsso_fetch(idp->fetcher, &req, &resp, &ferr) != 0) {
		tsso_err_set(err, "jwks.unreachable", "JWKS fetch failed (%s): %s",
		             tsso_err_reason(&ferr), ferr.msg);
		goto out;
	}
	if (resp.status != 200) {
		tsso_err_set(err, "jwks.unreachable", "JWKS fetch answered HTTP %ld", resp.status);
		goto out;
	}
	k = calloc(1, sizeof(*k));
	if (k == NULL || (k->uri = strdup(meta->jwks_uri)) == NULL) {
		tsso_err_set(err, "oidc.internal", "out of memory");
		goto out;
	}
	atomic_init(&k->refs, 1);
	k->jwks = tsso_jwks_parse(resp.body, resp.body_len, &ferr);
	if (k->jwks == NULL) {
		tsso_err_set(err, "jwks.malformed", "JWKS refused (%s): %s", tsso_err_reason(&ferr),
		             ferr.msg);
		goto out;
	}
	k->fetched_at = now;
	pthread_mutex_lock(&idp->mu);
	k->gen = ++idp->keys_gen;
	old = idp->keys;
	idp->keys = k;
	idp->tried = true;
	idp->last_reason = NULL;
	pthread_mutex_unlock(&idp->mu);
	k = NULL;
	oidc_keys_unref(old);
	rc = 0;
out:
	idp->jwks_failed = rc != 0;
	if (rc != 0) {
		pthread_mutex_lock(&idp->mu);
		idp->tried = true;
		idp->last_reason = err != NULL ? err->reason : "jwks.unreachable";
		pthread_mutex_unlock(&idp->mu);
	}
	oidc_keys_unref(k);
	tsso_fetch_resp_free(&resp);
	return rc;
}

static bool keys_usable(const struct oidc_keys *k, const struct oidc_meta *meta, long long now)
{
	/* Keys from another jwks_uri than the current metadata names are not the
	 * IdP's keys any more (discovery changed): refetch. */
	return k != NULL && strcmp(k->uri, meta->jwks_uri) == 0 &&
	       now - k->fetched_at < TSSO_META_MAX_STALE_S;
}

int oidc_keys_get(struct tsso_idp *idp, const struct oidc_meta *meta, long long now,
                  struct oidc_keys **ret, struct tsso_err *err)
{
	struct oidc_keys *k = keys_current(idp);
	struct tsso_err ignored = {0};

	if (keys_usable(k, meta, now)) {
		/* Due for a refresh: one caller tries without making others wait. */
		if (now - k->fetched_at >= TSSO_META_REFRESH_S && !tsso_fetch_forbidden() &&
		    pthread_mutex_trylock(&idp->fetch_mu) == 0) {
			if (now - idp->jwks_last_attempt >= TSSO_JWKS_REFETCH_MIN_S &&
			    oidc_keys_fetch(idp, meta, now, &ignored) == 0) {
				oidc_keys_unref(k);
				k = keys_current(idp);
			}
			pthread_mutex_unlock(&idp->fetch_mu);
		}
		*ret = k;
		return 0;
	}
	oidc_keys_unref(k);
	/* The lock may be held by a fetch in progress: not on an event thread. */
	if (tsso_fetch_would_block())
		return tsso_err_set(err, "fetch.would_block", "no JWKS fetch on this thread");
	pthread_mutex_lock(&idp->fetch_mu);
	k = keys_current(idp);
	if (!keys_usable(k, meta, now)) {
		oidc_keys_unref(k);
		k = NULL;
		/* As for discovery: a JWKS that just failed is not refetched by
		 * every login in turn. */
		if (idp->jwks_failed && now - idp->jwks_last_attempt < TSSO_JWKS_REFETCH_MIN_S) {
			/* Report why it failed (a malformed set is not an outage). */
			const char *why;

			pthread_mutex_lock(&idp->mu);
			why = idp->last_reason;
			pthread_mutex_unlock(&idp->mu);
			tsso_err_set(
			    err,
			    why != NULL && strncmp(why, "jwks.", 5) == 0 ? why : "jwks.unreachable",
			    "the JWKS failed moments ago; not retried yet");
		} else if (oidc_keys_fetch(idp, meta, now, err) == 0)
			k = keys_current(idp);
	}
	pthread_mutex_unlock(&idp->fetch_mu);
	if (k == NULL)
		return -1;
	*ret = k;
	return 0;
}

int oidc_keys_refetch(struct tsso_idp *idp, const struct oidc_meta *meta, unsigned long seen,
                      long long now, struct oidc_keys **ret, struct tsso_err *err)
{
	struct oidc_keys *k;
	int rc = -1;

	if (tsso_fetch_would_block())
		return tsso_err_set(err, "fetch.would_block", "no JWKS fetch on this thread");
	pthread_mutex_lock(&idp->fetch_mu);
	k = keys_current(idp);
	if (k != NULL && k->gen != seen && keys_usable(k, meta, now)) {
		/* Someone refreshed while we waited: try those keys first. */
		*ret = k;
		rc = 0;
		goto out;
	}
	oidc_keys_unref(k);
	/* Unknown kids are attacker-controlled: without a rate limit each forged
	 * token would make us hit the IdP (and its rate limits) once. The limit
	 * counts only refetches for unknown kids: a scheduled refresh a moment
	 * before the IdP rotates its key must not block the first login that
	 * carries the new kid. */
	if (now - idp->jwks_last_refetch < TSSO_JWKS_REFETCH_MIN_S) {
		tsso_err_set(err, "jwks.rate_limited", "JWKS refetched too recently");
		goto out;
	}
	idp->jwks_last_refetch = now;
	if (oidc_keys_fetch(idp, meta, now, err) != 0)
		goto out;
	*ret = keys_current(idp);
	rc = *ret != NULL ? 0 : -1;
out:
	pthread_mutex_unlock(&idp->fetch_mu);
	return rc;
}
