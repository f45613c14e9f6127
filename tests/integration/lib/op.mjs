// Start/stop the real oidc-provider (tests/op/provider.mjs) and drive its
// login pages over HTTP like a browser would, up to the relying party's callback.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, tempDir } from './proc.mjs';
import { request } from './http.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PROVIDER_SCRIPT = path.resolve(HERE, '../../op/provider.mjs');

/**
 * Start provider.mjs with cfg (see tests/op/README.md). Returns a handle:
 * {issuer, port, ca, kids, proc, cfgPath, stop(), restart(changes)}.
 * restart() keeps the port (so the issuer stays the same) and takes config
 * changes, e.g. {jwks_file} to rotate signing keys.
 */
export async function startOp(cfg = {}, { timeoutMs = 20000 } = {}) {
  const dir = tempDir('tsso-op-');
  const launch = async (c) => {
    const cfgPath = path.join(dir, `op-${Date.now()}.json`);
    fs.writeFileSync(cfgPath, JSON.stringify(c, null, 2), { mode: 0o600 });
    const proc = await startProcess({
      name: 'op', cmd: process.execPath, args: [PROVIDER_SCRIPT, '--config', cfgPath],
      logDir: dir, readyLine: /^\{"ready":true/, timeoutMs,
    });
    return { proc, cfgPath };
  };
  let current = { ...cfg };
  if (current.https && !current.tls) current.tls_dir = dir; // CA reused across restarts
  let { proc, cfgPath } = await launch(current);
  const handle = {
    dir,
    get proc() { return proc; },
    get cfgPath() { return cfgPath; },
    issuer: proc.ready.issuer,
    port: proc.ready.port,
    ca: proc.ready.ca,
    kids: proc.ready.kids,
    async stop() { await proc.stop(); },
    async restart(changes = {}) {
      await proc.stop();
      current = { ...current, ...changes, port: handle.port };
      if (handle.ca && !current.tls) {
        // keep the same certificate so relying parties keep trusting it
        current.tls = { cert: path.join(dir, 'op.pem'), key: path.join(dir, 'op.key'), ca: handle.ca };
      }
      ({ proc, cfgPath } = await launch(current));
      handle.kids = proc.ready.kids;
      return handle;
    },
  };
  return handle;
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };
/** Decode the HTML entities a form-post page may use. */
export function htmlDecode(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z0-9]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function attr(tag, name) {
  const m = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  if (!m) return undefined;
  return htmlDecode(m[2] ?? m[3] ?? m[4]);
}

/**
 * Every <form> in an HTML page: [{method, action, fields: {name: value}, inputs: [names]}].
 * Enough for the OP's pages and for form_post auto-submit pages; not a general parser.
 */
export function parseForms(html) {
  const forms = [];
  const re = /<form\b([^>]*)>([\s\S]*?)<\/form>/gi;
  let m;
  let guard = 0;
  while ((m = re.exec(html)) && guard < 50) {
    guard += 1;
    const fields = {};
    const inputs = [];
    const inRe = /<input\b([^>]*)>/gi;
    let im;
    let g2 = 0;
    while ((im = inRe.exec(m[2])) && g2 < 200) {
      g2 += 1;
      const name = attr(im[1], 'name');
      if (!name) continue;
      inputs.push(name);
      fields[name] = attr(im[1], 'value') ?? '';
    }
    forms.push({
      method: (attr(m[1], 'method') ?? 'get').toUpperCase(),
      action: attr(m[1], 'action') ?? '',
      id: attr(m[1], 'id'),
      fields,
      inputs,
    });
  }
  return forms;
}

/**
 * Follow the OP's pages from authorizeUrl as a browser would (cookies in jar),
 * submit the login form with user/password, and stop at the first step that
 * leaves the OP. Returns the relying party's callback:
 *  - query mode:     {method:'GET',  url, fields: {code, state, iss, ...}}
 *  - form_post mode: {method:'POST', url, fields: {code, state, iss, ...}}
 * An error sent back to the RP comes out the same way (fields.error).
 * Throws (with the page) when the OP shows an error page or the login fails.
 * opts: {ca, maxSteps (default 12), timeoutMs per request}.
 */
export async function loginAtOp(authorizeUrl, user, password, jar, opts = {}) {
  const { ca, maxSteps = 12, timeoutMs = 10000 } = opts;
  const opOrigin = new URL(authorizeUrl).origin;
  let next = { method: 'GET', url: authorizeUrl, body: undefined };
  let submittedLogin = false;
  for (let step = 0; step < maxSteps; step += 1) {
    const r = await request(next.url, {
      method: next.method, body: next.body, jar, ca, timeoutMs,
    });
    if (r.status >= 300 && r.status < 400 && r.headers.location) {
      const loc = new URL(r.headers.location, next.url);
      if (loc.origin !== opOrigin) {
        return {
          method: 'GET', url: loc.href, fields: Object.fromEntries(loc.searchParams), status: r.status,
        };
      }
      next = { method: 'GET', url: loc.href };
      continue;
    }
    if (r.status === 200 || r.status === 400) {
      const forms = parseForms(r.body);
      const loginForm = forms.find((f) => f.inputs.includes('login') && f.inputs.includes('password'));
      if (loginForm && r.status === 200) {
        if (submittedLogin) {
          throw new Error(`loginAtOp: login refused for ${user}: ${/id="error">([^<]*)/.exec(r.body)?.[1] ?? 'no message'}`);
        }
        submittedLogin = true;
        const body = new URLSearchParams({ ...loginForm.fields, login: user, password });
        next = { method: 'POST', url: new URL(loginForm.action, r.url).href, body };
        continue;
      }
      const post = forms.find((f) => f.method === 'POST' && f.action
        && new URL(f.action, r.url).origin !== opOrigin);
      if (post) {
        return {
          method: 'POST', url: new URL(post.action, r.url).href, fields: post.fields, status: r.status,
        };
      }
    }
    throw new Error(`loginAtOp: unexpected ${r.status} at ${next.url}: ${r.body.slice(0, 800)}`);
  }
  throw new Error(`loginAtOp: no callback after ${maxSteps} steps`);
}

/**
 * Follow an RP-initiated logout at the OP (end_session URL, cookies in jar):
 * confirm the sign-out form, return the final redirect (to the RP's
 * post_logout_redirect_uri) as {url, fields} or {url:null} when the OP shows
 * its own "signed out" page.
 */
export async function logoutAtOp(endSessionUrl, jar, opts = {}) {
  const { ca, maxSteps = 8, timeoutMs = 10000 } = opts;
  const opOrigin = new URL(endSessionUrl).origin;
  let next = { method: 'GET', url: endSessionUrl };
  for (let step = 0; step < maxSteps; step += 1) {
    const r = await request(next.url, {
      method: next.method, body: next.body, jar, ca, timeoutMs,
    });
    if (r.status >= 300 && r.status < 400 && r.headers.location) {
      const loc = new URL(r.headers.location, next.url);
      if (loc.origin !== opOrigin) return { url: loc.href, fields: Object.fromEntries(loc.searchParams) };
      next = { method: 'GET', url: loc.href };
      continue;
    }
    if (r.status === 200) {
      const form = parseForms(r.body).find((f) => f.id === 'op.logoutForm');
      if (form) {
        const body = new URLSearchParams({ ...form.fields, logout: 'yes' });
        next = { method: 'POST', url: new URL(form.action, r.url).href, body };
        continue;
      }
      if (r.body.includes('id="signed-out"')) return { url: null, fields: {} };
    }
    throw new Error(`logoutAtOp: unexpected ${r.status} at ${next.url}: ${r.body.slice(0, 800)}`);
  }
  throw new Error(`logoutAtOp: not done after ${maxSteps} steps`);
}
