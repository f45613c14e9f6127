// Drives src/embed/embed.js in a minimal fake DOM (node, no packages):
// token set on present and later elements, refresh at ~2/3 of the life,
// backoff on errors, login redirect with return_to on 401. Exit 1 on failure.
'use strict';
const fs = require('fs');
const vm = require('vm');
const assert = require('assert');

function el(tag) {
  const attrs = {};
  return {
    nodeType: 1, tagName: tag.toUpperCase(), children: [],
    matches(sel) { return sel.split(',').includes(tag); },
    getAttribute(n) { return n in attrs ? attrs[n] : null; },
    setAttribute(n, v) { attrs[n] = String(v); },
    querySelectorAll(sel) {
      const out = [];
      const walk = (e) => e.children.forEach((c) => { if (c.matches(sel)) out.push(c); walk(c); });
      walk(this);
      return out;
    },
  };
}

const root = el('html');
const dash = el('tc-dashboard');
root.children.push(dash);
let observer = null, timers = [], events = 0, assigned = null, fetches = [];
let answers = [];

const g = globalThis;
g.window = g;
g.document = {
  currentScript: { src: 'https://app.example/sso/acme/embed.js?v=1' },
  documentElement: root,
  hidden: false,
  matches: undefined,
  querySelectorAll: (s) => root.querySelectorAll(s),
  addEventListener() {},
};
g.MutationObserver = function (cb) { observer = cb; this.observe = () => {}; };
g.CustomEvent = function (type, init) { this.type = type; this.detail = init.detail; };
g.dispatchEvent = (e) => { if (e.type === 'toucan-sso:token') events++; };
g.setTimeout = (fn, ms) => { timers.push({ fn, ms }); return timers.length; };
g.clearTimeout = () => {};
g.location = {
  href: 'https://app.example/reports?x=1#top', pathname: '/reports', search: '?x=1', hash: '#top',
  assign(u) { assigned = u; },
};
g.sessionStorage = { s: {}, getItem(k) { return this.s[k] || null; }, setItem(k, v) { this.s[k] = v; } };
g.fetch = (url, opts) => {
  fetches.push({ url, opts });
  const a = answers.shift();
  return Promise.resolve({ status: a.status, json: () => Promise.resolve(a.body) });
};
const tick = () => new Promise((r) => setImmediate(r));

(async () => {
  answers.push({ status: 200, body: { token: 'T1', expires_in: 300 } });
  vm.runInThisContext(fs.readFileSync(process.argv[2], 'utf8'));
  await tick(); await tick();
  assert.strictEqual(fetches[0].url, 'https://app.example/sso/acme/embed-token');
  assert.strictEqual(fetches[0].opts.credentials, 'include');
  assert.strictEqual(dash.getAttribute('auth-token'), 'T1');
  assert.strictEqual(events, 1);
  // refresh scheduled at about two thirds of 300 s
  const t = timers.pop();
  assert.ok(t.ms >= 180000 && t.ms <= 201000, 'refresh delay ' + t.ms);

  // an element added later gets the token too
  const ai = el('tc-ai-assistant');
  const wrap = el('div');
  wrap.children.push(ai);
  root.children.push(wrap);
  observer([{ addedNodes: [wrap] }]);
  assert.strictEqual(ai.getAttribute('auth-token'), 'T1');

  // the refresh swaps the token everywhere
  answers.push({ status: 200, body: { token: 'T2', expires_in: 60 } });
  t.fn(); await tick(); await tick();
  assert.strictEqual(dash.getAttribute('auth-token'), 'T2');
  assert.strictEqual(ai.getAttribute('auth-token'), 'T2');
  assert.strictEqual(await window.ToucanSSO.getToken(), 'T2');
  assert.strictEqual(events, 2);

  // an error backs off (1 to 2 s after the first failure), token kept
  answers.push({ status: 503, body: null });
  timers.pop().fn(); await tick(); await tick();
  const b = timers.pop();
  assert.ok(b.ms >= 1000 && b.ms <= 2000, 'backoff ' + b.ms);
  assert.strictEqual(dash.getAttribute('auth-token'), 'T2');

  // 401: to the login URL, with return_to the current page
  answers.push({ status: 401, body: { login_url: '/sso/acme/login' } });
  b.fn(); await tick(); await tick();
  const u = new URL(assigned);
  assert.strictEqual(u.origin + u.pathname, 'https://app.example/sso/acme/login');
  assert.strictEqual(u.searchParams.get('return_to'), '/reports?x=1#top');

  // a javascript: login URL is never followed
  assigned = null;
  g.sessionStorage.s = {};
  answers.push({ status: 401, body: { login_url: 'javascript:alert(1)' } });
  window.ToucanSSO.refresh(); await tick(); await tick();
  assert.strictEqual(assigned, null);
  console.log('embed.js behaviour: ok');
})().catch((e) => { console.error(e); process.exit(1); });
