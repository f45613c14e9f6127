// A minimal, scriptable OpenID Provider inside the test process, for the
// cases the real oidc-provider will not produce: an ID token with claims the
// test chooses (auth_time in the past, _claim_names/_claim_sources for
// distributed claims, IdP-specific claim sets). Code flow only, PKCE S256
// checked, RS256 signatures; everything on 127.0.0.1.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { makeJwk, publicJwks, signJwt } from './keys.mjs';

const b64u = (b) => Buffer.from(b).toString('base64url');

function readBody(req, max = 65536) {
  return new Promise((resolve, reject) => {
    let n = 0;
    const chunks = [];
    req.on('data', (c) => {
      n += c.length;
      if (n > max) { req.destroy(); reject(new Error('body too large')); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * startMiniOp({claims}) → {issuer, stats, setClaims(fn|obj), tokens, stop()}.
 * claims: object merged into every ID token, or fn({nonce, clientId, now}) → object
 * (may override iss/sub/aud/auth_time...). stats.last_authorize holds the last
 * authorization request's parameters; stats.token counts token calls.
 * tokens: the access tokens issued (a claims endpoint can check them).
 * setTokenDelay(ms): the token endpoint answers that much later.
 */
export async function startMiniOp({ claims = {} } = {}) {
  const key = await makeJwk('RS256', 'mini-1');
  const codes = new Map();
  const tokens = new Set();
  const stats = { authorize: 0, token: 0, last_authorize: null };
  let extra = claims;
  let issuer = '';
  let tokenDelayMs = 0;
  const server = http.createServer(async (req, res) => {
    try {
      const u = new URL(req.url, issuer);
      if (u.pathname === '/.well-known/openid-configuration') {
        return send(res, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        });
      }
      if (u.pathname === '/jwks') return send(res, 200, publicJwks({ keys: [key] }));
      if (u.pathname === '/authorize') {
        stats.authorize += 1;
        const p = u.searchParams;
        stats.last_authorize = Object.fromEntries(p);
        const ru = new URL(p.get('redirect_uri'));
        const code = b64u(crypto.randomBytes(24));
        codes.set(code, {
          clientId: p.get('client_id'), nonce: p.get('nonce'), challenge: p.get('code_challenge'),
          redirectUri: p.get('redirect_uri'),
        });
        ru.searchParams.set('code', code);
        ru.searchParams.set('state', p.get('state') ?? '');
        res.writeHead(302, { location: ru.href });
        return res.end();
      }
      if (u.pathname === '/token' && req.method === 'POST') {
        stats.token += 1;
        if (tokenDelayMs > 0) await new Promise((r) => { setTimeout(r, tokenDelayMs); });
        const form = new URLSearchParams(await readBody(req));
        const c = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        if (!c || c.redirectUri !== form.get('redirect_uri')
          || b64u(crypto.createHash('sha256').update(verifier).digest()) !== c.challenge) {
          return send(res, 400, { error: 'invalid_grant' });
        }
        const now = Math.floor(Date.now() / 1000);
        const accessToken = b64u(crypto.randomBytes(32));
        tokens.add(accessToken);
        const more = typeof extra === 'function' ? extra({ nonce: c.nonce, clientId: c.clientId, now }) : extra;
        const idToken = await signJwt(key, {
          iss: issuer, sub: 'mini-user-1', aud: c.clientId, iat: now, exp: now + 300, auth_time: now,
          nonce: c.nonce, ...more,
        });
        return send(res, 200, {
          access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: idToken,
        });
      }
      return send(res, 404, { error: 'not_found' });
    } catch (e) {
      return send(res, 500, { error: 'server_error', detail: String(e) });
    }
  });
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  issuer = `http://127.0.0.1:${server.address().port}`;
  return {
    issuer,
    stats,
    tokens,
    setClaims(c) { extra = c; },
    setTokenDelay(ms) { tokenDelayMs = ms; },
    async stop() { server.closeAllConnections?.(); await new Promise((r) => { server.close(r); }); },
  };
}

/**
 * An HTTPS server on 127.0.0.1 (cert from lib/tls.mjs) answering every
 * request with handler(req, url) → {status, body, type}. Returns
 * {origin, requests: [{path, authorization}], stop()}.
 */
export async function startHttpsJson(tls, handler) {
  const requests = [];
  const server = https.createServer({ cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) }, (req, res) => {
    const u = new URL(req.url, 'https://127.0.0.1');
    requests.push({ path: u.pathname, authorization: req.headers.authorization ?? null, method: req.method });
    const r = handler(req, u);
    send(res, r.status ?? 200, r.body, r.type ?? 'application/json');
  });
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  return {
    origin: `https://127.0.0.1:${server.address().port}`,
    requests,
    async stop() { server.closeAllConnections?.(); await new Promise((r) => { server.close(r); }); },
  };
}
