// A tiny cookie jar for tests: Set-Cookie parsing, per host (host-only; a
// Domain attribute widens to subdomains), Path matching, Max-Age/Expires, Secure.
export class CookieJar {
  constructor() { this.cookies = []; }

  /** Store the Set-Cookie header values of a response to `url`. */
  store(url, setCookies) {
    const u = new URL(url);
    for (const line of [].concat(setCookies ?? [])) this.#storeOne(u, line);
  }

  /** Same, from a fetch() Response. */
  storeFrom(url, response) {
    this.store(url, response.headers.getSetCookie?.() ?? []);
  }

  #storeOne(u, line) {
    const parts = line.split(';');
    const first = parts.shift();
    const eq = first.indexOf('=');
    if (eq <= 0) return;
    const c = {
      name: first.slice(0, eq).trim(), value: first.slice(eq + 1).trim(),
      host: u.hostname, domain: null, path: null, expires: null,
      secure: false, httpOnly: false, sameSite: null,
    };
    for (const p of parts) {
      const i = p.indexOf('=');
      const k = (i < 0 ? p : p.slice(0, i)).trim().toLowerCase();
      const v = i < 0 ? '' : p.slice(i + 1).trim();
      if (k === 'path' && v.startsWith('/')) c.path = v;
      else if (k === 'domain' && v) c.domain = v.replace(/^\./, '').toLowerCase();
      else if (k === 'max-age' && /^-?\d+$/.test(v)) c.expires = Date.now() + Number(v) * 1000;
      else if (k === 'expires' && c.expires === null) {
        const t = Date.parse(v);
        if (!Number.isNaN(t)) c.expires = t;
      } else if (k === 'secure') c.secure = true;
      else if (k === 'httponly') c.httpOnly = true;
      else if (k === 'samesite') c.sameSite = v;
    }
    if (!c.path) {
      // RFC 6265 §5.1.4 default-path
      const p = u.pathname;
      c.path = p.lastIndexOf('/') <= 0 ? '/' : p.slice(0, p.lastIndexOf('/'));
    }
    this.cookies = this.cookies.filter((o) => !(o.name === c.name && o.host === c.host
      && o.path === c.path && o.domain === c.domain));
    if (c.expires === null || c.expires > Date.now()) this.cookies.push(c);
  }

  /** Cookies that would be sent to `url` (objects), longest path first. */
  matching(url) {
    const u = new URL(url);
    const now = Date.now();
    this.cookies = this.cookies.filter((c) => c.expires === null || c.expires > now);
    return this.cookies.filter((c) => {
      const hostOk = c.domain
        ? (u.hostname === c.domain || u.hostname.endsWith(`.${c.domain}`))
        : u.hostname === c.host;
      const pathOk = u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`);
      const secOk = !c.secure || u.protocol === 'https:' || u.hostname === '127.0.0.1';
      return hostOk && pathOk && secOk;
    }).sort((a, b) => b.path.length - a.path.length);
  }

  /** The Cookie header value for `url` ('' when none). */
  header(url) {
    return this.matching(url).map((c) => `${c.name}=${c.value}`).join('; ');
  }

  /** One cookie by name (first match for any host), or undefined. */
  get(name) { return this.cookies.find((c) => c.name === name); }

  clear() { this.cookies = []; }
}

/**
 * fetch() with redirect:'manual' and the jar: cookies sent and stored.
 * Extra option timeoutMs (default 5000).
 */
export async function jarFetch(jar, url, opts = {}) {
  const { timeoutMs = 10000, headers = {}, ...rest } = opts;
  const h = new Headers(headers);
  const c = jar?.header(url);
  if (c) h.set('cookie', c);
  const res = await fetch(url, {
    redirect: 'manual', ...rest, headers: h, signal: AbortSignal.timeout(timeoutMs),
  });
  jar?.storeFrom(url, res);
  return res;
}
