/* Toucan AI: the server-side token API, POST {toucan_url}/embed/generate-token. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "embed_int.h"
#include "tsso/b64.h"
#include "tsso/buf.h"
#include "tsso/crypto.h"

struct api_ctx {
	struct tsso_embed_client *c;
	const char *body;
	size_t body_len;
	const char *headers[4];
};

static int api_build(void *p, struct tsso_fetch_req *req, struct tsso_err *err)
{
	struct api_ctx *x = p;

	(void)err;
	req->method = "POST";
	req->url = x->c->api_url;
	req->headers = x->headers;
	req->body = x->body;
	req->body_len = x->body_len;
	req->max_response = TSSO_EMBED_MAX_RESPONSE;
	return 0;
}

/* RFC 6750 §2.1 b64token: what a bearer token may contain. It goes into an
 * HTML attribute and a JSON answer, so nothing else is let through. */
bool tsso_embed_token_charset_ok(const char *t)
{
	size_t i = 0;

	for (; t[i]; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || strchr("-._~+/", t[i]) != NULL))
			break;
	while (t[i] == '=')
		i++;
	return i > 0 && t[i] == '\0';
}

long tsso_embed_duration_parse(const char *s)
{
	long long v = 0;
	long mult = 1;
	size_t i = 0, n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > 12)
		return -1;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (s[i] - '0');
	if (i == 0)
		return -1;
	if (i + 1 == n) {
		switch (s[i]) {
		case 's':
			mult = 1;
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		default:
			return -1;
		}
	} else if (i != n) {
		return -1;
	}
	if (v > TSSO_EMBED_API_TTL_MAX * 10LL)
		return -1;
	return (long)(v * mult);
}

void tsso_embed_token_fingerprint(const char *token, char out[48])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	out[0] = '\0';
	if (EVP_Digest(token, strlen(token), md, &len, tsso_sha_md(32), NULL) != 1 || len < 12)
		return;
	memcpy(out, "sha256:", 7);
	tsso_b64url_encode_to(out + 7, md, 12);
}

int tsso_embed_token_fill(struct tsso_embed_token *ret, const char *token, long long now,
                          long long expires_in, const char *jti, struct tsso_err *err)
{
	if (expires_in > TSSO_EMBED_API_TTL_MAX)
		expires_in = TSSO_EMBED_API_TTL_MAX;
	memset(ret, 0, sizeof(*ret));
	ret->token = strdup(token);
	if (ret->token == NULL)
		return tsso_err_set(err, "embed.sign_failed", "out of memory");
	ret->issued_at = now;
	ret->expires_in = (long)expires_in;
	ret->expires_at = now + expires_in;
	if (jti != NULL)
		snprintf(ret->jti, sizeof(ret->jti), "%s", jti);
	else
		tsso_embed_token_fingerprint(token, ret->jti);
	return 0;
}

/*
 * The answer's shape is documented loosely: Toucan's pages show the token
 * and a one-hour expiry, secondary sources `{"token", "expiresIn": "1h"}`.
 * Accepted, in this order: expires_at (Unix seconds), expires_in (seconds),
 * expiresIn (seconds or "1h"-style); none of them means one hour.
 */
int tsso_embed_api_parse(const char *body, size_t len, long long now, struct tsso_embed_token *ret,
                         struct tsso_err *err)
{
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *tok = json_object_get(j, "token"), *ea = json_object_get(j, "expires_at");
	json_t *ei = json_object_get(j, "expires_in"), *eI = json_object_get(j, "expiresIn");
	const char *t = json_string_value(tok);
	long long expires_in = TSSO_EMBED_API_TTL_DEFAULT;
	size_t tlen = t != NULL ? strlen(t) : 0;
	int rc = -1;

	if (!json_is_object(j) || tlen == 0 || tlen > TSSO_TOKEN_MAX ||
	    tlen != json_string_length(tok)) {
		tsso_err_set(err, "embed.toucan_unavailable",
		             "Toucan's token API gave an answer without a usable token");
		goto out;
	}
	if (!tsso_embed_token_charset_ok(t)) {
		tsso_err_set(err, "embed.toucan_unavailable",
		             "Toucan's token API gave a token with odd characters");
		goto out;
	}
	if (ea != NULL) {
		if (!json_is_integer(ea) || json_integer_value(ea) <= now)
			goto bad_expiry;
		expires_in = json_integer_value(ea) - now;
	} else if (ei != NULL) {
		if (!json_is_integer(ei) || json_integer_value(ei) <= 0)
			goto bad_expiry;
		expires_in = json_integer_value(ei);
	} else if (eI != NULL) {
		if (json_is_integer(eI))
			expires_in = json_integer_value(eI);
		else if (json_is_string(eI))
			expires_in = tsso_embed_duration_parse(json_string_value(eI));
		else
			goto bad_expiry;
		if (expires_in <= 0)
			goto bad_expiry;
	}
	if (tsso_embed_token_fill(ret, t, now, expires_in, NULL, err) < 0)
		goto out;
	rc = 0;
	goto out;
bad_expiry:
	tsso_err_set(err, "embed.toucan_unavailable", "Toucan's token API gave a malformed expiry");
out:
	if (t != NULL)
		tsso_wipe((char *)t, tlen); /* jansson's copy of a bearer token */
	json_decref(j);
	return rc;
}

int tsso_embed_api_mint(struct tsso_embed_client *c, const struct tsso_identity *id, long long now,
                        struct tsso_embed_token *ret, struct tsso_err *err)
{
	const struct tsso_secret *key = &c->t->embed.api_key;
	struct api_ctx x;
	struct tsso_buf hdr;
	struct tsso_fetch_resp resp = {0};
	json_t *user = NULL, *body = NULL;
	char *text = NULL;
	int rc = -1;

	tsso_buf_init(&hdr, 8192);
	if (id == NULL || id->username == NULL || id->username[0] == '\0')
		return tsso_err_set(err, "embed.no_username", "the identity has no username");
	if (key->value == NULL)
		return tsso_err_set(err, "embed.misconfigured", "tenant %s has no Toucan API key",
		                    c->t->id);
	/* {"user": {"distinctId", "role", "attributes", "permissions"}} as the
	 * mapping module serializes it for Toucan AI. */
	user = tsso_identity_ai_user(id);
	body = user != NULL ? json_pack("{s:O}", "user", user) : NULL;
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	if (text == NULL || tsso_buf_addf(&hdr, "x-api-key: %s", key->value) < 0) {
		tsso_err_set(err, "embed.sign_failed", "cannot build the token request");
		goto out;
	}
	memset(&x, 0, sizeof(x));
	x.c = c;
	x.body = text;
	x.body_len = strlen(text);
	x.headers[0] = hdr.ptr;
	x.headers[1] = "content-type: application/json";
	x.headers[2] = "accept: application/json";
	x.headers[3] = NULL;
	if (tsso_embed_call(c, api_build, NULL, &x, &resp, err) < 0)
		goto out;
	if (resp.status != 200 && resp.status != 201) {
		/* 4xx: our request or key is wrong; retrying cannot help. The body
		 * is not echoed: it may quote the request. */
		tsso_err_set(err, "embed.toucan_refused",
		             "Toucan's token API refused the request: HTTP %ld", resp.status);
		goto out;
	}
	rc = tsso_embed_api_parse(resp.body, resp.body_len, now, ret, err);
out:
	if (resp.body != NULL)
		tsso_wipe(resp.body, resp.body_len);
	tsso_fetch_resp_free(&resp);
	tsso_buf_free_secure(&hdr);
	free(text);
	json_decref(body);
	json_decref(user);
	return rc;
}
