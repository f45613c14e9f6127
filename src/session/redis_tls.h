/*
 * TLS to Redis without hiredis TLS support (Debian 12 ships hiredis 0.14):
 * each connection is a socketpair whose one end hiredis uses through
 * redisConnectFd, while a relay thread copies bytes between the other end and
 * an OpenSSL connection to Redis. Internal to src/session/.
 */
#ifndef TSSO_REDIS_TLS_H
#define TSSO_REDIS_TLS_H

#include <stddef.h>

#include "tsso/common.h"
#include "tsso/err.h"

struct redis_tls;

/* A TLS client context: TLS 1.2 or later, peer certificate verified against
 * ca_file (PEM) or, when NULL, the system store. Fails with store.config. */
struct redis_tls *redis_tls_new(const char *ca_file, struct tsso_err *err) TSSO_WUR;
/* Waits for the relays still running (they end once their hiredis side is
 * closed, within the I/O timeout), then frees. Accepts NULL. Close every
 * connection opened with redis_tls_open first. */
void redis_tls_free(struct redis_tls *t);

/* Connect to host:port (connect and handshake each bounded by connect_ms;
 * relay reads and writes by io_ms), verify the certificate names host (DNS
 * name, or IP address for a literal), and start a relay. *ret_fd is the
 * plaintext end for redisConnectFd (the caller owns it; closing it ends the
 * relay). On failure -1 and why says what went wrong (no data, no secrets). */
int redis_tls_open(struct redis_tls *t, const char *host, int port, long connect_ms, long io_ms,
                   int *ret_fd, char *why, size_t whylen) TSSO_WUR;

#endif
