// Signing keys for test OPs: private JWKS of RS256/ES256/EdDSA/... keys made
// with jose, written to files so a provider restart can rotate them.
import fs from 'node:fs';
import crypto from 'node:crypto';
import {
  generateKeyPair, exportJWK, importJWK, SignJWT,
} from 'jose';

const KTY_OPTS = {
  RS256: {}, RS384: {}, RS512: {}, PS256: {}, PS384: {}, PS512: {},
  ES256: {}, ES384: {}, ES512: {}, EdDSA: { crv: 'Ed25519' },
};

/** One private JWK for alg, with kid (default: random), use "sig", alg set. */
export async function makeJwk(alg, kid = `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}`) {
  if (!(alg in KTY_OPTS)) throw new Error(`unsupported alg ${alg}`);
  const { privateKey } = await generateKeyPair(alg, { ...KTY_OPTS[alg], extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid, alg, use: 'sig' };
}

/** A private JWKS with one key per alg in algs (first key = default signer). */
export async function makeJwks(algs = ['RS256', 'ES256', 'EdDSA'], kidPrefix = '') {
  const keys = [];
  for (const alg of algs) {
    keys.push(await makeJwk(alg, kidPrefix ? `${kidPrefix}-${alg.toLowerCase()}` : undefined));
  }
  return { keys };
}

/** The public half of a private JWKS (private members dropped). */
export function publicJwks(jwks) {
  const PRIV = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);
  return { keys: jwks.keys.map((k) => Object.fromEntries(Object.entries(k).filter(([n]) => !PRIV.has(n)))) };
}

/** Write a JWKS file with mode 0600. */
export function writeJwks(file, jwks) {
  fs.writeFileSync(file, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  return file;
}

/** A PEM private key file (PKCS#8) from a private JWK, for the daemon's client keys. */
export function jwkToPem(jwk) {
  return crypto.createPrivateKey({ key: jwk, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' });
}

/**
 * Sign claims with a private JWK (its alg and kid), e.g. a back-channel
 * logout token as the OP would: signJwt(opJwks.keys[0], {iss, aud, ...}, {typ: 'logout+jwt'}).
 * header overrides/extends {alg, kid, typ: 'JWT'}.
 */
export async function signJwt(jwk, claims, header = {}) {
  const key = await importJWK(jwk, jwk.alg);
  return new SignJWT(claims).setProtectedHeader({
    alg: jwk.alg, kid: jwk.kid, typ: 'JWT', ...header,
  }).sign(key);
}
