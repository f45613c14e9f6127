/* Provider metadata (OpenID Connect Discovery 1.0): fetch, strict checks, cache with bounded
 * staleness. */
#include <stdlib.h>
#include <string.h>

#include "oidc_int.h"
#include "tsso/limits.h"

/* Algorithms we can verify, so the only ones kept from the advertised list. */
static const char *const known_algs[] = {
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
};

void oidc_meta_unref(struct oidc_meta *m)
{
	if (m == NULL || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	json_decref(m->doc);
	free(m);
}

/* An endpoint member: absent is fine unless required; present must be an
 * https URL (or loopback http in development). */
static int endpoint(struct oidc_meta *m, const char *name, bool required, bool dev,
                    const char **ret, struct tsso_err *err)
{
	json_t *v = json_object_get(m->doc, name);

	if (v == NULL) {
		if (required)
			return tsso_err_set(err, "discovery.malformed", "metadata lacks %s", name);
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v) || !oidc_url_ok(json_string_value(v), dev))
		return tsso_err_set(err, "discovery.malformed", "metadata %s is not an https URL",
		                    name);
	*ret = json_string_value(v);
	return 0;
}

static int boolean(struct oidc_meta *m, const char *name, bool *ret, struct tsso_err *err)
{
	json_t *v = json_object_get(m->doc, name);

	*ret = false;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return tsso_err_set(err, "discovery.malformed", "metadata %s is not a boolean",
		                    name);
	*ret = json_is_true(v);
	return 0;
}

/* An array of strings; *ret_found false when absent. */
static int str_array(struct oidc_meta *m, const char *name, bool *ret_found, struct tsso_err *err)
{
	json_t *v = json_object_get(m->doc, name), *e;
	size_t i;

	*ret_found = v != NULL;
	if (v == NULL)
		return 0;
	if (!json_is_array(v) || json_array_size(v) > TSSO_META_MAX_LIST)
		return tsso_err_set(err, "discovery.malformed", "metadata %s is not a list", name);
	json_array_foreach (v, i, e) {
		if (!json_is_string(e))
			return tsso_err_set(err, "discovery.malformed",
			                    "metadata %s holds a non-string", name);
	}
	return 0;
}

static bool array_has(const json_t *a, const char *s)
{
	size_t i;
	json_t *e;

	json_array_foreach (a, i, e) {
		if (strcmp(json_string_value(e), s) == 0)
			return true;
	}
	return false;
}

struct oidc_meta *oidc_meta_parse(const char *body, size_t len, const char *issuer,
                                  bool development, struct tsso_err *err)
{
	struct oidc_meta *m = NULL;
	const char *iss;
	bool found;
	size_t i;
	json_t *e;

	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		tsso_err_set(err, "oidc.internal", "out of memory");
		return NULL;
	}
	atomic_init(&m->refs, 1);
	m->doc = oidc_json_object(body, len);
	if (m->doc == NULL) {
		tsso_err_set(err, "discovery.malformed",
		             "metadata is not a JSON object (or repeats a member)");
		goto fail;
	}
	/* Discovery §4.3: the issuer must be identical to the one configured,
	 * byte for byte (no trailing-slash or case folding), or an attacker's
	 * metadata could be used for another issuer (mix-up). */
	iss = oidc_json_str(m->doc, "issuer");
	if (iss == NULL) {
		tsso_err_set(err, "discovery.malformed", "metadata lacks issuer");
		goto fail;
	}
	if (strcmp(iss, issuer) != 0) {
		tsso_err_set(err, "discovery.issuer_mismatch",
		             "metadata issuer differs from the configured issuer");
		goto fail;
	}
	m->issuer = iss;
	/* Discovery §3: REQUIRED members for the code flow. */
	if (endpoint(m, "authorization_endpoint", true, development, &m->authorization_endpoint,
	             err) != 0 ||
	    endpoint(m, "token_endpoint", true, development, &m->token_endpoint, err) != 0 ||
	    endpoint(m, "jwks_uri", true, development, &m->jwks_uri, err) != 0 ||
	    endpoint(m, "userinfo_endpoint", false, development, &m->userinfo_endpoint, err) != 0 ||
	    endpoint(m, "end_session_endpoint", false, development, &m->end_session_endpoint,
	             err) != 0 ||
	    endpoint(m, "pushed_authorization_request_endpoint", false, development,
	             &m->par_endpoint, err) != 0)
		goto fail;
	if (boolean(m, "authorization_response_iss_parameter_supported",
	            &m->iss_parameter_supported, err) != 0 ||
	    boolean(m, "require_pushed_authorization_requests", &m->require_par, err) != 0)
		goto fail;
	if (str_array(m, "response_types_supported", &found, err) != 0)
		goto fail;
	if (!found || !array_has(json_object_get(m->doc, "response_types_supported"), "code")) {
		tsso_err_set(err, "discovery.malformed",
		             "the provider does not offer the code flow");
		goto fail;
	}
	if (str_array(m, "id_token_signing_alg_values_supported", &found, err) != 0 ||
	    str_array(m, "scopes_supported", &found, err) != 0 ||
	    str_array(m, "code_challenge_methods_supported", &found, err) != 0 ||
	    str_array(m, "token_endpoint_auth_methods_supported", &found, err) != 0)
		goto fail;
	e = json_object_get(m->doc, "id_token_signing_alg_values_supported");
	m->algs_advertised = e != NULL;
	if (e != NULL) {
		json_t *a;

		json_array_foreach (e, i, a) {
			const char *s = json_string_value(a);

			if (oidc_list_has(known_algs, TSSO_ARRAY_LEN(known_algs), s) &&
			    !oidc_list_has(m->algs, m->n_algs, s) &&
			    m->n_algs < TSSO_ARRAY_LEN(m->algs))
				m->algs[m->n_algs++] = s;
		}
	}
	return m;
fail:
	oidc_meta_unref(m);
	return NULL;
}

static void set_status(struct tsso_idp *idp, const char *reason)
{
	pthread_mutex_lock(&idp->mu);
	idp->tried = true;
	idp->last_reason = reason;
	pthread_mutex_unlock(&idp->mu);
}

int oidc_meta_fetch(struct tsso_idp *idp, long long now, struct tsso_err *err)
{
	struct tsso_buf url;
	const char *hdrs[] = {OIDC_ACCEPT_JSON, NULL};
	struct tsso_fetch_req req = {.method = "GET", .headers = hdrs};
	struct tsso_fetch_resp resp = {0};
	struct tsso_err ferr = {0};
	struct oidc_meta *m = NULL, *old;
	const char *iss = idp->cfg->issuer;
	size_t n = strlen(iss);
	int rc = -1;

	/* Discovery §4: a terminating '/' of the issuer is removed first. */
	if (n > 0 && iss[n - 1] == '/')
		n--;
	tsso_buf_init(&url, TSSO_HTTP_MAX_URL);
	if (tsso_buf_add(&url, iss, n) != 0 || tsso_buf_adds(&url, OIDC_WELL_KNOWN) != 0) {
		tsso_err_set(err, "discovery.malformed", "issuer too long");
		goto out;
	}
	req.url = url.ptr;
	/* Before any bookkeeping: a refusal here is no failure of the IdP. */
	if (tsso_fetch_would_block()) {
		tsso_err_set(err, "fetch.would_block", "no metadata fetch on this thread");
		tsso_buf_free(&url);
		return -1;
	}
	idp->meta_last_attempt = now;
	if (tsso_fetch(idp->fetcher, &req, &resp, &ferr) != 0) {
		tsso_err_set(err, "discovery.unreachable", "metadata fetch failed (%s): %s",
		             tsso_err_reason(&ferr), ferr.msg);
		goto out;
	}
	if (resp.status != 200) {
		tsso_err_set(err, "discovery.unreachable", "metadata fetch answered HTTP %ld",
		             resp.status);
		goto out;
	}
	m = oidc_meta_parse(resp.body, resp.body_len, idp->cfg->issuer, idp->development, err);
	if (m == NULL)
		goto out;
	m->fetched_at = now;
	pthread_mutex_lock(&idp->mu);
	old = idp->meta;
	idp->meta = m;
	pthread_mutex_unlock(&idp->mu);
	oidc_meta_unref(old);
	rc = 0;
out:
	idp->meta_failed = rc != 0;
	set_status(idp, rc == 0 ? NULL : (err != NULL ? err->reason : "discovery.unreachable"));
	tsso_fetch_resp_free(&resp);
	tsso_buf_free(&url);
	return rc;
}

static struct oidc_meta *meta_current(struct tsso_idp *idp)
{
	struct oidc_meta *m;

	pthread_mutex_lock(&idp->mu);
	m = idp->meta;
	if (m != NULL)
		atomic_fetch_add(&m->refs, 1);
	pthread_mutex_unlock(&idp->mu);
	return m;
}

int oidc_meta_get(struct tsso_idp *idp, long long now, struct oidc_meta **ret, struct tsso_err *err)
{
	struct oidc_meta *m = meta_current(idp);
	struct tsso_err ignored = {0};

	if (m != NULL && now - m->fetched_at < TSSO_META_REFRESH_S) {
		*ret = m;
		return 0;
	}
	if (m != NULL && now - m->fetched_at < TSSO_META_MAX_STALE_S) {
		/* Due for refresh: one caller tries (others keep the cached copy and
		 * never wait); a failure is recorded for /readyz and the cached
		 * copy is served until TSSO_META_MAX_STALE_S. */
		if (!tsso_fetch_forbidden() && pthread_mutex_trylock(&idp->fetch_mu) == 0) {
			if (now - idp->meta_last_attempt >= TSSO_JWKS_REFETCH_MIN_S &&
			    oidc_meta_fetch(idp, now, &ignored) == 0) {
				oidc_meta_unref(m);
				m = meta_current(idp);
			}
			pthread_mutex_unlock(&idp->fetch_mu);
		}
		*ret = m;
		return 0;
	}
	/* Nothing usable: fetch now (serialised with other fetches). */
	oidc_meta_unref(m);
	if (tsso_fetch_would_block())
		return tsso_err_set(err, "fetch.would_block", "no metadata fetch on this thread");
	pthread_mutex_lock(&idp->fetch_mu);
	m = meta_current(idp);
	if (m == NULL || now - m->fetched_at >= TSSO_META_MAX_STALE_S) {
		oidc_meta_unref(m);
		m = NULL;
		/* An IdP that just failed is not asked again by every login (each
		 * would wait a timeout, one after the other): fail fast until
		 * TSSO_JWKS_REFETCH_MIN_S has passed or the refresher succeeds. */
		if (idp->meta_failed && now - idp->meta_last_attempt < TSSO_JWKS_REFETCH_MIN_S) {
			/* Report why it failed (issuer mismatch is not an outage). */
			const char *why;

			pthread_mutex_lock(&idp->mu);
			why = idp->last_reason;
			pthread_mutex_unlock(&idp->mu);
			tsso_err_set(err, why != NULL ? why : "discovery.unreachable",
			             "the provider failed moments ago; not retried yet");
		} else if (oidc_meta_fetch(idp, now, err) == 0)
			m = meta_current(idp);
	}
	pthread_mutex_unlock(&idp->fetch_mu);
	if (m == NULL)
		return -1;
	*ret = m;
	return 0;
}
