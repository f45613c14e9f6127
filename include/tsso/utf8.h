/* Byte-level text checks shared by the web-facing parsers (URL, redirect, form). */
#ifndef TSSO_UTF8_H
#define TSSO_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1-4) of the well-formed UTF-8 sequence at s[0..n) per RFC 3629
 * §4 (no overlongs, no surrogates, nothing above U+10FFFF), or 0 when the
 * bytes there are not one. n must be at least 1. */
size_t tsso_utf8_seq_len(const unsigned char *s, size_t n);

/* True when s[0..n) is entirely well-formed UTF-8. */
bool tsso_utf8_valid(const char *s, size_t n);

/* Value of an ASCII hex digit (either case), or -1. */
int tsso_hex_value(unsigned char c);

/* Write code point cp (at most U+10FFFF, not a surrogate: the caller has
 * checked) as UTF-8 at out; returns the bytes written, 1 to 4. */
size_t tsso_utf8_put(unsigned char *out, unsigned long cp);

#endif
