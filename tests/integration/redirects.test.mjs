// return_to abuse through the real daemon: every line of the open-redirect
// corpus (tests/unit/data/redirects-bad.txt) sent as return_to, and a sample
// as target_link_uri, must be refused with no redirect anywhere and no login
// started; every line of redirects-good.txt is accepted, and a real login
// ends exactly on the location the corpus says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startHostileOp } from './lib/hostile.mjs';
import { loginAtOp } from './lib/op.mjs';
import { startDaemon, sourceRoot } from './lib/daemon.mjs';
import { CookieJar } from './lib/jar.mjs';
import { request } from './lib/http.mjs';
import { stopAll } from './lib/proc.mjs';
import { freePort } from './lib/ports.mjs';

const SELF = 'https://app.example.com';
const DATA = path.join(sourceRoot(), 'tests', 'unit', 'data');
let hop; let daemon;

/** Corpus lines: "# " comments and blank lines skipped, {0xHH} decoded to the byte. */
function corpus(file) {
  const out = [];
  for (const raw of fs.readFileSync(path.join(DATA, file), 'utf8').split('\n')) {
    if (raw === '' || raw.startsWith('# ') || raw === '#') continue;
    const bytes = [];
    const re = /\{0x([0-9A-Fa-f]{2})\}/g;
    let last = 0;
    let m;
    while ((m = re.exec(raw))) {
      bytes.push(Buffer.from(raw.slice(last, m.index), 'utf8'), Buffer.from([parseInt(m[1], 16)]));
      last = m.index + m[0].length;
    }
    bytes.push(Buffer.from(raw.slice(last), 'utf8'));
    out.push(Buffer.concat(bytes));
  }
  return out;
}

/** Percent-encode raw bytes for a query value (every byte outside unreserved). */
function pct(buf) {
  let s = '';
  for (const b of buf) {
    const c = String.fromCharCode(b);
    s += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return s;
}

before(async () => {
  hop = await startHostileOp();
  const port = await freePort();
  daemon = await startDaemon({
    port,
    publicUrl: SELF, // as in the corpus: self origin https://app.example.com
    generateKeys: true,
    files: { 'secrets/client.secret': 'redirects-test-secret-0123456789abcdef\n' },
    tenants: {
      t: {
        issuer: hop.issuer('ok'),
        client_id: 'tsso-redirects',
        client_secret_file: '../secrets/client.secret',
        return_to_origins: ['https://dash.example.com'],
        embed: {
          scheme: 'signed_jwt', issuer: 'toucan-sso-test', workspace_id: 'w',
          audience: 'https://oauth.toucan.example/t/oauth/oauth-token',
        },
      },
    },
  });
});

after(async () => { await stopAll(daemon, hop); });

/** Run fn over items with at most n in flight. */
async function pool(items, n, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next;
      next += 1;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}

function assertNoRedirect(r, what) {
  assert.equal(r.status, 400, `${what}: status ${r.status} location ${r.headers.location}`);
  assert.equal(r.headers.location, undefined, `${what}: no Location`);
  const cookies = [].concat(r.headers['set-cookie'] ?? []);
  assert.ok(!cookies.some((c) => /-ls-/.test(c) && !/Max-Age=0/i.test(c)), `${what}: no login started`);
  // refused by the redirect check, or earlier by the strict query parser (bytes that are not UTF-8)
  assert.match(r.body, /<code>(redirect\.[a-z_]+|http\.bad_query)<\/code>/, what);
}

test('every open-redirect payload is refused as return_to', async () => {
  const bad = corpus('redirects-bad.txt');
  assert.ok(bad.length >= 500, `corpus has ${bad.length} lines`);
  let viaRedirectCheck = 0;
  await pool(bad, 6, async (line) => {
    const what = JSON.stringify(line.toString('latin1'));
    const r = await request(`${daemon.url}/t/login?return_to=${pct(line)}`);
    assertNoRedirect(r, what);
    if (/<code>redirect\./.test(r.body)) viaRedirectCheck += 1;
  });
  // most lines must reach (and fail) the redirect check itself, not just the query parser
  assert.ok(viaRedirectCheck > bad.length * 0.9, `${viaRedirectCheck} of ${bad.length} refused by the redirect check`);
});

test('a sample of the payloads is refused as target_link_uri (third-party-initiated login)', async () => {
  const bad = corpus('redirects-bad.txt').filter((_, i) => i % 5 === 0);
  assert.ok(bad.length >= 100);
  await pool(bad, 6, async (line) => {
    const r = await request(`${daemon.url}/t/login?iss=${encodeURIComponent(hop.issuer('ok'))}&target_link_uri=${pct(line)}`);
    assertNoRedirect(r, JSON.stringify(line.toString('latin1')));
  });
});

test('the refusals are logged with the request id and counted', async () => {
  const m = await daemon.metrics();
  const total = [...m.matchAll(/^tsso_refusals_total\{tenant="t",reason="redirect\.[a-z_]+"\} (\d+)$/mg)]
    .reduce((a, x) => a + Number(x[1]), 0);
  assert.ok(total >= 100, `${total} redirect refusals counted`);
  // the daemon's log is read asynchronously: wait (bounded) until every counted refusal is there
  const refusals = () => daemon.logs().filter((l) => l.event === 'login.refused' && l.tenant === 't');
  const deadline = Date.now() + 5000;
  while (refusals().length < total && Date.now() < deadline) await new Promise((r) => { setTimeout(r, 50); });
  const lines = refusals();
  assert.equal(lines.length, total);
  assert.ok(lines.every((l) => typeof l.request_id === 'string' && l.request_id.length > 8 && /^redirect\./.test(l.reason)));
});

const good = () => fs.readFileSync(path.join(DATA, 'redirects-good.txt'), 'utf8').split('\n')
  .filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t'));

test('every accepted target starts a login at the IdP', async () => {
  const g = good();
  assert.ok(g.length >= 40);
  await pool(g, 6, async ([input]) => {
    const r = await request(`${daemon.url}/t/login?return_to=${encodeURIComponent(input)}`);
    assert.equal(r.status, 302, `${JSON.stringify(input)}: ${r.body.slice(0, 300)}`);
    assert.ok(r.headers.location.startsWith(`${hop.issuer('ok')}/authorize?`), input);
  });
});

test('after a real login the browser lands exactly on the accepted location', async () => {
  const g = good();
  // every foreign-origin line, and every third of the others
  const sample = g.filter(([, want], i) => !want.startsWith(`${SELF}/`) || i % 3 === 0);
  assert.ok(sample.length >= 15);
  for (const [input, want] of sample) {
    const jar = new CookieJar();
    const start = await request(`${daemon.url}/t/login?return_to=${encodeURIComponent(input)}`, { jar });
    assert.equal(start.status, 302);
    const cb = await loginAtOp(start.headers.location, 'eve', 'x', jar);
    const u = new URL(cb.url);
    assert.equal(u.origin, SELF, 'the IdP returns to the public callback');
    const fin = await request(`${daemon.url}${u.pathname}${u.search}`, { jar });
    assert.equal(fin.status, 302, `${input}: ${fin.body.slice(0, 300)}`);
    assert.equal(fin.headers.location, want, JSON.stringify(input));
  }
});
