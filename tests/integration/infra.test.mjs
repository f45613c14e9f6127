// Proves the integration-test infrastructure without the C daemon: the real
// oidc-provider (http and https), the hostile OP's scenarios, the Toucan
// stand-in's two schemes and controls, redis-server, and the config writer.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  createLocalJWKSet, jwtVerify, SignJWT, exportJWK, generateKeyPair, decodeProtectedHeader,
} from 'jose';
import { startOp, loginAtOp, logoutAtOp, parseForms } from './lib/op.mjs';
import { startHostileOp } from './lib/hostile.mjs';
import { referenceLogin } from './lib/refrp.mjs';
import { startToucan } from './lib/toucan.mjs';
import { startRedis, redisCommand } from './lib/redis.mjs';
import { writeConfig, sourceRoot } from './lib/daemon.mjs';
import { CookieJar, jarFetch } from './lib/jar.mjs';
import { request, requestJson } from './lib/http.mjs';
import {
  makeJwks, writeJwks, publicJwks, signJwt,
} from './lib/keys.mjs';
import { verifyEmbedJwt, opensslVerifyJws } from './lib/embedcheck.mjs';
import { freePort, portOpen } from './lib/ports.mjs';
import { startProcess, tempDir, stopAll } from './lib/proc.mjs';
import { launchBrowser, chromiumPath, fillOpLogin } from './lib/browser.mjs';
import {
  daemonLogin, tamperCallback, deliverCallback, embedToken, hasSession,
} from './lib/flow.mjs';
import {
  b64u, RP, pkce, authorizeUrl, recorder, until, codeFlow, startFakeRp,
} from './lib/testkit.mjs';

describe('oidc-provider (real OP)', () => {
  const secret = 'rp-secret-0123456789abcdef0123456789';
  let op;
  let opsHttps;
  let bcl;
  let privateJwk;
  let jwksDir;
  const clients = {};
  before(async () => {
    bcl = await recorder();
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    privateJwk = { ...(await exportJWK(privateKey)), kid: 'rp-key-1', alg: 'ES256', use: 'sig' };
    jwksDir = tempDir('tsso-infra-keys-');
    writeJwks(path.join(jwksDir, 'op-1.json'), await makeJwks(['RS256', 'ES256', 'EdDSA'], 'gen1'));
    writeJwks(path.join(jwksDir, 'op-2.json'), await makeJwks(['RS256', 'ES256', 'EdDSA'], 'gen2'));
    Object.assign(clients, {
      basic: { client_id: 'rp-basic', client_secret: secret, redirect_uris: [RP], post_logout_redirect_uris: ['http://127.0.0.1:9/bye'], backchannel_logout_uri: `${bcl.url}/bcl`, backchannel_logout_session_required: true },
      post: { client_id: 'rp-post', client_secret: secret, token_endpoint_auth_method: 'client_secret_post', redirect_uris: [RP] },
      jwt: { client_id: 'rp-jwt', client_secret: secret, token_endpoint_auth_method: 'client_secret_jwt', redirect_uris: [RP] },
      pkjwt: { client_id: 'rp-pkjwt', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwks({ keys: [privateJwk] }).keys[0]] }, redirect_uris: [RP] },
      es: { client_id: 'rp-es', client_secret: secret, id_token_signed_response_alg: 'ES256', redirect_uris: [RP] },
      ed: { client_id: 'rp-ed', client_secret: secret, id_token_signed_response_alg: 'EdDSA', redirect_uris: [RP] },
      browser: { client_id: 'rp-browser', client_secret: secret, redirect_uris: [`${bcl.url}/callback`] },
    });
    op = await startOp({
      jwks_file: path.join(jwksDir, 'op-1.json'),
      clients: Object.values(clients),
      accounts: [{
        sub: 'alice', password: 'alice-password', email: 'alice@acme.example', email_verified: true, name: 'Alice Example', preferred_username: 'alice', groups: ['analysts', 'emea'],
      }],
      ttl: { AccessToken: 120, IdToken: 120 },
    });
    opsHttps = await startOp({ https: true, clients: [clients.basic] });
  });
  after(async () => { await stopAll(op, opsHttps); await bcl?.close(); });

  test('ready line reports issuer and signing kids', () => {
    assert.match(op.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(op.kids, ['gen1-rs256', 'gen1-es256', 'gen1-eddsa']);
  });

  test('discovery advertises PKCE S256, PAR, RFC 9207, logout, form_post', async () => {
    const m = (await requestJson(`${op.issuer}/.well-known/openid-configuration`)).json;
    assert.equal(m.issuer, op.issuer);
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    assert.ok(m.pushed_authorization_request_endpoint);
    assert.equal(m.authorization_response_iss_parameter_supported, true);
    assert.ok(m.end_session_endpoint);
    assert.equal(m.backchannel_logout_supported, true);
    assert.ok(m.response_modes_supported.includes('form_post'));
    assert.ok(m.id_token_signing_alg_values_supported.includes('EdDSA'));
  });

  test('code + PKCE, query mode, client_secret_basic, claims from the account store', async () => {
    const { claims, tokens, meta } = await codeFlow(op, clients.basic);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.email, 'alice@acme.example');
    assert.deepEqual(claims.groups, ['analysts', 'emea']);
    assert.ok(claims.at_hash);
    const ui = await requestJson(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(ui.status, 200);
    assert.equal(ui.json.sub, 'alice');
    assert.equal(ui.json.preferred_username, 'alice');
  });

  test('form_post mode returns the auto-submit form fields', async () => {
    const { claims } = await codeFlow(op, clients.basic, { mode: 'form_post' });
    assert.equal(claims.sub, 'alice');
  });

  test('client_secret_post, client_secret_jwt and private_key_jwt', async () => {
    assert.equal((await codeFlow(op, clients.post, { auth: 'post' })).claims.aud, 'rp-post');
    assert.equal((await codeFlow(op, clients.jwt, { auth: 'client_secret_jwt' })).claims.aud, 'rp-jwt');
    assert.equal((await codeFlow(op, { ...clients.pkjwt, privateJwk }, { auth: 'private_key_jwt' })).claims.aud, 'rp-pkjwt');
  });

  test('a client without its secret is refused at the token endpoint', async () => {
    await assert.rejects(codeFlow(op, { ...clients.basic, client_secret: 'wrong' }), /401|invalid_client/);
  });

  test('ES256 and EdDSA ID tokens per client', async () => {
    assert.equal((await codeFlow(op, clients.es)).header.alg, 'ES256');
    const ed = await codeFlow(op, clients.ed);
    assert.equal(ed.header.alg, 'EdDSA');
    assert.equal(ed.header.kid, 'gen1-eddsa');
  });

  test('PKCE is required: no code_challenge gets an error back at the RP', async () => {
    const meta = (await requestJson(`${op.issuer}/.well-known/openid-configuration`)).json;
    const cb = await loginAtOp(authorizeUrl(meta, {
      client_id: 'rp-basic', response_type: 'code', scope: 'openid', redirect_uri: RP, state: 's1', nonce: 'n1',
    }), 'alice', 'alice-password', new CookieJar());
    assert.equal(cb.fields.error, 'invalid_request');
    assert.match(cb.fields.error_description, /PKCE/);
    const plain = await loginAtOp(authorizeUrl(meta, {
      client_id: 'rp-basic', response_type: 'code', scope: 'openid', redirect_uri: RP, state: 's1', nonce: 'n1', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain',
    }), 'alice', 'alice-password', new CookieJar());
    assert.equal(plain.fields.error, 'invalid_request');
  });

  test('a wrong password is refused by the login form', async () => {
    const meta = (await requestJson(`${op.issuer}/.well-known/openid-configuration`)).json;
    const { challenge } = pkce();
    await assert.rejects(loginAtOp(authorizeUrl(meta, {
      client_id: 'rp-basic', response_type: 'code', scope: 'openid', redirect_uri: RP, state: 's', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256',
    }), 'alice', 'not-her-password', new CookieJar()), /login refused/);
  });

  test('the login page is a plain HTML form (no script needed)', async () => {
    const meta = (await requestJson(`${op.issuer}/.well-known/openid-configuration`)).json;
    const jar = new CookieJar();
    const { challenge } = pkce();
    const r1 = await request(authorizeUrl(meta, {
      client_id: 'rp-basic', response_type: 'code', scope: 'openid', redirect_uri: RP, state: 's', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256',
    }), { jar });
    assert.equal(r1.status, 303);
    const r2 = await request(new URL(r1.headers.location, op.issuer).href, { jar });
    assert.equal(r2.status, 200);
    assert.doesNotMatch(r2.body, /<script/i);
    const f = parseForms(r2.body).find((x) => x.id === 'login-form');
    assert.equal(f.method, 'POST');
    assert.deepEqual(f.inputs, ['login', 'password']);
  });

  test('PAR: pushed request then authorize by request_uri', async () => {
    const meta = (await requestJson(`${op.issuer}/.well-known/openid-configuration`)).json;
    const { challenge } = pkce();
    const par = await requestJson(meta.pushed_authorization_request_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`rp-basic:${secret}`).toString('base64')}` },
      body: new URLSearchParams({
        client_id: 'rp-basic', response_type: 'code', scope: 'openid', redirect_uri: RP, state: 'par-state', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256',
      }),
    });
    assert.equal(par.status, 201, par.body);
    assert.match(par.json.request_uri, /^urn:ietf:params:oauth:request_uri:/);
    const cb = await loginAtOp(authorizeUrl(meta, { client_id: 'rp-basic', request_uri: par.json.request_uri }), 'alice', 'alice-password', new CookieJar());
    assert.equal(cb.fields.state, 'par-state');
    assert.ok(cb.fields.code);
  });

  test('RP-initiated logout sends a back-channel logout token', async () => {
    const { tokens, meta, jar } = await codeFlow(op, clients.basic);
    const u = new URL(meta.end_session_endpoint);
    u.searchParams.set('id_token_hint', tokens.id_token);
    u.searchParams.set('post_logout_redirect_uri', 'http://127.0.0.1:9/bye');
    u.searchParams.set('state', 'lo-state');
    const out = await logoutAtOp(u.href, jar);
    assert.equal(out.url?.split('?')[0], 'http://127.0.0.1:9/bye');
    assert.equal(out.fields.state, 'lo-state');
    await until(() => bcl.seen.length > 0);
    const lt = new URLSearchParams(bcl.seen[0].body).get('logout_token');
    const jwks = (await requestJson(meta.jwks_uri)).json;
    const { payload } = await jwtVerify(lt, createLocalJWKSet(jwks), { issuer: op.issuer, audience: 'rp-basic' });
    assert.ok(payload.events['http://schemas.openid.net/event/backchannel-logout']);
    assert.equal(payload.sub, 'alice');
    assert.ok(payload.sid);
    assert.equal(payload.nonce, undefined);
  });

  test('key rotation by restart: same issuer, new kids, old ID tokens no longer verify', async () => {
    const before = await codeFlow(op, clients.basic);
    await op.restart({ jwks_file: path.join(jwksDir, 'op-2.json') });
    assert.deepEqual(op.kids, ['gen2-rs256', 'gen2-es256', 'gen2-eddsa']);
    const after2 = await codeFlow(op, clients.basic);
    assert.equal(after2.header.kid, 'gen2-rs256');
    const jwks = (await requestJson(after2.meta.jwks_uri)).json;
    await assert.rejects(jwtVerify(before.tokens.id_token, createLocalJWKSet(jwks)), /no applicable key|JWKSNoMatchingKey/i);
  });

  test('a real browser (headless Chromium) fills the login form; query and form_post', { skip: !chromiumPath() && 'chromium not installed' }, async () => {
    const meta = (await requestJson(`${op.issuer}/.well-known/openid-configuration`)).json;
    const b = await launchBrowser();
    try {
      for (const mode of ['query', 'form_post']) {
        bcl.seen.length = 0;
        const { challenge } = pkce();
        await b.context.clearCookies();
        await b.page.goto(authorizeUrl(meta, {
          client_id: 'rp-browser', response_type: 'code', scope: 'openid email', redirect_uri: `${bcl.url}/callback`, state: `st-${mode}`, nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256', response_mode: mode,
        }));
        await fillOpLogin(b.page, 'alice', 'alice-password');
        await until(() => bcl.seen.some((r) => r.url.startsWith('/callback')));
        const hit = bcl.seen.find((r) => r.url.startsWith('/callback'));
        const fields = mode === 'query' ? new URL(hit.url, bcl.url).searchParams : new URLSearchParams(hit.body);
        assert.equal(hit.method, mode === 'query' ? 'GET' : 'POST');
        assert.equal(fields.get('state'), `st-${mode}`);
        assert.equal(fields.get('iss'), op.issuer);
        assert.ok(fields.get('code'));
      }
    } finally { await b.close(); }
  });

  test('issuer with a path (Keycloak-style /realms/acme): every endpoint under it', async () => {
    const kc = await startOp({ issuer_path: '/realms/acme', clients: [clients.basic] });
    try {
      assert.match(kc.issuer, /\/realms\/acme$/);
      const { claims, meta } = await codeFlow(kc, clients.basic);
      assert.equal(claims.iss, kc.issuer);
      for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'end_session_endpoint']) {
        assert.ok(meta[k].startsWith(`${kc.issuer}/`), k);
      }
    } finally { await kc.stop(); }
  });

  test('https with a test CA: discovery and a full login', async () => {
    assert.match(opsHttps.issuer, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(fs.existsSync(opsHttps.ca));
    await assert.rejects(request(`${opsHttps.issuer}/.well-known/openid-configuration`), /certificate|self-signed|unable to verify/i);
    const { claims } = await codeFlow(opsHttps, clients.basic, { ca: opsHttps.ca });
    assert.equal(claims.iss, opsHttps.issuer);
  });
});

describe('flow helpers against a fake relying party', () => {
  let op;
  let rp;
  let d;
  before(async () => {
    const secret = 'fake-rp-secret-0123456789abcdef';
    rp = await startFakeRp({ clientId: 'fake-rp', secret });
    ({ d } = rp);
    op = await startOp({ clients: [{ client_id: 'fake-rp', client_secret: secret, redirect_uris: [`${rp.url}/acme/callback`] }] });
    rp.setIssuer(op.issuer);
  });
  after(async () => { await stopAll(op); await rp?.close(); });

  test('daemonLogin: query and form_post end with a session; embedToken/hasSession see it', async () => {
    for (const mode of ['query', 'form_post']) {
      const r = await daemonLogin(d, 'acme', { returnTo: '/reports', query: { mode } });
      assert.equal(r.callback.method, mode === 'query' ? 'GET' : 'POST');
      assert.equal(r.response.status, 302);
      assert.equal(r.response.headers.get('location'), '/reports');
      assert.equal((await embedToken(d, 'acme', r.jar)).json.token, 't');
      assert.equal(await hasSession(d, 'acme', r.jar), true);
    }
  });

  test('tamperCallback + deliverCallback: a changed state gets no session', async () => {
    for (const mode of ['query', 'form_post']) {
      const jar = new CookieJar();
      const start = await jarFetch(jar, d.tenantUrl('acme', `/login?return_to=/&mode=${mode}`));
      const cb = await loginAtOp(start.headers.get('location'), 'alice', 'alice-password', jar);
      const bad = tamperCallback(cb, { state: 'forged' });
      assert.equal(bad.fields.state, 'forged');
      assert.equal(cb.fields.state === 'forged', false, 'the original is untouched');
      const r = await deliverCallback(jar, bad);
      assert.equal(r.status, 400);
      assert.equal(await r.text(), 'state.mismatch');
      assert.equal(await hasSession(d, 'acme', jar), false);
      assert.equal(tamperCallback(cb, { iss: null }).fields.iss, undefined);
    }
  });
});

describe('hostile OP', () => {
  let h;
  before(async () => { h = await startHostileOp(); });
  after(async () => { await stopAll(h); });

  test('every scenario of the table is served and ends with its expected reason (reference RP)', async () => {
    const got = {};
    for (const s of h.scenarios) {
      got[s.name] = (await referenceLogin(h.issuer(s.name), 'toucan-sso')).reason;
    }
    const want = Object.fromEntries(h.scenarios.map((s) => [s.name, s.expect]));
    assert.deepEqual(got, want);
  });

  test('form_post works for the hostile OP too', async () => {
    assert.equal((await referenceLogin(h.issuer('ok'), 'toucan-sso', { responseMode: 'form_post' })).reason, 'ok');
    assert.equal((await referenceLogin(h.issuer('state_mismatch'), 'toucan-sso', { responseMode: 'form_post' })).reason, 'state.mismatch');
  });

  test('key_rotated: one refetch of the JWKS per login, a new kid each time', async () => {
    await h.reset();
    const a = await referenceLogin(h.issuer('key_rotated'), 'toucan-sso');
    const b = await referenceLogin(h.issuer('key_rotated'), 'toucan-sso');
    assert.equal(a.reason, 'ok');
    assert.equal(b.reason, 'ok');
    assert.notEqual(a.header.kid, b.header.kid);
    assert.equal((await h.stats('key_rotated')).jwks, 4); // cached copy + one refetch, twice
  });

  test('key_rotation_manual: after _rotate it signs with the new key, publishes old + new; retire drops the old', async () => {
    await h.reset();
    const a = await referenceLogin(h.issuer('key_rotation_manual'), 'toucan-sso');
    assert.equal(a.reason, 'ok');
    assert.equal(a.header.kid, 'manual-1');
    assert.equal((await h.stats('key_rotation_manual')).jwks, 1);
    const r = await h.rotate();
    assert.deepEqual(r.published, ['manual-1', 'manual-2']);
    const b = await referenceLogin(h.issuer('key_rotation_manual'), 'toucan-sso');
    assert.equal(b.reason, 'ok', h.diag());
    assert.equal(b.header.kid, 'manual-2');
    const jwks = (await requestJson(`${h.issuer('key_rotation_manual')}/jwks`)).json;
    assert.deepEqual(jwks.keys.map((k) => k.kid), ['manual-1', 'manual-2']);
    assert.deepEqual((await h.rotate(undefined, { retire: true })).published, ['manual-3']);
  });

  test('the authorize endpoint demands PKCE S256 and records the request', async () => {
    const u = new URL(`${h.issuer('ok')}/authorize`);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: 'c', redirect_uri: RP, scope: 'openid', state: 'st' })) u.searchParams.set(k, v);
    const r = await request(u.href).catch((e) => { throw new Error(`${e.message}\n${h.diag()}`); });
    assert.equal(r.status, 302);
    const loc = new URL(r.headers.location);
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.equal(loc.searchParams.get('state'), 'st');
    assert.equal((await h.stats('ok')).last_authorize.client_id, 'c');
  });

  test('https mode: the same scenarios behind a test CA', async () => {
    const hs = await startHostileOp({ https: true });
    try {
      assert.match(hs.base, /^https:/);
      assert.equal((await referenceLogin(hs.issuer('ok'), 'toucan-sso', { ca: hs.ca })).reason, 'ok');
      assert.equal((await referenceLogin(hs.issuer('aud_wrong'), 'toucan-sso', { ca: hs.ca })).reason, 'id_token.aud_mismatch');
      await assert.rejects(request(`${hs.issuer('ok')}/.well-known/openid-configuration`), /certificate|self-signed|unable to verify/i);
    } finally { await hs.stop(); }
  });

  test('the scenario table is well formed', () => {
    const names = new Set();
    for (const s of h.scenarios) {
      assert.match(s.name, /^[a-z0-9_]+$/);
      assert.ok(!names.has(s.name));
      names.add(s.name);
      assert.ok(s.description && s.clause);
      assert.match(s.expect, /^(ok|[a-z_]+\.[a-z_]+)$/);
    }
    assert.ok(h.scenarios.length >= 35);
  });
});

describe('Toucan stand-in', () => {
  let t;
  let jwksSrv;
  let signer;
  let signer2;
  let pub;
  let rotated;
  const secret = 'embed-client-secret-0123456789';
  const tenant = 'acme';
  before(async () => {
    const k1 = await generateKeyPair('RS512', { modulusLength: 2048, extractable: true });
    const k2 = await generateKeyPair('RS512', { modulusLength: 2048, extractable: true });
    signer = { key: k1.privateKey, kid: 'embed-1' };
    signer2 = { key: k2.privateKey, kid: 'embed-rogue' };
    pub = { keys: [{ ...(await exportJWK(k1.publicKey)), kid: 'embed-1', alg: 'RS512', use: 'sig' }] };
    rotated = { key: k2.privateKey, kid: 'embed-2', jwk: { ...(await exportJWK(k2.publicKey)), kid: 'embed-2', alg: 'RS512', use: 'sig' } };
    jwksSrv = http.createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify(pub)); });
    await new Promise((r) => jwksSrv.listen(0, '127.0.0.1', r));
    t = await startToucan({
      ai: { api_keys: ['ai-key-0123456789'], attributes: { country: 'string', level: 'number', regions: 'string[]' } },
    });
    await t.setV3Tenant(tenant, {
      issuer: 'toucan-sso-test', client_secret: secret, jwks_url: `http://127.0.0.1:${jwksSrv.address().port}/jwks.json`, workspace_id: 'acme-ws',
    });
  });
  after(async () => { await stopAll(t); jwksSrv?.closeAllConnections(); jwksSrv?.close(); });

  const assertion = (claims = {}, { s = signer, alg = 'RS512', ctx } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      sub: 'toucan-embed-client',
      iss: 'toucan-sso-test',
      aud: t.audience(tenant),
      iat: now,
      exp: now + 300,
      jti: b64u(crypto.randomBytes(16)),
      embed_context: ctx ?? {
        username: 'alice@acme.example', workspace_id: 'acme-ws', roles: ['USER'], privileges: {}, groups: ['analysts'], attributes: { country: 'FR' },
      },
      ...claims,
    }).setProtectedHeader({ alg, kid: s.kid, typ: 'JWT' }).sign(s.key);
  };

  const exchange = (a, { sec = secret, grant = 'urn:ietf:params:oauth:grant-type:jwt-bearer', scope = 'embed', path: p = `/${tenant}/oauth/oauth-token` } = {}) => requestJson(`${t.url}${p}`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`toucan-embed-client:${sec}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: grant, assertion: a, scope }),
  });

  test('3.0: a valid assertion gets an opaque token whose context can be looked up', async () => {
    const r = await exchange(await assertion());
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.token_type, 'Bearer');
    assert.ok(r.json.expires_in > 0);
    assert.doesNotMatch(r.json.access_token, /\./, 'opaque, not a JWT');
    const l = await t.lookup(r.json.access_token);
    assert.equal(l.active, true);
    assert.equal(l.embed_context.username, 'alice@acme.example');
    assert.equal(l.alg, 'RS512');
  });

  test('3.0: replayed jti, wrong secret, grant, scope, aud, iss, sub, key and context are refused', async () => {
    const a = await assertion();
    assert.equal((await exchange(a)).status, 200);
    const replay = await exchange(a);
    assert.equal(replay.status, 400);
    assert.match(replay.json.error_description, /jti_replayed/);
    assert.equal((await exchange(await assertion(), { sec: 'wrong' })).status, 401);
    assert.equal((await exchange(await assertion(), { grant: 'client_credentials' })).json.error, 'unsupported_grant_type');
    assert.equal((await exchange(await assertion(), { scope: 'openid' })).json.error, 'invalid_scope');
    assert.match((await exchange(await assertion({ aud: 'http://elsewhere/acme/oauth/oauth-token' }))).json.error_description, /aud/);
    assert.match((await exchange(await assertion({ iss: 'someone' }))).json.error_description, /iss/);
    assert.match((await exchange(await assertion({ sub: 'someone' }))).json.error_description, /sub/);
    assert.match((await exchange(await assertion({}, { s: signer2 }))).json.error_description, /no_matching_key/);
    const big = { username: 'a', workspace_id: 'acme-ws', roles: ['USER'], privileges: {}, groups: [], attributes: { blob: 'x'.repeat(3600) } };
    assert.match((await exchange(await assertion({}, { ctx: big }))).json.error_description, /embed_context_invalid.*bytes/);
    const badRole = { username: 'a', workspace_id: 'acme-ws', roles: ['ROOT'] };
    assert.match((await exchange(await assertion({}, { ctx: badRole }))).json.error_description, /roles/);
    assert.equal((await exchange(await assertion(), { path: '/nosuch/oauth/oauth-token' })).status, 404);
  });

  test('3.0: a key published in the JWKS later (rotation) is picked up by a refetch', async () => {
    assert.match((await exchange(await assertion({}, { s: rotated }))).json.error_description, /no_matching_key/);
    pub.keys.push(rotated.jwk);
    const r = await exchange(await assertion({}, { s: rotated }));
    assert.equal(r.status, 200, r.body);
    assert.equal((await t.lookup(r.json.access_token)).kid, 'embed-2');
    pub.keys.pop();
  });

  test('3.0: regenerating the client secret invalidates earlier tokens', async () => {
    const r = await exchange(await assertion());
    assert.equal((await t.lookup(r.json.access_token)).active, true);
    await t.regenerateSecret(tenant, 'second-secret-0123456789');
    assert.equal((await t.lookup(r.json.access_token)).active, false);
    assert.equal((await exchange(await assertion())).status, 401);
    assert.equal((await exchange(await assertion(), { sec: 'second-secret-0123456789' })).status, 200);
    await t.regenerateSecret(tenant, secret);
  });

  const gen = (body, key = 'ai-key-0123456789', ct = 'application/json') => requestJson(`${t.url}/embed/generate-token`, {
    method: 'POST', headers: { 'x-api-key': key, 'content-type': ct }, body: typeof body === 'string' ? body : JSON.stringify(body),
  });

  test('AI: generate-token answers a JWE token and its expiry', async () => {
    const r = await gen({ user: { distinctId: 'user-123', role: 'explorer', attributes: { country: 'FR', regions: ['emea'] }, permissions: { dashboard: ['can_view'], ai: ['can_query'] } } });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.expiresIn, '1h');
    assert.equal(r.json.token.split('.').length, 5);
    assert.deepEqual(decodeProtectedHeader(r.json.token), { alg: 'dir', enc: 'A256GCM' });
    const l = await t.lookup(r.json.token);
    assert.equal(l.user.distinctId, 'user-123');
  });

  test('AI: 401 on a bad key, 400 on a bad body, unregistered or mistyped attributes', async () => {
    const ok = { user: { distinctId: 'u', role: 'maker', attributes: {} } };
    assert.equal((await gen(ok, 'wrong-key')).status, 401);
    assert.equal((await requestJson(`${t.url}/embed/generate-token`, { method: 'POST', body: ok })).status, 401);
    assert.equal((await gen('{not json')).status, 400);
    assert.equal((await gen(ok, undefined, 'text/plain')).status, 400);
    assert.equal((await gen({ user: { distinctId: 'u', role: 'admin', attributes: {} } })).status, 400);
    assert.equal((await gen({ user: { role: 'explorer', attributes: {} } })).status, 400);
    assert.equal((await gen({ user: { distinctId: 'u', role: 'explorer' } })).status, 400);
    const unk = await gen({ user: { distinctId: 'u', role: 'explorer', attributes: { salary: 1 } } });
    assert.equal(unk.status, 400);
    assert.equal(unk.json.error, 'unknown_attribute');
    assert.equal((await gen({ user: { distinctId: 'u', role: 'explorer', attributes: { level: 'high' } } })).json.error, 'invalid_attribute');
    assert.equal((await gen({ user: { distinctId: 'u', role: 'explorer', attributes: {}, permissions: { ai: ['can_edit'] } } })).json.error, 'invalid_permissions');
    assert.equal((await gen(ok)).status, 200);
  });

  test('faults: next N calls fail, then service resumes; counters count', async () => {
    await t.reset();
    await t.fault({ target: 'ai', mode: '503', count: 2, retry_after: 2 });
    const ok = { user: { distinctId: 'u', role: 'explorer', attributes: {} } };
    const r1 = await gen(ok);
    assert.equal(r1.status, 503);
    assert.equal((await request(`${t.url}/embed/generate-token`, { method: 'POST', headers: { 'x-api-key': 'ai-key-0123456789', 'content-type': 'application/json' }, body: JSON.stringify(ok) })).headers['retry-after'], '2');
    assert.equal((await gen(ok)).status, 200);
    await t.fault({ target: 'v3', mode: '500', count: 1 });
    assert.equal((await exchange(await assertion())).status, 500);
    assert.equal((await exchange(await assertion())).status, 200);
    await t.fault({ target: 'ai', mode: 'slow', count: 1, delay_ms: 300 });
    const t0 = Date.now();
    assert.equal((await gen(ok)).status, 200);
    assert.ok(Date.now() - t0 >= 290);
    await t.fault({ target: 'ai', mode: 'reset', count: 1 });
    await assert.rejects(gen(ok));
    const c = await t.counters();
    assert.equal(c.ai.calls, 5);
    assert.equal(c.ai.fault_503, 2);
    assert.equal(c.ai['200'], 2);
    assert.equal(c.v3.fault_500, 1);
    assert.equal(c.v3['200'], 1);
    const log = await t.requests();
    assert.ok(log.ai.some((e) => e.status === 200 && e.distinctId === 'u'));
  });
});

describe('demo sample app', () => {
  let app;
  let upstream;
  let seen;
  const token = [
    b64u(JSON.stringify({ alg: 'RS512', kid: 'k1', typ: 'JWT' })),
    b64u(JSON.stringify({ sub: 'toucan-embed-client', embed_context: { username: 'alice@acme.example', attributes: { country: 'FR' } }, exp: 2000000000 })),
    'c2ln',
  ].join('.');
  before(async () => {
    seen = [];
    upstream = http.createServer((req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      if (req.url === '/sso/acme/embed.js') {
        res.setHeader('content-type', 'text/javascript');
        res.end(`document.addEventListener('DOMContentLoaded', function () {
          document.querySelectorAll('tc-dashboard').forEach(function (e) { e.setAttribute('auth-token', ${JSON.stringify(token)}); });
        });`);
        return;
      }
      res.writeHead(302, { location: '/', 'set-cookie': 'tsso=1; Path=/sso; HttpOnly; SameSite=Lax' });
      res.end();
    });
    await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
    app = await startProcess({
      name: 'sample-app',
      cmd: process.execPath,
      args: [path.join(sourceRoot(), 'demo/sample-app/server.mjs'), '--port', '0', '--sso', '/sso', '--tenant', 'acme', '--proxy-to', `http://127.0.0.1:${upstream.address().port}`],
      readyLine: /^\{"ready":true/,
      timeoutMs: 5000,
    });
  });
  after(async () => { await stopAll(app); upstream?.closeAllConnections(); upstream?.close(); });

  test('index.html carries embed.js, the element and the sign-in link for the tenant', async () => {
    const r = await request(`${app.ready.url}/`);
    assert.equal(r.status, 200);
    assert.match(r.body, /<script src="\/sso\/acme\/embed\.js"><\/script>/);
    assert.match(r.body, /<tc-dashboard /);
    assert.match(r.body, /href="\/sso\/acme\/login\?return_to=\/"/);
    assert.doesNotMatch(r.body, /\{SSO\}|\{TENANT\}/);
  });

  test('the SSO path is proxied to the daemon with its cookies and redirects intact', async () => {
    const r = await request(`${app.ready.url}/sso/acme/login?return_to=/`);
    assert.equal(r.status, 302);
    assert.equal(r.headers['set-cookie'][0], 'tsso=1; Path=/sso; HttpOnly; SameSite=Lax');
    assert.equal(seen.at(-1).url, '/sso/acme/login?return_to=/');
    assert.equal(seen.at(-1).headers['x-forwarded-host'], new URL(app.ready.url).host);
    assert.equal((await request(`${app.ready.url}/elsewhere`)).status, 404);
  });

  test('in a browser the page shows the token and its decoded claims', { skip: !chromiumPath() && 'chromium not installed' }, async () => {
    const b = await launchBrowser();
    try {
      await b.page.goto(`${app.ready.url}/`);
      await b.page.waitForFunction(() => document.getElementById('claims').textContent.includes('toucan-embed-client'));
      assert.equal(await b.page.getAttribute('#dashboard', 'auth-token'), token);
      const header = JSON.parse(await b.page.textContent('#header'));
      assert.equal(header.alg, 'RS512');
      assert.match(await b.page.textContent('#claims'), /"country": "FR"/);
      assert.match(await b.page.textContent('#dashboard'), /token set/);
    } finally { await b.close(); }
  });
});

describe('embed token checks (jose and openssl)', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (over = {}) => ({
    sub: 'toucan-embed-client', iss: 'tsso', aud: 'http://t/acme/oauth/oauth-token', iat: now(), exp: now() + 300,
    jti: b64u(crypto.randomBytes(16)),
    embed_context: { username: 'alice', workspace_id: 'acme', roles: ['USER'], privileges: {}, groups: [], attributes: { country: 'FR' } },
    ...over,
  });
  const opts = (jwks) => ({ jwks, issuer: 'tsso', audience: 'http://t/acme/oauth/oauth-token', workspaceId: 'acme', maxTtl: 600 });

  test('both verifiers accept every algorithm the daemon may use', async () => {
    const priv = await makeJwks(['RS512', 'RS256', 'PS256', 'ES256', 'EdDSA']);
    const pubs = publicJwks(priv);
    for (const k of priv.keys) {
      const tok = await signJwt(k, claims());
      const { header } = await verifyEmbedJwt(tok, opts(pubs));
      assert.equal(header.alg, k.alg);
      const pub = pubs.keys.find((x) => x.kid === k.kid);
      assert.equal(opensslVerifyJws(tok, pub), true, `openssl ${k.alg}`);
      const [h, p, sig] = tok.split('.');
      const forged = `${h}.${b64u(JSON.stringify({ ...claims(), sub: 'x' }))}.${sig}`;
      assert.equal(opensslVerifyJws(forged, pub), false, `openssl refuses a changed payload (${k.alg})`);
      assert.equal(opensslVerifyJws(`${h}.${p}.${sig.slice(0, -4)}AAAA`, pub), false, `openssl refuses a changed signature (${k.alg})`);
    }
  });

  test('verifyEmbedJwt refuses every broken claim', async () => {
    const priv = await makeJwks(['RS512']);
    const k = priv.keys[0];
    const o = opts(publicJwks(priv));
    const bad = async (c, h, re) => assert.rejects(verifyEmbedJwt(await signJwt(k, c, h), o), re);
    await bad(claims({ sub: 'someone' }), {}, /sub/);
    await bad(claims({ iss: 'other' }), {}, /iss/);
    await bad(claims({ aud: 'http://t/other/oauth/oauth-token' }), {}, /aud/);
    await bad(claims({ exp: now() - 60 }), {}, /exp/);
    await bad(claims({ exp: now() + 3600 }), {}, /lifetime/);
    await bad(claims({ jti: 'short' }), {}, /jti/);
    await bad(claims({ jti: undefined }), {}, /jti/);
    await bad(claims({ embed_context: { username: 'a', workspace_id: 'other', roles: ['USER'] } }), {}, /workspace/);
    await bad(claims({ embed_context: { username: 'a', workspace_id: 'acme', roles: ['USER'], attributes: { x: 'y'.repeat(3600) } } }), {}, /bytes/);
    await bad(claims(), { typ: undefined }, /typ/);
    await bad(claims(), { kid: undefined }, /kid/);
    const weak = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
    const wpub = { keys: [{ ...weak.publicKey.export({ format: 'jwk' }), kid: 'weak', alg: 'RS512' }] };
    const input = `${b64u(JSON.stringify({ alg: 'RS512', kid: 'weak', typ: 'JWT' }))}.${b64u(JSON.stringify(claims()))}`;
    const weakTok = `${input}.${b64u(crypto.sign('sha512', Buffer.from(input), weak.privateKey))}`;
    assert.equal(opensslVerifyJws(weakTok, wpub.keys[0]), true, 'the signature itself is fine');
    await assert.rejects(verifyEmbedJwt(weakTok, opts(wpub)), /2048/);
  });
});

describe('redis-server', () => {
  let r;
  after(async () => { await stopAll(r); });
  test('start, command, command stats, restart on the same port, stop', async () => {
    r = await startRedis();
    assert.equal(await r.command('PING'), 'PONG');
    await r.resetStats();
    assert.equal(await r.command('SET', 'k', 'v'), 'OK');
    assert.equal(await r.command('GET', 'k'), 'v');
    const st = await r.commandStats();
    assert.equal(st.set, 1);
    assert.equal(st.get, 1);
    await r.restart();
    assert.equal(await r.command('GET', 'k'), null, 'no persistence across restarts');
    await r.stop();
    assert.equal(await portOpen(r.port), false);
  });

  test('TLS and AUTH: rediss:// with a test CA and a password', async () => {
    const rt = await startRedis({ tls: true, password: 'redis-pass-0123456789' });
    try {
      assert.match(rt.url, /^rediss:\/\/127\.0\.0\.1:\d+\/0$/);
      assert.equal(await rt.command('PING'), 'PONG');
      await assert.rejects(redisCommand(rt.port, ['PING'], { ca: rt.ca }), /NOAUTH|Authentication/i);
      await assert.rejects(redisCommand(rt.port, ['PING'], { password: 'redis-pass-0123456789' }));
    } finally { await rt.stop(); }
  });
});

describe('process and config helpers', () => {
  test('startProcess times out (bounded) and kills a child that never gets ready', async () => {
    const t0 = Date.now();
    await assert.rejects(startProcess({
      name: 'sleeper', cmd: process.execPath, args: ['-e', 'setTimeout(()=>{}, 60000)'], readyLine: /never/, timeoutMs: 500,
    }), /not ready within 500 ms/);
    assert.ok(Date.now() - t0 < 3000);
  });

  test('startProcess reports a child that exits before ready', async () => {
    await assert.rejects(startProcess({
      name: 'quitter', cmd: process.execPath, args: ['-e', 'console.error("boom"); process.exit(3)'], readyLine: /never/, timeoutMs: 5000,
    }), /exited \(code 3[\s\S]*boom/);
  });

  test('cookie jar: host-only, Path, Max-Age, overwrite', () => {
    const jar = new CookieJar();
    jar.store('http://127.0.0.1:8080/sso/acme/callback', ['s=1; Path=/sso; HttpOnly', 'old=x; Max-Age=0', 'p=2; Path=/sso/acme']);
    assert.equal(jar.header('http://127.0.0.1:8080/sso/acme/embed-token'), 'p=2; s=1');
    assert.equal(jar.header('http://127.0.0.1:8080/other'), '');
    assert.equal(jar.header('http://localhost:8080/sso/x'), '');
    jar.store('http://127.0.0.1:8080/sso/', ['s=3; Path=/sso']);
    assert.equal(jar.header('http://127.0.0.1:8080/sso/z'), 's=3');
    jar.store('http://127.0.0.1:8080/sso/', ['s=; Path=/sso; Expires=Thu, 01 Jan 1970 00:00:00 GMT']);
    assert.equal(jar.header('http://127.0.0.1:8080/sso/z'), '');
  });

  test('jarFetch sends and stores cookies with redirect manual', async () => {
    const srv = http.createServer((req, res) => {
      if (req.url === '/set') { res.writeHead(302, { location: '/get', 'set-cookie': 'sid=abc; Path=/; HttpOnly; SameSite=Lax' }); res.end(); return; }
      res.end(req.headers.cookie ?? '');
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${srv.address().port}`;
    const jar = new CookieJar();
    const r1 = await jarFetch(jar, `${base}/set`);
    assert.equal(r1.status, 302);
    assert.equal(await (await jarFetch(jar, `${base}/get`)).text(), 'sid=abc');
    srv.closeAllConnections();
    srv.close();
  });

  test('writeConfig lays out a private config dir the daemon can read', async () => {
    const port = await freePort();
    const c = await writeConfig({
      port,
      main: { session: { store: 'redis', redis_url: 'redis://127.0.0.1:1/0' } },
      tenants: { acme: { issuer: 'http://127.0.0.1:1', client_id: 'x', client_secret_file: '../secrets/acme.secret' } },
      files: { 'secrets/acme.secret': 's3cret\n' },
    });
    const main = JSON.parse(fs.readFileSync(c.configPath, 'utf8'));
    assert.equal(main.listen, `127.0.0.1:${port}`);
    assert.equal(main.session.store, 'redis');
    assert.equal(main.session.secret_file, 'secrets/session.key', 'defaults kept by the deep merge');
    assert.match(fs.readFileSync(path.join(c.dir, 'secrets/session.key'), 'utf8'), /^[0-9a-f]{64}\n$/);
    assert.equal(fs.statSync(path.join(c.dir, 'secrets/acme.secret')).mode & 0o777, 0o600);
    assert.equal(JSON.parse(fs.readFileSync(path.join(c.dir, 'tenants.d/acme.json'), 'utf8')).client_id, 'x');
  });
});
