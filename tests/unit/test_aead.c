/* Unit tests for src/util/aead.c: GCM known answers, sealed-token round
 * trips, every refusal, keyring rotation and the keyring file parser. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/util/aead_internal.h"
#include "tsso/aead.h"
#include "tsso/b64.h"
#include "tsso/crypto.h"

static void unhex(const char *h, unsigned char *out, size_t *ret_n)
{
	size_t n = strlen(h) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
	*ret_n = n;
}

/* The AES-256 cases of McGrew & Viega, "The Galois/Counter Mode of
 * Operation (GCM)", test cases 13-16 (also in NIST's GCM validation set). */
static void test_gcm_vectors(void **state)
{
	static const struct {
		const char *k, *iv, *p, *a, *c, *t;
	} v[] = {
	    {"0000000000000000000000000000000000000000000000000000000000000000",
	     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
	    {"0000000000000000000000000000000000000000000000000000000000000000",
	     "000000000000000000000000", "00000000000000000000000000000000", "",
	     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
	    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	     "cafebabefacedbaddecaf888",
	     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0"
	     "e2"
	     "449a6b525b16aedf5aa0de657ba637b391aafd255",
	     "",
	     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08"
	     "b1"
	     "056828838c5f61e6393ba7a0abcc9f662898015ad",
	     "b094dac5d93471bdec1a502270e3cc6c"},
	    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	     "cafebabefacedbaddecaf888",
	     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0"
	     "e2"
	     "449a6b525b16aedf5aa0de657ba637b39",
	     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08"
	     "b1"
	     "056828838c5f61e6393ba7a0abcc9f662",
	     "76fc6ece0f4e1768cddf8853bb2d551b"},
	};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		unsigned char k[32], iv[12], p[64], a[32], c[64], t[16], out[64], tag[16];
		size_t kn, ivn, pn, an, cn, tn;

		unhex(v[i].k, k, &kn);
		unhex(v[i].iv, iv, &ivn);
		unhex(v[i].p, p, &pn);
		unhex(v[i].a, a, &an);
		unhex(v[i].c, c, &cn);
		unhex(v[i].t, t, &tn);
		assert_int_equal(tsso_aead_gcm_encrypt(k, iv, a, an, p, pn, out, tag), 0);
		assert_memory_equal(out, c, cn);
		assert_memory_equal(tag, t, 16);
		assert_int_equal(tsso_aead_gcm_decrypt(k, iv, a, an, c, cn, t, out), 0);
		assert_memory_equal(out, p, pn);
		/* A flipped tag bit is refused. */
		t[15] ^= 1;
		assert_int_equal(tsso_aead_gcm_decrypt(k, iv, a, an, c, cn, t, out), -1);
	}
}

/* A token made by an independent implementation (Python "cryptography",
 * AESGCM) following the documented layout: version 1 | SHA-256(key)[:4] |
 * iv | ciphertext | tag, associated data = those 5 header bytes || purpose. */
static void test_interop_token(void **state)
{
	static const char token[] = "AQLUSaOF35IpEskXdONhdutlvjoBQnuvXFVWgGw99vseknowXwuqkw";
	unsigned char key[TSSO_AEAD_KEY_LEN];
	struct tsso_keyring *kr;
	struct tsso_err err = {0};
	unsigned char *p = NULL;
	size_t n = 0;
	(void)state;

	memset(key, 0x11, sizeof(key));
	kr = tsso_keyring_new(key, 1);
	assert_int_equal(tsso_aead_open(kr, "session:acme", token, &p, &n, &err), 0);
	assert_int_equal(n, 7);
	assert_string_equal((char *)p, "{\"v\":1}");
	free(p);
	tsso_keyring_free(kr);
}

static struct tsso_keyring *ring_of(unsigned char first, size_t n)
{
	unsigned char keys[4 * TSSO_AEAD_KEY_LEN];

	for (size_t i = 0; i < n; i++)
		memset(keys + i * TSSO_AEAD_KEY_LEN, first + (int)i, TSSO_AEAD_KEY_LEN);
	return tsso_keyring_new(keys, n);
}

static void test_round_trip(void **state)
{
	struct tsso_keyring *kr = ring_of(1, 1);
	struct tsso_err err = {0};
	char *t1 = NULL, *t2 = NULL;
	unsigned char *plain = NULL;
	size_t n = 0;
	(void)state;

	assert_non_null(kr);
	assert_int_equal(tsso_keyring_count(kr), 1);
	assert_int_equal(tsso_aead_seal(kr, "session:acme", "hello", 5, &t1, &err), 0);
	assert_int_equal(tsso_aead_seal(kr, "session:acme", "hello", 5, &t2, &err), 0);
	/* A fresh IV per seal: the same input never gives the same token. */
	assert_string_not_equal(t1, t2);
	/* 1 + 4 + 12 + 5 + 16 bytes */
	assert_int_equal(strlen(t1), tsso_b64url_encoded_len(38));
	assert_int_equal(tsso_aead_open(kr, "session:acme", t1, &plain, &n, &err), 0);
	assert_int_equal(n, 5);
	assert_string_equal((char *)plain, "hello");
	free(plain);
	plain = NULL;
	/* Empty plaintext works too. */
	free(t2);
	assert_int_equal(tsso_aead_seal(kr, "x", "", 0, &t2, &err), 0);
	assert_int_equal(tsso_aead_open(kr, "x", t2, &plain, &n, &err), 0);
	assert_int_equal(n, 0);
	free(plain);
	free(t1);
	free(t2);
	tsso_keyring_free(kr);
}

/* Open must fail with reason, leaving the outputs untouched. */
static void expect_refused(const struct tsso_keyring *kr, const char *aad, const char *token,
                           const char *reason)
{
	struct tsso_err err = {0};
	unsigned char *plain = (unsigned char *)"untouched";
	size_t n = 42;

	assert_int_equal(tsso_aead_open(kr, aad, token, &plain, &n, &err), -1);
	assert_string_equal(tsso_err_reason(&err), reason);
	assert_string_equal((char *)plain, "untouched");
	assert_int_equal(n, 42);
}

/* Re-encode the raw form with byte i flipped. */
static char *flip(const char *token, size_t i)
{
	unsigned char *raw = NULL;
	size_t n = 0;
	char *out;

	assert_int_equal(tsso_b64url_decode(token, strlen(token), &raw, &n), 0);
	assert_true(i < n);
	raw[i] ^= 0x01;
	out = tsso_b64url_encode(raw, n);
	free(raw);
	return out;
}

static void test_refusals(void **state)
{
	struct tsso_keyring *kr = ring_of(1, 1);
	struct tsso_err err = {0};
	char *t = NULL, *bad;
	/* version(1) kid(4) iv(12) ct(10) tag(16): one byte of each part */
	static const struct {
		size_t at;
		const char *reason;
	} flips[] = {{0, "aead.malformed"}, {1, "aead.unknown_key"}, {4, "aead.unknown_key"},
	             {5, "aead.forged"},    {16, "aead.forged"},     {17, "aead.forged"},
	             {26, "aead.forged"},   {27, "aead.forged"},     {42, "aead.forged"}};
	(void)state;

	assert_int_equal(tsso_aead_seal(kr, "session:acme", "0123456789", 10, &t, &err), 0);
	for (size_t i = 0; i < TSSO_ARRAY_LEN(flips); i++) {
		bad = flip(t, flips[i].at);
		expect_refused(kr, "session:acme", bad, flips[i].reason);
		free(bad);
	}
	/* Truncated at every length: never accepted. */
	for (size_t len = 0; len < strlen(t); len++) {
		char *cut = strndup(t, len);
		struct tsso_err e = {0};
		unsigned char *p = NULL;
		size_t n;

		assert_int_equal(tsso_aead_open(kr, "session:acme", cut, &p, &n, &e), -1);
		assert_true(strcmp(e.reason, "aead.malformed") == 0 ||
		            strcmp(e.reason, "aead.forged") == 0);
		free(cut);
	}
	/* Purpose binding: a session token is not a login state, nor another tenant's. */
	expect_refused(kr, "login-state:acme", t, "aead.forged");
	expect_refused(kr, "session:acmf", t, "aead.forged");
	expect_refused(kr, NULL, t, "aead.forged");
	/* Not base64url, padding, empty, NULL. */
	expect_refused(kr, "session:acme", "!!!!", "aead.malformed");
	expect_refused(kr, "session:acme", "", "aead.malformed");
	expect_refused(kr, "session:acme", NULL, "aead.malformed");
	bad = malloc(strlen(t) + 3);
	snprintf(bad, strlen(t) + 3, "%s==", t);
	expect_refused(kr, "session:acme", bad, "aead.malformed");
	free(bad);
	free(t);
	tsso_keyring_free(kr);
}

/* Each key keeps cipher contexts with the key already set, and a seal or
 * an open only sets its IV: whatever ran on a context before (a seal, an
 * open, a forged tag, other associated data, another key's token) must not
 * change the next result. */
static void test_kept_contexts(void **state)
{
	struct tsso_keyring *kr = ring_of(1, 2), *twin = ring_of(1, 1), *second = ring_of(2, 1);
	struct tsso_err err = {0};
	char *t1 = NULL, *t2 = NULL, *t3 = NULL, *bad;
	unsigned char *p = NULL;
	size_t n = 0;
	(void)state;

	assert_int_equal(tsso_aead_seal(second, "s", "by key two", 10, &t3, &err), 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(tsso_aead_seal(kr, "session:acme", "first", 5, &t1, &err), 0);
		assert_int_equal(tsso_aead_open(kr, "session:acme", t1, &p, &n, &err), 0);
		assert_string_equal((char *)p, "first");
		free(p);
		bad = flip(t1, strlen("first") + 17 + 3); /* in the tag */
		expect_refused(kr, "session:acme", bad, "aead.forged");
		free(bad);
		expect_refused(kr, "session:acmf", t1, "aead.forged");
		/* The same key in another keyring, and the second key of this one. */
		assert_int_equal(tsso_aead_open(twin, "session:acme", t1, &p, &n, &err), 0);
		assert_string_equal((char *)p, "first");
		free(p);
		assert_int_equal(tsso_aead_open(kr, "s", t3, &p, &n, &err), 0);
		assert_string_equal((char *)p, "by key two");
		free(p);
		assert_int_equal(tsso_aead_seal(twin, "x", "second", 6, &t2, &err), 0);
		assert_int_equal(tsso_aead_open(kr, "x", t2, &p, &n, &err), 0);
		assert_string_equal((char *)p, "second");
		free(p);
		assert_int_equal(tsso_aead_open(kr, "session:acme", t1, &p, &n, &err), 0);
		assert_string_equal((char *)p, "first");
		free(p);
		free(t1);
		free(t2);
	}
	free(t3);
	tsso_keyring_free(kr);
	tsso_keyring_free(twin);
	tsso_keyring_free(second);
}

/* More threads than a key keeps contexts: some work on throw-away ones,
 * all get the right answers. */
#define RACE_THREADS 16
#define RACE_ROUNDS  300

struct race {
	const struct tsso_keyring *kr;
	int id;
	int failures;
};

static void *race_main(void *arg)
{
	struct race *r = arg;
	char msg[32], aad[16];

	snprintf(aad, sizeof(aad), "t%d", r->id);
	for (int i = 0; i < RACE_ROUNDS; i++) {
		struct tsso_err err = {0};
		char *t = NULL;
		unsigned char *p = NULL;
		size_t n = 0;
		int len = snprintf(msg, sizeof(msg), "thread %d round %d", r->id, i);

		if (tsso_aead_seal(r->kr, aad, msg, (size_t)len, &t, &err) < 0 ||
		    tsso_aead_open(r->kr, aad, t, &p, &n, &err) < 0 || n != (size_t)len ||
		    memcmp(p, msg, n) != 0 || tsso_aead_open(r->kr, "other", t, &p, &n, &err) == 0)
			r->failures++;
		free(p);
		free(t);
	}
	return NULL;
}

static void test_kept_contexts_threads(void **state)
{
	struct tsso_keyring *kr = ring_of(7, 1);
	pthread_t th[RACE_THREADS];
	struct race r[RACE_THREADS];
	(void)state;

	for (int i = 0; i < RACE_THREADS; i++) {
		r[i] = (struct race){.kr = kr, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, race_main, &r[i]), 0);
	}
	for (int i = 0; i < RACE_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(r[i].failures, 0);
	}
	tsso_keyring_free(kr);
}

static void test_rotation(void **state)
{
	struct tsso_keyring *old = ring_of(1, 1), *both = NULL, *newonly = ring_of(2, 1);
	unsigned char keys[2 * TSSO_AEAD_KEY_LEN];
	struct tsso_err err = {0};
	char *t_old = NULL, *t_new = NULL;
	unsigned char *p = NULL;
	size_t n;
	(void)state;

	/* The new key goes first; the old stays to open what it sealed. */
	memset(keys, 2, TSSO_AEAD_KEY_LEN);
	memset(keys + TSSO_AEAD_KEY_LEN, 1, TSSO_AEAD_KEY_LEN);
	both = tsso_keyring_new(keys, 2);
	assert_non_null(both);
	assert_int_equal(tsso_aead_seal(old, "a", "x", 1, &t_old, &err), 0);
	assert_int_equal(tsso_aead_seal(both, "a", "y", 1, &t_new, &err), 0);
	assert_int_equal(tsso_aead_open(both, "a", t_old, &p, &n, &err), 0);
	free(p);
	assert_int_equal(tsso_aead_open(newonly, "a", t_new, &p, &n, &err), 0);
	assert_string_equal((char *)p, "y");
	free(p);
	/* Once the old key is removed, what it sealed is refused by name. */
	expect_refused(newonly, "a", t_old, "aead.unknown_key");
	/* The old-only ring cannot open what the new key sealed. */
	expect_refused(old, "a", t_new, "aead.unknown_key");
	assert_null(tsso_keyring_new(keys, 0));
	assert_null(tsso_keyring_new(NULL, 1));
	free(t_old);
	free(t_new);
	tsso_keyring_free(old);
	tsso_keyring_free(both);
	tsso_keyring_free(newonly);
}

static char *write_tmp(const char *content)
{
	char *path = strdup("/tmp/tsso-keyring-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

static struct tsso_keyring *load_str(const char *content, struct tsso_err *err)
{
	char *path = write_tmp(content);
	struct tsso_keyring *kr = tsso_keyring_load(path, err);

	unlink(path);
	free(path);
	return kr;
}

#define HEX64 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define B6443 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

static void test_keyring_file(void **state)
{
	struct tsso_err err = {0};
	struct tsso_keyring *kr, *ref;
	unsigned char raw[32];
	unsigned char *p = NULL;
	char *t = NULL;
	size_t n;
	(void)state;

	for (size_t i = 0; i < 32; i++)
		raw[i] = (unsigned char)i;
	ref = tsso_keyring_new(raw, 1);
	/* Comments, blank lines, CRLF, surrounding blanks; hex and base64url of the same key
	 * would be a duplicate, so the second key differs. */
	kr = load_str("# session keys\n\n  " HEX64 "  \r\n"
	              "# old key\n"
	              "BAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
	              &err);
	assert_non_null(kr);
	assert_int_equal(tsso_keyring_count(kr), 2);
	/* The first line seals: the reference ring (same key) opens it. */
	assert_int_equal(tsso_aead_seal(kr, "a", "z", 1, &t, &err), 0);
	assert_int_equal(tsso_aead_open(ref, "a", t, &p, &n, &err), 0);
	free(p);
	free(t);
	tsso_keyring_free(kr);
	/* base64url form of the same key. */
	kr = load_str(B6443 "\n", &err);
	assert_non_null(kr);
	assert_int_equal(tsso_aead_seal(kr, "a", "z", 1, &t, &err), 0);
	assert_int_equal(tsso_aead_open(ref, "a", t, &p, &n, &err), 0);
	free(p);
	free(t);
	tsso_keyring_free(kr);
	tsso_keyring_free(ref);
}

static void test_keyring_refusals(void **state)
{
	static const struct {
		const char *content, *reason;
	} v[] = {
	    {"", "keyring.empty"},
	    {"# only a comment\n\n", "keyring.empty"},
	    {HEX64 "0\n", "keyring.bad_key"}, /* 65 hex */
	    {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n",
	     "keyring.bad_key"}, /* 63 hex */
	    {"g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	     "keyring.bad_key"},                       /* not hex */
	    {HEX64 " junk\n", "keyring.bad_key"},      /* trailing junk */
	    {HEX64 " # comment\n", "keyring.bad_key"}, /* no inline comments */
	    {B6443 "A\n", "keyring.bad_key"},          /* 44 chars */
	    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh\n", "keyring.bad_key"},  /* 42 */
	    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9\n", "keyring.bad_key"}, /* bits */
	    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+\n", "keyring.bad_key"}, /* alphabet */
	    {HEX64 "\n" B6443 "\n", "keyring.duplicate_key"},
	};
	(void)state;
	for (size_t i = 0; i < TSSO_ARRAY_LEN(v); i++) {
		struct tsso_err err = {0};

		assert_null(load_str(v[i].content, &err));
		assert_string_equal(tsso_err_reason(&err), v[i].reason);
		/* The message never repeats the (mistyped) key. */
		assert_null(strstr(err.msg, "0102030405"));
		assert_null(strstr(err.msg, "AAECAwQF"));
	}
}

static void test_keyring_limits(void **state)
{
	struct tsso_err err = {0};
	char content[20 * 70] = "";
	(void)state;

	/* 17 distinct keys: one too many. */
	for (int i = 0; i < 17; i++) {
		char line[70];

		snprintf(line, sizeof(line), "%02x%s\n", i, HEX64 + 2);
		strcat(content, line);
	}
	assert_null(load_str(content, &err));
	assert_string_equal(tsso_err_reason(&err), "keyring.too_many_keys");
	assert_null(tsso_keyring_load("/nonexistent/keyring", &err));
	assert_string_equal(tsso_err_reason(&err), "keyring.unreadable");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gcm_vectors),      cmocka_unit_test(test_interop_token),
	    cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_kept_contexts),    cmocka_unit_test(test_kept_contexts_threads),
	    cmocka_unit_test(test_rotation),         cmocka_unit_test(test_keyring_file),
	    cmocka_unit_test(test_keyring_refusals), cmocka_unit_test(test_keyring_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
