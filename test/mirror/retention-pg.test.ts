import { afterEach, describe, expect, it } from 'vitest';
import { PgStore } from '../../db/store.pg.js';
import { pruneOutboxPg } from '../../src/mirror/retention.pg.js';
import { createTestDatabase, postgresUnavailable, sayPostgresSkipped, type TestPostgres } from '../support/postgres.js';

// Outbox retention on PostgreSQL (src/mirror/retention.pg.ts): delivered rows past their age go in
// small batches with what was folded into them; dead letters, recent rows and a chat lane's newest
// remote reference stay; two replicas pruning at once delete each row once between them.

const skip = postgresUnavailable();
if (skip) sayPostgresSkipped();

const DAY = 24 * 3_600_000;
const opened: Array<{ store: PgStore; db: TestPostgres }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.store.close().catch(() => undefined);
    await o.db.drop().catch(() => undefined);
  }
});

describe.skipIf(skip)('outbox retention on PostgreSQL', () => {
  it('prunes old delivered rows in batches across two replicas at once, keeping dead letters, recent rows and a lane’s newest reference', async () => {
    const db = await createTestDatabase();
    const a = await PgStore.open(db.url);
    const b = await PgStore.open(db.url);
    opened.push({ store: b, db }, { store: a, db });
    const now = Date.now();
    const old = now - 40 * DAY;
    let n = 0;
    const insert = async (target: string, state: string, deliveredAt: number | null, remoteRef: string | null = null, foldedInto: number | null = null) => {
      const r = await a.pool.query(
        `insert into outbox (delivery_id, target, kind, payload, state, next_attempt_at, created_at, delivered_at, remote_ref, folded_into)
         values ($1, $2, 'webhook', '{}', $3, $4, $4, $5, $6, $7) returning id`,
        [`d-${++n}`, target, state, old, deliveredAt, remoteRef, foldedInto],
      );
      return Number(r.rows[0].id);
    };
    const doomed: number[] = [];
    for (let i = 0; i < 1_200; i++) doomed.push(await insert(`webhook:S-${i % 7}`, 'delivered', old + i, 'HTTP 200'));
    const foldedAway = await insert('webhook:S-1', 'folded', null, null, doomed[5]!);
    const dead = await insert('webhook:S-1', 'dead', null);
    const recent = await insert('webhook:S-2', 'delivered', now - DAY, 'HTTP 200');
    const olderRef = await insert('slack:C1', 'delivered', old, '111.1');
    const newestRef = await insert('slack:C1', 'delivered', old + 1, '222.2');
    doomed.push(olderRef, foldedAway);

    const opts = { retentionMs: 30 * DAY, batchSize: 100, pauseMs: 1, keepsReference: (t: string) => !t.startsWith('webhook:') };
    const [x, y] = await Promise.all([pruneOutboxPg(a, now, opts), pruneOutboxPg(b, now, opts)]);
    // Whichever replica found the other pruning stopped; a later pass finds nothing left to do.
    const again = await pruneOutboxPg(b, now, opts);
    expect(x + y + again).toBe(doomed.length);
    const left = (await a.pool.query('select id from outbox order by id')).rows.map((r) => Number(r.id));
    expect(left).toEqual([dead, recent, newestRef]);
  });
});
