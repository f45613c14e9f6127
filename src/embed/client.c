/* The per-tenant embed client: scheme dispatch, token cache policy, HTTP
 * mapping of failures, and the development-mode mint. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embed_int.h"
#include "tsso/clock.h"
#include "tsso/crypto.h"
#include "tsso/jsonw.h"

#define TOUCAN_AI_TOKEN_PATH "/embed/generate-token"
#define RETRY_AFTER_DEFAULT  5

static void opts_defaults(struct tsso_embed_opts *o, const struct tsso_embed_opts *in)
{
	if (in != NULL)
		*o = *in;
	else
		memset(o, 0, sizeof(*o));
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = TSSO_EMBED_CONNECT_TIMEOUT_MS;
	if (o->total_timeout_ms <= 0)
		o->total_timeout_ms = TSSO_EMBED_TOTAL_TIMEOUT_MS;
	if (o->max_retries == 0 || o->max_retries > TSSO_EMBED_MAX_RETRIES)
		o->max_retries = TSSO_EMBED_MAX_RETRIES;
	if (o->max_retries < 0)
		o->max_retries = 0;
	if (o->backoff_base_ms <= 0)
		o->backoff_base_ms = TSSO_EMBED_BACKOFF_BASE_MS;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = TSSO_EMBED_BACKOFF_MAX_MS;
	if (o->breaker_threshold <= 0)
		o->breaker_threshold = TSSO_EMBED_BREAKER_THRESHOLD;
	if (o->breaker_cooldown_ms <= 0)
		o->breaker_cooldown_ms = TSSO_EMBED_BREAKER_COOLDOWN_MS;
}

/* A header value must not be able to start a new header line. */
static bool header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

static char *api_url(const char *base)
{
	size_t n = strlen(base);
	char *u;

	while (n > 0 && base[n - 1] == '/')
		n--;
	u = malloc(n + sizeof(TOUCAN_AI_TOKEN_PATH));
	if (u != NULL) {
		memcpy(u, base, n);
		memcpy(u + n, TOUCAN_AI_TOKEN_PATH, sizeof(TOUCAN_AI_TOKEN_PATH));
	}
	return u;
}

struct tsso_embed_client *tsso_embed_client_new(const struct tsso_config *cfg,
                                                const struct tsso_tenant_cfg *t,
                                                const struct tsso_embed_keystore *ks,
                                                const struct tsso_embed_opts *opts,
                                                struct tsso_err *err)
{
	struct tsso_embed_client *c = calloc(1, sizeof(*c));
	const struct tsso_embed_cfg *e = &t->embed;
	struct tsso_fetcher_opts fo = {0};
	bool needs_fetcher = false;

	if (c == NULL) {
		tsso_err_set(err, "embed.misconfigured", "out of memory");
		return NULL;
	}
	c->cfg = cfg;
	c->t = t;
	c->ks = ks;
	opts_defaults(&c->opts, opts);
	atomic_init(&c->retry_after, -1);
	tsso_embed_breaker_init(&c->breaker, c->opts.breaker_threshold,
	                        c->opts.breaker_cooldown_ms);
	if ((c->rate = tsso_embed_ratelimit_new(t->embed.rate_burst, t->embed.rate_per_min)) ==
	        NULL ||
	    (c->jti = tsso_rand_pool_new()) == NULL) {
		tsso_err_set(err, "embed.misconfigured", "out of memory");
		goto fail;
	}
	if (e->scheme == TSSO_EMBED_API) {
		if (e->toucan_url == NULL || e->api_key.value == NULL ||
		    !header_safe(e->api_key.value)) {
			tsso_err_set(err, "embed.misconfigured",
			             "tenant %s: the api scheme needs embed.toucan_url and a "
			             "printable API key",
			             t->id);
			goto fail;
		}
		if ((c->api_url = api_url(e->toucan_url)) == NULL) {
			tsso_err_set(err, "embed.misconfigured", "out of memory");
			goto fail;
		}
		needs_fetcher = true;
	} else {
		if (e->issuer == NULL || e->audience == NULL) {
			tsso_err_set(err, "embed.misconfigured",
			             "tenant %s: the signed_jwt scheme needs embed.issuer and "
			             "embed.audience",
			             t->id);
			goto fail;
		}
		if (e->token_url != NULL && e->embed_client_secret.value == NULL) {
			tsso_err_set(err, "embed.misconfigured",
			             "tenant %s: embed.token_url needs the embed client secret",
			             t->id);
			goto fail;
		}
		needs_fetcher = e->token_url != NULL;
	}
	if (needs_fetcher) {
		fo.connect_timeout_ms = c->opts.connect_timeout_ms;
		fo.total_timeout_ms = c->opts.total_timeout_ms;
		fo.allow_http_loopback = cfg != NULL && cfg->mode == TSSO_MODE_DEVELOPMENT;
		c->fetcher = tsso_fetcher_new(&fo, err);
		if (c->fetcher == NULL)
			goto fail;
	}
	return c;
fail:
	tsso_embed_client_free(c);
	return NULL;
}

void tsso_embed_client_free(struct tsso_embed_client *c)
{
	if (c == NULL)
		return;
	tsso_fetcher_free(c->fetcher);
	tsso_embed_breaker_destroy(&c->breaker);
	tsso_embed_ratelimit_free(c->rate);
	tsso_rand_pool_free(c->jti);
	free(c->api_url);
	free(c);
}

bool tsso_embed_mint_is_local(const struct tsso_embed_client *c)
{
	return c->t->embed.scheme == TSSO_EMBED_SIGNED_JWT && c->t->embed.token_url == NULL;
}

int tsso_embed_mint(struct tsso_embed_client *c, const struct tsso_identity *id, long long now,
                    struct tsso_embed_token *ret, struct tsso_err *err)
{
	struct tsso_embed_token tok;
	const char *kid = NULL, *scheme;
	int rc;

	memset(&tok, 0, sizeof(tok));
	if (c->t->embed.scheme == TSSO_EMBED_API) {
		scheme = "api";
		rc = tsso_embed_api_mint(c, id, now, &tok, err);
	} else if (c->t->embed.token_url != NULL) {
		scheme = "signed_jwt+exchange";
		rc = tsso_embed_exchange(c, id, now, &tok, &kid, err);
	} else {
		scheme = "signed_jwt";
		rc = tsso_embed_jwt_sign(c, id, now, &tok, &kid, err);
	}
	if (rc < 0)
		return -1;
	tsso_embed_audit(c->t, scheme, kid, id, &tok);
	*ret = tok;
	return 0;
}

void tsso_embed_token_clear(struct tsso_embed_token *t)
{
	if (t == NULL)
		return;
	tsso_free_secret(t->token);
	memset(t, 0, sizeof(*t));
}

json_t *tsso_embed_token_json(const struct tsso_embed_token *t, long long now)
{
	long long left = t->expires_at - now;

	if (t->token == NULL)
		return NULL;
	return json_pack("{s:s, s:I, s:I}", "token", t->token, "expires_at",
	                 (json_int_t)t->expires_at, "expires_in",
	                 (json_int_t)(left > 0 ? left : 0));
}

int tsso_embed_token_write(struct tsso_buf *out, const struct tsso_embed_token *t, long long now)
{
	long long left = t->expires_at - now;
	struct tsso_jsonw w;

	if (t->token == NULL)
		return -1;
	tsso_jsonw_init(&w, out);
	tsso_jsonw_obj_begin(&w);
	tsso_jsonw_key(&w, "token");
	tsso_jsonw_str(&w, t->token);
	tsso_jsonw_key(&w, "expires_at");
	tsso_jsonw_int(&w, t->expires_at);
	tsso_jsonw_key(&w, "expires_in");
	tsso_jsonw_int(&w, left > 0 ? left : 0);
	tsso_jsonw_obj_end(&w);
	return tsso_jsonw_finish(&w, NULL);
}

bool tsso_embed_should_remint(long long iat, long long exp, long long now)
{
	long long life = exp - iat;

	if (life <= 0 || now < iat - TSSO_CLOCK_LEEWAY_DEFAULT || now >= exp)
		return true;
	/* Re-mint once two thirds are spent: the page still has a third of the
	 * life to swap tokens, and page loads reuse the cached one meanwhile. */
	return (now - iat) * 3 >= life * 2;
}

int tsso_embed_err_status(const struct tsso_err *err)
{
	const char *r = tsso_err_reason(err);

	if (strcmp(r, "embed.toucan_unavailable") == 0 || strcmp(r, "embed.circuit_open") == 0)
		return 503;
	if (strcmp(r, "embed.toucan_refused") == 0)
		return 502;
	return 500;
}

long tsso_embed_client_retry_after(struct tsso_embed_client *c)
{
	long ms = tsso_embed_breaker_wait_ms(&c->breaker, tsso_now_mono());
	long hint = atomic_load(&c->retry_after);

	if (ms > 0)
		return (ms + 999) / 1000;
	if (hint > 0 && hint <= 300)
		return hint;
	return RETRY_AFTER_DEFAULT;
}

long tsso_embed_client_rate_take(struct tsso_embed_client *c, const void *key, size_t key_len)
{
	return tsso_embed_ratelimit_take(c->rate, key, key_len, tsso_now_mono());
}

unsigned long tsso_embed_client_connects(const struct tsso_embed_client *c)
{
	return c->fetcher != NULL ? tsso_fetcher_connects(c->fetcher) : 0;
}

/* --- development mode --- */

int tsso_embed_dev_check(const struct tsso_config *cfg, struct tsso_err *err)
{
	/* A token minted without SSO bypasses the IdP: never in production. */
	if (cfg == NULL || cfg->mode != TSSO_MODE_DEVELOPMENT)
		return tsso_err_set(err, "embed.production_mode",
		                    "minting without sign-in needs \"mode\": \"development\"");
	return 0;
}

static json_t *load_claims(const char *path, struct tsso_err *err)
{
	json_error_t jerr;
	json_t *j;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	FILE *f;

	if (fd < 0) {
		tsso_err_set(err, "embed.claims_file", "cannot open %s", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TSSO_CFG_MAX_FILE) {
		close(fd);
		tsso_err_set(err, "embed.claims_file", "%s: not a file of at most %d bytes", path,
		             TSSO_CFG_MAX_FILE);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		tsso_err_set(err, "embed.claims_file", "cannot open %s", path);
		return NULL;
	}
	j = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (!json_is_object(j)) {
		tsso_err_set(err, "embed.claims_file", "%s: not a JSON object (line %d)", path,
		             jerr.line);
		json_decref(j);
		return NULL;
	}
	return j;
}

int tsso_embed_dev_mint(const struct tsso_config *cfg, const struct tsso_tenant_cfg *t,
                        const struct tsso_embed_keystore *ks, const char *claims_file,
                        tsso_embed_map_fn map, void *map_ctx, long long now,
                        struct tsso_embed_token *ret, struct tsso_err *err)
{
	struct tsso_embed_client *c = NULL;
	struct tsso_identity *id = NULL;
	json_t *claims = NULL;
	int rc = -1;

	if (tsso_embed_dev_check(cfg, err) < 0)
		return -1;
	if ((claims = load_claims(claims_file, err)) == NULL)
		goto out;
	id = map != NULL ? map(map_ctx, t, claims, err) : tsso_identity_from_json(claims);
	if (id == NULL) {
		if (map == NULL)
			tsso_err_set(err, "embed.claims_file", "%s is not an embed identity",
			             claims_file);
		goto out;
	}
	if ((c = tsso_embed_client_new(cfg, t, ks, NULL, err)) == NULL)
		goto out;
	rc = tsso_embed_mint(c, id, now, ret, err);
out:
	tsso_embed_client_free(c);
	tsso_identity_free(id);
	json_decref(claims);
	return rc;
}
