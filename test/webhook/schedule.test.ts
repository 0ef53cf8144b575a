import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../adapters/console/cli.js';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/main.js';
import { createLogger } from '../../src/logger.js';
import { WEBHOOK_RETRY_SCHEDULE_MS } from '../../src/mirror/policy.js';
import type { WorkerOptions } from '../../src/mirror/worker.js';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-api.js';
import { startWebhookReceiver } from '../fakes/webhook-receiver.js';
import { startHarness, waitUntil, type Harness } from '../mirror/helpers.js';
import { frozenClock, skipUntil, type Clock } from './schedule-clock.js';

// The Standard Webhooks schedule through the running server: real HTTP to a scripted receiver on
// 127.0.0.1, a real SQLite file, and an injected clock that moves only when the test says, so
// every wait the worker chose can be read off the row exactly. An endpoint that fails through the
// whole schedule is disabled and its incident told once; `deliveries retry` (from the CLI, as an
// operator would) sends the dead letter again and enables the subscription.

const S = 1_000;
const M = 60 * S;
const H = 60 * M;

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

type Row = ReturnType<Harness['rows']>[number];

async function setup(env: Record<string, string> = {}, clock: Clock = frozenClock(), tune: Partial<WorkerOptions> = {}) {
  const rx = await startWebhookReceiver({ status: 500 });
  closers.push(() => rx.close());
  const h = await startHarness({ SITREP_ADMINS: 'cli:admin', ...env }, { now: clock.now, tune });
  closers.push(() => h.close());
  await h.run('component add Web App');
  const sub = (await h.run(`subscribe webhook:${rx.url}`)).data as { id: string; secret: string };
  await h.run('declare "Database down" components:web-app=major');
  return { rx, h, clock, sub };
}

/** The CLI against the server's database file, as an operator runs it beside the server. */
async function cli(h: Harness, ...argv: string[]): Promise<{ code: number; json: any }> {
  let out = '';
  const config = loadConfig({ SITREP_DB: h.app.config.dbFile, LOG_LEVEL: 'silent', USER: 'admin', SITREP_ADMINS: 'cli:admin' });
  const code = await runCli([...argv, '--json'], {
    config,
    createApp: (c) => createApp(c, { log: createLogger('silent') }),
    out: (s) => (out += s),
    err: (s) => (out += s),
  });
  return { code, json: JSON.parse(out) };
}

const rowOf = (h: Harness, id: number): Row => h.rows().find((r) => r.id === id)!;
const failures = async (h: Harness, inc: string) =>
  ((await h.run(`timeline ${inc}`)).data.events as Array<{ kind: string; text: string }>).filter((e) => e.kind === 'delivery_failed');

/** Waits until attempt `n` of row `id` has been answered and recorded. */
async function attempted(h: Harness, id: number, n: number): Promise<Row> {
  await waitUntil(
    () => {
      const r = rowOf(h, id);
      return r.attempts === n && r.state !== 'in_flight';
    },
    10_000,
    `attempt ${n} of #${id} recorded`,
  );
  return rowOf(h, id);
}

describe('webhook retries on the Standard Webhooks schedule', () => {
  it('tries at once, then waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h, each within ±10%, always with the same webhook-id; gives up after the tenth attempt', async () => {
    const { rx, h, clock } = await setup();
    await h.run('draft INC-1 "Investigating"');
    const id = h.rows()[0]!.id;
    const enqueuedAt = clock.now();
    const waits: number[] = [];
    for (let n = 1; n <= 10; n++) {
      const r = await attempted(h, id, n);
      if (n === 10) break;
      expect(r.state).toBe('pending');
      expect(r.lastError).toBe('HTTP 500');
      waits.push(r.nextAttemptAt - clock.now());
      clock.advance(r.nextAttemptAt - clock.now());
    }
    // The first attempt went out before the clock moved at all: immediately.
    expect(Number(rx.requests[0]!.timestamp)).toBe(Math.floor(enqueuedAt / 1000));
    expect(waits).toHaveLength(9);
    waits.forEach((w, i) => {
      const step = WEBHOOK_RETRY_SCHEDULE_MS[i]!;
      expect(w, `wait ${i + 1}`).toBeGreaterThanOrEqual(Math.round(step * 0.9));
      expect(w, `wait ${i + 1}`).toBeLessThanOrEqual(Math.round(step * 1.1));
    });
    expect(waits.map((w, i) => [5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H][i]! - w).some((d) => d !== 0)).toBe(true); // jittered

    const dead = await waitUntil(() => rowOf(h, id).state === 'dead', 5_000, 'dead-lettered').then(() => rowOf(h, id));
    expect(dead.attempts).toBe(10);
    expect(dead.lastError).toBe('failed through the whole retry schedule (10 attempts; last error: HTTP 500)');
    expect(rx.requests).toHaveLength(10);
    expect(new Set(rx.requests.map((q) => q.id))).toEqual(new Set([dead.deliveryId]));
    clock.advance(48 * H);
    await new Promise((r) => setTimeout(r, 150));
    expect(rx.requests).toHaveLength(10); // given up means no eleventh attempt
  });

  it('honours Retry-After: a 429 asking for 10 min waits 10 min instead of the 5 min step; one asking for less than the step waits the step', async () => {
    const { rx, h, clock } = await setup();
    rx.script({ status: 500 }, { status: 429, headers: { 'retry-after': '600' } }, { status: 503, headers: { 'retry-after': '1' } });
    rx.setDefault({ status: 200 });
    await h.run('draft INC-1 "Investigating"');
    const id = h.rows()[0]!.id;
    const waits: number[] = [];
    for (let n = 1; n <= 3; n++) {
      const r = await attempted(h, id, n);
      waits.push(r.nextAttemptAt - clock.now());
      clock.advance(r.nextAttemptAt - clock.now());
    }
    await waitUntil(() => rowOf(h, id).state === 'delivered', 5_000, 'delivered');
    expect(waits[0]).toBeGreaterThanOrEqual(4.5 * S);
    expect(waits[0]).toBeLessThanOrEqual(5.5 * S);
    expect(waits[1]).toBe(10 * M);
    expect(waits[2]).toBeGreaterThanOrEqual(27 * M);
    expect(waits[2]).toBeLessThanOrEqual(33 * M);
    expect(rx.accepted()).toHaveLength(1);
    expect(rx.accepted()[0]!.id).toBe(rx.requests[0]!.id);
  });

  it('an endpoint failing through the whole schedule is disabled: `subscriptions` says so, each incident is told once, nothing more is enqueued for it, and `deliveries retry` sends the dead letters and enables it again', async () => {
    // Jitter pinned to the middle, so which row runs out first is known: the older one.
    const { rx, h, clock } = await setup({}, frozenClock(), { random: () => 0.5 });
    const ok = await startWebhookReceiver();
    closers.push(() => ok.close());
    await h.run(`subscribe webhook:${ok.url}`); // S-2: a healthy subscriber, unaffected throughout
    await h.run('draft INC-1 "Investigating"');
    const first = h.rows().find((r) => r.target === 'webhook:S-1')!;
    // Halfway through the first row's schedule a second incident gets an update to the same endpoint.
    for (let n = 1; n <= 5; n++) {
      const r = await attempted(h, first.id, n);
      if (n < 5) clock.advance(r.nextAttemptAt - clock.now());
    }
    await h.run('declare "Texts delayed" components:web-app=degraded');
    await h.run('draft INC-2 "SMS is slow"');
    const second = h.rows().find((r) => r.target === 'webhook:S-1' && r.incidentId === 2)!;
    await attempted(h, second.id, 1);
    await skipUntil(h, clock, () => rowOf(h, first.id).state === 'dead');
    await waitUntil(() => rowOf(h, second.id).state === 'dead', 5_000, 'the second row swept');

    expect(rowOf(h, first.id)).toMatchObject({ attempts: 10, lastError: 'failed through the whole retry schedule (10 attempts; last error: HTTP 500)' });
    expect(rowOf(h, second.id).lastError).toBe('not sent: S-1 was disabled (it failed through the whole retry schedule)');
    const requestsWhenDisabled = rx.requests.length;

    // `subscriptions` (from the CLI) shows it disabled, why and when.
    const subs = (await cli(h, 'subscriptions')).json.subscriptions as any[];
    expect(subs.map((s) => [s.id, s.disabled])).toEqual([
      ['S-1', true],
      ['S-2', false],
    ]);
    expect(subs[0]).toMatchObject({ disabled_cause: 'exhausted', disabled_reason: 'it failed through the whole retry schedule' });
    expect(Math.abs(Date.parse(subs[0].disabled_at) - clock.now())).toBeLessThan(1_000);
    expect((await h.run('subscriptions')).text).toMatch(
      /S-1 {2}webhook:http:\/\/127\.0\.0\.1:\d+\/hooks\/sitrep .* DISABLED \S+: it failed through the whole retry schedule/,
    );

    // Told once per incident, in one event that names every kept delivery.
    const inc1 = await failures(h, 'INC-1');
    expect(inc1).toHaveLength(1);
    expect(inc1[0]!.text).toContain('did not reach webhook:S-1: failed through the whole retry schedule');
    expect(inc1[0]!.text).toContain('S-1 is now disabled');
    expect(inc1[0]!.text).toContain(`#${first.id}`);
    const inc2 = await failures(h, 'INC-2');
    expect(inc2).toHaveLength(1);
    expect(inc2[0]!.text).toMatch(/S-1 \(webhook:S-1\) is now disabled/);
    expect(inc2[0]!.text).toContain(`#${second.id}`);

    // Nothing more is enqueued for S-1; S-2 still hears every update.
    const before = h.rows().length;
    await h.run('draft INC-1 "Fix deployed"');
    const added = h.rows().slice(before);
    expect(added.map((r) => r.target)).toEqual(['webhook:S-2']);
    await ok.waitFor((r) => r.accepted().length === 3);
    clock.advance(48 * H);
    await new Promise((r) => setTimeout(r, 150));
    expect(rx.requests).toHaveLength(requestsWhenDisabled);

    // The endpoint is back: the operator retries a dead letter, which enables S-1 again.
    rx.setDefault({ status: 200 });
    const retried = await cli(h, 'deliveries', 'retry', String(first.id));
    expect(retried.code).toBe(0);
    expect(retried.json).toMatchObject({ id: first.id, state: 'pending', subscription: 'S-1', reenabled: true });
    await rx.waitFor((r) => r.accepted().length === 1);
    await waitUntil(() => rowOf(h, first.id).state === 'delivered', 5_000, 'retried delivery recorded');
    expect(rx.accepted()[0]!.id).toBe(first.deliveryId);
    expect((await cli(h, 'subscriptions')).json.subscriptions[0]).toMatchObject({ id: 'S-1', disabled: false, disabled_at: null });
    expect((await cli(h, 'deliveries', 'retry', String(second.id))).code).toBe(0);
    await waitUntil(() => rowOf(h, second.id).state === 'delivered', 5_000, 'second dead letter delivered');
    // …and later updates reach it again.
    await h.run('draft INC-1 "Monitoring"');
    await rx.waitFor((r) => r.accepted().some((q) => q.json.incident.incident_updates[0].body === 'Monitoring'));
    expect(await failures(h, 'INC-1')).toHaveLength(1);
  }, 30_000);
});

describe('deadlines', () => {
  it('chat customer channels are dead-lettered at SITREP_DELIVERY_DEADLINE_MINUTES; a webhook row to a failing endpoint is not, and keeps to its schedule', async () => {
    const slack: FakeSlackApi = await startFakeSlackApi({ token: 'xoxb-schedule-token' });
    closers.push(() => slack.close());
    slack.failNext('chat.postMessage', { status: 500 }, 10_000);
    const { rx, h, clock } = await setup({
      SITREP_DELIVERY_DEADLINE_MINUTES: '1',
      SLACK_SIGNING_SECRET: 'schedule-signing-secret-0123456789',
      SLACK_BOT_TOKEN: 'xoxb-schedule-token',
      SLACK_API_URL: slack.apiUrl,
      SLACK_INCIDENTS_CHANNEL: 'C0INCIDENTS',
    });
    await h.run('subscribe slack:C0CUSTOMERS');
    await h.run('draft INC-1 "Customers cannot log in"');
    const chat = h.rows().find((r) => r.target === 'slack:C0CUSTOMERS' && r.customerFacing)!;
    const hook = h.rows().find((r) => r.target === 'webhook:S-1')!;
    expect(chat.deadlineAt).toBe(chat.approvedAt! + 60_000);
    await attempted(h, hook.id, 1);
    await waitUntil(() => slack.calls.some((c) => c.method === 'chat.postMessage' && c.params.channel === 'C0CUSTOMERS'), 5_000, 'the customer channel tried');

    clock.advance(61 * S);
    await waitUntil(() => rowOf(h, chat.id).state === 'dead', 5_000, 'chat row dead at its deadline');
    expect(rowOf(h, chat.id).lastError).toMatch(/^not delivered within 1 min/);
    expect((await failures(h, 'INC-1')).map((e) => e.text)).toEqual([expect.stringContaining('did not reach slack:C0CUSTOMERS: not delivered within 1 min')]);

    // The webhook row is still being retried on its schedule, hours past the chat deadline.
    await attempted(h, hook.id, 2); // its 5 s step passed with the minute
    for (let n = 3; n <= 4; n++) {
      clock.advance(Math.max(0, rowOf(h, hook.id).nextAttemptAt - clock.now()));
      await attempted(h, hook.id, n);
    }
    clock.advance(2 * H);
    const r = rowOf(h, hook.id);
    expect(r.state === 'pending' || r.state === 'in_flight').toBe(true);
    expect(r.attempts).toBeGreaterThanOrEqual(4);
    expect(r.lastError).toBe('HTTP 500');
    expect(await failures(h, 'INC-1')).toHaveLength(1);
    expect((await h.run('subscriptions')).data.subscriptions.map((s: any) => s.disabled)).toEqual([false, false]);
    expect(rx.requests.length).toBeGreaterThanOrEqual(4);
  }, 30_000);
});
