import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { testApp } from '../helpers.js';
import { replaySeed, runOk, SEED_ENV, seedNow, type Seed } from '../statuspage/support.js';

// A real browser (Debian's chromium) reads the built-in status page the way a customer does:
// headings, text, the uptime bars, phone width, dark mode. .ci/run installs chromium; locally the
// test is skipped, saying so, only when chromium is missing and CI is not set.

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
const haveChromium = existsSync(CHROMIUM);
const inCi = Boolean(process.env.CI);

if (!haveChromium && !inCi) {
  console.warn(`status-page browser test skipped: ${CHROMIUM} not found (install it with \`apt-get install -y chromium\`; CI installs it and never skips)`);
}

describe.skipIf(!haveChromium && !inCi)('status page in a browser', () => {
  let app: App;
  let server: RunningServer;
  let seed: Seed;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`CI is set but ${CHROMIUM} is missing: .ci/run should have installed chromium`);
    app = testApp(SEED_ENV, seedNow);
    seed = await replaySeed(app);
    // A second, open incident so the front page has something active to show.
    await runOk(app, 'component add "Video Calls"', 'cli:admin');
    await runOk(app, 'declare "Video calls <b>dropping</b>" components:video-calls=partial at:2021-12-09T09:00', 'cli:alice');
    const d = await runOk(app, 'draft status:identified at:2021-12-09T09:10 Some video calls drop after a minute. We have found the cause.', 'cli:alice');
    await runOk(app, `approve ${String(d.data.id)}`, 'cli:bob');
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

  it('the front page: banner, active incident, components with uptime bars, past incidents', async () => {
    const res = await page.goto(`${server.url}/`);
    expect(res?.status()).toBe(200);
    await expect.poll(() => page.getByRole('status').innerText()).toBe('Partial System Outage');
    const active = page.getByRole('region', { name: 'Active incidents' });
    await expect.poll(() => active.getByRole('link').innerText()).toBe('Video calls <b>dropping</b>');
    expect(await active.innerText()).toContain('Identified - Some video calls drop after a minute.');
    const components = page.getByRole('region', { name: 'Components' });
    for (const name of ['Web App', 'Mobile Apps', 'Phone Call Routing', 'SMS Routing', 'Video Calls']) {
      expect(await components.getByRole('heading', { name, exact: true }).count()).toBe(1);
    }
    expect(await components.getByText('Partial outage').count()).toBe(1);
    const bars = page.getByRole('img');
    expect(await bars.count()).toBe(5);
    expect(await bars.first().getAttribute('aria-label')).toMatch(/^Web App: \d+\.\d\d% uptime over the last 90 days, 1 day with reduced service$/);
    // The stylesheet applied (its hash matches the CSP): the day cells have width and colour.
    const cell = await page.locator('.bar span').first().boundingBox();
    expect(cell!.width).toBeGreaterThan(1);
    const past = page.getByRole('region', { name: 'Past incidents' });
    expect(await past.getByRole('link', { name: seed.title }).count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'status-home.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('the incident report reads like the seed', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('link', { name: seed.title }).click();
    await page.waitForURL(/\/incidents\/INC-1$/);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe(seed.title);
    expect(await page.getByText('Incident Report for Spruce Health').count()).toBe(1);
    const headings = await page.getByRole('heading', { level: 2 }).allInnerTexts();
    expect(headings).toEqual(['Postmortem', ...seed.updates.map((u) => u.label)]);
    const updates = page.getByRole('list', { name: 'Updates, newest first' }).getByRole('listitem');
    expect(await updates.count()).toBe(seed.updates.length);
    const first = await updates.first().innerText();
    expect(first).toContain('Notifications are no longer delayed');
    expect(first).toContain('Posted Dec 07, 2021 - 14:28 PST');
    expect(await updates.last().innerText()).toContain('Posted Dec 07, 2021 - 08:02 PST');
    expect(await page.locator('main').innerText()).toMatch(/This incident affected: Web App, Mobile Apps, Phone Call Routing, and SMS Routing\.$/);
    // The chart (GET /incidents/INC-1/chart.svg) loads and renders as an image, named by its alt text.
    const chart = page.getByRole('img', { name: /^Public status of each affected component of INC-1 over time/ });
    expect(await chart.count()).toBe(1);
    // (No DOM types in the test build: the image is read as the plain object it is.)
    await expect.poll(() => chart.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).toBe(720);
    expect(await chart.getAttribute('alt')).toContain('SMS Routing major outage at worst from 08:02 PST until 14:28 PST; 10 customer updates marked.');
    // Line breaks of the postmortem's bullet list survive.
    expect(await page.locator('.postmortem .body').innerText()).toContain('\n  • Inbound calls may have failed to route to appropriate agents\n');
    await page.screenshot({ path: join(ARTIFACTS, 'status-incident.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('is readable on a phone and in dark mode', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(`${server.url}/incidents/INC-1`);
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    const light = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(light).toBe('rgb(255, 255, 255)');
    expect(dark).not.toBe(light);
    await page.screenshot({ path: join(ARTIFACTS, 'status-incident-phone-dark.png'), fullPage: true });
    await page.goto(`${server.url}/`);
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'status-home-phone-dark.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('an incident that is not public is a friendly 404', async () => {
    const res = await page.goto(`${server.url}/incidents/INC-99`);
    expect(res?.status()).toBe(404);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Not found');
    expect(await page.getByRole('link', { name: 'Back to the current status' }).count()).toBe(1);
  });
});
