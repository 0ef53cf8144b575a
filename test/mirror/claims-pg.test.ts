import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { CLAIM_HEADS, claimHeads, claimInTransaction } from '../../db/queries/worker.pg.js';
import { engines } from '../support/engines.js';

// The replicas' claim on a big backlog (an outage's updates to thousands of subscribers): it reads
// the due rows in order and stops once it has its batch of lane heads, so a claim costs about its
// batch, not the backlog. Read from PostgreSQL's own account of the plan it ran (EXPLAIN ANALYZE),
// never from a clock.

const postgres = engines.find((e) => e.name === 'PostgreSQL')!;
const LANES = 5_000;
const PER_LANE = 4;
const BATCH = 64;
const pools: pg.Pool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.end();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

describe.skipIf(postgres.skip)('claiming on PostgreSQL with a backlog', () => {
  it(`claims ${BATCH} lane heads of ${LANES * PER_LANE} waiting rows (and a delivered history) reading about ${BATCH} rows, in lane order`, async () => {
    const app = await postgres.app({ SITREP_DB: 'claims-pg' });
    await app.store.read(async () => undefined);
    const pool = new pg.Pool({ connectionString: postgres.databaseUrl(app)! });
    pools.push(pool);
    const now = Date.now();
    // A month of delivered history to the same subscribers, then the backlog: lane k's rows are
    // ids k, k + LANES, …, so the first LANES rows in due order are the heads.
    await pool.query(
      `insert into outbox (delivery_id, incident_id, target, kind, payload, customer_facing, state, attempts, next_attempt_at, approved_at, deadline_at, created_at, delivered_at)
       select 'old_' || g, null, 'webhook:S-' || (g % $2::int), 'update', '{}', true, 'delivered', 1, $1::bigint, $1::bigint, $1::bigint + 86400000, $1::bigint, $1::bigint
       from generate_series(1, $2::int * 10) g`,
      [now - 86_400_000, LANES],
    );
    await pool.query(
      `insert into outbox (delivery_id, incident_id, target, kind, payload, customer_facing, state, attempts, next_attempt_at, approved_at, deadline_at, created_at)
       select 'msg_' || g, null, 'webhook:S-' || (g % $2::int), 'update', '{}', true, 'pending', 0, $1::bigint, $1::bigint, $1::bigint + 86400000, $1::bigint
       from generate_series(1, $2::int * $3::int) g`,
      [now - 1_000, LANES, PER_LANE],
    );
    await pool.query('analyze outbox');

    const c = await pool.connect();
    try {
      await c.query('begin');
      const explained = await c.query(`explain (analyze, format json) ${CLAIM_HEADS}`, [now, now + 30_000, BATCH, [], 3_600_000]);
      await c.query('rollback');
      const plan = (explained.rows[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan;
      const all = nodes(plan);
      // No pass over the whole table, and the rows read from outbox (per loop, times its loops)
      // stay within a few times the batch, where joining the backlog read it all, twice.
      expect(all.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name'])).toEqual([]);
      const read = all.filter((n) => n['Relation Name'] === 'outbox').reduce((sum, n) => sum + n['Actual Rows'] * n['Actual Loops'], 0);
      expect(read).toBeLessThan(BATCH * 4);
    } finally {
      c.release();
    }

    // And the claim itself: the first lanes' heads, one per lane.
    const claimed = await claimInTransaction(pool, (cl) => claimHeads(cl, now, now + 30_000, BATCH, [], 3_600_000));
    expect(claimed).toHaveLength(BATCH);
    expect(new Set(claimed.map((r) => r.target)).size).toBe(BATCH);
    const firstPending = Number((await pool.query("select min(id) as id from outbox where delivery_id like 'msg_%'")).rows[0].id);
    expect(claimed.map((r) => r.id)).toEqual(Array.from({ length: BATCH }, (_, i) => firstPending + i));
  }, 60_000);
});
