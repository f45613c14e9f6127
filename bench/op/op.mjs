// A small, fast OpenID Provider for the benchmarks (never for tests of
// correctness): HTTPS with the bench CA, RS256 ID tokens from one key made at
// start, an authorize endpoint that approves at once. It counts the TLS
// connections each relying party opens on the back channel.
//
//   node bench/op/op.mjs --cert C --key K [--port N] [--host 127.0.0.1]
//   → stdout: {"ready":true,"issuer":"https://127.0.0.1:P","port":P,"control":Q}
//
// Control (plain HTTP, its own port, so reading the counters opens no TLS
// connection): GET /stats → {tls_connections, back_connections,
// front_connections, authorize, token, jwks, discovery, errors}.
import https from 'node:https';
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}

const host = arg('host', '127.0.0.1');
const tlsOpts = { cert: fs.readFileSync(arg('cert')), key: fs.readFileSync(arg('key')) };
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = crypto.randomBytes(8).toString('hex');
const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
const stats = {
  tls_connections: 0, back_connections: 0, front_connections: 0,
  authorize: 0, token: 0, jwks: 0, discovery: 0, errors: 0,
};
const codes = new Map(); // code -> {client_id, redirect_uri, nonce, challenge, at}
const CODE_TTL_MS = 60000;
let issuer = '';

const b64u = (b) => Buffer.from(b).toString('base64url');
const headerB64 = b64u(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));

function idToken(sub, aud, nonce) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: issuer, sub, aud, exp: now + 300, iat: now, auth_time: now, nonce,
    email: `${sub}@acme.example`, email_verified: true, name: 'Bench User',
  };
  const input = `${headerB64}.${b64u(JSON.stringify(claims))}`;
  return `${input}.${b64u(crypto.sign('sha256', Buffer.from(input), privateKey))}`;
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers,
  });
  res.end(text);
}

function clientAuth(req, form) {
  const h = req.headers.authorization;
  if (h && h.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(h.slice(6), 'base64').toString().split(':')
      .map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
    return { id, secret };
  }
  return { id: form.get('client_id'), secret: form.get('client_secret') };
}

function token(req, res, body, clients) {
  const form = new URLSearchParams(body);
  const c = clientAuth(req, form);
  if (!c.id || clients[c.id] !== c.secret) { stats.errors++; send(res, 401, { error: 'invalid_client' }); return; }
  const code = form.get('code');
  const g = codes.get(code);
  codes.delete(code);
  if (form.get('grant_type') !== 'authorization_code' || !g || g.client_id !== c.id
      || g.redirect_uri !== form.get('redirect_uri') || Date.now() - g.at > CODE_TTL_MS) {
    stats.errors++; send(res, 400, { error: 'invalid_grant' }); return;
  }
  if (g.challenge) {
    const v = form.get('code_verifier') ?? '';
    if (b64u(crypto.createHash('sha256').update(v).digest()) !== g.challenge) {
      stats.errors++; send(res, 400, { error: 'invalid_grant', error_description: 'pkce' }); return;
    }
  }
  send(res, 200, {
    access_token: b64u(crypto.randomBytes(24)), token_type: 'Bearer', expires_in: 3600,
    id_token: idToken(g.sub, c.id, g.nonce),
  });
}

function authorize(req, res, url) {
  const q = url.searchParams;
  const redirect = q.get('redirect_uri');
  if (!redirect || q.get('response_type') !== 'code' || !q.get('client_id')
      || !(q.get('scope') ?? '').split(' ').includes('openid')) {
    stats.errors++; send(res, 400, 'bad authorization request'); return;
  }
  if (q.get('code_challenge') && q.get('code_challenge_method') !== 'S256') {
    stats.errors++; send(res, 400, 'plain PKCE refused'); return;
  }
  const code = b64u(crypto.randomBytes(24));
  codes.set(code, {
    client_id: q.get('client_id'), redirect_uri: redirect, nonce: q.get('nonce') ?? undefined,
    challenge: q.get('code_challenge'), at: Date.now(),
    sub: `user-${crypto.randomBytes(6).toString('hex')}`,
  });
  const to = new URL(redirect);
  to.searchParams.set('code', code);
  if (q.get('state') !== null) to.searchParams.set('state', q.get('state'));
  to.searchParams.set('iss', issuer);
  res.writeHead(302, { location: to.toString(), 'content-length': 0 });
  res.end();
}

const clients = JSON.parse(arg('clients', '{"bench-client":"bench-client-secret-0123456789abcdef"}'));

const server = https.createServer({ ...tlsOpts, keepAliveTimeout: 30000 }, (req, res) => {
  const url = new URL(req.url, issuer);
  // The first request on a connection tells whose it is: the browser (driver)
  // only ever asks for /authorize; everything else is a relying party's
  // back channel.
  if (req.socket.benchKind === undefined) {
    req.socket.benchKind = url.pathname === '/authorize' ? 'front' : 'back';
    stats[`${req.socket.benchKind}_connections`]++;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      switch (url.pathname) {
        case '/.well-known/openid-configuration':
          stats.discovery++;
          send(res, 200, {
            issuer,
            authorization_endpoint: `${issuer}/authorize`,
            token_endpoint: `${issuer}/token`,
            jwks_uri: `${issuer}/jwks`,
            response_types_supported: ['code'],
            response_modes_supported: ['query'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['RS256'],
            token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
            code_challenge_methods_supported: ['S256'],
            scopes_supported: ['openid', 'email', 'profile'],
            authorization_response_iss_parameter_supported: true,
          });
          break;
        case '/jwks': stats.jwks++; send(res, 200, { keys: [jwk] }); break;
        case '/authorize': stats.authorize++; authorize(req, res, url); break;
        case '/token': stats.token++; token(req, res, Buffer.concat(chunks).toString(), clients); break;
        default: send(res, 404, 'not found');
      }
    } catch (e) {
      stats.errors++;
      send(res, 500, String(e));
    }
  });
});
server.on('secureConnection', () => { stats.tls_connections++; });

// Codes nobody redeemed (a failed flow) do not pile up.
setInterval(() => {
  const old = Date.now() - CODE_TTL_MS;
  for (const [k, v] of codes) if (v.at < old) codes.delete(k);
}, 10000).unref();

const control = http.createServer((req, res) => {
  if (req.url === '/stats') send(res, 200, stats);
  else if (req.url === '/reset' && req.method === 'POST') {
    for (const k of Object.keys(stats)) stats[k] = 0;
    send(res, 200, stats);
  } else send(res, 404, 'not found');
});

server.listen(Number(arg('port', '0')), host, () => {
  const { port } = server.address();
  issuer = `https://${host}:${port}`;
  control.listen(0, host, () => {
    process.stdout.write(`${JSON.stringify({
      ready: true, issuer, port, control: control.address().port, pid: process.pid,
    })}\n`);
  });
});
process.on('SIGTERM', () => process.exit(0));
