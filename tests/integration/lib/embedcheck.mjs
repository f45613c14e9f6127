// Independent checks of the embed JWTs the daemon mints: npm jose against the
// served JWKS (signature, every claim, size) and, as a second verifier that
// shares no code with either, the openssl command line.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  createRemoteJWKSet, createLocalJWKSet, jwtVerify, decodeProtectedHeader,
} from 'jose';
import { checkEmbedContext, EMBED_SUB } from '../../toucan/contract.mjs';
import { tempDir } from './tmp.mjs';

export const EMBED_ALGS = ['RS512', 'RS256', 'RS384', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

/**
 * Verify a signed embed JWT (Toucan 3.0 scheme) and return {header, payload}.
 * opts: {jwksUrl | jwks, issuer, audience, workspaceId, maxTtl (s, default 3600),
 *        algs, minRsaBits (default 2048), clockTolerance (s, default 5)}.
 * Throws with a message naming the failed check.
 */
export async function verifyEmbedJwt(token, opts) {
  const {
    jwksUrl, jwks, issuer, audience, workspaceId, maxTtl = 3600, algs = EMBED_ALGS, minRsaBits = 2048, clockTolerance = 5,
  } = opts;
  const header = decodeProtectedHeader(token);
  if (typeof header.kid !== 'string' || !header.kid) throw new Error('header.kid missing');
  if (header.typ !== 'JWT') throw new Error(`header.typ is ${header.typ}, want JWT`);
  const keySet = jwks ? createLocalJWKSet(jwks) : createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: 5000 });
  const { payload, key } = await jwtVerify(token, keySet, {
    algorithms: algs, issuer, audience, subject: EMBED_SUB, requiredClaims: ['exp', 'iat', 'jti', 'embed_context'], clockTolerance,
  });
  if (key.asymmetricKeyType === 'rsa' && key.asymmetricKeyDetails.modulusLength < minRsaBits) {
    throw new Error(`RSA key of ${key.asymmetricKeyDetails.modulusLength} bits, want >= ${minRsaBits}`);
  }
  if (payload.exp - payload.iat > maxTtl) throw new Error(`lifetime ${payload.exp - payload.iat} s exceeds ${maxTtl} s`);
  if (payload.iat > Math.floor(Date.now() / 1000) + clockTolerance) throw new Error('iat in the future');
  // 128 random bits at least: 22 base64url chars or 32 hex digits
  if (!/^[A-Za-z0-9_-]{22,}$/.test(payload.jti)) throw new Error('jti shorter than 128 bits of base64url/hex');
  const ecErr = checkEmbedContext(payload.embed_context, { workspace_id: workspaceId });
  if (ecErr) throw new Error(ecErr);
  return { header, payload };
}

// JWS ES signatures are r||s; openssl wants DER.
function p1363ToDer(sig) {
  const half = sig.length / 2;
  const int = (b) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i += 1;
    let v = b.subarray(i);
    if (v[0] & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([int(sig.subarray(0, half)), int(sig.subarray(half))]);
  const len = body.length < 128 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), len, body]);
}

/**
 * Verify a compact JWS signature with the openssl CLI and the public JWK
 * (converted to PEM). Supports RS*, PS*, ES*, EdDSA. Returns true or false.
 */
export function opensslVerifyJws(token, publicJwk) {
  const [h, p, s] = token.split('.');
  const { alg } = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  const dir = tempDir('tsso-ossl-');
  try {
    const pem = crypto.createPublicKey({ key: publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const keyFile = path.join(dir, 'pub.pem');
    const dataFile = path.join(dir, 'data');
    const sigFile = path.join(dir, 'sig');
    fs.writeFileSync(keyFile, pem);
    fs.writeFileSync(dataFile, `${h}.${p}`);
    let sig = Buffer.from(s, 'base64url');
    if (alg.startsWith('ES')) sig = p1363ToDer(sig);
    fs.writeFileSync(sigFile, sig);
    let args;
    if (alg === 'EdDSA') {
      args = ['pkeyutl', '-verify', '-pubin', '-inkey', keyFile, '-rawin', '-in', dataFile, '-sigfile', sigFile];
    } else {
      args = ['dgst', `-sha${alg.slice(2)}`, '-verify', keyFile, '-signature', sigFile];
      if (alg.startsWith('PS')) args.push('-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest');
      args.push(dataFile);
    }
    try {
      execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
      return true;
    } catch {
      return false;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
