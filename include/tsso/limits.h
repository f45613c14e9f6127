/*
 * Every size, count and time a client, an IdP or Toucan controls, in one
 * place. Each is checked as bytes arrive; a request over a limit is refused
 * (413/431/400), a response over a limit fails the outbound call.
 */
#ifndef TSSO_LIMITS_H
#define TSSO_LIMITS_H

/* --- inbound HTTP (browser and IdP back-channel to us) --- */
#define TSSO_HTTP_MAX_URL    4096 /* request line target, bytes */
#define TSSO_HTTP_MAX_HEADER 8192 /* one header line, bytes */
#define TSSO_HTTP_MAX_HEADERS_SIZE                                                                 \
	16384 /* MHD pool per connection is twice this: request line + headers over ~32 KiB get    \
	         431 */
#define TSSO_HTTP_MAX_HEADER_COUNT 64    /* header fields per request */
#define TSSO_HTTP_MAX_BODY         65536 /* form_post, back-channel logout, bytes */
#define TSSO_HTTP_MAX_PARAMS       32    /* query or form parameters per request */
#define TSSO_HTTP_MAX_COOKIES      50    /* cookies parsed per request */
#define TSSO_HTTP_MAX_COOKIE_VALUE 4096  /* one cookie value, bytes */
#define TSSO_HTTP_CONN_TIMEOUT     30    /* seconds a connection may stay idle */
#define TSSO_HTTP_MAX_CONNECTIONS  1024  /* default, config http.max_connections */
#define TSSO_HTTP_MAX_PER_IP       64    /* concurrent connections per client address */
#define TSSO_HTTP_SHUTDOWN_GRACE   10    /* default http.shutdown_grace (seconds) */

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
#define TSSO_JWK_KID_MAX            256   /* bytes of a JWK "kid" (and a JWS header kid) */
#define TSSO_JWK_RSA_MAX_BITS       8192  /* larger RSA keys are refused (verify cost) */
#define TSSO_JWKS_REFETCH_MIN_S     30    /* at most one unknown-kid refetch per tenant per this */
#define TSSO_META_REFRESH_S         3600  /* background refresh of discovery + JWKS */
#define TSSO_META_MAX_STALE_S       86400 /* serve cached metadata this long while the IdP is down */
#define TSSO_TENANT_MAX_OUTBOUND    32    /* concurrent outbound calls per peer (default) */
#define TSSO_IDP_CALLS_MAX          1024  /* bound of a tenant's max_idp_calls */
#define TSSO_META_MAX_LIST          256   /* entries of one list member of provider metadata */

/* --- tokens --- */
#define TSSO_TOKEN_MAX            16384 /* a compact JWS/JWE (ID token, logout token) */
#define TSSO_TOKEN_MAX_CLAIMS     256   /* members of a token's claims object */
#define TSSO_CLOCK_LEEWAY_DEFAULT 60    /* seconds */
#define TSSO_CLOCK_LEEWAY_MAX     300
#define TSSO_LOGOUT_TOKEN_MAX_AGE 600  /* a logout token whose iat is older is refused */
#define TSSO_CLAIM_SUB_MAX        255  /* OIDC Core §2: sub is at most 255 ASCII characters */
#define TSSO_CLIENT_ASSERTION_TTL 60   /* seconds a client assertion JWT lives */
#define TSSO_EMBED_CONTEXT_MAX    3500 /* Toucan 3.0 embed_context, bytes of JSON */
#define TSSO_JSONW_DEPTH_MAX      64   /* nesting the JSON writer accepts (and its recursion) */
#define TSSO_EMBED_TTL_DEFAULT    300
#define TSSO_EMBED_TTL_MAX        3600

/* --- embed signing keys and Toucan calls --- */
#define TSSO_EMBED_KEYS_MAX                 16          /* keys listed in keys_dir/keys.json */
#define TSSO_EMBED_META_MAX                 (64 * 1024) /* bytes of keys.json */
#define TSSO_EMBED_RSA_BITS                 3072        /* generated RSA keys (>= 2048 accepted) */
#define TSSO_EMBED_ROTATION_OVERLAP_DEFAULT 86400       /* seconds a next key is published first */
#define TSSO_EMBED_RETIRED_KEEP             (TSSO_EMBED_TTL_MAX + TSSO_CLOCK_LEEWAY_MAX)
#define TSSO_EMBED_CONNECT_TIMEOUT_MS       2000
#define TSSO_EMBED_TOTAL_TIMEOUT_MS         5000 /* one attempt */
#define TSSO_EMBED_MAX_RETRIES              2    /* after the first attempt */
#define TSSO_EMBED_BACKOFF_BASE_MS          200
#define TSSO_EMBED_BACKOFF_MAX_MS           2000
#define TSSO_EMBED_BREAKER_THRESHOLD        5     /* consecutive failures that open the breaker */
#define TSSO_EMBED_BREAKER_COOLDOWN_MS      30000 /* before a half-open probe */
#define TSSO_EMBED_MAX_RESPONSE             (64 * 1024) /* Toucan token API answer */
#define TSSO_EMBED_API_TTL_DEFAULT          3600        /* Toucan AI tokens: one hour unless told */
#define TSSO_EMBED_API_TTL_MAX              86400       /* an answer claiming longer is capped */

/* --- embed-token route: per-session rate limit (token bucket) --- */
/* Overridable at compile time only for bench/run, whose load hammers one
 * session on purpose to measure the path (docs/performance.md). */
#define TSSO_EMBED_RATE_BURST   20   /* default embed.rate_limit.burst */
#define TSSO_EMBED_RATE_PER_MIN 20   /* default embed.rate_limit.per_minute */
#define TSSO_EMBED_RATE_SLOTS   4096 /* sessions tracked per tenant (bounded memory) */
#define TSSO_EMBED_RATE_WAYS    8    /* slots per hash set (LRU within a set) */

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
#define TSSO_REDIS_POOL_MAX           256  /* session.redis_pool_size upper bound */
#define TSSO_REDIS_BACKOFF_MAX_MS     5000 /* reconnect backoff ceiling */

/* --- JSON read by tsso_json_parse (tokens, IdP answers, sealed records) --- */
#define TSSO_JSON_MAX_DEPTH 32            /* nested arrays/objects (jansson alone: 2048) */
#define TSSO_JSON_MAX_TEXT  (1024 * 1024) /* bytes; callers hold tighter limits of their own */

/* --- URLs (return_to, configured and discovered endpoints) --- */
#define TSSO_URL_MAX 8192 /* bytes of one URL given to the URL parser */

/* --- claim mapping (rules are operator-written, claims IdP-controlled) --- */
#define TSSO_MAPPING_MAX_ATTRIBUTES    64     /* attribute rules per tenant */
#define TSSO_MAPPING_MAX_SOURCES       8      /* alternatives in one rule's "first_of" */
#define TSSO_MAPPING_MAX_TRANSFORMS    16     /* steps in one rule's "transforms" */
#define TSSO_MAPPING_MAX_CONDITIONS    32     /* conditions of one tenant, all levels */
#define TSSO_MAPPING_MAX_COND_DEPTH    4      /* nesting of all/any/not */
#define TSSO_MAPPING_MAX_PATH          16     /* segments of a claim path */
#define TSSO_MAPPING_MAX_NAME          256    /* bytes of a claim or attribute name */
#define TSSO_MAPPING_MAX_LIST          1024   /* entries of a lookup table or allow/deny list */
#define TSSO_MAPPING_MAX_PATTERN       512    /* bytes of a regular expression */
#define TSSO_MAPPING_MAX_VALUES        256    /* strings in one list value (claim or result) */
#define TSSO_MAPPING_MAX_STRING        1024   /* bytes of one string value (claim or result) */
#define TSSO_MAPPING_MAX_CONSTANT      4096   /* bytes of JSON of a constant or "privileges" */
#define TSSO_MAPPING_MAX_DISTRIBUTED   4      /* distributed claims resolved per login */
#define TSSO_MAPPING_REGEX_MATCH_LIMIT 100000 /* pcre2_set_match_limit: backtracking steps */
#define TSSO_MAPPING_REGEX_DEPTH_LIMIT 1000   /* pcre2_set_depth_limit: nested backtracking */
#define TSSO_MAPPING_REGEX_HEAP_LIMIT  1024   /* pcre2_set_heap_limit, KiB */
#define TSSO_MAPPING_REGEX_BUDGET_MS   100    /* regex time per login, all rules together */
#define TSSO_AI_USER_MAX               16384  /* Toucan AI "user" object, bytes of JSON (ours) */

#endif
