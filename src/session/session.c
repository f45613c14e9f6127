/* The session record: lifecycle and its compact, strictly parsed JSON form. */
#include <stdlib.h>
#include <string.h>

#include "src/session/store_impl.h"
#include "tsso/crypto.h"
#include "tsso/json.h"
#include "tsso/jsonflat.h"
#include "tsso/jsonw.h"
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
	free(s->identity_text);
	tsso_wipe(s, sizeof(*s));
	free(s);
}

json_t *tsso_session_identity(struct tsso_session *s)
{
	json_t *j;

	if (s->identity != NULL || s->identity_text == NULL)
		return s->identity;
	j = tsso_json_parse(s->identity_text, s->identity_text_len, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	s->identity = j;
	free(s->identity_text);
	s->identity_text = NULL;
	s->identity_text_len = 0;
	return j;
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

static bool field_too_long(const char *s)
{
	return s != NULL && strnlen(s, TSSO_SESSION_FIELD_MAX + 1) > TSSO_SESSION_FIELD_MAX;
}

/* The record writer: members appended in one pass into a buffer reserved
 * up front at a bound of the record's size (so no growing copy of the
 * tokens is left in freed memory), the same compact JSON jansson wrote,
 * without building a jansson object and dumping it at about 100
 * instructions a byte (docs/performance.md). The bound, not the 64 KiB
 * limit: a 64 KiB block made glibc consolidate its free lists and trim the
 * heap at each seal. Key names are plain ASCII and need no escaping. */
struct rec_writer {
	struct tsso_buf b;
	struct tsso_jsonw j;
};

/* Room a member can take: quotes, colon, comma, and every byte escaped. */
static size_t str_bound(const char *k, const char *v)
{
	size_t n = v != NULL ? strnlen(v, TSSO_SESSION_JSON_MAX + 1) : 0;

	return v == NULL ? 0 : strlen(k) + 6 + 6 * n;
}

static int put_str(struct rec_writer *w, const char *k, const char *v)
{
	if (v == NULL)
		return 0;
	tsso_jsonw_key(&w->j, k);
	tsso_jsonw_str(&w->j, v);
	return w->j.failed == NULL ? 0 : -1;
}

static int put_int(struct rec_writer *w, const char *k, int64_t v)
{
	if (v == 0)
		return 0;
	tsso_jsonw_key(&w->j, k);
	tsso_jsonw_int(&w->j, (long long)v);
	return w->j.failed == NULL ? 0 : -1;
}

/* The identity, already serialized (and checked when it was read back). */
static int put_raw(struct rec_writer *w, const char *k, const char *text, size_t n)
{
	tsso_jsonw_key(&w->j, k);
	tsso_jsonw_raw(&w->j, text, n);
	return w->j.failed == NULL ? 0 : -1;
}

static int end_record(struct rec_writer *w)
{
	tsso_jsonw_obj_end(&w->j);
	return tsso_jsonw_finish(&w->j, NULL);
}

int tsso_session_to_json(const struct tsso_session *s, char **ret_json, size_t *ret_n,
                         struct tsso_err *err)
{
	struct rec_writer w;
	struct tsso_buf idn;
	size_t bound;

	if (s->tenant == NULL || s->iss == NULL || s->sub == NULL)
		return tsso_err_set(err, "session.invalid", "session without tenant, iss or sub");
	if (field_too_long(s->tenant) || field_too_long(s->iss) || field_too_long(s->sub) ||
	    field_too_long(s->sid))
		return tsso_err_set(err, "session.too_large", "iss, sub or sid over %d bytes",
		                    TSSO_SESSION_FIELD_MAX);
	/* The identity first, on its own (not secret): its size joins the bound. */
	tsso_buf_init(&idn, TSSO_SESSION_JSON_MAX);
	if (s->identity != NULL &&
	    (!json_is_object(s->identity) || tsso_jsonw_dump(&idn, s->identity, NULL) < 0)) {
		tsso_buf_free(&idn);
		if (!json_is_object(s->identity))
			return tsso_err_set(err, "session.invalid",
			                    "the identity is not an object");
		/* jansson checked its strings' UTF-8 when they were made. */
		return tsso_err_set(err, "session.too_large", "identity over the limit of %d bytes",
		                    TSSO_SESSION_JSON_MAX);
	}
	/* Read but never used: written back as it was read (and checked). */
	if (s->identity == NULL && s->identity_text != NULL &&
	    tsso_buf_add(&idn, s->identity_text, s->identity_text_len) < 0) {
		tsso_buf_free(&idn);
		return tsso_err_set(err, "session.too_large", "identity over the limit of %d bytes",
		                    TSSO_SESSION_JSON_MAX);
	}
	bound = 16 * 24 + idn.len + 16 + str_bound(K_ID, s->id) + str_bound(K_TENANT, s->tenant) +
	        str_bound(K_ISS, s->iss) + str_bound(K_SUB, s->sub) + str_bound(K_SID, s->sid) +
	        str_bound(K_ID_TOKEN, s->id_token) + str_bound(K_ACCESS, s->access_token) +
	        str_bound(K_REFRESH, s->refresh_token) + str_bound(K_EMBED, s->embed_token);
	tsso_buf_init(&w.b, TSSO_SESSION_JSON_MAX);
	if (tsso_buf_reserve(&w.b, bound < TSSO_SESSION_JSON_MAX ? bound : TSSO_SESSION_JSON_MAX) <
	    0) {
		tsso_buf_free(&idn);
		return tsso_err_set(err, "session.invalid", "cannot serialize the session record");
	}
	tsso_jsonw_init(&w.j, &w.b);
	tsso_jsonw_obj_begin(&w.j);
	if (put_int(&w, K_VERSION, SESSION_FORMAT) < 0 ||
	    (s->id[0] != '\0' && put_str(&w, K_ID, s->id) < 0) ||
	    put_str(&w, K_TENANT, s->tenant) < 0 || put_str(&w, K_ISS, s->iss) < 0 ||
	    put_str(&w, K_SUB, s->sub) < 0 || put_str(&w, K_SID, s->sid) < 0 ||
	    put_int(&w, K_CREATED, s->created_ms) < 0 ||
	    put_int(&w, K_LAST_SEEN, s->last_seen_ms) < 0 ||
	    put_int(&w, K_EXPIRES, s->expires_ms) < 0 || put_str(&w, K_ID_TOKEN, s->id_token) < 0 ||
	    put_str(&w, K_ACCESS, s->access_token) < 0 ||
	    put_int(&w, K_ACCESS_X, s->access_exp) < 0 ||
	    put_str(&w, K_REFRESH, s->refresh_token) < 0 ||
	    put_int(&w, K_REFRESH_X, s->refresh_exp) < 0 ||
	    (idn.len > 0 && put_raw(&w, K_IDENTITY, idn.ptr, idn.len) < 0) ||
	    put_str(&w, K_EMBED, s->embed_token) < 0 || put_int(&w, K_EMBED_X, s->embed_exp) < 0 ||
	    put_int(&w, K_EMBED_I, s->embed_iat) < 0 || end_record(&w) < 0) {
		if (w.j.failed != NULL && strcmp(w.j.failed, "json.too_large") != 0)
			tsso_err_set(err, "session.invalid", "cannot build the session record");
		else
			tsso_err_set(err, "session.too_large",
			             "session record over the limit of %d bytes",
			             TSSO_SESSION_JSON_MAX);
		tsso_buf_free(&idn);
		tsso_buf_free_secure(&w.b);
		return -1;
	}
	tsso_buf_free(&idn);
	*ret_n = w.b.len;
	*ret_json = tsso_buf_take(&w.b);
	return 0;
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
static int take_str(struct tsso_jflat_value *v, char **dst, size_t limit)
{
	if (v->type != TSSO_JFLAT_STRING || (limit > 0 && v->len > limit))
		return -1;
	*dst = v->str;
	v->str = NULL;
	return 0;
}

static int take_int(const struct tsso_jflat_value *v, int64_t *dst)
{
	if (v->type != TSSO_JFLAT_INTEGER || v->num < 0)
		return -1;
	*dst = v->num;
	return 0;
}

static int session_member(void *arg, const char *k, struct tsso_jflat_value *v)
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
		return v->type == TSSO_JFLAT_INTEGER && v->num == SESSION_FORMAT ? 0 : -1;
	if (strcmp(k, K_ID) == 0) {
		if (v->type != TSSO_JFLAT_STRING || v->len != TSSO_SESSION_ID_LEN)
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
		if (v->type != TSSO_JFLAT_OBJECT)
			return -1;
		if (!v->checked) {
			/* Too many members for the reader's check: the general reader, strictly,
			 * now. */
			s->identity = tsso_json_parse(v->raw, v->raw_len, NULL);
			return json_is_object(s->identity) ? 0 : -1;
		}
		/* Checked: kept as text, built by tsso_session_identity() only
		 * when used (minting), not on every request (docs/performance.md). */
		/* raw is a span of the record, not a C string: no strndup. */
		s->identity_text = malloc(v->raw_len + 1);
		if (s->identity_text == NULL)
			return -1;
		memcpy(s->identity_text, v->raw, v->raw_len);
		s->identity_text[v->raw_len] = '\0';
		s->identity_text_len = v->raw_len;
		return 0;
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
	if (tsso_jflat_parse(json, n, session_member, &ctx) < 0) {
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
