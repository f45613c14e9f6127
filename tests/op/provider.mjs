// A real OpenID Provider (npm oidc-provider 8.x) on loopback for integration
// tests: configured clients and users, PKCE S256 required, PAR, RFC 9207 iss,
// RP-initiated and back-channel logout, and a plain-HTML login form.
//
// Usage: node tests/op/provider.mjs [--config FILE] [--port N] [--https]
//                                   [--jwks FILE] [--issuer-path /p] [--host H]
// Prints one line {"ready":true,"issuer":...,"port":...,"ca":...,"kids":[...]}
// on stdout once listening. See tests/op/README.md for the config format.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import path from 'node:path';
import Provider from 'oidc-provider';
import { makeJwks } from '../integration/lib/keys.mjs';
import { makeCa, makeServerCert } from '../integration/lib/tls.mjs';
import { tempDir } from '../integration/lib/tmp.mjs';

const MAX_FORM = 16 * 1024;

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      i += 1;
      return argv[i];
    };
    if (a === '--config') out.config = next();
    else if (a === '--port') out.port = Number(next());
    else if (a === '--https') out.https = true;
    else if (a === '--jwks') out.jwks_file = next();
    else if (a === '--issuer-path') out.issuer_path = next();
    else if (a === '--host') out.host = next();
    else throw new Error(`unknown argument ${a}`);
  }
  return out;
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto}label{display:block;margin:.6em 0}
input{width:100%;padding:.3em}.err{color:#a00}</style></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;
}

function loginPage(uid, clientId, error, login = '') {
  return page('Sign in to the test OP', `
${error ? `<p class="err" id="error">${esc(error)}</p>` : ''}
<p>Client: <code>${esc(clientId)}</code></p>
<form method="post" action="/interaction/${esc(uid)}/login" id="login-form">
<label>User <input name="login" id="login" autocomplete="username" value="${esc(login)}" required></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit" id="abort">Cancel</button></form>`);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let n = 0;
    const chunks = [];
    req.on('data', (c) => {
      n += c.length;
      if (n > MAX_FORM) { reject(new Error('form too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function ctEqual(a, b) {
  const ha = crypto.createHash('sha256').update(String(a)).digest();
  const hb = crypto.createHash('sha256').update(String(b)).digest();
  return crypto.timingSafeEqual(ha, hb);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const fileCfg = args.config ? JSON.parse(fs.readFileSync(args.config, 'utf8')) : {};
  const cfg = { ...fileCfg, ...args };
  const host = cfg.host ?? '127.0.0.1';
  const useHttps = Boolean(cfg.https || cfg.tls);
  const issuerPath = (cfg.issuer_path ?? '').replace(/\/$/, '');

  // Signing keys: from a JWKS file (rotation = restart with another file) or fresh.
  const jwks = cfg.jwks_file
    ? JSON.parse(fs.readFileSync(path.resolve(cfg.jwks_file), 'utf8'))
    : (cfg.jwks ?? await makeJwks(['RS256', 'ES256', 'EdDSA']));

  // Accounts: {sub, username?, password, email, email_verified, name, preferred_username, groups}
  const accounts = new Map();
  for (const a of cfg.accounts ?? [{
    sub: 'alice', password: 'alice-password', email: 'alice@acme.example', email_verified: true,
    name: 'Alice Example', preferred_username: 'alice', groups: ['analysts'],
  }]) {
    accounts.set(a.sub, a);
  }
  const byLogin = (login) => [...accounts.values()].find((a) => (a.username ?? a.sub) === login
    || a.email === login);

  const CLAIM_NAMES = ['email', 'email_verified', 'name', 'preferred_username', 'groups',
    'given_name', 'family_name', 'locale', ...(cfg.extra_claims ?? [])];

  const clients = (cfg.clients ?? []).map((c) => {
    const { response_modes: _ignored, ...meta } = c; // every client may use query and form_post
    return { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], ...meta };
  });

  const ttl = cfg.ttl ?? {};
  const ttlOf = (name, dflt) => (ttl[name] ?? dflt);
  const pkceRequired = cfg.pkce_required ?? true;

  let tls;
  let caPath = null;
  if (useHttps) {
    if (cfg.tls?.cert && cfg.tls?.key) {
      tls = { cert: fs.readFileSync(cfg.tls.cert), key: fs.readFileSync(cfg.tls.key) };
      caPath = cfg.tls.ca ?? null;
    } else {
      const ca = makeCa(cfg.tls_dir ?? tempDir('tsso-op-tls-'));
      const sc = makeServerCert(ca, { name: 'op' });
      tls = { cert: fs.readFileSync(sc.cert), key: fs.readFileSync(sc.key) };
      caPath = ca.cert;
    }
  }

  // Bind first so port 0 can be resolved before the issuer is fixed.
  let handler = (req, res) => { res.statusCode = 503; res.end(); };
  const server = useHttps
    ? https.createServer(tls, (req, res) => handler(req, res))
    : http.createServer((req, res) => handler(req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port ?? 0, host, resolve);
  });
  const { port } = server.address();
  const issuer = `${useHttps ? 'https' : 'http'}://${host}:${port}${issuerPath}`;

  const provider = new Provider(issuer, {
    clients,
    jwks,
    findAccount: async (ctx, sub) => {
      const a = accounts.get(sub);
      if (!a) return undefined;
      return {
        accountId: sub,
        async claims() {
          const out = { sub };
          for (const k of CLAIM_NAMES) if (a[k] !== undefined) out[k] = a[k];
          return out;
        },
      };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'given_name', 'family_name', 'locale'],
      groups: ['groups'],
      ...(cfg.claims ?? {}),
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    conformIdTokenClaims: cfg.conform_id_token_claims ?? false,
    clockTolerance: cfg.clock_tolerance ?? 5,
    cookies: {
      keys: [crypto.randomBytes(32).toString('hex')],
      // SameSite=None needs Secure, which plain-http loopback cannot carry.
      long: { httpOnly: true, sameSite: useHttps ? 'none' : 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    pkce: { methods: ['S256'], required: () => pkceRequired },
    features: {
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: {
        enabled: cfg.par?.enabled ?? true,
        requirePushedAuthorizationRequests: cfg.par?.required ?? false,
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = page('Sign out of the test OP', `${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout" id="logout-yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" id="logout-no">No, stay signed in</button>`);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = page('Signed out', '<p id="signed-out">You are signed out of the test OP.</p>');
        },
      },
      backchannelLogout: { enabled: true },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: false },
      resourceIndicators: { enabled: false },
      claimsParameter: { enabled: true },
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA', 'HS256'],
      clientAuthSigningAlgValues: ['HS256', 'HS384', 'HS512', 'RS256', 'PS256', 'ES256', 'EdDSA'],
    },
    // Opt-in: a new refresh token at every use (the old one is then spent;
    // reusing it is invalid_grant and revokes the grant).
    ...(cfg.rotate_refresh_tokens ? { rotateRefreshToken: () => true } : {}),
    ttl: {
      AccessToken: ttlOf('AccessToken', 600),
      AuthorizationCode: ttlOf('AuthorizationCode', 60),
      IdToken: ttlOf('IdToken', 600),
      RefreshToken: ttlOf('RefreshToken', 3600),
      Interaction: ttlOf('Interaction', 600),
      Session: ttlOf('Session', 3600),
      Grant: ttlOf('Grant', 3600),
    },
    // First-party test clients: consent is granted automatically for
    // whatever the request asks (OIDC scopes and claims).
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      let grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (!grant) {
        grant = new ctx.oidc.provider.Grant({
          clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
        });
      }
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      const claims = [...(ctx.oidc.requestParamClaims ?? [])];
      if (claims.length) grant.addOIDCClaims(claims);
      await grant.save();
      return grant;
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('OP error', Object.entries(out)
        .map(([k, v]) => `<p><strong class="err-key">${esc(k)}</strong>: <span class="err-${esc(k)}">${esc(v)}</span></p>`).join(''));
    },
  });
  provider.on('server_error', (ctx, err) => process.stderr.write(`server_error: ${err.stack}\n`));
  for (const ev of ['authorization.error', 'grant.error', 'backchannel.error', 'end_session.error', 'userinfo.error']) {
    provider.on(ev, (ctx, err) => process.stderr.write(`${ev}: ${err.message} ${err.error_description ?? ''}\n`));
  }
  // One line per token endpoint success, so tests can count refreshes.
  provider.on('grant.success', (ctx) => {
    process.stderr.write(`grant.success grant_type=${ctx.oidc.params?.grant_type} client=${ctx.oidc.client?.clientId}\n`);
  });
  provider.on('backchannel.success', (client, accountId, sid) => {
    process.stderr.write(`backchannel.success client=${client.clientId} sub=${accountId} sid=${sid}\n`);
  });

  const callback = provider.callback();
  const interactionRe = /^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?$/;

  async function interaction(req, res, uid, action) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
    const clientId = details.params.client_id;
    if (!action && req.method === 'GET') {
      if (details.prompt.name === 'login') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(loginPage(uid, clientId, null, details.params.login_hint ?? ''));
        return;
      }
      // consent (only if loadExistingGrant left something missing): grant it
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId });
      const d = details.prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    if (req.method !== 'POST') { res.writeHead(405); res.end(); return; }
    const form = await readForm(req);
    if (action === '/abort') {
      await provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
      return;
    }
    const login = form.get('login') ?? '';
    const acct = byLogin(login);
    if (!acct || !ctEqual(form.get('password') ?? '', acct.password ?? '')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(loginPage(uid, clientId, 'Invalid user or password.', login));
      return;
    }
    await provider.interactionFinished(req, res, {
      login: { accountId: acct.sub, amr: ['pwd'], acr: cfg.acr ?? undefined },
    }, { mergeWithLastSubmission: false });
  }

  handler = (req, res) => {
    const p = new URL(req.url, issuer).pathname;
    const m = interactionRe.exec(p);
    if (m) {
      interaction(req, res, m[1], m[2]).catch((e) => {
        if (!res.headersSent) {
          res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
          res.end(page('Interaction error', `<p class="err">${esc(e.message)}</p>`));
        }
      });
      return;
    }
    if (p === '/healthz') { res.writeHead(200); res.end('ok'); return; }
    if (issuerPath && !p.startsWith(`${issuerPath}/`) && p !== issuerPath) {
      res.writeHead(404); res.end(); return;
    }
    if (issuerPath) {
      // like express's app.use(prefix, ...): oidc-provider rebuilds its URLs from originalUrl
      req.originalUrl = req.url;
      req.url = req.url.slice(issuerPath.length) || '/';
    }
    callback(req, res);
  };

  const shutdown = () => { server.close(); server.closeAllConnections?.(); process.exit(0); };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  process.stdout.write(`${JSON.stringify({
    ready: true, issuer, port, https: useHttps, ca: caPath,
    kids: jwks.keys.map((k) => k.kid), clients: clients.map((c) => c.client_id),
  })}\n`);
}

main().catch((e) => {
  process.stderr.write(`provider.mjs: ${e.stack ?? e}\n`);
  process.exit(1);
});
