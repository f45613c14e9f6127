/* Per-tenant circuit breaker and the retrying outbound call to Toucan. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "embed_int.h"
#include "tsso/clock.h"
#include "tsso/crypto.h"

void tsso_embed_breaker_init(struct tsso_embed_breaker *b, int threshold, long cooldown_ms)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	b->threshold = threshold;
	b->cooldown_ms = cooldown_ms;
}

void tsso_embed_breaker_destroy(struct tsso_embed_breaker *b)
{
	pthread_mutex_destroy(&b->mu);
}

/*
 * Closed: every call goes out. Open: nothing goes out until the cool-down
 * has passed; then exactly one probe (half-open) goes out, and its outcome
 * closes the breaker again or restarts the cool-down. This keeps a Toucan
 * outage from holding every request thread for the full timeouts.
 */
bool tsso_embed_breaker_allow(struct tsso_embed_breaker *b, double now)
{
	bool ok;

	pthread_mutex_lock(&b->mu);
	if (!b->open) {
		ok = true;
	} else if (!b->probing && (now - b->opened_at) * 1000.0 >= (double)b->cooldown_ms) {
		b->probing = true;
		ok = true;
	} else {
		ok = false;
	}
	pthread_mutex_unlock(&b->mu);
	return ok;
}

void tsso_embed_breaker_record(struct tsso_embed_breaker *b, int outcome, double now)
{
	pthread_mutex_lock(&b->mu);
	if (outcome < 0) {
		b->probing = false; /* says nothing about Toucan */
	} else if (outcome > 0) {
		b->failures = 0;
		b->open = false;
		b->probing = false;
	} else {
		b->failures++;
		if (b->probing || b->failures >= b->threshold) {
			b->open = true;
			b->opened_at = now;
		}
		b->probing = false;
	}
	pthread_mutex_unlock(&b->mu);
}

long tsso_embed_breaker_wait_ms(struct tsso_embed_breaker *b, double now)
{
	long ms = 0;

	pthread_mutex_lock(&b->mu);
	if (b->open) {
		double left = (double)b->cooldown_ms - (now - b->opened_at) * 1000.0;
		ms = left > 0 ? (long)left : 0;
	}
	pthread_mutex_unlock(&b->mu);
	return ms;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* "Equal jitter": half the exponential delay fixed, half random, so that
 * many requests failing together do not come back together. */
static long backoff_ms(const struct tsso_embed_opts *o, int attempt)
{
	long d = o->backoff_base_ms;
	unsigned int r = 0;

	for (int i = 0; i < attempt && d < o->backoff_max_ms; i++)
		d *= 2;
	if (d > o->backoff_max_ms)
		d = o->backoff_max_ms;
	if (d <= 1 || tsso_rand_bytes(&r, sizeof(r)) < 0)
		return d;
	return d / 2 + (long)(r % (unsigned int)(d / 2 + 1));
}

/* Transport failures worth another attempt: the request did not complete.
 * TLS failures, oversized answers and local limits are not transient. */
static bool retryable_reason(const char *reason)
{
	return reason != NULL &&
	       (strcmp(reason, "fetch.timeout") == 0 || strcmp(reason, "fetch.connect") == 0);
}

int tsso_embed_call(struct tsso_embed_client *c, tsso_embed_build_fn build,
                    tsso_embed_release_fn release, void *ctx, struct tsso_fetch_resp *ret,
                    struct tsso_err *err)
{
	char last[96] = "no attempt";
	int max = c->opts.max_retries;

	for (int attempt = 0; attempt <= max; attempt++) {
		struct tsso_fetch_req req;
		struct tsso_fetch_resp resp;
		struct tsso_err ferr = {0};
		bool retry;
		int rc;

		if (!tsso_embed_breaker_allow(&c->breaker, tsso_now_mono())) {
			if (attempt == 0)
				return tsso_err_set(
				    err, "embed.circuit_open",
				    "Toucan failed repeatedly; not calling it for a while");
			break;
		}
		memset(&req, 0, sizeof(req));
		memset(&resp, 0, sizeof(resp));
		if (build(ctx, &req, err) < 0) {
			/* Nothing went out: the breaker must not stay half-open. */
			tsso_embed_breaker_record(&c->breaker, -1, tsso_now_mono());
			return -1;
		}
		rc = tsso_fetch(c->fetcher, &req, &resp, &ferr);
		if (release != NULL)
			release(ctx);
		if (rc == 0 && resp.status < 500) {
			/* Toucan answered: available, whatever it thinks of the request. */
			tsso_embed_breaker_record(&c->breaker, 1, tsso_now_mono());
			*ret = resp;
			return 0;
		}
		if (rc == 0) {
			snprintf(last, sizeof(last), "Toucan answered HTTP %ld", resp.status);
			if (resp.retry_after >= 0)
				atomic_store(&c->retry_after, resp.retry_after);
			tsso_fetch_resp_free(&resp);
			retry = true;
		} else {
			/* The fetch reason only, never its text: no URL or header in logs. */
			snprintf(last, sizeof(last), "call failed (%s)", tsso_err_reason(&ferr));
			retry = retryable_reason(ferr.reason);
			if (ferr.reason != NULL && strcmp(ferr.reason, "fetch.busy") == 0) {
				/* Our own concurrency cap, not Toucan's failure. */
				tsso_embed_breaker_record(&c->breaker, -1, tsso_now_mono());
				break;
			}
		}
		tsso_embed_breaker_record(&c->breaker, 0, tsso_now_mono());
		if (!retry || attempt == max)
			break;
		sleep_ms(backoff_ms(&c->opts, attempt));
	}
	return tsso_err_set(err, "embed.toucan_unavailable", "Toucan is unavailable: %s", last);
}
