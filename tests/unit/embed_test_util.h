/* Test helpers for the embed tests: temporary folders, stderr capture, a
 * tiny scripted HTTP/1.1 server on 127.0.0.1 standing in for Toucan. */
#ifndef TSSO_EMBED_TEST_UTIL_H
#define TSSO_EMBED_TEST_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* --- temporary folders --- */

static __attribute__((unused)) char *tmpdir_new(void)
{
	char *d = strdup("/tmp/tsso-embed-XXXXXX");

	if (d == NULL || mkdtemp(d) == NULL || chmod(d, 0700) != 0) {
		free(d);
		return NULL;
	}
	return d;
}

static __attribute__((unused)) void tmpdir_free(char *d)
{
	char cmd[512];

	if (d == NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d);
	free(d);
}

/* Write a file (mode 0600). */
static __attribute__((unused)) int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t n = strlen(text);

	if (fd < 0)
		return -1;
	if (write(fd, text, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Whole file as a new string, or NULL. */
static __attribute__((unused)) char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

/* --- stderr capture (tsso_log writes there) --- */

struct capture {
	int saved;
	char path[64];
};

static __attribute__((unused)) void capture_start(struct capture *c)
{
	int fd;

	snprintf(c->path, sizeof(c->path), "/tmp/tsso-embed-log-XXXXXX");
	fd = mkstemp(c->path);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* Stop capturing; returns what was written (new string). */
static __attribute__((unused)) char *capture_stop(struct capture *c)
{
	char *text;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	text = read_file(c->path);
	unlink(c->path);
	return text != NULL ? text : strdup("");
}

/* --- a scripted HTTP server --- */

#define SRV_MAX_SCRIPT 16
#define SRV_MAX_REQ    65536

struct srv_answer {
	int status;
	const char *body;
	int delay_ms; /* before answering (timeouts) */
};

struct srv {
	int fd;
	int port;
	pthread_t thread;
	atomic_bool stop;
	atomic_int active; /* connection threads */
	pthread_mutex_t mu;
	struct srv_answer script[SRV_MAX_SCRIPT];
	size_t n_script;
	size_t next;  /* index of the next answer (the last one repeats) */
	int requests; /* requests received */
	char *last;   /* the last request, head and body */
	char *first;  /* the first request since srv_reset */
	char *bodies[SRV_MAX_SCRIPT];
};

static __attribute__((unused)) void srv_sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Read one request on fd into buf; returns its length, 0 on close. */
static __attribute__((unused)) size_t srv_read_request(struct srv *s, int fd, char *buf, size_t cap,
                                                       size_t *ret_body)
{
	size_t len = 0, head = 0, clen = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;
		char *end;

		if (atomic_load(&s->stop))
			return 0;
		if (poll(&p, 1, 50) <= 0)
			continue;
		r = recv(fd, buf + len, cap - 1 - len, 0);
		if (r <= 0)
			return 0;
		len += (size_t)r;
		buf[len] = '\0';
		if (head == 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			char *cl = strcasestr(buf, "\r\ncontent-length:");
			head = (size_t)(end - buf) + 4;
			if (cl != NULL && cl < end)
				clen = strtoul(cl + 17, NULL, 10);
		}
		if (head != 0 && len >= head + clen) {
			*ret_body = head;
			return len;
		}
		if (len + 1 >= cap)
			return 0;
	}
}

static __attribute__((unused)) void *srv_conn(void *arg)
{
	void **a = arg;
	struct srv *s = a[0];
	int fd = (int)(intptr_t)a[1];
	char *buf = malloc(SRV_MAX_REQ);

	free(arg);
	while (buf != NULL) {
		struct srv_answer ans;
		char head[256];
		size_t body_off = 0, n = srv_read_request(s, fd, buf, SRV_MAX_REQ, &body_off);
		int idx;

		if (n == 0)
			break;
		pthread_mutex_lock(&s->mu);
		idx = s->requests++;
		ans = s->script[s->next < s->n_script ? s->next : s->n_script - 1];
		if (s->next + 1 < s->n_script)
			s->next++;
		free(s->last);
		s->last = strdup(buf);
		if (s->first == NULL)
			s->first = strdup(buf);
		if (idx < SRV_MAX_SCRIPT)
			s->bodies[idx] = strdup(buf + body_off);
		pthread_mutex_unlock(&s->mu);
		if (ans.delay_ms > 0)
			srv_sleep_ms(ans.delay_ms);
		snprintf(head, sizeof(head),
		         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
		         "%zu\r\n%s\r\n",
		         ans.status, strlen(ans.body),
		         ans.status == 503 ? "Retry-After: 7\r\n" : "");
		if (send(fd, head, strlen(head), MSG_NOSIGNAL) < 0 ||
		    send(fd, ans.body, strlen(ans.body), MSG_NOSIGNAL) < 0)
			break;
	}
	free(buf);
	close(fd);
	atomic_fetch_sub(&s->active, 1);
	return NULL;
}

static __attribute__((unused)) void *srv_main(void *arg)
{
	struct srv *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		pthread_t t;
		void **a;
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		a = malloc(2 * sizeof(void *));
		a[0] = s;
		a[1] = (void *)(intptr_t)c;
		atomic_fetch_add(&s->active, 1);
		if (pthread_create(&t, NULL, srv_conn, a) != 0) {
			atomic_fetch_sub(&s->active, 1);
			close(c);
			free(a);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static __attribute__((unused)) void srv_reset(struct srv *s, const struct srv_answer *script,
                                              size_t n)
{
	pthread_mutex_lock(&s->mu);
	memcpy(s->script, script, n * sizeof(*script));
	s->n_script = n;
	s->next = 0;
	s->requests = 0;
	free(s->last);
	free(s->first);
	s->last = s->first = NULL;
	for (size_t i = 0; i < SRV_MAX_SCRIPT; i++) {
		free(s->bodies[i]);
		s->bodies[i] = NULL;
	}
	pthread_mutex_unlock(&s->mu);
}

static __attribute__((unused)) int srv_requests(struct srv *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->requests;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static __attribute__((unused)) int srv_start(struct srv *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s->fd, 16) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&a, &alen) < 0)
		return -1;
	s->port = ntohs(a.sin_port);
	return pthread_create(&s->thread, NULL, srv_main, s);
}

static __attribute__((unused)) void srv_stop(struct srv *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	while (atomic_load(&s->active) > 0)
		srv_sleep_ms(10);
	close(s->fd);
	srv_reset(s, s->script, s->n_script);
	pthread_mutex_destroy(&s->mu);
}

static __attribute__((unused)) double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
