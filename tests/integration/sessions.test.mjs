// Session rules through the real daemon (issue 6 §2, §6): cookie attributes
// in development and production mode, a fresh session id at every login
// (fixation), inactivity timeout and maximum duration (the daemon's clock is
// moved with libfaketime, so nothing waits a minute), every bad cookie read
// as "no session" without error-level logs, the session key rotation of the
// cookie store, and the memory store surviving SIGHUP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { startOp, loginAtOp } from './lib/op.mjs';
import { startDaemon } from './lib/daemon.mjs';
import { CookieJar, jarFetch } from './lib/jar.mjs';
import { daemonLogin, embedToken } from './lib/flow.mjs';
import { stopAll } from './lib/proc.mjs';
import { freePort } from './lib/ports.mjs';
import { tempDir } from './lib/tmp.mjs';
import { until } from './lib/testkit.mjs';

const SECRET = 'sessions-client-secret-0123456789abcdef';
// libfaketime (Debian package libfaketime): the daemon reads its clock offset
// from a file we rewrite, so a minute of inactivity takes no time.
const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';
const haveFaketime = fs.existsSync(FAKETIME);
const ACCOUNTS = [
  { sub: 'alice', password: 'alice-password', email: 'alice@acme.example', email_verified: true },
  { sub: 'mallory', password: 'mallory-password', email: 'mallory@acme.example', email_verified: true },
];

let op; let ops; let dc; let dm; let dp;
const clock = {}; // daemon name -> faketime file

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

function faketimeEnv(name) {
  if (!haveFaketime) return {};
  const f = path.join(tempDir('tsso-clock-'), `${name}.faketime`);
  fs.writeFileSync(f, '+0\n');
  clock[name] = f;
  const asan = process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : '';
  return {
    LD_PRELOAD: FAKETIME,
    FAKETIME_TIMESTAMP_FILE: f,
    FAKETIME_NO_CACHE: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
    // The sanitizer runtime must otherwise come first in the library list.
    ASAN_OPTIONS: `${asan}verify_asan_link_order=0`,
  };
}

/** Move daemon `name`'s wall clock `s` seconds ahead of real time. */
function setClock(name, s) {
  fs.writeFileSync(clock[name], `+${s}\n`);
}

before(async () => {
  const [pc, pm, pp] = [await freePort(), await freePort(), await freePort()];
  const cb = (p, t, scheme = 'http', base = '') => `${scheme}://127.0.0.1:${p}${base}/${t}/callback`;
  op = await startOp({
    accounts: ACCOUNTS,
    clients: [
      { client_id: 'sess-cookie', client_secret: SECRET, redirect_uris: [cb(pc, 'acme'), cb(pc, 'other')] },
      { client_id: 'sess-memory', client_secret: SECRET, redirect_uris: [cb(pm, 'acme')] },
    ],
  });
  // Production mode wants an https issuer: a second OP with a test CA.
  ops = await startOp({
    https: true,
    accounts: ACCOUNTS,
    clients: [{ client_id: 'sess-prod', client_secret: SECRET, redirect_uris: [cb(pp, 'acme', 'https', '/sso')] }],
  });
  const common = { generateKeys: true, files: { 'secrets/client.secret': `${SECRET}\n` } };
  const short = { inactivity_timeout: 60, max_duration: 120 };
  dc = await startDaemon({
    ...common,
    port: pc,
    env: faketimeEnv('cookie'),
    main: { session: { store: 'cookie', ...short } },
    tenants: { acme: tenantCfg(op.issuer, 'sess-cookie'), other: tenantCfg(op.issuer, 'sess-cookie') },
  });
  dm = await startDaemon({
    ...common,
    port: pm,
    env: faketimeEnv('memory'),
    main: { session: { store: 'memory', ...short } },
    tenants: { acme: tenantCfg(op.issuer, 'sess-memory') },
  });
  const caFile = path.join(tempDir('tsso-ca-'), 'op-ca.pem');
  fs.copyFileSync(ops.ca, caFile);
  dp = await startDaemon({
    ...common,
    port: pp,
    publicUrl: `https://127.0.0.1:${pp}/sso`,
    main: { mode: 'production', session: { store: 'cookie' } },
    files: { ...common.files, 'certs/op-ca.pem': { content: fs.readFileSync(caFile, 'utf8'), mode: 0o644 } },
    tenants: { acme: tenantCfg(ops.issuer, 'sess-prod', { ca_file: '../certs/op-ca.pem' }) },
  });
});

after(async () => { await stopAll(dc, dm, dp, op, ops); });

function setCookieLines(res) { return res.headers.getSetCookie(); }

function sessionSetCookie(res, name) {
  const all = setCookieLines(res).filter((l) => l.startsWith(`${name}=`) && !/^[^=]+=;/.test(l));
  assert.equal(all.length, 1, `one ${name} Set-Cookie expected: ${JSON.stringify(setCookieLines(res))}`);
  return all[0];
}

function attrs(line) {
  const parts = line.split(';').map((s) => s.trim());
  const out = { value: parts[0].slice(parts[0].indexOf('=') + 1) };
  for (const p of parts.slice(1)) {
    const i = p.indexOf('=');
    out[(i < 0 ? p : p.slice(0, i)).toLowerCase()] = i < 0 ? true : p.slice(i + 1);
  }
  return out;
}

async function login(d, tenant = 'acme', { user = 'alice', jar } = {}) {
  const r = await daemonLogin(d, tenant, { user, password: `${user}-password`, jar });
  assert.equal(r.response?.status, 302, `login failed: ${r.response?.status} ${r.body}`);
  return r;
}

function embedUser(tok) {
  const p = JSON.parse(Buffer.from(tok.json.token.split('.')[1], 'base64url'));
  return p.embed_context.username;
}

/** GET embed-token with a raw Cookie header (no jar): {status, reason}. */
async function embedRaw(d, cookieHeader, tenant = 'acme') {
  const r = await fetch(d.tenantUrl(tenant, '/embed-token'), {
    headers: cookieHeader === null ? {} : { cookie: cookieHeader }, signal: AbortSignal.timeout(10000),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, reason: json?.reason, json, setCookies: r.headers.getSetCookie() };
}

function loudLines(d, since = 0) {
  return d.logs().slice(since).filter((l) => ['error', 'warn', 'warning', 'fatal', 'crit'].includes(String(l.level).toLowerCase()));
}

async function reloadAndWait(d) {
  const n = d.logs().filter((l) => l.event === 'config.reloaded' || l.msg === 'config.reloaded').length;
  d.reload();
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = d.logs();
    if (lines.filter((l) => l.event === 'config.reloaded' || l.msg === 'config.reloaded').length > n) return;
    const failed = lines.find((l) => l.event === 'config.reload_failed' || l.msg === 'config.reload_failed');
    if (failed) throw new Error(`reload failed: ${JSON.stringify(failed)}`);
    if (Date.now() > deadline) throw new Error('no config.reloaded within 5 s');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('development mode: the session cookie is HttpOnly, SameSite=Lax, not Secure, Path=/{tenant}', async () => {
  const { response } = await login(dc);
  const a = attrs(sessionSetCookie(response, 'tsso'));
  assert.equal(a.httponly, true);
  assert.equal(String(a.samesite).toLowerCase(), 'lax');
  assert.equal(a.secure, undefined, 'no Secure on a plain-http development deployment');
  assert.equal(a.path, '/acme');
  assert.equal(a.domain, undefined, 'host-only cookie');
  assert.equal(a['max-age'], undefined, 'a browser-session cookie');
});

test('production mode (https public_url): Secure, HttpOnly, SameSite=Lax, Path={base}/{tenant}, __Secure- name', async () => {
  const jar = new CookieJar();
  const start = await jarFetch(jar, dp.tenantUrl('acme', '/login?return_to=/'));
  assert.equal(start.status, 302);
  const cb = await loginAtOp(start.headers.get('location'), 'alice', 'alice-password', jar, { ca: ops.ca });
  // TLS ends at a proxy in front of the daemon: deliver the callback over loopback http.
  const url = new URL(cb.url);
  assert.equal(url.protocol, 'https:');
  url.protocol = 'http:';
  const fin = await jarFetch(jar, url.href, cb.method === 'POST'
    ? { method: 'POST', body: new URLSearchParams(cb.fields) } : {});
  assert.equal(fin.status, cb.method === 'POST' ? 303 : 302, await fin.text());
  const a = attrs(sessionSetCookie(fin, '__Secure-tsso'));
  assert.equal(a.secure, true);
  assert.equal(a.httponly, true);
  assert.equal(String(a.samesite).toLowerCase(), 'lax');
  assert.equal(a.path, '/sso/acme');
  assert.equal(a.domain, undefined);
  const tok = await embedToken(dp, 'acme', jar);
  assert.equal(tok.status, 200, tok.text);
  assert.equal(embedUser(tok), 'alice@acme.example');
});

for (const which of ['cookie', 'memory']) {
  test(`fixation (${which} store): a session cookie planted before login is replaced and never becomes the victim's`, async () => {
    const d = which === 'cookie' ? dc : dm;
    // The attacker's own valid session, planted in the victim's browser.
    const attacker = await login(d, 'acme', { user: 'mallory' });
    const planted = attacker.jar.get('tsso').value;
    const victimJar = new CookieJar();
    victimJar.store(d.tenantUrl('acme', '/'), [`tsso=${planted}; Path=/acme; HttpOnly`]);
    const victim = await login(d, 'acme', { jar: victimJar });
    const fresh = victim.jar.get('tsso').value;
    assert.notEqual(fresh, planted);
    const mine = await embedToken(d, 'acme', victim.jar);
    assert.equal(mine.status, 200);
    assert.equal(embedUser(mine), 'alice@acme.example');
    // The planted value is still the attacker's at most, never alice's.
    const theirs = await embedRaw(d, `tsso=${planted}`);
    if (theirs.status === 200) assert.equal(embedUser(theirs), 'mallory@acme.example');
    else assert.equal(theirs.status, 401);
    if (which === 'memory') {
      // Server-side store: the id is not reused, and the login ended the old session.
      assert.equal(theirs.status, 401);
      assert.equal(theirs.reason, 'session.not_found');
      assert.equal(fresh.split('.')[0].length, 43);
      assert.notEqual(fresh.split('.')[0], planted.split('.')[0]);
    }
  });
}

test('bad cookies read as "no session" (401 + reason), no error-level log, the real session unharmed', async () => {
  const { jar } = await login(dc);
  const good = jar.get('tsso').value;
  const mark = dc.logs().length;
  const raw = Buffer.from(good, 'base64url');
  const flip = (i) => { const b = Buffer.from(raw); b[i] ^= 0x01; return b.toString('base64url'); };
  const cases = [
    ['empty', 'tsso=', 'session.none'],
    ['not base64url', 'tsso=!!!not-a-cookie!!!', 'session.none'],
    ['truncated', `tsso=${good.slice(0, 20)}`, 'session.none'],
    ['oversized (4100 bytes)', `tsso=${'A'.repeat(4100)}`, 'session.none'],
    ['ciphertext bit flipped', `tsso=${flip(30)}`, 'session.forged'],
    ['tag bit flipped', `tsso=${flip(raw.length - 1)}`, 'session.forged'],
    ['IV bit flipped', `tsso=${flip(6)}`, 'session.forged'],
    ['unknown key id', `tsso=${flip(1)}`, 'session.unknown_key'],
    ['two session cookies', `tsso=${good}; tsso=${good}`, 'session.duplicate_cookie'],
    ['random 32 bytes', `tsso=${crypto.randomBytes(32).toString('base64url')}`, 'session.none'],
  ];
  for (const [name, header, reason] of cases) {
    const r = await embedRaw(dc, header);
    assert.equal(r.status, 401, `${name}: ${r.status}`);
    assert.equal(r.reason, reason, `${name}: reason ${r.reason}`);
    assert.equal(r.json.error, 'login_required');
  }
  // Another tenant's cookie (sealed for acme, sent to other): AAD differs.
  const cross = await embedRaw(dc, `tsso=${good}`, 'other');
  assert.equal(cross.status, 401);
  assert.equal(cross.reason, 'session.forged');
  // Log lines come through a pipe: wait until every request above is logged.
  await until(() => dc.logs().slice(mark).filter((l) => l.event === 'http.request').length >= cases.length + 1, 5000);
  assert.deepEqual(loudLines(dc, mark), [], 'no warn/error log lines for bad cookies');
  const still = await embedToken(dc, 'acme', jar);
  assert.equal(still.status, 200);
});

test('inactivity timeout and maximum duration are enforced (cookie store, clock moved)', { skip: !haveFaketime && 'libfaketime not installed' }, async () => {
  try {
    const { jar } = await login(dc);
    const original = jar.get('tsso').value;
    setClock('cookie', 30);
    let r = await embedToken(dc, 'acme', jar); // touches: a re-sealed cookie
    assert.equal(r.status, 200);
    assert.notEqual(jar.get('tsso').value, original, 'the sliding window re-seals the cookie');
    setClock('cookie', 85); // 55 s after the last touch, 85 s after login
    r = await embedToken(dc, 'acme', jar);
    assert.equal(r.status, 200, 'within the inactivity window');
    // The cookie as it was at login: 85 s idle > 60.
    const stale = await embedRaw(dc, `tsso=${original}`);
    assert.equal(stale.status, 401);
    assert.equal(stale.reason, 'session.expired');
    setClock('cookie', 125); // 40 s idle, but 125 s > max_duration 120
    r = await embedToken(dc, 'acme', jar);
    assert.equal(r.status, 401);
    assert.equal(r.json.reason, 'session.expired');
  } finally { setClock('cookie', 0); }
  // Inactivity alone.
  const { jar } = await login(dc);
  try {
    setClock('cookie', 59);
    const snapshot = jar.get('tsso').value;
    assert.equal((await embedRaw(dc, `tsso=${snapshot}`)).status, 200);
    setClock('cookie', 61);
    const r = await embedRaw(dc, `tsso=${snapshot}`);
    assert.equal(r.status, 401);
    assert.equal(r.reason, 'session.expired');
  } finally { setClock('cookie', 0); }
});

test('inactivity timeout and maximum duration are enforced (memory store, clock moved)', { skip: !haveFaketime && 'libfaketime not installed' }, async () => {
  try {
    const { jar } = await login(dm);
    const other = await login(dm);
    setClock('memory', 50);
    assert.equal((await embedToken(dm, 'acme', jar)).status, 200); // touch at +50
    setClock('memory', 61);
    const idle = await embedToken(dm, 'acme', other.jar); // untouched since login
    assert.equal(idle.status, 401);
    assert.equal(idle.json.reason, 'session.expired');
    assert.equal((await embedToken(dm, 'acme', jar)).status, 200); // 11 s idle
    setClock('memory', 105);
    assert.equal((await embedToken(dm, 'acme', jar)).status, 200); // 44 s idle, 105 s old
    setClock('memory', 121);
    const hard = await embedToken(dm, 'acme', jar);
    assert.equal(hard.status, 401);
    assert.equal(hard.json.reason, 'session.expired');
    // Expired entries are dropped: the next look-up does not find it at all.
    assert.equal((await embedToken(dm, 'acme', jar)).json.reason, 'session.not_found');
  } finally { setClock('memory', 0); }
});

test('memory store: sessions survive SIGHUP', async () => {
  const { jar } = await login(dm);
  assert.equal((await embedToken(dm, 'acme', jar)).status, 200);
  const pid = dm.proc.pid;
  await reloadAndWait(dm);
  assert.equal(dm.proc.pid, pid, 'reloaded, not restarted');
  const r = await embedToken(dm, 'acme', jar);
  assert.equal(r.status, 200, r.text);
  assert.equal(embedUser(r), 'alice@acme.example');
  // And a restart does end them (the memory store is per process): proves the check can fail.
  await dm.restart();
  const gone = await embedToken(dm, 'acme', jar);
  assert.equal(gone.status, 401);
  assert.equal(gone.json.reason, 'session.not_found');
});

test('cookie store: a logged-out cookie stays dead across SIGHUP (the revocation list is kept)', async () => {
  const { jar } = await login(dc);
  const copy = jar.get('tsso').value;
  const out = await jarFetch(jar, dc.tenantUrl('acme', '/logout'));
  assert.equal(out.status, 302);
  assert.ok(out.headers.get('location').startsWith(`${op.issuer}/`), out.headers.get('location'));
  let r = await embedRaw(dc, `tsso=${copy}`);
  assert.equal(r.status, 401);
  assert.equal(r.reason, 'session.revoked');
  await reloadAndWait(dc);
  r = await embedRaw(dc, `tsso=${copy}`);
  assert.equal(r.status, 401, 'a reload must not revive a logged-out session');
  assert.equal(r.reason, 'session.revoked');
});

function keyId(hex) { return crypto.createHash('sha256').update(Buffer.from(hex, 'hex')).digest().subarray(0, 4).toString('hex'); }
function cookieKeyId(value) { return Buffer.from(value, 'base64url').subarray(1, 5).toString('hex'); }

test('cookie store key rotation: new key first + SIGHUP keeps old cookies; removing the old key ends them', async () => {
  const keyFile = path.join(dc.dir, 'secrets', 'session.key');
  const k1 = fs.readFileSync(keyFile, 'utf8').trim();
  const k2 = crypto.randomBytes(32).toString('hex');
  const before = await login(dc);
  const c1 = before.jar.get('tsso').value;
  assert.equal(cookieKeyId(c1), keyId(k1));
  // Step 1: the new key on the first line, the old one kept below.
  fs.writeFileSync(keyFile, `# rotated\n${k2}\n${k1}\n`, { mode: 0o600 });
  await reloadAndWait(dc);
  assert.equal((await embedRaw(dc, `tsso=${c1}`)).status, 200, 'old cookie still opens');
  const afterLogin = await login(dc);
  const c2 = afterLogin.jar.get('tsso').value;
  assert.equal(cookieKeyId(c2), keyId(k2), 'new cookies are sealed with the new key');
  // Step 2: the old key removed.
  fs.writeFileSync(keyFile, `${k2}\n`, { mode: 0o600 });
  const mark = dc.logs().length;
  await reloadAndWait(dc);
  const old = await embedRaw(dc, `tsso=${c1}`);
  assert.equal(old.status, 401);
  assert.equal(old.reason, 'session.unknown_key');
  assert.equal((await embedRaw(dc, `tsso=${c2}`)).status, 200);
  // A restart with the rotated file: same answers (the cookie store keeps no state).
  await dc.restart();
  assert.equal((await embedRaw(dc, `tsso=${c1}`)).reason, 'session.unknown_key');
  assert.equal((await embedRaw(dc, `tsso=${c2}`)).status, 200);
  assert.deepEqual(loudLines(dc, 0).filter((l) => l.reason?.startsWith?.('session.')), []);
  void mark;
});
