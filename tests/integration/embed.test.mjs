// Embed tokens through the built daemon after a real login at oidc-provider:
// signed JWTs checked by verifiers not written here (npm jose against the
// served JWKS, and the openssl command) for every selectable alg; the
// JWT-bearer exchange and the Toucan AI scheme against the Toucan stand-in
// (request shape, retries, circuit breaker, outages and refusals); the
// embed-token route (no-store, 401, cache, re-mint, CORS, rate limit); the
// development-mode CLI (mint, map); the audit line. Everything on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';
import { startOp } from './lib/op.mjs';
import { startDaemon, writeConfig, runCli } from './lib/daemon.mjs';
import { startToucan } from './lib/toucan.mjs';
import { daemonLogin, embedToken } from './lib/flow.mjs';
import { jarFetch } from './lib/jar.mjs';
import { request } from './lib/http.mjs';
import { freePort } from './lib/ports.mjs';
import { stopAll, sleep } from './lib/proc.mjs';
import { verifyEmbedJwt, opensslVerifyJws } from './lib/embedcheck.mjs';

const CLIENT_SECRET = 'CANARY-client-secret-embed-0123456789abcdef';
const API_KEY = 'CANARY-toucan-api-key-5b1e0c4f9a7d2e6b';
const ATTR_CANARY = 'CANARY-attr-value-e81d3c';
const EMBED_SECRET = 'CANARY-embed-client-secret-77aa10';
const WRONG_KEY = 'CANARY-wrong-api-key-3c9d';
const ISSUER = 'toucan-sso-test';
const CORS_OK = 'http://127.0.0.1:7777';
const AI_TTL = 30; // the stand-in's Toucan AI token lifetime: re-mint after 20 s
const ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

let op; let toucan; let toucan2; let daemon; const algDaemons = {};
const t0 = Date.now();
let breakerOpenedAt = 0;

const mapping = { attributes: { country: { claim: 'country', type: 'string' } } };

function jwtTenant(extra = {}) {
  return {
    issuer: op.issuer,
    client_id: 'tsso-embed',
    client_secret_file: '../secrets/client.secret',
    scopes: ['openid', 'email', 'profile'],
    mapping,
    embed: {
      scheme: 'signed_jwt', issuer: ISSUER, workspace_id: 'acme', audience: toucan.audience('acme'),
      ...extra,
    },
  };
}

function aiTenant(url, keyFile = '../secrets/toucan.key', extra = {}) {
  return {
    issuer: op.issuer,
    client_id: 'tsso-embed',
    client_secret_file: '../secrets/client.secret',
    scopes: ['openid', 'email', 'profile'],
    mapping,
    embed: { scheme: 'api', toucan_url: url, api_key_file: keyFile, ...extra },
  };
}

before(async () => {
  const ports = { main: await freePort() };
  for (const a of ALGS) ports[a] = await freePort();
  const uris = [];
  const names = ['jwt', 'late', 'audit', 'xchg', 'ai', 'aibad', 'aibrk'];
  for (const n of names) uris.push(`http://127.0.0.1:${ports.main}/${n}/callback`);
  for (const a of ALGS) uris.push(`http://127.0.0.1:${ports[a]}/jwt/callback`);
  op = await startOp({
    clients: [{
      client_id: 'tsso-embed', client_secret: CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_basic', redirect_uris: uris,
    }],
    accounts: [{
      sub: 'alice', password: 'alice-password', email: 'alice@acme.example', email_verified: true,
      name: 'Alice Example', preferred_username: 'alice', groups: ['analysts'], country: ATTR_CANARY,
    }, {
      // A 400-byte attribute: the session cookie holds it with the ID
      // token, not with an embed token (which repeats it, base64url) as well.
      sub: 'bob', password: 'bob-password', email: 'bob@acme.example', email_verified: true,
      name: 'Bob Example', preferred_username: 'bob', groups: ['analysts'], country: 'c'.repeat(400),
    }],
    extra_claims: ['country'],
    claims: { profile: ['name', 'preferred_username', 'given_name', 'family_name', 'locale', 'country'] },
  });
  const jwksUrl = `http://127.0.0.1:${ports.main}/.well-known/jwks.json`;
  toucan = await startToucan({
    v3: { tenants: { xchg: { issuer: ISSUER, jwks_url: jwksUrl, client_secret: EMBED_SECRET, workspace_id: 'acme' } } },
    ai: { api_keys: [API_KEY], attributes: { country: 'string' }, ttl: AI_TTL },
  });
  toucan2 = await startToucan({ ai: { api_keys: [API_KEY], attributes: { country: 'string' } } });
  const files = {
    'secrets/client.secret': `${CLIENT_SECRET}\n`,
    'secrets/toucan.key': `${API_KEY}\n`,
    'secrets/wrong.key': `${WRONG_KEY}\n`,
    'secrets/embed.secret': `${EMBED_SECRET}\n`,
  };
  daemon = await startDaemon({
    port: ports.main,
    generateKeys: true,
    files,
    tenants: {
      jwt: jwtTenant({ cors_origins: [CORS_OK] }),
      late: jwtTenant({ mint_at_login: false }),
      audit: jwtTenant({ audit_values: true }),
      xchg: jwtTenant({
        audience: toucan.audience('xchg'), token_url: toucan.audience('xchg'), embed_client_secret_file: '../secrets/embed.secret',
      }),
      ai: aiTenant(toucan.url),
      aibad: aiTenant(toucan.url, '../secrets/wrong.key'),
      aibrk: aiTenant(toucan2.url),
    },
  });
  await Promise.all(ALGS.map(async (a) => {
    algDaemons[a] = await startDaemon({
      port: ports[a], generateKeys: true, files, main: { embed: { alg: a } }, tenants: { jwt: jwtTenant() },
    });
  }));
});

after(async () => { await stopAll(...Object.values(algDaemons), daemon, toucan, toucan2, op); });

async function loginJar(d, tenant) {
  const r = await daemonLogin(d, tenant);
  assert.ok(r.response && [302, 303].includes(r.response.status), `login at ${tenant}: ${r.start.status} ${r.body}`);
  return r.jar;
}

async function jwksOf(d) {
  const r = await request(`${d.url}/.well-known/jwks.json`);
  assert.equal(r.status, 200);
  return JSON.parse(r.body);
}

const mintedLines = (d, pred = () => true) => d.logs().filter((l) => l.event === 'embed.minted' && pred(l));

// The breaker is opened first so that its 30 s cool-down runs while the other
// tests do; the last test waits out the rest and checks it recovers.
test('Toucan AI: the circuit breaker opens after 5 failed attempts and answers 503 without calling', async () => {
  await toucan2.fault({ target: 'ai', mode: '503', count: 1000 });
  const jar = await loginJar(daemon, 'aibrk');
  const first = await embedToken(daemon, 'aibrk', jar);
  assert.equal(first.status, 503, first.text);
  assert.equal(first.json.error, 'embed.toucan_unavailable');
  assert.match(first.headers.get('retry-after'), /^[1-9][0-9]*$/);
  assert.equal((await toucan2.counters()).ai.calls, 3, 'one attempt and two retries on 503');
  const second = await embedToken(daemon, 'aibrk', jar);
  assert.equal(second.status, 503);
  breakerOpenedAt = Date.now();
  const callsWhenOpen = (await toucan2.counters()).ai.calls;
  assert.equal(callsWhenOpen, 5, 'the fifth failure opens the breaker: no sixth attempt');
  const third = await embedToken(daemon, 'aibrk', jar);
  assert.equal(third.status, 503);
  assert.equal(third.json.error, 'embed.circuit_open');
  const ra = Number(third.headers.get('retry-after'));
  assert.ok(ra >= 25 && ra <= 30, `Retry-After ${ra} is the breaker's remaining cool-down`);
  assert.equal((await toucan2.counters()).ai.calls, callsWhenOpen, 'an open breaker sends nothing');
  await toucan2.reset(); // Toucan is back; the breaker does not know yet
  const fourth = await embedToken(daemon, 'aibrk', jar);
  assert.equal(fourth.json.error, 'embed.circuit_open');
  assert.equal((await toucan2.counters()).ai.calls ?? 0, 0);
});

test('signed JWT (RS512 default): verified by jose against the served JWKS and by openssl, every claim', async () => {
  const jar = await loginJar(daemon, 'jwt');
  const r = await embedToken(daemon, 'jwt', jar);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(Object.keys(r.json).sort(), ['expires_at', 'expires_in', 'token']);
  const { token } = r.json;
  const { header, payload } = await verifyEmbedJwt(token, {
    jwksUrl: `${daemon.url}/.well-known/jwks.json`, issuer: ISSUER, audience: toucan.audience('acme'), workspaceId: 'acme', algs: ['RS512'],
  });
  assert.equal(header.alg, 'RS512');
  assert.equal(header.typ, 'JWT');
  assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'typ']);
  assert.equal(payload.sub, 'toucan-embed-client');
  assert.equal(payload.exp - payload.iat, 300, 'exp = iat + embed.ttl');
  assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 10);
  assert.equal(r.json.expires_at, payload.exp);
  assert.ok(r.json.expires_in > 290 && r.json.expires_in <= 300, `expires_in ${r.json.expires_in}`);
  assert.equal(Buffer.from(payload.jti, 'base64url').length, 16, 'jti is 128 bits');
  assert.deepEqual(Object.keys(payload).sort(), ['aud', 'embed_context', 'exp', 'iat', 'iss', 'jti', 'sub']);
  assert.deepEqual(payload.embed_context, {
    username: 'alice@acme.example', workspace_id: 'acme', roles: ['USER'], privileges: {}, groups: [], attributes: { country: ATTR_CANARY },
  });
  assert.ok(JSON.stringify(payload.embed_context).length < 3500);
  assert.ok(token.length < 4096, `token of ${token.length} bytes`);
  // The key that signed it is the one published, RSA of at least 2048 bits.
  const jwks = await jwksOf(daemon);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, 'kid published in the JWKS');
  assert.equal(jwk.kty, 'RSA');
  assert.equal(jwk.d, undefined, 'no private part published');
  assert.ok(Buffer.from(jwk.n, 'base64url').length * 8 >= 2048);
  assert.equal(opensslVerifyJws(token, jwk), true, 'openssl verifies the signature');
  // The checks can fail: a changed claim or another audience is refused.
  const [h, p, s] = token.split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, exp: payload.exp + 3600 })).toString('base64url')}.${s}`;
  assert.equal(opensslVerifyJws(forged, jwk), false);
  await assert.rejects(verifyEmbedJwt(forged, { jwks, issuer: ISSUER, audience: toucan.audience('acme'), workspaceId: 'acme' }));
  await assert.rejects(verifyEmbedJwt(token, { jwks, issuer: ISSUER, audience: toucan.audience('other'), workspaceId: 'acme' }));
  assert.equal(p.length > 0, true);
  // The audit line: one per minted token, attribute names only.
  const lines = mintedLines(daemon, (l) => l.jti === payload.jti);
  assert.equal(lines.length, 1, 'exactly one audit line for the token');
  const a = lines[0];
  assert.equal(a.tenant, 'jwt');
  assert.equal(a.subject, 'alice@acme.example');
  assert.equal(a.scheme, 'signed_jwt');
  assert.equal(a.exp, String(payload.exp));
  assert.equal(a.expires_at, new Date(payload.exp * 1000).toISOString().replace(/\.000Z$/, 'Z'));
  assert.equal(a.kid, header.kid);
  assert.equal(a.attributes, 'country');
  assert.ok(!JSON.stringify(a).includes(ATTR_CANARY), 'no attribute value without audit_values');
  assert.ok(!JSON.stringify(daemon.logs()).includes(token), 'the token is never logged');
});

test('mint_at_login: the callback mints into the new session, the first embed-token answers from it; off, the first request mints and re-seals', async () => {
  const decode = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());
  for (const [tenant, atLogin] of [['jwt', true], ['late', false]]) {
    const before = mintedLines(daemon, (l) => l.tenant === tenant).length;
    const jar = await loginJar(daemon, tenant);
    await sleep(200); // the daemon's log lines are read as they come
    const atCallback = mintedLines(daemon, (l) => l.tenant === tenant).slice(before);
    assert.equal(atCallback.length, atLogin ? 1 : 0, `${tenant}: minted at the callback`);
    const cookieBefore = jar.get('tsso').value;
    const first = await embedToken(daemon, tenant, jar);
    assert.equal(first.status, 200, first.text);
    const { jti } = decode(first.json.token);
    await sleep(200);
    const all = mintedLines(daemon, (l) => l.tenant === tenant).slice(before);
    assert.equal(all.length, 1, `${tenant}: one token for the login and its first page`);
    assert.equal(all[0].jti, jti, `${tenant}: the page got the token minted ${atLogin ? 'at the callback' : 'for it'}`);
    // At login the session already holds it: no second seal, no Set-Cookie.
    assert.equal(first.headers.get('set-cookie') !== null, !atLogin, `${tenant}: Set-Cookie on the first embed-token`);
    assert.equal(jar.get('tsso').value !== cookieBefore, !atLogin);
    // Either way the next page load reuses the cached token.
    const second = await embedToken(daemon, tenant, jar);
    assert.equal(second.json.token, first.json.token, `${tenant}: cached`);
    assert.equal(second.headers.get('set-cookie'), null);
  }
});

test('mint_at_login: a cookie session too large with the token keeps the ID token and leaves minting to the first request', async () => {
  const before = mintedLines(daemon, (l) => l.tenant === 'jwt').length;
  const r = await daemonLogin(daemon, 'jwt', { user: 'bob', password: 'bob-password' });
  assert.ok(r.response && r.response.status === 302, `login: ${r.response?.status} ${r.body}`);
  await sleep(200);
  const atCallback = mintedLines(daemon, (l) => l.tenant === 'jwt').slice(before);
  assert.equal(atCallback.length, 1, 'minted at the callback, then left out of the session');
  const first = await embedToken(daemon, 'jwt', r.jar);
  assert.equal(first.status, 200, first.text);
  const { jti } = JSON.parse(Buffer.from(first.json.token.split('.')[1], 'base64url').toString());
  assert.notEqual(jti, atCallback[0].jti, 'the session had no token: the first request minted one');
  // The ID token stayed: logout still sends id_token_hint.
  const out = await jarFetch(r.jar, daemon.tenantUrl('jwt', '/logout'));
  assert.equal(out.status, 302);
  assert.ok(new URL(out.headers.get('location')).searchParams.get('id_token_hint'), out.headers.get('location'));
});

test('jti: 128 random bits, unique across mints', async () => {
  const jtis = new Set();
  for (let i = 0; i < 4; i += 1) {
    const jar = await loginJar(daemon, 'jwt');
    const r = await embedToken(daemon, 'jwt', jar);
    assert.equal(r.status, 200);
    const { jti } = jose.decodeJwt(r.json.token);
    assert.match(jti, /^[A-Za-z0-9_-]{22}$/);
    jtis.add(jti);
  }
  assert.equal(jtis.size, 4);
});

for (const alg of ALGS) {
  test(`signed JWT with embed.alg ${alg} (fresh keys_dir): jose and openssl verify`, async () => {
    const d = algDaemons[alg];
    const jar = await loginJar(d, 'jwt');
    const r = await embedToken(d, 'jwt', jar);
    assert.equal(r.status, 200, r.text);
    const jwks = await jwksOf(d);
    assert.equal(jwks.keys.length, 1);
    const { header, payload } = await verifyEmbedJwt(r.json.token, {
      jwksUrl: `${d.url}/.well-known/jwks.json`, issuer: ISSUER, audience: toucan.audience('acme'), workspaceId: 'acme', algs: [alg],
    });
    assert.equal(header.alg, alg);
    assert.equal(header.typ, 'JWT');
    assert.equal(header.kid, jwks.keys[0].kid);
    assert.equal(payload.exp - payload.iat, 300);
    assert.equal(payload.embed_context.attributes.country, ATTR_CANARY);
    const jwk = jwks.keys[0];
    const want = { RS256: ['RSA'], PS256: ['RSA'], ES256: ['EC', 'P-256'], EdDSA: ['OKP', 'Ed25519'] }[alg];
    assert.equal(jwk.kty, want[0]);
    if (want[1]) assert.equal(jwk.crv, want[1]);
    assert.equal(jwk.d, undefined);
    assert.equal(opensslVerifyJws(r.json.token, jwk), true);
    const t = r.json.token;
    const bad = `${t.slice(0, -4)}${t.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    assert.equal(opensslVerifyJws(bad, jwk), false);
  });
}

test('exchange: the page gets the opaque token Toucan returns; cached; refusals and outages', async () => {
  const jar = await loginJar(daemon, 'xchg');
  const before0 = (await toucan.counters()).v3?.calls ?? 0;
  const r = await embedToken(daemon, 'xchg', jar);
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.token, /^[A-Za-z0-9_-]{43}$/, 'the opaque token, not the JWT');
  const info = await toucan.lookup(r.json.token);
  assert.equal(info.active, true);
  assert.equal(info.embed_context.username, 'alice@acme.example');
  assert.ok(r.json.expires_in > 3500, 'Toucan\'s expires_in (3600), not the JWT\'s 300 s');
  // Cached in the session: page loads do not call Toucan again.
  for (let i = 0; i < 3; i += 1) {
    const again = await embedToken(daemon, 'xchg', jar);
    assert.equal(again.json.token, r.json.token);
  }
  assert.equal((await toucan.counters()).v3.calls - before0, 1, 'one exchange for four page loads');
  const line = mintedLines(daemon, (l) => l.tenant === 'xchg');
  assert.equal(line.length, 1);
  assert.equal(line[0].scheme, 'signed_jwt+exchange');
  assert.equal(line[0].jti, info.jti, 'the audit jti is the accepted assertion\'s');

  // Outage: every attempt answers 503 → 503 with Retry-After, then recovery.
  const jar2 = await loginJar(daemon, 'xchg');
  await toucan.reset();
  await toucan.fault({ target: 'v3', mode: '503', count: 3, retry_after: 7 });
  const down = await embedToken(daemon, 'xchg', jar2);
  assert.equal(down.status, 503, down.text);
  assert.equal(down.json.error, 'embed.toucan_unavailable');
  assert.equal(down.headers.get('retry-after'), '7', 'Toucan\'s own Retry-After is passed on');
  assert.equal(down.json.token, undefined);
  assert.equal((await toucan.counters()).v3.fault_503, 3, 'retried twice on 503');
  const up = await embedToken(daemon, 'xchg', jar2);
  assert.equal(up.status, 200, 'the session survived the outage');
  // Connection resets also count as an outage.
  const jar3 = await loginJar(daemon, 'xchg');
  // (curl silently retries a reset on a reused connection: queue more resets
  // than attempts, then clear them.)
  await toucan.fault({ target: 'v3', mode: 'reset', count: 20 });
  const reset = await embedToken(daemon, 'xchg', jar3);
  assert.equal(reset.status, 503, reset.text);
  assert.match(reset.headers.get('retry-after'), /^[1-9][0-9]*$/);
  await toucan.reset();
  assert.equal((await embedToken(daemon, 'xchg', jar3)).status, 200);
  // Refusal: the embed client secret was re-generated in Toucan → 502, no retry.
  const jar4 = await loginJar(daemon, 'xchg');
  await toucan.reset();
  await toucan.regenerateSecret('xchg', 'another-secret-0000000000');
  try {
    const refused = await embedToken(daemon, 'xchg', jar4);
    assert.equal(refused.status, 502, refused.text);
    assert.equal(refused.json.error, 'embed.toucan_refused');
    assert.match(refused.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
    assert.equal((await toucan.counters()).v3['401'], 1, 'a 4xx is not retried');
    assert.ok(!refused.text.includes(EMBED_SECRET));
  } finally {
    await toucan.regenerateSecret('xchg', EMBED_SECRET);
  }
  // Toucan refuses the assertion itself (its issuer setting differs): 502.
  const jar5 = await loginJar(daemon, 'xchg');
  await toucan.setV3Tenant('xchg', {
    issuer: 'someone-else', jwks_url: `${daemon.url}/.well-known/jwks.json`, client_secret: EMBED_SECRET, workspace_id: 'acme',
  });
  try {
    const grant = await embedToken(daemon, 'xchg', jar5);
    assert.equal(grant.status, 502, grant.text);
    assert.equal(grant.json.error, 'embed.toucan_refused');
    assert.equal((await toucan.requests()).v3.at(-1).error, 'invalid_grant');
  } finally {
    await toucan.setV3Tenant('xchg', {
      issuer: ISSUER, jwks_url: `${daemon.url}/.well-known/jwks.json`, client_secret: EMBED_SECRET, workspace_id: 'acme',
    });
  }
  const warn = daemon.logs().filter((l) => l.event === 'embed.refused' && l.tenant === 'xchg' && l.reason === 'embed.toucan_refused');
  assert.ok(warn.some((l) => /invalid_grant/.test(l.detail ?? '')), 'the log names Toucan\'s OAuth error');
  // The token issued before the re-generation is no longer active at Toucan.
  assert.equal((await toucan.lookup(r.json.token)).active, false);
});

test('Toucan AI: exact request, cached, retries on 5xx and timeouts only, 4xx refused with 502', async () => {
  await toucan.reset();
  const jar = await loginJar(daemon, 'ai');
  const auditBefore = mintedLines(daemon, (l) => l.tenant === 'ai').length;
  const r = await embedToken(daemon, 'ai', jar);
  assert.equal(r.status, 200, r.text);
  const info = await toucan.lookup(r.json.token);
  assert.equal(info.active, true);
  assert.equal(info.user?.distinctId ?? info.distinctId, 'alice@acme.example');
  const reqs = (await toucan.requests()).ai;
  assert.equal(reqs.length, 1);
  assert.equal(reqs[0].status, 200);
  assert.equal(reqs[0].distinctId, 'alice@acme.example');
  assert.equal(reqs[0].role, 'explorer');
  assert.deepEqual(reqs[0].attributes, ['country']);
  assert.ok(r.json.expires_in <= AI_TTL && r.json.expires_in >= AI_TTL - 3, 'Toucan\'s expiresIn');
  // Cached: several page loads, one Toucan call (the token lives 30 s here).
  for (let i = 0; i < 4; i += 1) assert.equal((await embedToken(daemon, 'ai', jar)).json.token, r.json.token);
  assert.equal((await toucan.counters()).ai.calls, 1, 'one Toucan call for five page loads');
  const audit = mintedLines(daemon, (l) => l.tenant === 'ai');
  assert.equal(audit.length, auditBefore + 1, 'one audit line for five page loads');
  const a = audit.at(-1);
  assert.equal(a.scheme, 'api');
  assert.equal(a.subject, 'alice@acme.example');
  assert.equal(a.attributes, 'country');
  assert.equal(a.exp, String(r.json.expires_at));
  assert.match(a.jti, /^sha256:[A-Za-z0-9_-]{16}$/);

  // 5xx twice, then success: retried.
  await toucan.reset();
  const jar2 = await loginJar(daemon, 'ai');
  await toucan.fault({ target: 'ai', mode: '500', count: 2 });
  const retried = await embedToken(daemon, 'ai', jar2);
  assert.equal(retried.status, 200, retried.text);
  let c = await toucan.counters();
  assert.equal(c.ai.calls, 3);
  assert.equal(c.ai.fault_500, 2);
  // A timeout (the stand-in stalls past the 5 s attempt limit), then success.
  await toucan.reset();
  const jar3 = await loginJar(daemon, 'ai');
  await toucan.fault({ target: 'ai', mode: 'slow', count: 1, delay_ms: 6500 });
  const started = Date.now();
  const slow = await embedToken(daemon, 'ai', jar3);
  assert.equal(slow.status, 200, slow.text);
  const took = Date.now() - started;
  assert.ok(took >= 4500 && took < 9000, `one timed-out attempt then a retry (${took} ms)`);
  c = await toucan.counters();
  assert.equal(c.ai.calls, 2);
  // 4xx: a wrong API key is refused once, not retried, 502.
  await toucan.reset();
  const jar4 = await loginJar(daemon, 'aibad');
  const bad = await embedToken(daemon, 'aibad', jar4);
  assert.equal(bad.status, 502, bad.text);
  assert.equal(bad.json.error, 'embed.toucan_refused');
  c = await toucan.counters();
  assert.equal(c.ai.calls, 1, 'no retry on 4xx');
  assert.equal(c.ai['401'], 1);
  assert.ok(!bad.text.includes(WRONG_KEY) && !bad.text.includes(API_KEY), 'no key in the answer');
  // All 5xx: 503 with Retry-After.
  await toucan.fault({ target: 'ai', mode: '503', count: 3 });
  const jar5 = await loginJar(daemon, 'ai');
  const down = await embedToken(daemon, 'ai', jar5);
  assert.equal(down.status, 503);
  assert.match(down.headers.get('retry-after'), /^[1-9][0-9]*$/);
  assert.ok(!down.text.includes(API_KEY));
  const back = await embedToken(daemon, 'ai', jar5);
  assert.equal(back.status, 200, 'recovers; the session survived');
  assert.ok(!back.text.includes(API_KEY));
});

test('embed-token: 401 JSON with login_url without a session (or with a forged cookie)', async () => {
  for (const headers of [{}, { cookie: 'tsso_session=forged-value' }]) {
    const r = await request(daemon.tenantUrl('jwt', '/embed-token'), { headers });
    assert.equal(r.status, 401, r.body);
    assert.match(r.headers['content-type'], /^application\/json/);
    const j = JSON.parse(r.body);
    assert.equal(j.error, 'login_required');
    assert.equal(j.login_url, daemon.tenantUrl('jwt', '/login'));
    assert.equal(j.token, undefined);
  }
});

test('CORS: only the tenant\'s cors_origins, preflight and actual request', async () => {
  const jar = await loginJar(daemon, 'jwt');
  const url = daemon.tenantUrl('jwt', '/embed-token');
  const pre = await request(url, { method: 'OPTIONS', headers: { origin: CORS_OK, 'access-control-request-method': 'GET' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], CORS_OK);
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  assert.match(pre.headers['access-control-allow-methods'], /GET/);
  assert.match(pre.headers.vary ?? '', /Origin/i);
  const ok = await embedToken(daemon, 'jwt', jar, { origin: CORS_OK });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('access-control-allow-origin'), CORS_OK);
  for (const evil of ['http://127.0.0.1:7778', 'http://evil.example', 'null', `${CORS_OK}.evil.example`]) {
    const p = await request(url, { method: 'OPTIONS', headers: { origin: evil, 'access-control-request-method': 'GET' } });
    assert.equal(p.status, 403, `preflight from ${evil}`);
    assert.equal(p.headers['access-control-allow-origin'], undefined);
    const g = await embedToken(daemon, 'jwt', jar, { origin: evil });
    assert.equal(g.status, 403, `GET from ${evil}`);
    assert.equal(g.headers.get('access-control-allow-origin'), null);
    assert.equal(g.json.error, 'embed.origin_not_allowed');
    assert.equal(g.json.token, undefined);
  }
  // A tenant without cors_origins allows no other origin.
  const jarA = await loginJar(daemon, 'audit');
  const other = await embedToken(daemon, 'audit', jarA, { origin: CORS_OK });
  assert.equal(other.status, 403);
});

test('rate limit: 20 requests per session at once, then 429 with Retry-After; other sessions unaffected', async () => {
  const jar = await loginJar(daemon, 'jwt');
  const other = await loginJar(daemon, 'jwt');
  // Requests until the first 429 (bounded): the burst of 20, plus at most one
  // per 3 s that passed meanwhile (a slow machine).
  const started = Date.now();
  let ok = 0;
  let limited = null;
  for (let i = 0; i < 40 && !limited; i += 1) {
    const r = await embedToken(daemon, 'jwt', jar);
    if (r.status === 200) ok += 1;
    else limited = r;
  }
  const refills = Math.floor((Date.now() - started) / 3000);
  assert.ok(limited, 'no 429 within 40 requests');
  assert.ok(ok >= 20 && ok <= 20 + refills, `${ok} requests allowed (burst 20, ${refills} refills)`);
  assert.equal(limited.status, 429, limited.text);
  assert.equal(limited.json.error, 'embed.rate_limited');
  assert.equal(limited.json.token, undefined);
  const ra = Number(limited.headers.get('retry-after'));
  assert.ok(ra >= 1 && ra <= 3, `Retry-After ${ra}`);
  assert.equal((await embedToken(daemon, 'jwt', other)).status, 200, 'another session still gets its token');
  await sleep(ra * 1000 + 200);
  assert.equal((await embedToken(daemon, 'jwt', jar)).status, 200, 'allowed again after Retry-After');
  assert.equal((await embedToken(daemon, 'jwt', jar)).status, 429, 'refilled at one per 3 s');
});

test('audit_values: the attribute values are logged only when the tenant opts in', async () => {
  const jar = await loginJar(daemon, 'audit');
  const r = await embedToken(daemon, 'audit', jar);
  assert.equal(r.status, 200);
  const { jti } = jose.decodeJwt(r.json.token);
  const [line] = mintedLines(daemon, (l) => l.jti === jti);
  assert.equal(line.tenant, 'audit');
  assert.deepEqual(JSON.parse(line.attributes), { country: ATTR_CANARY });
});

test('toucan-sso mint (development mode, both schemes) and map; mint refuses in production mode', async () => {
  const dir = path.dirname(daemon.configPath);
  const claims = path.join(dir, 'claims.json');
  fs.writeFileSync(claims, JSON.stringify({ sub: 'bob', email: 'bob@acme.example', country: 'FR' }));
  const m = await daemon.cli(['mint', '--tenant', 'jwt', '--claims', claims]);
  assert.equal(m.code, 0, m.stderr);
  const out = JSON.parse(m.stdout);
  const { payload } = await verifyEmbedJwt(out.token, {
    jwks: await jwksOf(daemon), issuer: ISSUER, audience: toucan.audience('acme'), workspaceId: 'acme', algs: ['RS512'],
  });
  assert.equal(payload.embed_context.username, 'bob@acme.example');
  assert.deepEqual(payload.embed_context.attributes, { country: 'FR' });
  assert.ok(!m.stdout.includes(API_KEY) && !m.stderr.includes(API_KEY));

  await toucan.reset();
  const a = await daemon.cli(['mint', '--tenant', 'ai', '--claims', claims]);
  assert.equal(a.code, 0, a.stderr);
  const tok = JSON.parse(a.stdout).token;
  assert.equal((await toucan.lookup(tok)).active, true);
  assert.equal((await toucan.requests()).ai[0].distinctId, 'bob@acme.example');
  assert.ok(!a.stdout.includes(API_KEY) && !a.stderr.includes(API_KEY), 'the API key is not printed');

  const map = await daemon.cli(['map', '--tenant', 'jwt', '--claims', claims]);
  assert.equal(map.code, 0, map.stderr);
  assert.match(map.stdout, /bob@acme\.example/);
  assert.match(map.stdout, /"country"/);
  assert.match(map.stdout, /FR/);

  // A valid production configuration: mint refuses before loading tenants
  // or calling anyone.
  const prod = await writeConfig({
    main: { mode: 'production', public_url: 'https://app.example.com/sso', embed: { keys_dir: path.join(dir, 'keys') } },
    tenants: {
      jwt: {
        issuer: 'https://login.example.com', client_id: 'tsso', client_secret_file: '../secrets/client.secret',
        embed: {
          scheme: 'signed_jwt', issuer: ISSUER, workspace_id: 'acme', audience: 'https://oauth.toucan.example/acme/oauth/oauth-token',
        },
      },
    },
    files: { 'secrets/client.secret': `${CLIENT_SECRET}\n` },
  });
  const check = await runCli(['check', '-c', prod.configPath]);
  const refused = await runCli(['mint', '-c', prod.configPath, '--tenant', 'jwt', '--claims', claims]);
  assert.notEqual(refused.code, 0);
  assert.equal(refused.stdout.trim(), '');
  assert.match(refused.stderr, /development/, `check said: ${check.stdout}${check.stderr}`);
  // ... while the same file in development mode mints.
  const devCfg = JSON.parse(fs.readFileSync(prod.configPath, 'utf8'));
  devCfg.mode = 'development';
  fs.writeFileSync(prod.configPath, JSON.stringify(devCfg));
  const dev = await runCli(['mint', '-c', prod.configPath, '--tenant', 'jwt', '--claims', claims]);
  assert.equal(dev.code, 0, dev.stderr);
  assert.ok(JSON.parse(dev.stdout).token);
});

test('secrets: the API key and the embed client secret never appear in logs or answers', async () => {
  const all = fs.readFileSync(daemon.proc.outPath, 'utf8') + fs.readFileSync(daemon.proc.errPath, 'utf8');
  assert.ok(all.includes('embed.minted'), 'the logs were read');
  for (const s of [API_KEY, WRONG_KEY, EMBED_SECRET, CLIENT_SECRET]) assert.ok(!all.includes(s), 'a secret leaked into the log');
});

test('re-mint when most of the life is spent, and the breaker recovers after its cool-down', async () => {
  // A Toucan AI token of 30 s (the stand-in's setting here).
  await toucan.reset();
  const jar = await loginJar(daemon, 'ai');
  const first = await embedToken(daemon, 'ai', jar);
  assert.equal(first.status, 200);
  const mintedAt = Date.now();
  // The breaker: half-open 30 s after it opened, the probe succeeds, it closes.
  const wait = breakerOpenedAt + 31000 - Date.now();
  if (wait > 0) await sleep(Math.min(wait, 31000));
  const jarB = await loginJar(daemon, 'aibrk');
  const rec = await embedToken(daemon, 'aibrk', jarB);
  assert.equal(rec.status, 200, `breaker recovered: ${rec.text}`);
  assert.equal((await toucan2.counters()).ai.calls, 1, 'one probe, and it closed the breaker');
  // Before two thirds of the life: the cached token; after: a new one, while
  // the first has not expired yet.
  const before60 = mintedAt + 0.55 * AI_TTL * 1000 - Date.now();
  if (before60 > 0) await sleep(before60);
  if (Date.now() < mintedAt + 0.6 * AI_TTL * 1000) {
    assert.equal((await embedToken(daemon, 'ai', jar)).json.token, first.json.token, 'cached at 55 %');
  }
  await sleep(Math.max(0, mintedAt + 0.7 * AI_TTL * 1000 - Date.now()));
  const second = await embedToken(daemon, 'ai', jar);
  assert.equal(second.status, 200);
  assert.ok(Date.now() / 1000 < first.json.expires_at - 3, 'the first token is still valid');
  assert.notEqual(second.json.token, first.json.token, 're-minted after two thirds of the life');
  assert.ok(second.json.expires_in > AI_TTL - 3);
  assert.equal((await embedToken(daemon, 'ai', jar)).json.token, second.json.token, 'and cached again');
  assert.equal((await toucan.counters()).ai.calls, 2);
  process.stderr.write(`embed.test.mjs: ${Math.round((Date.now() - t0) / 1000)} s\n`);
});
