/* TLS to Redis through a socketpair relay, one thread per pooled connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "src/session/redis_tls.h"

#define RELAY_CHUNK 16384

struct redis_tls {
	SSL_CTX *ctx;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t live; /* relay threads running */
};

struct relay {
	struct redis_tls *t;
	SSL *ssl;
	int net;   /* TCP socket to Redis */
	int plain; /* our end of the socketpair */
};

struct redis_tls *redis_tls_new(const char *ca_file, struct tsso_err *err)
{
	struct redis_tls *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		tsso_err_set(err, "store.config", "out of memory");
		goto fail;
	}
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (t->ctx == NULL || SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) != 1) {
		tsso_err_set(err, "store.config", "session.redis_url: cannot set up TLS");
		goto fail;
	}
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	/* Without auto-retry a TLS 1.3 session ticket makes SSL_read return
	 * WANT_READ instead of blocking the relay while hiredis has data to send. */
	SSL_CTX_clear_mode(t->ctx, SSL_MODE_AUTO_RETRY);
	if (ca_file != NULL ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1
	                    : SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
		tsso_err_set(err, "store.config", "session.redis_ca_file: cannot load the CAs");
		goto fail;
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	return t;
fail:
	ERR_clear_error();
	if (t != NULL)
		SSL_CTX_free(t->ctx);
	free(t);
	return NULL;
}

void redis_tls_free(struct redis_tls *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	while (t->live > 0)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	SSL_CTX_free(t->ctx);
	free(t);
}

static void set_timeouts(int fd, long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A TCP connection within ms (non-blocking connect, then blocking again). */
static int tcp_connect(const char *host, int port, long ms, char *why, size_t whylen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char service[8];
	int fd = -1, rc;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		snprintf(why, whylen, "cannot resolve the host: %s", gai_strerror(rc));
		return -1;
	}
	snprintf(why, whylen, "no address");
	for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
		struct pollfd pfd;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			snprintf(why, whylen, "%s", strerror(errno));
			goto next;
		}
		pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
		rc = poll(&pfd, 1, (int)ms);
		if (rc == 0) {
			snprintf(why, whylen, "connect timed out");
			goto next;
		}
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
			snprintf(why, whylen, "%s", strerror(soerr != 0 ? soerr : errno));
			goto next;
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
			goto next;
		break;
	next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Write all of buf to the plaintext end; -1 when it is gone or stuck. */
static int plain_write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* hiredis -> TLS. -1 ends the relay. */
static int relay_up(struct relay *r, char *buf)
{
	ssize_t n = recv(r->plain, buf, RELAY_CHUNK, 0);

	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0)
		return -1;
	/* Blocking SSL_write, bounded by SO_SNDTIMEO; writes all (no partial
	 * writes without SSL_MODE_ENABLE_PARTIAL_WRITE). */
	return SSL_write(r->ssl, buf, (int)n) == (int)n ? 0 : -1;
}

/* TLS -> hiredis, draining what OpenSSL already decrypted. -1 ends the relay. */
static int relay_down(struct relay *r, char *buf)
{
	do {
		int n = SSL_read(r->ssl, buf, RELAY_CHUNK);

		if (n <= 0) {
			/* WANT_READ: a non-data record (session ticket) was consumed. */
			return SSL_get_error(r->ssl, n) == SSL_ERROR_WANT_READ ? 0 : -1;
		}
		if (plain_write_all(r->plain, buf, (size_t)n) < 0)
			return -1;
	} while (SSL_pending(r->ssl) > 0);
	return 0;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct redis_tls *t = r->t;
	char *buf = malloc(RELAY_CHUNK);
	sigset_t pipe;

	/* OpenSSL writes with write(2): a peer gone must give EPIPE, not kill
	 * the process (serve blocks SIGPIPE too; this holds for any caller). */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);

	while (buf != NULL) {
		struct pollfd pfd[2] = {{.fd = r->plain, .events = POLLIN},
		                        {.fd = r->net, .events = POLLIN}};

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) && relay_up(r, buf) < 0)
			break;
		if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) && relay_down(r, buf) < 0)
			break;
	}
	/* Either side closed or failed: close both, so hiredis sees EOF and
	 * the pool reconnects (with backoff). No close_notify wait: Redis does
	 * not need it, and a dead peer must not hold the relay. */
	if (buf != NULL)
		OPENSSL_cleanse(buf, RELAY_CHUNK); /* it carried AUTH and records */
	free(buf);
	ERR_clear_error();
	SSL_free(r->ssl);
	close(r->net);
	close(r->plain);
	free(r);
	pthread_mutex_lock(&t->lock);
	t->live--;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* Name checks: an IP literal must be in the certificate's iPAddress SAN
 * (RFC 6125 §6.2.1) and gets no SNI (RFC 6066 §3); otherwise the DNS name
 * is checked and sent as SNI. */
static int set_peer_name(SSL *ssl, const char *host)
{
	unsigned char ip[16];

	if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
	if (SSL_set1_host(ssl, host) != 1 || SSL_set_tlsext_host_name(ssl, host) != 1)
		return -1;
	return 0;
}

int redis_tls_open(struct redis_tls *t, const char *host, int port, long connect_ms, long io_ms,
                   int *ret_fd, char *why, size_t whylen)
{
	struct relay *r = NULL;
	SSL *ssl = NULL;
	int net = -1, sp[2] = {-1, -1}, rc = -1;
	pthread_attr_t attr;
	pthread_t tid;
	long vr;

	net = tcp_connect(host, port, connect_ms, why, whylen);
	if (net < 0)
		goto out;
	/* Per-call bound on the handshake's reads and writes. */
	set_timeouts(net, connect_ms);
	ssl = SSL_new(t->ctx);
	if (ssl == NULL || set_peer_name(ssl, host) < 0 || SSL_set_fd(ssl, net) != 1) {
		snprintf(why, whylen, "cannot set up TLS");
		goto out;
	}
	if (SSL_connect(ssl) != 1) {
		vr = SSL_get_verify_result(ssl);
		if (vr != X509_V_OK)
			snprintf(why, whylen, "TLS certificate refused: %s",
			         X509_verify_cert_error_string(vr));
		else
			snprintf(why, whylen, "TLS handshake failed");
		goto out;
	}
	set_timeouts(net, io_ms);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		snprintf(why, whylen, "socketpair: %s", strerror(errno));
		goto out;
	}
	/* A stuck hiredis side must not hold the relay for ever either. */
	set_timeouts(sp[1], io_ms);
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	*r = (struct relay){.t = t, .ssl = ssl, .net = net, .plain = sp[1]};
	pthread_mutex_lock(&t->lock);
	t->live++;
	pthread_mutex_unlock(&t->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, relay_main, r);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		pthread_mutex_lock(&t->lock);
		t->live--;
		pthread_mutex_unlock(&t->lock);
		snprintf(why, whylen, "cannot start the TLS relay");
		rc = -1;
		goto out;
	}
	/* The relay owns ssl, net and sp[1] now. */
	r = NULL;
	ssl = NULL;
	net = sp[1] = -1;
	*ret_fd = sp[0];
	sp[0] = -1;
	rc = 0;
out:
	ERR_clear_error();
	free(r);
	SSL_free(ssl);
	if (net >= 0)
		close(net);
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	return rc;
}
