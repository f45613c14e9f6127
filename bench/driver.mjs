// Login driver for the benchmarks: N concurrent "browsers", each flow with a
// fresh cookie jar, follows start URL → relying party → OP authorize → RP
// callback → back to the protected URL (one authenticated request), for a
// bounded time. Prints one JSON line of results.
//
//   node bench/driver.mjs --start URL --ca FILE [--concurrency 16]
//        [--duration S] [--max-flows N] [--cookie-out FILE]
//
// --cookie-out: run one flow and write the final Cookie header for the RP
// (for the authenticated-request load with one session cookie).
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}

const start = arg('start');
const ca = fs.readFileSync(arg('ca'));
const concurrency = Number(arg('concurrency', '16'));
const durationMs = Number(arg('duration', '10')) * 1000;
const maxFlows = Number(arg('max-flows', '1000000'));
const cookieOut = arg('cookie-out');
const MAX_HOPS = 8;
const REQ_TIMEOUT_MS = 10000;

// Shared keep-alive agents: the "browsers" sit behind one client host, so
// connections are reused the same way for both relying parties.
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: concurrency * 2 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: concurrency * 2, ca }),
};

// Cookies per origin, by name (enough for the two RPs: no path games).
class Jar {
  constructor() { this.m = new Map(); }
  header(origin) {
    const c = this.m.get(origin);
    return c && c.size ? [...c].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }
  store(origin, setCookie) {
    if (!setCookie) return;
    let c = this.m.get(origin);
    if (!c) { c = new Map(); this.m.set(origin, c); }
    for (const line of setCookie) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=\s*0\s*$/i.test(a)
        || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()));
      if (expired || value === '') c.delete(name); else c.set(name, value);
    }
  }
}

function get(url, jar) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    // A browser's Accept: mod_auth_openidc answers 401 instead of redirecting
    // to non-browser clients.
    const headers = { 'user-agent': 'tsso-bench', accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    const cookie = jar.header(u.origin);
    if (cookie) headers.cookie = cookie;
    const req = (u.protocol === 'https:' ? https : http).request(u, {
      agent: agents[u.protocol], headers, timeout: REQ_TIMEOUT_MS,
    }, (res) => {
      jar.store(u.origin, res.headers['set-cookie']);
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function flow() {
  const jar = new Jar();
  let url = start;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const r = await get(url, jar);
    if (r.status >= 300 && r.status < 400 && r.location) {
      url = new URL(r.location, url).toString();
      continue;
    }
    if (r.status !== 200) throw new Error(`${url} answered ${r.status}`);
    return { jar, url };
  }
  throw new Error('too many redirects');
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  if (cookieOut) {
    const { jar, url } = await flow();
    fs.writeFileSync(cookieOut, `${jar.header(new URL(url).origin)}\n`, { mode: 0o600 });
    process.stdout.write(`${JSON.stringify({ ok: true, final: url })}\n`);
    return;
  }
  const lat = [];
  const errors = {};
  let started = 0;
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + durationMs;
  async function worker() {
    while (Date.now() < deadline && started < maxFlows) {
      started++;
      const a = process.hrtime.bigint();
      try {
        await flow();
        lat.push(Number(process.hrtime.bigint() - a) / 1e6);
      } catch (e) {
        const k = String(e.message).slice(0, 120);
        errors[k] = (errors[k] ?? 0) + 1;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((x, y) => x - y);
  const nErr = Object.values(errors).reduce((s, n) => s + n, 0);
  process.stdout.write(`${JSON.stringify({
    ok: lat.length, errors: nErr, error_kinds: errors, seconds: secs,
    ops_per_s: lat.length / secs, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99),
  })}\n`);
  for (const a of Object.values(agents)) a.destroy();
}

main().catch((e) => { process.stderr.write(`driver: ${e.stack}\n`); process.exit(1); });
