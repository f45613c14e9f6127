/* Unit tests for the Toucan AI token API client and the JWT-bearer exchange,
 * against a scripted HTTP server on 127.0.0.1: request shape, answer
 * parsing, retries only on 5xx/timeouts with bounded backoff, the circuit
 * breaker, connection reuse, and the API key kept out of logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "../../src/embed/embed_int.h"
#include "embed_test_util.h"
#include "tsso/embed.h"
#include "tsso/identity.h"
#include "tsso/limits.h"
#include "tsso/log.h"

#define CANARY "canary-KEY-7f3a9c1e5b"

static struct srv S;

struct api_fx {
	struct tsso_config cfg;
	struct tsso_tenant_cfg t;
	struct tsso_embed_opts o;
	struct tsso_embed_client *c;
	struct tsso_identity *id;
	char url[64];
};

static void fx_init(struct api_fx *f, int threshold)
{
	struct tsso_err err = {0};

	memset(f, 0, sizeof(*f));
	f->cfg.mode = TSSO_MODE_DEVELOPMENT; /* http:// to loopback */
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/", S.port);
	f->t.id = (char *)"acme";
	f->t.embed.scheme = TSSO_EMBED_API;
	f->t.embed.toucan_url = f->url;
	f->t.embed.api_key.value = (char *)CANARY;
	f->o.connect_timeout_ms = 500;
	f->o.total_timeout_ms = 300;
	f->o.backoff_base_ms = 20;
	f->o.backoff_max_ms = 60;
	f->o.breaker_threshold = threshold;
	f->o.breaker_cooldown_ms = 500;
	f->c = tsso_embed_client_new(&f->cfg, &f->t, NULL, &f->o, &err);
	assert_non_null(f->c);
	f->id = tsso_identity_new();
	f->id->username = strdup("alice@acme.example");
	json_object_set_new(f->id->attributes, "country", json_string("FR"));
}

static void fx_free(struct api_fx *f)
{
	tsso_embed_client_free(f->c);
	tsso_identity_free(f->id);
}

static int mint(struct api_fx *f, struct tsso_embed_token *tok, struct tsso_err *err)
{
	return tsso_embed_mint(f->c, f->id, (long long)time(NULL), tok, err);
}

static void test_request_and_answer(void **state)
{
	static const struct srv_answer ok[] = {
	    {200, "{\"token\":\"tok-abc.def\",\"expiresIn\":\"1h\"}", 0}};
	struct api_fx f;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	json_t *body;
	(void)state;

	srv_reset(&S, ok, 1);
	fx_init(&f, 5);
	assert_int_equal(mint(&f, &tok, &err), 0);
	assert_string_equal(tok.token, "tok-abc.def");
	assert_int_equal(tok.expires_in, 3600);
	assert_int_equal(srv_requests(&S), 1);
	/* Exactly Toucan's documented call. */
	assert_true(strncmp(S.last, "POST /embed/generate-token HTTP/1.1\r\n", 37) == 0);
	assert_non_null(strcasestr(S.last, "\r\nx-api-key: " CANARY "\r\n"));
	assert_non_null(strcasestr(S.last, "\r\ncontent-type: application/json\r\n"));
	body = json_loads(S.bodies[0], JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(body);
	assert_int_equal(json_object_size(body), 1);
	{
		json_t *u = json_object_get(body, "user");
		assert_string_equal(json_string_value(json_object_get(u, "distinctId")),
		                    "alice@acme.example");
		assert_string_equal(json_string_value(json_object_get(u, "role")), "explorer");
		assert_string_equal(
		    json_string_value(json_object_get(json_object_get(u, "attributes"), "country")),
		    "FR");
	}
	json_decref(body);
	tsso_embed_token_clear(&tok);

	/* A second call reuses the connection. */
	assert_int_equal(mint(&f, &tok, &err), 0);
	tsso_embed_token_clear(&tok);
	assert_int_equal(tsso_embed_client_connects(f.c), 1);
	fx_free(&f);
}

static void test_retry_5xx_then_ok(void **state)
{
	static const struct srv_answer script[] = {
	    {503, "{}", 0}, {500, "{}", 0}, {200, "{\"token\":\"t2\",\"expires_in\":120}", 0}};
	struct api_fx f;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	double t0;
	(void)state;

	srv_reset(&S, script, 3);
	fx_init(&f, 5);
	t0 = now_mono();
	assert_int_equal(mint(&f, &tok, &err), 0);
	assert_string_equal(tok.token, "t2");
	assert_int_equal(tok.expires_in, 120);
	assert_int_equal(srv_requests(&S), 3);
	/* Two backoffs of at most 20 and 40 ms (plus the calls). */
	assert_true(now_mono() - t0 < 1.0);
	tsso_embed_token_clear(&tok);
	fx_free(&f);
}

static void test_retries_bounded(void **state)
{
	static const struct srv_answer script[] = {{503, "{}", 0}};
	struct api_fx f;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	(void)state;

	srv_reset(&S, script, 1);
	fx_init(&f, 50);
	/* Asking for more retries than the maximum gets the maximum. */
	tsso_embed_client_free(f.c);
	f.o.max_retries = 10;
	f.c = tsso_embed_client_new(&f.cfg, &f.t, NULL, &f.o, &err);
	assert_int_equal(mint(&f, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.toucan_unavailable");
	assert_int_equal(tsso_embed_err_status(&err), 503);
	assert_int_equal(srv_requests(&S), 1 + TSSO_EMBED_MAX_RETRIES);
	/* Toucan's Retry-After (7 s) becomes our hint while the breaker is closed. */
	assert_int_equal(tsso_embed_client_retry_after(f.c), 7);
	assert_null(tok.token);
	fx_free(&f);
}

static void test_4xx_not_retried(void **state)
{
	static const int codes[] = {400, 401, 403, 404, 422, 429};
	(void)state;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct srv_answer a = {codes[i], "{\"error\":\"nope\"}", 0};
		struct api_fx f;
		struct tsso_embed_token tok = {0};
		struct tsso_err err = {0};

		srv_reset(&S, &a, 1);
		fx_init(&f, 5);
		assert_int_equal(mint(&f, &tok, &err), -1);
		assert_string_equal(err.reason, "embed.toucan_refused");
		assert_int_equal(tsso_embed_err_status(&err), 502);
		assert_int_equal(srv_requests(&S), 1);
		fx_free(&f);
	}
}

static void test_timeout_retried(void **state)
{
	static const struct srv_answer script[] = {{200, "{\"token\":\"late\"}", 600}};
	struct api_fx f;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	double t0;
	(void)state;

	srv_reset(&S, script, 1);
	fx_init(&f, 5);
	t0 = now_mono();
	assert_int_equal(mint(&f, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.toucan_unavailable");
	assert_non_null(strstr(err.msg, "fetch.timeout"));
	assert_int_equal(srv_requests(&S), 3);
	/* 3 attempts of 300 ms plus backoff: bounded well under 2 s. */
	assert_true(now_mono() - t0 < 2.0);
	fx_free(&f);
}

static void test_breaker_opens_and_recovers(void **state)
{
	static const struct srv_answer down[] = {{503, "{}", 0}};
	static const struct srv_answer up[] = {{200, "{\"token\":\"back\"}", 0}};
	struct api_fx f;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	(void)state;

	srv_reset(&S, down, 1);
	fx_init(&f, 3);
	assert_int_equal(mint(&f, &tok, &err), -1); /* 3 failures: opens */
	assert_string_equal(err.reason, "embed.toucan_unavailable");
	assert_int_equal(srv_requests(&S), 3);
	assert_int_equal(mint(&f, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.circuit_open");
	assert_int_equal(tsso_embed_err_status(&err), 503);
	assert_int_equal(srv_requests(&S), 3); /* nothing went out */
	assert_int_equal(tsso_embed_client_retry_after(f.c), 1);

	/* After the cool-down one probe goes out; it fails: open again. */
	srv_sleep_ms(520);
	assert_int_equal(mint(&f, &tok, &err), -1);
	assert_int_equal(srv_requests(&S), 4);
	assert_int_equal(mint(&f, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.circuit_open");
	assert_int_equal(srv_requests(&S), 4);

	/* Toucan is back: the next probe succeeds and the breaker closes. */
	srv_reset(&S, up, 1);
	srv_sleep_ms(520);
	assert_int_equal(mint(&f, &tok, &err), 0);
	tsso_embed_token_clear(&tok);
	assert_int_equal(mint(&f, &tok, &err), 0);
	tsso_embed_token_clear(&tok);
	assert_int_equal(srv_requests(&S), 2);
	fx_free(&f);
}

/* 4xx answers prove Toucan is up: they never open the breaker. */
static void test_4xx_keeps_breaker_closed(void **state)
{
	static const struct srv_answer script[] = {{401, "{}", 0}};
	struct api_fx f;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	(void)state;

	srv_reset(&S, script, 1);
	fx_init(&f, 2);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(mint(&f, &tok, &err), -1);
		assert_string_equal(err.reason, "embed.toucan_refused");
	}
	assert_int_equal(srv_requests(&S), 4);
	fx_free(&f);
}

static void test_connection_refused(void **state)
{
	struct api_fx f;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	(void)state;

	/* A port nobody listens on. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	fx_init(&f, 5);
	snprintf(f.url, sizeof(f.url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	tsso_embed_client_free(f.c);
	f.c = tsso_embed_client_new(&f.cfg, &f.t, NULL, &f.o, &err);
	assert_int_equal(mint(&f, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.toucan_unavailable");
	close(fd);
	fx_free(&f);
}

/* The API key never reaches a log line or an error text. */
static void test_api_key_not_logged(void **state)
{
	static const struct srv_answer script[] = {
	    {503, "{}", 0}, {200, "{\"token\":\"t\"}", 0}, {401, "{}", 0}, {200, "junk", 0}};
	struct api_fx f;
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	struct capture cap;
	char *log;
	(void)state;

	tsso_log_setup(TSSO_LOG_DEBUG, true);
	srv_reset(&S, script, 4);
	capture_start(&cap);
	fx_init(&f, 5);
	assert_int_equal(mint(&f, &tok, &err), 0);
	tsso_embed_token_clear(&tok);
	assert_int_equal(mint(&f, &tok, &err), -1);
	assert_null(strstr(err.msg, CANARY));
	assert_int_equal(mint(&f, &tok, &err), -1);
	assert_null(strstr(err.msg, CANARY));
	fx_free(&f);
	log = capture_stop(&cap);
	tsso_log_setup(TSSO_LOG_WARN, true);
	assert_non_null(strstr(log, "embed.minted")); /* the capture did work */
	assert_null(strstr(log, CANARY));
	assert_null(strstr(log, "\"t\""));
	free(log);
}

static void test_parse(void **state)
{
	static const struct {
		const char *body;
		long want; /* expires_in, or -1 for a refusal */
	} v[] = {
	    {"{\"token\":\"a\"}", TSSO_EMBED_API_TTL_DEFAULT},
	    {"{\"token\":\"a\",\"expiresIn\":\"1h\"}", 3600},
	    {"{\"token\":\"a\",\"expiresIn\":\"30m\"}", 1800},
	    {"{\"token\":\"a\",\"expiresIn\":\"45s\"}", 45},
	    {"{\"token\":\"a\",\"expiresIn\":\"2d\"}", TSSO_EMBED_API_TTL_MAX},
	    {"{\"token\":\"a\",\"expiresIn\":900}", 900},
	    {"{\"token\":\"a\",\"expiresIn\":\"900\"}", 900},
	    {"{\"token\":\"a\",\"expires_in\":600}", 600},
	    {"{\"token\":\"a\",\"expires_at\":1000500}", 500},
	    {"{\"token\":\"a\",\"expires_at\":1000500,\"expires_in\":9}", 500},
	    {"{\"token\":\"a\",\"expires_in\":9999999}", TSSO_EMBED_API_TTL_MAX},
	    {"{\"token\":\"a\",\"expiresIn\":\"1x\"}", -1},
	    {"{\"token\":\"a\",\"expiresIn\":\"-5\"}", -1},
	    {"{\"token\":\"a\",\"expiresIn\":\"h\"}", -1},
	    {"{\"token\":\"a\",\"expiresIn\":0}", -1},
	    {"{\"token\":\"a\",\"expiresIn\":true}", -1},
	    {"{\"token\":\"a\",\"expires_in\":\"60\"}", -1},
	    {"{\"token\":\"a\",\"expires_at\":999999}", -1},
	    {"{\"token\":\"\"}", -1},
	    {"{\"token\":\"a b\"}", -1},
	    {"{\"token\":\"a\\u0000b\"}", -1},
	    {"{\"token\":\"a\\\"><script>\"}", -1},
	    {"{\"token\":\"eyJ.a-b_c.d~e+f/g==\"}", 3600},
	    {"{\"token\":42}", -1},
	    {"{\"token\":\"a\",\"token\":\"b\"}", -1},
	    {"[\"token\"]", -1},
	    {"not json", -1},
	    {"", -1},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct tsso_embed_token tok = {0};
		struct tsso_err err = {0};
		int rc = tsso_embed_api_parse(v[i].body, strlen(v[i].body), 1000000, &tok, &err);

		if (v[i].want < 0) {
			assert_int_equal(rc, -1);
			assert_string_equal(err.reason, "embed.toucan_unavailable");
			assert_null(tok.token);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(tok.expires_in, v[i].want);
			assert_int_equal(tok.expires_at, 1000000 + v[i].want);
			assert_true(strncmp(tok.jti, "sha256:", 7) == 0);
			tsso_embed_token_clear(&tok);
		}
	}
}

/* Toucan 3.0 exchange: RFC 7523 grant, Basic client auth, opaque token. */
static void test_exchange(void **state)
{
	static const struct srv_answer script[] = {
	    {503, "{}", 0},
	    {200, "{\"access_token\":\"opaque-1\",\"token_type\":\"Bearer\",\"expires_in\":240}",
	     0}};
	static const struct srv_answer refused[] = {{400, "{\"error\":\"invalid_grant\"}", 0}};
	char *dir = tmpdir_new(), url[96];
	struct tsso_config cfg = {0};
	struct tsso_tenant_cfg t = {0};
	struct tsso_embed_keystore *ks;
	struct tsso_embed_client *c;
	struct tsso_identity *id = tsso_identity_new();
	struct tsso_embed_token tok = {0};
	struct tsso_err err = {0};
	struct tsso_embed_opts o = {.backoff_base_ms = 10, .backoff_max_ms = 20};
	long long now = (long long)time(NULL);
	char *a1, *a2;
	(void)state;

	assert_int_equal(tsso_embed_keys_generate(dir, "ES256", now - 5, NULL, &err), 0);
	ks = tsso_embed_keystore_load(dir, now, &err);
	cfg.mode = TSSO_MODE_DEVELOPMENT;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/acme/oauth/oauth-token", S.port);
	t.id = (char *)"acme";
	t.embed.scheme = TSSO_EMBED_SIGNED_JWT;
	t.embed.issuer = (char *)"iss";
	t.embed.audience = url;
	t.embed.workspace_id = (char *)"ws";
	t.embed.token_url = url;
	t.embed.embed_client_secret.value = (char *)"s3cr:t";
	id->username = strdup("alice");
	c = tsso_embed_client_new(&cfg, &t, ks, &o, &err);
	assert_non_null(c);

	srv_reset(&S, script, 2);
	assert_int_equal(tsso_embed_mint(c, id, now, &tok, &err), 0);
	assert_string_equal(tok.token, "opaque-1");
	assert_int_equal(tok.expires_in, 240);
	assert_int_equal(srv_requests(&S), 2);
	assert_true(strncmp(S.last, "POST /acme/oauth/oauth-token HTTP/1.1\r\n", 39) == 0);
	/* base64("toucan-embed-client:s3cr%3At"), RFC 6749 §2.3.1 encoding. */
	assert_non_null(strcasestr(
	    S.last, "\r\nAuthorization: Basic dG91Y2FuLWVtYmVkLWNsaWVudDpzM2NyJTNBdA==\r\n"));
	assert_non_null(
	    strcasestr(S.last, "\r\ncontent-type: application/x-www-form-urlencoded\r\n"));
	a1 = S.bodies[0];
	a2 = S.bodies[1];
	assert_true(strncmp(a2,
	                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
	                    "&assertion=",
	                    75) == 0);
	assert_non_null(strstr(a2, "&scope=embed"));
	/* The retry carried a fresh assertion (new jti), not a replay. */
	assert_string_not_equal(a1, a2);
	tsso_embed_token_clear(&tok);

	srv_reset(&S, refused, 1);
	assert_int_equal(tsso_embed_mint(c, id, now, &tok, &err), -1);
	assert_string_equal(err.reason, "embed.toucan_refused");
	assert_non_null(strstr(err.msg, "invalid_grant"));
	assert_null(strstr(err.msg, "s3cr"));
	assert_int_equal(srv_requests(&S), 1);

	tsso_embed_client_free(c);
	tsso_embed_keystore_free(ks);
	tsso_identity_free(id);
	tmpdir_free(dir);
}

static void test_duration_parse(void **state)
{
	(void)state;
	assert_int_equal(tsso_embed_duration_parse("1h"), 3600);
	assert_int_equal(tsso_embed_duration_parse("15m"), 900);
	assert_int_equal(tsso_embed_duration_parse("3600"), 3600);
	assert_int_equal(tsso_embed_duration_parse("1d"), 86400);
	assert_int_equal(tsso_embed_duration_parse("1H"), -1);
	assert_int_equal(tsso_embed_duration_parse("1h30m"), -1);
	assert_int_equal(tsso_embed_duration_parse(" 1h"), -1);
	assert_int_equal(tsso_embed_duration_parse(""), -1);
	assert_int_equal(tsso_embed_duration_parse("99999999999h"), -1);
}

static void test_misconfigured(void **state)
{
	struct tsso_config cfg = {0};
	struct tsso_tenant_cfg t = {0};
	struct tsso_err err = {0};
	(void)state;

	t.id = (char *)"acme";
	t.embed.scheme = TSSO_EMBED_API;
	t.embed.toucan_url = (char *)"https://toucanai.cloud";
	assert_null(tsso_embed_client_new(&cfg, &t, NULL, NULL, &err));
	assert_string_equal(err.reason, "embed.misconfigured");
	/* A key that could start a new header line. */
	t.embed.api_key.value = (char *)"abc\r\nX-Evil: 1";
	assert_null(tsso_embed_client_new(&cfg, &t, NULL, NULL, &err));
	assert_string_equal(err.reason, "embed.misconfigured");
	assert_null(strstr(err.msg, "abc"));
	/* An exchange without the embed client secret. */
	t.embed.scheme = TSSO_EMBED_SIGNED_JWT;
	t.embed.issuer = (char *)"iss";
	t.embed.audience = (char *)"aud";
	t.embed.token_url = (char *)"https://oauth.toucan.example/acme/oauth/oauth-token";
	assert_null(tsso_embed_client_new(&cfg, &t, NULL, NULL, &err));
	assert_string_equal(err.reason, "embed.misconfigured");
}

static int setup(void **state)
{
	(void)state;
	return srv_start(&S);
}

static int teardown(void **state)
{
	(void)state;
	srv_stop(&S);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_and_answer),
	    cmocka_unit_test(test_retry_5xx_then_ok),
	    cmocka_unit_test(test_retries_bounded),
	    cmocka_unit_test(test_4xx_not_retried),
	    cmocka_unit_test(test_timeout_retried),
	    cmocka_unit_test(test_breaker_opens_and_recovers),
	    cmocka_unit_test(test_4xx_keeps_breaker_closed),
	    cmocka_unit_test(test_connection_refused),
	    cmocka_unit_test(test_api_key_not_logged),
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_exchange),
	    cmocka_unit_test(test_duration_parse),
	    cmocka_unit_test(test_misconfigured),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tsso_log_setup(TSSO_LOG_WARN, true);
	rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
