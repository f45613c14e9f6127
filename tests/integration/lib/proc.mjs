// Child processes for tests: output captured to files, bounded readiness waits,
// and every child killed when the test process exits, whatever the outcome.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { request } from './http.mjs';
import { tempDir } from './tmp.mjs';

export { tempDir };

const live = new Set();

function killAll() {
  for (const p of live) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  live.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { killAll(); process.exit(130); });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Spawn a process; stdout/stderr go to files in logDir (and are kept in
 * memory, capped, for assertions). Resolves once ready:
 *  - readyLine: RegExp tested against each stdout/stderr line; if the line is
 *    JSON, its parsed value is returned as `ready`;
 *  - probe: {url, ca?, status?} polled until it answers `status` (default 200);
 *  - neither: resolves right after spawn.
 * Rejects (and kills the child) after timeoutMs or when the child exits first.
 */
export async function startProcess({
  name, cmd, args = [], env = {}, cwd, logDir, readyLine, probe, timeoutMs = 10000,
}) {
  logDir ??= tempDir(`tsso-${name}-`);
  const outPath = path.join(logDir, `${name}.stdout.log`);
  const errPath = path.join(logDir, `${name}.stderr.log`);
  const outFile = fs.createWriteStream(outPath);
  const errFile = fs.createWriteStream(errPath);
  const child = spawn(cmd, args, {
    cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const MAX_KEEP = 4 * 1024 * 1024;
  const handle = {
    name, child, pid: child.pid, outPath, errPath, logDir, ready: null,
    stdout: '', stderr: '', exited: false, exitCode: null, signal: null,
    /** Lines of stdout+stderr seen so far. */
    lines() { return (this.stdout + this.stderr).split('\n').filter(Boolean); },
    /** Wait (bounded) until a line matching re appears; resolves the line. */
    async waitForLine(re, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = this.lines().find((l) => re.test(l));
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`${name}: no line matching ${re} within ${ms} ms`);
        await sleep(25);
      }
    },
    /** SIGTERM, then SIGKILL after graceMs; resolves when the child is gone. */
    async stop(graceMs = 3000) {
      if (this.exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      try { child.kill('SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
      await gone;
      clearTimeout(t);
    },
    /** SIGKILL, no grace (a crash). */
    async kill() {
      if (this.exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      try { child.kill('SIGKILL'); } catch { /* gone */ }
      await gone;
    },
  };
  let lineWaiter = null;
  const onData = (stream, file) => (chunk) => {
    file.write(chunk);
    if (handle[stream].length < MAX_KEEP) handle[stream] += chunk.toString('utf8');
    if (lineWaiter) lineWaiter();
  };
  child.stdout.on('data', onData('stdout', outFile));
  child.stderr.on('data', onData('stderr', errFile));
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      handle.exited = true; handle.exitCode = code; handle.signal = signal;
      live.delete(child);
      resolve();
      if (lineWaiter) lineWaiter();
    });
  });
  // 'exit' can come before the last output is read: the log files are
  // closed only once both pipes are ('close'), never while data may follow.
  child.once('close', () => { outFile.end(); errFile.end(); });
  child.once('error', (e) => { handle.spawnError = e; });
  handle.exitedPromise = exited;

  const deadline = Date.now() + timeoutMs;
  const fail = async (why) => {
    await handle.kill();
    const tail = (handle.stdout + handle.stderr).slice(-2000);
    throw new Error(`${name}: ${why}\n--- output tail ---\n${tail}`);
  };

  if (readyLine) {
    for (;;) {
      const hit = handle.lines().find((l) => readyLine.test(l));
      if (hit) {
        try { handle.ready = JSON.parse(hit); } catch { handle.ready = hit; }
        break;
      }
      if (handle.exited) await fail(`exited (code ${handle.exitCode}, signal ${handle.signal}) before ready`);
      if (handle.spawnError) await fail(`spawn failed: ${handle.spawnError.message}`);
      const left = deadline - Date.now();
      if (left <= 0) await fail(`not ready within ${timeoutMs} ms`);
      await new Promise((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        lineWaiter = () => { clearTimeout(t); lineWaiter = null; r(); };
      });
    }
  } else if (probe) {
    for (;;) {
      if (handle.exited) await fail(`exited (code ${handle.exitCode}) before ready`);
      if (handle.spawnError) await fail(`spawn failed: ${handle.spawnError.message}`);
      try {
        const r = await request(probe.url, { ca: probe.ca, timeoutMs: 1000 });
        if (r.status === (probe.status ?? 200)) break;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) await fail(`probe ${probe.url} not ready within ${timeoutMs} ms`);
      await sleep(50);
    }
  }
  lineWaiter = null;
  return handle;
}

/** Stop several handles (null entries ignored), never throwing. */
export async function stopAll(...handles) {
  await Promise.all(handles.flat().filter(Boolean).map((h) => h.stop().catch(() => {})));
}
