// Sample embedding page for the toucan-sso demo: serves index.html with the
// SSO base and tenant filled in and, in proxy mode, forwards {SSO}/* to the
// daemon so page, session cookie and embed-token calls share one origin.
//
// Usage: node demo/sample-app/server.mjs [--port 3000] [--host 127.0.0.1]
//          [--sso /sso] [--tenant acme] [--proxy-to http://127.0.0.1:8080]
// With --proxy-to, --sso must be a path (e.g. /sso) and the daemon's
// public_url must be http://HOST:PORT{sso}. Without it, --sso is the
// daemon's absolute public_url and the tenant must allow this origin (CORS).
// No dependencies. Prints {"ready":true,"url":...} when listening.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROXY_TIMEOUT_MS = 15000;

function parseArgs(argv) {
  const o = {
    port: 3000, host: '127.0.0.1', sso: '/sso', tenant: 'acme', proxyTo: null,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const v = argv[i + 1];
    i += 1;
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === '--port') o.port = Number(v);
    else if (a === '--host') o.host = v;
    else if (a === '--sso') o.sso = v.replace(/\/$/, '');
    else if (a === '--tenant') o.tenant = v;
    else if (a === '--proxy-to') o.proxyTo = v.replace(/\/$/, '');
    else throw new Error(`unknown argument ${a}`);
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(o.tenant)) throw new Error('--tenant: letters, digits, _ and - only');
  if (o.proxyTo && !o.sso.startsWith('/')) throw new Error('--sso must be a path (e.g. /sso) with --proxy-to');
  if (!o.proxyTo && !/^https?:\/\//.test(o.sso) && !o.sso.startsWith('/')) throw new Error('--sso must be a URL or a path');
  return o;
}

const escHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function proxy(req, res, upstream) {
  const target = new URL(req.url, upstream);
  const headers = { ...req.headers };
  headers['x-forwarded-host'] = req.headers.host ?? '';
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  delete headers.connection;
  const up = http.request(target, { method: req.method, headers, timeout: PROXY_TIMEOUT_MS }, (ur) => {
    res.writeHead(ur.statusCode ?? 502, ur.headers);
    ur.pipe(res);
  });
  up.on('timeout', () => up.destroy(new Error('upstream timeout')));
  up.on('error', (e) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
      res.end(`toucan-sso is not reachable (${e.message}); try again in a moment.\n`);
    } else res.destroy();
  });
  req.pipe(up);
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const template = fs.readFileSync(path.join(HERE, 'index.html'), 'utf8');
  const page = template.replaceAll('{SSO}', escHtml(o.sso)).replaceAll('{TENANT}', escHtml(o.tenant));
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    if (o.proxyTo && (p === o.sso || p.startsWith(`${o.sso}/`))) {
      proxy(req, res, o.proxyTo);
      return;
    }
    if ((p === '/' || p === '/index.html') && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'same-origin',
      });
      res.end(req.method === 'HEAD' ? undefined : page);
      return;
    }
    if (p === '/healthz') { res.writeHead(200); res.end('ok'); return; }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  server.listen(o.port, o.host, () => {
    const { port } = server.address();
    process.stdout.write(`${JSON.stringify({
      ready: true, url: `http://${o.host}:${port}`, sso: o.sso, tenant: o.tenant, proxy_to: o.proxyTo,
    })}\n`);
  });
  const stop = () => { server.close(); server.closeAllConnections?.(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
