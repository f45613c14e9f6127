// Free TCP ports on the loopback interface, for peers that cannot pick their own.
//
// A port handed out here is bound later by another process (the daemon, Redis,
// nginx), so two things can take it in between: another test process asking
// for a port at the same moment, and any outbound connection on the machine,
// since the kernel picks ephemeral source ports from the same numbers that
// listen(0) returns. So ports come from below the ephemeral range, and each is
// reserved with an exclusive file that every test process honours.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const RESERVE_DIR = path.join(os.tmpdir(), 'tsso-ports');
const RESERVE_TTL_MS = 30 * 60 * 1000; // longer than any test file runs
const LOWEST = 20000;
const MAX_TRIES = 200;
const reserved = new Set();

/** Lowest port of the kernel's ephemeral range (32768 when unknown). */
function ephemeralLow() {
  try {
    const [lo] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(lo);
    if (Number.isInteger(n) && n > LOWEST + 1000 && n <= 65535) return n;
  } catch { /* not Linux: keep the IANA default */ }
  return 32768;
}

/** Take an exclusive reservation file for port, clearing one left stale. */
function reserve(port) {
  const f = path.join(RESERVE_DIR, String(port));
  try {
    fs.writeFileSync(f, String(process.pid), { flag: 'wx' });
    return true;
  } catch (e) {
    if (e.code !== 'EEXIST') throw e;
  }
  try {
    if (Date.now() - fs.statSync(f).mtimeMs < RESERVE_TTL_MS) return false;
    fs.unlinkSync(f);
    fs.writeFileSync(f, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    return false;
  }
}

function release() {
  for (const p of reserved) {
    try { fs.unlinkSync(path.join(RESERVE_DIR, String(p))); } catch { /* gone */ }
  }
  reserved.clear();
}
process.once('exit', release);

/** Resolve true when 127.0.0.1:port can be bound right now. */
function bindable(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 that nothing listens on, reserved for this process. */
export async function freePort() {
  fs.mkdirSync(RESERVE_DIR, { recursive: true });
  const span = ephemeralLow() - LOWEST;
  for (let i = 0; i < MAX_TRIES; i++) {
    const port = LOWEST + Math.floor(Math.random() * span);
    if (reserved.has(port) || !reserve(port)) continue;
    reserved.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free loopback port after ${MAX_TRIES} tries`);
}

/** Resolve true when something accepts TCP on 127.0.0.1:port within timeoutMs. */
export function portOpen(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
