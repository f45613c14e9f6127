// Start the C daemon (build/toucan-sso serve -c FILE) for a test: write a
// private config dir (main file, tenants.d/, secrets, session key), wait for
// /healthz, and read back its JSON log lines (reason codes).
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startProcess, tempDir } from './proc.mjs';
import { freePort } from './ports.mjs';
import { request } from './http.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Source tree root: $TSSO_SOURCE_ROOT (set by meson test) or the repo this file is in. */
export function sourceRoot() {
  return process.env.TSSO_SOURCE_ROOT ?? path.resolve(HERE, '../../..');
}

/** Build dir: $TSSO_BUILD_ROOT (set by meson test) or {source}/build. */
export function buildRoot() {
  return process.env.TSSO_BUILD_ROOT ?? path.join(sourceRoot(), 'build');
}

/** Path of the toucan-sso binary. */
export function binary() {
  return path.join(buildRoot(), 'toucan-sso');
}

/** True when the binary exists (tests can skip otherwise). */
export function haveBinary() {
  try { fs.accessSync(binary(), fs.constants.X_OK); return true; } catch { return false; }
}

function isPlainObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }

/** Deep merge b into a copy of a (objects merged, anything else replaced; undefined deletes). */
export function merge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b ?? {})) {
    if (v === undefined) delete out[k];
    else if (isPlainObject(v) && isPlainObject(out[k])) out[k] = merge(out[k], v);
    else out[k] = v;
  }
  return out;
}

/**
 * Write a config dir. opts:
 *  main:    overrides merged into the default main file (see product.md);
 *  tenants: {name: tenantObject} written to tenants.d/{name}.json;
 *  files:   {relativePath: string | {content, mode}} e.g. secrets (mode 0600 default);
 *  port:    listen port (default: a free one); publicUrl (default http://127.0.0.1:port).
 * Returns {dir, configPath, port, publicUrl, main}.
 */
export async function writeConfig({
  main = {}, tenants = {}, files = {}, port, publicUrl, dir,
} = {}) {
  dir ??= tempDir('tsso-daemon-');
  const p = port ?? await freePort();
  const pub = publicUrl ?? `http://127.0.0.1:${p}`;
  fs.mkdirSync(path.join(dir, 'tenants.d'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'secrets'), { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(dir, 'keys'), { recursive: true, mode: 0o700 });
  const sessionKey = path.join(dir, 'secrets', 'session.key');
  if (!files['secrets/session.key']) {
    fs.writeFileSync(sessionKey, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  }
  const m = merge({
    mode: 'development',
    listen: `127.0.0.1:${p}`,
    public_url: pub,
    tenants_dir: 'tenants.d',
    session: {
      store: 'cookie', secret_file: 'secrets/session.key', inactivity_timeout: 1800, max_duration: 28800,
    },
    embed: { keys_dir: 'keys', alg: 'RS512', ttl: 300 },
    log: { level: 'debug', format: 'json' },
  }, main);
  for (const [rel, v] of Object.entries(files)) {
    const f = path.join(dir, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 });
    const content = typeof v === 'string' ? v : v.content;
    fs.writeFileSync(f, content, { mode: typeof v === 'string' ? 0o600 : (v.mode ?? 0o600) });
  }
  for (const [name, t] of Object.entries(tenants)) {
    fs.writeFileSync(path.join(dir, 'tenants.d', `${name}.json`), `${JSON.stringify(t, null, 2)}\n`, { mode: 0o600 });
  }
  const configPath = path.join(dir, 'toucan-sso.json');
  fs.writeFileSync(configPath, `${JSON.stringify(m, null, 2)}\n`, { mode: 0o600 });
  return {
    dir, configPath, port: p, publicUrl: pub, main: m,
  };
}

/**
 * Run a toucan-sso subcommand (check, mint, map, keys, version) to completion.
 * Resolves {code, stdout, stderr}; never rejects on a non-zero exit.
 */
export function runCli(args, { env = {}, timeoutMs = 15000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    execFile(binary(), args, {
      env: { ...process.env, ...env }, timeout: timeoutMs, cwd, maxBuffer: 4 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        if (err.killed) { reject(new Error(`toucan-sso ${args.join(' ')}: timed out after ${timeoutMs} ms`)); return; }
        if (err.code === 'ENOENT') { reject(new Error(`toucan-sso binary not found at ${binary()}`)); return; }
      }
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Parse the JSON log lines of a process handle (non-JSON lines skipped). */
export function jsonLines(proc) {
  const out = [];
  for (const l of proc.lines()) {
    if (!l.startsWith('{')) continue;
    try { out.push(JSON.parse(l)); } catch { /* partial or plain line */ }
  }
  return out;
}

/**
 * Start the daemon with writeConfig(opts). Extra opts: generateKeys (run
 * `toucan-sso keys generate -c FILE` first), env, timeoutMs.
 * Returns {url, port, publicUrl, dir, configPath, proc, stop(), kill(),
 *   restart(), reload() (SIGHUP), logs(), reasons(), waitForLog(pred, ms),
 *   tenantUrl(tenant, route), cli(args)}.
 */
export async function startDaemon(opts = {}) {
  const { generateKeys = false, env = {}, timeoutMs = 15000 } = opts;
  const cfg = await writeConfig(opts);
  const cli = (args) => runCli([...args, '-c', cfg.configPath], { env });
  if (generateKeys) {
    const r = await cli(['keys', 'generate']);
    if (r.code !== 0) throw new Error(`keys generate failed (${r.code}): ${r.stderr}${r.stdout}`);
  }
  const base = `http://127.0.0.1:${cfg.port}`;
  const launch = () => startProcess({
    name: 'toucan-sso',
    cmd: binary(),
    args: ['serve', '-c', cfg.configPath],
    env,
    logDir: cfg.dir,
    probe: { url: `${base}/healthz` },
    timeoutMs,
  });
  let proc = await launch();
  const basePath = new URL(cfg.publicUrl).pathname.replace(/\/$/, '');
  const handle = {
    ...cfg,
    url: base,
    get proc() { return proc; },
    cli,
    async stop() { await proc.stop(); },
    async kill() { await proc.kill(); },
    async restart() { await proc.stop(); proc = await launch(); return handle; },
    reload() { process.kill(proc.pid, 'SIGHUP'); },
    logs() { return jsonLines(proc); },
    /** Log lines that carry a reason code. */
    reasons() { return jsonLines(proc).filter((l) => typeof l.reason === 'string'); },
    /** Wait (bounded) for a JSON log line matching pred; resolves it. */
    async waitForLog(pred, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = jsonLines(proc).find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no matching daemon log line within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    /** Absolute URL of a route: tenantUrl('acme', '/login?return_to=/'). */
    tenantUrl(tenant, route = '') { return `${base}${basePath}/${tenant}${route}`; },
    /** GET /metrics as text. */
    async metrics() { return (await request(`${base}/metrics`)).body; },
  };
  return handle;
}
