/*
 * Eight bytes at a time: the word tricks behind the fast scans of JSON
 * strings (jsonw.c) and cookie values (cookie.c), and below them the same
 * sixteen bytes at a time with SSE2. Each function sets the
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

/*
 * Sixteen bytes at a time where the compiler targets SSE2 (every x86-64):
 * the same tests on a 128-bit vector, each lane 0xff where its byte
 * matches. Bytes compare as signed, so 0x80-0xff are below any bound in
 * 0x00-0x7f. Elsewhere TSSO_VEC_LEN is undefined and callers keep to words.
 */
#if defined(__SSE2__)
#include <emmintrin.h>
#include <stdbool.h>

#define TSSO_VEC_LEN 16

typedef __m128i tsso_vec;

static inline tsso_vec tsso_vec_load(const void *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

/* Lanes whose byte is below lo (0x80-0xff included). */
static inline tsso_vec tsso_vec_below(tsso_vec x, signed char lo)
{
	return _mm_cmplt_epi8(x, _mm_set1_epi8(lo));
}

/* Lanes whose byte is above hi and below 0x80. */
static inline tsso_vec tsso_vec_above(tsso_vec x, signed char hi)
{
	return _mm_cmpgt_epi8(x, _mm_set1_epi8(hi));
}

static inline tsso_vec tsso_vec_eq(tsso_vec x, char c)
{
	return _mm_cmpeq_epi8(x, _mm_set1_epi8(c));
}

static inline tsso_vec tsso_vec_or(tsso_vec a, tsso_vec b)
{
	return _mm_or_si128(a, b);
}

static inline bool tsso_vec_any(tsso_vec m)
{
	return _mm_movemask_epi8(m) != 0;
}
#endif

#endif
