/* Cookie store: the whole session sealed (AES-256-GCM, AAD "session:<tenant>")
 * in the cookie value. Nothing is kept per session on the server; logout
 * works through a revocation list (in memory, or in Redis when configured). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/session/store_impl.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

/* Room left in a Set-Cookie line for the name and attributes. */
#define COOKIE_ATTR_ROOM 256
#define COOKIE_VALUE_MAX (TSSO_SESSION_COOKIE_MAX - COOKIE_ATTR_ROOM)

static int cookie_aad(const char *tenant, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "session:%s", tenant);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int cookie_seal(struct tsso_store *st, const struct tsso_session *s, char **ret_cookie,
                       struct tsso_err *err)
{
	char aad[TSSO_TENANT_ID_MAX + 16];
	char *json = NULL, *sealed = NULL;
	size_t n = 0;
	int rc = -1;

	if (cookie_aad(s->tenant, aad, sizeof(aad)) < 0)
		return tsso_err_set(err, "session.invalid", "tenant id too long");
	if (tsso_session_to_json(s, &json, &n, err) < 0)
		return -1;
	if (tsso_aead_seal(st->keyring, aad, json, n, &sealed, err) < 0)
		goto out;
	if (strlen(sealed) > COOKIE_VALUE_MAX) {
		/* Chunking over several cookies is deliberately not supported. */
		tsso_err_set(
		    err, "session.too_large",
		    "the sealed session needs %zu bytes, a cookie holds %d; use the memory "
		    "or redis store, or map fewer claims",
		    strlen(sealed), COOKIE_VALUE_MAX);
		free(sealed);
		goto out;
	}
	*ret_cookie = sealed;
	rc = 0;
out:
	tsso_wipe(json, n);
	free(json);
	return rc;
}

static int cookie_put(struct tsso_store *st, const struct tsso_session *s, bool create,
                      char **ret_cookie, struct tsso_err *err)
{
	(void)create;
	return cookie_seal(st, s, ret_cookie, err);
}

static int cookie_get(struct tsso_store *st, const char *tenant, const char *cookie, int64_t now,
                      struct tsso_session **ret_s, char **ret_cookie, struct tsso_err *err)
{
	char aad[TSSO_TENANT_ID_MAX + 16];
	struct tsso_session *s = NULL;
	unsigned char *plain = NULL;
	char *fresh = NULL;
	struct tsso_err e = {0};
	size_t n = 0;
	int r, rc = -1;

	if (cookie_aad(tenant, aad, sizeof(aad)) < 0)
		return tsso_err_set(err, "session.none", "bad tenant");
	if (tsso_aead_open(st->keyring, aad, cookie, &plain, &n, &e) < 0) {
		if (strcmp(tsso_err_reason(&e), "aead.unknown_key") == 0)
			return tsso_err_set(err, "session.unknown_key",
			                    "session sealed with a key no longer in the keyring");
		if (strcmp(tsso_err_reason(&e), "aead.forged") == 0)
			return tsso_err_set(err, "session.forged",
			                    "session cookie failed authentication");
		return tsso_err_set(err, "session.none", "malformed session cookie");
	}
	s = tsso_session_from_json((const char *)plain, n, err);
	if (s == NULL)
		goto out;
	if (strcmp(s->tenant, tenant) != 0 || strlen(s->id) != TSSO_SESSION_ID_LEN) {
		tsso_err_set(err, "session.wrong_tenant", "session of another tenant");
		goto out;
	}
	if (!store_session_alive(st, s, now)) {
		tsso_err_set(err, "session.expired", "session expired");
		goto out;
	}
	r = store_revoked(st, s, now, err);
	if (r != 0) {
		if (r > 0)
			tsso_err_set(err, "session.revoked", "session ended by logout");
		goto out;
	}
	/* Slide the inactivity window: a new cookie, at most once per touch period. */
	if (store_session_touch(st, s, now) && cookie_seal(st, s, &fresh, err) < 0)
		goto out;
	*ret_s = s;
	*ret_cookie = fresh;
	s = NULL;
	rc = 0;
out:
	tsso_session_free(s);
	tsso_wipe(plain, n);
	free(plain);
	return rc;
}

static int cookie_del(struct tsso_store *st, const struct tsso_session *s, struct tsso_err *err)
{
	/* The browser drops the cookie; the list makes a copied one useless. */
	return store_revoke(st, STORE_BY_ID, s->tenant, s->id, store_now(st), err);
}

static int cookie_end_by(struct tsso_store *st, enum store_field f, const char *tenant,
                         const char *value, struct tsso_err *err)
{
	return store_revoke(st, f, tenant, value, store_now(st), err);
}

const struct store_ops store_cookie_ops = {
    .name = "cookie",
    .put = cookie_put,
    .get = cookie_get,
    .del = cookie_del,
    .end_by = cookie_end_by,
};
