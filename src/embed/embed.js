/* toucan-sso embed helper: puts the embed token into Toucan's components and
 * keeps it fresh. No dependencies, no eval, no inline handlers (strict CSP). */
(function () {
  'use strict';
  if (window.ToucanSSO) return;
  var TAGS = 'tc-dashboard,tc-ai-assistant';
  var me = document.currentScript;
  /* The token route sits next to this script: {base}/{tenant}/embed-token. */
  var endpoint = me && me.src ? me.src.replace(/embed\.js(\?[^#]*)?(#.*)?$/, 'embed-token') : null;
  var token = null, expiresAt = 0, timer = 0, failures = 0, inflight = null;

  function apply(el) {
    if (token && el.getAttribute('auth-token') !== token) el.setAttribute('auth-token', token);
  }
  function applyAll(root) {
    if (root.matches && root.matches(TAGS)) apply(root);
    if (root.querySelectorAll) Array.prototype.forEach.call(root.querySelectorAll(TAGS), apply);
  }
  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(refresh, Math.max(1000, ms));
  }
  function toLogin(body) {
    var u;
    try { u = new URL(body && body.login_url, location.href); } catch (e) { return; }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return;
    /* One redirect per 30 s at most, so a broken login cannot loop. */
    try {
      var last = +sessionStorage.getItem('toucan-sso:login') || 0;
      if (Date.now() - last < 30000) return;
      sessionStorage.setItem('toucan-sso:login', String(Date.now()));
    } catch (e) { /* storage disabled: redirect anyway */ }
    u.searchParams.set('return_to', location.pathname + location.search + location.hash);
    location.assign(u.href);
  }
  function fail() {
    failures++;
    var d = Math.min(60000, 1000 * Math.pow(2, failures));
    schedule(d / 2 + Math.random() * d / 2);
    return token && Date.now() < expiresAt ? token : null;
  }
  function refresh() {
    if (inflight) return inflight;
    if (!endpoint) return Promise.resolve(null);
    inflight = fetch(endpoint, {
      credentials: 'include', cache: 'no-store', headers: { Accept: 'application/json' }
    }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        if (r.status === 401) { toLogin(body); return null; }
        if (r.status !== 200 || !body || typeof body.token !== 'string') return fail();
        var life = Number(body.expires_in) > 0 ? Number(body.expires_in) : 60;
        failures = 0;
        token = body.token;
        expiresAt = Date.now() + life * 1000;
        applyAll(document);
        /* Refresh when two thirds of the life are spent, jittered so that
         * many tabs do not come back at the same second. */
        schedule(life * 1000 * (0.6 + Math.random() * 0.07));
        window.dispatchEvent(new CustomEvent('toucan-sso:token', { detail: { expiresAt: expiresAt } }));
        return token;
      });
    }, fail).then(function (t) { inflight = null; return t; });
    return inflight;
  }
  new MutationObserver(function (records) {
    records.forEach(function (rec) {
      Array.prototype.forEach.call(rec.addedNodes, function (n) { if (n.nodeType === 1) applyAll(n); });
    });
  }).observe(document.documentElement, { childList: true, subtree: true });
  /* Timers sleep in background tabs: catch up when the page is shown again. */
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && Date.now() > expiresAt - 30000) refresh();
  });
  window.ToucanSSO = {
    getToken: function () {
      return token && Date.now() < expiresAt - 5000 ? Promise.resolve(token) : refresh();
    },
    refresh: refresh
  };
  refresh();
})();
