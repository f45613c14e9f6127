/*
 * Growable byte buffer with its own size limit, set at creation (after curl's
 * dynbuf): every buffer that collects untrusted bytes says how big it may get.
 * The content is always NUL-terminated.
 */
#ifndef TSSO_BUF_H
#define TSSO_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "tsso/common.h"

struct tsso_buf {
	char *ptr;
	size_t len;
	size_t cap;
	size_t max; /* refuse to grow beyond this many bytes of content */
};

void tsso_buf_init(struct tsso_buf *b, size_t max);
/* Append; -1 (and the buffer unchanged) when over max or out of memory. */
int tsso_buf_add(struct tsso_buf *b, const void *p, size_t n) TSSO_WUR;
/* Make room for n more bytes now, so that appending them later never moves
 * (copies) the content; -1 when over max or out of memory. */
int tsso_buf_reserve(struct tsso_buf *b, size_t n) TSSO_WUR;
int tsso_buf_adds(struct tsso_buf *b, const char *s) TSSO_WUR;
/* Append v in decimal (no printf: the hot paths build cookies and URLs). */
int tsso_buf_addll(struct tsso_buf *b, long long v) TSSO_WUR;
int tsso_buf_addf(struct tsso_buf *b, const char *fmt, ...) TSSO_PRINTF(2, 3) TSSO_WUR;
int tsso_buf_vaddf(struct tsso_buf *b, const char *fmt, va_list ap) TSSO_WUR;
/* The decimal digits of v written backwards from the end of d (room for
 * any long long, sign included); returns where they start. */
#define TSSO_DEC_LL_MAX 24
char *tsso_dec_ll(char d[TSSO_DEC_LL_MAX], long long v);
/* Append s with JSON string escaping (no surrounding quotes). */
int tsso_buf_add_json_escaped(struct tsso_buf *b, const char *s) TSSO_WUR;
/* Append s with HTML escaping of & < > " ' */
int tsso_buf_add_html_escaped(struct tsso_buf *b, const char *s) TSSO_WUR;
/* Empty the buffer, keep its memory. */
void tsso_buf_reset(struct tsso_buf *b);
/* Give the content (NUL-terminated, never NULL on success) to the caller, who owns it;
 * the buffer is left empty. NULL on out-of-memory. */
char *tsso_buf_take(struct tsso_buf *b);
/* Release memory. Accepts a zeroed buffer. */
void tsso_buf_free(struct tsso_buf *b);
/* Wipe the content, then release: for buffers that held secrets. */
void tsso_buf_free_secure(struct tsso_buf *b);

#endif
