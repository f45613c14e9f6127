// The production deployment, proven: real nginx running the shipped
// conf/nginx/toucan-sso.conf (ports, certificate and paths substituted) in
// front of the daemon in production mode, a real https OpenID Provider, a full
// login through the proxy, the cookie's attributes, the embed token, the
// internal routes kept off the proxy, and production-mode refusals by `check`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as jose from 'jose';
import { startOp, loginAtOp } from './lib/op.mjs';
import { startDaemon, writeConfig, runCli, sourceRoot } from './lib/daemon.mjs';
import { startProcess, stopAll, tempDir } from './lib/proc.mjs';
import { freePort } from './lib/ports.mjs';
import { makeCa, makeServerCert } from './lib/tls.mjs';
import { CookieJar } from './lib/jar.mjs';
import { request } from './lib/http.mjs';

const SECRET = 'CANARY-nginx-client-secret-0123456789abcdef';
const CLIENT = 'tsso-nginx';
const EMBED = {
  scheme: 'signed_jwt',
  issuer: 'toucan-sso-nginx-test',
  workspace_id: 'acme',
  audience: 'https://oauth.toucan.example/acme/oauth/oauth-token',
};

let ca; let op; let daemon; let nginx; let daemon2; let nginx2; let app;
let tlsPort; let httpPort; let origin; let base; let prefixPort; let prefixBase;

/** The nginx binary: $NGINX or Debian's /usr/sbin/nginx. */
function nginxBinary() {
  return process.env.NGINX ?? '/usr/sbin/nginx';
}

/**
 * Apply [from, to] substitutions to the shipped site file, each of which must
 * match exactly as often as stated: if the example changes shape, this test
 * fails instead of silently testing something else.
 */
function substitute(text, subs) {
  let out = text;
  for (const [from, to, times = 1] of subs) {
    const n = out.split(from).length - 1;
    assert.equal(n, times, `conf/nginx/toucan-sso.conf: expected ${times} × "${from}", found ${n}`);
    out = out.split(from).join(to);
  }
  return out;
}

/** The substitutions that turn a shipped site file into a loopback test site. */
function loopbackSubs({ tls, http, daemonPort, cert, key }) {
  const subs = [
    ['    listen 443 ssl http2;\n', `    listen 127.0.0.1:${tls} ssl http2;\n`],
    ['    listen [::]:443 ssl http2;\n', ''],
    ['server 127.0.0.1:8080;', `server 127.0.0.1:${daemonPort};`],
    ['/etc/ssl/app.example.com/fullchain.pem', cert],
    ['/etc/ssl/app.example.com/privkey.pem', key],
  ];
  if (http) subs.push(['    listen 80;\n', `    listen 127.0.0.1:${http};\n`], ['    listen [::]:80;\n', '']);
  return subs;
}

/**
 * Start nginx in the foreground (one process, master_process off, so a kill
 * ends all of it) with a generated main file around a shipped site file
 * (conf/nginx/{file}) after the substitutions subs(www).
 */
async function startNginx({ file, port, subs }) {
  const dir = tempDir('tsso-nginx-');
  const www = path.join(dir, 'www');
  fs.mkdirSync(path.join(www, 'reports'), { recursive: true });
  fs.writeFileSync(path.join(www, 'index.html'), '<!doctype html><title>app</title>\n');
  fs.writeFileSync(path.join(www, 'reports', 'index.html'),
    '<!doctype html><title>reports</title><script src="/sso/acme/embed.js"></script>\n');
  for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, 'tmp', t), { recursive: true });
  const site = substitute(fs.readFileSync(path.join(sourceRoot(), 'conf/nginx', file), 'utf8'), subs(www, dir));
  fs.writeFileSync(path.join(dir, 'site.conf'), site);
  const t = (n) => path.join(dir, 'tmp', n);
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log stderr notice;
events { worker_connections 128; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${t('body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};
  types { text/html html; application/javascript js; }
  default_type application/octet-stream;
  include ${dir}/site.conf;
}
`);
  return startProcess({
    name: 'nginx',
    cmd: nginxBinary(),
    args: ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr'],
    logDir: dir,
    probe: { url: `https://127.0.0.1:${port}/`, ca: ca.cert, status: 200 },
    timeoutMs: 10000,
  });
}

/**
 * A GET with the request target sent byte for byte (new URL() would
 * normalise dot segments and escapes before nginx ever sees them).
 */
function rawGet(target, { port = tlsPort, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path: target, method: 'GET', ca: fs.readFileSync(ca.cert), agent: false,
    }, (res) => {
      let body = '';
      res.on('data', (c) => { if (body.length < 65536) body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout: GET ${target}`)));
    req.on('error', reject);
    req.end();
  });
}

/** TCP connections in state ESTABLISHED to 127.0.0.1:port (from /proc/net/tcp). */
function establishedTo(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 3 && f[2] === `0100007F:${hexPort}` && f[3] === '01').length;
}

/** The Set-Cookie line for cookie `name` among a response's, or undefined. */
function setCookie(res, name) {
  return [].concat(res.headers['set-cookie'] ?? []).find((l) => l.startsWith(`${name}=`));
}

/** Attributes of a Set-Cookie line as a lower-cased name → value map. */
function cookieAttributes(line) {
  const attrs = new Map();
  for (const part of line.split(';').slice(1)) {
    const i = part.indexOf('=');
    const k = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    attrs.set(k, i < 0 ? true : part.slice(i + 1).trim());
  }
  return attrs;
}

/** The tenant file both daemons use. */
function acmeTenant() {
  return {
    issuer: op.issuer,
    client_id: CLIENT,
    client_secret_file: '../secrets/client.secret',
    ca_file: ca.cert,
    embed: EMBED,
  };
}

/** A daemon in production mode behind nginx, public_url given. */
function productionDaemon(port, publicUrl) {
  return startDaemon({
    port,
    publicUrl,
    generateKeys: true,
    main: { mode: 'production', http: { max_per_ip: 0 } },
    files: { 'secrets/client.secret': `${SECRET}\n` },
    tenants: { acme: acmeTenant() },
  });
}

before(async () => {
  ca = makeCa();
  const opCert = makeServerCert(ca, { name: 'op' });
  const webCert = makeServerCert(ca, { name: 'nginx' });
  const [dport, dport2] = [await freePort(), await freePort()];
  tlsPort = await freePort();
  httpPort = await freePort();
  prefixPort = await freePort();
  origin = `https://127.0.0.1:${tlsPort}`;
  base = `${origin}/sso`;
  prefixBase = `https://127.0.0.1:${prefixPort}/analytics/sso`;
  op = await startOp({
    tls: { cert: opCert.cert, key: opCert.key, ca: ca.cert },
    clients: [{
      client_id: CLIENT,
      client_secret: SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [`${base}/acme/callback`, `${prefixBase}/acme/callback`],
    }],
  });
  assert.match(op.issuer, /^https:\/\/127\.0\.0\.1:\d+$/);
  [daemon, daemon2] = await Promise.all([productionDaemon(dport, base), productionDaemon(dport2, prefixBase)]);

  // The embedding application of the prefix variant: a backend of its own.
  app = http.createServer((req, res) => { res.end('embedding-app\n'); });
  await new Promise((r) => { app.listen(0, '127.0.0.1', r); });
  const tlsFiles = { cert: webCert.cert, key: webCert.key };
  nginx = await startNginx({
    file: 'toucan-sso.conf',
    port: tlsPort,
    subs: (www, dir) => [
      ...loopbackSubs({ tls: tlsPort, http: httpPort, daemonPort: dport, ...tlsFiles }),
      ['root /var/www/app;', `root ${www};`],
      ['/var/log/nginx/app.example.com.access.log', path.join(dir, 'tsso-access.log')],
    ],
  });
  nginx2 = await startNginx({
    file: 'toucan-sso-prefix.conf',
    port: prefixPort,
    subs: () => [
      ...loopbackSubs({ tls: prefixPort, daemonPort: dport2, ...tlsFiles }),
      ['server 127.0.0.1:3000;', `server 127.0.0.1:${app.address().port};`],
    ],
  });
});

after(async () => {
  await stopAll(nginx, nginx2, daemon, daemon2, op);
  if (app) { app.closeAllConnections(); await new Promise((r) => { app.close(r); }); }
});

test('the daemon runs in production mode behind nginx', async () => {
  const started = await daemon.waitForLog((l) => l.event === 'server.started');
  assert.equal(started.mode, 'production');
  assert.equal(started.public_url, base);
  // `keys generate` left the signing keys private (docs/deployment.md's table)
  const keys = path.join(daemon.dir, 'keys');
  const pems = fs.readdirSync(keys).filter((n) => n.endsWith('.pem'));
  assert.equal(pems.length, 1);
  for (const f of pems) assert.equal(fs.statSync(path.join(keys, f)).mode & 0o777, 0o600, f);
});

test('full login through nginx with an https OP; cookie, embed token, JWKS', { timeout: 30000 }, async () => {
  const jar = new CookieJar();
  const start = await request(`${base}/acme/login?return_to=${encodeURIComponent('/reports/')}`, { jar, ca: ca.cert });
  assert.equal(start.status, 302, start.body);
  const authorize = new URL(start.headers.location);
  assert.equal(authorize.origin, op.issuer, 'login sends the browser to the OP');
  // HSTS is nginx's, on the daemon's answers too
  assert.match(start.headers['strict-transport-security'] ?? '', /max-age=\d+/);

  const cb = await loginAtOp(authorize.href, 'alice', 'alice-password', jar, { ca: ca.cert });
  assert.equal(cb.method, 'GET');
  assert.ok(cb.url.startsWith(`${base}/acme/callback?`), cb.url);
  const fin = await request(cb.url, { jar, ca: ca.cert });
  assert.equal(fin.status, 302, fin.body);
  assert.equal(fin.headers.location, `${origin}/reports/`);

  // The session cookie: __Secure- prefix under https, and exactly the
  // attributes docs/security-model.md promises.
  const line = setCookie(fin, '__Secure-tsso');
  assert.ok(line, `no __Secure-tsso cookie in ${JSON.stringify(fin.headers['set-cookie'])}`);
  const attrs = cookieAttributes(line);
  assert.equal(attrs.get('secure'), true, line);
  assert.equal(attrs.get('httponly'), true, line);
  assert.equal(String(attrs.get('samesite')).toLowerCase(), 'lax', line);
  assert.equal(attrs.get('path'), '/sso/acme', line);
  assert.equal(attrs.has('domain'), false, `a Domain attribute widens the cookie: ${line}`);

  // return_to lands on the application nginx serves next to the daemon
  const page = await request(fin.headers.location, { jar, ca: ca.cert });
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>reports<\/title>/);
  const js = await request(`${base}/acme/embed.js`, { ca: ca.cert });
  assert.equal(js.status, 200);
  assert.match(js.headers['content-type'], /javascript/);

  const tok = await request(`${base}/acme/embed-token`, { jar, ca: ca.cert });
  assert.equal(tok.status, 200, tok.body);
  assert.match(tok.headers['x-request-id'] ?? '', /^[A-Za-z0-9_-]{16}$/, 'the daemon answered, through nginx');
  const body = JSON.parse(tok.body);
  const jwks = JSON.parse((await request(`${base}/.well-known/jwks.json`, { ca: ca.cert })).body);
  const { payload } = await jose.jwtVerify(body.token, jose.createLocalJWKSet(jwks), {
    issuer: EMBED.issuer, audience: EMBED.audience,
  });
  assert.equal(payload.embed_context.username, 'alice@acme.example');

  // nginx's access log ties its lines to the daemon's request ids and keeps
  // the callback's code and state out
  const access = fs.readFileSync(path.join(nginx.logDir, 'tsso-access.log'), 'utf8');
  assert.match(access, new RegExp(`"GET /sso/acme/embed-token" 200 .* rid=${tok.headers['x-request-id']}\\n`));
  assert.match(access, /"GET \/sso\/acme\/callback" 302 /);
  for (const secret of [cb.fields.code, cb.fields.state]) {
    assert.ok(secret && !access.includes(secret), 'a callback parameter reached the access log');
  }

  // the daemon saw nginx, not the browser, and logged no 5xx
  const reqs = daemon.logs().filter((l) => l.event === 'http.request');
  assert.ok(reqs.some((l) => l.route && l.status === '200' && l.remote === '127.0.0.1'));
  assert.ok(!reqs.some((l) => Number(l.status) >= 500), JSON.stringify(reqs.filter((l) => Number(l.status) >= 500)));
});

test('without a session, embed-token answers 401 with a login_url built from public_url', async () => {
  const r = await request(`${base}/acme/embed-token`, { ca: ca.cert });
  assert.equal(r.status, 401);
  assert.equal(JSON.parse(r.body).login_url, `${base}/acme/login`);
});

test('/metrics, /healthz and /readyz are not reachable through nginx', async () => {
  // Reachable on the daemon's own address: the negative checks below mean something.
  const direct = await request(`${daemon.url}/metrics`);
  assert.equal(direct.status, 200);
  assert.match(direct.body, /tsso_http_requests_total/);
  assert.equal((await request(`${daemon.url}/healthz`)).status, 200);

  const internal = /tsso_http_requests_total|"status"\s*:|# TYPE/;
  for (const target of [
    '/metrics', '/healthz', '/readyz', '//metrics',
    '/sso/metrics', '/sso/healthz', '/sso/readyz', '/sso//metrics',
    '/sso/../metrics', '/sso/%2e%2e/metrics', '/sso/..%2fmetrics', '/sso/%2E%2E%2Fmetrics',
    '/sso/acme/../../metrics', '/sso/.well-known/../../healthz',
  ]) {
    const r = await rawGet(target);
    assert.notEqual(r.status, 200, `${target}: ${r.status} ${r.body.slice(0, 200)}`);
    assert.doesNotMatch(r.body, internal, `${target} leaked an internal route`);
  }
});

test('nginx enforces the daemon\'s body limit (64 KiB) and passes smaller bodies on', async () => {
  const url = `${base}/acme/backchannel-logout`;
  const big = await request(url, {
    method: 'POST', ca: ca.cert, body: `logout_token=${'a'.repeat(70000)}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(big.status, 413);
  assert.equal(big.headers['x-request-id'], undefined, 'nginx, not the daemon, refused it');
  const small = await request(url, {
    method: 'POST', ca: ca.cert, body: `logout_token=${'a'.repeat(1000)}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(small.status, 400, small.body);
  assert.ok(small.headers['x-request-id'], 'the daemon answered');
});

test('plain HTTP only redirects to https', async () => {
  const r = await request(`http://127.0.0.1:${httpPort}/sso/acme/login`);
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'https://127.0.0.1/sso/acme/login');
  assert.equal(r.headers['set-cookie'], undefined);
});

async function checkConfig(tenant, { files = {}, main = {} } = {}) {
  const cfg = await writeConfig({
    publicUrl: 'https://app.example.com/sso',
    main: { mode: 'production', ...main },
    files,
    tenants: { acme: { client_id: CLIENT, embed: EMBED, ...tenant } },
  });
  return runCli(['check', '-c', cfg.configPath]);
}

test('production mode: toucan-sso check refuses an http issuer and an inline secret', async () => {
  const good = {
    issuer: 'https://login.acme.example', client_secret_file: '../secrets/client.secret',
  };
  const files = { 'secrets/client.secret': `${SECRET}\n` };
  // control: the same config, right, passes
  const ok = await checkConfig(good, { files });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);

  const plain = await checkConfig({ ...good, issuer: 'http://127.0.0.1:9' }, { files });
  assert.equal(plain.code, 1);
  assert.match(plain.stdout + plain.stderr, /acme\.json: issuer: .*https/);

  const inline = await checkConfig({ issuer: good.issuer, client_secret: SECRET });
  assert.equal(inline.code, 1);
  assert.match(inline.stdout + inline.stderr, /client_secret: .*inline secrets are refused in production/);
  assert.doesNotMatch(inline.stdout + inline.stderr, new RegExp(SECRET), 'the secret is never echoed');

  const readable = await checkConfig(good, { files: { 'secrets/client.secret': { content: `${SECRET}\n`, mode: 0o644 } } });
  assert.equal(readable.code, 1);
  assert.match(readable.stdout + readable.stderr, /client_secret_file/);

  // the running configuration itself passes
  const running = await daemon.cli(['check']);
  assert.equal(running.code, 0, running.stdout + running.stderr);
});

test('nginx -t accepts the shipped example as written (certificate paths aside)', async () => {
  // Every variant in conf/nginx/, checked with a throwaway certificate.
  const dir = tempDir('tsso-nginx-t-');
  const cert = makeServerCert(ca, { name: 'syntax' });
  for (const f of fs.readdirSync(path.join(sourceRoot(), 'conf/nginx')).filter((n) => n.endsWith('.conf'))) {
    let site = fs.readFileSync(path.join(sourceRoot(), 'conf/nginx', f), 'utf8');
    site = site.replace(/ssl_certificate\s+\S+;/g, `ssl_certificate ${cert.cert};`)
      .replace(/ssl_certificate_key\s+\S+;/g, `ssl_certificate_key ${cert.key};`);
    const sitePath = path.join(dir, `${crypto.randomBytes(4).toString('hex')}-${f}`);
    fs.writeFileSync(sitePath, site);
    const main = path.join(dir, 'nginx.conf');
    fs.writeFileSync(main, `pid ${dir}/nginx.pid;\nerror_log stderr;\nevents {}\n`
      + `http { access_log off; include ${sitePath}; }\n`);
    try {
      execFileSync(nginxBinary(), ['-t', '-q', '-p', dir, '-c', main, '-e', 'stderr'], { stdio: 'pipe', timeout: 10000 });
    } catch (e) {
      assert.fail(`nginx -t refused conf/nginx/${f}: ${e.stderr}`);
    }
  }
});

test('prefix variant: login under /analytics/sso, the prefix forwarded unchanged', { timeout: 30000 }, async () => {
  const jar = new CookieJar();
  const start = await request(`${prefixBase}/acme/login?return_to=%2Fdashboard`, { jar, ca: ca.cert });
  assert.equal(start.status, 302, start.body);
  const cb = await loginAtOp(start.headers.location, 'alice', 'alice-password', jar, { ca: ca.cert });
  assert.ok(cb.url.startsWith(`${prefixBase}/acme/callback?`), cb.url);
  const fin = await request(cb.url, { jar, ca: ca.cert });
  assert.equal(fin.status, 302, fin.body);
  assert.equal(fin.headers.location, `https://127.0.0.1:${prefixPort}/dashboard`);
  const attrs = cookieAttributes(setCookie(fin, '__Secure-tsso') ?? '');
  assert.equal(attrs.get('path'), '/analytics/sso/acme');
  assert.equal(attrs.get('secure'), true);
  const tok = await request(`${prefixBase}/acme/embed-token`, { jar, ca: ca.cert });
  assert.equal(tok.status, 200, tok.body);

  // Everything else belongs to the application, the daemon's internal routes included.
  for (const target of ['/metrics', '/healthz', '/readyz', '/analytics/sso/../../metrics', '/analytics/sso/%2e%2e/%2e%2e/readyz']) {
    const r = await rawGet(target, { port: prefixPort });
    assert.doesNotMatch(r.body, /tsso_http_requests_total|"status"\s*:/, target);
  }
  assert.equal((await rawGet('/metrics', { port: prefixPort })).body, 'embedding-app\n');
  // What a proxy that strips the prefix would forward: the daemon has no such route.
  assert.equal((await request(`${daemon2.url}/acme/login`)).status, 404);
});

test('SIGTERM with nginx holding keep-alive connections: drained and gone well within TimeoutStopSec', { timeout: 30000 }, async () => {
  // nginx keeps idle upstream connections open (keepalive 16): the daemon
  // must not wait for them to time out (30 s) before exiting.
  for (let i = 0; i < 3; i += 1) {
    assert.equal((await request(`${base}/acme/embed.js`, { ca: ca.cert })).status, 200);
  }
  assert.ok(establishedTo(daemon.port) > 0, 'nginx holds no idle connection to the daemon: the scenario is not set up');
  const unit = fs.readFileSync(path.join(sourceRoot(), 'conf/systemd/toucan-sso.service'), 'utf8');
  const stopSec = Number(/^TimeoutStopSec=(\d+)s?$/m.exec(unit)?.[1]);
  assert.ok(stopSec > 10, 'TimeoutStopSec must exceed the 10 s drain');
  const t0 = Date.now();
  let timer;
  process.kill(daemon.proc.pid, 'SIGTERM');
  try {
    await Promise.race([
      daemon.proc.exitedPromise,
      new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`still running after ${stopSec} s`)), stopSec * 1000); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  const took = Date.now() - t0;
  assert.equal(daemon.proc.exitCode, 0);
  assert.ok(daemon.logs().some((l) => l.event === 'server.stopped'));
  assert.ok(took < 11000, `stopping took ${took} ms`);
  // nginx now answers for the daemon: 502, not a hang
  const r = await request(`${base}/acme/embed.js`, { ca: ca.cert, timeoutMs: 5000 });
  assert.equal(r.status, 502);
});
