// Headless Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by
// playwright-core (no browser download). Set TSSO_CHROMIUM to override.
import fs from 'node:fs';
import { chromium } from 'playwright-core';

/** Path of the Chromium binary, or null when none is installed. */
export function chromiumPath() {
  for (const p of [process.env.TSSO_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && fs.existsSync(p)) return p;
  }
  return null;
}

/**
 * Launch headless Chromium. Returns {browser, context, page, close()}.
 * Every action has a bounded default timeout (timeoutMs, default 10 s).
 * ignoreHTTPSErrors stays false: https peers must present a trusted cert,
 * so pass https only with a CA the browser trusts (tests use http here).
 */
export async function launchBrowser({ timeoutMs = 15000 } = {}) {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('chromium not found (apt-get install chromium)');
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: timeoutMs,
    // root in a container: no user-namespace sandbox available
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  const context = await browser.newContext();
  context.setDefaultTimeout(timeoutMs);
  context.setDefaultNavigationTimeout(timeoutMs);
  const page = await context.newPage();
  return {
    browser, context, page, async close() { await browser.close().catch(() => {}); },
  };
}

/** On the test OP's login page (provider.mjs): fill the form and submit. */
export async function fillOpLogin(page, user, password) {
  await page.waitForSelector('#login-form');
  await page.fill('#login', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('#submit')]);
}
