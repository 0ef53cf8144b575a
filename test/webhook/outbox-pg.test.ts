import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { PgOutboxWorker } from '../../src/mirror/worker.pg.js';
import { WEBHOOK_RETRY_SCHEDULE_MS } from '../../src/mirror/policy.js';
import { verifyWebhook } from '../../src/mirror/signing.js';
import { startWebhookReceiver, type WebhookReceiver } from '../fakes/webhook-receiver.js';
import { FAST } from '../mirror/helpers.js';
import { engines } from '../support/engines.js';
import { frozenClock, type Clock } from './schedule-clock.js';

// The outbox on PostgreSQL (src/mirror/worker.pg.ts): webhook deliveries through the real server
// and a receiver on 127.0.0.1, with one replica and with two on one database (two apps on the same
// PostgreSQL database, each with its own pool, worker and server, as two processes would be).

const postgres = engines.find((e) => e.name === 'PostgreSQL')!;
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

interface Replica {
  app: App;
  worker: PgOutboxWorker;
  server: RunningServer;
  run(text: string): Promise<any>;
}

async function replica(clock: Clock, file: string, tune: ConstructorParameters<typeof PgOutboxWorker>[1] = {}): Promise<Replica> {
  const app = await postgres.app({ SITREP_DB: file, SITREP_APPROVAL: 'off', SITREP_ADMINS: 'cli:admin', USER: 'admin' }, clock.now);
  const worker = app.background.find((b): b is PgOutboxWorker => b instanceof PgOutboxWorker);
  if (!worker) throw new Error('no PostgreSQL outbox worker in app.background');
  worker.tune({ ...FAST, random: () => 0.5, ...tune });
  const server = await startServer(app, 0, '127.0.0.1');
  closers.push(() => server.close());
  return {
    app,
    worker,
    server,
    async run(text) {
      const r = await app.run(text, 'cli:admin', { platform: 'cli' });
      if (!r.ok) throw new Error(`${text} → ${r.error.code}: ${r.error.message}`);
      return r.reply;
    },
  };
}

interface Row {
  id: number;
  state: string;
  attempts: number;
  deliveryId: string;
  nextAttemptAt: number;
  target: string;
  incidentId: number | null;
  foldedInto: number | null;
}
const rows = (r: Replica): Promise<Row[]> =>
  postgres.rows(
    r.app,
    `select id, state, attempts, delivery_id as "deliveryId", next_attempt_at as "nextAttemptAt", target, incident_id as "incidentId", folded_into as "foldedInto"
     from outbox where target like 'webhook:%' order by id`,
  );

async function until(what: string, pred: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let files = 0;
const fileName = () => `pg-outbox-${process.pid}-${++files}.db`;

async function receiver(answer?: Parameters<typeof startWebhookReceiver>[0]): Promise<WebhookReceiver> {
  const rx = await startWebhookReceiver(answer);
  closers.push(() => rx.close());
  return rx;
}

describe.skipIf(postgres.skip)('the outbox on PostgreSQL', () => {
  it('delivers signed webhooks in lane order, retries on the Standard Webhooks schedule (injected clock), folds what waited, and re-sends with the same webhook-id', async () => {
    const clock = frozenClock();
    const rx = await receiver({ status: 500 });
    const a = await replica(clock, fileName());
    await a.run('component add Web App');
    const sub = (await a.run(`subscribe webhook:${rx.url}`)).data as { id: string; secret: string };
    await a.run('declare "Database down" components:web-app=major');
    await a.run('draft INC-1 "We are looking into it"');
    await until('first attempt', () => rx.requests.length === 1);
    await until('its retry recorded', async () => (await rows(a)).some((r) => r.state === 'pending' && r.attempts === 1));
    const first = (await rows(a)).find((r) => r.attempts === 1)!;
    // Attempt 2 is due 5 s later (the schedule's first step; random 0.5 means no jitter).
    expect(first.nextAttemptAt - clock.now()).toBe(WEBHOOK_RETRY_SCHEDULE_MS[0]);

    // Two more updates wait behind it in its lane; then the endpoint recovers.
    await a.run('draft INC-1 "Investigating"');
    await a.run('draft INC-1 "Fix deployed"');
    rx.setDefault({ status: 200 });
    clock.advance(WEBHOOK_RETRY_SCHEDULE_MS[0]!);
    await until('the folded delivery', () => rx.accepted().length === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.requests).toHaveLength(2);
    const sent = rx.requests[1]!;
    // The newest of the three went, folding in the two before it, under its own id.
    expect(sent.json.sitrep).toMatchObject({ folded: 2, fold_notice: 'This message folds in 2 earlier updates.' });
    expect(verifyWebhook(sub.secret, { id: sent.id, timestamp: sent.timestamp, signature: sent.signature }, sent.body)).toBe(true);
    await until('the folded delivery recorded', async () => (await rows(a)).at(-1)?.state !== 'in_flight');
    const after = await rows(a);
    const newest = after.at(-1)!;
    expect(newest).toMatchObject({ state: 'delivered', deliveryId: sent.id });
    expect(after.slice(0, -1).map((r) => [r.state, r.foldedInto])).toEqual([
      ['folded', newest.id],
      ['folded', newest.id],
    ]);
    expect(rx.requests[0]!.id).toBe(first.deliveryId);
  });

  it('410 Gone dead-letters through the store, disables the subscription and tells the incident', async () => {
    const clock = frozenClock();
    const rx = await receiver({ status: 410 });
    const a = await replica(clock, fileName());
    await a.run(`subscribe webhook:${rx.url}`);
    await a.run('declare "Database down"');
    await a.run('draft INC-1 "We are looking into it"');
    await until('dead letter', async () => (await rows(a)).some((r) => r.state === 'dead'));
    const subs = (await a.run('subscriptions')).data.subscriptions as Array<{ disabled?: unknown; disabledAt?: unknown; state?: string }>;
    expect(JSON.stringify(subs[0])).toMatch(/410 Gone/);
    const events = (await a.run('timeline INC-1')).data.events as Array<{ kind: string; text: string }>;
    expect(events.filter((e) => e.kind === 'delivery_failed').map((e) => e.text)).toEqual([
      expect.stringMatching(/S-1 is now disabled \(the endpoint answered 410 Gone\)/),
    ]);
    await a.run('draft INC-1 "Still down"');
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.requests).toHaveLength(1);
  });

  it('a row whose replica stopped answering mid-send is re-claimed after its lease and re-sent with the same webhook-id', async () => {
    const clock = frozenClock();
    const rx = await receiver({ status: 200 });
    rx.script('hang');
    const file = fileName();
    // Replica A's attempt hangs (its own timeout far away); B is a second replica on the database.
    const a = await replica(clock, file, { attemptTimeoutMs: 60_000, leaseMs: 10_000 });
    await a.run(`subscribe webhook:${rx.url}`);
    await a.run('declare "Database down"');
    await a.run('draft INC-1 "We are looking into it"');
    await until('the hanging attempt', () => rx.open() === 1);
    await a.worker.stop().catch(() => undefined); // aborting records a retry only if the lease is still its own
    const [row] = await rows(a);
    expect(row).toMatchObject({ state: 'pending', attempts: 1 });
    // The stop above was graceful; a killed replica leaves the row in flight: put it back so. Only
    // then does B start (the first retry is immediate: a B already running would take it at once).
    await postgres.rows(a.app, `update outbox set state = 'in_flight', claimed_until = ? where id = ?`, clock.now() + 10_000, row!.id);
    const b = await replica(clock, file, { attemptTimeoutMs: 60_000, leaseMs: 10_000 });
    expect(await new Promise((r) => setTimeout(() => r(rx.requests.length), 300))).toBe(1);
    clock.advance(10_001);
    await until('the re-sent delivery', () => rx.accepted().length === 1);
    expect(rx.requests.map((q) => q.id)).toEqual([row!.deliveryId, row!.deliveryId]);
    // The receiver answers before B records the outcome (outcomes are written in batches).
    await until('the re-sent delivery recorded', async () => (await rows(b))[0]?.state !== 'in_flight');
    expect((await rows(b))[0]).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('two replicas on one database never send a lane out of order nor a row twice', async () => {
    const clock = { now: () => Date.now(), advance: () => undefined };
    const rx = await receiver({ status: 200, delayMs: 5 });
    const file = fileName();
    const a = await replica(clock, file);
    const b = await replica(clock, file);
    const subscribers = 12;
    for (let i = 0; i < subscribers; i++) await a.run(`subscribe webhook:${rx.url}/s${i}`);
    await a.run('declare "Database down"');
    await b.run('declare "Texts delayed"');
    for (let i = 0; i < 6; i++) await (i % 2 ? a : b).run(`draft INC-${(i % 2) + 1} "Update ${i}"`);
    await until('every lane finished', async () => (await rows(a)).every((r) => r.state === 'delivered' || r.state === 'folded'), 20_000);
    const all = await rows(a);
    const delivered = all.filter((r) => r.state === 'delivered');
    const accepted = rx.accepted();
    // Each delivered row went exactly once.
    expect(accepted.map((q) => q.id).sort()).toEqual(delivered.map((r) => r.deliveryId).sort());
    const idOf = new Map(all.map((r) => [r.deliveryId, r.id]));
    for (let i = 0; i < subscribers; i++) {
      for (const inc of ['INC-1', 'INC-2']) {
        const seen = accepted.filter((q) => q.path.endsWith(`/s${i}`) && q.json.sitrep.incident_id === inc).map((q) => idOf.get(q.id)!);
        expect(seen.length).toBeGreaterThan(0);
        expect(seen).toEqual([...seen].sort((x, y) => x - y));
      }
    }
  });
});
