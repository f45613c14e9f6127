// Scale-out (issue 6 §3, §5): two daemons behind one public URL sharing one
// real redis-server with store "redis". Any instance finishes a login another
// started, serves and ends any session; killing an instance loses nothing;
// Redis restarting costs at most the requests in flight and both daemons
// recover without a restart; while Redis is down logins fail closed (503) and
// /readyz says why; the Redis command budget (INFO commandstats) is at most 4
// per login and 1 per authenticated request; with refresh tokens on and
// rotating at the OP, concurrent requests on both instances refresh once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import crypto from 'node:crypto';
import { startOp, loginAtOp, logoutAtOp } from './lib/op.mjs';
import { startDaemon } from './lib/daemon.mjs';
import { startRedis } from './lib/redis.mjs';
import { CookieJar, jarFetch } from './lib/jar.mjs';
import { deliverCallback, embedToken } from './lib/flow.mjs';
import { request } from './lib/http.mjs';
import { stopAll, sleep } from './lib/proc.mjs';
import { freePort } from './lib/ports.mjs';
import { makeJwks, writeJwks, signJwt } from './lib/keys.mjs';
import { tempDir } from './lib/tmp.mjs';
import { until } from './lib/testkit.mjs';

const SECRET = 'scaleout-client-secret-0123456789abcdef';
const AT_TTL = 62; // the daemon refreshes 60 s before expiry: due 2 s after each grant
let op; let opJwks; let redis; let A; let B; let pA; let pB;

function tenantCfg(clientId, extra = {}) {
  return {
    issuer: op.issuer,
    client_id: clientId,
    client_secret_file: '../secrets/client.secret',
    embed: {
      scheme: 'signed_jwt', issuer: 'toucan-sso-test', workspace_id: 'acme',
      audience: 'https://oauth.toucan.example/acme/oauth/oauth-token',
      // The load tests below hammer one session on purpose: lift the
      // per-session rate limit (embed.test.mjs tests the limit itself).
      rate_limit: { burst: 100000, per_minute: 1000000 },
    },
    ...extra,
  };
}

before(async () => {
  [pA, pB] = [await freePort(), await freePort()];
  // One public URL (the load balancer's): redirect URIs and cookies are the same for both.
  const pub = `http://127.0.0.1:${pA}`;
  opJwks = await makeJwks(['RS256']);
  op = await startOp({
    jwks_file: writeJwks(path.join(tempDir('tsso-opkeys-'), 'jwks.json'), opJwks),
    rotate_refresh_tokens: true,
    ttl: { AccessToken: AT_TTL },
    clients: [
      {
        client_id: 'so-acme', client_secret: SECRET, redirect_uris: [`${pub}/acme/callback`],
        // The OP's back-channel call reaches B (as a load balancer might send it).
        backchannel_logout_uri: `http://127.0.0.1:${pB}/acme/backchannel-logout`,
        backchannel_logout_session_required: true,
      },
      { client_id: 'so-rt', client_secret: SECRET, redirect_uris: [`${pub}/rt/callback`] },
    ],
  });
  redis = await startRedis();
  const key = `${crypto.randomBytes(32).toString('hex')}\n`;
  const opts = (port) => ({
    port,
    publicUrl: pub,
    generateKeys: true,
    files: { 'secrets/client.secret': `${SECRET}\n`, 'secrets/session.key': key },
    main: { session: { store: 'redis', redis_url: redis.url } },
    tenants: {
      acme: tenantCfg('so-acme'),
      rt: tenantCfg('so-rt', {
        refresh_tokens: true, scopes: ['openid', 'email', 'profile', 'offline_access'], prompt: 'consent',
        // No token minted at login: the refresh tests below need first
        // requests that mint and save the session while it is refreshed.
        embed: { ...tenantCfg('so-rt').embed, mint_at_login: false },
      }),
    },
  });
  [A, B] = await Promise.all([startDaemon(opts(pA)), startDaemon(opts(pB))]);
});

after(async () => { await stopAll(A, B, op, redis); });

/** The same URL on another instance (the load balancer's choice). */
function on(d, url) {
  const u = new URL(url);
  u.port = String(d.port);
  return u.href;
}

/** Start on `first`, log in at the OP, deliver the callback to `second`. */
async function loginVia(first, second, tenant = 'acme', jar = new CookieJar()) {
  const start = await jarFetch(jar, first.tenantUrl(tenant, '/login?return_to=/'));
  assert.equal(start.status, 302, await start.text());
  const cb = await loginAtOp(start.headers.get('location'), 'alice', 'alice-password', jar);
  const fin = await deliverCallback(jar, { ...cb, url: on(second, cb.url) });
  const body = await fin.text();
  return { jar, fin, body };
}

function usage(stats) {
  const out = {};
  for (const [k, v] of Object.entries(stats)) {
    // Our own INFO / CONFIG RESETSTAT calls are not the daemons'.
    if (!['info', 'config'].includes(k.split('|')[0])) out[k] = v;
  }
  return out;
}
const total = (u) => Object.values(u).reduce((a, b) => a + b, 0);

async function readyz(d) {
  const r = await request(`${d.url}/readyz`);
  return { status: r.status, json: JSON.parse(r.body) };
}

test('login starts on A, the callback lands on B, A and B serve it, back-channel logout at B ends it on A', async () => {
  const { jar, fin, body } = await loginVia(A, B);
  assert.equal(fin.status, 302, body);
  assert.equal(fin.headers.get('location'), `http://127.0.0.1:${pA}/`);
  const c = jar.get('tsso').value;
  assert.match(c, /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/, 'server-side store: id and two hashes only');
  const ta = await embedToken(A, 'acme', jar);
  assert.equal(ta.status, 200, ta.text);
  assert.equal((await embedToken(B, 'acme', jar)).status, 200);
  // The user signs out at the OP; its back-channel call goes to B.
  const meta = JSON.parse((await request(`${op.issuer}/.well-known/openid-configuration`)).body);
  await logoutAtOp(meta.end_session_endpoint, jar);
  await B.waitForLog((l) => l.event === 'logout.backchannel' && l.tenant === 'acme', 8000);
  assert.equal(A.logs().filter((l) => l.event === 'logout.backchannel').length, 0, 'A never saw the logout');
  const after = await embedToken(A, 'acme', jar);
  assert.equal(after.status, 401);
  assert.equal(after.json.reason, 'session.revoked');
  assert.equal((await embedToken(B, 'acme', jar)).json.reason, 'session.revoked');
});

test('killing A mid-flow loses nothing: the login it started and the sessions it made finish on B', async () => {
  const earlier = await loginVia(A, A);
  assert.equal(earlier.fin.status, 302);
  const jar = new CookieJar();
  const start = await jarFetch(jar, A.tenantUrl('acme', '/login?return_to=/'));
  assert.equal(start.status, 302);
  await A.kill(); // SIGKILL: no goodbye
  const cb = await loginAtOp(start.headers.get('location'), 'alice', 'alice-password', jar);
  const copy = new CookieJar();
  copy.cookies = jar.cookies.map((c) => ({ ...c })); // the login-state cookie, before B spends it
  const fin = await deliverCallback(jar, { ...cb, url: on(B, cb.url) });
  assert.equal(fin.status, 302, await fin.text());
  assert.equal((await embedToken(B, 'acme', jar)).status, 200);
  assert.equal((await embedToken(B, 'acme', earlier.jar)).status, 200, "A's session, served by B");
  await A.restart();
  // The same response replayed on the other instance: single use holds across instances.
  const replay = await deliverCallback(copy, { ...cb, url: on(A, cb.url) });
  const rb = await replay.text();
  assert.equal(replay.status, 400, rb);
  assert.match(rb, /state\.replayed/);
  assert.equal((await embedToken(A, 'acme', copy)).status, 401);
  assert.equal((await embedToken(A, 'acme', jar)).status, 200, 'the restarted A serves it too');
});

test('Redis command budget: at most 4 per login, 1 per authenticated request (cached embed token)', async () => {
  await redis.resetStats();
  const { fin, jar } = await loginVia(A, B);
  assert.equal(fin.status, 302);
  const login = usage(await redis.commandStats());
  assert.ok(total(login) <= 4, `login used ${JSON.stringify(login)}`);
  assert.ok(total(login) >= 1, 'the login did go through Redis');
  // First embed-token: mints and caches (read + write).
  assert.equal((await embedToken(A, 'acme', jar)).status, 200);
  await redis.resetStats();
  const N = 6;
  for (let i = 0; i < N; i += 1) {
    const r = await embedToken(i % 2 ? A : B, 'acme', jar);
    assert.equal(r.status, 200);
  }
  const req = usage(await redis.commandStats());
  assert.ok(total(req) <= N, `${N} requests used ${JSON.stringify(req)}`);
  assert.deepEqual(Object.keys(req), ['mget'], `one MGET each: ${JSON.stringify(req)}`);
  // And a login over an existing session (ends it first) stays within 4 as well.
  const previous = jar.get('tsso').value;
  await redis.resetStats();
  const again = await loginVia(B, A, 'acme', jar);
  assert.equal(again.fin.status, 302);
  const relogin = usage(await redis.commandStats());
  assert.ok(total(relogin) <= 4, `re-login used ${JSON.stringify(relogin)}`);
  // No fixation: a fresh id, and the session the browser brought is gone.
  assert.notEqual(jar.get('tsso').value.split('.')[0], previous.split('.')[0]);
  const old = await fetch(B.tenantUrl('acme', '/embed-token'), { headers: { cookie: `tsso=${previous}` } });
  assert.equal(old.status, 401);
  assert.equal((await old.json()).reason, 'session.not_found');
  console.log(`redis commands: login ${JSON.stringify(login)}, ${N} requests ${JSON.stringify(req)}, re-login ${JSON.stringify(relogin)}`);
});

test('a Redis restart between requests costs nothing; both daemons recover without a restart', async () => {
  const s1 = await loginVia(A, B);
  const s2 = await loginVia(B, A);
  assert.equal((await embedToken(A, 'acme', s1.jar)).status, 200);
  assert.equal((await embedToken(B, 'acme', s2.jar)).status, 200);
  const pids = [A.proc.pid, B.proc.pid];
  await redis.command('SAVE'); // this Redis has no persistence of its own: keep the data over the restart
  await redis.restart();
  // The pools' connections died with the old Redis: the first request after must still work.
  for (const [d, s] of [[A, s1], [B, s2], [B, s1], [A, s2]]) {
    const r = await embedToken(d, 'acme', s.jar);
    assert.equal(r.status, 200, `${r.status} ${r.text}`);
  }
  assert.deepEqual([A.proc.pid, B.proc.pid], pids);
});

test('a Redis restart under load: only requests during the outage fail (503, never 401 or 500), then all recover', async () => {
  const s = await loginVia(A, B);
  assert.equal((await embedToken(A, 'acme', s.jar)).status, 200);
  await redis.command('SAVE');
  const seen = [];
  let stop = false;
  const load = (d) => (async () => {
    while (!stop) {
      const r = await embedToken(d, 'acme', s.jar);
      seen.push({ d: d === A ? 'A' : 'B', status: r.status, reason: r.json?.reason, at: Date.now() });
      await sleep(10);
    }
  })();
  const loops = [load(A), load(B)];
  await sleep(150);
  const down = Date.now();
  await redis.restart();
  const up = Date.now();
  let recovered;
  try {
    await until(() => ['A', 'B'].every((n) => seen.some((x) => x.d === n && x.at > up && x.status === 200)), 8000);
    recovered = Date.now();
    await sleep(300);
  } finally {
    stop = true;
    await Promise.all(loops);
  }
  const bad = seen.filter((x) => x.status !== 200 && x.status !== 503);
  assert.deepEqual(bad, [], 'only 503 while Redis is away');
  const failed = seen.filter((x) => x.status === 503);
  assert.ok(failed.every((x) => x.at >= down), 'nothing failed before the restart');
  // After both instances answered 200 again, everything does.
  const tail = seen.filter((x) => x.at > recovered);
  assert.ok(tail.length > 0);
  assert.deepEqual(tail.filter((x) => x.status !== 200), []);
  console.log(`redis restart under load: ${seen.length} requests, ${failed.length} answered 503 (restart took ${up - down} ms, both instances back ${recovered - up} ms after)`);
});

test('while Redis is down: /readyz 503 with the reason, logins fail closed with 503, sessions are not lost', async () => {
  const s = await loginVia(A, A);
  assert.equal((await embedToken(B, 'acme', s.jar)).status, 200);
  const pids = [A.proc.pid, B.proc.pid];
  await redis.command('SAVE');
  await redis.stop();
  try {
    for (const d of [A, B]) {
      const r = await readyz(d);
      assert.equal(r.status, 503);
      assert.equal(r.json.status, 'not_ready');
      assert.equal(r.json.store.kind, 'redis');
      assert.equal(r.json.store.status, 'unavailable');
      assert.match(r.json.store.reason, /redis/i);
    }
    // A login: the start needs no Redis, the finish does (single use of the state).
    const { fin, body } = await loginVia(A, B);
    assert.equal(fin.status, 503, body);
    assert.match(body, /store\.unavailable/);
    assert.equal(fin.headers.get('retry-after'), '30');
    assert.deepEqual(fin.headers.getSetCookie().filter((l) => /^tsso=[^;]/.test(l)), [], 'no session cookie');
    // An existing session: 503 (retry), not 401 (the user is not logged out).
    const e = await embedToken(A, 'acme', s.jar);
    assert.equal(e.status, 503);
    assert.match(e.text, /store\.unavailable/);
    assert.ok(e.headers.get('retry-after'));
  } finally {
    await redis.start();
  }
  // Recovery without restarting the daemons (reconnect backoff is at most 5 s).
  await until(async () => (await embedToken(A, 'acme', s.jar)).status === 200, 8000);
  await until(async () => (await embedToken(B, 'acme', s.jar)).status === 200, 8000);
  await until(async () => (await readyz(A)).status === 200 && (await readyz(B)).status === 200, 8000);
  const again = await loginVia(B, A);
  assert.equal(again.fin.status, 302, again.body);
  assert.deepEqual([A.proc.pid, B.proc.pid], pids);
});

test('refresh: two daemons hit concurrently refresh once; rotated refresh tokens never meet invalid_grant', async () => {
  const { jar, fin, body } = await loginVia(A, B, 'rt');
  assert.equal(fin.status, 302, body);
  const grants = () => op.proc.lines().filter((l) => l.startsWith('grant.success grant_type=refresh_token client=so-rt')).length;
  const refreshed = () => [A, B].reduce((n, d) => n + d.logs().filter((l) => l.event === 'session.refreshed').length, 0);
  const failed = () => [A, B].flatMap((d) => d.logs().filter((l) => l.event === 'session.refresh_failed'));
  for (let round = 1; round <= 3; round += 1) {
    await sleep(3300); // the access token is now within 60 s of expiry (whole seconds)
    const before = { g: grants(), r: refreshed() };
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => embedToken(i % 2 ? A : B, 'rt', jar)));
    assert.deepEqual(answers.map((a) => a.status), Array(8).fill(200), `round ${round}: ${answers.map((a) => `${a.status} ${a.json?.reason ?? ''}`).join(', ')}`);
    await until(() => refreshed() >= before.r + 1, 5000);
    await sleep(200);
    assert.equal(refreshed() - before.r, 1, `round ${round}: one refresh across both instances`);
    assert.equal(grants() - before.g, 1, `round ${round}: one refresh_token grant at the OP`);
    assert.deepEqual(failed(), []);
  }
  assert.equal(op.proc.lines().filter((l) => /grant\.error|invalid_grant/.test(l)).length, 0);
  assert.equal((await embedToken(A, 'rt', jar)).status, 200);
});

test('refresh: a stream of first requests on both instances during the refresh keeps the rotated refresh token', async () => {
  const { jar, fin, body } = await loginVia(B, A, 'rt');
  assert.equal(fin.status, 302, body);
  const failed = () => [A, B].flatMap((d) => d.logs().filter((l) => l.event === 'session.refresh_failed'));
  const errorsBefore = op.proc.lines().filter((l) => /grant\.error|invalid_grant/.test(l)).length;
  await sleep(3300);
  // No embed token cached yet: every request that does not refresh mints and
  // saves the session; none may save a copy older than the refreshed one.
  const pending = [];
  for (let i = 0; i < 40; i += 1) {
    pending.push(embedToken(i % 2 ? A : B, 'rt', jar));
    await sleep(3);
  }
  const answers = await Promise.all(pending);
  assert.deepEqual(answers.map((a) => a.status), Array(40).fill(200));
  // The next refresh must use the rotated refresh token.
  await sleep(3300);
  const r = await embedToken(A, 'rt', jar);
  assert.equal(r.status, 200, r.text);
  await sleep(300);
  assert.deepEqual(failed(), []);
  assert.equal(op.proc.lines().filter((l) => /grant\.error|invalid_grant/.test(l)).length, errorsBefore);
});
