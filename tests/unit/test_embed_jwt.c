/* Unit tests for Toucan 3.0 signed JWTs: header and claims decoded here,
 * signatures verified by the openssl command (a verifier not written in this
 * project) against the key and the served JWKS; TTLs; refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <unistd.h>

#include "../../src/embed/embed_int.h"
#include "embed_test_util.h"
#include "tsso/b64.h"
#include "tsso/crypto.h"
#include "tsso/embed.h"
#include "tsso/identity.h"
#include "tsso/limits.h"
#include "tsso/log.h"

#define ISS "https://toucan.example/embed-issuer"
#define AUD "https://oauth.toucan.example/acme/oauth/oauth-token"

struct fixture {
	char *dir;
	struct tsso_config cfg;
	struct tsso_tenant_cfg t;
	struct tsso_embed_keystore *ks;
	struct tsso_embed_client *c;
	struct tsso_identity *id;
	char *kid;
	long long now;
};

static void fixture_init(struct fixture *f, const char *alg)
{
	struct tsso_err err = {0};

	memset(f, 0, sizeof(*f));
	f->now = (long long)time(NULL);
	f->dir = tmpdir_new();
	assert_non_null(f->dir);
	f->cfg.mode = TSSO_MODE_PRODUCTION;
	f->t.id = (char *)"acme";
	f->t.embed.scheme = TSSO_EMBED_SIGNED_JWT;
	f->t.embed.issuer = (char *)ISS;
	f->t.embed.audience = (char *)AUD;
	f->t.embed.workspace_id = (char *)"acme-ws";
	if (alg != NULL) {
		assert_int_equal(tsso_embed_keys_generate(f->dir, alg, f->now - 10, &f->kid, &err),
		                 0);
	}
	f->ks = tsso_embed_keystore_load(f->dir, f->now, &err);
	assert_non_null(f->ks);
	f->c = tsso_embed_client_new(&f->cfg, &f->t, f->ks, NULL, &err);
	assert_non_null(f->c);
	f->id = tsso_identity_new();
	f->id->username = strdup("alice@acme.example");
	json_object_set_new(f->id->attributes, "country", json_string("FR"));
}

static void fixture_free(struct fixture *f)
{
	tsso_embed_client_free(f->c);
	tsso_embed_keystore_free(f->ks);
	tsso_identity_free(f->id);
	free(f->kid);
	tmpdir_free(f->dir);
}

/* Decode part i (0 header, 1 claims) of a compact JWS, refusing duplicates. */
static json_t *jws_part(const char *jws, int part)
{
	const char *p = jws, *dot;
	unsigned char *raw = NULL;
	size_t n = 0;
	json_t *j;

	for (int i = 0; i < part; i++)
		p = strchr(p, '.') + 1;
	dot = strchr(p, '.');
	assert_non_null(dot);
	assert_int_equal(tsso_b64url_decode(p, (size_t)(dot - p), &raw, &n), 0);
	j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	assert_non_null(j);
	return j;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

/* JWS ES256 signatures are r||s (RFC 7518 §3.4); openssl wants DER. */
static size_t ecdsa_der(const unsigned char *rs, unsigned char *out)
{
	unsigned char ints[2][40];
	size_t lens[2], o = 0;

	for (int k = 0; k < 2; k++) {
		const unsigned char *v = rs + 32 * k;
		size_t skip = 0, n = 0;
		while (skip < 31 && v[skip] == 0)
			skip++;
		if (v[skip] & 0x80)
			ints[k][n++] = 0;
		memcpy(ints[k] + n, v + skip, 32 - skip);
		lens[k] = n + 32 - skip;
	}
	out[o++] = 0x30;
	out[o++] = (unsigned char)(4 + lens[0] + lens[1]);
	for (int k = 0; k < 2; k++) {
		out[o++] = 0x02;
		out[o++] = (unsigned char)lens[k];
		memcpy(out + o, ints[k], lens[k]);
		o += lens[k];
	}
	return o;
}

/* Verify jws with the openssl command; pub is a PEM public key file. */
static int openssl_verify(const char *dir, const char *jws, const char *alg, const char *pub)
{
	char in[512], sigf[512], cmd[2048];
	const char *last = strrchr(jws, '.');
	unsigned char *sig = NULL, der[80];
	size_t n = 0;
	int rc;

	snprintf(in, sizeof(in), "%s/input", dir);
	snprintf(sigf, sizeof(sigf), "%s/sig", dir);
	write_bytes(in, jws, (size_t)(last - jws));
	assert_int_equal(tsso_b64url_decode(last + 1, strlen(last + 1), &sig, &n), 0);
	if (strcmp(alg, "ES256") == 0) {
		assert_int_equal(n, 64);
		write_bytes(sigf, der, ecdsa_der(sig, der));
	} else {
		write_bytes(sigf, sig, n);
	}
	free(sig);
	if (strcmp(alg, "RS512") == 0)
		snprintf(cmd, sizeof(cmd), "openssl dgst -sha512 -verify '%s' -signature '%s' '%s'",
		         pub, sigf, in);
	else if (strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0)
		snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -verify '%s' -signature '%s' '%s'",
		         pub, sigf, in);
	else if (strcmp(alg, "PS256") == 0)
		snprintf(cmd, sizeof(cmd),
		         "openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt "
		         "rsa_pss_saltlen:32 -verify '%s' -signature '%s' '%s'",
		         pub, sigf, in);
	else
		snprintf(cmd, sizeof(cmd),
		         "openssl pkeyutl -verify -pubin -inkey '%s' -rawin -in '%s' -sigfile '%s'",
		         pub, in, sigf);
	strcat(cmd, " >/dev/null 2>&1");
	rc = system(cmd);
	return rc == 0 ? 0 : -1;
}

/* The public key as openssl derives it from the private key file. */
static char *openssl_pub(const struct fixture *f)
{
	char *pub = malloc(512), cmd[1200];

	snprintf(pub, 512, "%s/pub.pem", f->dir);
	snprintf(cmd, sizeof(cmd), "openssl pkey -in '%s/%s.pem' -pubout -out '%s'", f->dir, f->kid,
	         pub);
	assert_int_equal(system(cmd), 0);
	return pub;
}

static json_t *jwks_key(const struct fixture *f, const char *kid)
{
	json_t *j = tsso_embed_jwks_json(f->ks, f->now), *k, *found = NULL;
	size_t i;

	json_array_foreach (json_object_get(j, "keys"), i, k)
		if (strcmp(json_string_value(json_object_get(k, "kid")), kid) == 0)
			found = json_incref(k);
	json_decref(j);
	assert_non_null(found);
	return found;
}

static void test_rs512_claims_and_openssl(void **state)
{
	struct fixture f;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	json_t *h, *c, *ctx, *jwk;
	unsigned char *raw = NULL;
	size_t n = 0;
	char *pub, cmd[1024], *tampered;
	(void)state;

	fixture_init(&f, "RS512");
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), 0);
	assert_int_equal(tok.expires_in, TSSO_EMBED_TTL_DEFAULT);
	assert_int_equal(tok.expires_at, f.now + TSSO_EMBED_TTL_DEFAULT);

	/* Header: exactly alg, kid, typ. */
	h = jws_part(tok.token, 0);
	assert_int_equal(json_object_size(h), 3);
	assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS512");
	assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
	assert_string_equal(json_string_value(json_object_get(h, "kid")), f.kid);

	/* Claims as Toucan 3.0 documents them. */
	c = jws_part(tok.token, 1);
	assert_int_equal(json_object_size(c), 7);
	assert_string_equal(json_string_value(json_object_get(c, "sub")), "toucan-embed-client");
	assert_string_equal(json_string_value(json_object_get(c, "iss")), ISS);
	assert_string_equal(json_string_value(json_object_get(c, "aud")), AUD);
	assert_int_equal(json_integer_value(json_object_get(c, "iat")), f.now);
	assert_int_equal(json_integer_value(json_object_get(c, "exp")), f.now + 300);
	assert_string_equal(json_string_value(json_object_get(c, "jti")), tok.jti);
	assert_int_equal(tsso_b64url_decode(tok.jti, strlen(tok.jti), &raw, &n), 0);
	assert_int_equal(n, 16); /* 128 bits */
	free(raw);
	ctx = json_object_get(c, "embed_context");
	assert_string_equal(json_string_value(json_object_get(ctx, "username")),
	                    "alice@acme.example");
	assert_string_equal(json_string_value(json_object_get(ctx, "workspace_id")), "acme-ws");
	assert_string_equal(json_string_value(json_array_get(json_object_get(ctx, "roles"), 0)),
	                    "USER");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(ctx, "attributes"), "country")),
	    "FR");
	assert_true(json_is_object(json_object_get(ctx, "privileges")));
	assert_true(json_is_array(json_object_get(ctx, "groups")));

	/* openssl verifies the signature; a changed claim breaks it. */
	pub = openssl_pub(&f);
	assert_int_equal(openssl_verify(f.dir, tok.token, "RS512", pub), 0);
	tampered = strdup(tok.token);
	tampered[strchr(tampered, '.') - tampered + 5] ^= 1;
	assert_int_equal(openssl_verify(f.dir, tampered, "RS512", pub), -1);
	free(tampered);

	/* The served JWKS carries that very key: same modulus as openssl's. */
	jwk = jwks_key(&f, f.kid);
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "RSA");
	assert_string_equal(json_string_value(json_object_get(jwk, "alg")), "RS512");
	{
		const char *nb = json_string_value(json_object_get(jwk, "n"));
		char *hex, *want, *got;
		assert_int_equal(tsso_b64url_decode(nb, strlen(nb), &raw, &n), 0);
		assert_int_equal(n, 384); /* 3072 bits */
		hex = malloc(2 * n + 16);
		strcpy(hex, "Modulus=");
		for (size_t i = 0; i < n; i++)
			snprintf(hex + 8 + 2 * i, 3, "%02X", raw[i]);
		free(raw);
		snprintf(cmd, sizeof(cmd), "openssl rsa -in '%s/%s.pem' -noout -modulus > '%s/mod'",
		         f.dir, f.kid, f.dir);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "%s/mod", f.dir);
		got = read_file(cmd);
		got[strcspn(got, "\n")] = '\0';
		want = hex;
		assert_string_equal(got, want);
		free(got);
		free(hex);
	}
	json_decref(jwk);
	free(pub);
	json_decref(h);
	json_decref(c);
	tsso_embed_token_clear(&tok);
	assert_null(tok.token);
	fixture_free(&f);
}

static void test_other_algs_openssl(void **state)
{
	static const char *const algs[] = {"PS256", "ES256", "RS256"};
	(void)state;

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		struct fixture f;
		struct tsso_embed_token tok = {0};
		struct tsso_err err = {0};
		json_t *h;
		char *pub;

		fixture_init(&f, algs[i]);
		assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), 0);
		h = jws_part(tok.token, 0);
		assert_string_equal(json_string_value(json_object_get(h, "alg")), algs[i]);
		json_decref(h);
		pub = openssl_pub(&f);
		assert_int_equal(openssl_verify(f.dir, tok.token, algs[i], pub), 0);
		free(pub);
		tsso_embed_token_clear(&tok);
		fixture_free(&f);
	}
}

/* EdDSA, verified with a public key built from the served JWKS alone
 * (RFC 8037 §2: x is the raw Ed25519 key; SPKI prefix per RFC 8410). */
static void test_eddsa_against_jwks(void **state)
{
	static const unsigned char spki[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
	                                     0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
	struct fixture f;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	unsigned char der[44], *x = NULL;
	size_t n = 0;
	char path[512], cmd[1200];
	json_t *jwk;
	(void)state;

	fixture_init(&f, "EdDSA");
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), 0);
	jwk = jwks_key(&f, f.kid);
	assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "Ed25519");
	{
		const char *xb = json_string_value(json_object_get(jwk, "x"));
		assert_int_equal(tsso_b64url_decode(xb, strlen(xb), &x, &n), 0);
	}
	assert_int_equal(n, 32);
	memcpy(der, spki, sizeof(spki));
	memcpy(der + sizeof(spki), x, 32);
	free(x);
	snprintf(path, sizeof(path), "%s/jwks.der", f.dir);
	write_bytes(path, der, sizeof(der));
	snprintf(cmd, sizeof(cmd),
	         "openssl pkey -pubin -inform DER -in '%s' -out '%s/jwks.pem' 2>/dev/null", path,
	         f.dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/jwks.pem", f.dir);
	assert_int_equal(openssl_verify(f.dir, tok.token, "EdDSA", path), 0);
	json_decref(jwk);
	tsso_embed_token_clear(&tok);
	fixture_free(&f);
}

/* Raw bytes of part i (0 header, 1 payload) of a compact JWS; new string. */
static char *jws_part_text(const char *jws, int part)
{
	const char *p = jws, *dot;
	unsigned char *raw = NULL;
	size_t n = 0;

	for (int i = 0; i < part; i++)
		p = strchr(p, '.') + 1;
	dot = strchr(p, '.');
	assert_non_null(dot);
	assert_int_equal(tsso_b64url_decode(p, (size_t)(dot - p), &raw, &n), 0);
	assert_int_equal(strlen((char *)raw), n);
	return (char *)raw;
}

/* The header and claims are written in one pass without jansson; they must
 * be exactly the bytes jansson made of the same tree before (member order,
 * types, escaping), so that nothing changes for Toucan. */
static void test_bytes_as_jansson(void **state)
{
	static const char *const algs[] = {"ES256", "EdDSA", "RS256"};
	(void)state;

	for (size_t i = 0; i < TSSO_ARRAY_LEN(algs); i++) {
		struct fixture f;
		struct tsso_embed_token tok = {0};
		struct tsso_err err = {0};
		json_t *ctx, *claims;
		char *want, *got, hdr[256];

		fixture_init(&f, algs[i]);
		f.id->admin = true;
		json_array_append_new(f.id->groups, json_string("finance \"EMEA\""));
		json_object_set_new(f.id->attributes, "cost_center", json_integer(4711));
		json_object_set_new(f.id->attributes, "ratio", json_real(0.1));
		json_object_set_new(f.id->attributes, "city", json_string("Z\xc3\xbcrich\n"));
		json_object_set_new(f.id->privileges, "app", json_pack("[s]", "view"));
		assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), 0);

		got = jws_part_text(tok.token, 0);
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
		         algs[i], f.kid);
		assert_string_equal(got, hdr);
		free(got);

		ctx = tsso_identity_embed_context(f.id, "acme-ws");
		claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:o}", "sub", TSSO_EMBED_SUBJECT,
		                   "iss", ISS, "aud", AUD, "iat", (json_int_t)f.now, "exp",
		                   (json_int_t)(f.now + TSSO_EMBED_TTL_DEFAULT), "jti", tok.jti,
		                   "embed_context", ctx);
		want = json_dumps(claims, JSON_COMPACT);
		got = jws_part_text(tok.token, 1);
		assert_string_equal(got, want);
		free(got);
		free(want);
		json_decref(claims);
		tsso_embed_token_clear(&tok);
		fixture_free(&f);
	}
}

static void test_ttl(void **state)
{
	static const struct {
		long tenant, main, want;
	} v[] = {
	    {0, 0, TSSO_EMBED_TTL_DEFAULT},
	    {0, 120, 120},
	    {60, 120, 60},
	    {7200, 0, TSSO_EMBED_TTL_MAX},
	    {0, 99999, TSSO_EMBED_TTL_MAX},
	};
	struct tsso_config cfg = {0};
	struct tsso_tenant_cfg t = {0};
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		t.embed.ttl = v[i].tenant;
		cfg.embed.ttl = v[i].main;
		assert_int_equal(tsso_embed_ttl(&cfg, &t), v[i].want);
	}
}

static void test_too_large(void **state)
{
	struct fixture f;
	struct tsso_embed_token tok = {.token = (char *)"untouched"};
	struct tsso_err err = {0};
	char big[TSSO_EMBED_CONTEXT_MAX];
	(void)state;

	fixture_init(&f, "ES256");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	json_object_set_new(f.id->attributes, "notes", json_string(big));
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.too_large");
	assert_string_equal(tok.token, "untouched");
	assert_int_equal(tsso_embed_err_status(&err), 500);

	/* Just under the limit passes. */
	json_object_del(f.id->attributes, "notes");
	{
		json_t *ctx = tsso_identity_embed_context(f.id, "acme-ws");
		char *s = json_dumps(ctx, JSON_COMPACT);
		size_t room = TSSO_EMBED_CONTEXT_MAX - 1 - strlen(s) - strlen(",\"n\":\"\"");
		big[room] = '\0';
		json_object_set_new(f.id->attributes, "n", json_string(big));
		free(s);
		json_decref(ctx);
	}
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), 0);
	tsso_embed_token_clear(&tok);
	fixture_free(&f);
}

/* Far beyond Toucan's limit, the claims buffer's own limit refuses first:
 * the same reason. Text that is not UTF-8 is never signed. */
static void test_too_large_buffer_and_bad_text(void **state)
{
	struct fixture f;
	struct tsso_embed_token tok = {.token = (char *)"untouched"};
	struct tsso_err err = {0};
	char *big = malloc(TSSO_TOKEN_MAX + 10);
	(void)state;

	assert_non_null(big);
	memset(big, 'y', TSSO_TOKEN_MAX + 9);
	big[TSSO_TOKEN_MAX + 9] = '\0';
	fixture_init(&f, "EdDSA");
	json_object_set_new(f.id->attributes, "huge", json_string(big));
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.too_large");
	assert_string_equal(tok.token, "untouched");
	json_object_del(f.id->attributes, "huge");

	free(f.id->username);
	f.id->username = strdup("al\xffice");
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.sign_failed");
	assert_string_equal(tok.token, "untouched");
	free(big);
	fixture_free(&f);
}

static void test_refusals(void **state)
{
	struct fixture f;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	struct tsso_embed_client *c;
	char *kid2 = NULL;
	(void)state;

	/* No key at all. */
	fixture_init(&f, NULL);
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.no_signing_key");
	fixture_free(&f);

	fixture_init(&f, "ES256");
	/* No user name. */
	free(f.id->username);
	f.id->username = NULL;
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.no_username");
	f.id->username = strdup("bob");
	/* No workspace anywhere. */
	f.t.embed.workspace_id = NULL;
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.misconfigured");
	f.t.embed.workspace_id = (char *)"acme-ws";
	/* Before the first key activates, nothing signs. */
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now - 3600, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.no_signing_key");
	/* A tenant without issuer/audience is refused when its client is made. */
	f.t.embed.audience = NULL;
	c = tsso_embed_client_new(&f.cfg, &f.t, f.ks, NULL, &err);
	assert_null(c);
	assert_string_equal(err.reason, "embed.misconfigured");
	f.t.embed.audience = (char *)AUD;

	/* Rotation: the new key signs once the overlap has passed, no reload. */
	assert_int_equal(tsso_embed_keys_rotate(f.dir, NULL, f.now, 100, &kid2, &err), 0);
	tsso_embed_keystore_free(f.ks);
	tsso_embed_client_free(f.c);
	f.ks = tsso_embed_keystore_load(f.dir, f.now, &err);
	f.c = tsso_embed_client_new(&f.cfg, &f.t, f.ks, NULL, &err);
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now + 99, &tok, &err), 0);
	{
		json_t *h = jws_part(tok.token, 0);
		assert_string_equal(json_string_value(json_object_get(h, "kid")), f.kid);
		json_decref(h);
	}
	tsso_embed_token_clear(&tok);
	assert_int_equal(tsso_embed_mint(f.c, f.id, f.now + 100, &tok, &err), 0);
	{
		json_t *h = jws_part(tok.token, 0);
		assert_string_equal(json_string_value(json_object_get(h, "kid")), kid2);
		json_decref(h);
	}
	tsso_embed_token_clear(&tok);
	free(kid2);
	fixture_free(&f);
}

/* Each token gets its own jti. */
static void test_jti_unique(void **state)
{
	struct fixture f;
	char seen[20][48];
	(void)state;

	fixture_init(&f, "EdDSA");
	for (int i = 0; i < 20; i++) {
		struct tsso_embed_token tok = {0};
		struct tsso_err err = {0};
		assert_int_equal(tsso_embed_mint(f.c, f.id, f.now, &tok, &err), 0);
		memcpy(seen[i], tok.jti, sizeof(seen[i]));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(seen[i], seen[j]);
		tsso_embed_token_clear(&tok);
	}
	fixture_free(&f);
}

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, TSSO_EMBED_JTI_BYTES);
}

/* The jti pool: every value distinct across several refills (no byte given
 * out twice), and the pool's absence (j NULL) still draws. */
static void test_jti_pool(void **state)
{
	enum { N = 700 }; /* more than two pools of 255 */
	struct tsso_rand_pool *j = tsso_rand_pool_new();
	unsigned char(*v)[TSSO_EMBED_JTI_BYTES] = calloc(N, TSSO_EMBED_JTI_BYTES);
	static const unsigned char zero[TSSO_EMBED_JTI_BYTES];
	(void)state;

	assert_non_null(j);
	assert_non_null(v);
	for (int i = 0; i < N; i++) {
		assert_int_equal(tsso_rand_pool_draw(j, v[i], TSSO_EMBED_JTI_BYTES), 0);
		assert_memory_not_equal(v[i], zero, sizeof(zero));
	}
	qsort(v, N, TSSO_EMBED_JTI_BYTES, cmp16);
	for (int i = 1; i < N; i++)
		assert_memory_not_equal(v[i - 1], v[i], TSSO_EMBED_JTI_BYTES);
	assert_int_equal(tsso_rand_pool_draw(NULL, v[0], TSSO_EMBED_JTI_BYTES), 0);
	assert_memory_not_equal(v[0], zero, sizeof(zero));
	free(v);
	tsso_rand_pool_free(j);
	tsso_rand_pool_free(NULL);
}

struct jti_thread {
	struct tsso_rand_pool *j;
	unsigned char v[300][TSSO_EMBED_JTI_BYTES];
	int rc;
};

static void *jti_thread_main(void *arg)
{
	struct jti_thread *t = arg;

	for (int i = 0; i < 300; i++)
		t->rc |= tsso_rand_pool_draw(t->j, t->v[i], TSSO_EMBED_JTI_BYTES);
	return NULL;
}

/* Threads sharing one pool (one client serves every request thread) never
 * get the same value. */
static void test_jti_pool_threads(void **state)
{
	enum { T = 4 };
	struct tsso_rand_pool *j = tsso_rand_pool_new();
	struct jti_thread *t = calloc(T, sizeof(*t));
	unsigned char(*all)[TSSO_EMBED_JTI_BYTES] = calloc(T * 300, TSSO_EMBED_JTI_BYTES);
	pthread_t th[T];
	(void)state;

	assert_non_null(j);
	assert_non_null(t);
	assert_non_null(all);
	for (int i = 0; i < T; i++) {
		t[i].j = j;
		assert_int_equal(pthread_create(&th[i], NULL, jti_thread_main, &t[i]), 0);
	}
	for (int i = 0; i < T; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(t[i].rc, 0);
		memcpy(all + i * 300, t[i].v, sizeof(t[i].v));
	}
	qsort(all, T * 300, TSSO_EMBED_JTI_BYTES, cmp16);
	for (int i = 1; i < T * 300; i++)
		assert_memory_not_equal(all[i - 1], all[i], TSSO_EMBED_JTI_BYTES);
	free(all);
	free(t);
	tsso_rand_pool_free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rs512_claims_and_openssl),
	    cmocka_unit_test(test_other_algs_openssl),
	    cmocka_unit_test(test_eddsa_against_jwks),
	    cmocka_unit_test(test_bytes_as_jansson),
	    cmocka_unit_test(test_ttl),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_too_large_buffer_and_bad_text),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_jti_unique),
	    cmocka_unit_test(test_jti_pool),
	    cmocka_unit_test(test_jti_pool_threads),
	};
	tsso_log_setup(TSSO_LOG_WARN, true); /* audit lines are tested in test_embed */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
