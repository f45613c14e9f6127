// Test-side relying-party helpers: PKCE, authorization URLs, a code flow
// with every client authentication method, a request recorder, a bounded
// poll, and a minimal fake relying party standing where the daemon will.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import {
  createLocalJWKSet, jwtVerify, SignJWT, importJWK,
} from 'jose';
import { loginAtOp } from './op.mjs';
import { CookieJar } from './jar.mjs';
import { requestJson } from './http.mjs';

export const b64u = (b) => Buffer.from(b).toString('base64url');
export const RP = 'http://127.0.0.1:9/callback'; // never contacted: loginAtOp stops there

/** A PKCE verifier and its S256 challenge (RFC 7636). */
export function pkce() {
  const verifier = b64u(crypto.randomBytes(32));
  return { verifier, challenge: b64u(crypto.createHash('sha256').update(verifier).digest()) };
}

/** The authorization endpoint of meta with params (undefined ones skipped). */
export function authorizeUrl(meta, params) {
  const u = new URL(meta.authorization_endpoint);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

/** A loopback HTTP server recording requests (the RP side of back-channel calls). */
export async function recorder() {
  const seen = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { seen.push({ method: req.method, url: req.url, headers: req.headers, body }); res.end('ok'); });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${srv.address().port}`, seen, close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }) };
}

/** Poll pred until true, at most ms (throws after). */
export async function until(pred, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Code + PKCE flow as a relying party against op (startOp handle) for client
 * ({client_id, client_secret, privateJwk?}); auth: basic | post |
 * client_secret_jwt | private_key_jwt; mode: query | form_post. Asserts the
 * callback (state, RFC 9207 iss) and the ID token (jose), returns
 * {tokens, claims, header, meta, jar}.
 */
export async function codeFlow(op, client, { mode = 'query', auth = 'basic', ca, jar = new CookieJar(), extra = {} } = {}) {
  const meta = (await requestJson(`${op.issuer}/.well-known/openid-configuration`, { ca })).json;
  const { verifier, challenge } = pkce();
  const state = b64u(crypto.randomBytes(12));
  const nonce = b64u(crypto.randomBytes(12));
  const cb = await loginAtOp(authorizeUrl(meta, {
    client_id: client.client_id, response_type: 'code', scope: 'openid email profile groups', redirect_uri: RP,
    state, nonce, code_challenge: challenge, code_challenge_method: 'S256', response_mode: mode, ...extra,
  }), 'alice', 'alice-password', jar, { ca });
  assert.equal(cb.method, mode === 'form_post' ? 'POST' : 'GET');
  assert.equal(cb.fields.state, state);
  assert.equal(cb.fields.iss, op.issuer, 'RFC 9207 iss in the authorization response');
  assert.ok(cb.fields.code);
  const form = new URLSearchParams({
    grant_type: 'authorization_code', code: cb.fields.code, redirect_uri: RP, code_verifier: verifier,
  });
  const headers = {};
  if (auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;
  else if (auth === 'post') { form.set('client_id', client.client_id); form.set('client_secret', client.client_secret); } else if (auth === 'private_key_jwt' || auth === 'client_secret_jwt') {
    const key = auth === 'private_key_jwt' ? await importJWK(client.privateJwk, 'ES256') : Buffer.from(client.client_secret);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: auth === 'private_key_jwt' ? 'ES256' : 'HS256' })
      .setIssuer(client.client_id).setSubject(client.client_id).setAudience(meta.token_endpoint)
      .setJti(b64u(crypto.randomBytes(16))).setIssuedAt().setExpirationTime('60s').sign(key);
    form.set('client_id', client.client_id);
    form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    form.set('client_assertion', assertion);
  }
  const t = await requestJson(meta.token_endpoint, { method: 'POST', body: form, headers, ca });
  assert.equal(t.status, 200, t.body);
  const jwks = (await requestJson(meta.jwks_uri, { ca })).json;
  const { payload, protectedHeader } = await jwtVerify(t.json.id_token, createLocalJWKSet(jwks), {
    issuer: op.issuer, audience: client.client_id,
  });
  assert.equal(payload.nonce, nonce);
  return {
    tokens: t.json, claims: payload, header: protectedHeader, meta, jar,
  };
}

/**
 * A minimal relying party on loopback that behaves like the daemon's routes
 * for the flow helpers: GET /{t}/login (302 to the OP, ?mode=form_post
 * supported), GET|POST /{t}/callback (state checked, code exchanged, cookie
 * sid set, 302 to return_to), GET /{t}/embed-token (200 with a session, else
 * 401). Call setIssuer() once the OP is up. Returns {url, d, setIssuer, close}
 * where d mimics a startDaemon handle ({url, tenantUrl}).
 */
export async function startFakeRp({ clientId, secret }) {
  let issuer = null;
  const pending = new Map();
  const sessions = new Set();
  let base = '';
  const fake = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    const cookie = /sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const m = /^\/([a-z0-9-]+)\/(login|callback|embed-token)$/.exec(u.pathname);
    if (!m) { res.writeHead(404); res.end(); return; }
    const redirectUri = `${base}/${m[1]}/callback`;
    if (m[2] === 'login') {
      const meta = (await requestJson(`${issuer}/.well-known/openid-configuration`)).json;
      const { verifier, challenge } = pkce();
      const state = b64u(crypto.randomBytes(12));
      pending.set(state, { verifier, returnTo: u.searchParams.get('return_to') });
      res.writeHead(302, {
        location: authorizeUrl(meta, {
          client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: redirectUri, state, nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256', response_mode: u.searchParams.get('mode') ?? 'query',
        }),
      });
      res.end();
      return;
    }
    if (m[2] === 'callback') {
      let body = '';
      for await (const c of req) body += c;
      const f = req.method === 'POST' ? new URLSearchParams(body) : u.searchParams;
      const p = pending.get(f.get('state'));
      pending.delete(f.get('state'));
      if (!p) { res.writeHead(400); res.end('state.mismatch'); return; }
      const meta = (await requestJson(`${issuer}/.well-known/openid-configuration`)).json;
      const t = await requestJson(meta.token_endpoint, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
        body: new URLSearchParams({
          grant_type: 'authorization_code', code: f.get('code'), redirect_uri: redirectUri, code_verifier: p.verifier,
        }),
      });
      if (t.status !== 200) { res.writeHead(502); res.end('token.http_error'); return; }
      const sid = b64u(crypto.randomBytes(16));
      sessions.add(sid);
      res.writeHead(302, { location: p.returnTo, 'set-cookie': `sid=${sid}; Path=/${m[1]}; HttpOnly; SameSite=Lax` });
      res.end();
      return;
    }
    res.writeHead(sessions.has(cookie) ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(sessions.has(cookie) ? { token: 't', expires_in: 300 } : { error: 'no session' }));
  });
  await new Promise((r) => fake.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${fake.address().port}`;
  return {
    url: base,
    d: { url: base, tenantUrl: (t, r = '') => `${base}/${t}${r}` },
    setIssuer(i) { issuer = i; },
    close() { return new Promise((r) => { fake.closeAllConnections(); fake.close(r); }); },
  };
}
