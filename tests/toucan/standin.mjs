// A local stand-in for Toucan's token services, following the contract in
// docs/toucan.md: (a) Toucan 3.0 OAuth token endpoint taking the JWT-bearer
// grant with an assertion signed by the embedding backend (checked against
// its JWKS URL), (b) Toucan AI POST /embed/generate-token with x-api-key,
// (c) test controls: fault injection, counters, request log, token lookup.
//
// Usage: node tests/toucan/standin.mjs [--config FILE] [--port N]
// Prints {"ready":true,"url":"http://127.0.0.1:P","port":P}.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import {
  createRemoteJWKSet, jwtVerify, decodeProtectedHeader, CompactEncrypt, compactDecrypt, errors as joseErrors,
} from 'jose';

import { checkEmbedContext } from './contract.mjs';

const MAX_BODY = 64 * 1024;
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const EMBED_CLIENT = 'toucan-embed-client';
const LOG_MAX = 100;

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--config') { i += 1; o.config = argv[i]; } else if (argv[i] === '--port') { i += 1; o.port = Number(argv[i]); } else throw new Error(`unknown argument ${argv[i]}`);
  }
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ctEq = (a, b) => {
  const ha = crypto.createHash('sha256').update(String(a)).digest();
  const hb = crypto.createHash('sha256').update(String(b)).digest();
  return crypto.timingSafeEqual(ha, hb);
};
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > MAX_BODY) { reject(Object.assign(new Error('body too large'), { status: 413 })); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, extra = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra });
  res.end(JSON.stringify(body));
}

// --- Toucan AI: registered attributes (Settings > Embed & access > Token Attributes)
const TYPE_CHECK = {
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v) => typeof v === 'boolean',
  'string[]': (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'),
  'number[]': (v) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x)),
};
const PERMISSIONS = {
  dashboard: ['can_view', 'can_edit'], chart: ['can_view', 'can_edit'], database: ['can_view', 'can_edit'], ai: ['can_query'],
};

function checkAiBody(body, registered) {
  if (!isObj(body)) return { error: 'invalid_body', message: 'body must be a JSON object' };
  for (const k of Object.keys(body)) if (k !== 'user') return { error: 'invalid_body', message: `unknown member ${k}` };
  const u = body.user;
  if (!isObj(u)) return { error: 'invalid_body', message: 'user must be an object' };
  for (const k of Object.keys(u)) {
    if (!['distinctId', 'role', 'attributes', 'permissions'].includes(k)) return { error: 'invalid_body', message: `unknown member user.${k}` };
  }
  if (typeof u.distinctId !== 'string' || !u.distinctId || u.distinctId.length > 256) {
    return { error: 'invalid_body', message: 'user.distinctId must be a non-empty string' };
  }
  if (u.role !== 'explorer' && u.role !== 'maker') return { error: 'invalid_body', message: 'user.role must be "explorer" or "maker"' };
  if (!isObj(u.attributes)) return { error: 'invalid_body', message: 'user.attributes must be an object' };
  for (const [name, value] of Object.entries(u.attributes)) {
    const type = registered[name];
    if (!type) return { error: 'unknown_attribute', message: `attribute ${name} is not registered`, attribute: name };
    if (!TYPE_CHECK[type]?.(value)) return { error: 'invalid_attribute', message: `attribute ${name} must be ${type}`, attribute: name };
  }
  if (u.permissions !== undefined) {
    if (!isObj(u.permissions)) return { error: 'invalid_body', message: 'user.permissions must be an object' };
    for (const [model, perms] of Object.entries(u.permissions)) {
      const ok = PERMISSIONS[model];
      if (!ok) return { error: 'invalid_permissions', message: `unknown permission model ${model}` };
      // exact shape undocumented: accept ["can_view", ...] or {"can_view": true, ...}
      const list = Array.isArray(perms) ? perms : (isObj(perms) ? Object.keys(perms) : null);
      if (!list || !list.every((p) => ok.includes(p))
          || (isObj(perms) && !Object.values(perms).every((v) => typeof v === 'boolean'))) {
        return { error: 'invalid_permissions', message: `permissions.${model} must use ${ok.join(', ')}` };
      }
    }
  }
  return null;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const cfg = a.config ? JSON.parse(fs.readFileSync(a.config, 'utf8')) : {};
  const port = a.port ?? cfg.port ?? 0;
  const host = cfg.host ?? '127.0.0.1';

  const counters = { v3: {}, ai: {} };
  const bump = (target, what) => { counters[target][what] = (counters[target][what] ?? 0) + 1; };
  const faults = { v3: [], ai: [] };
  const log = { v3: [], ai: [] };
  const record = (target, entry) => { log[target].push({ at: Date.now(), ...entry }); if (log[target].length > LOG_MAX) log[target].shift(); };
  const seenJti = new Map(); // tenant:jti -> exp (ms)
  const v3Tokens = new Map(); // opaque token -> {tenant, embed_context, exp, generation}
  const aiKey = crypto.randomBytes(32); // JWE dir A256GCM key, like Toucan AI's encrypted tokens
  const aiTokens = new Map(); // token -> {user, exp}

  const v3Tenants = cfg.v3?.tenants ?? {};
  const jwksSets = {};
  let base = '';

  const jwksFor = (tenant, t) => {
    if (!jwksSets[tenant]) {
      const u = new URL(t.jwks_url);
      const agent = u.protocol === 'https:' && t.jwks_ca ? new https.Agent({ ca: fs.readFileSync(t.jwks_ca) }) : undefined;
      jwksSets[tenant] = createRemoteJWKSet(u, { timeoutDuration: 3000, cooldownDuration: 0, cacheMaxAge: 60000, agent });
    }
    return jwksSets[tenant];
  };

  // Apply the next queued fault for target, if any. Returns true when answered.
  async function applyFault(target, res) {
    const f = faults[target][0];
    if (!f) return false;
    f.count -= 1;
    if (f.count <= 0) faults[target].shift();
    bump(target, `fault_${f.mode}`);
    if (f.mode === 'slow') { await sleep(Math.min(f.delay_ms ?? 3000, 30000)); return false; }
    if (f.mode === 'reset') { res.socket?.destroy(); return true; }
    const status = Number(f.mode);
    send(res, status, { error: status === 503 ? 'service_unavailable' : 'internal_error' },
      status === 503 ? { 'retry-after': String(f.retry_after ?? 1) } : {});
    return true;
  }

  // (a) Toucan 3.0: POST /{TENANT_ID}/oauth/oauth-token
  async function v3Token(req, res, tenant) {
    bump('v3', 'calls');
    if (await applyFault('v3', res)) return;
    const t = v3Tenants[tenant];
    const fail = (status, error, description, extra = {}) => {
      bump('v3', `${status}`);
      record('v3', { tenant, status, error, description });
      send(res, status, { error, error_description: description }, extra);
    };
    if (!t) return fail(404, 'invalid_request', 'unknown tenant');
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
      return fail(400, 'invalid_request', 'content-type must be application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams(await readBody(req));
    // client authentication: Basic (RFC 6749 2.3.1) or client_id/client_secret in the body
    let cid = form.get('client_id');
    let csec = form.get('client_secret');
    const authz = req.headers.authorization ?? '';
    if (/^basic /i.test(authz)) {
      const dec = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8');
      const i = dec.indexOf(':');
      if (i < 0 || (cid && csec)) return fail(400, 'invalid_request', 'one client authentication method only');
      cid = decodeURIComponent(dec.slice(0, i));
      csec = decodeURIComponent(dec.slice(i + 1));
    }
    if (cid !== EMBED_CLIENT || !csec || !ctEq(csec, t.client_secret)) {
      return fail(401, 'invalid_client', 'client authentication failed', { 'www-authenticate': 'Basic realm="toucan"' });
    }
    if (form.get('grant_type') !== JWT_BEARER) return fail(400, 'unsupported_grant_type', `grant_type must be ${JWT_BEARER}`);
    const scopes = (form.get('scope') ?? '').split(' ');
    if (!scopes.includes('embed')) return fail(400, 'invalid_scope', 'scope must include embed');
    const assertion = form.get('assertion');
    if (!assertion) return fail(400, 'invalid_request', 'assertion missing');
    let header;
    try { header = decodeProtectedHeader(assertion); } catch { return fail(400, 'invalid_grant', 'assertion.malformed'); }
    const algs = t.algs ?? ['RS512', 'RS256', 'RS384', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];
    const oauthUrl = t.oauth_url ?? base;
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, jwksFor(tenant, t), {
        algorithms: algs,
        issuer: t.issuer,
        audience: `${oauthUrl}/${tenant}/oauth/oauth-token`,
        subject: EMBED_CLIENT,
        requiredClaims: ['exp', 'jti'],
        clockTolerance: t.clock_tolerance ?? 5,
      }));
    } catch (e) {
      const code = e instanceof joseErrors.JWSSignatureVerificationFailed ? 'assertion.bad_signature'
        : e instanceof joseErrors.JWKSNoMatchingKey ? 'assertion.no_matching_key'
          : e instanceof joseErrors.JWTExpired ? 'assertion.expired'
            : e instanceof joseErrors.JOSEAlgNotAllowed ? 'assertion.alg_not_allowed'
              : e instanceof joseErrors.JWTClaimValidationFailed ? `assertion.${e.claim}_invalid`
                : e instanceof joseErrors.JWKSTimeout || e?.code === 'ERR_JOSE_GENERIC' ? 'assertion.jwks_unreachable'
                  : 'assertion.invalid';
      return fail(400, 'invalid_grant', `${code}: ${e.message}`);
    }
    if (typeof payload.jti !== 'string' || payload.jti.length < 16) return fail(400, 'invalid_grant', 'assertion.jti_invalid: jti must be a random string');
    if (t.max_ttl && payload.exp - Math.floor(Date.now() / 1000) > t.max_ttl) {
      return fail(400, 'invalid_grant', 'assertion.exp_too_far');
    }
    const nowMs = Date.now();
    for (const [k, exp] of seenJti) if (exp < nowMs) seenJti.delete(k);
    const jk = `${tenant}:${payload.jti}`;
    if (seenJti.has(jk)) return fail(400, 'invalid_grant', 'assertion.jti_replayed');
    seenJti.set(jk, payload.exp * 1000 + 60000);
    const ecErr = checkEmbedContext(payload.embed_context, t);
    if (ecErr) return fail(400, 'invalid_grant', `assertion.embed_context_invalid: ${ecErr}`);
    const token = crypto.randomBytes(32).toString('base64url');
    const ttl = t.token_ttl ?? 3600;
    v3Tokens.set(token, {
      tenant, embed_context: payload.embed_context, exp: nowMs + ttl * 1000,
      generation: t.generation ?? 0, kid: header.kid ?? null, alg: header.alg, jti: payload.jti,
    });
    bump('v3', '200');
    record('v3', { tenant, status: 200, alg: header.alg, kid: header.kid ?? null, jti: payload.jti, username: payload.embed_context.username });
    return send(res, 200, {
      access_token: token, token_type: 'Bearer', expires_in: ttl, scope: 'embed',
    });
  }

  // (b) Toucan AI: POST /embed/generate-token (older path /api/generate-token)
  async function aiGenerate(req, res) {
    bump('ai', 'calls');
    if (await applyFault('ai', res)) return;
    const ai = cfg.ai ?? {};
    const fail = (status, body) => {
      bump('ai', `${status}`);
      record('ai', { status, error: body.error, message: body.message });
      send(res, status, body);
    };
    const key = req.headers['x-api-key'];
    if (typeof key !== 'string' || !(ai.api_keys ?? []).some((k) => ctEq(k, key))) {
      return fail(401, { error: 'unauthorized', message: 'missing or invalid x-api-key' });
    }
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      return fail(400, { error: 'invalid_body', message: 'content-type must be application/json' });
    }
    let body;
    try { body = JSON.parse(await readBody(req)); } catch { return fail(400, { error: 'invalid_body', message: 'body is not JSON' }); }
    const bad = checkAiBody(body, ai.attributes ?? {});
    if (bad) return fail(400, bad);
    const ttl = ai.ttl ?? 3600;
    const exp = Date.now() + ttl * 1000;
    const claims = {
      org: ai.org ?? 'standin-org', user: body.user, iat: Math.floor(Date.now() / 1000), exp: Math.floor(exp / 1000),
    };
    const token = await new CompactEncrypt(Buffer.from(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(aiKey);
    aiTokens.set(token, { user: body.user, exp });
    bump('ai', '200');
    record('ai', { status: 200, distinctId: body.user.distinctId, role: body.user.role, attributes: Object.keys(body.user.attributes) });
    const expiresIn = ttl % 3600 === 0 ? `${ttl / 3600}h` : `${ttl}s`;
    return send(res, 200, { token, expiresIn });
  }

  // (c) controls for tests
  async function control(req, res, p) {
    if (p === '/_control/counters' && req.method === 'GET') return send(res, 200, counters);
    if (p === '/_control/requests' && req.method === 'GET') return send(res, 200, log);
    if (p === '/_control/reset' && req.method === 'POST') {
      counters.v3 = {}; counters.ai = {}; faults.v3 = []; faults.ai = []; log.v3 = []; log.ai = [];
      return send(res, 200, { reset: true });
    }
    if (p === '/_control/faults' && req.method === 'POST') {
      const f = JSON.parse(await readBody(req) || '{}');
      const targets = f.target === 'all' ? ['v3', 'ai'] : [f.target];
      if (!targets.every((x) => x === 'v3' || x === 'ai') || !['500', '503', 'slow', 'reset'].includes(String(f.mode))) {
        return send(res, 400, { error: 'target v3|ai|all, mode 500|503|slow|reset' });
      }
      const count = Math.max(1, Math.min(Number(f.count ?? 1), 1000));
      for (const x of targets) {
        faults[x].push({
          mode: String(f.mode), count, delay_ms: f.delay_ms, retry_after: f.retry_after,
        });
      }
      return send(res, 200, { queued: faults });
    }
    let m = /^\/_control\/v3\/([^/]+)$/.exec(p);
    if (m && req.method === 'PUT') {
      // (re)configure a Toucan 3.0 tenant at run time, e.g. once the daemon's JWKS URL is known
      const t = JSON.parse(await readBody(req) || '{}');
      if (typeof t.jwks_url !== 'string' || typeof t.client_secret !== 'string' || typeof t.issuer !== 'string') {
        return send(res, 400, { error: 'jwks_url, client_secret and issuer are required' });
      }
      const name = decodeURIComponent(m[1]);
      v3Tenants[name] = t;
      delete jwksSets[name];
      return send(res, 200, { tenant: name, audience: `${t.oauth_url ?? base}/${name}/oauth/oauth-token` });
    }
    if (m && req.method === 'GET') {
      const t = v3Tenants[decodeURIComponent(m[1])];
      if (!t) return send(res, 404, { error: 'unknown tenant' });
      return send(res, 200, { audience: `${t.oauth_url ?? base}/${decodeURIComponent(m[1])}/oauth/oauth-token`, issuer: t.issuer, jwks_url: t.jwks_url });
    }
    m = /^\/_control\/v3\/([^/]+)\/regenerate-secret$/.exec(p);
    if (m && req.method === 'POST') {
      const t = v3Tenants[decodeURIComponent(m[1])];
      if (!t) return send(res, 404, { error: 'unknown tenant' });
      const b = JSON.parse(await readBody(req) || '{}');
      t.client_secret = b.client_secret ?? crypto.randomBytes(24).toString('base64url');
      t.generation = (t.generation ?? 0) + 1;
      // documented: a new secret invalidates every token issued before
      for (const [tok, v] of v3Tokens) if (v.tenant === decodeURIComponent(m[1])) v3Tokens.delete(tok);
      return send(res, 200, { client_secret: t.client_secret });
    }
    m = /^\/_control\/tokens\/([^/]+)$/.exec(p);
    if (m && req.method === 'GET') {
      const tok = decodeURIComponent(m[1]);
      const v = v3Tokens.get(tok);
      if (v && v.exp > Date.now()) return send(res, 200, { active: true, scheme: 'v3', ...v });
      const ai = aiTokens.get(tok);
      if (ai && ai.exp > Date.now()) {
        const { plaintext } = await compactDecrypt(tok, aiKey);
        return send(res, 200, { active: true, scheme: 'ai', ...JSON.parse(Buffer.from(plaintext).toString('utf8')) });
      }
      return send(res, 200, { active: false });
    }
    return send(res, 404, { error: 'no such control' });
  }

  const handler = async (req, res) => {
    const p = new URL(req.url, base).pathname;
    if (p === '/healthz') return send(res, 200, { ok: true });
    if (p.startsWith('/_control/')) return control(req, res, p);
    const m = /^\/([A-Za-z0-9_.-]+)\/oauth\/oauth-token$/.exec(p);
    if (m) {
      if (req.method !== 'POST') return send(res, 405, { error: 'invalid_request' }, { allow: 'POST' });
      return v3Token(req, res, m[1]);
    }
    if (p === '/embed/generate-token' || p === '/api/generate-token') {
      if (req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' }, { allow: 'POST' });
      return aiGenerate(req, res);
    }
    return send(res, 404, { error: 'not_found' });
  };

  const server = http.createServer((req, res) => {
    handler(req, res).catch((e) => {
      if (!res.headersSent) send(res, e.status ?? 500, { error: 'internal_error', message: e.message });
    });
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve); });
  base = `http://${host}:${server.address().port}`;
  const stop = () => { server.close(); server.closeAllConnections?.(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({ ready: true, url: base, port: server.address().port })}\n`);
}

main().catch((e) => { process.stderr.write(`standin.mjs: ${e.stack ?? e}\n`); process.exit(1); });
