// Runs the whole demo on 127.0.0.1: the test OpenID Provider, toucan-sso
// (from TSSO_BUILD_ROOT or ./build) behind the sample app at /sso, and the
// sample page. Optional --screenshot FILE drives headless Chromium through the
// login and saves a picture of the page with its embed token.
//
// Usage (from the repo root, after `ninja -C build` and `cd tests && npm ci`):
//   node demo/sample-app/run-demo.mjs [--app-port 3000] [--screenshot out.png]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOp } from '../../tests/integration/lib/op.mjs';
import { startDaemon, haveBinary, binary } from '../../tests/integration/lib/daemon.mjs';
import { startProcess, stopAll } from '../../tests/integration/lib/proc.mjs';
import { freePort } from '../../tests/integration/lib/ports.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = { appPort: 3000, screenshot: null, tenant: 'acme' };
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--app-port') o.appPort = Number(argv[i + 1]);
    else if (argv[i] === '--screenshot') o.screenshot = argv[i + 1];
    else if (argv[i] === '--tenant') o.tenant = argv[i + 1];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!haveBinary()) throw new Error(`build toucan-sso first (${binary()} not found)`);
  const app = `http://127.0.0.1:${o.appPort}`;
  const publicUrl = `${app}/sso`;
  const secret = 'demo-client-secret-0123456789abcdef';
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
        embed: {
          scheme: 'signed_jwt',
          issuer: 'toucan-sso-demo',
          audience: `http://127.0.0.1:1/${o.tenant}/oauth/oauth-token`,
          workspace_id: o.tenant,
        },
      },
    },
    files: { 'secrets/demo.secret': secret },
  });
  const page = await startProcess({
    name: 'sample-app',
    cmd: process.execPath,
    args: [path.join(HERE, 'server.mjs'), '--port', String(o.appPort), '--sso', '/sso',
      '--tenant', o.tenant, '--proxy-to', daemon.url],
    readyLine: /^\{"ready":true/,
  });
  const all = [page, daemon, op];
  process.stdout.write(`demo ready:
  page      ${app}/   (sign in as alice / alice-password)
  IdP       ${op.issuer}
  daemon    ${daemon.url} (public_url ${publicUrl}), config ${daemon.configPath}
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
      await b.page.waitForFunction(() => document.getElementById('dashboard').getAttribute('auth-token'));
      await b.page.screenshot({ path: o.screenshot, fullPage: true });
      process.stdout.write(`screenshot: ${o.screenshot}\n`);
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
