// A small HTTP(S) client on node:http with a per-call CA, a timeout and a size
// cap; used where fetch cannot take a test CA (https peers) or for raw bodies.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';

const MAX_BODY = 8 * 1024 * 1024;

/**
 * request(url, {method, headers, body, ca, jar, timeoutMs})
 *  -> {status, headers (lower-case names, set-cookie an array), body (string), url}
 * Never follows redirects. `ca` may be a PEM string or a file path.
 * With `jar` (see jar.mjs) cookies are sent and stored.
 */
export function request(url, {
  method = 'GET', headers = {}, body, ca, jar, timeoutMs = 10000,
} = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const h = { ...headers };
  if (jar) {
    const c = jar.header(u.href);
    if (c) h.cookie = c;
  }
  let payload = body;
  if (payload && typeof payload === 'object' && !Buffer.isBuffer(payload)) {
    if (payload instanceof URLSearchParams) {
      payload = payload.toString();
      h['content-type'] ??= 'application/x-www-form-urlencoded';
    } else {
      payload = JSON.stringify(payload);
      h['content-type'] ??= 'application/json';
    }
  }
  if (payload !== undefined) h['content-length'] = Buffer.byteLength(payload);
  let caPem;
  if (ca) caPem = ca.includes('-----BEGIN') ? ca : fs.readFileSync(ca, 'utf8');
  return new Promise((resolve, reject) => {
    const req = mod.request(u, {
      method, headers: h, ca: caPem, agent: false, timeout: timeoutMs,
    }, (res) => {
      const chunks = [];
      let n = 0;
      res.on('data', (c) => {
        n += c.length;
        if (n > MAX_BODY) { req.destroy(new Error('response too large')); return; }
        chunks.push(c);
      });
      res.on('end', () => {
        if (jar) jar.store(u.href, res.headers['set-cookie'] ?? []);
        resolve({
          status: res.statusCode, headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'), url: u.href,
        });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${url}`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error(`socket timeout: ${method} ${url}`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** request() then JSON.parse the body; throws with the body on non-JSON. */
export async function requestJson(url, opts = {}) {
  const r = await request(url, opts);
  try {
    r.json = JSON.parse(r.body);
  } catch {
    throw new Error(`${opts.method ?? 'GET'} ${url}: ${r.status} non-JSON body: ${r.body.slice(0, 300)}`);
  }
  return r;
}
