/* The files of keys_dir: key generation, private key files, keys.json, the lock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "embed_int.h"
#include "tsso/b64.h"
#include "tsso/crypto.h"

bool tsso_embed_kid_valid(const char *kid)
{
	size_t n = strlen(kid);

	if (n == 0 || n > TSSO_EMBED_KID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = kid[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

static int path_join(char out[PATH_MAX], const char *dir, const char *name, const char *suffix,
                     struct tsso_err *err)
{
	int n = snprintf(out, PATH_MAX, "%s/%s%s", dir, name, suffix);

	if (n < 0 || n >= PATH_MAX)
		return tsso_err_set(err, "keys.io", "path too long under keys_dir");
	return 0;
}

/* Write all of n bytes to fd. */
static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read a whole regular file of at most max bytes from an open fd. */
static int read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	size_t len = 0;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (unsigned long long)st.st_size > max)
		return -1;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return -1;
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (len != (size_t)st.st_size) {
		tsso_wipe(buf, len);
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* A directory others may write to lets them swap keys: refuse it. */
int tsso_embed_dir_check(const char *dir, struct tsso_err *err)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return tsso_err_set(err, "keys.io", "keys_dir %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return tsso_err_set(err, "keys.io", "keys_dir %s is not a directory", dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return tsso_err_set(err, "keys.permissions",
		                    "keys_dir %s is writable by group or others (chmod 700)", dir);
	return 0;
}

int tsso_embed_dir_lock(const char *dir, bool create_dir, int *ret_fd, struct tsso_err *err)
{
	char path[PATH_MAX];
	int fd;

	if (create_dir && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return tsso_err_set(err, "keys.io", "cannot create keys_dir %s: %s", dir,
		                    strerror(errno));
	if (tsso_embed_dir_check(dir, err) < 0 ||
	    path_join(path, dir, TSSO_EMBED_LOCK_FILE, "", err) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return tsso_err_set(err, "keys.io", "cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return tsso_err_set(err, "keys.locked",
		                    "another `toucan-sso keys` command is working on %s", dir);
	}
	*ret_fd = fd;
	return 0;
}

void tsso_embed_dir_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

bool tsso_embed_dir_has_pem(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	if (d == NULL)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		found = n > 4 && strcmp(e->d_name + n - 4, ".pem") == 0;
	}
	closedir(d);
	return found;
}

static EVP_PKEY *generate(const char *alg)
{
	if (alg[0] == 'R' || alg[0] == 'P') /* RS256, RS512, PS256 */
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)TSSO_EMBED_RSA_BITS);
	if (strcmp(alg, "ES256") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (strcmp(alg, "EdDSA") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return NULL;
}

/* kid: the UTC creation date (readable in `keys list`) plus 72 random bits. */
static int make_kid(long long now, char out[TSSO_EMBED_KID_MAX + 1])
{
	unsigned char rnd[9];
	char enc[16];
	time_t t = (time_t)now;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tsso_rand_bytes(rnd, sizeof(rnd)) < 0)
		return -1;
	tsso_b64url_encode_to(enc, rnd, sizeof(rnd));
	snprintf(out, TSSO_EMBED_KID_MAX + 1, "%04d%02d%02d-%s", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, enc);
	return 0;
}

int tsso_embed_key_create(const char *dir, const char *alg, long long now,
                          char kid_out[TSSO_EMBED_KID_MAX + 1], struct tsso_err *err)
{
	char kid[TSSO_EMBED_KID_MAX + 1];
	char path[PATH_MAX];
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char *pem = NULL;
	long pem_len = 0;
	int fd = -1, rc = -1;

	if (!tsso_embed_alg_allowed(alg)) {
		tsso_err_set(err, "keys.bad_alg", "signing algorithm not allowed");
		goto out;
	}
	if (make_kid(now, kid) < 0) {
		tsso_err_set(err, "keys.generate_failed", "no randomness for the key id");
		goto out;
	}
	pkey = generate(alg);
	bio = BIO_new(BIO_s_mem());
	if (pkey == NULL || bio == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		tsso_err_set(err, "keys.generate_failed", "could not generate a %s key", alg);
		goto out;
	}
	pem_len = BIO_get_mem_data(bio, &pem);
	if (pem_len <= 0 || path_join(path, dir, kid, ".pem", err) < 0)
		goto out;
	/* O_EXCL: a key file is never overwritten, whatever its name collides with. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		tsso_err_set(err, errno == EEXIST ? "keys.exist" : "keys.io",
		             "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || write_all(fd, pem, (size_t)pem_len) < 0 || fsync(fd) < 0) {
		tsso_err_set(err, "keys.io", "cannot write %s: %s", path, strerror(errno));
		close(fd);
		fd = -1;
		unlink(path);
		goto out;
	}
	memcpy(kid_out, kid, sizeof(kid));
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (pem != NULL && pem_len > 0)
		OPENSSL_cleanse(pem, (size_t)pem_len);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return rc;
}

int tsso_embed_key_read(const char *dir, const char *kid, char **ret_pem, size_t *ret_len,
                        struct tsso_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if (!tsso_embed_kid_valid(kid))
		return tsso_err_set(err, "keys.metadata", "invalid kid in keys.json");
	if (path_join(path, dir, kid, ".pem", err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return tsso_err_set(err, "keys.io", "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return tsso_err_set(err, "keys.io", "%s is not a regular file", path);
	}
	/* A private key others can read is a leaked key (compare OpenSSH). */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		return tsso_err_set(err, "keys.permissions",
		                    "%s is accessible by group or others (mode %03o; chmod 600)",
		                    path, (unsigned)(st.st_mode & 0777));
	}
	if (read_fd(fd, TSSO_CFG_MAX_SECRET_FILE, ret_pem, ret_len) < 0) {
		close(fd);
		return tsso_err_set(err, "keys.io", "cannot read %s (or larger than %d bytes)",
		                    path, TSSO_CFG_MAX_SECRET_FILE);
	}
	close(fd);
	return 0;
}

void tsso_embed_key_delete(const char *dir, const char *kid)
{
	char path[PATH_MAX];

	if (tsso_embed_kid_valid(kid) && path_join(path, dir, kid, ".pem", NULL) == 0)
		unlink(path);
}

/* --- keys.json --- */

static int meta_cmp(const void *a, const void *b)
{
	const struct tsso_embed_key_meta *x = a, *y = b;

	if (x->activates_at != y->activates_at)
		return x->activates_at < y->activates_at ? -1 : 1;
	if (x->created_at != y->created_at)
		return x->created_at < y->created_at ? -1 : 1;
	return strcmp(x->kid, y->kid);
}

static int meta_entry(json_t *e, struct tsso_embed_key_meta *k, struct tsso_err *err)
{
	json_t *kid = json_object_get(e, "kid"), *alg = json_object_get(e, "alg");
	json_t *c = json_object_get(e, "created_at"), *a = json_object_get(e, "activates_at");

	if (!json_is_object(e) || json_object_size(e) != 4 || !json_is_string(kid) ||
	    !json_is_string(alg) || !json_is_integer(c) || !json_is_integer(a))
		return tsso_err_set(err, "keys.metadata",
		                    "keys.json: each key needs exactly kid, alg, created_at, "
		                    "activates_at");
	if (!tsso_embed_kid_valid(json_string_value(kid)))
		return tsso_err_set(err, "keys.metadata", "keys.json: invalid kid");
	if (!tsso_embed_alg_allowed(json_string_value(alg)))
		return tsso_err_set(err, "keys.metadata", "keys.json: alg not allowed");
	if (json_integer_value(c) < 0 || json_integer_value(a) < json_integer_value(c))
		return tsso_err_set(err, "keys.metadata", "keys.json: impossible times");
	snprintf(k->kid, sizeof(k->kid), "%s", json_string_value(kid));
	snprintf(k->alg, sizeof(k->alg), "%s", json_string_value(alg));
	k->created_at = json_integer_value(c);
	k->activates_at = json_integer_value(a);
	return 0;
}

int tsso_embed_meta_read(const char *dir, struct tsso_embed_meta *m, bool *ret_exists,
                         struct tsso_err *err)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	json_t *root = NULL, *keys;
	json_error_t jerr;
	int fd, rc = -1;

	memset(m, 0, sizeof(*m));
	if (path_join(path, dir, TSSO_EMBED_META_FILE, "", err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		*ret_exists = false;
		return 0;
	}
	if (fd < 0)
		return tsso_err_set(err, "keys.io", "cannot open %s: %s", path, strerror(errno));
	if (read_fd(fd, TSSO_EMBED_META_MAX, &text, &len) < 0) {
		close(fd);
		return tsso_err_set(err, "keys.io", "cannot read %s (or over %d bytes)", path,
		                    TSSO_EMBED_META_MAX);
	}
	close(fd);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	keys = json_object_get(root, "keys");
	if (!json_is_object(root) || json_object_size(root) != 2 ||
	    !json_is_integer(json_object_get(root, "version")) ||
	    json_integer_value(json_object_get(root, "version")) != 1 || !json_is_array(keys)) {
		tsso_err_set(err, "keys.metadata", "%s: not a keys.json version 1 document", path);
		goto out;
	}
	if (json_array_size(keys) > TSSO_EMBED_KEYS_MAX) {
		tsso_err_set(err, "keys.metadata", "%s: more than %d keys", path,
		             TSSO_EMBED_KEYS_MAX);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(keys); i++) {
		if (meta_entry(json_array_get(keys, i), &m->keys[i], err) < 0)
			goto out;
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->keys[j].kid, m->keys[i].kid) == 0) {
				tsso_err_set(err, "keys.metadata", "%s: duplicate kid", path);
				goto out;
			}
		m->n = i + 1;
	}
	qsort(m->keys, m->n, sizeof(m->keys[0]), meta_cmp);
	*ret_exists = true;
	rc = 0;
out:
	if (rc < 0)
		memset(m, 0, sizeof(*m));
	json_decref(root);
	free(text);
	return rc;
}

int tsso_embed_meta_write(const char *dir, const struct tsso_embed_meta *m, struct tsso_err *err)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	char *suffix = NULL, *text = NULL;
	json_t *root = NULL, *keys = json_array();
	int fd = -1, rc = -1;

	root = json_pack("{s:i, s:o}", "version", 1, "keys", keys);
	for (size_t i = 0; root != NULL && i < m->n; i++)
		if (json_array_append_new(
		        keys,
		        json_pack("{s:s, s:s, s:I, s:I}", "kid", m->keys[i].kid, "alg",
		                  m->keys[i].alg, "created_at", (json_int_t)m->keys[i].created_at,
		                  "activates_at", (json_int_t)m->keys[i].activates_at)) < 0)
			goto oom;
	text = root != NULL ? json_dumps(root, JSON_INDENT(2)) : NULL;
	suffix = tsso_rand_token(9);
	if (text == NULL || suffix == NULL)
		goto oom;
	if (path_join(path, dir, TSSO_EMBED_META_FILE, "", err) < 0 ||
	    path_join(tmp, dir, ".keys.json.", suffix, err) < 0)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		tsso_err_set(err, "keys.io", "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, text, strlen(text)) < 0 || write_all(fd, "\n", 1) < 0 || fsync(fd) < 0 ||
	    close(fd) < 0) {
		fd = -1;
		tsso_err_set(err, "keys.io", "cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = -1;
	/* rename(2) is atomic: a daemon reloading now sees the old or the new file. */
	if (rename(tmp, path) < 0) {
		tsso_err_set(err, "keys.io", "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	(void)sync_dir(dir);
	rc = 0;
	goto out;
oom:
	tsso_err_set(err, "keys.io", "out of memory");
out:
	if (fd >= 0)
		close(fd);
	free(suffix);
	free(text);
	json_decref(root);
	return rc;
}
