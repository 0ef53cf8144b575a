import { asc } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../db/client.js';
import { outbox } from '../../db/schema.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { main } from '../../src/main.js';
import { pruneBatch, pruneOutbox, type RetentionOptions } from '../../src/mirror/retention.js';
import { isWebhookLane } from '../../src/domain/subscriptions.js';
import { startWebhookReceiver } from '../fakes/webhook-receiver.js';
import { movableClock, startHarness, tempDb, waitUntil } from './helpers.js';

// Outbox retention on a real SQLite file with an injected clock: delivered rows past
// SITREP_OUTBOX_RETENTION_DAYS go, with the rows folded into them; dead letters, waiting rows and
// each chat or Statuspage lane's newest remote reference stay.

const DAY = 24 * 3_600_000;
const T = Date.parse('2026-03-01T12:00:00Z');

const dbs: Db[] = [];
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  for (const d of dbs.splice(0)) d.$client.close();
});

const OPTS: RetentionOptions = { retentionMs: 30 * DAY, batchSize: 3, pauseMs: 0, keepsReference: (t) => !isWebhookLane(t) };

interface Seed {
  target: string;
  state: 'pending' | 'in_flight' | 'delivered' | 'dead' | 'folded';
  /** Days before T it was created (and, when delivered, delivered). */
  age: number;
  ref?: string;
  into?: string;
  incident?: number | null;
}

/** Writes named rows straight into the outbox, as past deliveries left them. */
function seed(db: Db, rows: Record<string, Seed>): Map<string, number> {
  const c = db.$client;
  c.prepare(
    `insert into incidents (id, title, status, severity, created_by, started_at, declared_at, recorded_at, updated_at)
     values (1, 'Old outage', 'resolved', 2, 'cli:ops', ?, ?, ?, ?)`,
  ).run(T - 90 * DAY, T - 90 * DAY, T - 90 * DAY, T - 90 * DAY);
  const insert = c.prepare(
    `insert into outbox (delivery_id, incident_id, target, kind, payload, customer_facing, state, attempts, next_attempt_at, remote_ref, folded_into, created_at, delivered_at)
     values (?, ?, ?, 'test', '{}', 1, ?, 1, ?, ?, null, ?, ?)`,
  );
  const ids = new Map<string, number>();
  for (const [name, r] of Object.entries(rows)) {
    const at = T - r.age * DAY;
    const info = insert.run(
      `msg_${name}`,
      r.incident === undefined ? 1 : r.incident,
      r.target,
      r.state,
      at,
      r.ref ?? null,
      at,
      r.state === 'delivered' ? at : null,
    );
    ids.set(name, Number(info.lastInsertRowid));
  }
  for (const [name, r] of Object.entries(rows)) {
    if (r.into) c.prepare('update outbox set folded_into = ? where id = ?').run(ids.get(r.into)!, ids.get(name)!);
  }
  return ids;
}

const remaining = (db: Db, ids: Map<string, number>) => {
  const left = new Set(
    db
      .select({ id: outbox.id })
      .from(outbox)
      .orderBy(asc(outbox.id))
      .all()
      .map((r) => r.id),
  );
  return [...ids.entries()].filter(([, id]) => left.has(id)).map(([name]) => name);
};

const ROWS: Record<string, Seed> = {
  oldHook: { target: 'webhook:S-1', state: 'delivered', age: 31, ref: 'HTTP 200' },
  foldedIntoOldHook: { target: 'webhook:S-1', state: 'folded', age: 31.5, into: 'oldHook' },
  newestHookOld: { target: 'webhook:S-1', state: 'delivered', age: 30.5, ref: 'HTTP 200' }, // a webhook's reference means nothing later: it goes too
  recentHook: { target: 'webhook:S-2', state: 'delivered', age: 29, ref: 'HTTP 204' },
  foldedIntoRecent: { target: 'webhook:S-2', state: 'folded', age: 29.5, into: 'recentHook' },
  deadHook: { target: 'webhook:S-3', state: 'dead', age: 90 },
  foldedIntoDead: { target: 'webhook:S-3', state: 'folded', age: 91, into: 'deadHook' },
  waitingOld: { target: 'webhook:S-4', state: 'pending', age: 60 },
  inFlightOld: { target: 'webhook:S-5', state: 'in_flight', age: 45 },
  slackRoot: { target: 'slack:C0CUSTOMERS', state: 'delivered', age: 40, ref: '1700000000.000100' },
  slackNewest: { target: 'slack:C0CUSTOMERS', state: 'delivered', age: 35, ref: '1700000000.000100' },
  threadReply: { target: 'slack:thread:C0INCIDENTS', state: 'delivered', age: 40 },
  spCreate: { target: 'statuspage', state: 'delivered', age: 50, ref: 'sp_123' },
  spPatch: { target: 'statuspage', state: 'delivered', age: 45, ref: 'sp_123' },
  spNewest: { target: 'statuspage', state: 'delivered', age: 44, ref: 'sp_123' },
  noIncident: { target: 'teams:19:customers@thread.tacv2', state: 'delivered', age: 33, incident: null },
};

describe('outbox retention', () => {
  it("deletes delivered rows past the retention period and the rows folded into them; keeps dead letters, waiting rows, recent history and each lane's newest remote reference", async () => {
    const file = tempDb();
    const db = openDatabase(file);
    dbs.push(db);
    const ids = seed(db, ROWS);
    const pruned = await pruneOutbox(db, T, OPTS);
    expect(remaining(db, ids).sort()).toEqual(
      ['recentHook', 'foldedIntoRecent', 'deadHook', 'foldedIntoDead', 'waitingOld', 'inFlightOld', 'slackNewest', 'spNewest'].sort(),
    );
    expect(pruned).toBe(Object.keys(ROWS).length - 8);
    // Nothing left to do: a second pass deletes nothing.
    expect(await pruneOutbox(db, T, OPTS)).toBe(0);
    // Two days on, what was recent is past its age too; references and dead letters still stay.
    await pruneOutbox(db, T + 2 * DAY, OPTS);
    expect(remaining(db, ids).sort()).toEqual(['deadHook', 'foldedIntoDead', 'waitingOld', 'inFlightOld', 'slackNewest', 'spNewest'].sort());
  });

  it('goes in small batches, each its own transaction, oldest first, never past the cutoff', async () => {
    const db = openDatabase(tempDb());
    dbs.push(db);
    const ids = seed(db, ROWS);
    const batches: number[] = [];
    let cursor = null as ReturnType<typeof pruneBatch>['cursor'];
    let before = db.$client.prepare("select count(*) as n from outbox where state = 'delivered'").pluck().get() as number;
    do {
      const b = pruneBatch(db, T, OPTS, cursor);
      const after = db.$client.prepare("select count(*) as n from outbox where state = 'delivered'").pluck().get() as number;
      batches.push(before - after);
      before = after;
      // Each batch is committed before the next begins: no transaction is left open between them.
      expect(db.$client.inTransaction).toBe(false);
      if (b.cursor) expect(b.cursor.deliveredAt).toBeLessThan(T - OPTS.retentionMs);
      cursor = b.cursor;
    } while (cursor);
    expect(Math.max(...batches)).toBeLessThanOrEqual(OPTS.batchSize);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(remaining(db, ids)).toContain('slackNewest');
  });

  it('runs as background work of the server: rows delivered before a restart past their age are gone after it; dead letters stay', async () => {
    const file = tempDb();
    const clock = movableClock();
    const ok = await startWebhookReceiver();
    closers.push(() => ok.close());
    const gone = await startWebhookReceiver({ status: 410 });
    closers.push(() => gone.close());
    const env = { SITREP_DB: file, SITREP_OUTBOX_RETENTION_DAYS: '2' };
    const first = await startHarness(env, { now: clock.now });
    await first.run('component add Web App');
    await first.run(`subscribe webhook:${ok.url}`);
    await first.run(`subscribe webhook:${gone.url}`);
    await first.run('declare "Database down" components:web-app=major');
    await first.run('draft INC-1 "Investigating"');
    await waitUntil(() => first.rows().every((r) => r.state === 'delivered' || r.state === 'dead'), 5_000, 'settled');
    expect(
      first
        .rows()
        .map((r) => r.state)
        .sort(),
    ).toEqual(['dead', 'delivered']);
    await first.close();

    clock.advance(3 * DAY);
    const second = await startHarness(env, { now: clock.now });
    closers.push(() => second.close());
    await waitUntil(() => second.rows().length === 1, 5_000, 'the delivered row pruned at start');
    expect(second.rows()[0]!.state).toBe('dead');
    // Newer deliveries are untouched.
    await second.run('draft INC-1 "Cause found"');
    await ok.waitFor((r) => r.accepted().length === 2);
    await waitUntil(() => second.rows().some((r) => r.state === 'delivered'), 5_000, 'delivered');
    expect(second.rows().map((r) => r.state)).toEqual(['dead', 'delivered']);
  });

  it('SITREP_OUTBOX_RETENTION_DAYS defaults to 30; a bad value stops start-up with one line naming it', async () => {
    expect(loadConfig({}).outboxRetentionDays).toBe(30);
    expect(loadConfig({ SITREP_OUTBOX_RETENTION_DAYS: '7' }).outboxRetentionDays).toBe(7);
    for (const bad of ['0', '-1', 'thirty', '1.5', '99999999']) {
      expect(() => loadConfig({ SITREP_OUTBOX_RETENTION_DAYS: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ SITREP_OUTBOX_RETENTION_DAYS: bad })).toThrow(
        /^invalid configuration: SITREP_OUTBOX_RETENTION_DAYS must be a whole number from 1 to 36500$/,
      );
    }
    // Through the real entry point: nothing starts, exit code 1, the one line on stderr.
    const saved = { days: process.env.SITREP_OUTBOX_RETENTION_DAYS, db: process.env.SITREP_DB };
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const file = tempDb();
    process.env.SITREP_OUTBOX_RETENTION_DAYS = 'thirty';
    process.env.SITREP_DB = file;
    process.stderr.write = ((s: string) => {
      written.push(String(s));
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(await main(['serve'])).toBe(1);
    } finally {
      process.stderr.write = write;
      for (const [k, v] of [
        ['SITREP_OUTBOX_RETENTION_DAYS', saved.days],
        ['SITREP_DB', saved.db],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    expect(written.join('')).toBe('invalid configuration: SITREP_OUTBOX_RETENTION_DAYS must be a whole number from 1 to 36500\n');
    const { existsSync } = await import('node:fs');
    expect(existsSync(file)).toBe(false); // nothing was written: not even the database file
  });
});
