import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { testApp } from '../helpers.js';
import { runOk } from '../statuspage/support.js';

// A real browser (Debian's chromium) reads the status page during scheduled maintenance: one
// maintenance coming up, one under way. The customer sees the in-progress banner, the component
// held by it in maintenance colour, the Upcoming maintenance section, and each maintenance's page.
// Skipped, saying so, only when chromium is missing and CI is not set (as status-page.test.ts).

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
const haveChromium = existsSync(CHROMIUM);
const inCi = Boolean(process.env.CI);

if (!haveChromium && !inCi) {
  console.warn(
    `maintenance-page browser test skipped: ${CHROMIUM} not found (install it with \`apt-get install -y chromium\`; CI installs it and never skips)`,
  );
}

// The clock stands still, so the scheduler never starts the upcoming one by itself.
const NOW = Date.parse('2026-12-07T18:00:00Z'); // 10:00 in Los Angeles

describe.skipIf(!haveChromium && !inCi)('status page during scheduled maintenance, in a browser', () => {
  let app: App;
  let server: RunningServer;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`CI is set but ${CHROMIUM} is missing: .ci/run should have installed chromium`);
    app = testApp({ SITREP_TIMEZONE: 'America/Los_Angeles', SITREP_ORG_NAME: 'Spruce Health', SITREP_APPROVAL: 'required' }, () => NOW);
    for (const name of ['Web App', 'Phone Call Routing', 'SMS Routing']) await runOk(app, `component add "${name}"`, 'cli:admin');
    await runOk(app, 'approver add @bob', 'cli:admin');
    await runOk(
      app,
      'maintenance schedule "SMS provider <migration>" starts:2026-12-07T10:30 ends:2026-12-07T12:00 components:sms-routing We are moving SMS to a new provider; messages may be delayed by a few minutes.',
      'cli:alice',
    );
    await runOk(app, 'approve D-1', 'cli:bob');
    await runOk(app, 'maintenance start M-1', 'cli:bob');
    await runOk(
      app,
      'maintenance schedule "Phone system upgrade" starts:2026-12-09T22:00 ends:2026-12-10T01:00 components:phone-call-routing,web-app Calls may drop for up to a minute during the upgrade.',
      'cli:alice',
    );
    await runOk(app, 'approve D-3', 'cli:bob');
    server = await startServer(app, 0, '127.0.0.1');
    mkdirSync(ARTIFACTS, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'sitrep-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
      viewport: { width: 1024, height: 900 },
      javaScriptEnabled: false,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await app?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  // The computed style, asked of the element's own window (the tests compile without the DOM lib).
  const styleOf = (loc: Locator, prop: 'color' | 'backgroundColor'): Promise<string> =>
    loc.evaluate((el: any, p: string) => String(el.ownerDocument.defaultView.getComputedStyle(el)[p]), prop);
  const colour = (selector: string, prop: 'color' | 'backgroundColor') => styleOf(page.locator(selector).first(), prop);

  it('the front page: the in-progress banner, the component in maintenance colour, the upcoming section', async () => {
    const res = await page.goto(`${server.url}/`);
    expect(res?.status()).toBe(200);
    // Maintenance is not an outage: the overall status stays operational.
    await expect.poll(() => page.getByRole('status').innerText()).toBe('All Systems Operational');

    const banner = page.getByRole('region', { name: 'Maintenance in progress' });
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.getByRole('link').innerText()).toBe('SMS provider <migration>');
    const bannerText = await banner.innerText();
    expect(bannerText).toContain('Under maintenance: SMS Routing');
    expect(bannerText).toContain('In progress - Scheduled maintenance is currently in progress.');
    expect(bannerText).toContain('Scheduled for Dec 07, 2026 - 10:30 PST – 12:00 PST');
    expect(await banner.getByText('Phone system upgrade').count()).toBe(0);

    // The maintenance colour is the stylesheet's --maint, and it is what the held component shows.
    const maint = await page.evaluate(`(() => {
      const probe = document.createElement('span');
      probe.style.color = 'var(--maint)';
      document.body.append(probe);
      const c = getComputedStyle(probe).color;
      probe.remove();
      return c;
    })()`);
    expect(maint).toBe('rgb(9, 105, 218)');
    const components = page.getByRole('region', { name: 'Components' });
    const sms = components.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'SMS Routing', exact: true }) });
    expect(await sms.getByText('Under maintenance', { exact: true }).isVisible()).toBe(true);
    expect(await styleOf(sms.getByText('Under maintenance', { exact: true }), 'color')).toBe(maint);
    const web = components.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Web App', exact: true }) });
    expect(await styleOf(web.getByText('Operational', { exact: true }), 'color')).not.toBe(maint);
    // In the banner too, and in the colour key under the components.
    expect(await colour('.maint-banner .sw-under_maintenance', 'backgroundColor')).toBe(maint);
    const key = page.getByRole('list', { name: 'Status colours' });
    expect(await key.getByText('Under maintenance').isVisible()).toBe(true);
    expect(await colour('.key .sw-under_maintenance', 'backgroundColor')).toBe(maint);
    // Today's uptime cell of the held component is maintenance-coloured too.
    expect(await styleOf(sms.locator('.bar span').last(), 'backgroundColor')).toBe(maint);

    const upcoming = page.getByRole('region', { name: 'Upcoming maintenance' });
    expect(await upcoming.isVisible()).toBe(true);
    expect(await upcoming.getByRole('link').innerText()).toBe('Phone system upgrade');
    const upText = await upcoming.innerText();
    expect(upText).toContain('Scheduled for Dec 09, 2026 - 22:00 PST – Dec 10, 2026 - 01:00 PST');
    expect(upText).toContain('Components: Web App, Phone Call Routing');
    expect(upText).toContain('Scheduled - Calls may drop for up to a minute during the upgrade.');
    expect(await upcoming.getByText('SMS provider').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'maintenance-home.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('each maintenance links to its page, formatted like an incident report', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('link', { name: 'SMS provider <migration>' }).click();
    await page.waitForURL(/\/maintenances\/M-1$/);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('SMS provider <migration>');
    expect(await page.getByText('Scheduled Maintenance Report for Spruce Health').count()).toBe(1);
    expect(await page.getByText('Status: In progress').count()).toBe(1);
    expect(await page.getByRole('heading', { level: 2 }).allInnerTexts()).toEqual(['In progress', 'Scheduled']);
    const updates = page.getByRole('list', { name: 'Updates, newest first' }).getByRole('listitem');
    expect(await updates.count()).toBe(2);
    expect(await updates.first().innerText()).toContain('Posted Dec 07, 2026 - 10:00 PST');
    expect(await updates.last().innerText()).toContain('We are moving SMS to a new provider');
    expect(await page.locator('main').innerText()).toMatch(/This scheduled maintenance affects: SMS Routing\.$/);
    await page.screenshot({ path: join(ARTIFACTS, 'maintenance-page.png'), fullPage: true });

    await page.goto(`${server.url}/`);
    await page.getByRole('link', { name: 'Phone system upgrade' }).click();
    await page.waitForURL(/\/maintenances\/M-2$/);
    expect(await page.getByText('Status: Scheduled').count()).toBe(1);
    expect(await page.locator('main').innerText()).toMatch(/This scheduled maintenance affects: Web App and Phone Call Routing\.$/);
    expect(problems).toEqual([]);
  });

  it('is readable on a phone and in dark mode', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${server.url}/`);
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    expect(await colour('.maint-banner .sw-under_maintenance', 'backgroundColor')).toBe('rgb(68, 147, 248)');
    await page.screenshot({ path: join(ARTIFACTS, 'maintenance-home-phone-dark.png'), fullPage: true });
    await page.goto(`${server.url}/maintenances/M-2`);
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1024, height: 900 });
    expect(problems).toEqual([]);
  });

  it('a maintenance that was never announced is a friendly 404', async () => {
    await runOk(
      app,
      'maintenance schedule "Not yet approved" starts:2026-12-20T22:00 ends:2026-12-20T23:00 components:web-app Waiting for approval.',
      'cli:alice',
    );
    for (const path of ['/maintenances/M-3', '/maintenances/M-99']) {
      const res = await page.goto(`${server.url}${path}`);
      expect(res?.status()).toBe(404);
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Not found');
      expect(await page.getByRole('link', { name: 'Back to the current status' }).count()).toBe(1);
    }
    await page.goto(`${server.url}/`);
    expect(await page.getByText('Not yet approved').count()).toBe(0);
  });
});
