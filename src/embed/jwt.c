/* Toucan 3.0 "embed with your own key": the signed JWT and its claims. */
#include <stdlib.h>
#include <string.h>

#include "embed_int.h"
#include "tsso/b64.h"
#include "tsso/crypto.h"
#include "tsso/jose.h"

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
static int make_jti(char out[48])
{
	unsigned char raw[16];

	if (tsso_rand_bytes(raw, sizeof(raw)) < 0)
		return -1;
	tsso_b64url_encode_to(out, raw, sizeof(raw));
	tsso_wipe(raw, sizeof(raw));
	return 0;
}

int tsso_embed_jwt_sign(const struct tsso_embed_client *c, const struct tsso_identity *id,
                        long long now, struct tsso_embed_token *ret, const char **ret_kid,
                        struct tsso_err *err)
{
	const struct tsso_embed_cfg *e = &c->t->embed;
	const struct tsso_signer *signer;
	json_t *ctx = NULL, *claims = NULL;
	char *ctx_text = NULL, *compact = NULL;
	char jti[48];
	long ttl = tsso_embed_ttl(c->cfg, c->t);
	size_t ctx_len;
	int rc = -1;

	if (id == NULL || id->username == NULL || id->username[0] == '\0')
		return tsso_err_set(err, "embed.no_username", "the identity has no username");
	if (e->issuer == NULL || e->audience == NULL)
		return tsso_err_set(err, "embed.misconfigured",
		                    "tenant %s: embed.issuer and embed.audience are required",
		                    c->t->id);
	signer = tsso_embed_keystore_signer(c->ks, now);
	if (signer == NULL)
		return tsso_err_set(err, "embed.no_signing_key",
		                    "no current signing key (run `toucan-sso keys generate`, then "
		                    "reload)");
	ctx = tsso_identity_embed_context(id, e->workspace_id);
	if (ctx == NULL) {
		/* The serializer's only refusal besides memory: no workspace. */
		tsso_err_set(err, "embed.misconfigured",
		             "tenant %s: no workspace_id (set embed.workspace_id)", c->t->id);
		goto out;
	}
	/* Toucan limits embed_context to about 3.5 KB: refuse here, with a reason
	 * the operator can act on (fewer attributes), rather than mint a token
	 * Toucan rejects. */
	ctx_text = json_dumps(ctx, JSON_COMPACT);
	ctx_len = ctx_text != NULL ? strlen(ctx_text) : 0;
	if (ctx_text == NULL || ctx_len >= TSSO_EMBED_CONTEXT_MAX) {
		tsso_err_set(err, "embed.too_large",
		             "embed_context is %zu bytes, Toucan accepts under %d: map fewer "
		             "attributes or groups",
		             ctx_len, TSSO_EMBED_CONTEXT_MAX);
		goto out;
	}
	if (make_jti(jti) < 0) {
		tsso_err_set(err, "embed.sign_failed", "no randomness for jti");
		goto out;
	}
	/* RFC 7519 §4.1: registered claims as Toucan's embed authentication asks. */
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:O}", "sub", TSSO_EMBED_SUBJECT, "iss",
	                   e->issuer, "aud", e->audience, "iat", (json_int_t)now, "exp",
	                   (json_int_t)(now + ttl), "jti", jti, "embed_context", ctx);
	if (claims == NULL) {
		tsso_err_set(err, "embed.sign_failed", "cannot build the claims");
		goto out;
	}
	if (tsso_jws_sign(signer, "JWT", NULL, claims, &compact, err) < 0) {
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
	free(ctx_text);
	json_decref(claims);
	json_decref(ctx);
	return rc;
}
