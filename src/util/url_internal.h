/* Shared between url.c (the state machine) and url_host.c (host parsing). */
#ifndef TSSO_URL_INTERNAL_H
#define TSSO_URL_INTERNAL_H

#include <stddef.h>

#include "tsso/buf.h"
#include "tsso/err.h"

/* Parse a host as found in a special URL's authority (WHATWG "host parser",
 * not opaque): "[v6]", a domain (percent-decoded, ASCII only, lower-cased)
 * or an IPv4 address in any of the number forms browsers accept. Appends
 * the serialized host to out. */
int tsso_url_host_parse(const char *in, size_t len, struct tsso_buf *out, struct tsso_err *err);

#endif
