// End to end in real headless Chromium (Debian chromium, playwright-core): the
// sample page (demo/sample-app/server.mjs, proxying /sso to the daemon) loads
// embed.js, which sends the visitor to login on 401 → the real oidc-provider's
// login form → callback → back on the page, whose <tc-dashboard> carries an
// embed token that npm jose verifies against the served JWKS; with the
// minimum TTL (30 s) embed.js then swaps in a second token before expiry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startOp } from './lib/op.mjs';
import { startDaemon, sourceRoot } from './lib/daemon.mjs';
import { startProcess, stopAll } from './lib/proc.mjs';
import { freePort } from './lib/ports.mjs';
import { launchBrowser, fillOpLogin } from './lib/browser.mjs';
import { verifyEmbedJwt, opensslVerifyJws } from './lib/embedcheck.mjs';
import { request } from './lib/http.mjs';

const SECRET = 'CANARY-browser-client-secret-0123456789';
const AUD = 'https://oauth.toucan.example/acme/oauth/oauth-token';
const TTL = 30;
let op; let daemon; let app; let browser; let appUrl;

before(async () => {
  const appPort = await freePort();
  appUrl = `http://127.0.0.1:${appPort}`;
  const publicUrl = `${appUrl}/sso`;
  op = await startOp({
    clients: [{ client_id: 'tsso-browser', client_secret: SECRET, redirect_uris: [`${publicUrl}/acme/callback`] }],
  });
  daemon = await startDaemon({
    publicUrl,
    generateKeys: true,
    main: { embed: { ttl: TTL } },
    files: { 'secrets/client.secret': `${SECRET}\n` },
    tenants: {
      acme: {
        issuer: op.issuer,
        client_id: 'tsso-browser',
        client_secret_file: '../secrets/client.secret',
        embed: {
          scheme: 'signed_jwt', issuer: 'toucan-sso-test', audience: AUD, workspace_id: 'acme',
        },
      },
    },
  });
  app = await startProcess({
    name: 'sample-app',
    cmd: process.execPath,
    args: [path.join(sourceRoot(), 'demo/sample-app/server.mjs'), '--port', String(appPort), '--sso', '/sso',
      '--tenant', 'acme', '--proxy-to', daemon.url],
    readyLine: /^\{"ready":true/,
    timeoutMs: 10000,
  });
  browser = await launchBrowser({ timeoutMs: 15000 });
});

after(async () => {
  if (browser) await browser.close();
  await stopAll(app, daemon, op);
});

async function verify(token) {
  const jwks = JSON.parse((await request(`${appUrl}/sso/.well-known/jwks.json`)).body);
  const out = await verifyEmbedJwt(token, {
    jwks, issuer: 'toucan-sso-test', audience: AUD, workspaceId: 'acme', algs: ['RS512'], maxTtl: TTL,
  });
  const jwk = jwks.keys.find((k) => k.kid === out.header.kid);
  assert.equal(opensslVerifyJws(token, jwk), true);
  return out;
}

test('sample page → IdP login form → callback → <tc-dashboard> gets a verified token, refreshed before expiry', async () => {
  const { page } = browser;
  const atIdp = (u) => u.href.startsWith(op.issuer);
  const seen = [];
  page.on('request', (r) => { if (r.url().endsWith('/embed-token')) seen.push(Date.now()); });
  await page.goto(`${appUrl}/`);
  // embed.js got 401 and sent the visitor to login (the daemon then to the IdP).
  await page.waitForURL(atIdp, { timeout: 10000 });
  await fillOpLogin(page, 'alice', 'alice-password');
  await page.waitForURL(`${appUrl}/`, { timeout: 10000 });
  const first = await page.waitForFunction(
    () => document.getElementById('dashboard').getAttribute('auth-token'),
    null,
    { timeout: 10000 },
  ).then((h) => h.jsonValue());
  const { payload: p1 } = await verify(first);
  assert.equal(p1.exp - p1.iat, TTL);
  assert.equal(p1.embed_context.username, 'alice@acme.example');
  // The page decoded it for display; the session cookie is HttpOnly.
  assert.match(await page.textContent('#claims'), /toucan-embed-client/);
  const cookies = await browser.context.cookies(`${appUrl}/sso/acme/embed-token`);
  const session = cookies.find((c) => c.path.startsWith('/sso/acme') && c.httpOnly);
  assert.ok(session, `HttpOnly session cookie for the tenant path: ${cookies.map((c) => `${c.name} ${c.path}`)}`);
  const visible = await page.evaluate(() => document.cookie);
  assert.ok(!visible.includes(session.name), 'the page script cannot read the session cookie');
  // The refresh: embed.js fetches again before expiry and gets a new token.
  const second = await page.waitForFunction(
    (t) => {
      const v = document.getElementById('dashboard').getAttribute('auth-token');
      return v && v !== t ? v : null;
    },
    first,
    { timeout: (TTL + 8) * 1000, polling: 250 },
  ).then((h) => h.jsonValue());
  const { payload: p2 } = await verify(second);
  assert.notEqual(p2.jti, p1.jti);
  assert.ok(Date.now() / 1000 < p1.exp, 'swapped before the first token expired');
  assert.equal(await page.evaluate(() => window.ToucanSSO.getToken()), second);
  assert.ok(seen.length >= 2, `embed-token fetched ${seen.length} times`);
});
