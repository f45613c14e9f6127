/*
 * Optional Toucan 3.0 step: exchange the signed JWT at Toucan's OAuth token
 * endpoint (RFC 7523 §2.1 JWT-bearer grant) for the opaque token the embed
 * uses. The grant parameters and the client authentication are documented
 * only by secondary sources (see docs/embed.md).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "embed_int.h"
#include "tsso/buf.h"
#include "tsso/crypto.h"

#define GRANT_JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define EXCHANGE_SCOPE   "embed"

struct exchange_ctx {
	struct tsso_embed_client *c;
	const struct tsso_identity *id;
	long long now;
	struct tsso_embed_token jwt; /* the assertion of the current attempt */
	const char *kid;
	struct tsso_buf body;
	char *auth; /* "Authorization: Basic ..." (secret) */
	const char *headers[4];
};

/* application/x-www-form-urlencoded (RFC 6749 §2.3.1 applies it to the
 * client id and secret before HTTP Basic, too). */
static int add_form_encoded(struct tsso_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && r == 0; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			r = tsso_buf_add(b, p, 1);
		} else {
			char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			r = tsso_buf_add(b, enc, 3);
		}
	}
	return r;
}

static char *basic_auth_header(const char *id, const char *secret)
{
	struct tsso_buf plain;
	char *out = NULL;
	unsigned char *enc = NULL;
	size_t enc_len;

	tsso_buf_init(&plain, 4096);
	if (add_form_encoded(&plain, id) < 0 || tsso_buf_adds(&plain, ":") < 0 ||
	    add_form_encoded(&plain, secret) < 0 || plain.ptr == NULL)
		goto out;
	enc_len = 4 * ((plain.len + 2) / 3) + 1;
	enc = malloc(enc_len);
	if (enc == NULL)
		goto out;
	EVP_EncodeBlock(enc, (const unsigned char *)plain.ptr, (int)plain.len);
	{
		struct tsso_buf h;
		tsso_buf_init(&h, enc_len + 64);
		if (tsso_buf_addf(&h, "Authorization: Basic %s", (char *)enc) == 0)
			out = tsso_buf_take(&h);
		else
			tsso_buf_free_secure(&h);
	}
out:
	if (enc != NULL) {
		tsso_wipe(enc, enc_len);
		free(enc);
	}
	tsso_buf_free_secure(&plain);
	return out;
}

static void exchange_release(void *p)
{
	struct exchange_ctx *x = p;

	tsso_embed_token_clear(&x->jwt);
	tsso_buf_free_secure(&x->body);
}

static int exchange_build(void *p, struct tsso_fetch_req *req, struct tsso_err *err)
{
	struct exchange_ctx *x = p;

	/* A fresh assertion per attempt: Toucan may have consumed the jti of
	 * an attempt whose answer we never saw. */
	exchange_release(x);
	if (tsso_embed_jwt_sign(x->c, x->id, x->now, &x->jwt, &x->kid, err) < 0)
		return -1;
	tsso_buf_init(&x->body, TSSO_TOKEN_MAX + 256);
	if (tsso_buf_adds(&x->body, "grant_type=") < 0 ||
	    add_form_encoded(&x->body, GRANT_JWT_BEARER) < 0 ||
	    tsso_buf_adds(&x->body, "&assertion=") < 0 ||
	    add_form_encoded(&x->body, x->jwt.token) < 0 ||
	    tsso_buf_adds(&x->body, "&scope=" EXCHANGE_SCOPE) < 0) {
		exchange_release(x);
		return tsso_err_set(err, "embed.sign_failed", "assertion too large");
	}
	req->method = "POST";
	req->url = x->c->t->embed.token_url;
	req->headers = x->headers;
	req->body = x->body.ptr;
	req->body_len = x->body.len;
	req->max_response = TSSO_EMBED_MAX_RESPONSE;
	return 0;
}

/* Copy a short OAuth error code (RFC 6749 §5.2: %x20-21 / %x23-5B / %x5D-7E),
 * keeping only [a-z_] so nothing odd reaches a log line. */
static void oauth_error(const char *body, size_t len, char out[48])
{
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));
	size_t n = 0;

	for (; e != NULL && *e && n < 47; e++)
		if ((*e >= 'a' && *e <= 'z') || *e == '_')
			out[n++] = *e;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, 48, "-");
	json_decref(j);
}

int tsso_embed_exchange(struct tsso_embed_client *c, const struct tsso_identity *id, long long now,
                        struct tsso_embed_token *ret, const char **ret_kid, struct tsso_err *err)
{
	const struct tsso_embed_cfg *e = &c->t->embed;
	struct exchange_ctx x;
	struct tsso_fetch_resp resp = {0};
	json_t *j = NULL, *at, *exp_in;
	const char *token;
	long long expires_in;
	int rc = -1;

	if (e->embed_client_secret.value == NULL)
		return tsso_err_set(err, "embed.misconfigured",
		                    "tenant %s: embed.token_url needs the embed client secret",
		                    c->t->id);
	memset(&x, 0, sizeof(x));
	x.c = c;
	x.id = id;
	x.now = now;
	x.auth = basic_auth_header(TSSO_EMBED_SUBJECT, e->embed_client_secret.value);
	if (x.auth == NULL)
		return tsso_err_set(err, "embed.sign_failed", "out of memory");
	x.headers[0] = x.auth;
	x.headers[1] = "Content-Type: application/x-www-form-urlencoded";
	x.headers[2] = "Accept: application/json";
	x.headers[3] = NULL;

	/* No release callback: the last attempt's assertion stays in x, so
	 * the audit line names the jti Toucan actually accepted. */
	if (tsso_embed_call(c, exchange_build, NULL, &x, &resp, err) < 0)
		goto out;
	if (resp.status != 200) {
		char code[48];
		oauth_error(resp.body, resp.body_len, code);
		tsso_err_set(err, "embed.toucan_refused",
		             "Toucan's token endpoint refused the exchange: HTTP %ld, error %s",
		             resp.status, code);
		goto out;
	}
	/* RFC 6749 §5.1: a JSON object with access_token; expires_in optional. */
	j = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, NULL);
	at = json_object_get(j, "access_token");
	exp_in = json_object_get(j, "expires_in");
	token = json_string_value(at);
	if (token == NULL || strlen(token) > TSSO_TOKEN_MAX ||
	    !tsso_embed_token_charset_ok(token) ||
	    (exp_in != NULL && (!json_is_integer(exp_in) || json_integer_value(exp_in) <= 0))) {
		tsso_err_set(err, "embed.toucan_unavailable",
		             "Toucan's token endpoint gave a malformed answer");
		goto out;
	}
	expires_in = exp_in != NULL ? json_integer_value(exp_in) : x.jwt.expires_in;
	if (tsso_embed_token_fill(ret, token, now, expires_in, x.jwt.jti, err) < 0)
		goto out;
	if (ret_kid != NULL)
		*ret_kid = x.kid;
	rc = 0;
out:
	if (j != NULL) {
		/* The access token is a bearer secret: wipe jansson's copy too. */
		const char *t = json_string_value(json_object_get(j, "access_token"));
		if (t != NULL)
			tsso_wipe((char *)t, strlen(t));
		json_decref(j);
	}
	if (resp.body != NULL)
		tsso_wipe(resp.body, resp.body_len);
	tsso_fetch_resp_free(&resp);
	exchange_release(&x);
	tsso_free_secret(x.auth);
	return rc;
}
