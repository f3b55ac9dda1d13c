// Opens the queue proxy's /dashboard in a real headless Chromium (Debian's, driven by playwright-core), as a
// browser user would: logging in with the key as a Basic password. Prints one JSON line with what the page
// showed and any console error or CSP violation; saves a screenshot. Run by DashboardBrowserTest.
import { chromium } from 'playwright-core';

const url = process.env.OQP_URL;
const key = process.env.OQP_KEY;
const executablePath = process.env.OQP_CHROMIUM;
const screenshot = process.env.OQP_SCREENSHOT;

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
const problems = [];
try {
  const context = await browser.newContext({ httpCredentials: { username: 'dashboard', password: key, send: 'always' }, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`requestfailed: ${request.url()}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  const outside = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(url)) outside.push(request.url());
  });
  const response = await page.goto(`${url}/dashboard`);
  await page.waitForSelector('body[data-loaded="true"]', { timeout: 15000 });
  // A second refresh, so that polling is shown to work, not just the first load.
  await page.waitForTimeout(2300);
  const text = async (selector) => (await page.locator(selector).innerText()).trim();
  const result = {
    status: response.status(),
    csp: response.headers()['content-security-policy'] || '',
    state: await text('#state'),
    queued: await text('#queued'),
    inflight: await text('#inflight'),
    hostsUp: await text('#hosts-up'),
    hitRate: await text('#hit-rate'),
    hosts: await text('#hosts'),
    clients: await text('#clients'),
    errorShown: await page.locator('#error').isVisible(),
    outside,
    problems,
  };
  await page.screenshot({ path: screenshot, fullPage: true });
  // A bookmark with the key in the URL (a kiosk screen): the page's own requests must still work.
  const bare = await browser.newContext();
  const bookmarked = await bare.newPage();
  const withKey = new URL(`${url}/dashboard`);
  withKey.username = 'dashboard';
  withKey.password = key;
  await bookmarked.goto(withKey.toString());
  result.urlCredentialsWork = await bookmarked.waitForSelector('body[data-loaded="true"]', { timeout: 15000 })
    .then(() => true, () => false);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
