/*
 * A bounded pool of Redis connections (hiredis, blocking API with socket
 * timeouts), with AUTH, SELECT, and reconnection under exponential backoff
 * with jitter. Internal to src/session/; hiredis types stay here.
 */
#ifndef TSSO_REDIS_POOL_H
#define TSSO_REDIS_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "tsso/common.h"
#include "tsso/err.h"

struct redis_pool;

struct redis_pool_opts {
	const char *host;
	int port;
	int db;
	bool tls;             /* rediss://: through a TLS relay (redis_tls.h) */
	const char *ca_file;  /* TLS: CAs to trust, NULL: the system store */
	const char *password; /* NULL: no AUTH; copied and wiped on free */
	size_t password_len;
	size_t size; /* connections at most */
	long connect_timeout_ms;
	long command_timeout_ms;
};

/* Parse redis[s]://host[:port][/db] (IPv6 in brackets); *ret_tls is true
 * for rediss://. Refuses credentials in the URL with store.config.
 * *ret_host is new. */
int redis_url_parse(const char *url, char **ret_host, int *ret_port, int *ret_db, bool *ret_tls,
                    struct tsso_err *err) TSSO_WUR;

/* Fails with store.config (bad TLS setup, out of memory). */
struct redis_pool *redis_pool_new(const struct redis_pool_opts *o, struct tsso_err *err) TSSO_WUR;
void redis_pool_free(struct redis_pool *p);

/* One command as argv (binary safe; never a format string with data).
 * *ret_reply is the reply (caller frees with freeReplyObject); a Redis
 * error reply is returned as such. Fails with store.unavailable. */
int redis_pool_command(struct redis_pool *p, int argc, const char **argv, const size_t *argvlen,
                       redisReply **ret_reply, struct tsso_err *err) TSSO_WUR;
/* Several commands in one round trip: cmds[i] has argc[i] arguments. All
 * replies or none: ret_replies[i] set on success. */
int redis_pool_pipeline(struct redis_pool *p, size_t n, const int *argc, const char **const *argv,
                        const size_t *const *argvlen, redisReply **ret_replies,
                        struct tsso_err *err) TSSO_WUR;
/* PING through the pool; the message says why Redis is not usable. */
int redis_pool_health(struct redis_pool *p, struct tsso_err *err) TSSO_WUR;

#endif
