import { asc } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../db/client.js';
import { SqliteStore } from '../../db/store.js';
import { outbox } from '../../db/schema.js';
import { createLogger } from '../../src/logger.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import type { DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';
import { OutboxWorker, type WorkerOptions } from '../../src/mirror/worker.js';
import { FAST, tempDb, waitUntil } from './helpers.js';

// Pacing (Target.pace): rows with the same pace key start at most one per interval, whatever lane
// they are in; a row waiting for its pace slot takes no delivery slot and holds up no other key;
// and the worker is woken by the slot freeing, not by polling for it. A fake Target paces by a
// `channel` in the payload, as a chat target paces per channel.

const workers: OutboxWorker[] = [];
const stores = new Map<Db, SqliteStore>();
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  workers.length = 0;
  for (const s of stores.values()) await s.close();
  stores.clear();
});

interface Start {
  target: string;
  channel: string;
  n: unknown;
  at: number;
}

function pacedTarget(intervalMs: number, answer: (msg: OutboxMessage) => DeliveryResult = () => ({ kind: 'delivered' })) {
  const starts: Start[] = [];
  const target: Target = {
    handles: (t) => t.startsWith('chan:'),
    breakerKey: () => 'chat',
    pace: (m) => (typeof m.payload.channel === 'string' && m.payload.channel !== 'unpaced' ? { key: m.payload.channel, intervalMs } : undefined),
    async deliver(msg, _signal) {
      starts.push({ target: msg.target, channel: String(msg.payload.channel), n: msg.payload.n, at: Date.now() });
      return answer(msg);
    },
  };
  return { target, starts };
}

function setup(targets: Target[], over: Partial<WorkerOptions> = {}) {
  const file = tempDb();
  const db = openDatabase(file);
  const store = SqliteStore.over(db, file);
  stores.set(db, store);
  let nowCalls = 0;
  const worker = new OutboxWorker(
    {
      db,
      store,
      log: createLogger('silent'),
      now: () => {
        nowCalls += 1;
        return Date.now();
      },
      targets,
      onDeadLetter: async () => undefined,
    },
    { ...FAST, ...over },
  );
  workers.push(worker);
  const put = (target: string, channel: string, n: number) =>
    store.transaction((tx) => enqueue(tx, Date.now(), { incidentId: null, target, kind: 'test', payload: { channel, n }, customerFacing: false }));
  return { db, worker, put, nowCalls: () => nowCalls };
}

const rowsOf = (db: Db) => db.select().from(outbox).orderBy(asc(outbox.id)).all();
const gaps = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]!);

describe('pacing', () => {
  it('rows with the same pace key start one per interval across lanes; other keys and unpaced rows are not held up', async () => {
    const INTERVAL = 300;
    const t = pacedTarget(INTERVAL);
    const { db, worker, put } = setup([t.target]);
    // Four lanes (four incidents' threads, say) into channel A, one into B, one unpaced.
    for (let lane = 1; lane <= 4; lane++) await put(`chan:A-${lane}`, 'A', lane);
    await put('chan:B-1', 'B', 1);
    await put('chan:U-1', 'unpaced', 1);
    worker.start();
    await waitUntil(() => rowsOf(db).every((r) => r.state === 'delivered'), 15_000, 'all delivered');

    const a = t.starts.filter((s) => s.channel === 'A');
    expect(a).toHaveLength(4);
    for (const gap of gaps(a.map((s) => s.at))) expect(gap).toBeGreaterThanOrEqual(INTERVAL - 5);
    // B and the unpaced row went out before A's second start: they did not queue behind A.
    const secondA = t.starts.indexOf(a[1]!);
    expect(t.starts.findIndex((s) => s.channel === 'B')).toBeLessThan(secondA);
    expect(t.starts.findIndex((s) => s.channel === 'unpaced')).toBeLessThan(secondA);
  });

  it('rows waiting for a pace slot take no delivery slot', async () => {
    const t = pacedTarget(60_000);
    const { db, worker, put } = setup([t.target], { concurrency: 2, perUpstream: 2 });
    for (let lane = 1; lane <= 5; lane++) await put(`chan:A-${lane}`, 'A', lane);
    for (let lane = 1; lane <= 6; lane++) await put(`chan:U-${lane}`, 'unpaced', lane);
    worker.start();
    await waitUntil(() => rowsOf(db).filter((r) => r.state === 'delivered').length === 7, 10_000, 'one A row and every unpaced row delivered');
    // Four A rows wait for a slot a minute away; the six unpaced rows used the two slots meanwhile.
    expect(t.starts.filter((s) => s.channel === 'A')).toHaveLength(1);
    expect(
      rowsOf(db)
        .filter((r) => r.state === 'pending')
        .map((r) => r.target),
    ).toEqual(['chan:A-2', 'chan:A-3', 'chan:A-4', 'chan:A-5']);
  });

  it('a waiting row is started by its slot freeing, without a poll or a kick, and without spinning until then', async () => {
    const INTERVAL = 800;
    const t = pacedTarget(INTERVAL);
    // The poll is far away: after the first pass, only the pace timer can start the second row.
    const { db, worker, put, nowCalls } = setup([t.target], { pollMs: 600_000 });
    await put('chan:A-1', 'A', 1);
    await put('chan:A-2', 'A', 2);
    worker.start();
    await waitUntil(() => t.starts.length === 1, 5_000, 'first start');
    const callsAfterFirst = nowCalls();
    await waitUntil(() => t.starts.length === 2, 10_000, 'second start');
    expect(t.starts[1]!.at - t.starts[0]!.at).toBeGreaterThanOrEqual(INTERVAL - 5);
    // Between the two starts the worker looked at the clock a handful of times (recording the
    // first outcome, arming the timer, the timer's pass), not once per turn of a loop.
    expect(nowCalls() - callsAfterFirst).toBeLessThan(20);
    await waitUntil(() => rowsOf(db).every((r) => r.state === 'delivered'), 5_000, 'both delivered');
  });

  it('a restarted worker keeps the pace of the rows its predecessor delivered a moment before', async () => {
    const INTERVAL = 1_500;
    const t = pacedTarget(INTERVAL);
    const { db, worker, put } = setup([t.target]);
    await put('chan:A-1', 'A', 1);
    await put('chan:A-1', 'A', 2);
    await put('chan:B-1', 'B', 1);
    worker.start();
    await waitUntil(() => t.starts.length === 2, 5_000, 'A-1 and B-1 started');
    await waitUntil(() => rowsOf(db).filter((r) => r.state === 'delivered').length === 2, 5_000, 'both recorded');
    await worker.stop();

    // A new worker on the same database (the server restarted): in memory it knows no pace.
    const next = new OutboxWorker(
      { db, store: stores.get(db)!, log: createLogger('silent'), now: () => Date.now(), targets: [t.target], onDeadLetter: async () => undefined },
      { ...FAST },
    );
    workers.push(next);
    next.start();
    await waitUntil(() => rowsOf(db).every((r) => r.state === 'delivered'), 10_000, 'all delivered');
    const a = t.starts.filter((s) => s.channel === 'A');
    expect(a.map((s) => s.n)).toEqual([1, 2]);
    const delivered = rowsOf(db).find((r) => r.target === 'chan:A-1' && r.payload.n === 1)!.deliveredAt!;
    expect(a[1]!.at - delivered).toBeGreaterThanOrEqual(INTERVAL - 5);
  });

  it('a retry is paced too, and the lane keeps its order', async () => {
    const INTERVAL = 250;
    let failedOnce = false;
    const t = pacedTarget(INTERVAL, (msg) => {
      if (msg.payload.n === 1 && !failedOnce) {
        failedOnce = true;
        return { kind: 'retry', error: 'HTTP 429', retryAfterMs: 0 };
      }
      return { kind: 'delivered' };
    });
    const { db, worker, put } = setup([t.target], { backoff: { baseMs: 1, maxMs: 1, jitter: 0 } });
    await put('chan:A-1', 'A', 1);
    await put('chan:A-1', 'A', 2);
    worker.start();
    await waitUntil(() => rowsOf(db).every((r) => r.state === 'delivered'), 10_000, 'all delivered');
    expect(t.starts.map((s) => s.n)).toEqual([1, 1, 2]);
    for (const gap of gaps(t.starts.map((s) => s.at))) expect(gap).toBeGreaterThanOrEqual(INTERVAL - 5);
  });
});
