import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../db/client.js';
import { incidentThreads, incidents, settings } from '../../db/schema.js';
import { createTeamsCustomerTarget } from '../../adapters/teams/customer.js';
import { createTeamsTarget, noToken, type TokenSource } from '../../adapters/teams/target.js';
import type { OutboxMessage } from '../../src/mirror/target.js';
import { startFakeConnector, type FakeConnector } from '../fakes/teams-connector.js';
import { describeTargetContract, type ContractUpstream } from '../mirror/target-contract.js';

// The shared Target contract, run against both Teams targets over real HTTP to the fake Bot
// Connector, plus what is Teams-specific: tokens, and how HTTP answers map to results.

const CHANNEL = '19:incidents@thread.tacv2';
const CUSTOMERS = '19:customers@thread.tacv2';
const ROOT = '1700000000001';

function upstream(fake: FakeConnector): ContractUpstream {
  return {
    ok: () => undefined,
    fail: () => fake.failNext({ status: 503 }),
    rateLimit: (s) => fake.failNext({ status: 429, retryAfter: s }),
    hang: () => fake.failNext({ hang: true }),
  };
}

function seed(db: Db, fake: FakeConnector): void {
  const now = Date.now();
  db.insert(incidents)
    .values({
      id: 1,
      title: 'Contract',
      status: 'investigating',
      severity: 3,
      createdBy: 'cli:t',
      startedAt: now,
      declaredAt: now,
      recordedAt: now,
      updatedAt: now,
    })
    .run();
  db.insert(incidentThreads).values({ incidentId: 1, platform: 'teams', channel: CHANNEL, rootRef: ROOT, dedicated: false, createdAt: now }).run();
  for (const c of [CHANNEL, CUSTOMERS]) {
    db.insert(settings)
      .values({ key: `teams:ref:${c}`, value: JSON.stringify({ serviceUrl: fake.serviceUrl, conversationId: c }), updatedBy: 't', updatedAt: now })
      .run();
  }
}

let n = 0;
const threadMessage = (over: Partial<OutboxMessage> = {}): OutboxMessage => ({
  id: ++n,
  deliveryId: `msg_contract_${n}`,
  incidentId: 1,
  target: `teams:thread:${CHANNEL}`,
  kind: 'thread_reply',
  payload: { card: { type: 'AdaptiveCard', version: '1.4', body: [{ type: 'TextBlock', text: 'a note' }] }, summary: 'a note' },
  attempts: 1,
  createdAt: Date.now(),
  approvedAt: null,
  folded: 0,
  ...over,
});

const customerMessage = (over: Partial<OutboxMessage> = {}): OutboxMessage => ({
  ...threadMessage(),
  target: `teams:${CUSTOMERS}`,
  kind: 'teams.customer_update',
  payload: {
    incident: 'INC-1',
    title: 'Checkout errors',
    status: 'investigating',
    body: 'We are investigating.',
    at: Date.now(),
    url: 'http://127.0.0.1/incidents/INC-1',
    components: [{ name: 'Web App', status: 'major_outage' }],
    zone: 'UTC',
  },
  approvedAt: Date.now(),
  ...over,
});

describeTargetContract('teams thread', async () => {
  const fake = await startFakeConnector();
  const db = openDatabase(':memory:');
  seed(db, fake);
  return {
    target: createTeamsTarget({ db, token: noToken, timezone: 'UTC', now: () => Date.now() }),
    handled: `teams:thread:${CHANNEL}`,
    unhandled: `teams:${CUSTOMERS}`,
    message: threadMessage,
    upstream: upstream(fake),
    async close() {
      await fake.close();
      db.$client.close();
    },
  };
});

describeTargetContract('teams customer channel', async () => {
  const fake = await startFakeConnector();
  const db = openDatabase(':memory:');
  seed(db, fake);
  return {
    target: createTeamsCustomerTarget({ db, token: noToken }),
    handled: `teams:${CUSTOMERS}`,
    unhandled: `teams:thread:${CHANNEL}`,
    message: customerMessage,
    upstream: upstream(fake),
    async close() {
      await fake.close();
      db.$client.close();
    },
  };
});

describe('Teams target specifics', () => {
  let fake: FakeConnector;
  let db: Db;
  beforeEach(async () => {
    fake = await startFakeConnector();
    db = openDatabase(':memory:');
    seed(db, fake);
  });
  afterEach(async () => {
    await fake.close();
    db.$client.close();
  });
  const never = () => new AbortController().signal;

  it('auth off: no Authorization header, and the token source is never asked', async () => {
    let asked = 0;
    const token: TokenSource = async () => {
      asked++;
      return '';
    };
    const t = createTeamsTarget({ db, token, timezone: 'UTC', now: () => Date.now() });
    expect((await t.deliver(threadMessage(), never())).kind).toBe('delivered');
    expect(fake.calls[0]!.authorization).toBeUndefined();
    expect(asked).toBeLessThanOrEqual(1); // asked, and it said "no token"
  });

  it('auth on: requests carry Authorization: Bearer <the SDK token>', async () => {
    const t = createTeamsTarget({ db, token: async () => 'token-from-msal', timezone: 'UTC', now: () => Date.now() });
    await t.deliver(threadMessage(), never());
    const c = createTeamsCustomerTarget({ db, token: async () => 'token-from-msal' });
    await c.deliver(customerMessage(), never());
    expect(fake.calls.length).toBeGreaterThanOrEqual(2);
    for (const call of fake.calls) expect(call.authorization).toBe('Bearer token-from-msal');
  });

  it('a customer update shows the delay and fold notices the worker hands it', async () => {
    const c = createTeamsCustomerTarget({ db, token: noToken });
    const r = await c.deliver(
      customerMessage({ folded: 2, foldNotice: 'This message folds in 2 earlier updates.', delayNotice: 'Delayed: originally posted 08:54 PST' }),
      never(),
    );
    expect(r.kind).toBe('delivered');
    const reply = fake.messages.find((m) => m.conversationId.includes(';messageid='))!;
    const text = JSON.stringify(reply.body.attachments);
    expect(text).toContain('Delayed: originally posted 08:54 PST');
    expect(text).toContain('This message folds in 2 earlier updates.');
    expect(reply.body.summary).toContain('Delayed');
  });

  it("breaker keys name the Bot Connector host: the reply's serviceUrl, else the conversation's remembered one", async () => {
    const t = createTeamsTarget({ db, token: noToken, timezone: 'UTC', now: () => Date.now() });
    const c = createTeamsCustomerTarget({ db, token: noToken });
    const reply = {
      target: `teams:thread:${CHANNEL}`,
      kind: 'reply',
      incidentId: null,
      payload: { conversationId: CHANNEL, serviceUrl: 'https://smba.trafficmanager.net/emea/', text: 'hi' },
    };
    expect(t.breakerKey!(reply.target, reply)).toBe('teams:smba.trafficmanager.net');
    expect(t.breakerKey!(`teams:thread:${CHANNEL}`, threadMessage())).toBe('teams:127.0.0.1'); // the channel's reference (the fake)
    expect(c.breakerKey!(`teams:${CUSTOMERS}`, customerMessage())).toBe('teams:127.0.0.1');
    expect(t.breakerKey!('teams:thread:19:never-heard-from@thread.tacv2')).toBe('teams');
  });

  it('a thread reply goes to <channel>;messageid=<root>, validated against the Connector spec', async () => {
    const t = createTeamsTarget({ db, token: noToken, timezone: 'UTC', now: () => Date.now() });
    await t.deliver(threadMessage(), never());
    expect(fake.calls[0]).toMatchObject({ method: 'POST', conversationId: `${CHANNEL};messageid=${ROOT}`, status: 201 });
  });

  it('the fake refuses bodies the Connector spec does not allow', async () => {
    const { validate } = await import('../fakes/teams-connector.js');
    expect(validate({ type: 'message', text: 'hi', attachments: [{ contentType: 'x', content: {} }] }, { $ref: '#/definitions/Activity' })).toBeNull();
    expect(validate({ type: 'message', bogus: 1 }, { $ref: '#/definitions/Activity' })).toMatch(/bogus/);
    expect(validate({ type: 'message', textFormat: 'html' }, { $ref: '#/definitions/Activity' })).toMatch(/textFormat/);
    expect(validate({ type: 'message', attachments: [{ contentType: 1 }] }, { $ref: '#/definitions/Activity' })).toMatch(/contentType/);
  });

  it('maps 429 (Retry-After) and 5xx to retry, other 4xx to failed', async () => {
    const t = createTeamsTarget({ db, token: noToken, timezone: 'UTC', now: () => Date.now() });
    fake.failNext({ status: 429, retryAfter: 3 });
    expect(await t.deliver(threadMessage(), never())).toMatchObject({ kind: 'retry', retryAfterMs: 3000 });
    fake.failNext({ status: 500 });
    const failing = await t.deliver(threadMessage(), never());
    expect(failing).toMatchObject({ kind: 'retry' });
    // No Retry-After: the upstream is failing (backoff, breaker), not asking us to come back at once.
    expect(failing).not.toHaveProperty('retryAfterMs');
    fake.failNext({ status: 403 });
    expect(await t.deliver(threadMessage(), never())).toMatchObject({ kind: 'failed', error: expect.stringContaining('403') });
    fake.failNext({ status: 404 });
    expect(await t.deliver(threadMessage(), never())).toMatchObject({ kind: 'failed' });
  });

  it('a root edit before the root post exists waits (retry) while the post is pending, else fails', async () => {
    db.update(incidentThreads).set({ rootRef: null }).run();
    const t = createTeamsTarget({ db, token: noToken, timezone: 'UTC', now: () => Date.now() });
    expect(await t.deliver(threadMessage({ kind: 'root_update', payload: {} }), never())).toMatchObject({ kind: 'failed' });
  });
});
