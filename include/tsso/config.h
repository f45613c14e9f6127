/*
 * The configuration: the main file plus one file per tenant in tenants_dir,
 * parsed strictly (unknown keys refused, types checked, relative paths
 * resolved against the naming file, secrets read from *_file / *_env).
 * Loading collects every problem it finds as "FILE: KEY: what is wrong".
 * A loaded configuration is immutable; reload builds a new one.
 */
#ifndef TSSO_CONFIG_H
#define TSSO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "tsso/common.h"

enum tsso_mode { TSSO_MODE_PRODUCTION = 0, TSSO_MODE_DEVELOPMENT };
enum tsso_store_kind { TSSO_STORE_COOKIE = 0, TSSO_STORE_MEMORY, TSSO_STORE_REDIS };
enum tsso_auth_method {
	TSSO_AUTH_CLIENT_SECRET_BASIC = 0,
	TSSO_AUTH_CLIENT_SECRET_POST,
	TSSO_AUTH_CLIENT_SECRET_JWT,
	TSSO_AUTH_PRIVATE_KEY_JWT,
	TSSO_AUTH_NONE, /* public client: PKCE only */
};
enum tsso_response_mode { TSSO_RESPONSE_QUERY = 0, TSSO_RESPONSE_FORM_POST };
enum tsso_embed_scheme { TSSO_EMBED_SIGNED_JWT = 0, TSSO_EMBED_API };
enum tsso_par_mode { TSSO_PAR_AUTO = 0, TSSO_PAR_NEVER, TSSO_PAR_REQUIRED };

/* A list of strings from a JSON array. */
struct tsso_strlist {
	char **v;
	size_t n;
};

/* A secret read from a file or the environment; value wiped on free. */
struct tsso_secret {
	char *value; /* NULL when not configured */
	size_t len;
	char *source; /* "file:/path" or "env:NAME", for messages (never the value) */
};

struct tsso_embed_cfg {
	enum tsso_embed_scheme scheme;
	/* signed_jwt (Toucan 3.0) */
	char *issuer;
	char *audience;
	char *workspace_id;
	long ttl;        /* seconds; 0 = the main file's embed.ttl */
	char *token_url; /* optional: exchange the JWT (JWT-bearer grant) here */
	struct tsso_secret embed_client_secret; /* for the exchange */
	/* api (Toucan AI) */
	char *toucan_url;
	struct tsso_secret api_key;
	/* both */
	struct tsso_strlist cors_origins; /* origins allowed to call embed-token */
	bool audit_values;                /* log attribute values in the mint audit line */
	bool mint_at_login; /* local signing: mint at the callback, into the new session */
	long rate_burst;    /* embed-token requests a session may make at once */
	long rate_per_min;  /* and per minute after that */
};

struct tsso_tenant_cfg {
	char *id;   /* file name without .json; [a-z0-9][a-z0-9_-]{0,63} */
	char *file; /* absolute path of the tenant file */

	/* IdP and client */
	char *issuer;
	char *client_id;
	struct tsso_secret client_secret;
	enum tsso_auth_method auth_method;
	char *client_private_key_file; /* private_key_jwt */
	char *client_key_alg;          /* private_key_jwt: RS256 (default) or ES256 ... */
	enum tsso_response_mode response_mode;
	struct tsso_strlist scopes; /* always contains "openid" */
	char *ca_file;              /* NULL: system trust store */

	/* authorization request options */
	char *prompt;
	long max_age; /* -1: not sent */
	char *acr_values;
	bool acr_essential;        /* request acr as an essential claim and refuse other values */
	json_t *extra_auth_params; /* object of string -> string, may be NULL */
	enum tsso_par_mode par;

	/* validation */
	struct tsso_strlist id_token_algs; /* empty: the IdP's advertised, within the safe set */
	bool allow_hmac_id_token;          /* HS* with the client secret, only when set */
	char *id_token_decryption_key_file;
	long clock_leeway;
	bool userinfo;
	long max_idp_calls; /* calls to the IdP in flight at once (its connections) */

	/* redirects, discovery by email */
	struct tsso_strlist return_to_origins; /* absolute origins allowed besides our own */
	char *default_return_to;               /* after login when none given; default "/" */
	struct tsso_strlist email_domains;
	struct tsso_strlist post_logout_redirect_uris;
	/* origins besides the issuer's that may serve distributed claims
	 * (OIDC Core §5.6.2), e.g. https://graph.windows.net for Entra ID */
	struct tsso_strlist distributed_claims_origins;

	/* sessions */
	bool refresh_tokens;

	json_t *mapping; /* the raw rules; compiled by the mapping module */
	struct tsso_embed_cfg embed;
};

struct tsso_config {
	enum tsso_mode mode;
	char *file; /* absolute path of the main file */
	char *listen_host;
	unsigned short listen_port;
	char *public_url;    /* without trailing slash */
	char *public_origin; /* scheme://host[:port] of public_url */
	char *base_path;     /* path of public_url, "" or "/sso" (no trailing slash) */
	bool public_https;
	char *tenants_dir;
	char *presets_dir; /* mapping presets; NULL: the installed conf/presets */

	struct {
		enum tsso_store_kind store;
		char *secret_file; /* keyring file, see aead.h */
		char *redis_url;
		char *redis_key_prefix;
		struct tsso_secret redis_password;
		char *redis_ca_file;
		long redis_pool_size;
		long inactivity_timeout;
		long max_duration;
		char *cookie_name;
		long memory_max_sessions;
	} session;

	struct {
		char *keys_dir;
		char *alg;
		long ttl;
		long rotation_overlap; /* seconds a new key is published before it signs */
	} embed;

	struct {
		int level; /* enum tsso_log_level */
		bool json;
	} log;

	struct {
		long threads;
		long max_connections;
		long connection_timeout;
		long max_per_ip;
		long shutdown_grace; /* seconds requests in flight get at SIGTERM */
	} http;

	struct tsso_tenant_cfg *tenants;
	size_t n_tenants;
};

/* Problems found while loading, each "FILE: KEY: what is wrong". */
struct tsso_problems {
	char **v;
	size_t n;
};
void tsso_problems_add(struct tsso_problems *p, const char *file, const char *key, const char *fmt,
                       ...) TSSO_PRINTF(4, 5);
void tsso_problems_free(struct tsso_problems *p);

/* Load and check the main file and every tenant. Returns a new configuration
 * when there is no problem, else NULL with every problem in *problems (which
 * the caller frees either way). */
struct tsso_config *tsso_config_load(const char *path, struct tsso_problems *problems) TSSO_WUR;
void tsso_config_free(struct tsso_config *cfg);

/* Borrowed: the tenant with this id, or NULL. */
const struct tsso_tenant_cfg *tsso_config_tenant(const struct tsso_config *cfg, const char *id);
/* Borrowed: the tenant whose email_domains contains the domain of email. */
const struct tsso_tenant_cfg *tsso_config_tenant_by_email(const struct tsso_config *cfg,
                                                          const char *email);
/* True for an acceptable tenant id. */
bool tsso_tenant_id_valid(const char *id);

#endif
