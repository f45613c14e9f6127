// A reference relying party in JavaScript, used only to prove the hostile OP
// serves what each scenario claims: it runs the code flow against one issuer
// and returns the first refusal reason (same codes as toucan-sso) or "ok".
// It is a test oracle, not a model for the C implementation's structure.
import crypto from 'node:crypto';
import { request } from './http.mjs';
import { loginAtOp } from './op.mjs';

const ALLOWED_ALGS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);
const LEEWAY = 60;
const b64u = (b) => Buffer.from(b).toString('base64url');

class Refusal extends Error {
  constructor(reason) { super(reason); this.reason = reason; }
}
const refuse = (r) => { throw new Refusal(r); };

/** JSON.parse that refuses duplicate member names (throws). */
export function parseStrictJson(text) {
  let i = 0;
  const ws = () => { while (/\s/.test(text[i] ?? '')) i += 1; };
  const fail = () => { throw new Error(`bad JSON at ${i}`); };
  const str = () => {
    const start = i;
    i += 1;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (text[i] !== '"') fail();
    i += 1;
    return JSON.parse(text.slice(start, i));
  };
  const value = (depth) => {
    if (depth > 64) fail();
    ws();
    const c = text[i];
    if (c === '{') {
      i += 1;
      const o = {};
      const seen = new Set();
      ws();
      if (text[i] === '}') { i += 1; return o; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const k = str();
        if (seen.has(k)) throw new Error(`duplicate member ${k}`);
        seen.add(k);
        ws();
        if (text[i] !== ':') fail();
        i += 1;
        o[k] = value(depth + 1);
        ws();
        if (text[i] === ',') { i += 1; continue; }
        if (text[i] === '}') { i += 1; return o; }
        fail();
      }
    }
    if (c === '[') {
      i += 1;
      const a = [];
      ws();
      if (text[i] === ']') { i += 1; return a; }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ',') { i += 1; continue; }
        if (text[i] === ']') { i += 1; return a; }
        fail();
      }
    }
    if (c === '"') return str();
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!m) fail();
    i += m[0].length;
    return JSON.parse(m[0]);
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail();
  return v;
}

const FAMILY = (alg) => (alg.startsWith('RS') || alg.startsWith('PS') ? 'RSA' : alg.startsWith('ES') ? 'EC' : alg === 'EdDSA' ? 'OKP' : null);

function verifySig(alg, jwk, input, sig) {
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  if (alg.startsWith('PS')) {
    return crypto.verify(hash, input, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 }, sig);
  }
  if (alg.startsWith('ES')) return crypto.verify(hash, input, { key, dsaEncoding: 'ieee-p1363' }, sig);
  return crypto.verify(hash, input, key, sig);
}

function atHash(alg, token) {
  const h = alg === 'EdDSA' ? 'sha512' : `sha${alg.slice(2)}`;
  const d = crypto.createHash(h).update(token, 'ascii').digest();
  return b64u(d.subarray(0, d.length / 2));
}

/**
 * Run a login against `issuer` as client `clientId` and return
 * {reason, idClaims?, userinfo?}; reason is "ok" or the refusal code.
 * opts: {ca, redirectUri, responseMode, user, password, jar, userinfo (default true)}
 */
export async function referenceLogin(issuer, clientId, opts = {}) {
  const {
    ca, redirectUri = 'http://127.0.0.1:9/callback', responseMode = 'query', user = 'x', password = 'y', jar = null,
    clientSecret = 'unused-secret', userinfo = true,
  } = opts;
  try {
    const d = await request(`${issuer}/.well-known/openid-configuration`, { ca });
    if (d.status !== 200) refuse('discovery.http_error');
    let meta;
    try { meta = parseStrictJson(d.body); } catch { refuse('discovery.malformed'); }
    if (meta.issuer !== issuer) refuse('discovery.issuer_mismatch'); // OIDC Discovery 4.3
    const fetchJwks = async () => {
      let r;
      try { r = await request(meta.jwks_uri, { ca }); } catch { refuse('jwks.unreachable'); }
      if (r.status !== 200) refuse('jwks.unreachable');
      try { return parseStrictJson(r.body).keys; } catch { return refuse('jwks.malformed'); }
    };
    let jwks = await fetchJwks(); // the cached copy, taken before the login
    const state = b64u(crypto.randomBytes(16));
    const nonce = b64u(crypto.randomBytes(16));
    const verifier = b64u(crypto.randomBytes(32));
    const u = new URL(meta.authorization_endpoint);
    for (const [k, v] of Object.entries({
      response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'openid email profile',
      state, nonce, code_challenge: b64u(crypto.createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256', response_mode: responseMode,
    })) u.searchParams.set(k, v);
    const cb = await loginAtOp(u.href, user, password, jar, { ca });
    const f = cb.fields;
    if (f.state !== state) refuse('state.mismatch');
    if (f.iss !== undefined && f.iss !== meta.issuer) refuse('authz.iss_mismatch'); // RFC 9207 2.4
    if (f.iss === undefined && meta.authorization_response_iss_parameter_supported) refuse('authz.iss_missing');
    if (f.error) refuse('authz.error');
    if (!f.code) refuse('authz.code_missing');
    const t = await request(meta.token_endpoint, {
      method: 'POST', ca,
      headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}` },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code: f.code, redirect_uri: redirectUri, code_verifier: verifier,
      }),
    });
    if (t.status !== 200) refuse('token.http_error');
    let tok;
    try { tok = parseStrictJson(t.body); } catch { refuse('token.malformed'); }
    if (typeof tok !== 'object' || tok === null || typeof tok.access_token !== 'string') refuse('token.malformed');
    if (String(tok.token_type).toLowerCase() !== 'bearer') refuse('token.token_type'); // RFC 6749 7.1
    if (typeof tok.id_token !== 'string') refuse('token.id_token_missing');

    const parts = tok.id_token.split('.');
    if (parts.length !== 3) refuse('id_token.malformed');
    let header;
    let claims;
    try {
      header = parseStrictJson(Buffer.from(parts[0], 'base64url').toString('utf8'));
      claims = parseStrictJson(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch { refuse('id_token.malformed'); }
    const { alg } = header;
    if (!ALLOWED_ALGS.has(alg)) refuse('id_token.alg_not_allowed'); // none and HS* never by default
    const fits = (k) => k.kty === FAMILY(alg) && (!k.use || k.use === 'sig');
    let key;
    if (header.kid !== undefined) {
      key = jwks.find((k) => k.kid === header.kid);
      if (!key) { jwks = await fetchJwks(); key = jwks.find((k) => k.kid === header.kid); } // one refetch
      if (!key) refuse('id_token.kid_unknown');
      if (!fits(key)) refuse('id_token.no_matching_key');
    } else {
      const c = jwks.filter(fits);
      if (c.length > 1) refuse('id_token.ambiguous_key');
      if (c.length === 0) refuse('id_token.no_matching_key');
      [key] = c;
    }
    if (!verifySig(alg, key, Buffer.from(`${parts[0]}.${parts[1]}`), Buffer.from(parts[2], 'base64url'))) {
      refuse('id_token.bad_signature');
    }
    const now = Math.floor(Date.now() / 1000);
    if (claims.iss !== meta.issuer) refuse('id_token.iss_mismatch');
    if (typeof claims.sub !== 'string' || !claims.sub) refuse('id_token.sub_missing');
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(clientId)) refuse('id_token.aud_mismatch');
    if ((aud.length > 1 || claims.azp !== undefined) && claims.azp !== clientId) refuse('id_token.azp_mismatch');
    if (typeof claims.exp !== 'number') refuse('id_token.exp_missing');
    if (typeof claims.iat !== 'number') refuse('id_token.iat_missing');
    if (now > claims.exp + LEEWAY) refuse('id_token.expired');
    if (claims.iat > now + LEEWAY) refuse('id_token.iat_future');
    if (claims.nbf !== undefined && claims.nbf > now + LEEWAY) refuse('id_token.nbf_future');
    if (claims.nonce === undefined) refuse('id_token.nonce_missing');
    if (claims.nonce !== nonce) refuse('id_token.nonce_mismatch');
    if (claims.at_hash !== undefined && claims.at_hash !== atHash(alg, tok.access_token)) refuse('id_token.at_hash_mismatch');
    let ui;
    if (userinfo && meta.userinfo_endpoint) {
      const r = await request(meta.userinfo_endpoint, { ca, headers: { authorization: `Bearer ${tok.access_token}` } });
      if (r.status !== 200) refuse('userinfo.http_error');
      ui = parseStrictJson(r.body);
      if (ui.sub !== claims.sub) refuse('userinfo.sub_mismatch'); // OIDC 5.3.2
    }
    return { reason: 'ok', idClaims: claims, header, userinfo: ui };
  } catch (e) {
    if (e instanceof Refusal) return { reason: e.reason };
    throw e;
  }
}
