/*
 * One record per line on stderr, written with a single write(2) so lines from
 * several threads never interleave. JSON by default, key=value text on request.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tsso/buf.h"
#include "tsso/log.h"

#define LOG_LINE_MAX 8192

static atomic_int log_level = TSSO_LOG_INFO;
static atomic_bool log_json = true;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void tsso_log_setup(enum tsso_log_level level, bool json)
{
	atomic_store(&log_level, (int)level);
	atomic_store(&log_json, json);
}

int tsso_log_level_parse(const char *s)
{
	for (size_t i = 0; i < TSSO_ARRAY_LEN(level_names); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

bool tsso_log_enabled(enum tsso_log_level level)
{
	return (int)level >= atomic_load(&log_level);
}

/* Text format: quote values that contain spaces, quotes or control bytes. */
static int add_text_value(struct tsso_buf *b, const char *v)
{
	bool quote = *v == '\0';

	for (const char *p = v; *p && !quote; p++)
		quote = (unsigned char)*p <= ' ' || *p == '"' || *p == '=' || *p == 0x7f;
	if (!quote)
		return tsso_buf_adds(b, v);
	if (tsso_buf_adds(b, "\"") < 0 || tsso_buf_add_json_escaped(b, v) < 0)
		return -1;
	return tsso_buf_adds(b, "\"");
}

void tsso_log(enum tsso_log_level level, const char *event, ...)
{
	char stamp[64];
	struct timespec ts;
	struct tm tm;
	struct tsso_buf b;
	const char *k, *v;
	bool json = atomic_load(&log_json);
	va_list ap;
	int r = 0;

	if (!tsso_log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (long)(ts.tv_nsec / 1000000) % 1000);

	tsso_buf_init(&b, LOG_LINE_MAX);
	if (json)
		r |= tsso_buf_addf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"", stamp,
		                   level_names[level]);
	else
		r |= tsso_buf_addf(&b, "%s %s %s", stamp, level_names[level], "");
	r |= json ? tsso_buf_add_json_escaped(&b, event) : add_text_value(&b, event);
	if (json)
		r |= tsso_buf_adds(&b, "\"");

	va_start(ap, event);
	while (r == 0 && (k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (v == NULL)
			continue;
		if (json) {
			r |= tsso_buf_addf(&b, ",\"%s\":\"", k);
			r |= tsso_buf_add_json_escaped(&b, v);
			r |= tsso_buf_adds(&b, "\"");
		} else {
			r |= tsso_buf_addf(&b, " %s=", k);
			r |= add_text_value(&b, v);
		}
	}
	va_end(ap);

	if (r != 0) {
		/* Over the line limit: say so rather than emit a broken record. */
		tsso_buf_reset(&b);
		r = tsso_buf_addf(
		    &b,
		    json ? "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"log.truncated\""
		         : "%s %s log.truncated",
		    stamp, level_names[level]);
	}
	if (json)
		r |= tsso_buf_adds(&b, "}");
	r |= tsso_buf_adds(&b, "\n");
	if (r == 0 && b.ptr != NULL) {
		ssize_t w = write(STDERR_FILENO, b.ptr, b.len);
		(void)w;
	}
	tsso_buf_free(&b);
}
