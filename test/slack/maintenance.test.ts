import { afterEach, describe, expect, it } from 'vitest';
import { asc, like } from 'drizzle-orm';
import { maintenanceThreads, outbox } from '../../db/schema.js';
import { INCIDENTS, SECRET, TOKEN, blockAction, startHarness, viewSubmission, type Harness } from './harness.js';
import { testApp } from '../helpers.js';
import type { FakeMessage } from '../fakes/slack-api.js';

// Scheduled maintenance in Slack, end to end through real HTTP: commands and button clicks → the
// real receiver → outbox → the Slack targets (run by the real outbox worker) → the fake Slack Web
// API. Internally, a root message and thread in the incidents channel like an incident's;
// customer channels get every public text of a maintenance whose components their filter names.

const HOUR = 3_600_000;

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const textOf = (m: { blocks?: unknown[]; text: string } | undefined) => JSON.stringify(m?.blocks ?? []) + (m?.text ?? '');
/** What Slack parses as mrkdwn (a header is plain_text, where `<!channel>` is inert text). */
const mrkdwnOf = (m: { blocks?: unknown[] } | undefined) => JSON.stringify((m?.blocks ?? []).filter((b) => (b as { type: string }).type !== 'header'));
const inChannel = (channel: string) => h.fake.messages.filter((m) => m.channel === channel);
const roots = (channel: string) => inChannel(channel).filter((m) => !m.thread_ts);
const repliesTo = (root: FakeMessage) => h.fake.messages.filter((m) => m.channel === root.channel && m.thread_ts === root.ts);

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

describe('scheduled maintenance in Slack', () => {
  it('a root and thread in the incidents channel; matching customer channels get announcement, start and completion; nothing before approval', async () => {
    // The injected clock runs (the worker paces posts by it) and jumps ahead to the window.
    const clock = { offset: 0 };
    const now = () => Date.now() + clock.offset;
    h = await startHarness({ SITREP_ADMINS: 'cli:admin', SITREP_PUBLIC_URL: 'https://status.example.com', SITREP_TIMEZONE: 'UTC' }, now);
    await run('component add API');
    await run('component add Web App');
    await run('approver add slack:U0BOB');
    await run('subscribe slack:C0MATCH components:api');
    await run('subscribe slack:C0OTHER components:web-app');
    await run('subscribe slack:C0EVERY');

    const starts = Math.ceil((now() + HOUR) / 60_000) * 60_000;
    const ends = starts + HOUR;
    const scheduled = await h.app.run(
      `maintenance schedule "DB upgrade <!channel>" starts:${iso(starts)} ends:${iso(ends)} components:api We upgrade the *database* <!here> <@U0ALICE>.`,
      'slack:U0ALICE',
      { platform: 'slack', channel: 'C0GENERAL' },
    );
    expect(scheduled.ok).toBe(true);
    await h.drain();

    // The root message in the incidents channel, and the approval request threaded under it.
    expect(roots(INCIDENTS)).toHaveLength(1);
    const root = roots(INCIDENTS)[0]!;
    expect(textOf(root)).toContain('M-1 · DB upgrade');
    expect(textOf(root)).toContain('scheduled');
    expect(textOf(root)).toContain('API');
    expect(textOf(root)).toContain('none yet: not announced');
    expect(textOf(root)).toContain('Awaiting approval: D-1');
    expect(mrkdwnOf(root)).not.toContain('<!channel>');
    let thread = repliesTo(root);
    expect(thread.map((m) => textOf(m))).toEqual([expect.stringContaining('Scheduled'), expect.stringContaining('D-1 needs approval')]);
    const request = thread[1]!;
    for (const id of ['sitrep_approve', 'sitrep_edit_approve', 'sitrep_reject']) expect(textOf(request)).toContain(id);
    expect(textOf(request)).not.toContain('<!here>');
    // Nothing reaches customers before approval.
    for (const c of ['C0MATCH', 'C0OTHER', 'C0EVERY']) expect(inChannel(c)).toEqual([]);

    // The Approve button works on a maintenance's draft as on an incident's.
    const click = blockAction({ user: 'U0BOB', actionId: 'sitrep_approve', value: 'D-1', channel: INCIDENTS, messageTs: request.ts, threadTs: root.ts });
    click.response_url = h.fake.responseUrl('approve');
    expect((await h.interaction(click)).status).toBe(200);
    await h.fake.waitFor((f) => f.responses.some((x) => x.id === 'approve'));
    expect(String(h.fake.responses.find((x) => x.id === 'approve')!.body.text)).toContain('D-1 approved and published for M-1');
    await h.drain();
    const decided = h.fake.messages.find((m) => m.ts === request.ts)!;
    expect(textOf(decided)).toContain('D-1 approved by <@U0BOB> and published');
    expect(textOf(decided)).not.toContain('sitrep_approve');
    expect(textOf(h.fake.messages.find((m) => m.ts === root.ts))).toContain('Last customer text* (D-1');

    // Customer channels: the announcement where the filter names api, and where there is none.
    expect(inChannel('C0OTHER')).toEqual([]);
    for (const c of ['C0MATCH', 'C0EVERY']) {
      const [croot, ...rest] = inChannel(c);
      expect(croot!.thread_ts).toBeUndefined();
      expect(textOf(croot)).toContain('Scheduled maintenance: DB upgrade');
      expect(textOf(croot)).toContain(`Dec`);
      expect(textOf(croot)).toContain('API');
      expect(textOf(croot)).toContain('<https://status.example.com/maintenances/M-1|status page>');
      expect(rest).toHaveLength(1);
      expect(rest[0]!.thread_ts).toBe(croot!.ts);
      expect(textOf(rest[0])).toContain('We upgrade the *database*');
      for (const m of [croot!, ...rest]) {
        expect(textOf(m)).not.toContain('<!channel>');
        expect(textOf(m)).not.toContain('<!here>');
        expect(textOf(m)).not.toContain('<@U0ALICE>');
      }
    }
    // The window, in SITREP_TIMEZONE.
    const window = `${new Date(starts).toISOString().slice(11, 16)} UTC to`;
    expect(textOf(inChannel('C0MATCH')[0])).toContain(window);

    // A second maintenance, naming no components: every channel hears of it, each in a message of its own.
    await run(`maintenance schedule "Network move" starts:${iso(starts + 10 * 60_000)} ends:${iso(ends)} Routers are being moved.`, 'slack:U0ALICE');
    await h.drain();
    expect(roots(INCIDENTS)).toHaveLength(2);
    const root2 = roots(INCIDENTS)[1]!;
    expect(textOf(root2)).toContain('M-2 · Network move');
    const request2 = repliesTo(root2).find((m) => textOf(m).includes('D-2 needs approval'))!;
    // Edit & approve opens the text for rewording; submitting publishes the new wording.
    await h.interaction(
      blockAction({ user: 'U0BOB', actionId: 'sitrep_edit_approve', value: 'D-2', channel: INCIDENTS, messageTs: request2.ts, threadTs: root2.ts }),
    );
    await h.fake.waitFor((f) => f.callsOf('views.open').length === 1);
    const view = h.fake.callsOf('views.open')[0]!.params.view as { callback_id: string; private_metadata: string };
    expect(view.callback_id).toBe('sitrep_approve_edit');
    const sub = await h.interaction(
      viewSubmission({
        user: 'U0BOB',
        callbackId: 'sitrep_approve_edit',
        meta: JSON.parse(view.private_metadata),
        values: { text: { type: 'plain_text_input', value: 'Network equipment is being moved.' } },
      }),
    );
    expect(sub.status).toBe(200);
    await h.drain();
    for (const c of ['C0MATCH', 'C0OTHER', 'C0EVERY']) {
      const network = roots(c).filter((m) => textOf(m).includes('Network move'));
      expect(network).toHaveLength(1);
      expect(repliesTo(network[0]!).map((m) => textOf(m))).toEqual([expect.stringContaining('Network equipment is being moved.')]);
    }

    // The start, by itself at starts:.
    clock.offset = starts + 1_000 - Date.now();
    await untilStatus('M-1', 'in_progress');
    await h.drain();
    // Completion, by itself at ends:.
    clock.offset = ends + 1_000 - Date.now();
    await untilStatus('M-1', 'completed');
    await untilStatus('M-2', 'completed');
    await h.drain();

    // The thread: every event of M-1 under its own root, in order; none under M-2's.
    thread = repliesTo(root);
    const texts = thread.map((m) => textOf(m));
    const order = [
      'Scheduled',
      'D-1 needs approval', // edited in place once decided
      'D-1 approved by',
      'Published D-1',
      'M-1 started at its scheduled time',
      'Scheduled maintenance is currently in progress',
      'M-1 completed at its scheduled time',
      'The scheduled maintenance has been completed',
    ];
    expect(texts).toHaveLength(order.length);
    for (const [i, t] of texts.entries()) expect(t, `reply ${i}`).toContain(i === 1 ? 'D-1 approved by <@U0BOB> and published' : order[i]);
    // Status changes are broadcast to the channel too.
    expect(thread.filter((m) => m.reply_broadcast).map((m) => textOf(m))).toEqual([
      expect.stringContaining('M-1 started at'),
      expect.stringContaining('M-1 completed at'),
    ]);
    const thread2 = repliesTo(root2).map((m) => textOf(m));
    expect(thread2.some((t) => t.includes('M-2 started at'))).toBe(true);
    expect(thread2.some((t) => t.includes('M-2 completed at'))).toBe(true);
    expect(thread2.some((t) => t.includes('M-1'))).toBe(false);
    // The root was edited as the status moved.
    const rootNow = h.fake.messages.find((m) => m.ts === root.ts)!;
    expect(textOf(rootNow)).toContain('completed');
    expect(textOf(rootNow)).toContain('The scheduled maintenance has been completed.');

    // Customers: announcement, start and completion, threaded under the maintenance's message.
    const match = roots('C0MATCH').find((m) => textOf(m).includes('DB upgrade'))!;
    expect(repliesTo(match).map((m) => textOf(m))).toEqual([
      expect.stringContaining('We upgrade the *database*'),
      expect.stringContaining('Scheduled maintenance is currently in progress.'),
      expect.stringContaining('The scheduled maintenance has been completed.'),
    ]);
    expect(textOf(repliesTo(match)[1])).toContain('*In progress*');
    // …and its message kept current.
    expect(textOf(h.fake.messages.find((m) => m.ts === match.ts))).toContain('*Completed*');
    expect(roots('C0OTHER').some((m) => textOf(m).includes('DB upgrade'))).toBe(false);

    // M-2 started and completed in one go (its whole window passed at once): in each channel its
    // start notice is folded into the completion, which says so, and nothing of M-1 is folded in.
    const network = roots('C0OTHER').find((m) => textOf(m).includes('Network move'))!;
    expect(repliesTo(network).map((m) => textOf(m))).toEqual([
      expect.stringContaining('Network equipment is being moved.'),
      expect.stringContaining('The scheduled maintenance has been completed.'),
    ]);
    expect(textOf(repliesTo(network)[1])).toContain('This message folds in 1 earlier update.');
    expect(textOf(repliesTo(match)[2])).not.toContain('folds in');

    // Every row went out (or was folded); the maintenance's rows are in lanes of their own, none with an incident.
    const rows = h.app.db.select().from(outbox).where(like(outbox.target, 'slack:%')).orderBy(asc(outbox.id)).all();
    expect(rows.filter((r) => r.state !== 'delivered' && r.state !== 'folded')).toEqual([]);
    expect(rows.filter((r) => r.state === 'folded').map((r) => [r.target, r.payload.maintenance])).toEqual([
      ['slack:C0MATCH|M-2', 'M-2'],
      ['slack:C0OTHER|M-2', 'M-2'],
      ['slack:C0EVERY|M-2', 'M-2'],
    ]);
    expect(rows.filter((r) => r.kind !== 'ephemeral').every((r) => r.incidentId === null && /\|M-[12]$/.test(r.target))).toBe(true);
    expect(h.app.db.select().from(maintenanceThreads).all()).toEqual([
      expect.objectContaining({ maintenanceId: 1, platform: 'slack', channel: INCIDENTS, rootRef: root.ts }),
      expect.objectContaining({ maintenanceId: 2, platform: 'slack', channel: INCIDENTS, rootRef: root2.ts }),
    ]);
  });

  it('a rejected maintenance draft: the request loses its buttons, customers hear nothing', async () => {
    h = await startHarness({ SITREP_ADMINS: 'cli:admin' });
    await run('approver add slack:U0BOB');
    await run('subscribe slack:C0EVERY');
    await run(`maintenance schedule "Cache flush" starts:${iso(Date.now() + HOUR)} ends:${iso(Date.now() + 2 * HOUR)} Caches are flushed.`, 'slack:U0ALICE');
    await h.drain();
    const root = roots(INCIDENTS)[0]!;
    const request = repliesTo(root).find((m) => textOf(m).includes('D-1 needs approval'))!;
    expect((await h.app.run('reject D-1 wording: say which caches', 'slack:U0BOB', { platform: 'slack' })).ok).toBe(true);
    await h.drain();
    const decided = h.fake.messages.find((m) => m.ts === request.ts)!;
    expect(textOf(decided)).toContain('D-1 rejected by <@U0BOB>');
    expect(textOf(decided)).not.toContain('sitrep_approve');
    expect(textOf(repliesTo(root).at(-1))).toContain('rejected: wording: say which caches');
    expect(inChannel('C0EVERY')).toEqual([]);
  });
});

describe('a customer channel unsubscribed', () => {
  it("drops what still waits in its maintenances' lanes, and only its own", async () => {
    // No server, so no worker: the rows stay where the commands put them.
    const app = testApp({
      SITREP_APPROVAL: 'off',
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: 'http://127.0.0.1:9/api/',
      SLACK_INCIDENTS_CHANNEL: INCIDENTS,
    });
    try {
      for (const t of ['subscribe slack:C0AAA', 'subscribe slack:C0AAAB']) expect((await app.run(t, 'cli:admin', { platform: 'cli' })).ok).toBe(true);
      const r = await app.run(
        `maintenance schedule "Cache flush" starts:${iso(Date.now() + HOUR)} ends:${iso(Date.now() + 2 * HOUR)} Caches are flushed.`,
        'cli:admin',
        {
          platform: 'cli',
        },
      );
      expect(r.ok).toBe(true);
      const lanes = () =>
        app.db
          .select()
          .from(outbox)
          .orderBy(asc(outbox.id))
          .all()
          .map((x) => [x.target, x.kind, x.state]);
      expect(lanes().filter(([t]) => !String(t).startsWith('slack:thread:'))).toEqual([
        ['slack:C0AAA|M-1', 'slack.maintenance_root', 'pending'],
        ['slack:C0AAA|M-1', 'slack.maintenance_update', 'pending'],
        ['slack:C0AAAB|M-1', 'slack.maintenance_root', 'pending'],
        ['slack:C0AAAB|M-1', 'slack.maintenance_update', 'pending'],
      ]);
      const u = await app.run('unsubscribe slack:C0AAA', 'cli:admin', { platform: 'cli' });
      expect(u.ok && u.reply.data.dropped).toBe(2);
      expect(lanes().filter(([t]) => !String(t).startsWith('slack:thread:'))).toEqual([
        ['slack:C0AAA|M-1', 'slack.maintenance_root', 'dead'],
        ['slack:C0AAA|M-1', 'slack.maintenance_update', 'dead'],
        ['slack:C0AAAB|M-1', 'slack.maintenance_root', 'pending'],
        ['slack:C0AAAB|M-1', 'slack.maintenance_update', 'pending'],
      ]);
      expect(
        lanes()
          .filter(([t]) => String(t).startsWith('slack:thread:'))
          .every(([, , state]) => state === 'pending'),
      ).toBe(true);
    } finally {
      await app.close();
    }
  });
});
