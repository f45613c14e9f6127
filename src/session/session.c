/* The session record: lifecycle and its compact, strictly parsed JSON form. */
#include <stdlib.h>
#include <string.h>

#include "src/session/store_impl.h"
#include "tsso/crypto.h"
#include "tsso/json.h"
#include "tsso/limits.h"
#include "tsso/session.h"

/* Short member names: the record travels in a cookie for the cookie store. */
#define K_VERSION   "v"
#define K_ID        "id"
#define K_TENANT    "t"
#define K_ISS       "iss"
#define K_SUB       "sub"
#define K_SID       "sid"
#define K_CREATED   "c"
#define K_LAST_SEEN "l"
#define K_EXPIRES   "x"
#define K_ID_TOKEN  "it"
#define K_ACCESS    "at"
#define K_ACCESS_X  "atx"
#define K_REFRESH   "rt"
#define K_REFRESH_X "rtx"
#define K_IDENTITY  "idn"
#define K_EMBED     "et"
#define K_EMBED_X   "etx"
#define K_EMBED_I   "eti"

#define SESSION_FORMAT 1

struct tsso_session *tsso_session_new(void)
{
	return calloc(1, sizeof(struct tsso_session));
}

void tsso_session_free(struct tsso_session *s)
{
	if (s == NULL)
		return;
	free(s->tenant);
	free(s->iss);
	free(s->sub);
	free(s->sid);
	tsso_free_secret(s->id_token);
	tsso_free_secret(s->access_token);
	tsso_free_secret(s->refresh_token);
	tsso_free_secret(s->embed_token);
	json_decref(s->identity);
	tsso_wipe(s, sizeof(*s));
	free(s);
}

int tsso_session_set(char **field, const char *value)
{
	char *copy = NULL;

	if (value != NULL && (copy = strdup(value)) == NULL)
		return -1;
	tsso_free_secret(*field);
	*field = copy;
	return 0;
}

static int json_set_str(json_t *o, const char *k, const char *v)
{
	return v == NULL ? 0 : json_object_set_new_nocheck(o, k, json_string(v));
}

static int json_set_int(json_t *o, const char *k, int64_t v)
{
	return v == 0 ? 0 : json_object_set_new_nocheck(o, k, json_integer((json_int_t)v));
}

/* jansson frees without wiping: clear the token strings an object holds
 * before dropping it (the members that carry credentials). */
static void json_wipe_tokens(json_t *o)
{
	static const char *const secrets[] = {K_ID, K_ID_TOKEN, K_ACCESS, K_REFRESH, K_EMBED};

	for (size_t i = 0; i < TSSO_ARRAY_LEN(secrets); i++) {
		json_t *v = json_object_get(o, secrets[i]);

		if (json_is_string(v))
			tsso_wipe((char *)json_string_value(v), json_string_length(v));
	}
}

static bool field_too_long(const char *s)
{
	return s != NULL && strnlen(s, TSSO_SESSION_FIELD_MAX + 1) > TSSO_SESSION_FIELD_MAX;
}

int tsso_session_to_json(const struct tsso_session *s, char **ret_json, size_t *ret_n,
                         struct tsso_err *err)
{
	json_t *o = NULL;
	char *out = NULL;
	size_t n;
	int rc = -1;

	if (s->tenant == NULL || s->iss == NULL || s->sub == NULL)
		return tsso_err_set(err, "session.invalid", "session without tenant, iss or sub");
	if (field_too_long(s->tenant) || field_too_long(s->iss) || field_too_long(s->sub) ||
	    field_too_long(s->sid))
		return tsso_err_set(err, "session.too_large", "iss, sub or sid over %d bytes",
		                    TSSO_SESSION_FIELD_MAX);
	o = json_object();
	if (o == NULL || json_set_int(o, K_VERSION, SESSION_FORMAT) < 0 ||
	    (s->id[0] != '\0' && json_set_str(o, K_ID, s->id) < 0) ||
	    json_set_str(o, K_TENANT, s->tenant) < 0 || json_set_str(o, K_ISS, s->iss) < 0 ||
	    json_set_str(o, K_SUB, s->sub) < 0 || json_set_str(o, K_SID, s->sid) < 0 ||
	    json_set_int(o, K_CREATED, s->created_ms) < 0 ||
	    json_set_int(o, K_LAST_SEEN, s->last_seen_ms) < 0 ||
	    json_set_int(o, K_EXPIRES, s->expires_ms) < 0 ||
	    json_set_str(o, K_ID_TOKEN, s->id_token) < 0 ||
	    json_set_str(o, K_ACCESS, s->access_token) < 0 ||
	    json_set_int(o, K_ACCESS_X, s->access_exp) < 0 ||
	    json_set_str(o, K_REFRESH, s->refresh_token) < 0 ||
	    json_set_int(o, K_REFRESH_X, s->refresh_exp) < 0 ||
	    (s->identity != NULL && json_object_set_nocheck(o, K_IDENTITY, s->identity) < 0) ||
	    json_set_str(o, K_EMBED, s->embed_token) < 0 ||
	    json_set_int(o, K_EMBED_X, s->embed_exp) < 0 ||
	    json_set_int(o, K_EMBED_I, s->embed_iat) < 0) {
		tsso_err_set(err, "session.invalid", "cannot build the session record");
		goto out;
	}
	/* One pass straight into one buffer of the largest allowed size: no
	 * growing copies of the tokens left behind in freed memory, and no
	 * second walk to measure first (jansson's dump costs about 100
	 * instructions a byte; docs/performance.md). */
	out = malloc((size_t)TSSO_SESSION_JSON_MAX + 1);
	if (out == NULL) {
		tsso_err_set(err, "session.invalid", "cannot serialize the session record");
		goto out;
	}
	n = json_dumpb(o, out, (size_t)TSSO_SESSION_JSON_MAX + 1, JSON_COMPACT);
	if (n == 0 || n > TSSO_SESSION_JSON_MAX) {
		tsso_wipe(out, (size_t)TSSO_SESSION_JSON_MAX + 1);
		free(out);
		out = NULL;
		if (n == 0)
			tsso_err_set(err, "session.invalid", "cannot serialize the session record");
		else
			tsso_err_set(err, "session.too_large",
			             "session record of %zu bytes (limit %d)", n,
			             TSSO_SESSION_JSON_MAX);
		goto out;
	}
	out[n] = '\0';
	*ret_json = out;
	*ret_n = n;
	rc = 0;
out:
	json_wipe_tokens(o);
	json_decref(o);
	return rc;
}

/* Members in record order; the index is the bit that catches duplicates. */
static const char *const members[] = {K_VERSION, K_ID,       K_TENANT,    K_ISS,       K_SUB,
                                      K_SID,     K_CREATED,  K_LAST_SEEN, K_EXPIRES,   K_ID_TOKEN,
                                      K_ACCESS,  K_ACCESS_X, K_REFRESH,   K_REFRESH_X, K_IDENTITY,
                                      K_EMBED,   K_EMBED_X,  K_EMBED_I};

struct parse_ctx {
	struct tsso_session *s;
	uint32_t seen;
};

/* Take a string member within the field limit (limit 0: any length within the record). */
static int take_str(struct store_flat_value *v, char **dst, size_t limit)
{
	if (v->type != STORE_FLAT_STRING || (limit > 0 && v->len > limit))
		return -1;
	*dst = v->str;
	v->str = NULL;
	return 0;
}

static int take_int(const struct store_flat_value *v, int64_t *dst)
{
	if (v->type != STORE_FLAT_INTEGER || v->num < 0)
		return -1;
	*dst = v->num;
	return 0;
}

static int session_member(void *arg, const char *k, struct store_flat_value *v)
{
	struct parse_ctx *ctx = arg;
	struct tsso_session *s = ctx->s;
	size_t i;

	for (i = 0; i < TSSO_ARRAY_LEN(members); i++)
		if (strcmp(k, members[i]) == 0)
			break;
	if (i == TSSO_ARRAY_LEN(members) || (ctx->seen & (1u << i)) != 0)
		return -1; /* unknown or repeated member */
	ctx->seen |= 1u << i;
	if (strcmp(k, K_VERSION) == 0)
		return v->type == STORE_FLAT_INTEGER && v->num == SESSION_FORMAT ? 0 : -1;
	if (strcmp(k, K_ID) == 0) {
		if (v->type != STORE_FLAT_STRING || v->len != TSSO_SESSION_ID_LEN)
			return -1;
		memcpy(s->id, v->str, TSSO_SESSION_ID_LEN + 1);
		return 0;
	}
	if (strcmp(k, K_TENANT) == 0)
		return take_str(v, &s->tenant, TSSO_TENANT_ID_MAX);
	if (strcmp(k, K_ISS) == 0)
		return take_str(v, &s->iss, TSSO_SESSION_FIELD_MAX);
	if (strcmp(k, K_SUB) == 0)
		return take_str(v, &s->sub, TSSO_SESSION_FIELD_MAX);
	if (strcmp(k, K_SID) == 0)
		return take_str(v, &s->sid, TSSO_SESSION_FIELD_MAX);
	if (strcmp(k, K_CREATED) == 0)
		return take_int(v, &s->created_ms);
	if (strcmp(k, K_LAST_SEEN) == 0)
		return take_int(v, &s->last_seen_ms);
	if (strcmp(k, K_EXPIRES) == 0)
		return take_int(v, &s->expires_ms);
	if (strcmp(k, K_ID_TOKEN) == 0)
		return take_str(v, &s->id_token, 0);
	if (strcmp(k, K_ACCESS) == 0)
		return take_str(v, &s->access_token, 0);
	if (strcmp(k, K_ACCESS_X) == 0)
		return take_int(v, &s->access_exp);
	if (strcmp(k, K_REFRESH) == 0)
		return take_str(v, &s->refresh_token, 0);
	if (strcmp(k, K_REFRESH_X) == 0)
		return take_int(v, &s->refresh_exp);
	if (strcmp(k, K_IDENTITY) == 0) {
		if (v->type != STORE_FLAT_OBJECT)
			return -1;
		/* Small and not secret: the general reader, strictly. */
		s->identity = tsso_json_parse(v->raw, v->raw_len, NULL);
		return json_is_object(s->identity) ? 0 : -1;
	}
	if (strcmp(k, K_EMBED) == 0)
		return take_str(v, &s->embed_token, 0);
	if (strcmp(k, K_EMBED_X) == 0)
		return take_int(v, &s->embed_exp);
	return take_int(v, &s->embed_iat); /* K_EMBED_I, the last one */
}

struct tsso_session *tsso_session_from_json(const char *json, size_t n, struct tsso_err *err)
{
	struct parse_ctx ctx = {NULL, 0};

	if (n > TSSO_SESSION_JSON_MAX) {
		tsso_err_set(err, "session.malformed", "session record too large");
		return NULL;
	}
	ctx.s = tsso_session_new();
	if (ctx.s == NULL) {
		tsso_err_set(err, "session.malformed", "out of memory");
		return NULL;
	}
	if (store_json_flat_parse(json, n, session_member, &ctx) < 0) {
		tsso_err_set(err, "session.malformed", "bad, repeated or unknown member in record");
		goto fail;
	}
	if (ctx.s->tenant == NULL || ctx.s->iss == NULL || ctx.s->sub == NULL ||
	    ctx.s->created_ms == 0 || ctx.s->expires_ms == 0 || (ctx.seen & 1u) == 0) {
		tsso_err_set(err, "session.malformed", "session record misses a member");
		goto fail;
	}
	return ctx.s;
fail:
	tsso_session_free(ctx.s);
	return NULL;
}
