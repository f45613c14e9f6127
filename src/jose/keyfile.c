/* Reading private key files: bounded, regular files only, unencrypted PEM. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "jose_int.h"
#include "tsso/crypto.h"

int tsso_jose_file_read(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd, rc = -1;

	if (path == NULL)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (size_t)st.st_size > max)
		goto out;
	buf = malloc(max + 1);
	if (buf == NULL)
		goto out;
	/* Read up to max + 1 bytes: a file that grew after fstat is still caught. */
	while (len <= max) {
		r = read(fd, buf + len, max + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max)
		goto out;
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL) {
		tsso_wipe(buf, max + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

/* Encrypted PEM is refused: there is no passphrase to give (and no prompt). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

EVP_PKEY *tsso_jose_pem_private(const char *pem, size_t len)
{
	BIO *bio;
	EVP_PKEY *pkey;

	if (pem == NULL || len == 0 || len > INT32_MAX)
		return NULL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return NULL;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	return pkey;
}
