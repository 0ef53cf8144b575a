import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { claimHeads, claimInTransaction, overdueCustomerFacing } from '../../db/queries/worker.pg.js';
import { engines } from '../support/engines.js';

// Several replicas on PostgreSQL: one dead-letters a customer-facing row at its deadline while
// another claims due rows. A row past its deadline must never be claimed, or a replica could send
// it late (after the customer was told it was not delivered) while another fails to dead-letter it.

const postgres = engines.find((e) => e.name === 'PostgreSQL')!;
const HOUR = 3_600_000;
const pools: pg.Pool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.end();
});

describe.skipIf(postgres.skip)('outbox deadlines on PostgreSQL', () => {
  it('a customer-facing row past its deadline is never claimed, only dead-lettered; internal rows and rows within their deadline are', async () => {
    const app = await postgres.app({ SITREP_DB: 'deadline-pg' });
    await app.store.read(async () => undefined); // migrated
    const now = Date.now();
    const insert = (target: string, customerFacing: boolean, deadlineAt: number | null, approvedAt: number) =>
      postgres.rows(
        app,
        `insert into outbox (delivery_id, incident_id, target, kind, payload, customer_facing, state, attempts, next_attempt_at, approved_at, deadline_at, created_at)
         values (?, null, ?, 'update', '{}', ?, 'pending', 0, ?, ?, ?, ?) returning id`,
        `msg_${target}`,
        target,
        customerFacing,
        now - 1_000,
        approvedAt,
        deadlineAt,
        approvedAt,
      );
    const [late] = await insert('slack:C0LATE', true, now - 1, now - 2 * HOUR);
    const [lateByDefault] = await insert('slack:C0DEFAULT', true, null, now - 2 * HOUR);
    const [onTime] = await insert('slack:C0ONTIME', true, now + HOUR, now - 2 * HOUR);
    const [internal] = await insert('slack:thread', false, now - 1, now - 2 * HOUR);

    const pool = new pg.Pool({ connectionString: postgres.databaseUrl(app)! });
    pools.push(pool);
    const claimed = await claimInTransaction(pool, (c) => claimHeads(c, now, now + 30_000, 100, [], HOUR));
    expect(claimed.map((r) => r.id).sort()).toEqual([onTime.id, internal.id].sort());
    // What the replicas dead-letter instead: both late rows, still pending (nobody holds them).
    expect((await overdueCustomerFacing(pool, now, HOUR)).map((r) => r.id)).toEqual([late.id, lateByDefault.id]);
    const states = await postgres.rows(app, 'select id, state from outbox order by id');
    expect(states.map((r: { state: string }) => r.state)).toEqual(['pending', 'pending', 'in_flight', 'in_flight']);
  });
});
