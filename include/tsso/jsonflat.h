/*
 * A strict reader for the top-level members of one JSON object (RFC 8259),
 * for the session record read on every request (src/session/session.c):
 * each string is decoded once, nested values are checked without being
 * built, nothing is allocated but the strings taken. Texts from outside
 * (tokens, IdP answers) go through the general reader, tsso/json.h. It accepts nothing that jansson
 * with JSON_REJECT_DUPLICATES would refuse: grammar errors, leading zeros, control characters and
 * invalid UTF-8 in strings, \u0000, lone surrogates, repeated member names at any depth, nesting
 * over 32, anything after the closing brace are refused. Callers with an unusual text (more members
 * than TSSO_JFLAT_MAX_MEMBERS) fall back to tsso/json.h.
 */
#ifndef TSSO_JSONFLAT_H
#define TSSO_JSONFLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsso/common.h"

/* Top-level members read; an object with more is refused. */
#define TSSO_JFLAT_MAX_MEMBERS 128

enum tsso_jflat_type {
	TSSO_JFLAT_STRING = 1,
	TSSO_JFLAT_INTEGER, /* no fraction or exponent, fits 64 bits */
	TSSO_JFLAT_OBJECT,
	TSSO_JFLAT_OTHER, /* array, true, false, null, other numbers */
};

struct tsso_jflat_value {
	enum tsso_jflat_type type;
	char *str; /* STRING: decoded, NUL-terminated, no NUL inside; member()
	              may take it (then sets it to NULL), else it is wiped and freed */
	size_t len;
	int64_t num;     /* INTEGER */
	const char *raw; /* OBJECT, OTHER (and INTEGER): the value's text, borrowed */
	size_t raw_len;
	/* OBJECT: false when it holds an object of more than 128 members (too
	 * many to compare for repeats here) or a real number of 64 characters
	 * or more: its brackets and strings were skipped, not checked; parse it
	 * strictly (jansson) before use. */
	bool checked;
};

/* Called for each member, in order; key is borrowed. Return -1 to stop. */
typedef int (*tsso_jflat_member_fn)(void *arg, const char *key, struct tsso_jflat_value *v);

/* Read the object in json[0..n). -1 on any refusal above, when member()
 * returns -1, or out of memory. Decoded strings are wiped before they are
 * freed (they may be tokens). */
int tsso_jflat_parse(const char *json, size_t n, tsso_jflat_member_fn member, void *arg) TSSO_WUR;

#endif
