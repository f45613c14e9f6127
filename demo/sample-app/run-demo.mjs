// Runs the whole demo on 127.0.0.1: the test OpenID Provider, the Toucan
// stand-in (tests/toucan/standin.mjs, in the role of Toucan), toucan-sso (from
// TSSO_BUILD_ROOT or ./build) behind the sample app at /sso, and the sample
// page. The tenant's embed settings point at the stand-in, which checks the
// tokens the way Toucan does (signature against the daemon's JWKS, claims,
// jti replay). Optional --screenshot FILE drives headless Chromium through the
// login, saves a picture of the page with its embed token, and has the
// stand-in accept that token (exit 1 when it does not).
//
// Usage (from the repo root, after `ninja -C build` and `cd tests && npm ci`):
//   node demo/sample-app/run-demo.mjs [--app-port 3000] [--screenshot out.png]
//        [--scheme signed_jwt|exchange|api]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOp } from '../../tests/integration/lib/op.mjs';
import { startDaemon, haveBinary, binary } from '../../tests/integration/lib/daemon.mjs';
import { startProcess, stopAll } from '../../tests/integration/lib/proc.mjs';
import { freePort } from '../../tests/integration/lib/ports.mjs';
import { startToucan } from '../../tests/integration/lib/toucan.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = {
    appPort: 3000, screenshot: null, tenant: 'acme', scheme: 'signed_jwt',
  };
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i + 1] === undefined) throw new Error(`${argv[i]} needs a value`);
    if (argv[i] === '--app-port') o.appPort = Number(argv[i + 1]);
    else if (argv[i] === '--screenshot') o.screenshot = argv[i + 1];
    else if (argv[i] === '--tenant') o.tenant = argv[i + 1];
    else if (argv[i] === '--scheme') o.scheme = argv[i + 1];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!['signed_jwt', 'exchange', 'api'].includes(o.scheme)) throw new Error('--scheme: signed_jwt, exchange or api');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(o.tenant)) throw new Error('--tenant: letters, digits, _ and - only');
  return o;
}

// What Toucan would do with the page's token: for a signed JWT, exchange it
// at the OAuth token endpoint (the stand-in verifies it against the daemon's
// JWKS); opaque and Toucan AI tokens are looked up. Throws when refused.
async function acceptedByToucan(toucan, o, token, embedSecret) {
  if (o.scheme === 'signed_jwt') {
    const r = await fetch(toucan.audience(o.tenant), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`toucan-embed-client:${embedSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: token, scope: 'embed' }),
      signal: AbortSignal.timeout(10000),
    });
    const body = await r.json();
    if (r.status !== 200) throw new Error(`Toucan stand-in refused the embed JWT: ${r.status} ${JSON.stringify(body)}`);
    return `accepted the signed embed JWT (exchanged for an opaque token, expires_in ${body.expires_in})`;
  }
  const info = await toucan.lookup(token);
  if (!info.active) throw new Error(`Toucan stand-in does not know the token: ${JSON.stringify(info)}`);
  return `the ${o.scheme === 'api' ? 'Toucan AI' : 'opaque'} token is active`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!haveBinary()) throw new Error(`build toucan-sso first (${binary()} not found)`);
  const app = `http://127.0.0.1:${o.appPort}`;
  const publicUrl = `${app}/sso`;
  const secret = 'demo-client-secret-0123456789abcdef';
  const embedSecret = 'demo-embed-client-secret-0123456789';
  const apiKey = 'demo-toucan-ai-api-key-0123456789';
  const embedIssuer = 'toucan-sso-demo';
  // Toucan, played by the stand-in: a Toucan 3.0 tenant that trusts the
  // daemon's JWKS (as published through the page's origin), and a Toucan AI
  // API key.
  const toucan = await startToucan({
    v3: {
      tenants: {
        [o.tenant]: {
          issuer: embedIssuer, jwks_url: `${publicUrl}/.well-known/jwks.json`, client_secret: embedSecret, workspace_id: o.tenant,
        },
      },
    },
    ai: { api_keys: [apiKey], attributes: {} },
  });
  const embed = o.scheme === 'api'
    ? { scheme: 'api', toucan_url: toucan.url, api_key_file: '../secrets/toucan-ai.key' }
    : {
      scheme: 'signed_jwt', issuer: embedIssuer, audience: toucan.audience(o.tenant), workspace_id: o.tenant,
      ...(o.scheme === 'exchange' ? { token_url: toucan.audience(o.tenant), embed_client_secret_file: '../secrets/embed.secret' } : {}),
    };
  const op = await startOp({
    clients: [{
      client_id: 'toucan-sso',
      client_secret: secret,
      redirect_uris: [`${publicUrl}/${o.tenant}/callback`],
      post_logout_redirect_uris: [`${app}/`],
    }],
  });
  const daemonPort = await freePort();
  const daemon = await startDaemon({
    port: daemonPort,
    publicUrl,
    generateKeys: true,
    tenants: {
      [o.tenant]: {
        issuer: op.issuer,
        client_id: 'toucan-sso',
        client_secret_file: '../secrets/demo.secret',
        token_endpoint_auth_method: 'client_secret_basic',
        response_mode: 'query',
        scopes: ['openid', 'email', 'profile', 'groups'],
        embed,
      },
    },
    files: { 'secrets/demo.secret': secret, 'secrets/embed.secret': embedSecret, 'secrets/toucan-ai.key': apiKey },
  });
  const page = await startProcess({
    name: 'sample-app',
    cmd: process.execPath,
    args: [path.join(HERE, 'server.mjs'), '--port', String(o.appPort), '--sso', '/sso',
      '--tenant', o.tenant, '--proxy-to', daemon.url],
    readyLine: /^\{"ready":true/,
  });
  const all = [page, daemon, toucan, op];
  process.stdout.write(`demo ready (embed scheme ${o.scheme}):
  page      ${app}/   (sign in as alice / alice-password)
  IdP       ${op.issuer}
  daemon    ${daemon.url} (public_url ${publicUrl}), config ${daemon.configPath}
  JWKS      ${publicUrl}/.well-known/jwks.json
  Toucan    ${toucan.url} (stand-in; audience ${toucan.audience(o.tenant)})
  logs      ${daemon.proc.outPath}, ${daemon.proc.errPath}
`);
  if (o.screenshot) {
    const { launchBrowser, fillOpLogin } = await import('../../tests/integration/lib/browser.mjs');
    const b = await launchBrowser({ timeoutMs: 15000 });
    try {
      const atIdp = (u) => u.href.startsWith(op.issuer);
      await b.page.goto(`${app}/`);
      // embed.js may send the visitor to login by itself on 401; else click "Sign in"
      try {
        await b.page.waitForURL(atIdp, { timeout: 5000 });
      } catch {
        await Promise.all([b.page.waitForURL(atIdp), b.page.click('#signin')]);
      }
      await fillOpLogin(b.page, 'alice', 'alice-password');
      await b.page.waitForURL(`${app}/`);
      const token = await b.page.waitForFunction(() => document.getElementById('dashboard').getAttribute('auth-token'))
        .then((h) => h.jsonValue());
      await b.page.screenshot({ path: o.screenshot, fullPage: true });
      process.stdout.write(`screenshot: ${o.screenshot}\n`);
      process.stdout.write(`Toucan stand-in: ${await acceptedByToucan(toucan, o, token, embedSecret)}\n`);
    } catch (e) {
      process.exitCode = 1;
      throw e;
    } finally {
      await b.close();
      await stopAll(all);
    }
    return;
  }
  const stop = async () => { await stopAll(all); process.exit(0); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => { process.stderr.write(`run-demo: ${e.stack ?? e}\n`); process.exit(1); });
