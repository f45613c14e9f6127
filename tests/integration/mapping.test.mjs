// Issue 4 through the real binary: `toucan-sso map` with every preset and a
// realistic claim set per IdP (and the embed token a real login with the same
// claims mints: identical embed_context), `toucan-sso check` on bad rules,
// access rules ending on a 403 page, and Entra ID group overage resolved
// through a distributed-claims endpoint or refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';
import { startMiniOp, startHttpsJson } from './lib/miniop.mjs';
import { startDaemon, sourceRoot, writeConfig, runCli } from './lib/daemon.mjs';
import { makeCa, makeServerCert } from './lib/tls.mjs';
import { CookieJar } from './lib/jar.mjs';
import { request } from './lib/http.mjs';
import { stopAll } from './lib/proc.mjs';

const CLAIMS = path.join(sourceRoot(), 'tests', 'unit', 'data', 'claims');
const PRESETS = fs.readdirSync(path.join(sourceRoot(), 'conf', 'presets')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
const SECRET = 'mapping-test-client-secret-0123456789abcdef';
const EMBED = {
  scheme: 'signed_jwt', issuer: 'toucan-sso-test', workspace_id: 'ws-acme',
  audience: 'https://oauth.toucan.example/acme/oauth/oauth-token',
};
const AI = { scheme: 'api', toucan_url: 'http://127.0.0.1:9', api_key_file: '../secrets/toucan.key' };
const PROTOCOL = ['iss', 'aud', 'exp', 'iat', 'nbf', 'nonce', 'auth_time', 'at_hash', 'c_hash', 'azp', 'jti'];

// A realistic claim set per preset, and what the login must give.
const CASES = [
  { preset: 'okta', file: 'okta.json', user: 'jane.doe@acme.example', roles: ['ADMIN'], ai_role: 'explorer', groups: ['toucan-admins', 'sales-emea'], attributes: { okta_user_id: '00uid4BxXw6I6TV4m0g3' } },
  { preset: 'entra-id', file: 'entra-id.json', user: 'abeli@contoso.example', roles: ['USER'], ai_role: 'maker', groups: ['0b1c3e2a-6b7e-4d5f-9a3c-2f1e0d9c8b7a', '9f2e4d6c-1a3b-4c5d-8e7f-6a5b4c3d2e1f'], attributes: { tenant_id: '9122040d-6c67-4c5b-b112-36a304b66dad', object_id: '00000000-0000-0000-66f3-3332eca7ea81' } },
  { preset: 'google-workspace', file: 'google-workspace.json', user: 'jsmith@acme.example', ai_role: 'explorer', groups: [], attributes: { domain: 'acme.example' } },
  { preset: 'keycloak', file: 'keycloak.json', user: 'ktan', roles: ['ADMIN'], ai_role: 'explorer', groups: ['sales/emea', 'finance'] },
  { preset: 'auth0', file: 'auth0.json', user: 'pat@acme.example', ai_role: 'maker', groups: ['analysts', 'emea'], attributes: { org_id: 'org_9ybsU1dN2dKfDkBi' } },
  { preset: 'ping', file: 'ping.json', userinfo: 'ping.userinfo.json', user: 'lee.chan@acme.example', roles: ['ADMIN'], ai_role: 'maker', groups: ['sales', 'toucan-makers', 'toucan-admins'] },
];
const REFUSED = [
  { preset: 'entra-id', file: 'entra-id-overage.json', reason: 'mapping.groups_overage' },
  { preset: 'google-workspace', file: 'google-consumer.json', reason: 'mapping.access_denied' },
  { preset: 'auth0', file: 'auth0-unverified.json', reason: 'mapping.access_denied' },
  { preset: 'ping', file: 'ping-truncated.json', reason: 'mapping.access_denied' },
];

let mini; let daemon; let claimsSrv; let tmp;

function readClaims(file) { return JSON.parse(fs.readFileSync(path.join(CLAIMS, file), 'utf8')); }
function idClaims(file) {
  const c = readClaims(file);
  for (const k of PROTOCOL) delete c[k];
  return c;
}

before(async () => {
  mini = await startMiniOp();
  const ca = makeCa();
  const cert = makeServerCert(ca, { name: 'claims' });
  // A distributed-claims endpoint: Graph-like answer for /graph, claim-named for /direct.
  claimsSrv = await startHttpsJson(cert, (req, u) => {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !mini.tokens.has(auth.slice(7))) return { status: 401, body: { error: 'invalid_token' } };
    if (u.pathname === '/graph') return { body: { value: ['0b1c3e2a-6b7e-4d5f-9a3c-2f1e0d9c8b7a', '9f2e4d6c-1a3b-4c5d-8e7f-6a5b4c3d2e1f'] } };
    if (u.pathname === '/direct') return { body: { groups: ['direct-1'] } };
    if (u.pathname === '/jwt') return { body: 'eyJhbGciOiJub25lIn0.eyJncm91cHMiOlsieCJdfQ.', type: 'application/jwt' };
    if (u.pathname === '/badvalue') return { body: { value: [{ id: 1 }] } };
    if (u.pathname === '/dup') return { body: '{"groups":["a"],"groups":["b"]}' };
    return { status: 500, body: { error: 'boom' } };
  });
  const tenants = {};
  const viaMini = (mapping, extra = {}) => ({
    issuer: mini.issuer, client_id: 'tsso-map', client_secret_file: '../secrets/client.secret', embed: EMBED, mapping, ...extra,
  });
  for (const p of PRESETS) {
    tenants[p] = viaMini({ preset: p }, { userinfo: false });
    tenants[`${p}-ai`] = { ...viaMini({ preset: p }), embed: AI };
  }
  tenants.access = viaMini({
    access: [
      { claim: 'email_verified', equals: true, description: 'a verified email address' },
      { claim: 'email', transforms: ['lower', { match: '@([^@]+)$' }], in: ['acme.example'], description: 'an acme.example address' },
    ],
  });
  tenants.dres = viaMini({ preset: 'entra-id', distributed_claims: 'resolve' }, { ca_file: cert.ca, distributed_claims_origins: [claimsSrv.origin] });
  tenants.dnotlisted = viaMini({ preset: 'entra-id', distributed_claims: 'resolve' }, { ca_file: cert.ca });
  tenants.drefuse = viaMini({ preset: 'entra-id' }, { ca_file: cert.ca, distributed_claims_origins: [claimsSrv.origin] });
  daemon = await startDaemon({
    generateKeys: true,
    files: { 'secrets/client.secret': `${SECRET}\n`, 'secrets/toucan.key': 'toucan-api-key-0123456789abcdef\n' },
    tenants,
  });
  tmp = fs.mkdtempSync(path.join(daemon.dir, 'claims-'));
});

after(async () => {
  await claimsSrv?.stop();
  await mini?.stop();
  await stopAll(daemon);
});

function claimsFile(name, content) {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, JSON.stringify(content));
  return f;
}

async function map(tenant, file) {
  return daemon.cli(['map', '--tenant', tenant, '--claims', file]);
}

/** Log in through the mini OP whose ID token carries `claims`; returns {jar, fin}. */
async function loginWith(tenant, claims) {
  mini.setClaims(() => claims);
  const jar = new CookieJar();
  const start = await request(`${daemon.url}/${tenant}/login?return_to=%2Fdash`, { jar });
  assert.equal(start.status, 302, start.body.slice(0, 300));
  const back = await request(start.headers.location); // the mini OP answers at once
  assert.equal(back.status, 302);
  const fin = await request(back.headers.location, { jar });
  return { jar, fin };
}

async function embedContext(tenant, jar) {
  const tok = await request(`${daemon.url}/${tenant}/embed-token`, { jar });
  assert.equal(tok.status, 200, tok.body);
  const jwks = jose.createLocalJWKSet(JSON.parse((await request(`${daemon.url}/.well-known/jwks.json`)).body));
  const { payload } = await jose.jwtVerify(JSON.parse(tok.body).token, jwks, { issuer: 'toucan-sso-test' });
  return payload.embed_context;
}

test('there is a case for every preset in conf/presets', () => {
  assert.deepEqual([...new Set(CASES.map((c) => c.preset))].sort(), [...PRESETS].sort());
});

for (const c of CASES) {
  test(`map --tenant ${c.preset} prints the embed_context a real login mints`, async () => {
    const input = c.userinfo ? { id_token: readClaims(c.file), userinfo: readClaims(c.userinfo) } : readClaims(c.file);
    const r = await map(c.preset, claimsFile(`${c.preset}.json`, input));
    assert.equal(r.code, 0, r.stderr);
    const ctx = JSON.parse(r.stdout);
    assert.equal(ctx.username, c.user);
    assert.equal(ctx.workspace_id, 'ws-acme');
    assert.deepEqual(ctx.roles, c.roles ?? ['USER']);
    assert.deepEqual(ctx.groups, c.groups);
    assert.deepEqual(ctx.attributes, c.attributes ?? {});
    if (c.userinfo) return; // the mini OP has no UserInfo endpoint
    // a login whose ID token carries the same claims mints exactly that
    const { jar, fin } = await loginWith(c.preset, idClaims(c.file));
    assert.equal(fin.status, 302, fin.body.slice(0, 500));
    assert.deepEqual(await embedContext(c.preset, jar), ctx);
  });
  test(`map --tenant ${c.preset}-ai prints the Toucan AI user`, async () => {
    const input = c.userinfo ? { id_token: readClaims(c.file), userinfo: readClaims(c.userinfo) } : readClaims(c.file);
    const r = await map(`${c.preset}-ai`, claimsFile(`${c.preset}-ai.json`, input));
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.equal(body.user.distinctId, c.user);
    assert.equal(body.user.role, c.ai_role);
  });
}

for (const c of REFUSED) {
  test(`map refuses ${c.file} (${c.reason}) and a login with it ends without a session`, async () => {
    const r = await map(c.preset, path.join(CLAIMS, c.file));
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^${c.reason.replace('.', '\\.')}: `, 'm'));
    const { jar, fin } = await loginWith(c.preset, idClaims(c.file));
    assert.equal(fin.status, 403, fin.body.slice(0, 300));
    assert.ok(fin.body.includes(`<code>${c.reason}</code>`));
    assert.equal((await request(`${daemon.url}/${c.preset}/embed-token`, { jar })).status, 401);
  });
}

test('map lists every reason a login would be refused, one per line', async () => {
  const f = claimsFile('empty.json', {});
  const r = await map('okta', f);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.length >= 1);
  for (const l of lines) assert.match(l, /^mapping\.[a-z_]+: \S/);
  const bad = await daemon.cli(['map', '--tenant', 'nope', '--claims', f]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no tenant "nope"/);
  const notJson = claimsFile('bad.json', '');
  fs.writeFileSync(notJson, '{"sub": "a", "sub": "b"}');
  assert.equal((await map('okta', notJson)).code, 1, 'duplicate claim names refused');
});

test('check reports bad mapping rules as FILE: KEY: problem', async () => {
  const cfg = await writeConfig({
    files: { 'secrets/client.secret': `${SECRET}\n` },
    tenants: {
      bad: {
        issuer: 'http://127.0.0.1:9', client_id: 'c', client_secret_file: '../secrets/client.secret', embed: EMBED,
        mapping: {
          attributes: {
            re: { claim: 'x', transforms: [{ match: '(unclosed' }] },
            tr: { claim: 'x', transforms: ['capitalize'] },
            num: { claim: 'x', type: 'number', default: 'three' },
            numtr: { claim: 'x', type: 'number', transforms: ['lower'] },
            ty: { claim: 'x', type: 'integer' },
          },
          groups: { claim: 'groups', tranforms: [] },
        },
      },
      good: { issuer: 'http://127.0.0.1:9', client_id: 'c', client_secret_file: '../secrets/client.secret', embed: EMBED, mapping: { preset: 'okta' } },
    },
  });
  const r = await runCli(['check', '-c', cfg.configPath]);
  assert.equal(r.code, 1);
  const file = path.join(cfg.dir, 'tenants.d', 'bad.json');
  const lines = `${r.stdout}${r.stderr}`.trim().split('\n').filter((l) => l.includes('mapping'));
  const want = ['mapping.attributes.re.transforms[0]', 'mapping.attributes.tr.transforms[0]', 'mapping.attributes.num',
    'mapping.attributes.numtr', 'mapping.attributes.ty', 'mapping.groups'];
  for (const key of want) {
    const l = lines.find((x) => x.startsWith(`${file}: ${key}`));
    assert.ok(l, `a problem for ${key} in:\n${lines.join('\n')}`);
    assert.match(l, /^[^:]+: [^:]+: \S/);
  }
  assert.ok(lines.some((l) => /regular expression/.test(l)));
  assert.ok(!lines.some((l) => l.includes('good.json')), 'the good tenant has no problem');
  const ok = await writeConfig({
    files: { 'secrets/client.secret': `${SECRET}\n` },
    tenants: Object.fromEntries(PRESETS.map((p) => [p, { issuer: 'http://127.0.0.1:9', client_id: 'c', client_secret_file: '../secrets/client.secret', embed: EMBED, mapping: { preset: p } }])),
  });
  const r2 = await runCli(['check', '-c', ok.configPath]);
  assert.equal(r2.code, 0, `${r2.stdout}${r2.stderr}`);
});

test('access rules: a failed condition ends on a 403 naming it, with no session', async () => {
  const base = { sub: 'u1', email: 'Someone@Other.example', email_verified: true };
  const no = await loginWith('access', base);
  assert.equal(no.fin.status, 403);
  assert.ok(no.fin.body.includes('<code>mapping.access_denied</code>'));
  assert.match(no.fin.body, /mapping\.access\[1\]/);
  assert.match(no.fin.body, /an acme\.example address/);
  assert.ok(!no.fin.body.includes('Other.example'), 'the claim value is not shown');
  assert.equal((await request(`${daemon.url}/access/embed-token`, { jar: no.jar })).status, 401);
  const rid = no.fin.headers['x-request-id'];
  const line = await daemon.waitForLog((l) => l.request_id === rid && l.event === 'login.refused');
  assert.equal(line.reason, 'mapping.access_denied');
  const unverified = await loginWith('access', { ...base, email: 'a@acme.example', email_verified: false });
  assert.equal(unverified.fin.status, 403);
  assert.match(unverified.fin.body, /mapping\.access\[0\]/);
  assert.match(unverified.fin.body, /a verified email address/);
  const yes = await loginWith('access', { ...base, email: 'Someone@ACME.example' });
  assert.equal(yes.fin.status, 302, yes.fin.body.slice(0, 300));
  assert.equal((await embedContext('access', yes.jar)).username, 'Someone@ACME.example');
  assert.match(await daemon.metrics(), /tsso_refusals_total\{tenant="access",reason="mapping\.access_denied"\} 2/);
});

function overage(endpoint) {
  const c = idClaims('entra-id.json');
  delete c.groups;
  return { ...c, _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint } } };
}

test('group overage resolved through the distributed-claims endpoint with the access token', async () => {
  const before = claimsSrv.requests.length;
  const { jar, fin } = await loginWith('dres', overage(`${claimsSrv.origin}/graph`));
  assert.equal(fin.status, 302, fin.body.slice(0, 500));
  const ctx = await embedContext('dres', jar);
  assert.deepEqual(ctx.groups, ['0b1c3e2a-6b7e-4d5f-9a3c-2f1e0d9c8b7a', '9f2e4d6c-1a3b-4c5d-8e7f-6a5b4c3d2e1f']);
  const req = claimsSrv.requests.slice(before);
  assert.equal(req.length, 1);
  assert.equal(req[0].method, 'GET');
  assert.match(req[0].authorization, /^Bearer [A-Za-z0-9_-]{43}$/);
  const direct = await loginWith('dres', overage(`${claimsSrv.origin}/direct`));
  assert.equal(direct.fin.status, 302, direct.fin.body.slice(0, 500));
  assert.deepEqual((await embedContext('dres', direct.jar)).groups, ['direct-1']);
});

test('group overage: endpoint failing, not allowed, or absent ends with claims_unavailable', async () => {
  const n0 = claimsSrv.requests.length;
  const fail = await loginWith('dres', overage(`${claimsSrv.origin}/broken`));
  assert.equal(fail.fin.status, 503, fail.fin.body.slice(0, 300));
  assert.ok(fail.fin.body.includes('<code>mapping.claims_unavailable</code>'));
  assert.equal(fail.fin.headers['retry-after'], '30');
  assert.equal((await request(`${daemon.url}/dres/embed-token`, { jar: fail.jar })).status, 401);
  assert.equal(claimsSrv.requests.length, n0 + 1);
  // an origin the tenant does not list never receives the access token
  const notListed = await loginWith('dnotlisted', overage(`${claimsSrv.origin}/graph`));
  assert.equal(notListed.fin.status, 503);
  assert.ok(notListed.fin.body.includes('<code>mapping.claims_unavailable</code>'));
  const other = await loginWith('dres', overage('https://127.0.0.2:9/graph'));
  assert.equal(other.fin.status, 503);
  assert.equal(claimsSrv.requests.length, n0 + 1, 'nothing sent to an origin not allowed');
  const line = await daemon.waitForLog((l) => l.request_id === notListed.fin.headers['x-request-id'] && l.event === 'login.refused');
  assert.match(line.detail, /distributed_claims_origins/);
  // userinfo in an allowed origin's URL is refused before any request
  const ui = await loginWith('dres', overage(claimsSrv.origin.replace('https://', 'https://evil@') + '/graph'));
  assert.equal(ui.fin.status, 503);
  assert.equal(claimsSrv.requests.length, n0 + 1, 'nothing sent for a URL with userinfo');
  // answers we cannot trust: an unverifiable JWT, a list of non-strings, duplicate members
  for (const [p, why] of [['/jwt', /signed claims answers/], ['/badvalue', /does not hold it/], ['/dup', /not a JSON object/]]) {
    const r = await loginWith('dres', overage(`${claimsSrv.origin}${p}`));
    assert.equal(r.fin.status, 503, p);
    assert.ok(r.fin.body.includes('<code>mapping.claims_unavailable</code>'), p);
    const l = await daemon.waitForLog((x) => x.request_id === r.fin.headers['x-request-id'] && x.event === 'login.refused');
    assert.match(l.detail, why, p);
  }
  // Entra's "hasgroups": no endpoint to ask
  const c = idClaims('entra-id.json');
  delete c.groups;
  const has = await loginWith('dres', { ...c, hasgroups: true });
  assert.equal(has.fin.status, 503);
  assert.ok(has.fin.body.includes('<code>mapping.claims_unavailable</code>'));
});

test('group overage with the default "refuse": a clear page, no session, no fetch', async () => {
  const n0 = claimsSrv.requests.length;
  const { jar, fin } = await loginWith('drefuse', overage(`${claimsSrv.origin}/graph`));
  assert.equal(fin.status, 403);
  assert.ok(fin.body.includes('<code>mapping.groups_overage</code>'));
  assert.match(fin.body, /groups/);
  assert.equal(claimsSrv.requests.length, n0);
  assert.equal((await request(`${daemon.url}/drefuse/embed-token`, { jar })).status, 401);
});
