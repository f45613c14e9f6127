/*
 * JOSE: compact JWS parsing, signature verification against a JWKS, signing,
 * and JWE decryption (RFC 7515-7518, RFC 8037 for EdDSA). The only module that
 * touches cjose or OpenSSL key types; nothing here checks claims (iss, aud,
 * exp...): that is the caller's protocol logic.
 *
 * Error reasons (stable): jws.malformed, jws.too_large, jws.duplicate_member,
 * jws.alg_none, jws.alg_not_allowed, jws.crit_unsupported, jws.kid_unknown,
 * jws.no_matching_key, jws.ambiguous_key, jws.bad_signature, jwks.malformed,
 * jwks.too_many_keys, jwks.empty, jwe.malformed, jwe.alg_not_allowed,
 * jwe.decrypt_failed, key.load_failed, key.too_weak, sign.failed.
 */
#ifndef TSSO_JOSE_H
#define TSSO_JOSE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "tsso/common.h"
#include "tsso/err.h"

struct tsso_jwks;    /* a parsed, immutable set of public (or symmetric) keys */
struct tsso_jws;     /* a parsed compact JWS, not yet verified */
struct tsso_signer;  /* a private (or symmetric) key plus alg and kid, for signing */
struct tsso_jwe_key; /* a private key for JWE decryption */

/* Signature algorithms this module knows: RS256/384/512, PS256/384/512,
 * ES256/384/512, EdDSA (Ed25519), HS256/384/512. "none" is never accepted. */
bool tsso_jose_alg_supported(const char *alg);

/* --- JWKS --- */

/* Parse a JWK Set document (at most TSSO_JWKS_MAX_KEYS keys, len bytes).
 * Keys of unknown or unsupported kty/crv, or with "use" other than "sig",
 * are skipped, not fatal. Fails with jwks.empty when no usable key remains.
 * Returns a new object (caller frees) or NULL with err set. */
struct tsso_jwks *tsso_jwks_parse(const char *json, size_t len, struct tsso_err *err) TSSO_WUR;
void tsso_jwks_free(struct tsso_jwks *jwks);
size_t tsso_jwks_count(const struct tsso_jwks *jwks);
/* True when a key with this kid is present. */
bool tsso_jwks_has_kid(const struct tsso_jwks *jwks, const char *kid);

/* --- JWS --- */

/* Parse a compact JWS: exactly three base64url parts, header and payload
 * JSON objects with no duplicate members, total length <= TSSO_TOKEN_MAX,
 * header "alg" present, "crit" refused. Does not verify.
 * Returns a new object (caller frees) or NULL with err set. */
struct tsso_jws *tsso_jws_parse(const char *compact, struct tsso_err *err) TSSO_WUR;
void tsso_jws_free(struct tsso_jws *jws);
/* Borrowed: the header's alg and kid (kid may be NULL), the header and the
 * claims object. Valid while the jws lives. */
const char *tsso_jws_alg(const struct tsso_jws *jws);
const char *tsso_jws_kid(const struct tsso_jws *jws);
json_t *tsso_jws_header(const struct tsso_jws *jws);
json_t *tsso_jws_claims(const struct tsso_jws *jws);

/* Verify the signature. The header's alg must be in allowed_algs (n entries);
 * the key is chosen by kid, or, without a kid, the one key in the set whose
 * type fits the alg (jws.ambiguous_key when several fit). A kid not in the
 * set gives jws.kid_unknown so the caller may refetch the JWKS once.
 * hmac_key (may be NULL) is used only when alg is HS* and HS* is allowed. */
int tsso_jws_verify(const struct tsso_jws *jws, const struct tsso_jwks *jwks,
                    const char *const *allowed_algs, size_t n_allowed, const void *hmac_key,
                    size_t hmac_key_len, struct tsso_err *err) TSSO_WUR;

/* Hash of the ASCII token with the hash that goes with alg (SHA-256 for
 * RS256/PS256/ES256/HS256, SHA-384, SHA-512; SHA-512 for EdDSA), left half,
 * base64url: at_hash / c_hash (OIDC Core §3.1.3.6). New string or NULL. */
char *tsso_jose_half_hash(const char *alg, const char *token);

/* --- Signing --- */

/* Load a PEM private key (RSA >= 2048 bits, EC P-256/384/521, Ed25519) for
 * alg; kid NULL means the RFC 7638 thumbprint. Returns a new signer or NULL. */
struct tsso_signer *tsso_signer_load_pem(const char *path, const char *alg, const char *kid,
                                         struct tsso_err *err) TSSO_WUR;
/* Same from PEM bytes in memory. */
struct tsso_signer *tsso_signer_from_pem(const char *pem, size_t len, const char *alg,
                                         const char *kid, struct tsso_err *err) TSSO_WUR;
/* HS256/384/512 signer over a copy of key (wiped on free). */
struct tsso_signer *tsso_signer_hmac(const void *key, size_t len, const char *alg,
                                     struct tsso_err *err) TSSO_WUR;
void tsso_signer_free(struct tsso_signer *s);
const char *tsso_signer_alg(const struct tsso_signer *s);
const char *tsso_signer_kid(const struct tsso_signer *s);
/* The public JWK (kty, n/e or crv/x/y, kid, alg, use "sig"); new reference,
 * NULL for HMAC signers. */
json_t *tsso_signer_public_jwk(const struct tsso_signer *s);

/* Sign claims as a compact JWS with header {alg, kid, typ} plus the members
 * of extra_header (may be NULL; alg/kid cannot be overridden). claims is
 * serialized compactly. *ret_compact is a new string on success. */
int tsso_jws_sign(const struct tsso_signer *s, const char *typ, json_t *extra_header,
                  json_t *claims, char **ret_compact, struct tsso_err *err) TSSO_WUR;

/* The base64url protected header tsso_jws_sign writes for s and typ (no
 * extra members): {"alg","typ","kid"}. A new string, NULL on failure; for
 * callers that sign many tokens with one key and build it once. */
char *tsso_signer_header_b64(const struct tsso_signer *s, const char *typ);

/* Sign payload_len bytes of payload (the JWS payload, e.g. claims JSON the
 * caller serialized) under the protected header header_b64 (from
 * tsso_signer_header_b64) as a compact JWS (RFC 7515 §7.1), built in one
 * allocation: *ret_compact is a new string. Fails with sign.failed. */
int tsso_jws_compact_sign(const struct tsso_signer *s, const char *header_b64, const void *payload,
                          size_t payload_len, char **ret_compact, struct tsso_err *err) TSSO_WUR;

/* --- JWE --- */

/* Load a PEM private key for decrypting JWE (RSA-OAEP, RSA-OAEP-256,
 * ECDH-ES(+A*KW)); kid optional. */
struct tsso_jwe_key *tsso_jwe_key_load_pem(const char *path, const char *kid,
                                           struct tsso_err *err) TSSO_WUR;
void tsso_jwe_key_free(struct tsso_jwe_key *k);
/* True when the token has five parts (compact JWE). */
bool tsso_jwe_looks_like(const char *compact);
/* Decrypt a compact JWE; "alg":"dir" and "none" refused. *ret_plain is a new
 * NUL-terminated string (caller frees). */
int tsso_jwe_decrypt(const struct tsso_jwe_key *k, const char *compact, char **ret_plain,
                     struct tsso_err *err) TSSO_WUR;

#endif
