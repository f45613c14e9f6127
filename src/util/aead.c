/* Sealed tokens: AES-256-GCM under a rotating keyring (see tsso/aead.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "src/util/aead_internal.h"
#include "tsso/aead.h"
#include "tsso/b64.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

#define AEAD_VERSION 0x01
#define AEAD_KID_LEN 4
#define AEAD_HDR_LEN (1 + AEAD_KID_LEN)
#define AEAD_MIN_RAW (AEAD_HDR_LEN + TSSO_AEAD_IV_LEN + TSSO_AEAD_TAG_LEN)
/* The associated data is header || purpose; purposes are short labels. */
#define AEAD_AAD_MAX 512

/* Cipher contexts kept per key with the key already expanded (the AES
 * schedule and GCM's table): a seal or an open only sets its IV. A call
 * takes a free one, or makes a throw-away context when all are busy. */
#define AEAD_CTX_SLOTS 8

struct aead_ctx_slot {
	atomic_bool busy;
	EVP_CIPHER_CTX *ctx; /* NULL until first used; freed (and wiped) with the keyring */
};

struct aead_key {
	unsigned char key[TSSO_AEAD_KEY_LEN];
	unsigned char kid[AEAD_KID_LEN];
	struct aead_ctx_slot slots[AEAD_CTX_SLOTS];
};

#if TSSO_AEAD_IV_LEN != 12
#error "gcm_run relies on 96 bits being GCM's default IV length"
#endif

struct tsso_keyring {
	struct aead_key *keys;
	size_t n;
	/* AES-256-GCM fetched from the provider once: EVP_aes_256_gcm() makes
	 * every initialisation fetch it again (docs/performance.md). */
	EVP_CIPHER *gcm;
};

/* One GCM operation on ctx. With key, ctx is new and gets cipher and key;
 * without, ctx already holds them (a kept context) and only the IV, GCM's
 * default 96 bits, is set, which also restarts the GCM state. */
static int gcm_op(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, int enc, const unsigned char *key,
                  const unsigned char *iv, const void *aad, size_t aad_len, const unsigned char *in,
                  size_t n, unsigned char *out, unsigned char *tag)
{
	int len;

	if (n > INT32_MAX || aad_len > INT32_MAX)
		return -1;
	if (EVP_CipherInit_ex(ctx, key != NULL ? cipher : NULL, NULL, key, iv, enc) != 1)
		return -1;
	if (aad_len > 0 && EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1)
		return -1;
	if (n > 0 && EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1)
		return -1;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TSSO_AEAD_TAG_LEN, tag) != 1)
		return -1;
	/* For decryption this is where the tag is checked. */
	if (EVP_CipherFinal_ex(ctx, out + n, &len) != 1)
		return -1;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TSSO_AEAD_TAG_LEN, tag) != 1)
		return -1;
	return 0;
}

/* gcm_op on a context of its own. */
static int gcm_run(const EVP_CIPHER *cipher, int enc, const unsigned char *key,
                   const unsigned char *iv, const void *aad, size_t aad_len,
                   const unsigned char *in, size_t n, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int rc =
	    ctx != NULL ? gcm_op(ctx, cipher, enc, key, iv, aad, aad_len, in, n, out, tag) : -1;

	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* gcm_run under keyring key k, on one of its kept contexts when one is free.
 * A context whose operation failed (a forged tag, say) is kept too: the
 * next one starts from its IV. One that could not take the key is freed. */
static int gcm_keyed(const struct tsso_keyring *kr, struct aead_key *k, int enc,
                     const unsigned char *iv, const void *aad, size_t aad_len,
                     const unsigned char *in, size_t n, unsigned char *out, unsigned char *tag)
{
	const EVP_CIPHER *cipher = kr->gcm != NULL ? kr->gcm : EVP_aes_256_gcm();

	for (size_t i = 0; i < AEAD_CTX_SLOTS; i++) {
		struct aead_ctx_slot *s = &k->slots[i];
		const unsigned char *key = NULL;
		int rc;

		if (atomic_load_explicit(&s->busy, memory_order_relaxed) ||
		    atomic_exchange_explicit(&s->busy, true, memory_order_acquire))
			continue;
		if (s->ctx == NULL) {
			s->ctx = EVP_CIPHER_CTX_new();
			key = k->key;
		}
		rc = s->ctx != NULL
		         ? gcm_op(s->ctx, cipher, enc, key, iv, aad, aad_len, in, n, out, tag)
		         : -1;
		if (rc < 0 && key != NULL) {
			EVP_CIPHER_CTX_free(s->ctx);
			s->ctx = NULL;
		}
		atomic_store_explicit(&s->busy, false, memory_order_release);
		return rc;
	}
	return gcm_run(cipher, enc, k->key, iv, aad, aad_len, in, n, out, tag);
}

int tsso_aead_gcm_encrypt(const unsigned char key[32], const unsigned char iv[TSSO_AEAD_IV_LEN],
                          const void *aad, size_t aad_len, const void *plain, size_t n,
                          unsigned char *ct, unsigned char tag[TSSO_AEAD_TAG_LEN])
{
	return gcm_run(EVP_aes_256_gcm(), 1, key, iv, aad, aad_len, plain, n, ct, tag);
}

int tsso_aead_gcm_decrypt(const unsigned char key[32], const unsigned char iv[TSSO_AEAD_IV_LEN],
                          const void *aad, size_t aad_len, const unsigned char *ct, size_t n,
                          const unsigned char tag[TSSO_AEAD_TAG_LEN], unsigned char *plain)
{
	unsigned char t[TSSO_AEAD_TAG_LEN];

	/* EVP wants a writable tag buffer. */
	memcpy(t, tag, sizeof(t));
	return gcm_run(EVP_aes_256_gcm(), 0, key, iv, aad, aad_len, ct, n, plain, t);
}

struct tsso_keyring *tsso_keyring_new(const unsigned char *keys, size_t n)
{
	struct tsso_keyring *kr = NULL;
	unsigned char digest[SHA256_DIGEST_LENGTH];

	if (keys == NULL || n == 0 || n > TSSO_KEYRING_MAX_KEYS)
		return NULL;
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL || (kr->keys = calloc(n, sizeof(*kr->keys))) == NULL) {
		free(kr);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < AEAD_CTX_SLOTS; j++)
			atomic_init(&kr->keys[i].slots[j].busy, false);
		memcpy(kr->keys[i].key, keys + i * TSSO_AEAD_KEY_LEN, TSSO_AEAD_KEY_LEN);
		/* The key id is a hash of the key, so it names the key without revealing it. */
		if (tsso_sha256(kr->keys[i].key, TSSO_AEAD_KEY_LEN, digest) < 0) {
			tsso_wipe(digest, sizeof(digest));
			kr->n = n;
			tsso_keyring_free(kr);
			return NULL;
		}
		memcpy(kr->keys[i].kid, digest, AEAD_KID_LEN);
	}
	kr->n = n;
	kr->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL); /* NULL: the slower path */
	tsso_wipe(digest, sizeof(digest));
	return kr;
}

void tsso_keyring_free(struct tsso_keyring *kr)
{
	if (kr == NULL)
		return;
	/* EVP_CIPHER_CTX_free wipes the expanded key with the context. */
	for (size_t i = 0; i < kr->n; i++)
		for (size_t j = 0; j < AEAD_CTX_SLOTS; j++)
			EVP_CIPHER_CTX_free(kr->keys[i].slots[j].ctx);
	tsso_wipe(kr->keys, kr->n * sizeof(*kr->keys));
	free(kr->keys);
	EVP_CIPHER_free(kr->gcm);
	free(kr);
}

size_t tsso_keyring_count(const struct tsso_keyring *kr)
{
	return kr != NULL ? kr->n : 0;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One key line (already trimmed): exactly 64 hex digits or 43 base64url characters. */
static int keyring_parse_key(const char *s, size_t len, unsigned char *out)
{
	unsigned char *raw = NULL;
	size_t n = 0;

	if (len == 2 * TSSO_AEAD_KEY_LEN) {
		for (size_t i = 0; i < TSSO_AEAD_KEY_LEN; i++) {
			int hi = hex_value((unsigned char)s[2 * i]);
			int lo = hex_value((unsigned char)s[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return -1;
			out[i] = (unsigned char)(hi << 4 | lo);
		}
		return 0;
	}
	if (len != 43 || tsso_b64url_decode(s, len, &raw, &n) < 0)
		return -1;
	if (n != TSSO_AEAD_KEY_LEN) {
		tsso_wipe(raw, n);
		free(raw);
		return -1;
	}
	memcpy(out, raw, n);
	tsso_wipe(raw, n);
	free(raw);
	return 0;
}

static int keyring_read_file(const char *path, char **ret_data, size_t *ret_n, struct tsso_err *err)
{
	char *data = NULL;
	size_t n = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return tsso_err_set(err, "keyring.unreadable", "cannot open %s: %s", path,
		                    strerror(errno));
	data = malloc(TSSO_CFG_MAX_SECRET_FILE + 1);
	if (data == NULL) {
		close(fd);
		return tsso_err_set(err, "keyring.unreadable", "out of memory");
	}
	while ((r = read(fd, data + n, TSSO_CFG_MAX_SECRET_FILE + 1 - n)) > 0) {
		n += (size_t)r;
		if (n > TSSO_CFG_MAX_SECRET_FILE)
			break;
	}
	close(fd);
	if (r < 0 || n > TSSO_CFG_MAX_SECRET_FILE) {
		tsso_wipe(data, n);
		free(data);
		return tsso_err_set(err, "keyring.unreadable", "%s: %s", path,
		                    r < 0 ? "read failed" : "file too large");
	}
	data[n] = '\0';
	*ret_data = data;
	*ret_n = n;
	return 0;
}

struct tsso_keyring *tsso_keyring_load(const char *path, struct tsso_err *err)
{
	unsigned char keys[TSSO_KEYRING_MAX_KEYS * TSSO_AEAD_KEY_LEN];
	struct tsso_keyring *kr = NULL;
	char *data = NULL;
	size_t n = 0, nkeys = 0, line = 0;
	const char *p, *end;

	if (keyring_read_file(path, &data, &n, err) < 0)
		return NULL;
	end = data + n;
	for (p = data; p < end; line++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = eol != NULL ? eol : end;

		p = eol != NULL ? eol + 1 : end;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (s == e || *s == '#')
			continue;
		if (nkeys == TSSO_KEYRING_MAX_KEYS) {
			tsso_err_set(err, "keyring.too_many_keys", "%s: more than %d keys", path,
			             TSSO_KEYRING_MAX_KEYS);
			goto out;
		}
		if (keyring_parse_key(s, (size_t)(e - s), keys + nkeys * TSSO_AEAD_KEY_LEN) < 0) {
			/* Never echo the line: it is (a mistyped) secret. */
			tsso_err_set(err, "keyring.bad_key",
			             "%s: line %zu: expected 64 hex digits or 43 base64url "
			             "characters and nothing else",
			             path, line + 1);
			goto out;
		}
		for (size_t i = 0; i < nkeys; i++) {
			if (tsso_ct_eq(keys + i * TSSO_AEAD_KEY_LEN, TSSO_AEAD_KEY_LEN,
			               keys + nkeys * TSSO_AEAD_KEY_LEN, TSSO_AEAD_KEY_LEN)) {
				tsso_err_set(err, "keyring.duplicate_key",
				             "%s: line %zu repeats an earlier key", path, line + 1);
				goto out;
			}
		}
		nkeys++;
	}
	if (nkeys == 0) {
		tsso_err_set(err, "keyring.empty", "%s: no key", path);
		goto out;
	}
	kr = tsso_keyring_new(keys, nkeys);
	if (kr == NULL)
		tsso_err_set(err, "keyring.unreadable", "out of memory");
out:
	tsso_wipe(keys, sizeof(keys));
	tsso_wipe(data, n);
	free(data);
	return kr;
}

/* header || purpose, the GCM associated data. */
static int aead_build_aad(const unsigned char *hdr, const char *aad, unsigned char *out,
                          size_t *ret_len)
{
	size_t alen = aad != NULL ? strlen(aad) : 0;

	if (alen > AEAD_AAD_MAX)
		return -1;
	memcpy(out, hdr, AEAD_HDR_LEN);
	if (alen > 0)
		memcpy(out + AEAD_HDR_LEN, aad, alen);
	*ret_len = AEAD_HDR_LEN + alen;
	return 0;
}

int tsso_aead_seal(const struct tsso_keyring *kr, const char *aad, const void *plain, size_t n,
                   char **ret_token, struct tsso_err *err)
{
	unsigned char adata[AEAD_HDR_LEN + AEAD_AAD_MAX];
	unsigned char *raw = NULL;
	size_t raw_len, alen;
	char *token = NULL;
	int rc = -1;

	if (kr == NULL || kr->n == 0)
		return tsso_err_set(err, "aead.no_key", "no sealing key");
	if (n > TSSO_AEAD_TOKEN_MAX)
		return tsso_err_set(err, "aead.too_large", "%zu bytes is too much to seal", n);
	raw_len = AEAD_MIN_RAW + n;
	raw = malloc(raw_len);
	if (raw == NULL)
		return tsso_err_set(err, "aead.failed", "out of memory");
	raw[0] = AEAD_VERSION;
	memcpy(raw + 1, kr->keys[0].kid, AEAD_KID_LEN);
	if (aead_build_aad(raw, aad, adata, &alen) < 0) {
		tsso_err_set(err, "aead.failed", "associated data too long");
		goto out;
	}
	/* A fresh random 96-bit IV per seal (NIST SP 800-38D §8.2.2). */
	if (tsso_rand_bytes(raw + AEAD_HDR_LEN, TSSO_AEAD_IV_LEN) < 0 ||
	    gcm_keyed(kr, &kr->keys[0], 1, raw + AEAD_HDR_LEN, adata, alen, plain, n,
	              raw + AEAD_HDR_LEN + TSSO_AEAD_IV_LEN,
	              raw + AEAD_HDR_LEN + TSSO_AEAD_IV_LEN + n) < 0) {
		tsso_err_set(err, "aead.failed", "encryption failed");
		goto out;
	}
	token = tsso_b64url_encode(raw, raw_len);
	if (token == NULL) {
		tsso_err_set(err, "aead.failed", "out of memory");
		goto out;
	}
	*ret_token = token;
	rc = 0;
out:
	tsso_wipe(raw, raw_len);
	free(raw);
	return rc;
}

int tsso_aead_open(const struct tsso_keyring *kr, const char *aad, const char *token,
                   unsigned char **ret_plain, size_t *ret_n, struct tsso_err *err)
{
	unsigned char adata[AEAD_HDR_LEN + AEAD_AAD_MAX];
	unsigned char *raw = NULL, *plain = NULL;
	size_t raw_len = 0, tlen, n, alen;
	struct aead_key *key = NULL;
	int rc = -1;

	if (kr == NULL || token == NULL)
		return tsso_err_set(err, "aead.malformed", "no token");
	tlen = strnlen(token, TSSO_AEAD_TOKEN_MAX + 1);
	if (tlen > TSSO_AEAD_TOKEN_MAX)
		return tsso_err_set(err, "aead.malformed", "token too long");
	if (tsso_b64url_decode(token, tlen, &raw, &raw_len) < 0)
		return tsso_err_set(err, "aead.malformed", "not base64url");
	if (raw_len < AEAD_MIN_RAW || raw[0] != AEAD_VERSION) {
		tsso_err_set(err, "aead.malformed", "bad length or version");
		goto out;
	}
	for (size_t i = 0; i < kr->n; i++) {
		if (memcmp(kr->keys[i].kid, raw + 1, AEAD_KID_LEN) == 0) {
			key = &kr->keys[i];
			break;
		}
	}
	if (key == NULL) {
		tsso_err_set(err, "aead.unknown_key", "sealed with a key not in the keyring");
		goto out;
	}
	if (aead_build_aad(raw, aad, adata, &alen) < 0) {
		tsso_err_set(err, "aead.malformed", "associated data too long");
		goto out;
	}
	n = raw_len - AEAD_MIN_RAW;
	plain = malloc(n + 1);
	if (plain == NULL) {
		tsso_err_set(err, "aead.failed", "out of memory");
		goto out;
	}
	/* The tag sits in raw, which is ours to write (EVP wants it writable). */
	if (gcm_keyed(kr, key, 0, raw + AEAD_HDR_LEN, adata, alen,
	              raw + AEAD_HDR_LEN + TSSO_AEAD_IV_LEN, n, plain,
	              raw + AEAD_HDR_LEN + TSSO_AEAD_IV_LEN + n) < 0) {
		tsso_err_set(err, "aead.forged", "authentication failed");
		goto out;
	}
	plain[n] = '\0';
	*ret_plain = plain;
	*ret_n = n;
	plain = NULL;
	rc = 0;
out:
	if (plain != NULL) {
		tsso_wipe(plain, n + 1);
		free(plain);
	}
	free(raw);
	return rc;
}
