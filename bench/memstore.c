/* Memory benchmark: resident memory of N live sessions created through the
 * real store (memory or cookie), less the bytes of the tokens they hold. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tsso/config.h"
#include "tsso/crypto.h"
#include "tsso/session.h"

static void die(const char *what, const struct tsso_err *err)
{
	fprintf(stderr, "memstore: %s: %s %s\n", what, err != NULL && err->reason ? err->reason : "",
	        err != NULL ? err->msg : "");
	exit(1);
}

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;

	if (f == NULL || fscanf(f, "%ld %ld", &size, &res) != 2)
		die("statm", NULL);
	fclose(f);
	return res * sysconf(_SC_PAGESIZE);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, mode) != 0)
		die(path, NULL);
}

/* A random base64url-ish string of n characters (a token stand-in: its
 * bytes are what the store must keep, whatever they mean). */
static char *token(size_t n)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[2048];
	char *s = malloc(n + 1);

	if (s == NULL || n > sizeof(raw) || tsso_rand_bytes(raw, n) < 0)
		die("token", NULL);
	for (size_t i = 0; i < n; i++)
		s[i] = abc[raw[i] & 63];
	s[n] = '\0';
	return s;
}

/* Sizes of a typical login: an RS256 ID token with profile claims, an
 * opaque access token, a cached ES256 embed token. */
#define ID_TOKEN_LEN     820
#define ACCESS_TOKEN_LEN 43
#define EMBED_TOKEN_LEN  640

static struct tsso_session *make_session(long i)
{
	struct tsso_session *s = tsso_session_new();
	char sub[64], sid[64];
	long long now = (long long)time(NULL);

	if (s == NULL)
		die("session_new", NULL);
	snprintf(sub, sizeof(sub), "user-%08ld", i);
	snprintf(sid, sizeof(sid), "sid-%08ld-0000-0000-0000", i);
	if (tsso_session_set(&s->tenant, "acme") < 0 ||
	    tsso_session_set(&s->iss, "https://login.acme.example") < 0 ||
	    tsso_session_set(&s->sub, sub) < 0 || tsso_session_set(&s->sid, sid) < 0)
		die("session_set", NULL);
	s->id_token = token(ID_TOKEN_LEN);
	s->access_token = token(ACCESS_TOKEN_LEN);
	s->access_exp = now + 3600;
	s->embed_token = token(EMBED_TOKEN_LEN);
	s->embed_exp = now + 300;
	s->identity = json_pack("{s:s, s:s, s:b, s:[s], s:{}, s:{s:s}}", "username", sub,
	                        "workspace_id", "acme", "admin", 0, "groups", "finance",
	                        "privileges", "attributes", "region", "EMEA");
	return s;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *store_kind = "memory";
	long n = 100000;
	char path[4096], text[1024];
	struct tsso_problems problems = {0};
	struct tsso_err err = {0};
	struct tsso_config *cfg;
	struct tsso_store *st;
	long before, after;
	size_t cookie_bytes = 0;
	double per, tokens;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--dir") == 0) {
			dir = argv[i + 1];
		} else if (strcmp(argv[i], "--store") == 0) {
			store_kind = argv[i + 1];
		} else if (strcmp(argv[i], "--sessions") == 0) {
			char *end = NULL;
			n = strtol(argv[i + 1], &end, 10);
			if (end == NULL || *end != '\0' || n < 1 || n > 10000000)
				die("--sessions: 1..10000000", NULL);
		} else {
			die("usage: memstore --dir D [--store memory|cookie] [--sessions N]", NULL);
		}
	}
	if (dir == NULL || (strcmp(store_kind, "memory") != 0 && strcmp(store_kind, "cookie") != 0))
		die("usage: memstore --dir D [--store memory|cookie] [--sessions N]", NULL);

	snprintf(path, sizeof(path), "%s/tenants.d", dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		die(path, NULL);
	snprintf(path, sizeof(path), "%s/tenants.d/acme.json", dir);
	write_file(path,
	           "{\"issuer\":\"https://login.acme.example\",\"client_id\":\"bench\","
	           "\"client_secret_env\":\"BENCH_UNUSED\",\"embed\":{\"scheme\":\"signed_jwt\","
	           "\"issuer\":\"bench\",\"audience\":\"https://oauth.toucan.example/acme/oauth/"
	           "oauth-token\",\"workspace_id\":\"acme\"}}\n",
	           0600);
	snprintf(path, sizeof(path), "%s/session.key", dir);
	write_file(path, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
	snprintf(text, sizeof(text),
	         "{\"mode\":\"development\",\"listen\":\"127.0.0.1:1\",\"public_url\":"
	         "\"http://127.0.0.1:1\",\"tenants_dir\":\"tenants.d\",\"session\":{\"store\":"
	         "\"%s\",\"secret_file\":\"session.key\",\"memory_max_sessions\":%ld},"
	         "\"embed\":{\"keys_dir\":\"keys\"}}\n",
	         store_kind, n < 100 ? 100 : n);
	snprintf(path, sizeof(path), "%s/toucan-sso.json", dir);
	write_file(path, text, 0600);
	setenv("BENCH_UNUSED", "unused-client-secret-0123456789", 1);
	cfg = tsso_config_load(path, &problems);
	if (cfg == NULL) {
		for (size_t i = 0; i < problems.n; i++)
			fprintf(stderr, "memstore: %s\n", problems.v[i]);
		return 1;
	}
	st = tsso_store_new(cfg, &err);
	if (st == NULL)
		die("store_new", &err);

	/* The baseline is taken after the first session, so that what the store
	 * and the allocator set up once does not count per session. */
	before = rss_bytes();
	for (long i = 0; i < n; i++) {
		struct tsso_session *s = make_session(i);
		char *cookie = NULL;

		if (tsso_store_session_create(st, s, &cookie, &err) != 0)
			die("session_create", &err);
		if (i == 0)
			cookie_bytes = strlen(cookie);
		free(cookie);
		tsso_session_free(s);
		if (i == 0)
			before = rss_bytes();
	}
	after = rss_bytes();

	per = (double)(after - before) / (double)(n - 1 > 0 ? n - 1 : 1);
	/* Tokens the server keeps: everything for the memory store, nothing for
	 * the cookie store (the browser keeps the sealed record). */
	tokens = strcmp(store_kind, "memory") == 0
	             ? (double)(ID_TOKEN_LEN + ACCESS_TOKEN_LEN + EMBED_TOKEN_LEN)
	             : 0.0;
	printf("{\"store\":\"%s\",\"sessions\":%ld,\"rss_before_kib\":%ld,\"rss_after_kib\":%ld,"
	       "\"rss_delta_kib\":%ld,\"bytes_per_session\":%.1f,\"token_bytes_per_session\":%.0f,"
	       "\"overhead_bytes_per_session\":%.1f,\"cookie_bytes\":%zu,"
	       "\"cookie_overhead_bytes\":%ld}\n",
	       store_kind, n, before / 1024, after / 1024, (after - before) / 1024, per, tokens,
	       per - tokens, strcmp(store_kind, "cookie") == 0 ? cookie_bytes : (size_t)0,
	       strcmp(store_kind, "cookie") == 0
	           ? (long)cookie_bytes - (ID_TOKEN_LEN + ACCESS_TOKEN_LEN + EMBED_TOKEN_LEN)
	           : 0L);
	tsso_store_free(st);
	tsso_config_free(cfg);
	tsso_problems_free(&problems);
	return 0;
}
