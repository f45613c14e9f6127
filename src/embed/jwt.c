/* Toucan 3.0 "embed with your own key": the signed JWT and its claims. */
#include <stdlib.h>
#include <string.h>

#include "embed_int.h"
#include "tsso/b64.h"
#include "tsso/crypto.h"
#include "tsso/jose.h"
#include "tsso/jsonw.h"

/* Bytes reserved for the claims up front: a token with a few groups and
 * attributes fits without growing the buffer, and the block stays within
 * malloc's per-thread cache (1,032 bytes in glibc). */
#define CLAIMS_TYPICAL 1000

long tsso_embed_ttl(const struct tsso_config *cfg, const struct tsso_tenant_cfg *t)
{
	long ttl = TSSO_EMBED_TTL_DEFAULT;

	if (t != NULL && t->embed.ttl > 0)
		ttl = t->embed.ttl;
	else if (cfg != NULL && cfg->embed.ttl > 0)
		ttl = cfg->embed.ttl;
	/* Short-lived by design: the only revocation Toucan documents is
	 * regenerating the embed client secret, so the cap bounds the damage of a
	 * leaked token. */
	return ttl > TSSO_EMBED_TTL_MAX ? TSSO_EMBED_TTL_MAX : ttl;
}

/* jti: 128 bits from the CSPRNG (RFC 7519 §4.1.7 asks for a negligible
 * collision probability; Toucan uses it against replay). */
static int make_jti(const struct tsso_embed_client *c, char out[48])
{
	unsigned char raw[TSSO_EMBED_JTI_BYTES];

	if (tsso_rand_pool_draw(c->jti, raw, sizeof(raw)) < 0)
		return -1;
	tsso_b64url_encode_to(out, raw, sizeof(raw));
	tsso_wipe(raw, sizeof(raw));
	return 0;
}

/*
 * The claims, serialized once, straight into b: RFC 7519 §4.1 registered
 * claims as Toucan's embed authentication asks, then embed_context. Its
 * length is measured on these very bytes (the ones Toucan receives), so the
 * size check costs no second serialization. -1 with err set.
 */
static int claims_write(const struct tsso_embed_client *c, const struct tsso_identity *id,
                        long long now, long ttl, const char *jti, struct tsso_buf *b,
                        struct tsso_err *err)
{
	const struct tsso_embed_cfg *e = &c->t->embed;
	struct tsso_err werr = {0};
	struct tsso_jsonw w;
	size_t ctx_start, ctx_len;

	tsso_jsonw_init(&w, b);
	tsso_jsonw_obj_begin(&w);
	tsso_jsonw_key(&w, "sub");
	tsso_jsonw_str(&w, TSSO_EMBED_SUBJECT);
	tsso_jsonw_key(&w, "iss");
	tsso_jsonw_str(&w, e->issuer);
	tsso_jsonw_key(&w, "aud");
	tsso_jsonw_str(&w, e->audience);
	tsso_jsonw_key(&w, "iat");
	tsso_jsonw_int(&w, now);
	tsso_jsonw_key(&w, "exp");
	tsso_jsonw_int(&w, now + ttl);
	tsso_jsonw_key(&w, "jti");
	tsso_jsonw_str(&w, jti);
	tsso_jsonw_key(&w, "embed_context");
	ctx_start = b->len;
	if (tsso_identity_embed_context_write(id, e->workspace_id, &w) < 0)
		return tsso_err_set(err, "embed.misconfigured",
		                    "tenant %s: no workspace_id (set embed.workspace_id)",
		                    c->t->id);
	ctx_len = b->len - ctx_start;
	tsso_jsonw_obj_end(&w);
	if (tsso_jsonw_finish(&w, &werr) < 0) {
		/* b's limit is far above Toucan's: reaching it is the same refusal. */
		if (strcmp(werr.reason, "json.too_large") == 0)
			return tsso_err_set(
			    err, "embed.too_large",
			    "the claims exceed %d bytes; Toucan accepts an embed_context under "
			    "%d: map fewer attributes or groups",
			    TSSO_TOKEN_MAX, TSSO_EMBED_CONTEXT_MAX);
		return tsso_err_set(err, "embed.sign_failed", "cannot write the claims (%s)",
		                    werr.reason);
	}
	/* Toucan limits embed_context to about 3.5 KB: refuse here, with a reason
	 * the operator can act on (fewer attributes), rather than mint a token
	 * Toucan rejects. */
	if (ctx_len >= TSSO_EMBED_CONTEXT_MAX)
		return tsso_err_set(
		    err, "embed.too_large",
		    "embed_context is %zu bytes, Toucan accepts under %d: map fewer "
		    "attributes or groups",
		    ctx_len, TSSO_EMBED_CONTEXT_MAX);
	return 0;
}

int tsso_embed_jwt_sign(const struct tsso_embed_client *c, const struct tsso_identity *id,
                        long long now, struct tsso_embed_token *ret, const char **ret_kid,
                        struct tsso_err *err)
{
	const struct tsso_embed_cfg *e = &c->t->embed;
	const struct tsso_signer *signer;
	const char *header = NULL;
	struct tsso_buf claims;
	char *compact = NULL;
	char jti[48];
	long ttl = tsso_embed_ttl(c->cfg, c->t);
	int rc = -1;

	if (id == NULL || id->username == NULL || id->username[0] == '\0')
		return tsso_err_set(err, "embed.no_username", "the identity has no username");
	if (e->issuer == NULL || e->audience == NULL)
		return tsso_err_set(err, "embed.misconfigured",
		                    "tenant %s: embed.issuer and embed.audience are required",
		                    c->t->id);
	signer = tsso_embed_keystore_signer(c->ks, now, &header);
	if (signer == NULL)
		return tsso_err_set(err, "embed.no_signing_key",
		                    "no current signing key (run `toucan-sso keys generate`, then "
		                    "reload)");
	if (make_jti(c, jti) < 0)
		return tsso_err_set(err, "embed.sign_failed", "no randomness for jti");
	/* One allocation that fits a typical token's claims; the limit is our
	 * own token size limit, checked as the bytes are written. */
	tsso_buf_init(&claims, TSSO_TOKEN_MAX);
	if (tsso_buf_reserve(&claims, CLAIMS_TYPICAL) < 0) {
		tsso_err_set(err, "embed.sign_failed", "out of memory");
		goto out;
	}
	if (claims_write(c, id, now, ttl, jti, &claims, err) < 0)
		goto out;
	if (tsso_jws_compact_sign(signer, header, claims.ptr, claims.len, &compact, err) < 0) {
		tsso_err_set(err, "embed.sign_failed", "signing failed (%s)", tsso_err_reason(err));
		goto out;
	}
	memset(ret, 0, sizeof(*ret));
	ret->token = compact;
	compact = NULL;
	ret->issued_at = now;
	ret->expires_at = now + ttl;
	ret->expires_in = ttl;
	memcpy(ret->jti, jti, sizeof(jti));
	if (ret_kid != NULL)
		*ret_kid = tsso_signer_kid(signer);
	rc = 0;
out:
	free(compact);
	tsso_buf_free(&claims);
	return rc;
}
