import { afterEach, describe, expect, it } from 'vitest';
import { maintenanceThreads } from '../../db/schema.js';
import { BOB, CHANNEL, startHarness, teamsRows, type Harness } from './harness.js';
import type { ConnectorMessage } from '../fakes/teams-connector.js';

// Scheduled maintenance in Teams, end to end through real HTTP: activities and card buttons →
// POST /api/messages → outbox → the Teams targets (run by the real outbox worker) → the fake Bot
// Connector. Internally, a root card and thread in the bound incidents channel; customer channels
// get every public text of a maintenance whose components their filter names.

const HOUR = 3_600_000;
const MATCH = '19:match00000000000000000000000000@thread.tacv2';
const OTHER = '19:other00000000000000000000000000@thread.tacv2';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const cardText = (m: { body: Record<string, any> } | undefined) => JSON.stringify(m?.body.attachments ?? []);
const cards = (channel: string) => h.fake.posts(channel).filter((m) => m.body.attachments);
const current = (m: ConnectorMessage) => h.fake.messages.find((x) => x.id === m.id)!;

async function run(text: string, actor = 'cli:admin') {
  const r = await h.app.run(text, actor, { platform: 'cli' });
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return r.reply;
}

/** Waits for the scheduler (1 s ticks on real time, reading the test's clock) to move M-n. */
async function untilStatus(ref: string, status: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const list = (await run('maintenance list')).data.maintenances as Array<{ id: string; status: string }>;
    if (list.find((m) => m.id === ref)?.status === status) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${ref} never became ${status}`);
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('scheduled maintenance in Teams', () => {
  it('a root card and thread in the incidents channel, Approve on its card; a matching customer channel gets announcement, start and completion', async () => {
    // The injected clock runs and jumps ahead to the window.
    const clock = { offset: 0 };
    const now = () => Date.now() + clock.offset;
    h = await startHarness({ SITREP_ADMINS: 'cli:admin,teams:29:alice', SITREP_PUBLIC_URL: 'https://status.example.com', SITREP_TIMEZONE: 'UTC' }, now);
    await h.send(h.mention('channel incidents')); // binds the channel; the bot learns its serviceUrl
    await h.drain();
    await run('component add API');
    await run('component add Web App');
    await run(`approver add teams:${BOB.id}`);
    await run(`subscribe teams:${MATCH} components:api`);
    await run(`subscribe teams:${OTHER} components:web-app`);

    const starts = Math.ceil((now() + HOUR) / 60_000) * 60_000;
    const ends = starts + HOUR;
    await run(
      `maintenance schedule "DB [upgrade](http://evil) <at>everyone</at>" starts:${iso(starts)} ends:${iso(ends)} components:api We upgrade the database <at>everyone</at>.`,
      'teams:29:alice',
    );
    await h.drain();

    expect(cards(CHANNEL)).toHaveLength(1);
    const root = cards(CHANNEL)[0]!;
    expect(cardText(root)).toContain('Maintenance M-1');
    expect(cardText(root)).toContain('scheduled');
    expect(cardText(root)).toContain('API');
    expect(cardText(root)).toContain('none yet (not announced)');
    expect(cardText(root)).not.toContain('[upgrade](http://evil)');
    expect(cardText(root)).not.toContain('<at>everyone</at>');
    let thread = h.fake.replies(CHANNEL, root.id);
    expect(thread.map((m) => cardText(m))).toEqual([expect.stringContaining('Scheduled'), expect.stringContaining('D-1 needs approval')]);
    const approval = thread[1]!;
    expect(cardText(approval)).toContain('sitrep.approve');
    expect(cardText(approval)).not.toContain('<at>everyone</at>');
    expect(h.fake.posts(MATCH)).toEqual([]);
    expect(h.fake.posts(OTHER)).toEqual([]);

    // Approve on the maintenance's approval card (Action.Execute), as on an incident's.
    const res = await h.send(h.execute({ sitrep: 'sitrep.approve', draft: 'D-1' }, { rootId: root.id, from: BOB }));
    expect(res.status).toBe(200);
    expect(res.json().value).toContain('D-1 approved and published for M-1');
    await h.drain();
    expect(cardText(current(approval))).toContain('D-1 approved and published');
    expect(cardText(current(approval))).not.toContain('sitrep.approve');
    expect(cardText(current(root))).toContain('Last customer text** (D-1');

    const customer = cards(MATCH);
    expect(customer).toHaveLength(1);
    expect(cardText(customer[0])).toContain('Scheduled maintenance: DB');
    expect(cardText(customer[0])).toContain(`${iso(starts).slice(11, 16)} UTC to`);
    expect(cardText(customer[0])).toContain('https://status.example.com/maintenances/M-1');
    expect(cardText(customer[0])).not.toContain('<at>everyone</at>');
    expect(h.fake.posts(OTHER)).toEqual([]);

    clock.offset = starts + 1_000 - Date.now();
    await untilStatus('M-1', 'in_progress');
    await h.drain();
    clock.offset = ends + 1_000 - Date.now();
    await untilStatus('M-1', 'completed');
    await h.drain();

    // The thread: every event under the maintenance's root card, in order.
    thread = h.fake.replies(CHANNEL, root.id);
    const order = [
      'Scheduled',
      'D-1 approved and published', // the approval card, edited once decided
      'D-1 approved by',
      'Published D-1',
      'M-1 started at its scheduled time',
      'Scheduled maintenance is currently in progress',
      'M-1 completed at its scheduled time',
      'The scheduled maintenance has been completed',
    ];
    expect(thread).toHaveLength(order.length);
    for (const [i, m] of thread.entries()) expect(cardText(current(m)), `reply ${i}`).toContain(order[i]);
    expect(cardText(current(root))).toContain('completed');
    expect(current(root).edits).toBeGreaterThanOrEqual(2);

    // Customers: the announcement, the start and the completion, each under the maintenance's card.
    expect(h.fake.replies(MATCH, customer[0]!.id).map((m) => cardText(m))).toEqual([
      expect.stringContaining('We upgrade the database'),
      expect.stringContaining('Scheduled maintenance is currently in progress.'),
      expect.stringContaining('The scheduled maintenance has been completed.'),
    ]);
    expect(cardText(current(customer[0]!))).toContain('Completed');
    expect(h.fake.posts(OTHER)).toEqual([]);

    expect(teamsRows(h.app).filter((r) => r.state !== 'delivered')).toEqual([]);
    expect(h.app.db.select().from(maintenanceThreads).all()).toEqual([
      expect.objectContaining({ maintenanceId: 1, platform: 'teams', channel: CHANNEL, rootRef: root.id }),
    ]);
  });

  it('a text that never reaches a customer channel is told in the maintenance thread, kept for `deliveries retry`', async () => {
    h = await startHarness({ SITREP_ADMINS: 'cli:admin,teams:29:alice', SITREP_APPROVAL: 'off' });
    await h.send(h.mention('channel incidents'));
    await h.drain();
    await run(`subscribe teams:${MATCH}`);
    // The channel refuses both the maintenance's card and, when its text tries again without one, that too.
    h.fake.failNext({ status: 403 }, 2, (c) => c.conversationId === MATCH);
    await run(`maintenance schedule "Cache flush" starts:${iso(Date.now() + HOUR)} ends:${iso(Date.now() + 2 * HOUR)} Caches are flushed.`);
    await h.drain();
    const dead = teamsRows(h.app).filter((r) => r.state === 'dead');
    expect(dead.map((r) => [r.kind, r.target])).toEqual([
      ['teams.maintenance_root', `teams:${MATCH}|M-1`],
      ['teams.maintenance_update', `teams:${MATCH}|M-1`],
    ]);
    const root = cards(CHANNEL)[0]!;
    const told = h.fake.replies(CHANNEL, root.id).map((m) => cardText(m));
    expect(told.at(-1)).toContain(`did not reach teams:${MATCH}: HTTP 403`);
    expect(told.at(-1)).toContain(`deliveries retry ${dead[1]!.id}`);
  });

  it('a text that reaches a customer channel late says so ("Delayed:")', async () => {
    const clock = { offset: 0 };
    h = await startHarness(
      { SITREP_ADMINS: 'cli:admin', SITREP_APPROVAL: 'off', SITREP_TIMEZONE: 'UTC', SITREP_DELAY_NOTICE_MINUTES: '5', SITREP_DELIVERY_DEADLINE_MINUTES: '120' },
      () => Date.now() + clock.offset,
    );
    await h.send(h.mention('maintenance list', { channel: MATCH })); // the bot learns the channel's serviceUrl
    await h.drain();
    await run(`subscribe teams:${MATCH}`);
    // The channel throttles until the clock has moved on half an hour.
    let throttled = true;
    h.fake.failNext({ status: 429, retryAfter: 0 }, 10_000, (c) => throttled && c.conversationId === MATCH);
    const t0 = Date.now() + clock.offset;
    await run(`maintenance schedule "Cache flush" starts:${iso(t0 + HOUR)} ends:${iso(t0 + 2 * HOUR)} Caches are flushed.`);
    await h.fake.waitFor((f) => f.calls.some((c) => c.conversationId === MATCH && c.status === 429));
    clock.offset += 30 * 60_000;
    throttled = false;
    await h.drain();
    const card = cards(MATCH)[0]!;
    const [reply] = h.fake.replies(MATCH, card.id);
    expect(cardText(reply)).toContain('Caches are flushed.');
    // With the date when it was posted on another day (the test's clock is the real one, moved on half an hour).
    expect(cardText(reply)).toMatch(/Delayed: originally posted (\w{3} \d\d )?\d\d:\d\d UTC/);
  });

  it('without a bound incidents channel nothing is posted internally; customer channels still hear', async () => {
    h = await startHarness({ SITREP_ADMINS: 'cli:admin', SITREP_APPROVAL: 'off' });
    // The bot has heard from the customer channel (its serviceUrl), but no incidents channel is bound.
    await h.send(h.mention('maintenance list', { channel: MATCH }));
    await h.drain();
    await run(`subscribe teams:${MATCH}`);
    await run(`maintenance schedule "Cache flush" starts:${iso(Date.now() + HOUR)} ends:${iso(Date.now() + 2 * HOUR)} Caches are flushed.`);
    await h.drain();
    expect(cards(CHANNEL)).toEqual([]);
    expect(h.app.db.select().from(maintenanceThreads).all()).toEqual([]);
    const customer = cards(MATCH);
    expect(customer).toHaveLength(1);
    expect(h.fake.replies(MATCH, customer[0]!.id).map((m) => cardText(m))).toEqual([expect.stringContaining('Caches are flushed.')]);
  });
});
