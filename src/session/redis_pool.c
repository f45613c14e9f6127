/* A bounded pool of blocking hiredis connections with timeouts, AUTH, and
 * reconnection under exponential backoff with jitter. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/session/redis_pool.h"
#include "src/session/redis_tls.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

#define BACKOFF_START_MS 100

struct redis_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	redisContext **idle;
	size_t n_idle;
	size_t open; /* idle + borrowed + being connected */
	size_t size;
	char *host;
	int port, db;
	char *password;
	size_t password_len;
	struct redis_tls *tls; /* NULL: plain TCP */
	long connect_ms, command_ms;
	int64_t retry_at_ms; /* monotonic: no new connection before this */
	int64_t backoff_ms;
	char last_error[128];
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval ms_tv(long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	return tv;
}

static int parse_uint(const char *s, size_t n, long max, long *ret)
{
	long v = 0;

	if (n == 0 || n > 6)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*ret = v;
	return 0;
}

int redis_url_parse(const char *url, char **ret_host, int *ret_port, int *ret_db, bool *ret_tls,
                    struct tsso_err *err)
{
	const char *p, *host, *hend, *slash;
	long port = 6379, db = 0;
	bool tls = strncmp(url, "rediss://", 9) == 0;
	char *h;

	if (!tls && strncmp(url, "redis://", 8) != 0)
		return tsso_err_set(err, "store.config",
		                    "session.redis_url: must start with redis:// or rediss://");
	p = url + (tls ? 9 : 8);
	slash = strchr(p, '/');
	if (memchr(p, '@', slash != NULL ? (size_t)(slash - p) : strlen(p)) != NULL)
		return tsso_err_set(err, "store.config",
		                    "session.redis_url: no credentials in the URL; use "
		                    "session.redis_password_file");
	if (*p == '[') {
		host = p + 1;
		hend = strchr(host, ']');
		if (hend == NULL)
			return tsso_err_set(err, "store.config",
			                    "session.redis_url: bad IPv6 host");
		p = hend + 1;
	} else {
		host = p;
		hend = p + strcspn(p, ":/");
		p = hend;
	}
	if (hend == host)
		return tsso_err_set(err, "store.config", "session.redis_url: no host");
	if (*p == ':') {
		const char *e = p + 1 + strcspn(p + 1, "/");

		if (parse_uint(p + 1, (size_t)(e - p - 1), 65535, &port) < 0 || port == 0)
			return tsso_err_set(err, "store.config", "session.redis_url: bad port");
		p = e;
	}
	if (*p == '/') {
		/* "/" alone means database 0 */
		if (p[1] != '\0' && parse_uint(p + 1, strlen(p + 1), 255, &db) < 0)
			return tsso_err_set(
			    err, "store.config",
			    "session.redis_url: the path must be a database number");
	} else if (*p != '\0') {
		return tsso_err_set(err, "store.config", "session.redis_url: trailing characters");
	}
	h = strndup(host, (size_t)(hend - host));
	if (h == NULL)
		return tsso_err_set(err, "store.config", "out of memory");
	*ret_host = h;
	*ret_port = (int)port;
	*ret_db = (int)db;
	*ret_tls = tls;
	return 0;
}

struct redis_pool *redis_pool_new(const struct redis_pool_opts *o, struct tsso_err *err)
{
	struct redis_pool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		goto fail;
	if (o->tls) {
		p->tls = redis_tls_new(o->ca_file, err);
		if (p->tls == NULL) {
			free(p);
			return NULL;
		}
	}
	p->size = o->size;
	p->idle = calloc(o->size, sizeof(*p->idle));
	p->host = strdup(o->host);
	if (p->idle == NULL || p->host == NULL)
		goto fail;
	if (o->password != NULL) {
		p->password = malloc(o->password_len + 1);
		if (p->password == NULL)
			goto fail;
		memcpy(p->password, o->password, o->password_len);
		p->password[o->password_len] = '\0';
		p->password_len = o->password_len;
	}
	p->port = o->port;
	p->db = o->db;
	p->connect_ms = o->connect_timeout_ms;
	p->command_ms = o->command_timeout_ms;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	snprintf(p->last_error, sizeof(p->last_error), "not connected yet");
	return p;
fail:
	if (p != NULL) {
		redis_tls_free(p->tls);
		free(p->idle);
		free(p->host);
		free(p);
	}
	tsso_err_set(err, "store.config", "out of memory");
	return NULL;
}

void redis_pool_free(struct redis_pool *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_idle; i++)
		redisFree(p->idle[i]);
	/* The idle connections are closed: their relays end. */
	redis_tls_free(p->tls);
	free(p->idle);
	free(p->host);
	if (p->password != NULL) {
		tsso_wipe(p->password, p->password_len);
		free(p->password);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* A new connection, authenticated and on the right database. */
static redisContext *pool_connect(struct redis_pool *p, char *why, size_t whylen)
{
	redisContext *c = NULL;
	redisReply *r = NULL;
	int fd = -1;

	if (p->tls != NULL) {
		if (redis_tls_open(p->tls, p->host, p->port, p->connect_ms, p->command_ms, &fd, why,
		                   whylen) < 0)
			goto fail;
		c = redisConnectFd(fd);
		if (c == NULL)
			close(fd); /* else c owns it */
	} else {
		c = redisConnectWithTimeout(p->host, p->port, ms_tv(p->connect_ms));
	}
	if (c == NULL || c->err) {
		snprintf(why, whylen, "%s", c != NULL ? c->errstr : "out of memory");
		goto fail;
	}
	if (redisSetTimeout(c, ms_tv(p->command_ms)) != REDIS_OK) {
		snprintf(why, whylen, "cannot set the command timeout");
		goto fail;
	}
	if (p->password != NULL) {
		const char *argv[] = {"AUTH", p->password};
		const size_t len[] = {4, p->password_len};

		r = redisCommandArgv(c, 2, argv, len);
		if (r == NULL || r->type != REDIS_REPLY_STATUS) {
			/* The server's text names the problem, never the password. */
			snprintf(why, whylen, "AUTH refused: %.96s",
			         r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
			goto fail;
		}
		freeReplyObject(r);
		r = NULL;
	}
	if (p->db != 0) {
		char db[8];
		const char *argv[] = {"SELECT", db};
		size_t len[2] = {6, 0};

		len[1] = (size_t)snprintf(db, sizeof(db), "%d", p->db);
		r = redisCommandArgv(c, 2, argv, len);
		if (r == NULL || r->type != REDIS_REPLY_STATUS) {
			snprintf(why, whylen, "SELECT %d failed", p->db);
			goto fail;
		}
		freeReplyObject(r);
	}
	return c;
fail:
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return NULL;
}

static void pool_backoff(struct redis_pool *p, const char *why)
{
	uint32_t jitter = 0;
	int64_t half;

	p->backoff_ms = p->backoff_ms == 0 ? BACKOFF_START_MS : p->backoff_ms * 2;
	if (p->backoff_ms > TSSO_REDIS_BACKOFF_MAX_MS)
		p->backoff_ms = TSSO_REDIS_BACKOFF_MAX_MS;
	/* Half fixed, half random: instances restarting together do not stampede. */
	half = p->backoff_ms / 2;
	if (tsso_rand_bytes(&jitter, sizeof(jitter)) < 0)
		jitter = 0;
	p->retry_at_ms = mono_ms() + half + (int64_t)(jitter % (uint32_t)(half + 1));
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
}

static redisContext *pool_acquire(struct redis_pool *p, struct tsso_err *err)
{
	struct timespec deadline;
	redisContext *c = NULL;
	char why[128];

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += p->command_ms / 1000;
	deadline.tv_nsec += (p->command_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (p->n_idle > 0) {
			c = p->idle[--p->n_idle];
			break;
		}
		if (p->open < p->size) {
			if (mono_ms() < p->retry_at_ms) {
				/* Fail fast while backing off: the answer is a 503 anyway. */
				tsso_err_set(err, "store.unavailable", "redis unreachable: %s",
				             p->last_error);
				break;
			}
			p->open++;
			pthread_mutex_unlock(&p->lock);
			c = pool_connect(p, why, sizeof(why));
			pthread_mutex_lock(&p->lock);
			if (c == NULL) {
				p->open--;
				pool_backoff(p, why);
				pthread_cond_signal(&p->cond);
				tsso_err_set(err, "store.unavailable", "redis unreachable: %s",
				             why);
			} else {
				p->backoff_ms = 0;
				p->retry_at_ms = 0;
				p->last_error[0] = '\0';
			}
			break;
		}
		if (pthread_cond_timedwait(&p->cond, &p->lock, &deadline) == ETIMEDOUT) {
			tsso_err_set(err, "store.unavailable",
			             "redis pool exhausted (%zu connections)", p->size);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return c;
}

static void pool_release(struct redis_pool *p, redisContext *c, bool broken)
{
	redisContext *stale[TSSO_REDIS_POOL_MAX];
	size_t n_stale = 0;

	pthread_mutex_lock(&p->lock);
	if (broken) {
		redisFree(c);
		p->open--;
		/* The others were opened to the same server: after a restart they
		 * are all dead, so drop them rather than fail once per connection. */
		while (p->n_idle > 0 && n_stale < TSSO_ARRAY_LEN(stale)) {
			stale[n_stale++] = p->idle[--p->n_idle];
			p->open--;
		}
		snprintf(p->last_error, sizeof(p->last_error), "connection lost");
	} else {
		p->idle[p->n_idle++] = c;
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < n_stale; i++)
		redisFree(stale[i]);
}

/* One attempt on one connection. 1: I/O failure (connection broken). */
static int pool_run(redisContext *c, size_t n, const int *argc, const char **const *argv,
                    const size_t *const *argvlen, redisReply **replies)
{
	size_t got = 0;

	for (size_t i = 0; i < n; i++)
		if (redisAppendCommandArgv(c, argc[i], (const char **)argv[i], argvlen[i]) !=
		    REDIS_OK)
			return 1;
	for (got = 0; got < n; got++) {
		void *r = NULL;

		if (redisGetReply(c, &r) != REDIS_OK || r == NULL)
			break;
		replies[got] = r;
	}
	if (got == n)
		return 0;
	for (size_t i = 0; i < got; i++)
		freeReplyObject(replies[i]);
	return 1;
}

int redis_pool_pipeline(struct redis_pool *p, size_t n, const int *argc, const char **const *argv,
                        const size_t *const *argvlen, redisReply **ret_replies,
                        struct tsso_err *err)
{
	char why[128];

	/* A second attempt on a fresh connection when the first one was stale
	 * (Redis restarted): costs only the requests in flight. A lost reply to
	 * a SET NX then reads as "already used": failing closed. */
	for (int attempt = 0; attempt < 2; attempt++) {
		redisContext *c = pool_acquire(p, err);

		if (c == NULL)
			return -1;
		if (pool_run(c, n, argc, argv, argvlen, ret_replies) == 0) {
			pool_release(p, c, false);
			return 0;
		}
		snprintf(why, sizeof(why), "%s", c->errstr[0] ? c->errstr : "I/O error");
		pool_release(p, c, true);
	}
	return tsso_err_set(err, "store.unavailable", "redis unreachable: %s", why);
}

int redis_pool_command(struct redis_pool *p, int argc, const char **argv, const size_t *argvlen,
                       redisReply **ret_reply, struct tsso_err *err)
{
	const char **const av[1] = {argv};
	const size_t *const al[1] = {argvlen};

	return redis_pool_pipeline(p, 1, &argc, av, al, ret_reply, err);
}

int redis_pool_health(struct redis_pool *p, struct tsso_err *err)
{
	const char *argv[] = {"PING"};
	const size_t len[] = {4};
	redisReply *r = NULL;
	int rc;

	if (redis_pool_command(p, 1, argv, len, &r, err) < 0)
		return -1;
	rc = r->type == REDIS_REPLY_STATUS
	         ? 0
	         : tsso_err_set(err, "store.unavailable", "redis unusable: %s",
	                        r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
	freeReplyObject(r);
	return rc;
}
