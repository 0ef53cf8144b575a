import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../db/client.js';
import { incidentThreads, incidents, settings } from '../../db/schema.js';
import { createTeamsCustomerTarget } from '../../adapters/teams/customer.js';
import { createTeamsTarget, noToken, retryAfterMs } from '../../adapters/teams/target.js';
import { DEFAULT_BACKOFF, nextDelay } from '../../src/mirror/policy.js';
import type { DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';
import { OutboxWorker } from '../../src/mirror/worker.js';
import { startFakeConnector, type ConnectorFailure, type FakeConnector } from '../fakes/teams-connector.js';
import { startHarness, type Harness } from './harness.js';

// Teams throttles bots (about 7 sends a second per thread, 30 a second per tenant) and its Bot
// Connector answers 429 with Retry-After when it does, and 412, 502 or 504 when it briefly cannot
// take a send; Microsoft asks bots to retry those with exponential backoff and jitter. Here the fake
// Connector is scripted to answer each of them: the target says "retry" (passing on Retry-After,
// in seconds or as a date, and nothing else), and the real worker backs off, never retrying a
// failure at once, and delivers exactly once.

const CHANNEL = '19:incidents@thread.tacv2';
const CUSTOMERS = '19:customers@thread.tacv2';

function seed(db: Db, fake: FakeConnector): void {
  const now = Date.now();
  db.insert(incidents)
    .values({
      id: 1,
      title: 'Throttled',
      status: 'investigating',
      severity: 3,
      createdBy: 'cli:t',
      startedAt: now,
      declaredAt: now,
      recordedAt: now,
      updatedAt: now,
    })
    .run();
  db.insert(incidentThreads).values({ incidentId: 1, platform: 'teams', channel: CHANNEL, rootRef: '1700000000001', dedicated: false, createdAt: now }).run();
  for (const c of [CHANNEL, CUSTOMERS]) {
    db.insert(settings)
      .values({ key: `teams:ref:${c}`, value: JSON.stringify({ serviceUrl: fake.serviceUrl, conversationId: c }), updatedBy: 't', updatedAt: now })
      .run();
  }
}

const threadReply: OutboxMessage = {
  id: 1,
  deliveryId: 'msg_throttle_1',
  incidentId: 1,
  target: `teams:thread:${CHANNEL}`,
  kind: 'thread_reply',
  payload: { card: { type: 'AdaptiveCard', version: '1.4', body: [{ type: 'TextBlock', text: 'a note' }] }, summary: 'a note' },
  attempts: 1,
  createdAt: Date.now(),
  approvedAt: null,
  folded: 0,
};

const customerUpdate: OutboxMessage = {
  ...threadReply,
  target: `teams:${CUSTOMERS}`,
  kind: 'teams.customer_update',
  payload: {
    incident: 'INC-1',
    title: 'Throttled',
    status: 'investigating',
    body: 'Looking into it.',
    at: Date.now(),
    url: 'http://127.0.0.1/incidents/INC-1',
    components: [],
    zone: 'UTC',
  },
  approvedAt: Date.now(),
  previousRemoteRef: null,
};

describe('Bot Connector throttling answers, per target', () => {
  let fake: FakeConnector;
  let db: Db;
  let targets: Array<[string, Target, OutboxMessage]>;
  beforeEach(async () => {
    fake = await startFakeConnector();
    db = openDatabase(':memory:');
    seed(db, fake);
    targets = [
      ['thread', createTeamsTarget({ db, token: noToken, timezone: 'UTC', now: () => Date.now() }), threadReply],
      ['customer channel', createTeamsCustomerTarget({ db, token: noToken }), customerUpdate],
    ];
  });
  afterEach(async () => {
    await fake.close();
    db.$client.close();
  });
  const never = () => new AbortController().signal;

  const inFive = () => new Date(Date.now() + 5_000).toUTCString();
  const cases: Array<[string, () => ConnectorFailure, (r: DeliveryResult) => void]> = [
    ['412 Precondition Failed', () => ({ status: 412 }), (r) => expect(r).toEqual({ kind: 'retry', error: 'HTTP 412' })],
    ['502 Bad Gateway', () => ({ status: 502 }), (r) => expect(r).toEqual({ kind: 'retry', error: 'HTTP 502' })],
    ['504 Gateway Timeout', () => ({ status: 504 }), (r) => expect(r).toEqual({ kind: 'retry', error: 'HTTP 504' })],
    ['429 with Retry-After: 3', () => ({ status: 429, retryAfter: 3 }), (r) => expect(r).toEqual({ kind: 'retry', error: 'HTTP 429', retryAfterMs: 3_000 })],
    [
      '429 with Retry-After: 1.5',
      () => ({ status: 429, retryAfter: '1.5' }),
      (r) => expect(r).toEqual({ kind: 'retry', error: 'HTTP 429', retryAfterMs: 1_500 }),
    ],
    [
      '429 with Retry-After as an HTTP date',
      () => ({ status: 429, retryAfter: inFive() }),
      (r) => {
        expect(r).toMatchObject({ kind: 'retry', error: 'HTTP 429' });
        // An HTTP date has whole seconds: 5 s from now is 4 to 5 s away by the time it is read.
        expect((r as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(3_000);
        expect((r as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(5_000);
      },
    ],
    ['502 with Retry-After: 2', () => ({ status: 502, retryAfter: 2 }), (r) => expect(r).toEqual({ kind: 'retry', error: 'HTTP 502', retryAfterMs: 2_000 })],
    ['400 Bad Request', () => ({ status: 400 }), (r) => expect(r).toMatchObject({ kind: 'failed', error: expect.stringContaining('400') })],
  ];

  for (const [name, failure, check] of cases) {
    it(`${name}, for a thread reply and a customer channel update`, async () => {
      for (const [, target, msg] of targets) {
        fake.failNext(failure());
        check(await target.deliver(msg, never()));
      }
    });
  }

  it('a Retry-After that is missing, empty or unreadable is not "retry in 0 s"', async () => {
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('')).toBeUndefined();
    expect(retryAfterMs('  ')).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs('0')).toBe(0);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:30 GMT'))).toBe(30_000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:29:00 GMT'))).toBe(0);
  });

  it('what the worker makes of these: a jittered, growing delay without Retry-After, never below it with one', async () => {
    // The worker's schedule for a retry result (the one OutboxWorker.record uses for Teams rows).
    const low = () => 0;
    const high = () => 0.999;
    for (let attempts = 1; attempts <= 4; attempts++) {
      const a = nextDelay(attempts, undefined, DEFAULT_BACKOFF, low);
      const b = nextDelay(attempts, undefined, DEFAULT_BACKOFF, high);
      expect(b).toBeGreaterThan(0);
      expect(a).not.toBe(b); // two rows failing together do not come back together
      if (attempts > 1) expect(a).toBeGreaterThan(nextDelay(attempts - 1, undefined, DEFAULT_BACKOFF, low));
    }
    expect(nextDelay(1, 3_000, DEFAULT_BACKOFF, high)).toBeGreaterThanOrEqual(3_000);
  });
});

describe('Teams throttling through the outbox worker', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('412, 502, 504, then 429: backed off each time, Retry-After honoured, delivered exactly once', { timeout: 30_000 }, async () => {
    h = await startHarness();
    const x = h;
    const worker = x.app.background.find((b): b is OutboxWorker => b instanceof OutboxWorker)!;
    const BASE = 100;
    // Halfway through the jitter range each time, so each delay's lower bound is known.
    worker.tune({ backoff: { baseMs: BASE, maxMs: 2_000, jitter: 0.5 }, random: () => 0.5 });
    x.fake.failNext({ status: 412 });
    x.fake.failNext({ status: 502 });
    x.fake.failNext({ status: 504 });
    x.fake.failNext({ status: 429, retryAfter: 1 });
    const chat = x.personal('help');
    chat.conversation.id = 'a:throttled-chat';
    expect((await x.send(chat)).status).toBe(200);

    await x.fake.waitFor((f) => f.messages.some((m) => m.conversationId === 'a:throttled-chat'), 20_000);
    await x.drain();
    const calls = x.fake.calls.filter((c) => c.conversationId === 'a:throttled-chat');
    expect(calls.map((c) => c.status)).toEqual([412, 502, 504, 429, 201]);
    expect(x.fake.messages.filter((m) => m.conversationId === 'a:throttled-chat')).toHaveLength(1);
    // Each retry came no sooner than the worker's backoff for that attempt (never "at once"), and
    // the one after the 429 no sooner than its Retry-After.
    const gap = (i: number) => calls[i]!.at - calls[i - 1]!.at;
    const backoff = (attempt: number) => BASE * 2 ** (attempt - 1) * (1 - 0.5 * 0.5);
    expect(gap(1)).toBeGreaterThanOrEqual(backoff(1) - 5);
    expect(gap(2)).toBeGreaterThanOrEqual(backoff(2) - 5);
    expect(gap(3)).toBeGreaterThanOrEqual(backoff(3) - 5);
    expect(gap(4)).toBeGreaterThanOrEqual(1_000 - 5);
  });
});
