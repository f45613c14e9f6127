/*
 * Test fixture for the oidc tests: a fake OpenID Provider (fetch_server.py
 * serving files from a temporary folder over loopback TLS), signing keys
 * generated at start, a tenant configuration and a tsso_idp on it, and raw
 * JWS signing so tests can forge any header (no kid, alg none, wrong key).
 */
#ifndef TSSO_OIDC_TEST_OP_H
#define TSSO_OIDC_TEST_OP_H

/* Not every test uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "tsso/b64.h"
#include "tsso/jose.h"
#include "tsso/oidc.h"

#include "oidc_test_server.h"

#define OP_NOW           1800000000LL
#define OP_CLIENT_ID     "toucan-sso"
#define OP_CLIENT_SECRET "a-client-secret-that-is-long-enough-for-hs512-keys-0123456789abcdef"
#define OP_REDIRECT      "https://app.example.com/sso/acme/callback"

/* The time op_begin and op_finish run at (tokens are issued at OP_NOW). */
static long long op_now = OP_NOW;

struct test_key {
	EVP_PKEY *pkey;
	struct tsso_signer *signer;
	const char *alg;
	const char *kid;
};

struct test_op {
	struct test_server srv;
	char dir[128];
	char issuer[128];
	struct test_key rs, es, other; /* other: an RSA key not in the JWKS */
	char *scopes[2];
	char *plr[1];
	struct tsso_tenant_cfg cfg;
	struct tsso_idp *idp;
};

static int op_key(struct test_key *k, const char *type, const char *param, const char *alg,
                  const char *kid)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long n;
	struct tsso_err err = {0};

	if (strcmp(type, "RSA") == 0)
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", param);
	if (k->pkey == NULL || b == NULL ||
	    PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL) != 1)
		return -1;
	n = BIO_get_mem_data(b, &pem);
	k->signer = tsso_signer_from_pem(pem, (size_t)n, alg, kid, &err);
	BIO_free(b);
	k->alg = alg;
	k->kid = kid;
	return k->signer != NULL ? 0 : -1;
}

static void op_key_free(struct test_key *k)
{
	EVP_PKEY_free(k->pkey);
	tsso_signer_free(k->signer);
}

static char *op_path(const struct test_op *op, const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", op->dir, name);
	return buf;
}

static void op_write(const struct test_op *op, const char *name, const char *content)
{
	FILE *f = fopen(op_path(op, name), "w");

	if (f == NULL)
		abort();
	fputs(content, f);
	fclose(f);
}

static void op_remove(const struct test_op *op, const char *name)
{
	unlink(op_path(op, name));
}

/* Content of a file the server wrote (request bodies); new string or NULL. */
static char *op_read(const struct test_op *op, const char *name)
{
	FILE *f = fopen(op_path(op, name), "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 65536);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void op_write_json(const struct test_op *op, const char *name, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	op_write(op, name, s);
	free(s);
	json_decref(j);
}

/* The default discovery document, as a new object the test may change. */
static json_t *op_discovery(const struct test_op *op)
{
	char u[6][160];
	static const char *const names[] = {"authorize", "token",  "jwks",
	                                    "userinfo",  "logout", "par"};

	for (int i = 0; i < 6; i++)
		snprintf(u[i], sizeof(u[i]), "%s/%s", op->issuer, names[i]);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s,s,s,s]}", "issuer",
	                 op->issuer, "authorization_endpoint", u[0], "token_endpoint", u[1],
	                 "jwks_uri", u[2], "userinfo_endpoint", u[3], "end_session_endpoint", u[4],
	                 "response_types_supported", "code", "subject_types_supported", "public",
	                 "id_token_signing_alg_values_supported", "RS256", "ES256", "PS256",
	                 "HS256");
}

static void op_publish_keys(const struct test_op *op, bool with_other)
{
	json_t *keys = json_array();

	json_array_append_new(keys, tsso_signer_public_jwk(op->rs.signer));
	json_array_append_new(keys, tsso_signer_public_jwk(op->es.signer));
	if (with_other)
		json_array_append_new(keys, tsso_signer_public_jwk(op->other.signer));
	op_write_json(op, "jwks", json_pack("{s:o}", "keys", keys));
}

static int op_start(struct test_op *op)
{
	memset(op, 0, sizeof(*op));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(op->dir, sizeof(op->dir), "/tmp/tsso-oidc-unit-XXXXXX");
	if (mkdtemp(op->dir) == NULL || test_server_start(&op->srv, op->dir) != 0)
		return -1;
	snprintf(op->issuer, sizeof(op->issuer), "https://127.0.0.1:%d/idp", op->srv.https_port);
	if (op_key(&op->rs, "RSA", NULL, "RS256", "rs1") != 0 ||
	    op_key(&op->es, "EC", "P-256", "ES256", "es1") != 0 ||
	    op_key(&op->other, "RSA", NULL, "RS256", "rs2") != 0)
		return -1;
	op_write_json(op, "discovery", op_discovery(op));
	op_publish_keys(op, false);
	op->scopes[0] = "openid";
	op->scopes[1] = "email";
	op->plr[0] = "https://app.example.com/bye";
	op->cfg.id = "acme";
	op->cfg.issuer = op->issuer;
	op->cfg.client_id = OP_CLIENT_ID;
	op->cfg.client_secret.value = OP_CLIENT_SECRET;
	op->cfg.client_secret.len = strlen(OP_CLIENT_SECRET);
	op->cfg.auth_method = TSSO_AUTH_CLIENT_SECRET_BASIC;
	op->cfg.scopes.v = op->scopes;
	op->cfg.scopes.n = 2;
	op->cfg.ca_file = TSSO_TEST_DATA "/oidc/ca.pem";
	op->cfg.max_age = -1;
	op->cfg.clock_leeway = 60;
	op->cfg.par = TSSO_PAR_NEVER;
	op->cfg.post_logout_redirect_uris.v = op->plr;
	op->cfg.post_logout_redirect_uris.n = 1;
	return 0;
}

/* (Re)create the idp from op->cfg, so each test sees fresh caches. */
static struct tsso_idp *op_idp(struct test_op *op)
{
	struct tsso_err err = {0};

	tsso_idp_free(op->idp);
	op->idp = tsso_idp_new(&op->cfg, OP_REDIRECT, false, &err);
	if (op->idp == NULL)
		fprintf(stderr, "tsso_idp_new: %s: %s\n", tsso_err_reason(&err), err.msg);
	return op->idp;
}

static void op_stop(struct test_op *op)
{
	char cmd[200];

	tsso_idp_free(op->idp);
	test_server_stop(&op->srv);
	op_key_free(&op->rs);
	op_key_free(&op->es);
	op_key_free(&op->other);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", op->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", op->dir);
	curl_global_cleanup();
}

/* ECDSA signatures are DER from OpenSSL, R||S in JWS (RFC 7518 §3.4). */
static int der_to_raw(const unsigned char *der, size_t n, unsigned char *out, size_t half)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
	const BIGNUM *r, *s;

	if (sig == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	BN_bn2binpad(r, out, (int)half);
	BN_bn2binpad(s, out + half, (int)half);
	ECDSA_SIG_free(sig);
	return 0;
}

/* Sign header.claims with key (NULL: HMAC with the client secret when alg
 * is HS256, or an empty signature for "none"). New compact string. */
static char *op_sign_raw(const struct test_key *key, const char *alg, json_t *header,
                         json_t *claims)
{
	char *h = json_dumps(header, JSON_COMPACT), *c = json_dumps(claims, JSON_COMPACT);
	char *hb = tsso_b64url_encode(h, strlen(h)), *cb = tsso_b64url_encode(c, strlen(c));
	size_t in_len = strlen(hb) + 1 + strlen(cb);
	char *input = malloc(in_len + 1), *sb = NULL, *out;
	unsigned char sig[1024];
	size_t sig_len = 0;

	snprintf(input, in_len + 1, "%s.%s", hb, cb);
	if (strncmp(alg, "HS", 2) == 0) {
		unsigned int l = 0;

		HMAC(EVP_sha256(), OP_CLIENT_SECRET, (int)strlen(OP_CLIENT_SECRET),
		     (unsigned char *)input, in_len, sig, &l);
		sig_len = l;
	} else if (key != NULL) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		unsigned char der[512];
		size_t der_len = sizeof(der);

		EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key->pkey);
		EVP_DigestSign(ctx, der, &der_len, (unsigned char *)input, in_len);
		EVP_MD_CTX_free(ctx);
		if (EVP_PKEY_is_a(key->pkey, "EC")) {
			der_to_raw(der, der_len, sig, 32);
			sig_len = 64;
		} else {
			memcpy(sig, der, der_len);
			sig_len = der_len;
		}
	}
	sb = tsso_b64url_encode(sig, sig_len);
	out = malloc(in_len + strlen(sb) + 2);
	snprintf(out, in_len + strlen(sb) + 2, "%s.%s", input, sb);
	free(h);
	free(c);
	free(hb);
	free(cb);
	free(input);
	free(sb);
	json_decref(header);
	return out;
}

/* The usual signed token: header {alg, kid, typ JWT}. Steals nothing. */
static char *op_sign(const struct test_key *key, json_t *claims)
{
	return op_sign_raw(
	    key, key->alg,
	    json_pack("{s:s, s:s, s:s}", "alg", key->alg, "kid", key->kid, "typ", "JWT"), claims);
}

/* Valid ID token claims for a login with this nonce at OP_NOW. New object. */
static json_t *op_claims(const struct test_op *op, const char *nonce)
{
	json_t *c =
	    json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", op->issuer, "sub", "user-1", "aud",
	              OP_CLIENT_ID, "exp", (json_int_t)(OP_NOW + 300), "iat", (json_int_t)OP_NOW);

	if (nonce != NULL)
		json_object_set_new(c, "nonce", json_string(nonce));
	return c;
}

/* Make the token endpoint answer with this ID token (may be NULL). */
static void op_token_response(const struct test_op *op, const char *id_token, const char *at)
{
	json_t *j = json_pack("{s:s, s:s, s:i, s:s}", "access_token", at, "token_type", "Bearer",
	                      "expires_in", 300, "refresh_token", "rt-1");

	if (id_token != NULL)
		json_object_set_new(j, "id_token", json_string(id_token));
	op_write_json(op, "token", j);
}

/* Start a login; new state in *ls. */
static int op_begin(struct test_op *op, struct tsso_login_state **ls, char **url)
{
	struct tsso_err err = {0};
	char *u = NULL;
	int rc = tsso_idp_begin(op->idp, NULL, op_now, &u, ls, &err);

	if (rc != 0)
		fprintf(stderr, "begin: %s: %s\n", tsso_err_reason(&err), err.msg);
	if (url != NULL)
		*url = u;
	else
		free(u);
	return rc;
}

/* Finish with code + state (+ iss when given); the reason code, "ok" on success. */
static const char *op_finish(struct test_op *op, const struct tsso_login_state *ls, const char *iss,
                             struct tsso_oidc_result *res)
{
	static struct tsso_err err;
	struct tsso_oidc_param p[3] = {{"code", "the-code"}, {"state", ls->state}, {"iss", iss}};
	struct tsso_oidc_result r = {0};

	tsso_err_clear(&err);
	if (tsso_idp_finish(op->idp, ls, p, iss != NULL ? 3 : 2, op_now, &r, &err) != 0)
		return tsso_err_reason(&err);
	if (res != NULL)
		*res = r;
	else
		tsso_oidc_result_free(&r);
	return "ok";
}

/* One test OP per test group: defines `struct test_op NAME` and the cmocka
 * group_setup / group_teardown that start and stop it. */
#define OP_TEST_GROUP(NAME)                                                                        \
	static struct test_op NAME;                                                                \
	static int group_setup(void **state)                                                       \
	{                                                                                          \
		(void)state;                                                                       \
		return op_start(&NAME);                                                            \
	}                                                                                          \
	static int group_teardown(void **state)                                                    \
	{                                                                                          \
		(void)state;                                                                       \
		op_stop(&NAME);                                                                    \
		return 0;                                                                          \
	}

#endif
