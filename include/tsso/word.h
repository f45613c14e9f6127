/*
 * Eight bytes at a time: the word tricks behind the fast scans of JSON
 * strings (jsonw.c) and cookie values (cookie.c). Each function sets the
 * high bit of every byte that matches. A borrow can only mark a byte above
 * one that already matched, so "some byte of the word matches" is exact;
 * which bytes match is not, and callers use only the former.
 */
#ifndef TSSO_WORD_H
#define TSSO_WORD_H

#include <stdint.h>
#include <string.h>

#define TSSO_WORD_ONES  0x0101010101010101ULL
#define TSSO_WORD_HIGHS 0x8080808080808080ULL

/* The 8 bytes at p, in host order (any alignment). */
static inline uint64_t tsso_word_load(const void *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	return x;
}

/* High bit of each byte equal to c. */
static inline uint64_t tsso_word_eq(uint64_t x, unsigned char c)
{
	uint64_t y = x ^ (TSSO_WORD_ONES * c);

	return (y - TSSO_WORD_ONES) & ~y;
}

/* High bit of each byte below n (n at most 0x80; bytes at or above 0x80 are
 * not marked: x's own high bits tell those). */
static inline uint64_t tsso_word_below(uint64_t x, unsigned char n)
{
	return (x - TSSO_WORD_ONES * n) & ~x;
}

#endif
