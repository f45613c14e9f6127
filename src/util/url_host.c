/* WHATWG URL host parsing for special schemes: IPv6, IPv4 number forms, ASCII domains. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tsso/limits.h"
#include "tsso/utf8.h"
#include "url_internal.h"

/* Bigger than any IPv4 part can be (2^32), small enough never to overflow. */
#define IPV4_PART_SATURATE ((uint64_t)1 << 40)

/* URL Standard §3.3 "forbidden domain code point": the forbidden host code
 * points plus C0 controls, '%' and DEL. */
static bool forbidden_domain_cp(unsigned char c)
{
	if (c <= 0x1f || c == 0x7f || c == '%')
		return true;
	return strchr(" #/:<>?@[\\]^|", c) != NULL;
}

/* URL Standard §3.5 "IPv4 number parser". Saturates instead of overflowing;
 * any value over 2^32 is refused by the caller anyway. */
static int ipv4_number(const char *s, size_t n, uint64_t *ret)
{
	unsigned radix = 10;
	uint64_t v = 0;

	if (n == 0)
		return -1;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		n -= 2;
		radix = 16;
	} else if (n >= 2 && s[0] == '0') {
		s++;
		n--;
		radix = 8;
	}
	for (size_t i = 0; i < n; i++) {
		int d = tsso_hex_value((unsigned char)s[i]);

		if (d < 0 || (unsigned)d >= radix)
			return -1;
		v = v * radix + (uint64_t)d;
		if (v > IPV4_PART_SATURATE)
			v = IPV4_PART_SATURATE;
	}
	*ret = v;
	return 0;
}

/* URL Standard §3.5 "ends in a number checker": decides whether a domain is
 * to be read as an IPv4 address (so "0x7f.1" is, and "example.0x" is too). */
static bool ends_in_number(const char *s, size_t n)
{
	size_t start;
	uint64_t dummy;
	bool digits = true;

	if (n > 0 && s[n - 1] == '.')
		n--;
	start = n;
	while (start > 0 && s[start - 1] != '.')
		start--;
	if (start == n)
		return false;
	for (size_t i = start; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			digits = false;
	if (digits)
		return true;
	return ipv4_number(s + start, n - start, &dummy) == 0;
}

/* URL Standard §3.5 "IPv4 parser". */
static int ipv4_parse(const char *s, size_t n, struct tsso_buf *out, struct tsso_err *err)
{
	uint64_t nums[4];
	size_t count = 0, start = 0;
	uint64_t addr, limit;

	if (n > 0 && s[n - 1] == '.' && n > 1)
		n--;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (count == 4)
			return tsso_err_set(err, "url.ipv4",
			                    "IPv4 address with more than four parts");
		if (ipv4_number(s + start, i - start, &nums[count]) < 0)
			return tsso_err_set(err, "url.ipv4", "IPv4 address part is not a number");
		count++;
		start = i + 1;
	}
	for (size_t i = 0; i + 1 < count; i++)
		if (nums[i] > 255)
			return tsso_err_set(err, "url.ipv4", "IPv4 address part over 255");
	limit = (uint64_t)1 << (8 * (5 - count));
	if (nums[count - 1] >= limit)
		return tsso_err_set(err, "url.ipv4", "IPv4 address out of range");
	addr = nums[count - 1];
	for (size_t i = 0; i + 1 < count; i++)
		addr += nums[i] << (8 * (3 - i));
	for (int shift = 24; shift >= 0; shift -= 8)
		if (tsso_buf_addll(out, (long long)((addr >> shift) & 255)) < 0 ||
		    (shift != 0 && tsso_buf_adds(out, ".") < 0))
			return tsso_err_set(err, "url.nomem", "out of memory");
	return 0;
}

/* URL Standard §3.5 "IPv6 parser", then §3.6 serialization (RFC 5952 style
 * compression of the first longest run of zero pieces). */
static int ipv6_parse(const char *s, size_t n, struct tsso_buf *out, struct tsso_err *err)
{
	uint16_t a[8] = {0};
	int piece = 0, compress = -1, best = -1, best_len = 1;
	size_t p = 0;

#define C (p < n ? (unsigned char)s[p] : 0)
	if (C == ':') {
		if (p + 1 >= n || s[p + 1] != ':')
			goto bad;
		p += 2;
		compress = ++piece;
	}
	while (p < n) {
		unsigned value = 0, len = 0;

		if (piece == 8)
			goto bad;
		if (C == ':') {
			if (compress != -1)
				goto bad;
			p++;
			compress = ++piece;
			continue;
		}
		while (len < 4 && p < n && tsso_hex_value(C) >= 0) {
			value = value * 16 + (unsigned)tsso_hex_value(C);
			p++;
			len++;
		}
		if (p < n && C == '.') {
			int seen = 0;

			if (len == 0)
				goto bad;
			p -= len;
			if (piece > 6)
				goto bad;
			while (p < n) {
				int v4 = -1;

				if (seen > 0) {
					if (C == '.' && seen < 4)
						p++;
					else
						goto bad;
				}
				if (p >= n || C < '0' || C > '9')
					goto bad;
				while (p < n && C >= '0' && C <= '9') {
					int d = C - '0';

					if (v4 == -1)
						v4 = d;
					else if (v4 == 0)
						goto bad;
					else
						v4 = v4 * 10 + d;
					if (v4 > 255)
						goto bad;
					p++;
				}
				a[piece] = (uint16_t)(a[piece] * 0x100 + v4);
				seen++;
				if (seen == 2 || seen == 4)
					piece++;
			}
			if (seen != 4)
				goto bad;
			break;
		} else if (p < n && C == ':') {
			p++;
			if (p >= n)
				goto bad;
		} else if (p < n) {
			goto bad;
		}
		a[piece++] = (uint16_t)value;
	}
#undef C
	if (compress != -1) {
		int swaps = piece - compress;

		piece = 7;
		while (piece != 0 && swaps > 0) {
			uint16_t t = a[piece];

			a[piece] = a[compress + swaps - 1];
			a[compress + swaps - 1] = t;
			piece--;
			swaps--;
		}
	} else if (piece != 8) {
		goto bad;
	}

	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && a[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	if (tsso_buf_adds(out, "[") < 0)
		goto nomem;
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			if (tsso_buf_adds(out, i == 0 ? "::" : ":") < 0)
				goto nomem;
			i += best_len - 1;
			continue;
		}
		if (tsso_buf_addf(out, "%x", a[i]) < 0 || (i != 7 && tsso_buf_adds(out, ":") < 0))
			goto nomem;
	}
	if (tsso_buf_adds(out, "]") < 0)
		goto nomem;
	return 0;
bad:
	return tsso_err_set(err, "url.ipv6", "malformed IPv6 address");
nomem:
	return tsso_err_set(err, "url.nomem", "out of memory");
}

int tsso_url_host_parse(const char *in, size_t len, struct tsso_buf *out, struct tsso_err *err)
{
	char dom[TSSO_URL_MAX + 1];
	size_t n = 0;

	if (len > 0 && in[0] == '[') {
		if (len < 2 || in[len - 1] != ']')
			return tsso_err_set(err, "url.ipv6", "unterminated IPv6 address");
		return ipv6_parse(in + 1, len - 2, out, err);
	}
	if (len > TSSO_URL_MAX)
		return tsso_err_set(err, "url.too_long", "host too long");
	/* Percent-decode: the standard reads "%2e" in a host as ".", so do we. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '%' && i + 2 < len && tsso_hex_value((unsigned char)in[i + 1]) >= 0 &&
		    tsso_hex_value((unsigned char)in[i + 2]) >= 0) {
			c = (unsigned char)(tsso_hex_value((unsigned char)in[i + 1]) * 16 +
			                    tsso_hex_value((unsigned char)in[i + 2]));
			i += 2;
		}
		/* Domain to ASCII would apply UTS #46 to anything non-ASCII; we do
		 * not guess what a browser's IDNA tables say, we refuse. */
		if (c >= 0x80)
			return tsso_err_set(err, "url.host_idna", "non-ASCII host refused");
		dom[n++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	dom[n] = '\0';
	if (n == 0)
		return tsso_err_set(err, "url.host", "empty host");
	/* A Punycode label would be decoded and checked by UTS #46: refused too. */
	for (size_t i = 0; i < n; i++)
		if ((i == 0 || dom[i - 1] == '.') && strncmp(dom + i, "xn--", 4) == 0)
			return tsso_err_set(err, "url.host_idna", "IDNA host label refused");
	for (size_t i = 0; i < n; i++)
		if (forbidden_domain_cp((unsigned char)dom[i]))
			return tsso_err_set(err, "url.host", "forbidden code point in host");
	if (ends_in_number(dom, n))
		return ipv4_parse(dom, n, out, err);
	if (tsso_buf_add(out, dom, n) < 0)
		return tsso_err_set(err, "url.nomem", "out of memory");
	return 0;
}
