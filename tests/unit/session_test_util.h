/* Helpers shared by the session store unit tests (cookie, memory, redis,
 * redis over TLS, reload): a session record, a login, a lookup's verdict.
 * Header-only, included once per test executable. */
#ifndef TSSO_SESSION_TEST_UTIL_H
#define TSSO_SESSION_TEST_UTIL_H

#include <stdlib.h>

#include "tsso/err.h"
#include "tsso/session.h"

/* A new session of tenant for sub (sid may be NULL), with an ID token when
 * id_token is not NULL. */
static inline struct tsso_session *sess_mk(const char *tenant, const char *sub, const char *sid,
                                           const char *id_token)
{
	struct tsso_session *s = tsso_session_new();

	assert_non_null(s);
	assert_int_equal(tsso_session_set(&s->tenant, tenant), 0);
	assert_int_equal(tsso_session_set(&s->iss, "https://idp.example/"), 0);
	assert_int_equal(tsso_session_set(&s->sub, sub), 0);
	if (sid != NULL)
		assert_int_equal(tsso_session_set(&s->sid, sid), 0);
	if (id_token != NULL)
		assert_int_equal(tsso_session_set(&s->id_token, id_token), 0);
	return s;
}

/* Store s (taken and freed) and return the new cookie value. */
static inline char *sess_login(struct tsso_store *st, struct tsso_session *s)
{
	struct tsso_err err = {0};
	char *cookie = NULL;

	assert_int_equal(tsso_store_session_create(st, s, &cookie, &err), 0);
	tsso_session_free(s);
	return cookie;
}

/* "ok" when cookie opens a live session of tenant, else the refusal's
 * reason code (valid until the next call). */
static inline const char *sess_get_reason(struct tsso_store *st, const char *tenant,
                                          const char *cookie)
{
	static struct tsso_err err;
	struct tsso_session *s = NULL;
	char *fresh = NULL;

	tsso_err_clear(&err);
	if (tsso_store_session_get(st, tenant, cookie, &s, &fresh, &err) == 0) {
		tsso_session_free(s);
		free(fresh);
		return "ok";
	}
	assert_null(s);
	return tsso_err_reason(&err);
}

#endif
