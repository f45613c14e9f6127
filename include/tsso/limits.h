/*
 * Every size, count and time a client, an IdP or Toucan controls, in one
 * place. Each is checked as bytes arrive; a request over a limit is refused
 * (413/431/400), a response over a limit fails the outbound call.
 */
#ifndef TSSO_LIMITS_H
#define TSSO_LIMITS_H

/* --- inbound HTTP (browser and IdP back-channel to us) --- */
#define TSSO_HTTP_MAX_URL          4096  /* request line target, bytes */
#define TSSO_HTTP_MAX_HEADER       8192  /* one header line, bytes */
#define TSSO_HTTP_MAX_HEADERS_SIZE 16384 /* all request headers, bytes (MHD memory pool) */
#define TSSO_HTTP_MAX_HEADER_COUNT 64    /* header fields per request */
#define TSSO_HTTP_MAX_BODY         65536 /* form_post, back-channel logout, bytes */
#define TSSO_HTTP_MAX_PARAMS       32    /* query or form parameters per request */
#define TSSO_HTTP_MAX_COOKIES      50    /* cookies parsed per request */
#define TSSO_HTTP_MAX_COOKIE_VALUE 4096  /* one cookie value, bytes */
#define TSSO_HTTP_CONN_TIMEOUT     30    /* seconds a connection may stay idle */
#define TSSO_HTTP_MAX_CONNECTIONS  1024  /* default, config http.max_connections */
#define TSSO_HTTP_MAX_PER_IP       64    /* concurrent connections per client address */
#define TSSO_HTTP_SHUTDOWN_GRACE   10    /* seconds in-flight requests get at SIGTERM */

/* --- configuration --- */
#define TSSO_CFG_MAX_FILE        (1024 * 1024) /* a config or tenant file */
#define TSSO_CFG_MAX_TENANTS     10000
#define TSSO_CFG_MAX_SECRET_FILE 16384 /* a secret or PEM key file */
#define TSSO_TENANT_ID_MAX       64    /* [a-z0-9][a-z0-9_-]*, see config.c */
#define TSSO_CFG_MAX_LIST        64    /* entries in a scopes/origins/domains list */

/* --- outbound calls (IdP, Toucan) --- */
#define TSSO_OUT_CONNECT_TIMEOUT_MS 3000
#define TSSO_OUT_TOTAL_TIMEOUT_MS   10000
#define TSSO_OUT_MAX_RESPONSE       (256 * 1024) /* discovery, token, userinfo bodies */
#define TSSO_OUT_MAX_JWKS           (128 * 1024)
#define TSSO_JWKS_MAX_KEYS          50
#define TSSO_JWKS_REFETCH_MIN_S     30    /* at most one unknown-kid refetch per tenant per this */
#define TSSO_META_REFRESH_S         3600  /* background refresh of discovery + JWKS */
#define TSSO_META_MAX_STALE_S       86400 /* serve cached metadata this long while the IdP is down */
#define TSSO_TENANT_MAX_OUTBOUND    8     /* concurrent outbound calls per tenant (isolation) */

/* --- tokens --- */
#define TSSO_TOKEN_MAX            16384 /* a compact JWS/JWE (ID token, logout token) */
#define TSSO_TOKEN_MAX_CLAIMS     256   /* members of a token's claims object */
#define TSSO_CLOCK_LEEWAY_DEFAULT 60    /* seconds */
#define TSSO_CLOCK_LEEWAY_MAX     300
#define TSSO_EMBED_CONTEXT_MAX    3500 /* Toucan 3.0 embed_context, bytes of JSON */
#define TSSO_EMBED_TTL_DEFAULT    300
#define TSSO_EMBED_TTL_MAX        3600

/* --- sessions and login state --- */
#define TSSO_LOGIN_STATE_TTL          600  /* seconds a login may take at the IdP */
#define TSSO_LOGIN_STATES_PER_BROWSER 4    /* in-flight logins per browser, oldest evicted */
#define TSSO_SESSION_COOKIE_MAX       4000 /* bytes of one Set-Cookie value */
#define TSSO_RETURN_TO_MAX            2048
#define TSSO_AEAD_TOKEN_MAX           131072 /* characters of one sealed token we will open */
#define TSSO_KEYRING_MAX_KEYS         16     /* keys in a session keyring file */
#define TSSO_SESSION_JSON_MAX         65536  /* a serialized session record, bytes */
#define TSSO_SESSION_FIELD_MAX        1024   /* iss, sub, sid of a session, bytes */
#define TSSO_STORE_KEY_MAX            512    /* claim_once / lock keys, bytes */
#define TSSO_STORE_MARKERS_MAX        100000 /* single-use markers, locks, revocations kept in memory */
#define TSSO_STORE_MEMORY_SESSIONS    100000 /* default session.memory_max_sessions */
#define TSSO_REDIS_CONNECT_TIMEOUT_MS 1000
#define TSSO_REDIS_COMMAND_TIMEOUT_MS 1000
#define TSSO_REDIS_POOL_MAX           256    /* session.redis_pool_size upper bound */
#define TSSO_REDIS_BACKOFF_MAX_MS     5000   /* reconnect backoff ceiling */

#endif
