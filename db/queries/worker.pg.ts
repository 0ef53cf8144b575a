import { getTableColumns } from 'drizzle-orm';
import type pg from 'pg';
import { outbox } from '../schema.pg.js';
import type { Store } from '../store.js';
import type { OutboxRow } from './outbox.js';
import type { OverdueRow } from './worker.js';

// The outbox worker's queries on PostgreSQL (src/mirror/worker.pg.ts), for several replicas on one
// database. None of them takes the store's write lock (the advisory lock every command transaction
// takes first): a claim is one short transaction of plain row locks on a pooled connection of its
// own, and an outcome one conditional statement.
//
// - Claiming: the due lane heads are locked FOR UPDATE SKIP LOCKED and marked in flight with a
//   lease (claimed_until) in one statement; a head another replica is claiming right now is
//   skipped, not waited for. A head is a row with no earlier pending or in-flight row of its lane
//   (target, incident_id; NULL incidents one lane), so a lane's rows go in order whichever
//   replica sends them: its next row becomes a head only once the earlier one is finished.
// - Outcomes are conditional on the lease the claim set: a row whose lease ran out and that
//   another replica re-claimed is that replica's now, and a late outcome of the first changes
//   nothing.
// - Rows in flight past their lease (their replica died) go back to pending and are re-sent with
//   the same delivery id.

const columns = Object.entries(getTableColumns(outbox)).map(([key, c]) => [key, c.name] as const);

/** A row as PostgreSQL returns `outbox.*` (snake case), as drizzle would return it. */
function rowOf(raw: Record<string, unknown>): OutboxRow {
  const row: Record<string, unknown> = {};
  for (const [key, name] of columns) row[key] = raw[name] ?? null;
  return row as OutboxRow;
}

/** The pool of the store's PostgreSQL database (db/open.ts's lazy store or a PgStore itself). */
export async function poolOf(store: Store): Promise<pg.Pool> {
  let s: unknown = store;
  if (typeof s === 'object' && s !== null && 'open' in s && typeof s.open === 'function') s = await (s.open as () => Promise<unknown>)();
  if (typeof s === 'object' && s !== null && 'pool' in s) return s.pool as pg.Pool;
  throw new Error('the outbox worker for PostgreSQL needs a PostgreSQL store');
}

type Conn = pg.Pool | pg.PoolClient;

/**
 * A customer-facing row's deadline has passed (`now` and the default deadline as parameters): its
 * own deadline, else the default after approval (or creation). The claim leaves such rows out and
 * overdueCustomerFacing finds them, so both read the same condition.
 */
const pastDeadline = (row: string, now: string, defaultMs: string) =>
  `${row}customer_facing and coalesce(${row}deadline_at, coalesce(${row}approved_at, ${row}created_at) + ${defaultMs}::bigint) <= ${now}`;

/** The claim's statement (exported for the test that reads its plan). */
export const CLAIM_HEADS = `
  with heads as (
    select o.id from outbox o
    where o.state = 'pending' and o.next_attempt_at <= $1
      and not (o.target = any($4::text[]))
      and not (${pastDeadline('o.', '$1', '$5')})
      and not exists (
        select 1 from outbox p
        where p.state in ('pending', 'in_flight') and p.target = o.target
          and p.incident_id is not distinct from o.incident_id and p.id < o.id)
    order by o.next_attempt_at, o.id
    limit $3
    for update of o skip locked
  )
  update outbox set state = 'in_flight', attempts = outbox.attempts + 1, claimed_until = $2
  from heads where outbox.id = heads.id
  returning outbox.*`;

/**
 * Claims up to `limit` due lane heads (none of whose target is in `skipTargets`), leased until
 * `leaseUntil`, in id order. Run inside the caller's transaction (claimInTransaction). A
 * customer-facing row past its deadline (`defaultDeadlineMs` after approval when it has none of
 * its own) is never claimed: it is dead-lettered (overdueCustomerFacing), and no replica may send
 * it late meanwhile.
 */
export async function claimHeads(
  c: pg.PoolClient,
  now: number,
  leaseUntil: number,
  limit: number,
  skipTargets: readonly string[],
  defaultDeadlineMs: number,
): Promise<OutboxRow[]> {
  const r = await c.query({ name: 'sitrep_worker_claim', text: CLAIM_HEADS, values: [now, leaseUntil, limit, skipTargets, defaultDeadlineMs] });
  return r.rows.map((x) => rowOf(x as Record<string, unknown>)).sort((a, b) => a.id - b.id);
}

/** Runs `fn` in one short transaction on a pooled connection of its own (no advisory lock). */
export async function claimInTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    await c.query('begin');
    const out = await fn(c);
    await c.query('commit');
    return out;
  } catch (err) {
    await c.query('rollback').catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
    throw err;
  } finally {
    c.release(broken);
  }
}

/**
 * For each of `heads`, the pending rows behind it in its lane, in id order, locked (folding takes
 * them): one statement for a whole claimed batch.
 */
export async function waitingBehindAll(
  c: Conn,
  heads: ReadonlyArray<Pick<OutboxRow, 'id' | 'target' | 'incidentId'>>,
): Promise<Map<number, Array<{ id: number; customerFacing: boolean }>>> {
  const out = new Map<number, Array<{ id: number; customerFacing: boolean }>>();
  if (!heads.length) return out;
  const r = await c.query({
    name: 'sitrep_worker_behind',
    text: `select h.id as head, o.id, o.customer_facing from outbox o
      join unnest($1::integer[], $2::text[], $3::integer[]) as h(id, target, incident_id)
        on o.target = h.target and o.incident_id is not distinct from h.incident_id and o.id > h.id
      where o.state = 'pending'
      order by o.id for update of o`,
    values: [heads.map((h) => h.id), heads.map((h) => h.target), heads.map((h) => h.incidentId)],
  });
  for (const x of r.rows as Array<{ head: number; id: number; customer_facing: boolean }>) {
    const list = out.get(Number(x.head)) ?? [];
    list.push({ id: Number(x.id), customerFacing: Boolean(x.customer_facing) });
    out.set(Number(x.head), list);
  }
  return out;
}

/** Folds `superseded` into `newest`, which is claimed in their place (as db/queries/worker.ts foldInto). */
export async function foldInto(c: Conn, superseded: number[], newest: number, leaseUntil: number): Promise<OutboxRow> {
  await c.query({
    name: 'sitrep_worker_fold1',
    text: `update outbox set state = 'folded', folded_into = $2, claimed_until = null where id = any($1::integer[])`,
    values: [superseded, newest],
  });
  await c.query({
    name: 'sitrep_worker_fold2',
    text: `update outbox set folded_into = $2 where folded_into = any($1::integer[])`,
    values: [superseded, newest],
  });
  const r = await c.query({
    name: 'sitrep_worker_fold3',
    text: `update outbox set state = 'in_flight', attempts = attempts + 1, claimed_until = $2 where id = $1 returning *`,
    values: [newest, leaseUntil],
  });
  return rowOf(r.rows[0] as Record<string, unknown>);
}

/**
 * For each claimed row: how many rows were folded into it, and the remote reference of its lane's
 * latest delivered row (one statement for the batch).
 */
export async function foldedAndPrevious(
  c: Conn,
  rows: ReadonlyArray<Pick<OutboxRow, 'id' | 'target' | 'incidentId'>>,
): Promise<Map<number, { folded: number; previousRef: string | null }>> {
  const out = new Map<number, { folded: number; previousRef: string | null }>();
  if (!rows.length) return out;
  const r = await c.query({
    name: 'sitrep_worker_context',
    text: `select h.id,
      (select count(*) from outbox f where f.folded_into = h.id) as folded,
      (select p.remote_ref from outbox p where p.target = h.target and p.incident_id is not distinct from h.incident_id
         and p.state = 'delivered' and p.remote_ref is not null order by p.id desc limit 1) as previous_ref
      from unnest($1::integer[], $2::text[], $3::integer[]) as h(id, target, incident_id)`,
    values: [rows.map((h) => h.id), rows.map((h) => h.target), rows.map((h) => h.incidentId)],
  });
  for (const x of r.rows as Array<{ id: number; folded: number | string; previous_ref: string | null }>)
    out.set(Number(x.id), { folded: Number(x.folded), previousRef: x.previous_ref });
  return out;
}

/**
 * Records in-flight rows delivered, those still this claim's (their lease unchanged), in one
 * statement; returns their ids. Rows are taken in id order, as every other multi-row statement
 * here takes them.
 */
export async function recordDeliveredMany(
  pool: Conn,
  rows: ReadonlyArray<{ id: number; leaseUntil: number; at: number; remoteRef: string | null }>,
): Promise<Set<number>> {
  if (!rows.length) return new Set();
  const sorted = [...rows].sort((a, b) => a.id - b.id);
  const r = await pool.query({
    name: 'sitrep_worker_delivered_many',
    text: `update outbox set state = 'delivered', delivered_at = g.at, remote_ref = g.ref, claimed_until = null, last_error = null
      from unnest($1::integer[], $2::bigint[], $3::bigint[], $4::text[]) as g(id, lease, at, ref)
      where outbox.id = g.id and outbox.state = 'in_flight' and outbox.claimed_until = g.lease
      returning outbox.id`,
    values: [sorted.map((x) => x.id), sorted.map((x) => x.leaseUntil), sorted.map((x) => x.at), sorted.map((x) => x.remoteRef)],
  });
  return new Set((r.rows as Array<{ id: number }>).map((x) => Number(x.id)));
}

/** Puts an in-flight row of this claim back to pending, due at `nextAttemptAt`. */
export async function recordRetry(pool: Conn, id: number, leaseUntil: number, nextAttemptAt: number, error: string): Promise<boolean> {
  const r = await pool.query({
    name: 'sitrep_worker_retry',
    text: `update outbox set state = 'pending', next_attempt_at = $3, last_error = $4, claimed_until = null
      where id = $1 and state = 'in_flight' and claimed_until = $2`,
    values: [id, leaseUntil, nextAttemptAt, error],
  });
  return r.rowCount === 1;
}

/**
 * Rows claimed but not started (their upstream had no free slot, or its pace no free start) go
 * back to pending as they were: the claim's attempt is not counted.
 */
export async function giveBack(pool: Conn, claims: ReadonlyArray<{ id: number; leaseUntil: number }>): Promise<void> {
  if (!claims.length) return;
  await pool.query({
    name: 'sitrep_worker_give_back',
    text: `update outbox set state = 'pending', attempts = attempts - 1, claimed_until = null
      from unnest($1::integer[], $2::bigint[]) as g(id, lease)
      where outbox.id = g.id and outbox.state = 'in_flight' and outbox.claimed_until = g.lease`,
    values: [claims.map((c) => c.id), claims.map((c) => c.leaseUntil)],
  });
}

/** Leaves a claimed row waiting until `nextAttemptAt`, noting why (nothing here delivers to its target). */
export async function postponeClaimed(pool: Conn, id: number, leaseUntil: number, note: string, nextAttemptAt: number): Promise<void> {
  await pool.query({
    name: 'sitrep_worker_postpone',
    text: `update outbox set state = 'pending', attempts = attempts - 1, claimed_until = null, last_error = $3, next_attempt_at = $4
      where id = $1 and state = 'in_flight' and claimed_until = $2`,
    values: [id, leaseUntil, note, nextAttemptAt],
  });
}

/** Rows in flight past their lease go back to pending, noting why; how many did. */
export async function reclaimExpired(pool: Conn, now: number, note: string): Promise<number> {
  const r = await pool.query({
    name: 'sitrep_worker_reclaim',
    text: `update outbox set state = 'pending', claimed_until = null, last_error = $2 where state = 'in_flight' and claimed_until < $1`,
    values: [now, note],
  });
  return r.rowCount ?? 0;
}

export type { OverdueRow };

/** Pending customer-facing rows past their deadline, oldest first (as db/queries/worker.ts overdueCustomerFacing). */
export async function overdueCustomerFacing(pool: Conn, now: number, defaultDeadlineMs: number): Promise<OverdueRow[]> {
  const r = await pool.query({
    name: 'sitrep_worker_overdue',
    text: `select id, deadline_at, approved_at, created_at, last_error, attempts from outbox
      where state = 'pending' and ${pastDeadline('', '$1', '$2')}
      order by id`,
    values: [now, defaultDeadlineMs],
  });
  return r.rows.map((x) => {
    const o = x as Record<string, unknown>;
    return {
      id: Number(o.id),
      deadlineAt: o.deadline_at == null ? null : Number(o.deadline_at),
      approvedAt: o.approved_at == null ? null : Number(o.approved_at),
      createdAt: Number(o.created_at),
      lastError: (o.last_error as string | null) ?? null,
      attempts: Number(o.attempts),
    };
  });
}

// --- retention --------------------------------------------------------------------------------

/** Any constant: held by the replica pruning a batch, so replicas never prune at the same time. */
const PRUNE_LOCK = 0x5_17_2e_92;

export interface PruneCursor {
  deliveredAt: number;
  id: number;
}

/**
 * One retention batch (as db/queries/retention.ts pruneDeliveredBatch), in one short transaction
 * that first tries a transaction-scoped advisory lock of its own (not the store's write lock):
 * when another replica holds it, that replica is pruning, and this one stops (`busy`). Examines up
 * to `batchSize` delivered rows older than `cutoff` after `cursor`, deletes the rows folded into
 * them and those of them that may go (a lane's newest remote reference stays while
 * `keepsReference(target)` says its lane needs it).
 */
export async function pruneDeliveredBatchPg(
  pool: pg.Pool,
  cutoff: number,
  batchSize: number,
  keepsReference: (target: string) => boolean,
  cursor: PruneCursor | null,
): Promise<{ deleted: number; cursor: PruneCursor | null; busy: boolean }> {
  return claimInTransaction(pool, async (c) => {
    const lock = await c.query({ name: 'sitrep_prune_lock', text: 'select pg_try_advisory_xact_lock($1) as ok', values: [PRUNE_LOCK] });
    if (!(lock.rows[0] as { ok: boolean }).ok) return { deleted: 0, cursor, busy: true };
    // Ids are integer (32-bit) columns: the cursor before every row is id -1.
    const from = cursor ?? { deliveredAt: Number.MIN_SAFE_INTEGER, id: -1 };
    const r = await c.query({
      name: 'sitrep_prune_candidates',
      text: `select id, target, incident_id, remote_ref, delivered_at from outbox
        where state = 'delivered' and delivered_at < $1 and (delivered_at, id) > ($2::bigint, $3::integer)
        order by delivered_at, id limit $4`,
      values: [cutoff, from.deliveredAt, from.id, batchSize],
    });
    const rows = r.rows as Array<{ id: number; target: string; incident_id: number | null; remote_ref: string | null; delivered_at: number }>;
    const last = rows.at(-1);
    if (!last) return { deleted: 0, cursor: null, busy: false };
    const doomed: number[] = [];
    for (const row of rows) {
      if (row.remote_ref !== null && keepsReference(row.target)) {
        const newer = await c.query({
          name: 'sitrep_prune_newer_ref',
          text: `select 1 from outbox where target = $1 and incident_id is not distinct from $2::integer and id > $3
            and state = 'delivered' and remote_ref is not null limit 1`,
          values: [row.target, row.incident_id, row.id],
        });
        if (!newer.rowCount) continue;
      }
      doomed.push(Number(row.id));
    }
    const ids = rows.map((x) => Number(x.id));
    const folded = await c.query({
      name: 'sitrep_prune_folded',
      text: `delete from outbox where state = 'folded' and folded_into = any($1::integer[])`,
      values: [ids],
    });
    const deleted = doomed.length
      ? await c.query({ name: 'sitrep_prune_rows', text: `delete from outbox where state = 'delivered' and id = any($1::integer[])`, values: [doomed] })
      : { rowCount: 0 };
    return { deleted: (deleted.rowCount ?? 0) + (folded.rowCount ?? 0), cursor: { deliveredAt: Number(last.delivered_at), id: Number(last.id) }, busy: false };
  });
}
