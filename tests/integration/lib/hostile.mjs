// Start/stop the hostile OpenID Provider (tests/op/hostile-op.mjs) and read
// its scenario table and per-scenario counters.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from './proc.mjs';
import { requestJson, request } from './http.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const HOSTILE_SCRIPT = path.resolve(HERE, '../../op/hostile-op.mjs');

/** The scenario table: [{name, description, clause, expect}]. */
export function hostileScenarios() {
  return JSON.parse(fs.readFileSync(path.resolve(HERE, '../../op/hostile-scenarios.json'), 'utf8')).scenarios;
}

/**
 * Start the hostile OP. Returns {base, port, ca, scenarios, issuer(name),
 * stats(name?), reset(), stop(), proc}.
 */
export async function startHostileOp({ https = false, port = 0, timeoutMs = 15000 } = {}) {
  const args = [HOSTILE_SCRIPT, '--port', String(port)];
  if (https) args.push('--https');
  const proc = await startProcess({
    name: 'hostile-op', cmd: process.execPath, args, readyLine: /^\{"ready":true/, timeoutMs,
  });
  const { base, ca } = proc.ready;
  return {
    proc,
    base,
    port: proc.ready.port,
    ca,
    scenarios: hostileScenarios(),
    issuer: (name) => `${base}/s/${name}`,
    async stats(name) {
      const r = await requestJson(name ? `${base}/s/${name}/_stats` : `${base}/_stats`, { ca });
      return r.json;
    },
    async reset() { await request(`${base}/_reset`, { method: 'POST', ca }); },
    /** key_rotation_manual: switch to a new signing key ({retire: true} drops the old one). */
    async rotate(name = 'key_rotation_manual', { retire = false } = {}) {
      return (await requestJson(`${base}/s/${name}/_rotate`, { method: 'POST', ca, body: { retire } })).json;
    },
    /** For assertion messages: is the OP alive, and its last request lines. */
    diag() {
      const state = proc.exited ? `exited (code ${proc.exitCode}, signal ${proc.signal})` : 'running';
      return `hostile OP ${state}; last lines:\n${proc.lines().slice(-12).join('\n')}`;
    },
    async stop() { await proc.stop(); },
  };
}
