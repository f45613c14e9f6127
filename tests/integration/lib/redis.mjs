// A throwaway redis-server on 127.0.0.1 (no persistence) and a minimal RESP
// client for tests (PING, INFO commandstats, CONFIG RESETSTAT, KEYS...).
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { startProcess, tempDir } from './proc.mjs';
import { freePort } from './ports.mjs';
import { makeCa, makeServerCert } from './tls.mjs';

/**
 * Start redis-server. Returns {port, url, ca, proc, stop(), kill(), start(),
 * restart(), command(...args), commandStats(), resetStats()}. restart()
 * reuses the port. With tls: true it listens with TLS only (certificate for
 * 127.0.0.1 from a test CA: `ca`), url is rediss://; clients need no cert.
 */
export async function startRedis({
  port, password, tls: useTls = false, timeoutMs = 10000,
} = {}) {
  const p = port ?? await freePort();
  const dir = tempDir('tsso-redis-');
  let ca = null;
  let cert = null;
  if (useTls) {
    const c = makeCa(dir);
    cert = makeServerCert(c, { name: 'redis' });
    ca = c.cert;
  }
  const launch = () => {
    const args = useTls
      ? ['--port', '0', '--tls-port', String(p), '--tls-cert-file', cert.cert, '--tls-key-file', cert.key,
        '--tls-ca-cert-file', ca, '--tls-auth-clients', 'no']
      : ['--port', String(p)];
    args.push('--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes');
    if (password) args.push('--requirepass', password);
    return startProcess({
      name: 'redis', cmd: 'redis-server', args, logDir: dir, readyLine: /Ready to accept connections/, timeoutMs,
    });
  };
  let proc = await launch();
  const handle = {
    port: p,
    url: `${useTls ? 'rediss' : 'redis'}://127.0.0.1:${p}/0`,
    ca,
    get proc() { return proc; },
    async stop() { await proc.stop(); },
    async kill() { await proc.kill(); },
    async start() { if (proc.exited) proc = await launch(); return handle; },
    async restart() { await proc.stop(); proc = await launch(); return handle; },
    command: (...args) => redisCommand(p, args, { password, ca }),
    /** {cmd: calls} from INFO commandstats, e.g. {get: 3, setex: 1}. */
    async commandStats() {
      const info = await redisCommand(p, ['INFO', 'commandstats'], { password, ca });
      const out = {};
      for (const line of String(info).split('\r\n')) {
        const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
        if (m) out[m[1]] = Number(m[2]);
      }
      return out;
    },
    resetStats: () => redisCommand(p, ['CONFIG', 'RESETSTAT'], { password, ca }),
  };
  return handle;
}

function encode(args) {
  let s = `*${args.length}\r\n`;
  for (const a of args) {
    const b = Buffer.from(String(a));
    s += `$${b.length}\r\n${b.toString('binary')}\r\n`;
  }
  return Buffer.from(s, 'binary');
}

// Parse one RESP value from buf at i; returns [value, next] or null if incomplete.
function parse(buf, i = 0) {
  const nl = buf.indexOf('\r\n', i);
  if (nl < 0) return null;
  const t = String.fromCharCode(buf[i]);
  const line = buf.toString('utf8', i + 1, nl);
  if (t === '+') return [line, nl + 2];
  if (t === '-') return [new Error(line), nl + 2];
  if (t === ':') return [Number(line), nl + 2];
  if (t === '$') {
    const n = Number(line);
    if (n < 0) return [null, nl + 2];
    if (buf.length < nl + 2 + n + 2) return null;
    return [buf.toString('utf8', nl + 2, nl + 2 + n), nl + 2 + n + 2];
  }
  if (t === '*') {
    const n = Number(line);
    if (n < 0) return [null, nl + 2];
    const arr = [];
    let j = nl + 2;
    for (let k = 0; k < n; k += 1) {
      const r = parse(buf, j);
      if (!r) return null;
      arr.push(r[0]);
      [, j] = r;
    }
    return [arr, j];
  }
  throw new Error(`bad RESP type ${t}`);
}

/** Send one command (after AUTH when password is set) and resolve its reply; ca = TLS. */
export function redisCommand(port, args, { password, ca, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = ca
      ? tls.connect({ host: '127.0.0.1', port, ca: fs.readFileSync(ca), servername: undefined })
      : net.connect({ host: '127.0.0.1', port });
    const ready = ca ? 'secureConnect' : 'connect';
    let buf = Buffer.alloc(0);
    const want = password ? 2 : 1;
    const replies = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('redis command timeout')); }, timeoutMs);
    sock.on(ready, () => {
      if (password) sock.write(encode(['AUTH', password]));
      sock.write(encode(args));
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = parse(buf);
        if (!r) break;
        replies.push(r[0]);
        buf = buf.subarray(r[1]);
      }
      if (replies.length >= want) {
        clearTimeout(timer);
        sock.end();
        const v = replies[want - 1];
        if (v instanceof Error) reject(v); else resolve(v);
      }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => { clearTimeout(timer); reject(new Error('redis connection closed before a reply')); });
  });
}
