// The rest of issue 3 against the real daemon: private_key_jwt (RS256, ES256)
// and PKCE at the real oidc-provider, tenant by email domain, third-party-
// initiated login (OIDC Core §4), per-tenant authorization options and PAR,
// max_age/auth_time, UserInfo claims reaching the mapping, isolation from a
// hung IdP, and every browser-side refusal: reason on the page, in the log
// with the request id and in /metrics, nothing reflected unescaped, no session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';
import { startOp, loginAtOp } from './lib/op.mjs';
import { startHostileOp } from './lib/hostile.mjs';
import { startMiniOp } from './lib/miniop.mjs';
import { startDaemon } from './lib/daemon.mjs';
import { CookieJar } from './lib/jar.mjs';
import { request } from './lib/http.mjs';
import { stopAll } from './lib/proc.mjs';
import { freePort } from './lib/ports.mjs';
import { makeJwk, publicJwks, jwkToPem } from './lib/keys.mjs';

const SECRET = 'CANARY-login2-client-secret-0123456789abcdef';
const EVIL = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>';
const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
let op; let hop; let mini; let daemon; let hung; const hungSockets = new Set();

const EMBED = {
  scheme: 'signed_jwt', issuer: 'toucan-sso-test', workspace_id: 'acme',
  audience: 'https://oauth.toucan.example/acme/oauth/oauth-token',
};

before(async () => {
  const dport = await freePort();
  const cb = (t) => `http://127.0.0.1:${dport}/${t}/callback`;
  // The daemon names its client key by its RFC 7638 thumbprint (kid), so
  // the public JWKS registered at the OP uses the same kid.
  const clientKey = async (alg) => {
    const k = await makeJwk(alg);
    k.kid = await jose.calculateJwkThumbprint(k);
    return k;
  };
  const rsKey = await clientKey('RS256');
  const esKey = await clientKey('ES256');
  const strayKey = await clientKey('RS256');
  op = await startOp({
    clients: [
      {
        client_id: 'tsso-pk-rs', token_endpoint_auth_method: 'private_key_jwt',
        jwks: publicJwks({ keys: [rsKey] }), redirect_uris: [cb('pkrs'), cb('pkstray')],
      },
      {
        client_id: 'tsso-pk-es', token_endpoint_auth_method: 'private_key_jwt',
        jwks: publicJwks({ keys: [esKey] }), redirect_uris: [cb('pkes')],
      },
      {
        client_id: 'tsso-basic', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [cb('nopar'), cb('ui'), cb('uioff'), cb('parreq')],
      },
    ],
  });
  hop = await startHostileOp();
  mini = await startMiniOp();
  // An IdP that accepts connections and never answers.
  hung = net.createServer((s) => { hungSockets.add(s); s.on('error', () => {}); s.on('close', () => hungSockets.delete(s)); });
  await new Promise((r) => { hung.listen(0, '127.0.0.1', r); });
  const hostile = (extra) => ({
    issuer: hop.issuer('ok'), client_id: 'tsso-hostile', client_secret_file: '../secrets/client.secret', embed: EMBED, ...extra,
  });
  const real = (clientId, extra) => ({ issuer: op.issuer, client_id: clientId, embed: EMBED, ...extra });
  const userinfoMapping = { attributes: { email_ui: { userinfo: 'email', required: true, type: 'string' } } };
  daemon = await startDaemon({
    port: dport,
    generateKeys: true,
    files: {
      'secrets/client.secret': `${SECRET}\n`,
      'secrets/rs.pem': jwkToPem(rsKey),
      'secrets/es.pem': jwkToPem(esKey),
      'secrets/stray.pem': jwkToPem(strayKey),
    },
    tenants: {
      pkrs: real('tsso-pk-rs', { token_endpoint_auth_method: 'private_key_jwt', client_private_key_file: '../secrets/rs.pem', client_key_alg: 'RS256' }),
      pkes: real('tsso-pk-es', { token_endpoint_auth_method: 'private_key_jwt', client_private_key_file: '../secrets/es.pem', client_key_alg: 'ES256' }),
      // registered with the RS key, signs with another one: the OP must refuse
      pkstray: real('tsso-pk-rs', { par: 'never', token_endpoint_auth_method: 'private_key_jwt', client_private_key_file: '../secrets/stray.pem', client_key_alg: 'RS256' }),
      nopar: real('tsso-basic', {
        client_secret_file: '../secrets/client.secret', par: 'never', email_domains: ['acme.example'],
        return_to_origins: ['https://dash.example.com'],
      }),
      ui: real('tsso-basic', { client_secret_file: '../secrets/client.secret', userinfo: true, mapping: userinfoMapping }),
      uioff: real('tsso-basic', { client_secret_file: '../secrets/client.secret', userinfo: false, mapping: userinfoMapping }),
      hok: hostile({ email_domains: ['hostile.example'] }),
      hopts: hostile({
        prompt: 'login', max_age: 600, acr_values: 'urn:acme:mfa urn:acme:pwd',
        scopes: ['openid', 'email', 'profile', 'groups'], extra_auth_params: { domain_hint: 'acme.example', ui_locales: 'fr' },
        par: 'auto',
      }),
      hparreq: hostile({ par: 'required' }),
      parreq: real('tsso-basic', { client_secret_file: '../secrets/client.secret', par: 'required' }),
      hacr: hostile({ acr_values: 'urn:acme:mfa', acr_essential: true }),
      acr: {
        issuer: mini.issuer, client_id: 'tsso-mini', client_secret_file: '../secrets/client.secret', embed: EMBED,
        acr_values: 'urn:acme:mfa urn:acme:hw', acr_essential: true,
      },
      maxage: {
        issuer: mini.issuer, client_id: 'tsso-mini', client_secret_file: '../secrets/client.secret', max_age: 60, embed: EMBED,
        max_idp_calls: 8,
      },
    },
  });
});

after(async () => {
  for (const s of hungSockets) s.destroy();
  hung?.close();
  await mini?.stop();
  await stopAll(daemon, op, hop);
});

/** A copy of a jar (the browser's cookies at one moment). */
function cloneJar(jar) {
  const j = new CookieJar();
  j.cookies = jar.cookies.map((c) => ({ ...c }));
  return j;
}

/** GET {t}/login?query, pass the IdP, return {jar, start, cb} without delivering the callback. */
async function toCallback(t, query = {}, { user = 'alice', password = 'alice-password', d = daemon } = {}) {
  const jar = new CookieJar();
  const q = new URLSearchParams(query).toString();
  const start = await request(`${d.url}/${t}/login${q ? `?${q}` : ''}`, { jar });
  assert.equal(start.status, 302, `${t}: ${start.status} ${start.body.slice(0, 300)}`);
  const cb = await loginAtOp(start.headers.location, user, password, jar);
  return { jar, start, cb };
}

function deliver(jar, cb, d = daemon) {
  const u = new URL(cb.url);
  const url = `${d.url}${u.pathname}${u.search}`;
  return request(url, { method: cb.method, jar, body: cb.method === 'POST' ? new URLSearchParams(cb.fields) : undefined });
}

async function login(t, query = {}, opts = {}) {
  const { jar, start, cb } = await toCallback(t, query, opts);
  const fin = await deliver(jar, cb, opts.d);
  return {
    jar, start, cb, fin,
  };
}

async function embedClaims(t, jar) {
  const tok = await request(`${daemon.url}/${t}/embed-token`, { jar });
  assert.equal(tok.status, 200, tok.body);
  const jwks = jose.createLocalJWKSet(JSON.parse((await request(`${daemon.url}/.well-known/jwks.json`)).body));
  const { payload } = await jose.jwtVerify(JSON.parse(tok.body).token, jwks, { issuer: 'toucan-sso-test' });
  return payload;
}

async function noSession(t, jar) {
  const r = await request(`${daemon.url}/${t}/embed-token`, { jar });
  assert.equal(r.status, 401, `no session expected for ${t}`);
}

/** The refusal contract: status, reason on the page, a log line with the request id, no reflection. */
async function assertRefused(r, { tenant, reason, status }, d = daemon) {
  if (status) assert.equal(r.status, status, r.body.slice(0, 400));
  else assert.ok(r.status >= 400, `status ${r.status}`);
  assert.ok(r.body.includes(`<code>${reason}</code>`), `page shows ${reason}: ${r.body.slice(0, 500)}`);
  assert.ok(!r.body.includes('<script>alert') && !r.body.includes('<img src=x'), 'nothing reflected unescaped');
  assert.ok(!r.body.includes(SECRET));
  assert.equal(r.headers.location, undefined, 'a refusal redirects nowhere');
  const rid = r.headers['x-request-id'];
  assert.ok(rid, 'x-request-id header');
  const line = await d.waitForLog((l) => typeof l.reason === 'string' && l.request_id === rid, 3000);
  assert.equal(line.reason, reason);
  if (tenant !== undefined && line.tenant !== undefined) assert.equal(line.tenant, tenant);
}

function metricValue(text, tenant, reason) {
  const re = new RegExp(`^tsso_refusals_total\\{tenant="${tenant}",reason="${reason.replace(/\./g, '\\.')}"\\} (\\d+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

// --- 1. client authentication and PKCE at the real OP ------------------------

for (const [t, alg] of [['pkrs', 'RS256'], ['pkes', 'ES256']]) {
  test(`private_key_jwt with an ${alg} key at the real OP`, async () => {
    const { jar, fin } = await login(t, { return_to: '/reports' });
    assert.equal(fin.status, 302, fin.body.slice(0, 400));
    assert.equal(fin.headers.location, `${daemon.url}/reports`);
    const p = await embedClaims(t, jar);
    assert.equal(p.embed_context.username, 'alice@acme.example');
  });
}

test('private_key_jwt signed with a key the OP does not know is refused by the OP', async () => {
  const { jar, fin } = await login('pkstray');
  await assertRefused(fin, { tenant: 'pkstray', reason: 'token.error' });
  assert.match(fin.body, /Sign-in could not be verified/);
  await noSession('pkstray', jar);
});

test('PKCE: our login sends S256 and the real OP refuses the code without the right verifier', async () => {
  const { jar, start, cb } = await toCallback('nopar');
  const authz = new URL(start.headers.location);
  assert.equal(authz.searchParams.get('code_challenge_method'), 'S256');
  assert.match(authz.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(authz.searchParams.get('request_uri'), null, 'par: never sends the request in the URL');
  const disc = JSON.parse((await request(`${op.issuer}/.well-known/openid-configuration`)).body);
  const basic = `Basic ${Buffer.from(`tsso-basic:${SECRET}`).toString('base64')}`;
  const redeem = (verifier) => request(disc.token_endpoint, {
    method: 'POST',
    headers: { authorization: basic },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: cb.fields.code, redirect_uri: cb.url.split('?')[0],
      ...(verifier === undefined ? {} : { code_verifier: verifier }),
    }),
  });
  for (const v of [undefined, 'A'.repeat(43), `${'b'.repeat(42)}c`]) {
    const r = await redeem(v);
    assert.equal(r.status, 400, `verifier ${v}: ${r.body}`);
    assert.equal(JSON.parse(r.body).error, 'invalid_grant');
  }
  // The daemon holds the right verifier: the same code still works for it.
  const fin = await deliver(jar, cb);
  assert.equal(fin.status, 302, fin.body.slice(0, 400));
  assert.equal((await embedClaims('nopar', jar)).embed_context.username, 'alice@acme.example');
});

test('PKCE: the real OP refuses an authorization request without code_challenge', async () => {
  const disc = JSON.parse((await request(`${op.issuer}/.well-known/openid-configuration`)).body);
  const a = new URL(disc.authorization_endpoint);
  for (const [k, v] of Object.entries({
    client_id: 'tsso-basic', response_type: 'code', scope: 'openid', state: 's'.repeat(43),
    redirect_uri: `${daemon.url}/nopar/callback`,
  })) a.searchParams.set(k, v);
  const r = await request(a.href);
  // oidc-provider sends the error back to the (registered) redirect_uri
  assert.ok(r.status === 302 || r.status === 303, `${r.status} ${r.body.slice(0, 200)}`);
  const loc = new URL(r.headers.location);
  assert.equal(loc.searchParams.get('error'), 'invalid_request');
  assert.match(loc.searchParams.get('error_description'), /PKCE/);
});

// --- 2. tenant by email domain, third-party-initiated login -----------------

test('GET /login?email= finds the tenant by domain and passes login_hint', async () => {
  const r = await request(`${daemon.url}/login?email=${encodeURIComponent('Bob@Acme.Example')}&return_to=%2Freports`);
  assert.equal(r.status, 302, r.body);
  const loc = new URL(r.headers.location);
  assert.equal(loc.pathname, '/nopar/login');
  assert.equal(loc.searchParams.get('login_hint'), 'Bob@Acme.Example');
  assert.equal(loc.searchParams.get('return_to'), '/reports');
  // and the hint reaches the IdP (hostile OP records the request)
  const h = await request(`${daemon.url}/login?email=eve%40hostile.example`);
  assert.equal(new URL(h.headers.location).pathname, '/hok/login');
  const jar = new CookieJar();
  const s = await request(h.headers.location, { jar });
  assert.equal(s.status, 302);
  assert.equal(new URL(s.headers.location).searchParams.get('login_hint'), 'eve@hostile.example');
});

test('GET /login?email= with an unknown domain: 404 page reflecting nothing', async () => {
  const email = `x${EVIL}@nowhere-${Date.now()}.example`;
  const r = await request(`${daemon.url}/login?email=${encodeURIComponent(email)}`);
  assert.equal(r.status, 404);
  assert.ok(r.body.includes('<code>login.unknown_domain</code>'));
  assert.ok(!r.body.includes('nowhere-'), 'the address is not echoed');
  assert.ok(!r.body.includes('<script>alert'));
  assert.equal(r.headers.location, undefined);
  const none = await request(`${daemon.url}/login`);
  assert.equal(none.status, 200);
  assert.match(none.body, /<form method="get">/);
});

test('third-party-initiated login (OIDC Core §4): iss + target_link_uri + login_hint', async () => {
  const target = `${daemon.url}/apps/42?tab=1`;
  const { jar, start, fin } = await login('nopar', { iss: op.issuer, target_link_uri: target, login_hint: 'alice' });
  assert.equal(new URL(start.headers.location).searchParams.get('login_hint'), 'alice');
  assert.equal(fin.status, 302, fin.body.slice(0, 300));
  assert.equal(fin.headers.location, target);
  await embedClaims('nopar', jar);
  // an allowed foreign origin is accepted like return_to
  const s2 = await request(`${daemon.url}/nopar/login?iss=${encodeURIComponent(op.issuer)}&target_link_uri=${encodeURIComponent('https://dash.example.com/x')}`);
  assert.equal(s2.status, 302);
  assert.ok(s2.headers.location.startsWith(op.issuer));
});

test('third-party-initiated login: a wrong iss is refused', async () => {
  for (const iss of [`${op.issuer}/`, hop.issuer('ok'), `${op.issuer.toUpperCase()}`, EVIL]) {
    const r = await request(`${daemon.url}/nopar/login?iss=${encodeURIComponent(iss)}&target_link_uri=%2F`);
    await assertRefused(r, { tenant: 'nopar', reason: 'login.iss_mismatch', status: 400 });
  }
});

test('third-party-initiated login: target_link_uri is checked exactly like return_to', async () => {
  for (const bad of ['https://evil.example/', '//evil.example', '/\\evil.example', 'javascript:alert(1)', `https://dash.example.com.evil.example/`]) {
    const r = await request(`${daemon.url}/nopar/login?iss=${encodeURIComponent(op.issuer)}&target_link_uri=${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400, bad);
    assert.match(r.body, /<code>redirect\.[a-z_]+<\/code>/, bad);
    assert.equal(r.headers.location, undefined);
  }
});

// --- 4. per-tenant authorization options and PAR -----------------------------

test('prompt, max_age, acr_values, login_hint, scopes and extra_auth_params reach the authorization endpoint', async () => {
  const { jar, start, cb } = await toCallback('hopts', { login_hint: 'eve@hostile.example' });
  const st = await hop.stats('ok');
  const a = st.last_authorize;
  assert.equal(a.prompt, 'login');
  assert.equal(a.max_age, '600');
  assert.equal(a.acr_values, 'urn:acme:mfa urn:acme:pwd');
  assert.equal(a.login_hint, 'eve@hostile.example');
  assert.deepEqual(a.scope.split(' ').sort(), ['email', 'groups', 'openid', 'profile']);
  assert.equal(a.domain_hint, 'acme.example');
  assert.equal(a.ui_locales, 'fr');
  assert.equal(a.code_challenge_method, 'S256');
  assert.equal(a.response_type, 'code');
  // par: auto and no PAR endpoint at this IdP: a plain front-channel request
  assert.equal(new URL(start.headers.location).searchParams.get('request_uri'), null);
  const fin = await deliver(jar, cb);
  assert.equal(fin.status, 302, fin.body.slice(0, 300)); // auth_time is recent: max_age satisfied
});

test('a tenant without options sends none of them', async () => {
  await toCallback('hok');
  const a = (await hop.stats('ok')).last_authorize;
  for (const k of ['prompt', 'max_age', 'acr_values', 'login_hint', 'domain_hint', 'claims']) assert.equal(a[k], undefined, k);
  assert.deepEqual(a.scope.split(' ').sort(), ['email', 'openid', 'profile']);
});

test('PAR required and the IdP has no PAR endpoint: a clear refusal', async () => {
  const r = await request(`${daemon.url}/hparreq/login`);
  await assertRefused(r, { tenant: 'hparreq', reason: 'par.required', status: 503 });
  assert.match(r.body, /temporarily unavailable/i);
});

test('PAR required at an OP with PAR: only client_id and request_uri in the browser', async () => {
  const { jar, start, cb } = await toCallback('parreq');
  const a = new URL(start.headers.location);
  assert.equal([...a.searchParams.keys()].sort().join(','), 'client_id,request_uri');
  const fin = await deliver(jar, cb);
  assert.equal(fin.status, 302, fin.body.slice(0, 300));
});

test('acr_essential: acr asked as an essential claim, and an ID token without one of the values refused', async () => {
  const h = await toCallback('hacr', {}, { user: 'eve', password: 'x' });
  const a = (await hop.stats('ok')).last_authorize;
  assert.equal(a.acr_values, 'urn:acme:mfa');
  assert.deepEqual(JSON.parse(a.claims), { id_token: { acr: { essential: true, values: ['urn:acme:mfa'] } } });
  const r = await deliver(h.jar, h.cb); // the hostile OP sends no acr
  await assertRefused(r, { tenant: 'hacr', reason: 'id_token.acr_mismatch' });
  mini.setClaims(() => ({ acr: 'urn:acme:pwd' }));
  const weak = await login('acr');
  await assertRefused(weak.fin, { tenant: 'acr', reason: 'id_token.acr_mismatch' });
  await noSession('acr', weak.jar);
  mini.setClaims(() => ({ acr: 'urn:acme:hw' }));
  const ok = await login('acr');
  assert.equal(ok.fin.status, 302, ok.fin.body.slice(0, 300));
});

test('max_age: an ID token whose auth_time is too old is refused; a fresh one passes', async () => {
  mini.setClaims(({ now }) => ({ auth_time: now - 3600, email: 'old@acme.example' }));
  const old = await login('maxage');
  assert.equal(new URL(old.start.headers.location).searchParams.get('max_age'), '60');
  await assertRefused(old.fin, { tenant: 'maxage', reason: 'id_token.auth_time_too_old' });
  await noSession('maxage', old.jar);
  mini.setClaims(({ now }) => ({ auth_time: undefined, email: 'none@acme.example', iat: now }));
  const missing = await login('maxage');
  await assertRefused(missing.fin, { tenant: 'maxage', reason: 'id_token.auth_time_missing' });
  mini.setClaims(({ now }) => ({ auth_time: now - 10, email: 'fresh@acme.example' }));
  const ok = await login('maxage');
  assert.equal(ok.fin.status, 302, ok.fin.body.slice(0, 300));
});

test('more callbacks than outbound slots while the token endpoint is slow: the rest wait their turn, none fails, event threads keep answering', async () => {
  // 11 logins of one tenant up to the callback; its fetcher allows 8 calls
  // at once (max_idp_calls). With the token endpoint 1.5 s slow, 8 token calls run in the
  // event threads' loops; the other 3 find no free slot and wait, queued in
  // their loops, until the first answers free slots.
  mini.setClaims(({ now }) => ({ auth_time: now - 10, email: 'busy@acme.example' }));
  const flows = [];
  for (let i = 0; i < 11; i++) flows.push(await toCallback('maxage'));
  const tokenCalls = mini.stats.token;
  mini.setTokenDelay(1500);
  try {
    const t0 = Date.now();
    const pending = flows.map((f) => deliver(f.jar, f.cb));
    await new Promise((r) => { setTimeout(r, 400); });
    const h0 = Date.now();
    assert.equal((await request(`${daemon.url}/healthz`)).status, 200);
    assert.ok(Date.now() - h0 < 500, `healthz took ${Date.now() - h0} ms while callbacks wait`);
    const done = await Promise.all(pending);
    for (const r of done) assert.equal(r.status, 302, r.body.slice(0, 300));
    assert.equal(mini.stats.token - tokenCalls, 11);
    // The last three could only start when the first slots came free.
    assert.ok(Date.now() - t0 >= 2900, `all done in ${Date.now() - t0} ms`);
  } finally {
    mini.setTokenDelay(0);
  }
});

// --- 6. UserInfo with the real OP ------------------------------------------

test('UserInfo claims from the real OP reach the mapping (and only with userinfo on)', async () => {
  const on = await login('ui');
  assert.equal(on.fin.status, 302, on.fin.body.slice(0, 300));
  assert.equal((await embedClaims('ui', on.jar)).embed_context.attributes.email_ui, 'alice@acme.example');
  const off = await login('uioff');
  await assertRefused(off.fin, { tenant: 'uioff', reason: 'mapping.claim_missing' });
  await noSession('uioff', off.jar);
});

// --- 5. isolation from a hung IdP ---------------------------------------------

test('a hung IdP does not slow another tenant; /readyz names the failing tenant', async () => {
  // A daemon of its own, so the hung IdP is fresh (not yet in its fail-fast window).
  const d = await startDaemon({
    generateKeys: true,
    files: { 'secrets/client.secret': `${SECRET}\n` },
    tenants: {
      hung: {
        issuer: `http://127.0.0.1:${hung.address().port}`, client_id: 'x', client_secret_file: '../secrets/client.secret', embed: EMBED,
      },
      hok: {
        issuer: hop.issuer('ok'), client_id: 'tsso-hostile', client_secret_file: '../secrets/client.secret', embed: EMBED,
      },
    },
  });
  try {
    let settled = 0;
    const t0 = Date.now();
    const hungReqs = [];
    for (let i = 0; i < 6; i += 1) {
      hungReqs.push(request(`${d.url}/hung/login`, { timeoutMs: 30000 })
        .then((r) => { settled += 1; return { ...r, ms: Date.now() - t0 }; }, (e) => { settled += 1; return { error: e }; }));
    }
    await new Promise((r) => { setTimeout(r, 300); });
    assert.ok(hungSockets.size >= 1, 'the daemon is connected to the hung IdP');
    const lat = [];
    for (let i = 0; i < 4; i += 1) {
      const t1 = Date.now();
      const { fin } = await login('hok', {}, { user: 'eve', password: 'x', d });
      lat.push(Date.now() - t1);
      assert.equal(fin.status, 302, fin.body.slice(0, 300));
    }
    const inFlight = 6 - settled;
    const hungDone = await Promise.all(hungReqs);
    assert.equal(inFlight, 6, 'every hung request was still in flight while the other tenant logged in');
    assert.ok(Math.max(...lat) < 2000, `other tenant's login latency stays low: ${lat.join(', ')} ms`);
    for (const r of hungDone) {
      assert.ok(!r.error, `hung login answered (${r.error})`);
      assert.ok(r.ms < 15000, `bounded by the outbound timeout: ${r.ms} ms`);
      await assertRefused(r, { tenant: 'hung', reason: 'discovery.unreachable', status: 503 }, d);
      assert.equal(r.headers['retry-after'], '30');
    }
    const ready = await request(`${d.url}/readyz`);
    const body = JSON.parse(ready.body);
    assert.equal(body.tenants.hung.idp, 'failing', JSON.stringify(body.tenants.hung));
    assert.equal(body.tenants.hung.reason, 'discovery.unreachable');
    assert.equal(body.tenants.hok.idp, 'ok');
    assert.ok(d.logs().some((l) => l.event === 'idp.refresh_failed' && l.tenant === 'hung' && /fetch\.timeout/.test(l.detail)),
      'the log says the IdP timed out');
  } finally {
    await d.stop();
  }
});

test('SIGTERM while requests wait on a hung IdP: the daemon lets them end, then exits 0', async () => {
  // Those requests run on worker threads with their connections suspended;
  // the server must not close under them (libmicrohttpd aborts the process
  // when stopped with a suspended connection).
  const d = await startDaemon({
    generateKeys: true,
    // A grace shorter than the outbound timeout: the drain gives up while
    // the requests still wait, and the stop must wait for them.
    main: { http: { shutdown_grace: 1 } },
    files: { 'secrets/client.secret': `${SECRET}\n` },
    tenants: {
      hung: {
        issuer: `http://127.0.0.1:${hung.address().port}`, client_id: 'x', client_secret_file: '../secrets/client.secret', embed: EMBED,
      },
    },
  });
  const t0 = Date.now();
  const reqs = [0, 1].map(() => request(`${d.url}/hung/login`, { timeoutMs: 30000 })
    .then((r) => r, (e) => ({ error: e })));
  await new Promise((r) => { setTimeout(r, 300); });
  const health = await request(`${d.url}/healthz`);
  assert.equal(health.status, 200, 'event threads answer while workers wait');
  await d.proc.stop(25000);
  assert.equal(d.proc.signal, null, `exited by itself, not killed or aborted (${d.proc.signal})`);
  assert.equal(d.proc.exitCode, 0);
  assert.ok(Date.now() - t0 < 20000, `bounded by the outbound timeout: ${Date.now() - t0} ms`);
  for (const r of await Promise.all(reqs)) {
    assert.ok(!r.error, `answered before the exit, not cut off (${r.error})`);
    assert.equal(r.status, 503, r.body?.slice(0, 200));
  }
  const events = d.logs().map((l) => l.event);
  assert.ok(events.includes('server.drain_timeout'), `the 1 s grace ran out with the requests still waiting: ${events.join(' ')}`);
  assert.ok(events.includes('server.stop_wait'), 'the stop waited for them');
});

// --- 7. browser-side refusals -------------------------------------------------

test('callback without state: state.missing', async () => {
  const r = await request(`${daemon.url}/hok/callback?code=abc&x=${encodeURIComponent(EVIL)}`);
  await assertRefused(r, { tenant: 'hok', reason: 'state.missing', status: 400 });
});

test('callback with an unknown state (no login in this browser): state.unknown', async () => {
  const r = await request(`${daemon.url}/hok/callback?code=abc&state=${encodeURIComponent(EVIL)}`);
  await assertRefused(r, { tenant: 'hok', reason: 'state.unknown', status: 400 });
});

test('callback whose state is not this browser\'s login: state.mismatch', async () => {
  const { jar, cb } = await toCallback('hok', {}, { user: 'eve', password: 'x' });
  const r = await request(`${daemon.url}/hok/callback?code=${cb.fields.code}&state=${'A'.repeat(43)}`, { jar });
  await assertRefused(r, { tenant: 'hok', reason: 'state.mismatch', status: 400 });
  await noSession('hok', jar);
});

test('a replayed callback, with the login-state cookie too: state.replayed', async () => {
  const { jar, cb } = await toCallback('hok', {}, { user: 'eve', password: 'x' });
  const saved = cloneJar(jar);
  const first = await deliver(jar, cb);
  assert.equal(first.status, 302, first.body.slice(0, 300));
  const again = await deliver(saved, cb);
  await assertRefused(again, { tenant: 'hok', reason: 'state.replayed', status: 400 });
  await noSession('hok', saved);
});

test('duplicated parameters in the callback are refused', async () => {
  const a = await toCallback('hok', {}, { user: 'eve', password: 'x' });
  const st = a.cb.fields.state;
  const r1 = await request(`${daemon.url}/hok/callback?code=${a.cb.fields.code}&state=${st}&state=${st}`, { jar: a.jar });
  await assertRefused(r1, { tenant: 'hok', reason: 'state.mismatch', status: 400 });
  const b = await toCallback('hok', {}, { user: 'eve', password: 'x' });
  const r2 = await request(`${daemon.url}/hok/callback?code=${b.cb.fields.code}&code=other&state=${b.cb.fields.state}&iss=${encodeURIComponent(b.cb.fields.iss)}`, { jar: b.jar });
  await assertRefused(r2, { tenant: 'hok', reason: 'authz.duplicate_param', status: 400 });
  await noSession('hok', b.jar);
  const r3 = await request(`${daemon.url}/hok/login?return_to=%2Fa&return_to=%2Fb`);
  await assertRefused(r3, { tenant: 'hok', reason: 'login.duplicate_param', status: 400 });
});

test('a callback with both error and code is refused', async () => {
  const { jar, cb } = await toCallback('hok', {}, { user: 'eve', password: 'x' });
  const q = new URLSearchParams({ ...cb.fields, error: 'access_denied', error_description: EVIL });
  const r = await request(`${daemon.url}/hok/callback?${q}`, { jar });
  await assertRefused(r, { tenant: 'hok', reason: 'authz.error', status: 403 });
  assert.ok(!r.body.includes('onerror'), 'error_description is never shown');
  await noSession('hok', jar);
});

test('form_post callbacks with junk are refused', async () => {
  const { jar, cb } = await toCallback('hok', {}, { user: 'eve', password: 'x' });
  const url = `${daemon.url}/hok/callback`;
  // malformed urlencoding
  const r1 = await request(url, { method: 'POST', jar, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `state=%zz&code=${EVIL}` });
  const why = /<code>([a-z_]+\.[a-z_]+)<\/code>/.exec(r1.body);
  assert.ok(why, r1.body.slice(0, 300));
  await assertRefused(r1, { reason: why[1], status: 400 });
  // not a form at all
  const r2 = await request(url, { method: 'POST', jar, headers: { 'content-type': 'text/plain' }, body: `state=${cb.fields.state}&code=${cb.fields.code}` });
  await assertRefused(r2, { tenant: 'hok', reason: 'state.missing', status: 400 });
  // binary junk, NUL bytes
  const r3 = await request(url, { method: 'POST', jar, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from([0x73, 0x74, 0x61, 0x74, 0x65, 0x3d, 0x00, 0xff, 0xfe, 0x26]) });
  assert.equal(r3.status, 400);
  // the right state in a form, code missing: refused, and the login state is spent
  const r4 = await request(url, { method: 'POST', jar, body: new URLSearchParams({ state: cb.fields.state, iss: cb.fields.iss, junk: EVIL }) });
  await assertRefused(r4, { tenant: 'hok', reason: 'authz.malformed', status: 400 });
  await noSession('hok', jar);
});

test('an expired login state (started 11 minutes ago, by another instance) is refused', { skip: !fs.existsSync(FAKETIME) && 'libfaketime not installed' }, async () => {
  // A second instance with the same configuration and keys whose clock is
  // 700 s behind starts the login; this instance finishes it.
  const past = await startDaemon({
    files: { 'secrets/session.key': sessionKey(), 'secrets/client.secret': `${SECRET}\n` },
    tenants: { hok: { issuer: hop.issuer('ok'), client_id: 'tsso-hostile', client_secret_file: '../secrets/client.secret', embed: EMBED } },
    generateKeys: true,
    env: { LD_PRELOAD: FAKETIME, FAKETIME: '-700', ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ?? ''}:verify_asan_link_order=0`.replace(/^:/, '') },
  });
  try {
    const { jar, cb } = await toCallback('hok', {}, { user: 'eve', password: 'x', d: past });
    const r = await deliver(jar, cb, daemon);
    await assertRefused(r, { tenant: 'hok', reason: 'state.expired', status: 400 });
    await noSession('hok', jar);
  } finally {
    await past.stop();
  }
});

/** The running daemon's session key file, so another instance seals the same way. */
function sessionKey() {
  return { content: fs.readFileSync(path.join(daemon.dir, 'secrets', 'session.key'), 'utf8'), mode: 0o600 };
}

test('every refusal above is counted in /metrics by tenant and reason', async () => {
  const m = await daemon.metrics();
  for (const [t, r] of [['hok', 'state.missing'], ['hok', 'state.unknown'], ['hok', 'state.mismatch'], ['hok', 'state.replayed'],
    ['hok', 'authz.duplicate_param'], ['hok', 'authz.error'], ['hok', 'authz.malformed'], ['hok', 'login.duplicate_param'],
    ['nopar', 'login.iss_mismatch'], ['hparreq', 'par.required'], ['maxage', 'id_token.auth_time_too_old'], ['acr', 'id_token.acr_mismatch'],
    ['pkstray', 'token.error'], ['uioff', 'mapping.claim_missing']]) {
    assert.ok(metricValue(m, t, r) >= 1, `tsso_refusals_total{tenant="${t}",reason="${r}"} counted`);
  }
});
