import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox } from '../../db/schema.js';
import type { App } from '../../src/main.js';
import { OutboxWorker } from '../../src/mirror/worker.js';
import { INCIDENTS, startHarness as startSlack, type Harness as SlackHarness } from '../slack/harness.js';
import { CHANNEL, startHarness as startTeams, type Harness as TeamsHarness } from '../teams/harness.js';
import { renderSlackThread, renderTeamsPost, type SlackMessageJson } from './chat-render.js';

// The README's pictures (docs/img/*.png), made on every run from what the product renders, so
// the README cannot drift from it: the built-in status page as a browser shows it, and a Slack
// incident thread and a Teams incident card rendered from the Block Kit and Adaptive Card JSON
// that Sitrep really sent to the fake Slack and the fake Teams connector (chat-render.ts).
//
// The files are written, never compared: a regenerated picture that differs in a pixel (fonts,
// anti-aliasing) changes nothing but the file. Commit them when they change for a reason.

const CHROMIUM = '/usr/bin/chromium';
const IMG = new URL('../../docs/img/', import.meta.url).pathname;
const haveChromium = existsSync(CHROMIUM);
const inCi = Boolean(process.env.CI);

if (!haveChromium && !inCi) console.warn(`README screenshots skipped: ${CHROMIUM} not found (install it with \`apt-get install -y chromium\`)`);

// One story for every picture: card payments fail after a deploy, on a fixed clock so the
// pictures show the same times on every run.
const ZONE = 'America/New_York';
const START = Date.parse('2026-11-24T19:05:00Z');
const ENV = {
  SITREP_TIMEZONE: ZONE,
  SITREP_ORG_NAME: 'Acme Pay',
  SITREP_PUBLIC_URL: 'https://status.acmepay.example',
};
const USERS: Record<string, string> = { U0ALICE: 'Alice Chen', U0BOB: 'Bob Okafor' };
const minutes = (n: number) => n * 60_000;

describe.skipIf(!haveChromium && !inCi)('README screenshots', () => {
  let clock = START;
  const now = () => clock;
  let slack: SlackHarness;
  let teams: TeamsHarness;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  /**
   * Delivers everything waiting before the story moves on: a delivery in flight across a jump of
   * the fixed clock would look abandoned (its lease expired). The clock moves with real time while
   * it waits (Slack posts to one channel go out a second apart), so the times in the pictures
   * stay within seconds of the story's.
   */
  async function settle(app: App) {
    const worker = app.background.find((b): b is OutboxWorker => b instanceof OutboxWorker)!;
    const waiting = () =>
      app.db
        .select()
        .from(outbox)
        .where(inArray(outbox.state, ['pending', 'in_flight']))
        .all().length;
    for (let i = 0; waiting(); i++) {
      if (i > 1_500) throw new Error('the outbox did not drain');
      clock += 20;
      worker.kick();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A slash command through the real Slack endpoint at `at`; fails the test if Sitrep refused it. */
  async function incident(text: string, user = 'U0ALICE', at?: number) {
    if (at !== undefined) clock = at;
    const res = await slack.slash(text, { user });
    expect(res.status).toBe(200);
    expect(res.text, text).not.toMatch(/not |refused|unknown|invalid/i);
    await settle(slack.app);
  }

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`CI is set but ${CHROMIUM} is missing: .ci/run should have installed chromium`);
    mkdirSync(IMG, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'sitrep-readme-'));
    [slack, teams, context] = await Promise.all([
      startSlack(ENV, now),
      startTeams({ ...ENV, SITREP_APPROVAL: 'off' }, now),
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
        viewport: { width: 1024, height: 900 },
      }),
    ]);
    page = context.pages()[0] ?? (await context.newPage());
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await slack?.close();
    await teams?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('a Slack incident thread, from the Block Kit Sitrep posted', async () => {
    clock = START - minutes(60 * 24 * 12);
    for (const c of ['Web App', 'Checkout API', 'Mobile Apps', 'Email Receipts']) await incident(`component add "${c}"`);
    await incident('approver add <@U0BOB>');
    // A past incident, so the status page has history.
    await incident('declare Delayed email receipts sev:3 components:email-receipts=degraded');
    await incident('draft Some email receipts are arriving late. We are looking into it.');
    await incident('approve D-1', 'U0BOB', clock + minutes(4));
    await incident('resolve INC-1 Email receipts are arriving on time again.', 'U0ALICE', clock + minutes(50));
    await incident('approve D-2', 'U0BOB', clock + minutes(2));

    await incident('declare Card payments failing at checkout sev:1 components:checkout-api=major,web-app=degraded lead:<@U0ALICE>', 'U0ALICE', START);
    await incident('update INC-2 status:identified The 14:02 deploy broke card tokenisation. Rolling it back.', 'U0ALICE', START + minutes(9));
    await incident(
      'draft INC-2 status:identified We have identified the cause of failed card payments and are rolling back a change. Payments by bank transfer are not affected.',
      'U0ALICE',
      START + minutes(11),
    );
    await incident('approve D-3', 'U0BOB', START + minutes(14));
    await incident('note INC-2 Rollback finished; error rate back to baseline on canary', 'U0ALICE', START + minutes(22));
    clock = START + minutes(26);

    const inChannel = slack.fake.messages.filter((m) => m.channel === INCIDENTS);
    const root = inChannel.find((m) => !m.thread_ts && (m.text ?? '').startsWith('INC-2'));
    expect(root, 'the root message of INC-2').toBeDefined();
    const replies = inChannel.filter((m) => m.thread_ts === root!.ts && m.ts !== root!.ts);
    expect(replies.length).toBeGreaterThanOrEqual(5);
    const asJson = (m: { text: string; blocks?: unknown[] }): SlackMessageJson => ({ text: m.text, blocks: m.blocks });
    const html = renderSlackThread({
      channel: 'incidents',
      root: asJson(root!),
      replies: replies.map(asJson),
      users: USERS,
      time: () => '',
    });
    expect(html).not.toContain('not rendered');
    await page.setViewportSize({ width: 680, height: 400 });
    await page.setContent(html);
    expect(await page.locator('.b-header').first().innerText()).toContain('INC-2 · Card payments failing at checkout');
    await page.locator('.pane').screenshot({ path: join(IMG, 'slack-thread.png') });
  });

  it('the status page during that incident', async () => {
    await page.setViewportSize({ width: 900, height: 1100 });
    const res = await page.goto(`${slack.url}/`);
    expect(res?.status()).toBe(200);
    expect(await page.getByRole('status').innerText()).toBe('Major System Outage');
    expect(await page.getByRole('region', { name: 'Active incidents' }).innerText()).toContain('Card payments failing at checkout');
    // Down to the end of the components: the banner, the active incident and the uptime bars.
    const components = await page.getByRole('region', { name: 'Components' }).boundingBox();
    await page.screenshot({ path: join(IMG, 'status-page.png'), clip: { x: 0, y: 0, width: 900, height: Math.ceil(components!.y + components!.height + 16) } });
    await page.setViewportSize({ width: 900, height: 200 });
    await page.goto(`${slack.url}/incidents/INC-2`);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Card payments failing at checkout');
    await page.screenshot({ path: join(IMG, 'status-incident.png'), fullPage: true });
  });

  it('a Teams incident card, from the Adaptive Card Sitrep posted', async () => {
    clock = START;
    expect((await teams.send(teams.mention('channel incidents'))).status).toBe(200);
    await settle(teams.app);
    const run = async (text: string, at: number) => {
      clock = at;
      const r = await teams.app.run(text, 'cli:alice', { platform: 'cli' });
      expect(r.ok, text).toBe(true);
      await settle(teams.app);
    };
    await run('component add Checkout API', START);
    await run('component add Web App', START);
    await run('declare Card payments failing at checkout sev:1 components:checkout-api=major,web-app=degraded lead:@alice', START);
    await run('update status:identified The 14:02 deploy broke card tokenisation. Rolling it back.', START + minutes(9));
    await run(
      'draft status:identified We have identified the cause of failed card payments and are rolling back a change. Payments by bank transfer are not affected.',
      START + minutes(14),
    );
    clock = START + minutes(26);
    const posts = teams.fake.posts(CHANNEL);
    const root = posts.find((p) => JSON.stringify(p.body).includes('INC-1'));
    expect(root, 'the root card of INC-1').toBeDefined();
    const card = root!.body.attachments[0].content;
    const html = renderTeamsPost(card, { channel: 'Incidents' });
    expect(html).not.toContain('not rendered');
    await page.setViewportSize({ width: 640, height: 400 });
    // A blank document first: setContent on the status page would keep that page's CSP, which
    // allows only the status page's own stylesheet.
    await page.goto('about:blank');
    await page.setContent(html);
    expect(await page.locator('.card').innerText()).toContain('INC-1 · Card payments failing at checkout');
    await page.locator('.post').screenshot({ path: join(IMG, 'teams-card.png') });
  });
});
