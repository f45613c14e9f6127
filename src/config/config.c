/* The main configuration file: parse, check, load every tenant. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_int.h"
#include "tsso/buf.h"
#include "tsso/limits.h"
#include "tsso/log.h"

static const char *const main_keys[] = {"mode",  "listen", "public_url", "tenants_dir", "session",
                                        "embed", "log",    "http",       "presets_dir", NULL};
static const char *const session_keys[] = {"store",
                                           "secret_file",
                                           "redis_url",
                                           "redis_key_prefix",
                                           "redis_password",
                                           "redis_password_file",
                                           "redis_password_env",
                                           "redis_pool_size",
                                           "redis_ca_file",
                                           "inactivity_timeout",
                                           "max_duration",
                                           "cookie_name",
                                           "memory_max_sessions",
                                           NULL};
static const char *const embed_keys[] = {"keys_dir", "alg", "ttl", "rotation_overlap", NULL};
static const char *const log_keys[] = {"level", "format", NULL};
static const char *const http_keys[] = {"threads",    "max_connections", "connection_timeout",
                                        "max_per_ip", "shutdown_grace",  NULL};
static const char *const modes[] = {"production", "development", NULL};
static const char *const stores[] = {"cookie", "memory", "redis", NULL};
static const char *const embed_algs[] = {"RS512", "RS256", "PS256", "ES256", "EdDSA", NULL};

/* Read a whole JSON file, size-bounded, duplicate keys refused. */
static json_t *load_json(const char *path, struct tsso_problems *problems)
{
	json_error_t jerr;
	struct stat st;
	json_t *j;

	if (stat(path, &st) != 0) {
		tsso_problems_add(problems, path, "-", "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > TSSO_CFG_MAX_FILE) {
		tsso_problems_add(problems, path, "-", "not a regular file of at most %d bytes",
		                  TSSO_CFG_MAX_FILE);
		return NULL;
	}
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		tsso_problems_add(problems, path, "-", "invalid JSON at line %d column %d: %s",
		                  jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		tsso_problems_add(problems, path, "-", "must be a JSON object");
		json_decref(j);
		return NULL;
	}
	return j;
}

/* "host:port", "[v6]:port" or ":port" (all addresses). */
static bool parse_listen(struct cfg_ctx *c, const char *s, struct tsso_config *cfg)
{
	const char *colon = strrchr(s, ':');
	char *end = NULL;
	long port;
	size_t hl;

	if (colon == NULL || colon[1] == '\0')
		goto bad;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 0 || port > 65535)
		goto bad;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	} else if (memchr(s, ':', hl) != NULL) {
		goto bad;
	}
	cfg->listen_host = hl ? strndup(s, hl) : strdup("0.0.0.0");
	cfg->listen_port = (unsigned short)port;
	return cfg->listen_host != NULL;
bad:
	cfg_problem(c, "", "listen", "must be HOST:PORT, e.g. \"127.0.0.1:8080\"");
	return false;
}

/* Split public_url into origin and base path. */
static void parse_public_url(struct cfg_ctx *c, struct tsso_config *cfg)
{
	const char *why = NULL, *host, *path;
	size_t n;

	if (!cfg_url_ok(c, cfg->public_url, false, &why)) {
		cfg_problem(c, "", "public_url", "%s", why);
		return;
	}
	n = strlen(cfg->public_url);
	while (n > 0 && cfg->public_url[n - 1] == '/')
		cfg->public_url[--n] = '\0';
	cfg->public_https = strncmp(cfg->public_url, "https://", 8) == 0;
	host = strstr(cfg->public_url, "://") + 3;
	path = host + strcspn(host, "/");
	cfg->public_origin = strndup(cfg->public_url, (size_t)(path - cfg->public_url));
	cfg->base_path = strdup(path);
	if (strstr(path, "/.") != NULL || strstr(path, "//") != NULL || strchr(path, '%') != NULL)
		cfg_problem(c, "", "public_url", "path must be plain (no dot segments or escapes)");
}

static void parse_session(struct cfg_ctx *c, const json_t *root, struct tsso_config *cfg)
{
	json_t *s = cfg_object(c, root, "", "session");
	const char *P = "session";

	cfg->session.store = TSSO_STORE_COOKIE;
	cfg->session.inactivity_timeout = 1800;
	cfg->session.max_duration = 28800;
	cfg->session.redis_pool_size = 8;
	cfg->session.memory_max_sessions = 1000000;
	cfg->session.redis_key_prefix = strdup("tsso:");
	cfg->session.cookie_name = strdup(cfg->public_https ? "__Secure-tsso" : "tsso");
	if (s == NULL) {
		cfg_problem(c, "", "session.secret_file", "is required");
		return;
	}
	cfg_unknown_keys(c, s, P, session_keys);
	cfg->session.store = (enum tsso_store_kind)cfg_enum(c, s, P, "store", stores, 0);
	if (cfg_path(c, s, P, "secret_file", true, &cfg->session.secret_file))
		(void)cfg_check_secret_file(c, P, "secret_file", cfg->session.secret_file);
	else if (json_object_get(s, "secret_file") == NULL)
		cfg_problem(c, P, "secret_file", "is required (the session keyring)");
	cfg_long(c, s, P, "inactivity_timeout", 60, 30L * 86400, &cfg->session.inactivity_timeout);
	cfg_long(c, s, P, "max_duration", 60, 90L * 86400, &cfg->session.max_duration);
	cfg_long(c, s, P, "redis_pool_size", 1, 256, &cfg->session.redis_pool_size);
	cfg_long(c, s, P, "memory_max_sessions", 100, 100000000L,
	         &cfg->session.memory_max_sessions);
	cfg_str(c, s, P, "redis_key_prefix", false, &cfg->session.redis_key_prefix);
	if (cfg_str(c, s, P, "cookie_name", false, &cfg->session.cookie_name)) {
		for (const char *p = cfg->session.cookie_name; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) {
				cfg_problem(c, P, "cookie_name", "only letters, digits, _ and -");
				break;
			}
	}
	cfg_secret(c, s, P, "redis_password", false, &cfg->session.redis_password);
	if (cfg_str(c, s, P, "redis_url", false, &cfg->session.redis_url)) {
		if (strncmp(cfg->session.redis_url, "redis://", 8) != 0 &&
		    strncmp(cfg->session.redis_url, "rediss://", 9) != 0)
			cfg_problem(c, P, "redis_url",
			            "must be redis://HOST:PORT/DB or rediss://HOST:PORT/DB (TLS)");
	}
	/* The CAs only make sense with TLS: refuse rather than let a plain
	 * redis:// URL look protected. */
	if (cfg_path(c, s, P, "redis_ca_file", true, &cfg->session.redis_ca_file) &&
	    (cfg->session.redis_url == NULL ||
	     strncmp(cfg->session.redis_url, "rediss://", 9) != 0))
		cfg_problem(c, P, "redis_ca_file", "needs a rediss:// redis_url");
	if (cfg->session.store == TSSO_STORE_REDIS && cfg->session.redis_url == NULL)
		cfg_problem(c, P, "redis_url", "is required when store is \"redis\"");
	if (cfg->session.inactivity_timeout > cfg->session.max_duration)
		cfg_problem(c, P, "inactivity_timeout", "must not exceed max_duration");
}

static void parse_embed(struct cfg_ctx *c, const json_t *root, struct tsso_config *cfg)
{
	json_t *e = cfg_object(c, root, "", "embed");
	const char *P = "embed";

	cfg->embed.alg = strdup("RS512");
	cfg->embed.ttl = TSSO_EMBED_TTL_DEFAULT;
	cfg->embed.rotation_overlap = 86400;
	if (e == NULL)
		return;
	cfg_unknown_keys(c, e, P, embed_keys);
	cfg_path(c, e, P, "keys_dir", false, &cfg->embed.keys_dir);
	if (json_object_get(e, "alg") != NULL) {
		int i = cfg_enum(c, e, P, "alg", embed_algs, -1);

		if (i >= 0) {
			free(cfg->embed.alg);
			cfg->embed.alg = strdup(embed_algs[i]);
		}
	}
	cfg_long(c, e, P, "ttl", 30, TSSO_EMBED_TTL_MAX, &cfg->embed.ttl);
	cfg_long(c, e, P, "rotation_overlap", 0, 30L * 86400, &cfg->embed.rotation_overlap);
}

static void parse_misc(struct cfg_ctx *c, const json_t *root, struct tsso_config *cfg)
{
	json_t *l = cfg_object(c, root, "", "log"), *h = cfg_object(c, root, "", "http");
	static const char *const formats[] = {"json", "text", NULL};
	char *level = NULL;

	cfg->log.level = TSSO_LOG_INFO;
	cfg->log.json = true;
	if (l != NULL) {
		cfg_unknown_keys(c, l, "log", log_keys);
		if (cfg_str(c, l, "log", "level", false, &level)) {
			int lv = tsso_log_level_parse(level);

			if (lv < 0)
				cfg_problem(c, "log", "level",
				            "must be debug, info, warn or error");
			else
				cfg->log.level = lv;
			free(level);
		}
		cfg->log.json = cfg_enum(c, l, "log", "format", formats, 0) == 0;
	}
	cfg->http.threads = 0; /* 0: one per core, at least 2 */
	cfg->http.max_connections = TSSO_HTTP_MAX_CONNECTIONS;
	cfg->http.connection_timeout = TSSO_HTTP_CONN_TIMEOUT;
	cfg->http.max_per_ip = TSSO_HTTP_MAX_PER_IP;
	cfg->http.shutdown_grace = TSSO_HTTP_SHUTDOWN_GRACE;
	if (h != NULL) {
		cfg_unknown_keys(c, h, "http", http_keys);
		cfg_long(c, h, "http", "threads", 1, 256, &cfg->http.threads);
		cfg_long(c, h, "http", "max_connections", 1, 65536, &cfg->http.max_connections);
		cfg_long(c, h, "http", "connection_timeout", 1, 3600,
		         &cfg->http.connection_timeout);
		cfg_long(c, h, "http", "max_per_ip", 0, 65536, &cfg->http.max_per_ip);
		cfg_long(c, h, "http", "shutdown_grace", 0, 3600, &cfg->http.shutdown_grace);
	}
}

static int tenant_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tsso_tenant_cfg *)a)->id,
	              ((const struct tsso_tenant_cfg *)b)->id);
}

static void load_tenants(struct cfg_ctx *c, struct tsso_config *cfg)
{
	struct dirent **names = NULL;
	int n;

	if (cfg->tenants_dir == NULL)
		return;
	n = scandir(cfg->tenants_dir, &names, NULL, alphasort);
	if (n < 0) {
		cfg_problem(c, "", "tenants_dir", "cannot read %s: %s", cfg->tenants_dir,
		            strerror(errno));
		return;
	}
	cfg->tenants = calloc((size_t)n + 1, sizeof(*cfg->tenants));
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);
		char *id, *path;

		if (cfg->tenants == NULL || name[0] == '.' || len <= 5 ||
		    strcmp(name + len - 5, ".json") != 0)
			goto next;
		if (cfg->n_tenants >= TSSO_CFG_MAX_TENANTS) {
			cfg_problem(c, "", "tenants_dir", "more than %d tenants",
			            TSSO_CFG_MAX_TENANTS);
			goto next;
		}
		id = strndup(name, len - 5);
		path = cfg_resolve(cfg->tenants_dir, name);
		if (id != NULL && path != NULL) {
			if (!tsso_tenant_id_valid(id))
				tsso_problems_add(
				    c->problems, path, "-",
				    "tenant id \"%s\" must match [a-z0-9][a-z0-9_-]{0,63} "
				    "and not be a reserved name",
				    id);
			else
				cfg_tenant_load(cfg, path, id, c->problems,
				                &cfg->tenants[cfg->n_tenants++]);
		}
		free(id);
		free(path);
	next:
		free(names[i]);
	}
	free(names);
	if (cfg->n_tenants == 0)
		cfg_problem(c, "", "tenants_dir", "%s holds no tenant file ({tenant}.json)",
		            cfg->tenants_dir);
	else
		qsort(cfg->tenants, cfg->n_tenants, sizeof(*cfg->tenants), tenant_cmp);
}

/* An email domain may belong to only one tenant. */
static void check_email_domains(struct tsso_config *cfg, struct tsso_problems *problems)
{
	for (size_t i = 0; i < cfg->n_tenants; i++)
		for (size_t k = 0; k < cfg->tenants[i].email_domains.n; k++)
			for (size_t j = i + 1; j < cfg->n_tenants; j++)
				for (size_t m = 0; m < cfg->tenants[j].email_domains.n; m++)
					if (strcasecmp(cfg->tenants[i].email_domains.v[k],
					               cfg->tenants[j].email_domains.v[m]) == 0)
						tsso_problems_add(
						    problems, cfg->tenants[j].file, "email_domains",
						    "domain %s is also claimed by tenant %s",
						    cfg->tenants[j].email_domains.v[m],
						    cfg->tenants[i].id);
}

struct tsso_config *tsso_config_load(const char *path, struct tsso_problems *problems)
{
	struct tsso_config *cfg = NULL;
	struct cfg_ctx c = {0};
	char abs[PATH_MAX], *tmp = NULL;
	json_t *root = NULL;
	size_t before = problems->n;

	if (realpath(path, abs) == NULL) {
		tsso_problems_add(problems, path, "-", "cannot read: %s", strerror(errno));
		return NULL;
	}
	root = load_json(abs, problems);
	if (root == NULL)
		return NULL;
	cfg = calloc(1, sizeof(*cfg));
	tmp = strdup(abs);
	if (cfg == NULL || tmp == NULL)
		goto out;
	cfg->file = strdup(abs);
	c.file = cfg->file;
	c.dir = strdup(dirname(tmp));
	c.problems = problems;

	cfg_unknown_keys(&c, root, "", main_keys);
	cfg->mode = (enum tsso_mode)cfg_enum(&c, root, "", "mode", modes, 0);
	c.mode = cfg->mode;
	if (json_object_get(root, "mode") == NULL)
		cfg_problem(&c, "", "mode", "is required (\"production\" or \"development\")");
	{
		char *listen = NULL;

		if (cfg_str(&c, root, "", "listen", true, &listen))
			parse_listen(&c, listen, cfg);
		free(listen);
	}
	if (cfg_str(&c, root, "", "public_url", true, &cfg->public_url))
		parse_public_url(&c, cfg);
	if (json_object_get(root, "tenants_dir") == NULL)
		cfg_problem(&c, "", "tenants_dir", "is required");
	else
		cfg_path(&c, root, "", "tenants_dir", true, &cfg->tenants_dir);
	cfg_path(&c, root, "", "presets_dir", true, &cfg->presets_dir);
	parse_session(&c, root, cfg);
	parse_embed(&c, root, cfg);
	parse_misc(&c, root, cfg);
	if (cfg->session.cookie_name && strncmp(cfg->session.cookie_name, "__Host-", 7) == 0 &&
	    !cfg->public_https)
		cfg_problem(&c, "session", "cookie_name",
		            "a __Host- cookie needs an https public_url");
	load_tenants(&c, cfg);
	check_email_domains(cfg, problems);
out:
	free(tmp);
	free(c.dir);
	json_decref(root);
	if (cfg == NULL || problems->n > before) {
		tsso_config_free(cfg);
		return NULL;
	}
	return cfg;
}

void tsso_config_free(struct tsso_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n_tenants; i++)
		cfg_tenant_free(&cfg->tenants[i]);
	free(cfg->tenants);
	free(cfg->file);
	free(cfg->listen_host);
	free(cfg->public_url);
	free(cfg->public_origin);
	free(cfg->base_path);
	free(cfg->tenants_dir);
	free(cfg->presets_dir);
	free(cfg->session.secret_file);
	free(cfg->session.redis_url);
	free(cfg->session.redis_key_prefix);
	cfg_secret_free(&cfg->session.redis_password);
	free(cfg->session.redis_ca_file);
	free(cfg->session.cookie_name);
	free(cfg->embed.keys_dir);
	free(cfg->embed.alg);
	free(cfg);
}
