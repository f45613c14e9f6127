// A hand-written hostile OpenID Provider: every scenario at
// {base}/s/{name} breaks exactly one rule a relying party must enforce
// (table: hostile-scenarios.json). Tokens are built byte by byte with
// node:crypto so malformed ones (duplicate members, alg none, key confusion)
// can be produced.
//
// Usage: node tests/op/hostile-op.mjs [--port N] [--https] [--host H]
// Prints {"ready":true,"base":...,"port":...,"ca":...,"scenarios":[...]}.
// Control: GET {base}/_stats, POST {base}/_reset, GET {issuer}/_stats.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCa, makeServerCert } from '../integration/lib/tls.mjs';
import { tempDir } from '../integration/lib/tmp.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TABLE = JSON.parse(fs.readFileSync(path.join(HERE, 'hostile-scenarios.json'), 'utf8')).scenarios;
const MAX_BODY = 64 * 1024;
const CODE_TTL_MS = 60000;

const b64u = (b) => Buffer.from(b).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function args(argv) {
  const o = { host: '127.0.0.1', port: 0, https: false };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--port') { i += 1; o.port = Number(argv[i]); } else if (argv[i] === '--https') o.https = true;
    else if (argv[i] === '--host') { i += 1; o.host = argv[i]; } else throw new Error(`unknown argument ${argv[i]}`);
  }
  return o;
}

// --- keys -------------------------------------------------------------------
function rsaKey(kid) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, alg: 'RS256', privateKey, publicKey };
}
function ecKey(kid) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, alg: 'ES256', privateKey, publicKey };
}
function edKey(kid) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  return { kid, alg: 'EdDSA', privateKey, publicKey };
}
const pubJwk = (k) => ({ ...k.publicKey.export({ format: 'jwk' }), kid: k.kid, use: 'sig', alg: k.alg });

const KEYS = {
  rsa1: rsaKey('rsa-1'),
  rsa2: rsaKey('rsa-2'),
  ec1: ecKey('ec-1'),
  ed1: edKey('ed-1'),
  never: rsaKey('never-published'),
};

function signBytes(alg, key, data) {
  switch (alg) {
    case 'RS256': return crypto.sign('sha256', data, key);
    case 'ES256': return crypto.sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA': return crypto.sign(null, data, key);
    default: throw new Error(`no signer for ${alg}`);
  }
}

/** Compact JWS from a header object and a payload (object or raw JSON string). */
function jws(header, payload, signer) {
  const p = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const input = `${b64u(JSON.stringify(header))}.${b64u(p)}`;
  return `${input}.${signer ? b64u(signer(Buffer.from(input))) : ''}`;
}

/** OIDC Core 3.2.2.9: left half of the hash of the access token (SHA-512 for Ed25519). */
function atHash(alg, accessToken) {
  const h = alg === 'EdDSA' ? 'sha512' : `sha${alg.slice(2)}`;
  const d = crypto.createHash(h).update(accessToken, 'ascii').digest();
  return b64u(d.subarray(0, d.length / 2));
}

// --- scenarios ----------------------------------------------------------------
// Each entry may override: jwks(st) -> [keys], discoveryIssuer(iss),
// jwksPath, authz(params) -> extra/override response params, token(ctx) ->
// {status, body, type} or claims/header tweaks via idToken(ctx, claims) etc.
const USER = {
  sub: 'hostile-user-1', email: 'eve@hostile.example', email_verified: true,
  name: 'Eve Hostile', preferred_username: 'eve', groups: ['analysts'],
};

function stdClaims(ctx) {
  const t = now();
  return {
    iss: ctx.issuer, sub: USER.sub, aud: ctx.clientId, exp: t + 300, iat: t, auth_time: t,
    nonce: ctx.nonce, email: USER.email, email_verified: true, name: USER.name,
    preferred_username: USER.preferred_username, groups: USER.groups,
  };
}

function signWith(key, claims, { kid = true, alg = key.alg } = {}) {
  const header = { alg, typ: 'JWT', ...(kid ? { kid: key.kid } : {}) };
  return jws(header, claims, (d) => signBytes(alg, key.privateKey, d));
}

const defaultKeys = () => [KEYS.rsa1, KEYS.ec1, KEYS.ed1];
const claimsMod = (f) => ({ idToken: (ctx) => { const c = stdClaims(ctx); f(c, ctx); return signWith(KEYS.rsa1, { ...c, at_hash: atHash('RS256', ctx.accessToken) }); } });

const BEHAVIOUR = {
  ok: {},
  ok_es256: { signKey: () => KEYS.ec1 },
  ok_eddsa: { signKey: () => KEYS.ed1 },
  token_type_lowercase: { tokenType: 'bearer' },
  iss_wrong: claimsMod((c) => { c.iss = `${c.iss}-evil`; }),
  iss_missing: claimsMod((c) => { delete c.iss; }),
  sub_missing: claimsMod((c) => { delete c.sub; }),
  aud_wrong: claimsMod((c) => { c.aud = 'some-other-client'; }),
  aud_multi_no_azp: claimsMod((c) => { c.aud = [c.aud, 'some-other-client']; }),
  aud_multi_azp_wrong: claimsMod((c) => { c.aud = [c.aud, 'some-other-client']; c.azp = 'some-other-client'; }),
  iat_missing: claimsMod((c) => { delete c.iat; }),
  exp_missing: claimsMod((c) => { delete c.exp; }),
  expired: claimsMod((c) => { c.iat -= 7200; c.auth_time = c.iat; c.exp = now() - 3600; }),
  iat_future: claimsMod((c) => { c.iat += 3600; c.exp += 3600; }),
  nbf_future: claimsMod((c) => { c.nbf = now() + 3600; c.exp += 3600; }),
  kid_absent_one_key: { jwks: () => [KEYS.rsa1, KEYS.ec1], noKid: true },
  kid_absent_many_keys: { jwks: () => [KEYS.rsa1, KEYS.rsa2], noKid: true },
  bad_signature_rs256: {
    idToken: (ctx) => {
      const good = signWith(KEYS.rsa1, { ...stdClaims(ctx), at_hash: atHash('RS256', ctx.accessToken) });
      const [h, p] = good.split('.');
      const other = b64u(signBytes('RS256', KEYS.rsa1.privateKey, Buffer.from(`${h}.${p}x`)));
      return `${h}.${p}.${other}`;
    },
  },
  bad_signature_es256: {
    idToken: (ctx) => {
      const good = signWith(KEYS.ec1, { ...stdClaims(ctx), at_hash: atHash('ES256', ctx.accessToken) });
      const [h, p] = good.split('.');
      const other = b64u(signBytes('ES256', KEYS.ec1.privateKey, Buffer.from(`${h}.${p}x`)));
      return `${h}.${p}.${other}`;
    },
  },
  alg_none: {
    idToken: (ctx) => jws({ alg: 'none', typ: 'JWT' }, { ...stdClaims(ctx), at_hash: atHash('RS256', ctx.accessToken) }, null),
  },
  alg_hs256_rsa_pubkey: {
    idToken: (ctx) => {
      const secret = KEYS.rsa1.publicKey.export({ type: 'spki', format: 'pem' });
      return jws({ alg: 'HS256', typ: 'JWT', kid: KEYS.rsa1.kid },
        { ...stdClaims(ctx), at_hash: atHash('RS256', ctx.accessToken) },
        (d) => crypto.createHmac('sha256', secret).update(d).digest());
    },
  },
  key_type_mismatch: {
    idToken: (ctx) => jws({ alg: 'RS256', typ: 'JWT', kid: KEYS.ec1.kid },
      { ...stdClaims(ctx), at_hash: atHash('RS256', ctx.accessToken) },
      (d) => signBytes('ES256', KEYS.ec1.privateKey, d)),
  },
  nonce_wrong: claimsMod((c) => { c.nonce = `${c.nonce ?? ''}tampered`; }),
  nonce_missing: claimsMod((c) => { delete c.nonce; }),
  at_hash_wrong: {
    idToken: (ctx) => signWith(KEYS.rsa1, { ...stdClaims(ctx), at_hash: atHash('RS256', `${ctx.accessToken}x`) }),
  },
  duplicate_claims: {
    idToken: (ctx) => {
      const c = { ...stdClaims(ctx), at_hash: atHash('RS256', ctx.accessToken) };
      const json = JSON.stringify(c).replace(/^\{/, `{"sub":"mallory",`);
      // sub appears first as mallory then (inside c) as hostile-user-1; a
      // last-wins parser sees the real user, a first-wins parser sees mallory
      return jws({ alg: 'RS256', typ: 'JWT', kid: KEYS.rsa1.kid }, json,
        (d) => signBytes('RS256', KEYS.rsa1.privateKey, d));
    },
  },
  userinfo_sub_mismatch: { userinfoSub: 'someone-else' },
  discovery_issuer_mismatch: { discoveryIssuer: (iss) => `${iss}/other` },
  jwks_odd_path: { jwksPath: '/static/v2/keys-7f3a.json' },
  no_end_session: { noEndSession: true },
  key_rotated: { rotate: true },
  key_rotation_manual: { manual: true },
  kid_unknown: { signKey: () => KEYS.never },
  authz_iss_wrong: { authz: (p, ctx) => ({ ...p, iss: `${ctx.issuer}-evil` }) },
  authz_iss_missing: { authz: (p) => { const { iss: _drop, ...rest } = p; return rest; } },
  authz_error: {
    authz: (p) => ({
      error: 'access_denied', error_description: 'The user <b>declined</b> & left', state: p.state, iss: p.iss,
    }),
  },
  state_mismatch: { authz: (p) => ({ ...p, state: `${p.state}x` }) },
  token_http_500: { tokenRaw: () => ({ status: 500, type: 'application/json', body: '{"error":"server_error"}' }) },
  token_garbage: { tokenRaw: () => ({ status: 200, type: 'text/html', body: '<html><body>Gateway says hello</body></html>' }) },
  token_type_wrong: { tokenType: 'mac' },
  id_token_missing: { noIdToken: true },
  jwks_unreachable: { jwksReset: true },
};

for (const s of TABLE) if (!BEHAVIOUR[s.name]) throw new Error(`scenario ${s.name} has no behaviour`);
for (const n of Object.keys(BEHAVIOUR)) if (!TABLE.find((s) => s.name === n)) throw new Error(`behaviour ${n} not in table`);

// --- server --------------------------------------------------------------------
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > MAX_BODY) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, type = 'application/json', extra = {}) {
  const b = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...extra });
  res.end(b);
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function clientAuthOf(req, form) {
  const h = req.headers.authorization ?? '';
  if (/^basic /i.test(h)) {
    const dec = Buffer.from(h.slice(6), 'base64').toString('utf8');
    const i = dec.indexOf(':');
    return { method: 'client_secret_basic', client_id: decodeURIComponent(dec.slice(0, i)) };
  }
  if (form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
    let alg = null;
    try { alg = JSON.parse(Buffer.from(form.get('client_assertion').split('.')[0], 'base64url')).alg; } catch { /* bad */ }
    return { method: alg?.startsWith('HS') ? 'client_secret_jwt' : 'private_key_jwt', alg, client_id: form.get('client_id') };
  }
  if (form.get('client_secret')) return { method: 'client_secret_post', client_id: form.get('client_id') };
  return { method: 'none', client_id: form.get('client_id') };
}

async function main() {
  const o = args(process.argv.slice(2));
  let tlsOpts = null;
  let caPath = null;
  if (o.https) {
    const ca = makeCa(tempDir('tsso-hostile-tls-'));
    const sc = makeServerCert(ca, { name: 'hostile' });
    tlsOpts = { cert: fs.readFileSync(sc.cert), key: fs.readFileSync(sc.key) };
    caPath = ca.cert;
  }
  const codes = new Map(); // code -> {scenario, clientId, redirectUri, nonce, challenge, exp}
  const tokens = new Map(); // access token -> scenario
  const stats = {};
  const state = {}; // per scenario mutable state (key rotation)
  const statOf = (n) => {
    stats[n] ??= {
      discovery: 0, authorize: 0, token: 0, userinfo: 0, jwks: 0, client_auth: [], last_authorize: null,
    };
    return stats[n];
  };
  let base = '';
  const manualState = (n) => {
    state[n] ??= { n: 1, current: rsaKey('manual-1') };
    state[n].published ??= [state[n].current];
    return state[n];
  };

  const handler = async (req, res) => {
    const u = new URL(req.url, base);
    if (u.pathname === '/_stats') return send(res, 200, stats);
    if (u.pathname === '/_reset' && req.method === 'POST') {
      for (const k of Object.keys(stats)) delete stats[k];
      for (const k of Object.keys(state)) delete state[k];
      return send(res, 200, { reset: true });
    }
    if (u.pathname === '/_scenarios') return send(res, 200, TABLE);
    const m = /^\/s\/([a-z0-9_]+)(\/.*)?$/.exec(u.pathname);
    if (!m || !BEHAVIOUR[m[1]]) return send(res, 404, { error: 'no such scenario' });
    const name = m[1];
    const sub = m[2] ?? '/';
    const b = BEHAVIOUR[name];
    const issuer = `${base}/s/${name}`;
    const st = statOf(name);
    const jwksPath = b.jwksPath ?? '/jwks';

    if (sub === '/.well-known/openid-configuration') {
      st.discovery += 1;
      return send(res, 200, {
        issuer: b.discoveryIssuer ? b.discoveryIssuer(issuer) : issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        userinfo_endpoint: `${issuer}/userinfo`,
        jwks_uri: `${issuer}${jwksPath}`,
        end_session_endpoint: b.noEndSession ? undefined : `${issuer}/logout`,
        response_types_supported: ['code'],
        response_modes_supported: ['query', 'form_post'],
        grant_types_supported: ['authorization_code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256', 'EdDSA'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ['HS256', 'RS256', 'ES256'],
        code_challenge_methods_supported: ['S256'],
        scopes_supported: ['openid', 'email', 'profile', 'groups'],
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'email', 'email_verified', 'name', 'preferred_username', 'groups'],
        authorization_response_iss_parameter_supported: true,
      });
    }
    if (sub === '/_stats') return send(res, 200, st);
    if (sub === '/_rotate' && req.method === 'POST' && b.manual) {
      const ms = manualState(name);
      const opts = JSON.parse((await readBody(req)) || '{}');
      ms.n += 1;
      const next = rsaKey(`manual-${ms.n}`);
      ms.published = opts.retire ? [next] : [...ms.published.slice(-1), next];
      ms.current = next;
      return send(res, 200, { kid: next.kid, published: ms.published.map((k) => k.kid) });
    }
    if (sub === jwksPath) {
      st.jwks += 1;
      if (b.jwksReset) { req.socket.destroy(); return undefined; }
      let keys = b.jwks ? b.jwks() : defaultKeys();
      if (b.rotate) keys = state[name]?.published ?? [KEYS.rsa1];
      if (b.manual) keys = manualState(name).published;
      return send(res, 200, { keys: keys.map(pubJwk) }, 'application/jwk-set+json');
    }
    if (sub === '/authorize') {
      st.authorize += 1;
      const p = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : u.searchParams;
      st.last_authorize = Object.fromEntries(p);
      const redirectUri = p.get('redirect_uri');
      let ru;
      try { ru = new URL(redirectUri); } catch { return send(res, 400, '<p>invalid redirect_uri</p>', 'text/html'); }
      const out = { state: p.get('state'), iss: issuer };
      if (p.get('response_type') !== 'code' || !p.get('client_id') || !p.get('state')
          || p.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(p.get('code_challenge') ?? '')
          || !(p.get('scope') ?? '').split(' ').includes('openid')) {
        Object.assign(out, { error: 'invalid_request', error_description: 'code flow with state, openid scope and PKCE S256 required' });
      } else {
        const code = b64u(crypto.randomBytes(24));
        codes.set(code, {
          scenario: name, clientId: p.get('client_id'), redirectUri, nonce: p.get('nonce') ?? undefined,
          challenge: p.get('code_challenge'), exp: Date.now() + CODE_TTL_MS,
        });
        out.code = code;
      }
      const resp = b.authz ? b.authz({ code: out.code, ...out }, { issuer }) : out;
      const fields = Object.fromEntries(Object.entries(resp).filter(([, v]) => v !== undefined && v !== null));
      if (p.get('response_mode') === 'form_post') {
        const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}"/>`).join('\n');
        return send(res, 200, `<!DOCTYPE html><html><head><title>Submit</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="${esc(redirectUri)}">
${inputs}<noscript><button type="submit">Continue</button></noscript></form></body></html>`, 'text/html; charset=utf-8');
      }
      for (const [k, v] of Object.entries(fields)) ru.searchParams.set(k, v);
      res.writeHead(302, { location: ru.href, 'cache-control': 'no-store' });
      return res.end();
    }
    if (sub === '/token' && req.method === 'POST') {
      st.token += 1;
      const form = new URLSearchParams(await readBody(req));
      st.client_auth.push(clientAuthOf(req, form));
      if (b.tokenRaw) { const r = b.tokenRaw(); return send(res, r.status, r.body, r.type); }
      const c = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      if (!c || c.scenario !== name || c.exp < Date.now() || c.redirectUri !== form.get('redirect_uri')) {
        return send(res, 400, { error: 'invalid_grant' });
      }
      const verifier = form.get('code_verifier') ?? '';
      const want = b64u(crypto.createHash('sha256').update(verifier).digest());
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || want !== c.challenge) {
        return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
      }
      const accessToken = b64u(crypto.randomBytes(32));
      tokens.set(accessToken, name);
      const ctx = {
        issuer, clientId: c.clientId, nonce: c.nonce, accessToken,
      };
      let idToken;
      if (b.idToken) idToken = b.idToken(ctx);
      else {
        let key = b.signKey ? b.signKey() : KEYS.rsa1;
        if (b.manual) key = manualState(name).current;
        if (b.rotate) {
          state[name] ??= { n: 0, published: [KEYS.rsa1] };
          state[name].n += 1;
          key = rsaKey(`rotated-${state[name].n}`);
          // publish the new key now, after any cached copy was taken; keep the previous one
          state[name].published = [...state[name].published.slice(-1), key];
        }
        idToken = signWith(key, { ...stdClaims(ctx), at_hash: atHash(key.alg, accessToken) }, { kid: !b.noKid });
      }
      const body = {
        access_token: accessToken, token_type: b.tokenType ?? 'Bearer', expires_in: 300, scope: 'openid email profile',
      };
      if (!b.noIdToken) body.id_token = idToken;
      return send(res, 200, body);
    }
    if (sub === '/userinfo') {
      st.userinfo += 1;
      const h = req.headers.authorization ?? '';
      const tok = /^bearer /i.test(h) ? h.slice(7).trim() : '';
      if (!tokens.has(tok) || tokens.get(tok) !== name) {
        return send(res, 401, { error: 'invalid_token' }, 'application/json', { 'www-authenticate': 'Bearer error="invalid_token"' });
      }
      return send(res, 200, { ...USER, sub: b.userinfoSub ?? USER.sub });
    }
    if (sub === '/logout') return send(res, 200, '<p>signed out</p>', 'text/html');
    return send(res, 404, { error: 'not found' });
  };

  // One line per request on stdout (the test keeps it in its log directory):
  // when a test times out, this says whether the request arrived and when
  // it was answered.
  const wrap = (req, res) => {
    const t0 = Date.now();
    const path0 = req.url.split('?')[0];
    process.stdout.write(`${new Date(t0).toISOString()} > ${req.method} ${path0}\n`);
    res.on('close', () => process.stdout.write(`${new Date().toISOString()} < ${res.statusCode} ${req.method} ${path0} ${Date.now() - t0} ms\n`));
    handler(req, res).catch((e) => { if (!res.headersSent) send(res, 500, { error: 'server_error', detail: e.message }); });
  };
  const server = tlsOpts ? https.createServer(tlsOpts, wrap) : http.createServer(wrap);
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(o.port, o.host, resolve); });
  const { port } = server.address();
  base = `${o.https ? 'https' : 'http'}://${o.host}:${port}`;
  const stop = () => { server.close(); server.closeAllConnections?.(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // expire codes so memory stays bounded in long runs
  setInterval(() => { const t = Date.now(); for (const [k, v] of codes) if (v.exp < t) codes.delete(k); }, 10000).unref();
  process.stdout.write(`${JSON.stringify({
    ready: true, base, port, ca: caPath, scenarios: TABLE.map((s) => s.name),
  })}\n`);
}

main().catch((e) => { process.stderr.write(`hostile-op.mjs: ${e.stack ?? e}\n`); process.exit(1); });
