// Start/stop the Toucan stand-in (tests/toucan/standin.mjs) and use its
// controls: tenants, fault injection, counters, request log, token lookup.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, tempDir } from './proc.mjs';
import { requestJson } from './http.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const STANDIN_SCRIPT = path.resolve(HERE, '../../toucan/standin.mjs');

/**
 * Start the stand-in with cfg (see docs/toucan.md):
 *  {v3: {tenants: {ID: {issuer, jwks_url, client_secret, workspace_id?, algs?, token_ttl?, max_ttl?}}},
 *   ai: {api_keys: [...], attributes: {name: "string"|"number"|"boolean"|"string[]"|"number[]"}, ttl?}}
 * Returns {url, port, proc, stop(), counters(), requests(), reset(),
 *          fault({target, mode, count, delay_ms}), setV3Tenant(id, cfg),
 *          regenerateSecret(id, secret?), lookup(token), audience(id)}.
 */
export async function startToucan(cfg = {}, { timeoutMs = 10000 } = {}) {
  const dir = tempDir('tsso-toucan-');
  const cfgPath = path.join(dir, 'standin.json');
  fs.writeFileSync(cfgPath, JSON.stringify(cfg, null, 2), { mode: 0o600 });
  const proc = await startProcess({
    name: 'toucan', cmd: process.execPath, args: [STANDIN_SCRIPT, '--config', cfgPath],
    logDir: dir, readyLine: /^\{"ready":true/, timeoutMs,
  });
  const { url } = proc.ready;
  const call = async (method, p, body) => (await requestJson(`${url}${p}`, { method, body })).json;
  return {
    url,
    port: proc.ready.port,
    proc,
    cfgPath,
    async stop() { await proc.stop(); },
    counters: () => call('GET', '/_control/counters'),
    requests: () => call('GET', '/_control/requests'),
    reset: () => call('POST', '/_control/reset'),
    /** Next `count` calls to target ('v3'|'ai'|'all') answer mode ('500'|'503'|'slow'|'reset'). */
    fault: ({ target = 'all', mode = '503', count = 1, delay_ms, retry_after } = {}) => call('POST', '/_control/faults', {
      target, mode: String(mode), count, delay_ms, retry_after,
    }),
    setV3Tenant: (id, t) => call('PUT', `/_control/v3/${encodeURIComponent(id)}`, t),
    regenerateSecret: (id, secret) => call('POST', `/_control/v3/${encodeURIComponent(id)}/regenerate-secret`, secret ? { client_secret: secret } : {}),
    lookup: (token) => call('GET', `/_control/tokens/${encodeURIComponent(token)}`),
    /** The aud a Toucan 3.0 assertion for tenant id must carry. */
    audience: (id) => `${url}/${id}/oauth/oauth-token`,
  };
}
