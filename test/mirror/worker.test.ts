import { asc, eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../db/client.js';
import { SqliteStore } from '../../db/store.js';
import { outbox } from '../../db/schema.js';
import { createLogger } from '../../src/logger.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import type { DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';
import { OutboxWorker, type WorkerOptions } from '../../src/mirror/worker.js';
import { FAST, tempDb, waitUntil } from './helpers.js';

// The worker against in-process fake targets (the webhook tests cover real HTTP): lane order,
// independence of lanes, the breaker, folding as a per-target property, and claims that hold
// across two workers on one database file.

interface Call {
  msg: OutboxMessage;
  start: number;
  end?: number;
}

function fakeTarget(
  prefix: string,
  answer: (msg: OutboxMessage, n: number, signal: AbortSignal) => Promise<DeliveryResult> | DeliveryResult,
  extra: Partial<Target> = {},
) {
  const calls: Call[] = [];
  const target: Target = {
    handles: (t) => t.startsWith(prefix),
    async deliver(msg, signal) {
      const call: Call = { msg, start: Date.now() };
      calls.push(call);
      try {
        return await answer(msg, calls.length, signal);
      } finally {
        call.end = Date.now();
      }
    },
    ...extra,
  };
  return { target, calls };
}

const hang = (signal: AbortSignal) =>
  new Promise<DeliveryResult>((resolve) => signal.addEventListener('abort', () => resolve({ kind: 'retry', error: 'aborted' })));

const workers: OutboxWorker[] = [];
const stores = new Map<Db, SqliteStore>();
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  workers.length = 0;
  for (const s of stores.values()) await s.close();
  stores.clear();
});

function makeWorker(db: Db, targets: Target[], over: Partial<WorkerOptions> = {}) {
  const reports: string[] = [];
  const w = new OutboxWorker(
    {
      db,
      store: storeOf(db),
      log: createLogger('silent'),
      now: () => Date.now(),
      targets,
      onDeadLetter: async (_tx, row, reason) => void (row.customerFacing && row.incidentId !== null && reports.push(`${row.id}:${reason}`)),
    },
    { ...FAST, ...over },
  );
  workers.push(w);
  return { worker: w, reports };
}

/** A connection with its store (the worker writes dead letters through it); afterEach closes both. */
function open(file = ':memory:') {
  const db = openDatabase(file);
  stores.set(db, SqliteStore.over(db, file));
  return db;
}

const storeOf = (db: Db) => stores.get(db)!;

const put = (db: Db, target: string, n: number, customerFacing = true) =>
  storeOf(db).transaction(async (tx) => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(await enqueue(tx, Date.now(), { incidentId: null, target, kind: 'test', payload: { n: i + 1 }, customerFacing, approvedAt: Date.now() }));
    }
    return ids;
  });

const rowsOf = (db: Db) => db.select().from(outbox).orderBy(asc(outbox.id)).all();

describe('outbox worker', () => {
  it('a non-folding target (status page) gets every row, in order, each retried until delivered', async () => {
    const db = open();
    const seen = new Set<number>();
    const sp = fakeTarget(
      'statuspage',
      (msg) => {
        if (!seen.has(msg.id)) {
          seen.add(msg.id);
          return { kind: 'retry', error: 'HTTP 503' };
        }
        return { kind: 'delivered', remoteRef: `ref-${msg.payload.n}` };
      },
      { folds: false },
    );
    await put(db, 'statuspage', 5);
    const { worker } = makeWorker(db, [sp.target]);
    worker.start();
    await waitUntil(() => rowsOf(db).every((r) => r.state === 'delivered'), 10_000, 'all delivered');
    expect(sp.calls.map((c) => c.msg.payload.n)).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    expect(sp.calls.every((c) => c.msg.folded === 0)).toBe(true);
    // Each attempt knew the previous delivery's remote reference (for edits / threading).
    expect(sp.calls.filter((_, i) => i % 2 === 1).map((c) => c.msg.previousRemoteRef)).toEqual([null, 'ref-1', 'ref-2', 'ref-3', 'ref-4']);
    expect(rowsOf(db).map((r) => [r.attempts, r.remoteRef])).toEqual([1, 2, 3, 4, 5].map((n) => [2, `ref-${n}`]));
  });

  it('a folding target gets only the newest of the waiting customer messages, told how many it folds', async () => {
    const db = open();
    const ch = fakeTarget('chan:', () => ({ kind: 'delivered' }), { folds: true });
    await put(db, 'chan:a', 4);
    await put(db, 'chan:b', 1);
    const { worker } = makeWorker(db, [ch.target]);
    worker.start();
    await waitUntil(() => rowsOf(db).every((r) => r.state === 'delivered' || r.state === 'folded'), 5_000, 'settled');
    expect(ch.calls.map((c) => [c.msg.target, c.msg.payload.n, c.msg.folded]).sort()).toEqual([
      ['chan:a', 4, 3],
      ['chan:b', 1, 0],
    ]);
    expect(ch.calls.find((c) => c.msg.target === 'chan:a')!.msg.foldNotice).toBe('This message folds in 3 earlier updates.');
    expect(rowsOf(db).map((r) => r.state)).toEqual(['folded', 'folded', 'folded', 'delivered', 'delivered']);
  });

  it('lanes never block each other: a hanging upstream holds only its own lane', async () => {
    const db = open();
    const slow = fakeTarget('slow:', (_m, _n, signal) => hang(signal));
    const fast = fakeTarget('fast:', () => ({ kind: 'delivered' }));
    await put(db, 'slow:x', 2, false);
    await put(db, 'fast:y', 3, false);
    const { worker } = makeWorker(db, [slow.target, fast.target], { attemptTimeoutMs: 5_000 });
    worker.start();
    await waitUntil(() => fast.calls.length === 3, 3_000, 'fast lane drained');
    expect(slow.calls).toHaveLength(1);
    expect(
      rowsOf(db)
        .filter((r) => r.target === 'slow:x')
        .map((r) => r.state),
    ).toEqual(['in_flight', 'pending']);
  });

  it('a hanging upstream holds at most its share of delivery slots', async () => {
    const db = open();
    const slow = fakeTarget('slow:', (_m, _n, signal) => hang(signal), { breakerKey: () => 'slow' });
    const fast = fakeTarget('fast:', () => ({ kind: 'delivered' }));
    for (let i = 0; i < 6; i++) await put(db, `slow:${i}`, 1, false);
    await put(db, 'fast:y', 2, false);
    const { worker } = makeWorker(db, [slow.target, fast.target], { attemptTimeoutMs: 5_000, concurrency: 3, perUpstream: 2 });
    worker.start();
    await waitUntil(() => fast.calls.length === 2, 3_000, 'fast lane drained');
    await new Promise((r) => setTimeout(r, 100));
    expect(slow.calls).toHaveLength(2);
  });

  it('the circuit breaker stops hammering a failing upstream and probes it once after the cooldown', async () => {
    const db = open();
    let failures = 3;
    const up = fakeTarget('up:', () => (failures-- > 0 ? { kind: 'retry', error: 'HTTP 500' } : { kind: 'delivered' }), { breakerKey: () => 'up' });
    await put(db, 'up:a', 1);
    await put(db, 'up:b', 1);
    await put(db, 'up:c', 1);
    const { worker } = makeWorker(db, [up.target], {
      backoff: { baseMs: 10, maxMs: 10, jitter: 0 },
      breaker: { threshold: 3, cooldownMs: 400, maxCooldownMs: 800 },
      concurrency: 1,
    });
    worker.start();
    await waitUntil(() => rowsOf(db).every((r) => r.state === 'delivered'), 5_000, 'recovered');
    const [, , third, probe] = up.calls;
    // Three failures opened it; the next call waited out the cooldown although backoff was 10 ms.
    expect(probe!.start - third!.end!).toBeGreaterThanOrEqual(380);
    expect(up.calls).toHaveLength(6);
  });

  it('a row no target handles waits (not dropped), and a target that throws is retried', async () => {
    const db = open();
    let thrown = false;
    const boom = fakeTarget('boom:', () => {
      if (!thrown) {
        thrown = true;
        throw new Error('kaboom');
      }
      return { kind: 'delivered' };
    });
    await put(db, 'nobody:x', 1, false);
    await put(db, 'boom:y', 1, false);
    const { worker } = makeWorker(db, [boom.target]);
    worker.start();
    await waitUntil(() => rowsOf(db)[1]!.state === 'delivered', 5_000, 'boom delivered');
    const [nobody, b] = rowsOf(db);
    expect(nobody).toMatchObject({ state: 'pending', attempts: 0, lastError: expect.stringMatching(/nothing delivers to nobody:x/) });
    expect(b!.attempts).toBe(2);
    expect(boom.calls).toHaveLength(2);
  });

  it('a permanent failure dead-letters a customer-facing row and reports it; later rows of the lane go on', async () => {
    const db = open();
    const t = fakeTarget('x:', (msg) => (msg.payload.n === 1 ? { kind: 'failed', error: 'channel archived' } : { kind: 'delivered' }), { folds: false });
    await put(db, 'x:1', 2);
    const { worker } = makeWorker(db, [t.target]);
    worker.start();
    await waitUntil(() => rowsOf(db)[1]!.state === 'delivered', 5_000, 'second delivered');
    expect(rowsOf(db).map((r) => [r.state, r.lastError])).toEqual([
      ['dead', 'channel archived'],
      ['delivered', null],
    ]);
  });

  it('a row left in flight by a dead process is re-sent with the same delivery id after its lease', async () => {
    const db = open();
    const [id] = await put(db, 'w:1', 1);
    db.update(outbox)
      .set({ state: 'in_flight', attempts: 1, claimedUntil: Date.now() - 1 })
      .where(eq(outbox.id, id!))
      .run();
    const t = fakeTarget('w:', () => ({ kind: 'delivered' }));
    const { worker } = makeWorker(db, [t.target]);
    worker.start();
    await waitUntil(() => rowsOf(db)[0]!.state === 'delivered', 5_000, 'reclaimed');
    expect(t.calls.map((c) => c.msg.deliveryId)).toEqual([rowsOf(db)[0]!.deliveryId]);
    expect(rowsOf(db)[0]!.attempts).toBe(2);
  });

  it('two workers on one database file never send the same row twice and keep each lane in order', async () => {
    const file = tempDb();
    const a = open(file);
    const b = open(file);
    for (let lane = 0; lane < 10; lane++) await put(a, `t:${lane}`, 3, false);
    const sent: Array<{ deliveryId: string; target: string; n: unknown }> = [];
    const mk = () =>
      fakeTarget('t:', async (msg) => {
        sent.push({ deliveryId: msg.deliveryId, target: msg.target, n: msg.payload.n });
        await new Promise((r) => setTimeout(r, 5));
        return { kind: 'delivered' };
      });
    makeWorker(a, [mk().target]).worker.start();
    makeWorker(b, [mk().target]).worker.start();
    await waitUntil(() => rowsOf(a).every((r) => r.state === 'delivered'), 10_000, 'all delivered');
    expect(sent).toHaveLength(30);
    expect(new Set(sent.map((s) => s.deliveryId)).size).toBe(30);
    for (let lane = 0; lane < 10; lane++) expect(sent.filter((s) => s.target === `t:${lane}`).map((s) => s.n)).toEqual([1, 2, 3]);
  });

  it('finds every lane (per target and incident, the no-incident lane too) behind long delivered histories, each in order', async () => {
    const db = open();
    const at = Date.now();
    for (const id of [1, 2, 3]) {
      db.$client
        .prepare(
          "insert into incidents (id, title, status, severity, created_by, started_at, declared_at, recorded_at, updated_at) values (?, 'x', 'investigating', 3, 'cli:a', ?, ?, ?, ?)",
        )
        .run(id, at, at, at, at);
    }
    const lanes: Array<[string, number | null]> = [
      ['a:x', null],
      ['a:x', 1],
      ['a:x', 3],
      ['a:y', 2],
      ['b:z', null],
      ['b:z', 2],
      ['b:z', 3],
    ];
    // History first: delivered rows of the same lanes must not hide their later pending rows.
    await storeOf(db).transaction(async (tx) => {
      for (let i = 0; i < 200; i++) {
        const [target, incidentId] = lanes[i % lanes.length]!;
        await enqueue(tx, at, { incidentId, target, kind: 'old', payload: { n: 0 } });
      }
    });
    db.update(outbox).set({ state: 'delivered' }).run();
    await storeOf(db).transaction(async (tx) => {
      for (let n = 1; n <= 3; n++) for (const [target, incidentId] of lanes) await enqueue(tx, at, { incidentId, target, kind: 'test', payload: { n } });
    });
    const sent: Array<{ lane: string; n: unknown }> = [];
    const t = fakeTarget('', async (msg) => {
      sent.push({ lane: `${msg.target}/${msg.incidentId}`, n: msg.payload.n });
      await new Promise((r) => setTimeout(r, 2));
      return { kind: 'delivered' };
    });
    const { worker } = makeWorker(db, [t.target]);
    worker.start();
    await waitUntil(() => rowsOf(db).every((r) => r.state === 'delivered'), 10_000, 'all delivered');
    expect(sent).toHaveLength(lanes.length * 3);
    for (const [target, incidentId] of lanes) expect(sent.filter((s) => s.lane === `${target}/${incidentId}`).map((s) => s.n)).toEqual([1, 2, 3]);
  });
});
