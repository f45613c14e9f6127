// Browser-like flows through the daemon for integration tests: start a login,
// pass the IdP (loginAtOp), deliver the callback, read the embed token.
// The jar carries the daemon's cookies and the IdP's, as a browser's would.
import { CookieJar, jarFetch } from './jar.mjs';
import { loginAtOp } from './op.mjs';

/** Deliver an IdP callback ({method, url, fields} from loginAtOp) to the daemon. */
export function deliverCallback(jar, cb, { timeoutMs } = {}) {
  if (cb.method === 'POST') {
    return jarFetch(jar, cb.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(cb.fields).toString(),
      timeoutMs,
    });
  }
  return jarFetch(jar, cb.url, { timeoutMs });
}

/** A copy of a callback with some fields changed (null deletes), e.g. {state: 'x'}. */
export function tamperCallback(cb, changes) {
  const fields = { ...cb.fields };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete fields[k]; else fields[k] = v;
  }
  if (cb.method === 'POST') return { ...cb, fields };
  const u = new URL(cb.url);
  u.search = new URLSearchParams(fields).toString();
  return { ...cb, url: u.href, fields };
}

/**
 * GET {tenant}/login?return_to=…, log in at the IdP, deliver the callback.
 * Returns {jar, start, authorizeUrl, callback, response, body}; `response` is
 * the daemon's answer to the callback (302 to return_to on success). Stops
 * early (callback/response undefined) when the login route does not redirect.
 * opts: {user, password, jar, returnTo, query (extra login params), ca (IdP CA)}
 */
export async function daemonLogin(d, tenant, opts = {}) {
  const {
    user = 'alice', password = 'alice-password', jar = new CookieJar(), returnTo = '/', query = {}, ca,
  } = opts;
  const q = new URLSearchParams({ ...(returnTo === null ? {} : { return_to: returnTo }), ...query });
  const start = await jarFetch(jar, d.tenantUrl(tenant, `/login${q.size ? `?${q}` : ''}`));
  const authorizeUrl = start.headers.get('location');
  if (!(start.status === 302 || start.status === 303) || !authorizeUrl) {
    return { jar, start, body: await start.text() };
  }
  const callback = await loginAtOp(new URL(authorizeUrl, d.url).href, user, password, jar, { ca });
  const response = await deliverCallback(jar, callback);
  return {
    jar, start, authorizeUrl, callback, response, body: await response.text(),
  };
}

/** GET {tenant}/embed-token with the jar: {status, headers, json|null, text}. */
export async function embedToken(d, tenant, jar, headers = {}) {
  const r = await jarFetch(jar, d.tenantUrl(tenant, '/embed-token'), { headers });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return {
    status: r.status, headers: r.headers, json, text,
  };
}

/** True when the jar holds a live session for tenant (embed-token answers 200). */
export async function hasSession(d, tenant, jar) {
  return (await embedToken(d, tenant, jar)).status === 200;
}
