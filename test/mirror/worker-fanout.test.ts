import { asc } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../db/client.js';
import { SqliteStore } from '../../db/store.js';
import { outbox } from '../../db/schema.js';
import { createLogger } from '../../src/logger.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import type { DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';
import { OutboxWorker, defaultWorkerOptions, type WorkerOptions } from '../../src/mirror/worker.js';
import { FAST, tempDb, waitUntil } from './helpers.js';

// The worker at fan-out width, against in-process fake targets on real SQLite files: with
// hundreds of deliveries in flight, every lane still goes strictly in order, every row is sent
// until delivered and never twice, folding still folds, an upstream never holds more than its
// share, and the rows claimed at once never exceed the slots (so bodies in memory stay bounded).

const workers: OutboxWorker[] = [];
const stores = new Map<Db, SqliteStore>();
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  workers.length = 0;
  for (const s of stores.values()) await s.close();
  stores.clear();
});

/** A connection with its store (the worker writes dead letters through it); afterEach closes both. */
function open(file = tempDb()) {
  const db = openDatabase(file);
  stores.set(db, SqliteStore.over(db, file));
  return db;
}

const storeOf = (db: Db) => stores.get(db)!;

function makeWorker(db: Db, targets: Target[], over: Partial<WorkerOptions> = {}) {
  const w = new OutboxWorker(
    { db, store: storeOf(db), log: createLogger('silent'), now: () => Date.now(), targets, onDeadLetter: async () => undefined },
    { ...FAST, ...over },
  );
  workers.push(w);
  return w;
}

/** A seeded random source, so a failure can be replayed. */
function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const rowsOf = (db: Db) => db.select().from(outbox).orderBy(asc(outbox.id)).all();

/** Counts what is in flight at once, overall and per breaker key, as the target sees it. */
function inFlightMeter() {
  const perKey = new Map<string, number>();
  const peakPerKey = new Map<string, number>();
  let now = 0;
  let peak = 0;
  return {
    enter(key: string) {
      now += 1;
      peak = Math.max(peak, now);
      const k = (perKey.get(key) ?? 0) + 1;
      perKey.set(key, k);
      peakPerKey.set(key, Math.max(peakPerKey.get(key) ?? 0, k));
    },
    leave(key: string) {
      now -= 1;
      perKey.set(key, (perKey.get(key) ?? 1) - 1);
    },
    get peak() {
      return peak;
    },
    peakOfKey: () => Math.max(...peakPerKey.values()),
  };
}

describe('outbox worker at fan-out width', () => {
  it('runs hundreds of lanes at once, each strictly in order, every row sent until delivered and never after', async () => {
    const db = open();
    const LANES = 1_500;
    const UPSTREAMS = 30;
    const random = seeded(10);
    await storeOf(db).transaction(async (tx) => {
      for (let n = 1; n <= 3; n++)
        for (let lane = 0; lane < LANES; lane++)
          await enqueue(tx, Date.now(), { incidentId: null, target: `t:${lane}`, kind: 'test', payload: { n }, customerFacing: false });
    });
    const meter = inFlightMeter();
    const keyOf = (target: string) => `up-${Number(target.slice(2)) % UPSTREAMS}`;
    const sends: Array<{ target: string; n: unknown; id: number; ok: boolean }> = [];
    let checks = 0;
    let mostClaimed = 0;
    const target: Target = {
      handles: (t) => t.startsWith('t:'),
      breakerKey: keyOf,
      async deliver(msg: OutboxMessage): Promise<DeliveryResult> {
        const key = keyOf(msg.target);
        meter.enter(key);
        // Rows claimed (in flight in the database) never exceed the slots.
        if (checks++ % 50 === 0)
          mostClaimed = Math.max(mostClaimed, (db.$client.prepare("select count(*) as n from outbox where state = 'in_flight'").get() as { n: number }).n);
        try {
          await new Promise((r) => setTimeout(r, Math.floor(random() * 15)));
          const ok = random() > 0.1;
          sends.push({ target: msg.target, n: msg.payload.n, id: msg.id, ok });
          return ok ? { kind: 'delivered' } : { kind: 'retry', error: 'HTTP 503' };
        } finally {
          meter.leave(key);
        }
      },
    };
    const worker = makeWorker(db, [target], { backoff: { baseMs: 5, maxMs: 20, jitter: 0.5 } });
    const { concurrency, perUpstream } = worker.settings;
    worker.start();
    await waitUntil(() => rowsOf(db).every((r) => r.state === 'delivered'), 60_000, 'all delivered');

    // Sized for I/O: every slot was used at once (there were more due lanes than slots).
    expect(concurrency).toBe(defaultWorkerOptions().concurrency);
    expect(concurrency).toBeGreaterThanOrEqual(256);
    expect(meter.peak).toBe(concurrency);
    expect(meter.peakOfKey()).toBeLessThanOrEqual(perUpstream);
    expect(mostClaimed).toBeLessThanOrEqual(concurrency);
    for (let lane = 0; lane < LANES; lane++) {
      const mine = sends.filter((s) => s.target === `t:${lane}`);
      // Attempts in order: every attempt of row n comes before any attempt of row n + 1 …
      const ns = mine.map((s) => s.n as number);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
      // … and each row is delivered exactly once, and not attempted after it was.
      expect(mine.filter((s) => s.ok).map((s) => s.n)).toEqual([1, 2, 3]);
      for (const n of [1, 2, 3]) expect(mine.filter((s) => s.n === n).at(-1)!.ok).toBe(true);
    }
    for (const r of rowsOf(db)) expect(r.attempts).toBe(sends.filter((s) => s.id === r.id).length);
  }, 90_000);

  it('folds what waits behind hundreds of lanes in flight: each lane sends its newest, told how many it folds', async () => {
    const db = open();
    const LANES = 400;
    const put = (n: number) =>
      storeOf(db).transaction(async (tx) => {
        for (let lane = 0; lane < LANES; lane++)
          await enqueue(tx, Date.now(), { incidentId: null, target: `c:${lane}`, kind: 'test', payload: { n }, customerFacing: true, approvedAt: Date.now() });
      });
    await put(1);
    // Every first attempt is held until the newer updates are written behind it; then even lanes
    // are answered delivered, odd ones are told to retry (their first row is folded in as well).
    let hold!: () => void;
    const held = new Promise<void>((r) => (hold = r));
    const sends: Array<{ target: string; n: unknown; folded: number; notice: string | null | undefined; ok: boolean }> = [];
    const target: Target = {
      folds: true,
      handles: (t) => t.startsWith('c:'),
      breakerKey: (t) => `up-${Number(t.slice(2)) % 8}`,
      async deliver(msg) {
        if (msg.payload.n === 1 && msg.attempts === 1) await held;
        const ok = !(msg.payload.n === 1 && Number(msg.target.slice(2)) % 2 === 1);
        sends.push({ target: msg.target, n: msg.payload.n, folded: msg.folded, notice: msg.foldNotice, ok });
        return ok ? { kind: 'delivered' } : { kind: 'retry', error: 'HTTP 500' };
      },
    };
    const worker = makeWorker(db, [target], { backoff: { baseMs: 5, maxMs: 10, jitter: 0 } });
    worker.start();
    await waitUntil(() => rowsOf(db).filter((r) => r.state === 'in_flight').length === LANES, 10_000, 'every first row in flight');
    await put(2);
    await put(3);
    await put(4);
    hold();
    await waitUntil(() => rowsOf(db).every((r) => r.state === 'delivered' || r.state === 'folded'), 30_000, 'settled');

    const rows = rowsOf(db);
    for (let lane = 0; lane < LANES; lane++) {
      const mine = sends.filter((s) => s.target === `c:${lane}`);
      const laneRows = rows.filter((r) => r.target === `c:${lane}`);
      const newest = laneRows.at(-1)!;
      if (lane % 2 === 0) {
        // Row 1 went out; rows 2 and 3 waited behind it and are folded into row 4.
        expect(mine.map((s) => [s.n, s.folded, s.ok])).toEqual([
          [1, 0, true],
          [4, 2, true],
        ]);
        expect(mine[1]!.notice).toBe('This message folds in 2 earlier updates.');
        expect(laneRows.map((r) => r.state)).toEqual(['delivered', 'folded', 'folded', 'delivered']);
      } else {
        // Row 1 failed; on its retry it was folded in too: row 4 carries all three before it.
        expect(mine.map((s) => [s.n, s.folded, s.ok])).toEqual([
          [1, 0, false],
          [4, 3, true],
        ]);
        expect(mine[1]!.notice).toBe('This message folds in 3 earlier updates.');
        expect(laneRows.map((r) => r.state)).toEqual(['folded', 'folded', 'folded', 'delivered']);
      }
      for (const r of laneRows.filter((x) => x.state === 'folded')) expect(r.foldedInto).toBe(newest.id);
    }
  }, 60_000);

  it('two workers on one database file at full width never send the same row twice and keep every lane in order', async () => {
    const file = tempDb();
    const a = open(file);
    const b = open(file);
    const LANES = 600;
    await storeOf(a).transaction(async (tx) => {
      for (let n = 1; n <= 2; n++)
        for (let lane = 0; lane < LANES; lane++)
          await enqueue(tx, Date.now(), { incidentId: null, target: `t:${lane}`, kind: 'test', payload: { n }, customerFacing: false });
    });
    const sent: Array<{ deliveryId: string; target: string; n: unknown; by: string }> = [];
    const mk = (by: string): Target => ({
      handles: (t) => t.startsWith('t:'),
      breakerKey: (t) => `up-${Number(t.slice(2)) % 20}`,
      async deliver(msg) {
        sent.push({ deliveryId: msg.deliveryId, target: msg.target, n: msg.payload.n, by });
        await new Promise((r) => setTimeout(r, 3));
        return { kind: 'delivered' };
      },
    });
    // Each takes a part of the lanes at once (one worker alone could claim all 600 heads).
    makeWorker(a, [mk('a')], { concurrency: 256 }).start();
    makeWorker(b, [mk('b')], { concurrency: 256 }).start();
    await waitUntil(() => rowsOf(a).every((r) => r.state === 'delivered'), 60_000, 'all delivered');
    expect(sent).toHaveLength(LANES * 2);
    expect(new Set(sent.map((s) => s.deliveryId)).size).toBe(LANES * 2);
    // Both took part (claims interleave between the two connections).
    expect(new Set(sent.map((s) => s.by))).toEqual(new Set(['a', 'b']));
    for (let lane = 0; lane < LANES; lane++) expect(sent.filter((s) => s.target === `t:${lane}`).map((s) => s.n)).toEqual([1, 2]);
  }, 90_000);

  it('a hanging upstream with many lanes holds its share of the slots only; lanes behind it in the scan still go', async () => {
    const db = open();
    // The hanging upstream's lanes come first (oldest), more of them than a scan page holds.
    await storeOf(db).transaction(async (tx) => {
      for (let i = 0; i < 300; i++) await enqueue(tx, Date.now(), { incidentId: null, target: `slow:${i}`, kind: 'test', payload: {}, customerFacing: false });
      for (let i = 0; i < 50; i++) await enqueue(tx, Date.now(), { incidentId: null, target: `fast:${i}`, kind: 'test', payload: {}, customerFacing: false });
    });
    let slowCalls = 0;
    const slow: Target = {
      handles: (t) => t.startsWith('slow:'),
      breakerKey: () => 'slow',
      deliver: (_m, signal) => {
        slowCalls += 1;
        return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ kind: 'retry', error: 'aborted' })));
      },
    };
    let fastDone = 0;
    const fast: Target = {
      handles: (t) => t.startsWith('fast:'),
      breakerKey: () => 'fast',
      deliver: async () => {
        fastDone++;
        return { kind: 'delivered' };
      },
    };
    const worker = makeWorker(db, [slow, fast], { attemptTimeoutMs: 60_000, concurrency: 40, perUpstream: 10, scanPage: 64, claimBatch: 16 });
    worker.start();
    await waitUntil(() => fastDone === 50 && worker.inFlight === 10, 10_000, 'the other upstream drained');
    expect(slowCalls).toBe(10);
  });
});
