// OpenID Connect login against the real oidc-provider: the happy path (query
// and form_post), every client authentication method, PKCE, the session and
// the embed token it yields, key rotation through a provider restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOp, loginAtOp } from './lib/op.mjs';
import { startDaemon } from './lib/daemon.mjs';
import { CookieJar } from './lib/jar.mjs';
import { request } from './lib/http.mjs';
import { stopAll } from './lib/proc.mjs';
import { makeJwks, writeJwks } from './lib/keys.mjs';
import { tempDir } from './lib/tmp.mjs';
import path from 'node:path';
import * as jose from 'jose';

const SECRET = 'CANARY-op-client-secret-0123456789abcdef';
let op; let daemon;

function tenant(issuer, extra = {}) {
  return {
    issuer,
    client_id: extra.client_id ?? 'tsso-basic',
    client_secret_file: '../secrets/client.secret',
    embed: {
      scheme: 'signed_jwt', issuer: 'toucan-sso-test', workspace_id: 'acme',
      audience: 'https://oauth.toucan.example/acme/oauth/oauth-token',
    },
    ...extra,
  };
}

before(async () => {
  const port = (await import('./lib/ports.mjs')).freePort;
  const dport = await port();
  const cb = (t) => `http://127.0.0.1:${dport}/${t}/callback`;
  op = await startOp({
    clients: [
      { client_id: 'tsso-basic', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [cb('acme'), cb('formpost')] },
      { client_id: 'tsso-post', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_post', redirect_uris: [cb('post')] },
      { client_id: 'tsso-jwt', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_jwt', redirect_uris: [cb('jwt')] },
    ],
  });
  daemon = await startDaemon({
    port: dport,
    generateKeys: true,
    files: { 'secrets/client.secret': SECRET + '\n' },
    tenants: {
      acme: tenant(op.issuer),
      formpost: tenant(op.issuer, { response_mode: 'form_post' }),
      post: tenant(op.issuer, { client_id: 'tsso-post', token_endpoint_auth_method: 'client_secret_post' }),
      jwt: tenant(op.issuer, { client_id: 'tsso-jwt', token_endpoint_auth_method: 'client_secret_jwt' }),
    },
  });
});

after(async () => { await stopAll(daemon, op); });

async function login(t, { returnTo = '/reports' } = {}) {
  const jar = new CookieJar();
  const start = await request(`${daemon.url}/${t}/login?return_to=${encodeURIComponent(returnTo)}`, { jar });
  assert.equal(start.status, 302, start.body);
  const cb = await loginAtOp(start.headers.location, 'alice', 'alice-password', jar);
  const fin = await request(cb.url, {
    method: cb.method, jar,
    body: cb.method === 'POST' ? new URLSearchParams(cb.fields) : undefined,
  });
  return { jar, fin, authorize: new URL(start.headers.location) };
}

for (const t of ['acme', 'formpost', 'post', 'jwt']) {
  test(`login and embed token (${t})`, async () => {
    const { jar, fin, authorize } = await login(t);
    // The OP offers PAR (RFC 9126), so the request itself went over the back channel.
    assert.match(authorize.searchParams.get('request_uri'), /^urn:ietf:params:oauth:request_uri:/);
    assert.equal([...authorize.searchParams.keys()].sort().join(','), 'client_id,request_uri');
    assert.ok([302, 303].includes(fin.status), `${fin.status} ${fin.body}`);
    assert.equal(fin.headers.location, `${daemon.url}/reports`);
    const tok = await request(`${daemon.url}/${t}/embed-token`, { jar });
    assert.equal(tok.status, 200, tok.body);
    const body = JSON.parse(tok.body);
    assert.ok(body.token && body.expires_at && body.expires_in);
    const jwks = jose.createLocalJWKSet(JSON.parse((await request(`${daemon.url}/.well-known/jwks.json`)).body));
    const { payload, protectedHeader } = await jose.jwtVerify(body.token, jwks, {
      issuer: 'toucan-sso-test', audience: 'https://oauth.toucan.example/acme/oauth/oauth-token',
    });
    assert.equal(protectedHeader.alg, 'RS512');
    assert.equal(payload.sub, 'toucan-embed-client');
    assert.equal(payload.embed_context.username, 'alice@acme.example');
  });
}

test('no session: embed-token answers 401 with the login URL', async () => {
  const r = await request(`${daemon.url}/acme/embed-token`);
  assert.equal(r.status, 401);
  assert.match(JSON.parse(r.body).login_url, /\/acme\/login$/);
});

test('a replayed callback is refused and creates no session', async () => {
  const jar = new CookieJar();
  const start = await request(`${daemon.url}/acme/login`, { jar });
  const cb = await loginAtOp(start.headers.location, 'alice', 'alice-password', jar);
  const saved = jar.clone ? jar.clone() : null;
  const first = await request(cb.url, { jar });
  assert.equal(first.status, 302);
  const jar2 = new CookieJar();
  const again = await request(cb.url, { jar: jar2 });
  assert.equal(again.status, 400);
  assert.match(again.body, /state\.unknown/);
  void saved;
});

test('key rotation at the OP: logins keep working after a restart with new keys', async () => {
  const jwks = await makeJwks(['RS256']);
  const f = path.join(tempDir('tsso-rot-'), 'jwks.json');
  writeJwks(f, jwks);
  await op.restart({ jwks_file: f });
  const { fin } = await login('acme');
  assert.equal(fin.status, 302, fin.body);
  assert.equal(fin.headers.location, `${daemon.url}/reports`);
});
