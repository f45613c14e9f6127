/* Unit tests for src/util: base64url, bounded buffers, errors, crypto helpers. */
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tsso/b64.h"
#include "tsso/buf.h"
#include "tsso/cpu.h"
#include "tsso/crypto.h"
#include "tsso/err.h"

/* RFC 4648 §10 vectors, in the url alphabet without padding. */
static void test_b64url_vectors(void **state)
{
	static const struct {
		const char *plain, *enc;
	} v[] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
	         {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *e = tsso_b64url_encode(v[i].plain, strlen(v[i].plain));
		unsigned char *d = NULL;
		size_t n = 0;

		assert_string_equal(e, v[i].enc);
		assert_int_equal(tsso_b64url_decode(e, strlen(e), &d, &n), 0);
		assert_int_equal(n, strlen(v[i].plain));
		assert_memory_equal(d, v[i].plain, n);
		free(e);
		free(d);
	}
}

static void test_b64url_refuses(void **state)
{
	static const char *const bad[] = {
	    "Zg==", "Z", "Zh", "Zm9=", "Zm9v+", "Zm9v/", "Zm 9v", "Zm9\n"};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char *d = (unsigned char *)"untouched";
		size_t n = 7;

		assert_int_equal(tsso_b64url_decode(bad[i], strlen(bad[i]), &d, &n), -1);
		assert_string_equal((char *)d, "untouched");
		assert_int_equal(n, 7);
	}
}

/* The four-at-a-time decoder: every length and byte value round-trips, a
 * byte outside the alphabet is refused in each position of a group and of
 * the tail, and so are non-zero leftover bits in a 3-character tail. */
static void test_b64url_groups(void **state)
{
	unsigned char plain[70];

	(void)state;
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (unsigned char)(i * 97 + 255);
	for (size_t len = 0; len <= sizeof(plain); len++) {
		char *e = tsso_b64url_encode(plain, len);
		size_t elen = strlen(e);
		unsigned char *d = NULL;
		size_t n = 0;

		assert_int_equal(tsso_b64url_decode(e, elen, &d, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(d, plain, len);
		free(d);
		for (size_t pos = 0; pos < elen && pos < 11; pos++) {
			char saved = e[pos];

			e[pos] = pos % 2 ? '=' : '.';
			d = NULL;
			assert_int_equal(tsso_b64url_decode(e, elen, &d, &n), -1);
			assert_null(d);
			e[pos] = saved;
		}
		free(e);
	}
	{
		unsigned char *d = NULL;
		size_t n = 0;

		assert_int_equal(tsso_b64url_decode("Zm8", 3, &d, &n), 0);
		free(d);
		d = NULL;
		assert_int_equal(tsso_b64url_decode("Zm9", 3, &d, &n), -1);
		assert_int_equal(tsso_b64url_decode("AAAAZm9", 7, &d, &n), -1);
		assert_int_equal(tsso_b64url_decode("AAAAZh", 6, &d, &n), -1);
		assert_int_equal(tsso_b64url_decode("AAA\x80", 4, &d, &n), -1);
		assert_int_equal(tsso_b64url_decode("\xff"
		                                    "AAA",
		                                    4, &d, &n),
		                 -1);
		assert_null(d);
	}
}

static void test_buf_limit(void **state)
{
	struct tsso_buf b;
	(void)state;
	tsso_buf_init(&b, 8);
	assert_int_equal(tsso_buf_adds(&b, "12345678"), 0);
	assert_int_equal(tsso_buf_adds(&b, "9"), -1);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.ptr, "12345678");
	assert_int_equal(tsso_buf_addf(&b, "%d", 1), -1);
	assert_int_equal(tsso_buf_addll(&b, 1), -1);
	assert_int_equal(b.len, 8);
	tsso_buf_free(&b);
}

/* Decimal integers without printf: the same text as printf's %lld. */
static void test_buf_addll(void **state)
{
	static const long long v[] = {0, 7, -1, 10, -10, 1234567890123LL, LLONG_MAX, LLONG_MIN};
	struct tsso_buf b;
	char want[32];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		tsso_buf_init(&b, 64);
		assert_int_equal(tsso_buf_adds(&b, "x"), 0);
		assert_int_equal(tsso_buf_addll(&b, v[i]), 0);
		snprintf(want, sizeof(want), "x%lld", v[i]);
		assert_string_equal(b.ptr, want);
		tsso_buf_free(&b);
	}
}

static void test_buf_escape(void **state)
{
	struct tsso_buf b;
	(void)state;
	tsso_buf_init(&b, 1024);
	assert_int_equal(tsso_buf_add_html_escaped(&b, "<a href='x'>&\""), 0);
	assert_string_equal(b.ptr, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
	tsso_buf_reset(&b);
	assert_int_equal(tsso_buf_add_json_escaped(&b, "a\"b\\c\n<\x01"), 0);
	assert_string_equal(b.ptr, "a\\\"b\\\\c\\n\\u003c\\u0001");
	tsso_buf_free(&b);
}

static void test_err(void **state)
{
	struct tsso_err err = {0};
	(void)state;
	assert_string_equal(tsso_err_reason(&err), "ok");
	assert_int_equal(tsso_err_set(&err, "x.y", "n=%d", 3), -1);
	assert_string_equal(err.reason, "x.y");
	assert_string_equal(err.msg, "n=3");
	assert_int_equal(tsso_err_set(NULL, "x.y", "no crash"), -1);
	tsso_err_clear(&err);
	assert_null(err.reason);
}

static void test_crypto(void **state)
{
	char *a, *b;
	(void)state;
	a = tsso_rand_token(32);
	b = tsso_rand_token(32);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	assert_true(tsso_ct_streq(a, a));
	assert_false(tsso_ct_streq(a, b));
	assert_false(tsso_ct_streq(a, NULL));
	assert_false(tsso_ct_eq("ab", 2, "abc", 3));
	assert_null(tsso_rand_token(0));
	tsso_free_secret(a);
	free(b);
}

/* tsso_rand_bytes serves small draws from its thread's pool: across many
 * refills of mixed sizes no 16-byte window repeats, a draw over the limit
 * still works, and a forked child does not repeat what the parent gets
 * (the jti pools of test_embed_jwt.c are the same tsso_rand_pool). */
static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static void test_rand_pool(void **state)
{
	enum { N = 1200 }; /* 1200 x (16 + up to 48) bytes: many pages */
	unsigned char(*v)[16] = calloc(N, 16);
	unsigned char pad[48], big[200], zero[16] = {0}, first[16], child[16], mine[16];
	int fds[2], status = 0;
	pid_t pid;

	(void)state;
	assert_non_null(v);
	for (int i = 0; i < N; i++) {
		assert_int_equal(tsso_rand_bytes(v[i], 16), 0);
		assert_memory_not_equal(v[i], zero, 16);
		assert_int_equal(tsso_rand_bytes(pad, (size_t)(i % 49)), 0);
	}
	qsort(v, N, 16, cmp16);
	for (int i = 1; i < N; i++)
		assert_memory_not_equal(v[i - 1], v[i], 16);
	free(v);
	assert_int_equal(tsso_rand_bytes(big, sizeof(big)), 0);
	assert_int_equal(tsso_rand_bytes(NULL, 0), 0);
	assert_int_equal(tsso_rand_pool_draw(NULL, first, sizeof(first)), 0);

	assert_int_equal(tsso_rand_bytes(first, sizeof(first)), 0); /* the page holds more */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned char c[16];

		close(fds[0]);
		_exit(tsso_rand_bytes(c, sizeof(c)) == 0 && write(fds[1], c, sizeof(c)) == sizeof(c)
		          ? 0
		          : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(tsso_rand_bytes(mine, sizeof(mine)), 0);
	assert_memory_not_equal(child, mine, sizeof(mine));
	assert_memory_not_equal(child, first, sizeof(first));
}

/* FIPS 180-2 appendix B.1 and B.2, and the empty string. */
static void test_sha256(void **state)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsigned char d[32];
		char hex[65];

		assert_int_equal(tsso_sha256(v[i].in, strlen(v[i].in), d), 0);
		for (size_t j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", d[j]);
		assert_string_equal(hex, v[i].hex);
	}
}

/* SipHash-2-4 reference vector (key 00..0f, message 00..0e). */
static void test_siphash(void **state)
{
	unsigned char msg[15];
	uint64_t key[2];
	unsigned char k[16];
	(void)state;

	for (int i = 0; i < 16; i++)
		k[i] = (unsigned char)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (unsigned char)i;
	memcpy(key, k, 16); /* little-endian machine */
	assert_true(tsso_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
	assert_true(tsso_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
}

/* cgroup v2 cpu.max: "QUOTA PERIOD" rounds up, "max" is no limit, anything
 * else is refused (and then ignored by tsso_cpus_usable). */
static void test_cpu_max(void **state)
{
	static const struct {
		const char *text;
		int rc;
		unsigned cpus;
	} cases[] = {
	    {"max 100000\n", 0, 0},
	    {"150000 100000\n", 0, 2},
	    {"100000 100000", 0, 1},
	    {"50000 100000\n", 0, 1},
	    {"400000 100000\n", 0, 4},
	    {"", -1, 0},
	    {"max", -1, 0},
	    {"max\n", -1, 0},
	    {"abc 100000", -1, 0},
	    {"100000 0", -1, 0},
	    {"0 100000", -1, 0},
	    {"100000 abc", -1, 0},
	    {"-1 100000", -1, 0},
	    {"100000  100000", -1, 0},
	    {" 100000", -1, 0},
	    {"100000 100000 1", -1, 0},
	    {"9999999999999999999 1", -1, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned cpus = 12345;
		int rc = tsso_cpu_max_parse(cases[i].text, strlen(cases[i].text), &cpus);

		if (rc != cases[i].rc || (rc == 0 && cpus != cases[i].cpus))
			fail_msg("cpu.max \"%s\": rc %d cpus %u", cases[i].text, rc, cpus);
	}
	assert_int_equal(tsso_cpu_default_threads(1), 1);
	assert_int_equal(tsso_cpu_default_threads(2), 1);
	assert_int_equal(tsso_cpu_default_threads(3), 2);
	assert_int_equal(tsso_cpu_default_threads(8), 7);
	assert_int_equal(tsso_cpu_default_threads(1000), 64);
}

/* The affinity mask caps the count: a child pinned to one CPU sees one. */
static void test_cpus_usable(void **state)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = tsso_cpus_usable();
	int status;
	pid_t pid;

	(void)state;
	assert_true(n >= 1 && (online <= 0 || n <= (unsigned)online));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
		_exit(sched_setaffinity(0, sizeof(one), &one) == 0 && tsso_cpus_usable() == 1 ? 0
		                                                                              : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64url_vectors),
	    cmocka_unit_test(test_b64url_refuses),
	    cmocka_unit_test(test_b64url_groups),
	    cmocka_unit_test(test_buf_limit),
	    cmocka_unit_test(test_buf_addll),
	    cmocka_unit_test(test_buf_escape),
	    cmocka_unit_test(test_err),
	    cmocka_unit_test(test_crypto),
	    cmocka_unit_test(test_rand_pool),
	    cmocka_unit_test(test_sha256),
	    cmocka_unit_test(test_siphash),
	    cmocka_unit_test(test_cpu_max),
	    cmocka_unit_test(test_cpus_usable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
