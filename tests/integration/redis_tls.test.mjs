// Redis over TLS (issue 6: "TLS and AUTH options"): the daemon with store
// "redis" and a rediss:// URL to a TLS-only redis-server with a password,
// trusting the test CA through session.redis_ca_file. A login and embed
// tokens work; a Redis restart is recovered from; a daemon trusting another
// CA is not ready (503) and never falls back to plaintext.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import crypto from 'node:crypto';
import { startOp, loginAtOp } from './lib/op.mjs';
import { startDaemon } from './lib/daemon.mjs';
import { startRedis } from './lib/redis.mjs';
import { CookieJar, jarFetch } from './lib/jar.mjs';
import { deliverCallback, embedToken } from './lib/flow.mjs';
import { request } from './lib/http.mjs';
import { stopAll } from './lib/proc.mjs';
import { freePort } from './lib/ports.mjs';
import { makeCa } from './lib/tls.mjs';
import { makeJwks, writeJwks } from './lib/keys.mjs';
import { tempDir } from './lib/tmp.mjs';
import { until } from './lib/testkit.mjs';

const SECRET = 'redistls-client-secret-0123456789abcdef';
const REDIS_PW = 'redis-tls-pass-0123456789';
let op; let redis; let D; let W; let port;

function opts(ca, p = port) {
  return {
    port: p,
    publicUrl: `http://127.0.0.1:${p}`,
    generateKeys: true,
    files: {
      'secrets/client.secret': `${SECRET}\n`,
      'secrets/session.key': `${crypto.randomBytes(32).toString('hex')}\n`,
      'secrets/redis.pw': `${REDIS_PW}\n`,
    },
    main: {
      session: {
        store: 'redis', redis_url: redis.url, redis_ca_file: ca, redis_password_file: 'secrets/redis.pw',
      },
    },
    tenants: {
      acme: {
        issuer: op.issuer, client_id: 'tls-acme', client_secret_file: '../secrets/client.secret',
        embed: {
          scheme: 'signed_jwt', issuer: 'toucan-sso-test', workspace_id: 'acme',
          audience: 'https://oauth.toucan.example/acme/oauth/oauth-token',
        },
      },
    },
  };
}

before(async () => {
  port = await freePort();
  const jwks = await makeJwks(['RS256']);
  redis = await startRedis({ tls: true, password: REDIS_PW });
  op = await startOp({
    jwks_file: writeJwks(path.join(tempDir('tsso-opkeys-'), 'jwks.json'), jwks),
    clients: [{ client_id: 'tls-acme', client_secret: SECRET, redirect_uris: [`http://127.0.0.1:${port}/acme/callback`] }],
  });
  D = await startDaemon(opts(redis.ca));
});

after(async () => { await stopAll(D, W, op, redis); });

async function readyz(d) {
  const r = await request(`${d.url}/readyz`);
  return { status: r.status, json: JSON.parse(r.body) };
}

// Ready within a bounded time: the first TLS handshake with Redis (and its
// retry) can take a while on a loaded machine.
async function becomesReady(d) {
  await until(async () => (await readyz(d)).status === 200, 8000);
}

test('login and embed tokens with sessions in Redis over TLS with AUTH', async () => {
  assert.match(redis.url, /^rediss:/);
  await becomesReady(D);
  const jar = new CookieJar();
  const start = await jarFetch(jar, D.tenantUrl('acme', '/login?return_to=/'));
  assert.equal(start.status, 302, await start.text());
  const cb = await loginAtOp(start.headers.get('location'), 'alice', 'alice-password', jar);
  const fin = await deliverCallback(jar, cb);
  assert.equal(fin.status, 302, await fin.text());
  assert.equal((await embedToken(D, 'acme', jar)).status, 200);
  const keys = await redis.command('KEYS', 'tsso:*');
  assert.ok(keys.length > 0, 'the session is in this (TLS-only) Redis');
  // Redis restarts (its data kept): the daemon reconnects over TLS.
  await redis.command('SAVE');
  await redis.restart();
  await until(async () => (await embedToken(D, 'acme', jar)).status === 200, 8000);
  await becomesReady(D);
});

test('a daemon trusting another CA is not ready and serves no session', async () => {
  const other = makeCa(tempDir('tsso-otherca-'), 'another CA');
  W = await startDaemon(opts(other.cert, await freePort()));
  const r = await readyz(W);
  assert.equal(r.status, 503);
  assert.equal(r.json.store.status, 'unavailable');
  assert.match(r.json.store.reason, /certificate/i);
  assert.equal(D.logs().concat(W.logs()).some((l) => JSON.stringify(l).includes(REDIS_PW)), false,
    'the Redis password is never logged');
});
