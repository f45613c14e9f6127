// Embed signing keys through the CLI and the running daemon: `toucan-sso keys
// generate|rotate|list` (0600 files, no overwrite), rotation that publishes
// the next key in the JWKS (after SIGHUP) before it signs and keeps the
// retired key published, and SIGHUP during a stream of embed-token requests
// (none dropped). Tokens are checked with npm jose against the served JWKS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import * as jose from 'jose';
import { startOp } from './lib/op.mjs';
import { startDaemon, writeConfig, runCli } from './lib/daemon.mjs';
import { daemonLogin, embedToken } from './lib/flow.mjs';
import { request } from './lib/http.mjs';
import { freePort } from './lib/ports.mjs';
import { stopAll, sleep } from './lib/proc.mjs';
import { verifyEmbedJwt } from './lib/embedcheck.mjs';

const SECRET = 'CANARY-keys-client-secret-0123456789';
const OVERLAP = 6; // seconds a rotated key is published before it signs
const AUD = 'https://oauth.toucan.example/acme/oauth/oauth-token';
let op; let daemon;

const sha = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
// A tenant for configurations the CLI only reads (nobody is contacted).
const offline = {
  acme: {
    issuer: 'http://127.0.0.1:9', client_id: 'x', client_secret_file: '../secrets/client.secret',
    embed: { scheme: 'signed_jwt', issuer: 'toucan-sso-test', audience: AUD, workspace_id: 'acme' },
  },
};
const offlineFiles = { 'secrets/client.secret': 'offline-secret-0123456789\n' };
const mode = (f) => fs.statSync(f).mode & 0o777;

before(async () => {
  const port = await freePort();
  op = await startOp({
    clients: [{ client_id: 'tsso-keys', client_secret: SECRET, redirect_uris: [`http://127.0.0.1:${port}/acme/callback`] }],
  });
  daemon = await startDaemon({
    port,
    generateKeys: true,
    main: { embed: { rotation_overlap: OVERLAP } },
    files: { 'secrets/client.secret': `${SECRET}\n` },
    tenants: {
      acme: {
        issuer: op.issuer,
        client_id: 'tsso-keys',
        client_secret_file: '../secrets/client.secret',
        embed: {
          scheme: 'signed_jwt', issuer: 'toucan-sso-test', audience: AUD, workspace_id: 'acme',
        },
      },
    },
  });
});

after(async () => { await stopAll(daemon, op); });

async function jwks() {
  const r = await request(`${daemon.url}/.well-known/jwks.json`);
  assert.equal(r.status, 200);
  return JSON.parse(r.body);
}
const kids = async () => (await jwks()).keys.map((k) => k.kid).sort();

async function freshToken() {
  const { jar, response } = await daemonLogin(daemon, 'acme');
  assert.equal(response?.status, 302);
  const r = await embedToken(daemon, 'acme', jar);
  assert.equal(r.status, 200, r.text);
  return { jar, token: r.json.token };
}

async function verify(token) {
  return verifyEmbedJwt(token, {
    jwks: await jwks(), issuer: 'toucan-sso-test', audience: AUD, workspaceId: 'acme', algs: ['RS512'],
  });
}

test('keys generate: 0600 private key, keys.json; refuses to overwrite or to run twice', async () => {
  const cfg = await writeConfig({ main: { embed: { alg: 'ES256' } }, tenants: offline, files: offlineFiles });
  const dir = path.join(cfg.dir, 'keys');
  const cli = (args) => runCli([...args, '-c', cfg.configPath]);
  const none = await cli(['keys', 'rotate']);
  assert.notEqual(none.code, 0, 'rotate without keys refuses');
  assert.match(none.stderr, /keys rotate: .*(no key|generate)/i);
  const g = await cli(['keys', 'generate']);
  assert.equal(g.code, 0, g.stderr);
  const [kid] = /[0-9]{8}-[A-Za-z0-9_-]+/.exec(g.stdout);
  const pem = path.join(dir, `${kid}.pem`);
  assert.equal(mode(pem), 0o600, 'private key file 0600');
  assert.match(fs.readFileSync(pem, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'keys.json'), 'utf8'));
  assert.deepEqual(meta.keys.map((k) => [k.kid, k.alg]), [[kid, 'ES256']]);
  assert.ok(!fs.readFileSync(path.join(dir, 'keys.json'), 'utf8').includes('"d"'), 'no key material in keys.json');
  const before1 = { pem: sha(pem), meta: sha(path.join(dir, 'keys.json')) };
  const again = await cli(['keys', 'generate']);
  assert.notEqual(again.code, 0, 'generate refuses when keys exist');
  assert.match(again.stderr, /exist|already/i);
  assert.equal(sha(pem), before1.pem);
  assert.equal(sha(path.join(dir, 'keys.json')), before1.meta);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.pem')), [`${kid}.pem`]);
  const list = await cli(['keys', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${kid}.*ES256.*current`));
  assert.ok(!list.stdout.includes('PRIVATE'));

  // A stray .pem (no keys.json) is not overwritten either.
  const cfg2 = await writeConfig({ tenants: offline, files: offlineFiles });
  const stray = path.join(cfg2.dir, 'keys', 'stray.pem');
  fs.writeFileSync(stray, 'not a key\n', { mode: 0o600 });
  const g2 = await runCli(['keys', 'generate', '-c', cfg2.configPath]);
  assert.notEqual(g2.code, 0);
  assert.match(g2.stderr, /keys generate: /);
  assert.equal(fs.readFileSync(stray, 'utf8'), 'not a key\n');
  assert.equal(fs.existsSync(path.join(cfg2.dir, 'keys', 'keys.json')), false);
});

test('rotation: the next key is published after SIGHUP before it signs; the retired key stays published', async () => {
  const [k1] = await kids();
  const t1 = await freshToken();
  assert.equal((await verify(t1.token)).header.kid, k1);

  const rot = await daemon.cli(['keys', 'rotate']);
  assert.equal(rot.code, 0, rot.stderr);
  const rotatedAt = Date.now();
  const k2 = /[0-9]{8}-[A-Za-z0-9_-]+/.exec(rot.stdout)[0];
  assert.notEqual(k2, k1);
  const pem2 = path.join(daemon.dir, 'keys', `${k2}.pem`);
  assert.equal(mode(pem2), 0o600);
  const pending = await daemon.cli(['keys', 'rotate']);
  assert.notEqual(pending.code, 0, 'a second rotate refuses while a next key waits');
  assert.match(pending.stderr, /keys rotate: /);
  assert.deepEqual(fs.readdirSync(path.join(daemon.dir, 'keys')).filter((f) => f.endsWith('.pem')).length, 2);
  const list = await daemon.cli(['keys', 'list']);
  assert.match(list.stdout, new RegExp(`${k1}.*current`));
  assert.match(list.stdout, new RegExp(`${k2}.*next`));

  assert.deepEqual(await kids(), [k1], 'the daemon sees the new key only after a reload');
  daemon.reload();
  const deadline = Date.now() + 5000;
  while ((await kids()).length < 2 && Date.now() < deadline) await sleep(50);
  assert.deepEqual(await kids(), [k1, k2].sort(), 'current and next key published');
  // Still signed with the current key while the next one is only published.
  const t2 = await freshToken();
  assert.equal((await verify(t2.token)).header.kid, k1);
  assert.ok(Date.now() - rotatedAt < OVERLAP * 1000, 'checked within the overlap');

  // After the overlap the new key signs, by the clock, without another reload.
  await sleep(Math.max(0, rotatedAt + OVERLAP * 1000 + 1100 - Date.now()));
  const t3 = await freshToken();
  assert.equal((await verify(t3.token)).header.kid, k2);
  assert.deepEqual(await kids(), [k1, k2].sort(), 'the retired key stays published');
  await verify(t1.token); // tokens of the retired key still verify
  const list2 = await daemon.cli(['keys', 'list']);
  assert.match(list2.stdout, new RegExp(`${k1}.*retired`));
  assert.match(list2.stdout, new RegExp(`${k2}.*current`));
  // ... and after a reload too.
  daemon.reload();
  await sleep(300);
  assert.deepEqual(await kids(), [k1, k2].sort());
  // The checks can fail: a token of an unpublished key is refused.
  const { privateKey } = await jose.generateKeyPair('RS512');
  const foreign = await new jose.SignJWT({ embed_context: {} }).setProtectedHeader({ alg: 'RS512', kid: 'nope', typ: 'JWT' })
    .setIssuer('toucan-sso-test').setAudience(AUD).setSubject('toucan-embed-client').setIssuedAt().setExpirationTime('5m')
    .setJti('x'.repeat(22)).sign(privateKey);
  await assert.rejects(verify(foreign));
});

test('SIGHUP during a stream of embed-token requests drops none', async () => {
  const sessions = [];
  for (let i = 0; i < 4; i += 1) sessions.push((await freshToken()).jar);
  const pid = daemon.proc.pid;
  const results = [];
  let reloads = 0;
  const stream = Promise.all(sessions.map(async (jar, i) => {
    for (let n = 0; n < 15; n += 1) {
      const r = n % 5 === 4
        ? await request(`${daemon.url}/.well-known/jwks.json`)
        : await embedToken(daemon, 'acme', jar);
      results.push({ i, n, status: r.status });
      await sleep(20);
    }
  }));
  const hup = (async () => {
    for (let k = 0; k < 8; k += 1) { await sleep(60); daemon.reload(); reloads += 1; }
  })();
  // Logins (new sessions, new mints) while reloading as well.
  const logins = (async () => {
    for (let k = 0; k < 3; k += 1) results.push({ login: k, status: (await embedToken(daemon, 'acme', (await daemonLogin(daemon, 'acme')).jar)).status });
  })();
  await Promise.all([stream, hup, logins]);
  assert.equal(reloads, 8);
  assert.equal(results.length, 4 * 15 + 3);
  assert.deepEqual(results.filter((r) => r.status !== 200), [], 'every request answered 200');
  assert.equal(daemon.proc.pid, pid);
  assert.equal((await request(`${daemon.url}/healthz`)).status, 200);
  const reloaded = daemon.logs().filter((l) => /reload/.test(l.event ?? ''));
  assert.ok(reloaded.length >= 1, 'the daemon logged its reloads');
});
