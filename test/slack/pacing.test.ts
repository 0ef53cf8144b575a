import { afterEach, describe, expect, it } from 'vitest';
import { RollingLimit } from '../../bench/ratelimit-window.js';
import { createSlackCustomerTarget } from '../../adapters/slack/customer.js';
import { createSlackWebApi } from '../../adapters/slack/web-api.js';
import type { Target } from '../../src/mirror/target.js';
import { startFakeSlackApi, type FakeMessage, type FakeSlackApi } from '../fakes/slack-api.js';
import { startHarness, tempDb, waitUntil, type Harness } from '../mirror/helpers.js';

// Slack takes about one message per second per channel and answers 429 beyond that. Sitrep paces
// its posts per channel instead of learning the limit from refusals: here the fake Slack keeps
// that limit itself (1 chat.postMessage per channel per second, 429 with Retry-After beyond it)
// and Sitrep, through the real path (command, outbox, worker, the Slack targets, HTTP), must
// provoke no 429 at all, lose nothing and post nothing twice. How fast it gets there is a
// benchmark figure (bench/ratelimit.ts), not asserted here.

const TOKEN = 'xoxb-pacing-token';
const INCIDENTS = 'C0INCIDENTS';

let fake: FakeSlackApi | undefined;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  await fake?.close();
  h = fake = undefined;
});

async function start(env: Record<string, string> = {}) {
  fake = await startFakeSlackApi({ token: TOKEN, rateLimit: { perChannel: 1 } });
  h = await startHarness(
    {
      SLACK_SIGNING_SECRET: 'pacing-signing-secret-0123456789',
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_API_URL: fake.apiUrl,
      SITREP_APPROVAL: 'self',
      ...env,
    },
    // A loaded machine answering 200 posts in this one process can take longer than the harness's
    // short attempt timeout; a timed-out post is retried, which is not what these tests look for.
    { tune: { attemptTimeoutMs: 10_000 } },
  );
  await h.run('approver add @admin');
  return { fake, h };
}

const channelName = (i: number) => `C0CUST${String(i).padStart(4, '0')}`;
const slackRows = (x: Harness) => x.rows().filter((r) => r.target.startsWith('slack:'));
const settled = (x: Harness) => slackRows(x).every((r) => r.state === 'delivered' || r.state === 'dead' || r.state === 'folded');

/** Per channel: its top-level messages, and the replies in each of their threads. */
function byChannel(messages: FakeMessage[]) {
  const out = new Map<string, { roots: FakeMessage[]; replies: FakeMessage[] }>();
  for (const m of messages) {
    const c = out.get(m.channel) ?? { roots: [], replies: [] };
    (m.thread_ts ? c.replies : c.roots).push(m);
    out.set(m.channel, c);
  }
  return out;
}

describe('Slack customer channels at the rate limit', () => {
  it('200 channels, one approved update: every channel gets its message and the update once, with no 429 provoked', { timeout: 120_000 }, async () => {
    const { fake, h } = await start();
    const N = 200;
    for (let i = 1; i <= N; i++) await h.run(`subscribe slack:${channelName(i)}`);
    await h.run('declare "Checkout errors" sev:2');
    await h.run('draft status:investigating We are investigating errors at checkout.');
    await h.run('approve D-1');

    await waitUntil(() => settled(h) && slackRows(h).length === 2 * N, 100_000, 'every customer-channel row delivered');
    const rows = slackRows(h);
    expect(rows.filter((r) => r.state !== 'delivered')).toEqual([]);
    expect(rows.every((r) => r.attempts === 1)).toBe(true); // nothing was refused and retried

    expect(fake.rateLimited()).toBe(0);
    const channels = byChannel(fake.messages);
    expect(channels.size).toBe(N);
    for (let i = 1; i <= N; i++) {
      const c = channels.get(channelName(i))!;
      expect(c.roots).toHaveLength(1); // the incident's one message in the channel: not lost, not doubled
      expect(c.replies).toHaveLength(1); // the update, once, in that message's thread
      expect(c.replies[0]!.thread_ts).toBe(c.roots[0]!.ts);
      expect(c.replies[0]!.text).toContain('We are investigating errors at checkout.');
      // Slack itself would have refused anything closer together.
      expect(c.replies[0]!.at! - c.roots[0]!.at!).toBeGreaterThanOrEqual(1_000 - 1);
    }
    expect(fake.messages).toHaveLength(2 * N);
    // The root was posted from the same payload a moment ago: editing it to the same text would
    // be one more call per channel against the workspace's chat.update limit.
    expect(fake.callsOf('chat.update')).toHaveLength(0);
  });

  it('a later update edits the root and replies in its thread, still within the limit; folded updates are sent once', { timeout: 60_000 }, async () => {
    const { fake, h } = await start();
    for (let i = 1; i <= 3; i++) await h.run(`subscribe slack:${channelName(i)}`);
    await h.run('component add "Web App"');
    await h.run('declare "Checkout errors" sev:2 components:web-app=major');
    await h.run('draft status:investigating First update.');
    await h.run('approve D-1');
    await h.run('draft status:identified Second update.');
    await h.run('approve D-2');
    await h.run('draft status:monitoring Third update.');
    await h.run('approve D-3');

    await waitUntil(() => settled(h) && slackRows(h).filter((r) => r.state === 'delivered').length >= 3 * 2, 50_000, 'updates delivered');
    expect(fake.rateLimited()).toBe(0);
    for (const [channel, c] of byChannel(fake.messages)) {
      expect(c.roots, channel).toHaveLength(1);
      const texts = c.replies.map((r) => r.text);
      // In order, the newest last; whatever waited behind another was folded into it, not repeated.
      expect(texts.at(-1)).toContain('Third update.');
      expect(new Set(texts).size).toBe(texts.length);
      expect(c.replies.every((r) => r.thread_ts === c.roots[0]!.ts)).toBe(true);
      const root = c.roots[0]!;
      expect(root.text).toContain('Monitoring');
    }
  });

  it('a 429 that Slack answers anyway is still honoured: retried after Retry-After, delivered once', { timeout: 30_000 }, async () => {
    const { fake, h } = await start();
    await h.run(`subscribe slack:${channelName(1)}`);
    // Another client of the same workspace used up the channel's allowance.
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 2 });
    await h.run('declare "Checkout errors" sev:2');
    await h.run('draft status:investigating We are investigating.');
    await h.run('approve D-1');

    await waitUntil(() => settled(h) && slackRows(h).length === 2, 20_000, 'delivered');
    const posts = fake.calls.filter((c) => c.method === 'chat.postMessage');
    expect(posts[0]!.status).toBe(429);
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(2_000 - 5);
    const c = byChannel(fake.messages).get(channelName(1))!;
    expect(c.roots).toHaveLength(1);
    expect(c.replies).toHaveLength(1);
    expect(slackRows(h).map((r) => r.state)).toEqual(['delivered', 'delivered']);
  });

  it('the incident thread is paced too: root and replies in one channel, in order, with no 429', { timeout: 60_000 }, async () => {
    const { fake, h } = await start({ SLACK_INCIDENTS_CHANNEL: INCIDENTS });
    await h.run('declare "Database failover" sev:2');
    for (let i = 1; i <= 4; i++) await h.run(`note INC-1 Note number ${i}`);

    await waitUntil(() => settled(h) && fake.messages.filter((m) => /Note number 4/.test(m.text)).length === 1, 50_000, 'notes posted');
    expect(fake.rateLimited()).toBe(0);
    const notes = fake.messages.filter((m) => /Note number \d/.test(m.text)).map((m) => /Note number (\d)/.exec(m.text)![1]);
    expect(notes).toEqual(['1', '2', '3', '4']);
    expect(slackRows(h).every((r) => r.state === 'delivered')).toBe(true);
  });

  it('across a restart: nothing is sent to a channel within the limit, nothing is lost or sent twice, and each channel keeps its order', {
    timeout: 60_000,
  }, async () => {
    fake = await startFakeSlackApi({ token: TOKEN, rateLimit: { perChannel: 1 } });
    const env = {
      SLACK_SIGNING_SECRET: 'pacing-signing-secret-0123456789',
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_API_URL: fake.apiUrl,
      SITREP_APPROVAL: 'self',
      SITREP_DB: tempDb(),
    };
    const N = 5;
    const first = await startHarness(env, { tune: { attemptTimeoutMs: 10_000 } });
    await first.run('approver add @admin');
    for (let i = 1; i <= N; i++) await first.run(`subscribe slack:${channelName(i)}`);
    await first.run('declare "Checkout errors" sev:2');
    await first.run('draft status:investigating First update.');
    await first.run('approve D-1');
    // Stopped as soon as every channel has the incident's message (recorded: none in flight, whose
    // post would be sent again): the updates wait for their channel's pace, which the server
    // restarting a moment later has to know of.
    const roots = (x: Harness) => slackRows(x).filter((r) => r.kind === 'slack.customer_root');
    await waitUntil(() => roots(first).every((r) => r.state === 'delivered'), 20_000, 'every channel has its message');
    await first.close();
    h = await startHarness(env, { tune: { attemptTimeoutMs: 10_000 } });
    await h.run('draft INC-1 status:identified Second update.');
    await h.run('approve D-2');

    const last = (x: Harness) => slackRows(x).filter((r) => r.kind === 'slack.customer_update' && r.payload.updateId === 'D-2');
    await waitUntil(() => settled(h!) && last(h!).length === N && last(h!).every((r) => r.state === 'delivered'), 30_000, 'the second update delivered');
    expect(slackRows(h).filter((r) => r.state !== 'delivered' && r.state !== 'folded')).toEqual([]);
    expect(fake.rateLimited()).toBe(0);
    const channels = byChannel(fake.messages);
    for (let i = 1; i <= N; i++) {
      const ch = channelName(i);
      // Every post to the channel (answered or refused), by either server: one interval apart at least.
      const posts = fake.calls.filter((c) => c.method === 'chat.postMessage' && c.params.channel === ch).map((c) => c.at);
      for (let k = 1; k < posts.length; k++) expect(posts[k]! - posts[k - 1]!, ch).toBeGreaterThanOrEqual(1_000 - 1);
      const c = channels.get(ch)!;
      expect(c.roots).toHaveLength(1);
      expect(c.replies.every((r) => r.thread_ts === c.roots[0]!.ts)).toBe(true);
      const texts = c.replies.map((r) => r.text);
      // The first update once, then the second; or the second folding the first in.
      if (texts.length === 2) {
        expect(texts[0]).toContain('First update.');
        expect(texts[1]).toContain('Second update.');
      } else {
        expect(texts).toHaveLength(1);
        expect(texts[0]).toContain('Second update.');
        expect(texts[0]).toContain('This message folds in 1 earlier update.');
      }
    }
  });

  it('rows say which channel they post to; edits, ephemeral messages and channel creation are not paced', async () => {
    const { h } = await start({ SLACK_INCIDENTS_CHANNEL: INCIDENTS });
    await h.run('declare "Database failover" sev:2');
    const target = (t: string): Target => h.app.targets.find((x) => x.handles(t))!;
    const customer = target('slack:C0CUST0001');
    expect(customer.pace?.({ target: 'slack:C0CUST0001', kind: 'slack.customer_update', payload: {}, incidentId: 1 })).toEqual({
      key: 'slack:channel:C0CUST0001',
      intervalMs: 1_000,
    });
    const thread = target(`slack:thread:${INCIDENTS}`);
    const row = (kind: string) => ({ target: `slack:thread:${INCIDENTS}`, kind, payload: {}, incidentId: 1 });
    expect(thread.pace?.(row('root_post'))).toEqual({ key: `slack:channel:${INCIDENTS}`, intervalMs: 1_000 });
    expect(thread.pace?.(row('thread_reply'))).toEqual({ key: `slack:channel:${INCIDENTS}`, intervalMs: 1_000 });
    for (const kind of ['root_update', 'approval_update', 'ephemeral', 'create_channel']) expect(thread.pace?.(row(kind))).toBeUndefined();
  });
});

describe('the per-channel gate', () => {
  it('an attempt the worker gives up on while it waits for the channel never posts later', async () => {
    fake = await startFakeSlackApi({ token: TOKEN, rateLimit: { perChannel: 1 } });
    const target = createSlackCustomerTarget(createSlackWebApi({ token: TOKEN, apiUrl: fake.apiUrl }));
    const payload = {
      incident: 'INC-1',
      title: 'Checkout errors',
      status: 'investigating',
      body: 'Looking into it.',
      at: Date.now(),
      url: 'http://127.0.0.1/incidents/INC-1',
      components: [],
      zone: 'UTC',
    };
    const base = {
      id: 1,
      deliveryId: 'msg_gate_1',
      incidentId: 1,
      target: 'slack:C0GATE',
      payload,
      attempts: 1,
      createdAt: Date.now(),
      approvedAt: Date.now(),
      folded: 0,
    };
    const root = await target.deliver({ ...base, kind: 'slack.customer_root' }, new AbortController().signal);
    expect(root.kind).toBe('delivered');

    // The update comes at once (as if nothing paced the rows): it has to wait for the channel…
    const ac = new AbortController();
    const update = target.deliver(
      { ...base, id: 2, deliveryId: 'msg_gate_2', kind: 'slack.customer_update', previousRemoteRef: (root as { remoteRef: string }).remoteRef },
      ac.signal,
    );
    setTimeout(() => ac.abort(new Error('timeout')), 50);
    expect((await update).kind).toBe('retry');
    // … and, given up on, it does not go out in the background once the channel has room.
    await new Promise((r) => setTimeout(r, 1_300));
    expect(fake.messages).toHaveLength(1);
    expect(fake.rateLimited()).toBe(0);
  });
});

describe('the limit the fakes keep', () => {
  it('at most `limit` accepted per window, counted on arrival; a refusal does not count and says when to come back', async () => {
    let now = 0;
    const l = new RollingLimit({ limit: 1, windowMs: 1_000, now: () => now });
    expect(l.admit('C1')).toEqual({ ok: true });
    now = 400;
    expect(l.admit('C1')).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(l.admit('C2')).toEqual({ ok: true }); // per key
    now = 999;
    expect(l.check('C1').ok).toBe(false);
    now = 1_000;
    expect(l.admit('C1')).toEqual({ ok: true });
    expect(l.refusedTotal).toBe(2);
  });
});
