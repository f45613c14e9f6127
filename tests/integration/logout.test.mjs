// Logout through the real daemon (issue 6 §4, §6): RP-initiated logout at the
// real oidc-provider (id_token_hint, state, allow-listed
// post_logout_redirect_uri), local-only logout when the IdP has no
// end_session_endpoint, a real back-channel logout sent by the OP when the
// user signs out there, forged and replayed logout tokens (400, nothing
// ends), and front-channel logout (iss + sid).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import * as jose from 'jose';
import { startOp, logoutAtOp } from './lib/op.mjs';
import { startHostileOp } from './lib/hostile.mjs';
import { startDaemon } from './lib/daemon.mjs';
import { CookieJar, jarFetch } from './lib/jar.mjs';
import { daemonLogin, embedToken } from './lib/flow.mjs';
import { request } from './lib/http.mjs';
import { stopAll } from './lib/proc.mjs';
import { freePort } from './lib/ports.mjs';
import { makeJwks, makeJwk, writeJwks, publicJwks, signJwt } from './lib/keys.mjs';
import { tempDir } from './lib/tmp.mjs';
import { until } from './lib/testkit.mjs';

const SECRET = 'logout-client-secret-0123456789abcdefgh';
const BCL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
let op; let opJwks; let hostile; let dl; let dm;
let plr; // allow-listed post-logout redirect URIs of L/acme

function embedCfg() {
  return {
    scheme: 'signed_jwt', issuer: 'toucan-sso-test', workspace_id: 'acme',
    audience: 'https://oauth.toucan.example/acme/oauth/oauth-token',
  };
}
function tenantCfg(issuer, clientId, extra = {}) {
  return {
    issuer, client_id: clientId, client_secret_file: '../secrets/client.secret', embed: embedCfg(), ...extra,
  };
}

before(async () => {
  const [pl, pm] = [await freePort(), await freePort()];
  const url = (p, rest) => `http://127.0.0.1:${p}${rest}`;
  plr = [url(pl, '/signed-out'), url(pl, '/bye?from=sso')];
  opJwks = await makeJwks(['RS256']);
  const jwksFile = writeJwks(path.join(tempDir('tsso-opkeys-'), 'jwks.json'), opJwks);
  const client = (id, p, t, extra = {}) => ({
    client_id: id,
    client_secret: SECRET,
    redirect_uris: [url(p, `/${t}/callback`)],
    backchannel_logout_uri: url(p, `/${t}/backchannel-logout`),
    backchannel_logout_session_required: true,
    ...extra,
  });
  op = await startOp({
    jwks_file: jwksFile,
    clients: [
      client('lo-acme', pl, 'acme', { post_logout_redirect_uris: plr }),
      client('lo-beta', pl, 'beta'),
      client('lo-mem', pm, 'acme'),
    ],
  });
  hostile = await startHostileOp();
  const common = { generateKeys: true, files: { 'secrets/client.secret': `${SECRET}\n` } };
  dl = await startDaemon({
    ...common,
    port: pl,
    main: { session: { store: 'cookie' } },
    tenants: {
      acme: tenantCfg(op.issuer, 'lo-acme', { post_logout_redirect_uris: plr }),
      beta: tenantCfg(op.issuer, 'lo-beta'),
      local: tenantCfg(hostile.issuer('no_end_session'), 'lo-local', { post_logout_redirect_uris: ['https://app.example/bye'] }),
      localnp: tenantCfg(hostile.issuer('no_end_session'), 'lo-local'),
    },
  });
  dm = await startDaemon({
    ...common, port: pm, main: { session: { store: 'memory' } }, tenants: { acme: tenantCfg(op.issuer, 'lo-mem') },
  });
});

after(async () => { await stopAll(dl, dm, op, hostile); });

async function login(d, tenant, jar) {
  const r = await daemonLogin(d, tenant, { jar });
  assert.equal(r.response?.status, 302, `login failed: ${r.response?.status} ${r.body}`);
  return r.jar;
}

async function alive(d, tenant, jar) { return (await embedToken(d, tenant, jar)).status; }

/** Open a cookie-store session cookie with the daemon's keyring (the record's sid, sub...). */
function openCookie(d, tenant, value) {
  const key = Buffer.from(fs.readFileSync(path.join(d.dir, 'secrets', 'session.key'), 'utf8').trim(), 'hex');
  const raw = Buffer.from(value, 'base64url');
  const hdr = raw.subarray(0, 5);
  const iv = raw.subarray(5, 17);
  const tag = raw.subarray(raw.length - 16);
  const dec = crypto.createDecipheriv('aes-256-gcm', key, iv);
  dec.setAAD(Buffer.concat([hdr, Buffer.from(`session:${tenant}`)]));
  dec.setAuthTag(tag);
  return JSON.parse(Buffer.concat([dec.update(raw.subarray(17, raw.length - 16)), dec.final()]).toString('utf8'));
}

function bclClaims(extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: op.issuer, aud: 'lo-acme', iat: now, exp: now + 120, jti: crypto.randomBytes(16).toString('hex'),
    events: { [BCL_EVENT]: {} }, ...extra,
  };
}
const opKey = () => opJwks.keys[0];

async function postLogoutToken(d, tenant, body) {
  const r = await request(d.tenantUrl(tenant, '/backchannel-logout'), {
    method: 'POST', body: typeof body === 'string' ? body : new URLSearchParams(body),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  let json = null;
  try { json = JSON.parse(r.body); } catch { /* not JSON */ }
  return { status: r.status, json, headers: r.headers };
}

function unsigned(claims, header) {
  const e = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${e(header)}.${e(claims)}.`;
}

test('RP-initiated logout: end_session_endpoint with id_token_hint, state, an allow-listed post_logout_redirect_uri', async () => {
  const jar = await login(dl, 'acme');
  const copy = jar.get('tsso').value;
  const wanted = plr[1];
  const r = await jarFetch(jar, dl.tenantUrl('acme', `/logout?post_logout_redirect_uri=${encodeURIComponent(wanted)}`));
  assert.equal(r.status, 302);
  const meta = JSON.parse((await request(`${op.issuer}/.well-known/openid-configuration`)).body);
  const loc = new URL(r.headers.get('location'));
  assert.equal(`${loc.origin}${loc.pathname}`, meta.end_session_endpoint);
  assert.equal(loc.searchParams.get('post_logout_redirect_uri'), wanted);
  const state = loc.searchParams.get('state');
  assert.match(state, /^[A-Za-z0-9_-]{16,}$/);
  const { payload } = await jose.jwtVerify(loc.searchParams.get('id_token_hint'),
    jose.createLocalJWKSet(publicJwks(opJwks)), { issuer: op.issuer, audience: 'lo-acme', clockTolerance: 600 });
  assert.equal(payload.sub, 'alice');
  // The browser's cookie is cleared, and a copy of it is dead.
  assert.ok(r.headers.getSetCookie().some((l) => /^tsso=;/.test(l) && /Max-Age=0/i.test(l)), r.headers.getSetCookie().join(' | '));
  const dead = await embedToken(dl, 'acme', new CookieJar());
  assert.equal(dead.status, 401);
  const copied = await fetch(dl.tenantUrl('acme', '/embed-token'), { headers: { cookie: `tsso=${copy}` } });
  assert.equal(copied.status, 401);
  assert.equal((await copied.json()).reason, 'session.revoked');
  // The OP accepts the request (hint and URI) and sends the browser back with the state.
  const back = await logoutAtOp(loc.href, jar);
  assert.ok(back.url, 'the OP redirects to the post_logout_redirect_uri');
  const b = new URL(back.url);
  assert.equal(`${b.origin}${b.pathname}`, `${new URL(wanted).origin}${new URL(wanted).pathname}`);
  assert.equal(b.searchParams.get('from'), 'sso');
  assert.equal(b.searchParams.get('state'), state);
  await dl.waitForLog((l) => l.event === 'logout.rp_initiated' && l.tenant === 'acme');
});

test('RP-initiated logout: a post_logout_redirect_uri not on the list gets 400 and ends nothing', async () => {
  const jar = await login(dl, 'acme');
  for (const [q, reason] of [
    [`post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`, 'logout.redirect_not_allowed'],
    [`post_logout_redirect_uri=${encodeURIComponent(`${plr[0]}/`)}`, 'logout.redirect_not_allowed'],
    [`post_logout_redirect_uri=${encodeURIComponent(plr[0].toUpperCase())}`, 'logout.redirect_not_allowed'],
    [`post_logout_redirect_uri=${encodeURIComponent(plr[0])}&post_logout_redirect_uri=${encodeURIComponent(plr[1])}`, 'logout.duplicate_param'],
  ]) {
    const r = await jarFetch(jar, dl.tenantUrl('acme', `/logout?${q}`));
    const body = await r.text();
    assert.equal(r.status, 400, q);
    assert.ok(body.includes(reason), `${q}: ${reason} not in ${body.slice(0, 300)}`);
    assert.equal(r.headers.get('location'), null);
    assert.deepEqual(r.headers.getSetCookie().filter((l) => l.startsWith('tsso=')), []);
  }
  assert.equal(await alive(dl, 'acme', jar), 200);
  // Without a parameter, the first listed URI is used.
  const r = await jarFetch(jar, dl.tenantUrl('acme', '/logout'));
  assert.equal(r.status, 302);
  assert.equal(new URL(r.headers.get('location')).searchParams.get('post_logout_redirect_uri'), plr[0]);
  assert.equal(await alive(dl, 'acme', jar), 401);
});

test('local-only logout when the IdP has no end_session_endpoint', async () => {
  const jar = await login(dl, 'local');
  assert.equal(await alive(dl, 'local', jar), 200);
  const r = await jarFetch(jar, dl.tenantUrl('local', '/logout'));
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), 'https://app.example/bye', 'straight to the app, not to the IdP');
  assert.equal(await alive(dl, 'local', jar), 401);
  // POST answers 303; no allow-listed URI: a signed-out page.
  const jar2 = await login(dl, 'localnp');
  const p = await jarFetch(jar2, dl.tenantUrl('localnp', '/logout'), { method: 'POST' });
  assert.equal(p.status, 200);
  assert.match(await p.text(), /signed out/i);
  assert.equal(await alive(dl, 'localnp', jar2), 401);
  // The hostile OP's own issuer does have one; a refused URI is still refused here.
  const jar3 = await login(dl, 'local');
  const bad = await jarFetch(jar3, dl.tenantUrl('local', `/logout?post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`));
  assert.equal(bad.status, 400);
  assert.equal(await alive(dl, 'local', jar3), 200);
});

async function aliveRaw(d, tenant, value) {
  const r = await fetch(d.tenantUrl(tenant, '/embed-token'), { headers: { cookie: `tsso=${value}` }, signal: AbortSignal.timeout(10000) });
  const j = await r.json();
  return { status: r.status, reason: j.reason };
}

test('back-channel logout sent by the OP when the user signs out there ends the sessions of every client', async () => {
  // Cookies are per host, not per port: keep each daemon's value apart.
  const jar = new CookieJar();
  await login(dl, 'acme', jar);
  const cA = jar.get('tsso').value;
  await login(dl, 'beta', jar); // single sign-on at the OP: same OP session
  const cB = jar.matching(dl.tenantUrl('beta', '/'))[0].value;
  await login(dm, 'acme', jar);
  const cM = jar.matching(dm.tenantUrl('acme', '/'))[0].value;
  assert.notEqual(cM, cA);
  const other = await login(dl, 'acme'); // another OP session of the same user
  const sid = openCookie(dl, 'acme', cA).sid;
  assert.ok(sid);
  assert.ok(openCookie(dl, 'beta', cB).sid); // oidc-provider issues a sid per client
  assert.notEqual(openCookie(dl, 'acme', other.get('tsso').value).sid, sid);
  const sessions = [[dl, 'acme', cA], [dl, 'beta', cB], [dm, 'acme', cM]];
  for (const [d, t, c] of sessions) assert.equal((await aliveRaw(d, t, c)).status, 200);
  const meta = JSON.parse((await request(`${op.issuer}/.well-known/openid-configuration`)).body);
  const out = await logoutAtOp(meta.end_session_endpoint, jar);
  assert.equal(out.url, null, 'the OP shows its own signed-out page');
  await dl.waitForLog((l) => l.event === 'logout.backchannel' && l.tenant === 'acme', 8000);
  await dl.waitForLog((l) => l.event === 'logout.backchannel' && l.tenant === 'beta', 8000);
  await dm.waitForLog((l) => l.event === 'logout.backchannel' && l.tenant === 'acme', 8000);
  assert.ok(op.proc.lines().filter((l) => l.startsWith('backchannel.success')).length >= 3);
  // The browser still carries its cookies: the sessions are ended server-side.
  for (const [d, t, c] of sessions) {
    const r = await aliveRaw(d, t, c);
    assert.equal(r.status, 401, t);
    assert.equal(r.reason, d === dm ? 'session.not_found' : 'session.revoked', t);
  }
  // The token names the OP session (sid): the user's other OP session lives on.
  assert.equal(await alive(dl, 'acme', other), 200);
});

test('forged, malformed and replayed logout tokens get 400 and end nothing', async () => {
  const jar = await login(dl, 'acme');
  const rec = openCookie(dl, 'acme', jar.get('tsso').value);
  const who = { sub: rec.sub, sid: rec.sid };
  const now = Math.floor(Date.now() / 1000);
  const own = await makeJwk('RS256', opKey().kid); // same kid, a key the OP never published
  const other = await makeJwk('RS256');
  const hs = { kty: 'oct', k: Buffer.from(SECRET).toString('base64url'), alg: 'HS256', kid: opKey().kid };
  const good = await signJwt(opKey(), bclClaims(who), { typ: 'logout+jwt' });
  const parts = good.split('.');
  const sig = Buffer.from(parts[2], 'base64url'); sig[5] ^= 1;
  const { events: _e, ...noEvents } = bclClaims(who);
  const { jti: _j, ...noJti } = bclClaims(who);
  const cases = [
    ['expired', await signJwt(opKey(), bclClaims({ ...who, iat: now - 600, exp: now - 300 })), 'logout_token.expired'],
    ['too old (iat 1 h ago, no exp)', await signJwt(opKey(), (({ exp, ...c }) => c)(bclClaims({ ...who, iat: now - 3600 }))), 'logout_token.too_old'],
    ['bad signature', `${parts[0]}.${parts[1]}.${sig.toString('base64url')}`, 'logout_token.bad_signature'],
    ['signed by a key the OP never published (same kid)', await signJwt(own, bclClaims(who)), 'logout_token.bad_signature'],
    ['unknown kid', await signJwt(other, bclClaims(who)), 'logout_token.kid_unknown'],
    ['alg none', unsigned(bclClaims(who), { alg: 'none', typ: 'logout+jwt' }), 'logout_token.alg_not_allowed'],
    ['HS256 with the client secret', await signJwt(hs, bclClaims(who)), 'logout_token.alg_not_allowed'],
    ['wrong aud', await signJwt(opKey(), bclClaims({ ...who, aud: 'lo-beta' })), 'logout_token.aud_mismatch'],
    ['wrong iss', await signJwt(opKey(), bclClaims({ ...who, iss: `${op.issuer}/evil` })), 'logout_token.iss_mismatch'],
    ['nonce present', await signJwt(opKey(), bclClaims({ ...who, nonce: 'n-0S6_WzA2Mj' })), 'logout_token.nonce_present'],
    ['no events', await signJwt(opKey(), noEvents), 'logout_token.events_missing'],
    ['wrong events member', await signJwt(opKey(), bclClaims({ ...who, events: { 'http://schemas.openid.net/event/other': {} } })), 'logout_token.events_missing'],
    ['events member not an object', await signJwt(opKey(), bclClaims({ ...who, events: { [BCL_EVENT]: 'yes' } })), 'logout_token.events_missing'],
    ['missing jti', await signJwt(opKey(), noJti), 'logout_token.jti_missing'],
    ['neither sub nor sid', await signJwt(opKey(), bclClaims({})), 'logout_token.sub_sid_missing'],
    ['typed as an access token', await signJwt(opKey(), bclClaims(who), { typ: 'at+jwt' }), 'logout_token.malformed'],
    ['not a JWT', 'not-a-jwt', 'logout_token.malformed'],
  ];
  const mark = dl.logs().length;
  for (const [name, token, reason] of cases) {
    const r = await postLogoutToken(dl, 'acme', { logout_token: token });
    assert.equal(r.status, 400, `${name}: ${r.status}`);
    assert.equal(r.json?.error, 'invalid_request', name);
    assert.equal(r.json?.error_description, reason, `${name}: ${r.json?.error_description}`);
    assert.equal(await alive(dl, 'acme', jar), 200, `${name} ended the session`);
  }
  for (const [name, body] of [['no logout_token', 'x=1'], ['two logout_token', `logout_token=${good}&logout_token=${good}`]]) {
    const r = await postLogoutToken(dl, 'acme', body);
    assert.equal(r.status, 400, name);
    assert.equal(r.json?.error_description, 'logout_token.missing', name);
  }
  assert.equal(dl.logs().slice(mark).filter((l) => l.event === 'logout.backchannel').length, 0);
  // Log lines arrive through a pipe: wait (bounded) until all are in.
  await until(() => dl.logs().slice(mark).filter((l) => l.event === 'logout.refused').length >= cases.length + 2, 5000);
  const refused = dl.logs().slice(mark).filter((l) => l.event === 'logout.refused').map((l) => l.reason);
  assert.deepEqual(refused, [...cases.map((c) => c[2]), 'logout_token.missing', 'logout_token.missing']);
  assert.equal(await alive(dl, 'acme', jar), 200);
  // The genuine token works once...
  const ok = await postLogoutToken(dl, 'acme', { logout_token: good });
  assert.equal(ok.status, 200);
  assert.equal(await alive(dl, 'acme', jar), 401);
  // ...and its replay, after the user signed in again in the same OP session, ends nothing.
  const again = await login(dl, 'acme');
  const replay = await postLogoutToken(dl, 'acme', { logout_token: good });
  assert.equal(replay.status, 400);
  assert.equal(replay.json.error_description, 'logout_token.replayed');
  assert.equal(await alive(dl, 'acme', again), 200);
});

test('front-channel logout: iss + sid end that OP session only; anything else 400', async () => {
  const a = await login(dl, 'acme');
  const b = await login(dl, 'acme');
  const sidA = openCookie(dl, 'acme', a.get('tsso').value).sid;
  const sidB = openCookie(dl, 'acme', b.get('tsso').value).sid;
  assert.ok(sidA && sidB && sidA !== sidB);
  const fcl = (q) => request(dl.tenantUrl('acme', `/frontchannel-logout?${new URLSearchParams(q)}`));
  for (const q of [
    { iss: `${op.issuer}/evil`, sid: sidA },
    { iss: hostile.issuer('ok'), sid: sidA },
    { sid: sidA },
    { iss: op.issuer },
    [['iss', op.issuer], ['sid', sidA], ['sid', sidB]],
  ]) {
    const r = await fcl(q);
    assert.equal(r.status, 400, JSON.stringify(q));
    assert.ok(r.body.includes('logout.frontchannel_invalid'));
  }
  assert.equal(await alive(dl, 'acme', a), 200);
  assert.equal(await alive(dl, 'acme', b), 200);
  const r = await fcl({ iss: op.issuer, sid: sidA });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-security-policy'], /frame-ancestors/);
  assert.equal(await alive(dl, 'acme', a), 401);
  assert.equal(await alive(dl, 'acme', b), 200);
});

test('back-channel logout token with sub only ends every session of that user in the tenant, and only there', async () => {
  const a = await login(dl, 'acme');
  const b = await login(dl, 'acme');
  const beta = await login(dl, 'beta');
  const tok = await signJwt(opKey(), bclClaims({ sub: 'alice' }), { typ: 'logout+jwt' });
  const r = await postLogoutToken(dl, 'acme', { logout_token: tok });
  assert.equal(r.status, 200);
  assert.equal(await alive(dl, 'acme', a), 401);
  assert.equal(await alive(dl, 'acme', b), 401);
  assert.equal(await alive(dl, 'beta', beta), 200, 'another tenant (another client) is not concerned');
  // The same token addressed to beta's endpoint: aud is lo-acme, refused.
  const wrong = await postLogoutToken(dl, 'beta', { logout_token: await signJwt(opKey(), bclClaims({ sub: 'alice' })) });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.json.error_description, 'logout_token.aud_mismatch');
  assert.equal(await alive(dl, 'beta', beta), 200);
});
