/* Micro benchmark, one core: our JWS verify and embed-token signing paths
 * against the raw OpenSSL EVP rate for the same key, in the same process. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "src/embed/embed_int.h"
#include "src/oidc/oidc_int.h"
#include "tsso/config.h"
#include "tsso/embed.h"
#include "tsso/identity.h"
#include "tsso/jose.h"

/* CPU seconds of this thread: the other processes on the machine do not
 * count against us. */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct tsso_err *err)
{
	fprintf(stderr, "micro: %s: %s %s\n", what, err != NULL && err->reason ? err->reason : "",
	        err != NULL ? err->msg : "");
	exit(1);
}

/* --- keys --- */

static EVP_PKEY *keygen(const char *alg)
{
	EVP_PKEY *k = NULL;

	if (strncmp(alg, "RS", 2) == 0 || strncmp(alg, "PS", 2) == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(alg, "ES256") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(alg, "EdDSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k == NULL)
		die("keygen", NULL);
	return k;
}

static char *pem_of(EVP_PKEY *k, size_t *ret_len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *out;
	long n;

	if (b == NULL || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
		die("pem", NULL);
	n = BIO_get_mem_data(b, &p);
	out = malloc((size_t)n + 1);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	*ret_len = (size_t)n;
	BIO_free(b);
	return out;
}

static const EVP_MD *md_of(const char *alg)
{
	if (strcmp(alg, "EdDSA") == 0)
		return NULL;
	if (strstr(alg, "512") != NULL)
		return EVP_sha512();
	if (strstr(alg, "384") != NULL)
		return EVP_sha384();
	return EVP_sha256();
}

static void set_pss(EVP_PKEY_CTX *pctx, const char *alg)
{
	if (strncmp(alg, "PS", 2) == 0) {
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
	}
}

/* --- raw OpenSSL: what any verifier must do at least (new context, init,
 * one-shot digest+verify); signatures in OpenSSL's native (DER) form. --- */

static int raw_sign(EVP_PKEY *k, const char *alg, const unsigned char *msg, size_t n,
                    unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = c != NULL && EVP_DigestSignInit(c, &pctx, md_of(alg), NULL, k) == 1;

	if (ok)
		set_pss(pctx, alg);
	ok = ok && EVP_DigestSign(c, sig, siglen, msg, n) == 1;
	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

static int raw_verify(EVP_PKEY *k, const char *alg, const unsigned char *msg, size_t n,
                      const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = c != NULL && EVP_DigestVerifyInit(c, &pctx, md_of(alg), NULL, k) == 1;

	if (ok)
		set_pss(pctx, alg);
	ok = ok && EVP_DigestVerify(c, sig, siglen, msg, n) == 1;
	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

/* --- measurement: alternate slices of ours and raw so that frequency
 * changes and the neighbours' cache pressure hit both alike. --- */

struct rate {
	double ours, raw;
};

typedef void (*op_fn)(void *ctx);

static struct rate measure(op_fn ours, op_fn raw, void *ctx, double seconds)
{
	double t_ours = 0, t_raw = 0;
	long n_ours = 0, n_raw = 0;
	const int slices = 10;

	for (int i = 0; i < 3; i++) { /* warm up */
		ours(ctx);
		raw(ctx);
	}
	/* The clock is a system call: read it every 8 operations only. */
	for (int s = 0; s < slices; s++) {
		double t0 = cpu_now(), t;
		while ((t = cpu_now()) - t0 < seconds / (2 * slices)) {
			for (int k = 0; k < 8; k++)
				ours(ctx);
			n_ours += 8;
		}
		t_ours += t - t0;
		t0 = cpu_now();
		while ((t = cpu_now()) - t0 < seconds / (2 * slices)) {
			for (int k = 0; k < 8; k++)
				raw(ctx);
			n_raw += 8;
		}
		t_raw += t - t0;
	}
	return (struct rate){(double)n_ours / t_ours, (double)n_raw / t_raw};
}

/* --- ID-token verification --- */

struct vctx {
	const char *alg;
	EVP_PKEY *pkey;
	struct tsso_jwks *jwks;
	char *token;
	unsigned char *input; /* header.payload */
	size_t input_len;
	unsigned char sig[1024];
	size_t siglen;
	long long now;
};

static void verify_ours(void *p)
{
	struct vctx *v = p;
	struct tsso_err err = {0};
	const char *algs[] = {v->alg};
	struct tsso_jws *jws = tsso_jws_parse(v->token, &err);
	struct oidc_id_expect x = {
	    .issuer = "https://127.0.0.1:8443",
	    .client_id = "bench-client",
	    .nonce = "n-0S6_WzA2Mj",
	    .alg = v->alg,
	    .max_age = -1,
	    .leeway = 60,
	    .now = v->now,
	};

	if (jws == NULL)
		die("jws_parse", &err);
	if (tsso_jws_verify(jws, v->jwks, algs, 1, NULL, 0, &err) != 0)
		die("jws_verify", &err);
	/* OIDC Core §3.1.3.7: the claim checks the callback runs. */
	if (oidc_id_token_check_claims(tsso_jws_claims(jws), &x, &err) != 0)
		die("id_token claims", &err);
	tsso_jws_free(jws);
}

static void verify_raw(void *p)
{
	struct vctx *v = p;

	if (raw_verify(v->pkey, v->alg, v->input, v->input_len, v->sig, v->siglen) != 0)
		die("raw verify", NULL);
}

static void bench_verify(const char *alg, double seconds, json_t *out)
{
	struct vctx v = {.alg = alg, .now = (long long)time(NULL)};
	struct tsso_err err = {0};
	struct tsso_signer *s;
	json_t *jwk, *jwks_doc, *claims;
	char *pem, *jwks_text, *dot;
	size_t pem_len;
	struct rate r;

	v.pkey = keygen(alg);
	pem = pem_of(v.pkey, &pem_len);
	s = tsso_signer_from_pem(pem, pem_len, alg, "bench-kid", &err);
	if (s == NULL)
		die("signer", &err);
	jwk = tsso_signer_public_jwk(s);
	jwks_doc = json_pack("{s:[o]}", "keys", jwk);
	jwks_text = json_dumps(jwks_doc, JSON_COMPACT);
	v.jwks = tsso_jwks_parse(jwks_text, strlen(jwks_text), &err);
	if (v.jwks == NULL)
		die("jwks", &err);
	/* A typical enterprise ID token (OIDC Core §2 plus profile claims). */
	claims =
	    json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:b, s:s, s:s, s:s}", "iss",
	              "https://127.0.0.1:8443", "sub", "248289761001", "aud", "bench-client", "exp",
	              (json_int_t)(v.now + 3600), "iat", (json_int_t)v.now, "auth_time",
	              (json_int_t)v.now, "nonce", "n-0S6_WzA2Mj", "email", "alice@acme.example",
	              "email_verified", 1, "name", "Alice Example", "preferred_username", "alice",
	              "sid", "08a5019c-17e1-4977-8f42-65a12843ea02");
	if (tsso_jws_sign(s, "JWT", NULL, claims, &v.token, &err) != 0)
		die("sign id token", &err);
	dot = strrchr(v.token, '.');
	v.input_len = (size_t)(dot - v.token);
	v.input = (unsigned char *)v.token;
	v.siglen = sizeof(v.sig);
	if (raw_sign(v.pkey, alg, v.input, v.input_len, v.sig, &v.siglen) != 0)
		die("raw sign", NULL);

	r = measure(verify_ours, verify_raw, &v, seconds);
	json_array_append_new(out,
	                      json_pack("{s:s, s:s, s:f, s:f, s:f, s:i}", "kind", "verify", "alg",
	                                alg, "ours_per_s", r.ours, "raw_per_s", r.raw, "ratio",
	                                r.ours / r.raw, "token_bytes", (int)strlen(v.token)));
	json_decref(claims);
	json_decref(jwks_doc);
	free(jwks_text);
	free(v.token);
	free(pem);
	tsso_jwks_free(v.jwks);
	tsso_signer_free(s);
	EVP_PKEY_free(v.pkey);
}

/* --- embed-token minting through tsso_embed_jwt_sign --- */

struct sctx {
	const char *alg;
	EVP_PKEY *pkey;
	struct tsso_embed_client *client;
	struct tsso_identity *id;
	unsigned char input[2048];
	size_t input_len;
	long long now;
};

static void sign_ours(void *p)
{
	struct sctx *c = p;
	struct tsso_embed_token t = {0};
	struct tsso_err err = {0};

	if (tsso_embed_jwt_sign(c->client, c->id, c->now, &t, NULL, &err) != 0)
		die("embed sign", &err);
	tsso_embed_token_clear(&t);
}

static void sign_raw(void *p)
{
	struct sctx *c = p;
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);

	if (raw_sign(c->pkey, c->alg, c->input, c->input_len, sig, &siglen) != 0)
		die("raw sign", NULL);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		die(path, NULL);
}

static EVP_PKEY *load_key(const char *keys_dir, const char *kid)
{
	char path[8192];
	FILE *f;
	EVP_PKEY *k;

	int n = snprintf(path, sizeof(path), "%s/%s.pem", keys_dir, kid);

	if (n < 0 || (size_t)n >= sizeof(path))
		die("path too long", NULL);
	f = fopen(path, "r");
	if (f == NULL)
		die(path, NULL);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		die("read key", NULL);
	return k;
}

static void bench_sign(const char *dir, const char *alg, double seconds, json_t *out)
{
	struct sctx c = {.alg = alg, .now = (long long)time(NULL)};
	struct tsso_err err = {0};
	struct tsso_problems problems = {0};
	struct tsso_config *cfg;
	struct tsso_embed_keystore *ks;
	struct tsso_embed_token t = {0};
	char keys_dir[4096], cfg_path[4096], tenant_path[4096], main_text[1024];
	char *kid = NULL, *dot;
	struct rate r;

	snprintf(keys_dir, sizeof(keys_dir), "%s/keys-%s", dir, alg);
	snprintf(cfg_path, sizeof(cfg_path), "%s/toucan-sso-%s.json", dir, alg);
	snprintf(tenant_path, sizeof(tenant_path), "%s/tenants.d/acme.json", dir);
	snprintf(main_text, sizeof(main_text),
	         "{\"mode\":\"development\",\"listen\":\"127.0.0.1:1\",\"public_url\":"
	         "\"http://127.0.0.1:1\",\"tenants_dir\":\"tenants.d\",\"session\":{\"store\":"
	         "\"memory\",\"secret_file\":\"session.key\"},\"embed\":{\"keys_dir\":\"keys-%s\","
	         "\"alg\":\"%s\",\"ttl\":300}}\n",
	         alg, alg);
	write_file(cfg_path, main_text);
	if (tsso_embed_keys_generate(keys_dir, alg, c.now - 10, &kid, &err) != 0)
		die("keys generate", &err);
	cfg = tsso_config_load(cfg_path, &problems);
	if (cfg == NULL) {
		for (size_t i = 0; i < problems.n; i++)
			fprintf(stderr, "micro: %s\n", problems.v[i]);
		exit(1);
	}
	ks = tsso_embed_keystore_load(keys_dir, c.now, &err);
	if (ks == NULL)
		die("keystore", &err);
	c.client = tsso_embed_client_new(cfg, tsso_config_tenant(cfg, "acme"), ks, NULL, &err);
	if (c.client == NULL)
		die("embed client", &err);
	c.pkey = load_key(keys_dir, kid);
	c.id = tsso_identity_new();
	c.id->username = strdup("alice@acme.example");
	json_array_append_new(c.id->groups, json_string("finance"));
	json_object_set_new(c.id->attributes, "region", json_string("EMEA"));
	json_object_set_new(c.id->attributes, "cost_center", json_integer(4711));
	/* The raw signer gets a signing input of the same length as ours. */
	if (tsso_embed_jwt_sign(c.client, c.id, c.now, &t, NULL, &err) != 0)
		die("embed sign", &err);
	dot = strrchr(t.token, '.');
	c.input_len = (size_t)(dot - t.token);
	if (c.input_len > sizeof(c.input))
		die("token too long", NULL);
	memcpy(c.input, t.token, c.input_len);

	r = measure(sign_ours, sign_raw, &c, seconds);
	json_array_append_new(out,
	                      json_pack("{s:s, s:s, s:f, s:f, s:f, s:i}", "kind", "sign", "alg",
	                                alg, "ours_per_s", r.ours, "raw_per_s", r.raw, "ratio",
	                                r.ours / r.raw, "token_bytes", (int)strlen(t.token)));
	tsso_embed_token_clear(&t);
	tsso_identity_free(c.id);
	EVP_PKEY_free(c.pkey);
	tsso_embed_client_free(c.client);
	tsso_embed_keystore_free(ks);
	tsso_config_free(cfg);
	tsso_problems_free(&problems);
	free(kid);
}

/* --only KIND:ALG (e.g. sign:ES256, or just sign) runs one benchmark, for
 * callgrind; without it, all of them. */
static bool selected(const char *only, const char *kind, const char *alg)
{
	size_t n = strlen(kind);

	if (only == NULL)
		return true;
	if (strncmp(only, kind, n) != 0)
		return false;
	return only[n] == '\0' || (only[n] == ':' && strcmp(only + n + 1, alg) == 0);
}

int main(int argc, char **argv)
{
	double seconds = 2.0;
	const char *dir = NULL, *only = NULL;
	const char *vers[] = {"RS256", "PS256", "ES256", "EdDSA"};
	const char *signs[] = {"RS512", "RS256", "ES256", "EdDSA"};
	json_t *out = json_array();
	char tenant[4096];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			char *end = NULL;
			seconds = strtod(argv[++i], &end);
			if (end == NULL || *end != '\0' || seconds <= 0 || seconds > 60)
				die("--seconds: 0 < s <= 60", NULL);
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr,
			        "usage: micro --dir SCRATCH [--seconds S] [--only KIND:ALG]\n");
			return 2;
		}
	}
	if (dir == NULL) {
		fprintf(stderr, "usage: micro --dir SCRATCH [--seconds S] [--only KIND:ALG]\n");
		return 2;
	}
	snprintf(tenant, sizeof(tenant), "%s/tenants.d", dir);
	if (mkdir(tenant, 0700) != 0 && errno != EEXIST)
		die(tenant, NULL);
	snprintf(tenant, sizeof(tenant), "%s/tenants.d/acme.json", dir);
	write_file(tenant, "{\"issuer\":\"https://127.0.0.1:8443\",\"client_id\":\"bench-client\","
	                   "\"client_secret_env\":\"BENCH_UNUSED\",\"embed\":{\"scheme\":"
	                   "\"signed_jwt\",\"issuer\":\"toucan-sso-bench\",\"audience\":"
	                   "\"https://oauth.toucan.example/acme/oauth/oauth-token\","
	                   "\"workspace_id\":\"acme\"}}\n");
	snprintf(tenant, sizeof(tenant), "%s/session.key", dir);
	write_file(tenant, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
	chmod(tenant, 0600);
	setenv("BENCH_UNUSED", "unused-client-secret-0123456789", 1);
	for (size_t i = 0; i < sizeof(vers) / sizeof(vers[0]); i++)
		if (selected(only, "verify", vers[i]))
			bench_verify(vers[i], seconds, out);
	for (size_t i = 0; i < sizeof(signs) / sizeof(signs[0]); i++)
		if (selected(only, "sign", signs[i]))
			bench_sign(dir, signs[i], seconds, out);
	if (json_dumpf(out, stdout, JSON_INDENT(1)) != 0)
		return 1;
	putchar('\n');
	json_decref(out);
	return 0;
}
