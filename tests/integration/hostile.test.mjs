// Every way tests/op/hostile-op.mjs tries to fool a relying party: each
// scenario must end exactly as its table says — a session for the lawful
// ones, and for the others no session, the expected reason on the error
// page, in the log (with the request id) and in /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHostileOp, hostileScenarios } from './lib/hostile.mjs';
import { loginAtOp } from './lib/op.mjs';
import { startDaemon } from './lib/daemon.mjs';
import { CookieJar } from './lib/jar.mjs';
import { request } from './lib/http.mjs';
import { stopAll } from './lib/proc.mjs';

const CANARY = 'CANARY-hostile-client-secret-5a5a5a5a5a5a';
let hop; let daemon;
const scenarios = hostileScenarios();

before(async () => {
  hop = await startHostileOp();
  const tenants = {};
  for (const s of scenarios) {
    tenants[s.name] = {
      issuer: hop.issuer(s.name),
      client_id: 'tsso-hostile',
      client_secret_file: '../secrets/client.secret',
      userinfo: s.name.startsWith('userinfo'),
      embed: {
        scheme: 'signed_jwt', issuer: 'toucan-sso-test', workspace_id: 'w',
        audience: 'https://oauth.toucan.example/t/oauth/oauth-token',
      },
    };
  }
  daemon = await startDaemon({
    generateKeys: true, tenants, files: { 'secrets/client.secret': `${CANARY}\n` },
  });
});

after(async () => { await stopAll(daemon, hop); });

async function attempt(name) {
  const jar = new CookieJar();
  const start = await request(`${daemon.url}/${name}/login`, { jar });
  let fin = start;
  if (start.status === 302) {
    const cb = await loginAtOp(start.headers.location, 'eve', 'x', jar);
    fin = await request(cb.url, {
      method: cb.method, jar, body: cb.method === 'POST' ? new URLSearchParams(cb.fields) : undefined,
    });
  }
  const tok = await request(`${daemon.url}/${name}/embed-token`, { jar });
  return { fin, tok };
}

for (const s of scenarios) {
  test(`${s.name}: ${s.expect}`, async () => {
    const { fin, tok } = await attempt(s.name);
    if (s.expect === 'ok') {
      assert.equal(fin.status, 302, fin.body.slice(0, 600));
      assert.equal(tok.status, 200, tok.body);
      return;
    }
    assert.ok(fin.status >= 400, `status ${fin.status}`);
    assert.ok(fin.body.includes(`<code>${s.expect}</code>`), `page shows ${s.expect}: ${fin.body.slice(0, 600)}`);
    assert.ok(!fin.body.includes(CANARY));
    assert.equal(tok.status, 401, 'no session was created');
    const rid = fin.headers['x-request-id'];
    const line = daemon.logs().find((l) => l.event === 'login.refused' && l.request_id === rid);
    assert.ok(line, `a login.refused log line for ${rid}`);
    assert.equal(line.reason, s.expect);
    assert.equal(line.tenant, s.name);
  });
}

test('refusals are counted in /metrics by tenant and reason', async () => {
  const m = (await request(`${daemon.url}/metrics`)).body;
  for (const s of scenarios.filter((x) => x.expect !== 'ok')) {
    assert.match(m, new RegExp(`tsso_refusals_total\\{tenant="${s.name}",reason="${s.expect.replace('.', '\\.')}"\\} [1-9]`));
  }
});

test('no secret reached the log', () => {
  const all = daemon.logs().map((l) => JSON.stringify(l)).join('\n');
  assert.ok(!all.includes(CANARY));
});
