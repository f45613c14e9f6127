/* Internal to aead.c, exposed for the known-answer tests only. */
#ifndef TSSO_AEAD_INTERNAL_H
#define TSSO_AEAD_INTERNAL_H

#include <stddef.h>

#include "tsso/common.h"

#define TSSO_AEAD_IV_LEN  12
#define TSSO_AEAD_TAG_LEN 16

/* Raw AES-256-GCM: encrypt n bytes of plain into ct (n bytes) and tag. */
int tsso_aead_gcm_encrypt(const unsigned char key[32], const unsigned char iv[TSSO_AEAD_IV_LEN],
                          const void *aad, size_t aad_len, const void *plain, size_t n,
                          unsigned char *ct, unsigned char tag[TSSO_AEAD_TAG_LEN]) TSSO_WUR;
/* Raw AES-256-GCM: check tag and decrypt n bytes of ct into plain; -1 when forged. */
int tsso_aead_gcm_decrypt(const unsigned char key[32], const unsigned char iv[TSSO_AEAD_IV_LEN],
                          const void *aad, size_t aad_len, const unsigned char *ct, size_t n,
                          const unsigned char tag[TSSO_AEAD_TAG_LEN],
                          unsigned char *plain) TSSO_WUR;

#endif
