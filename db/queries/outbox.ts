import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, like, lt } from 'drizzle-orm';
import type { Statement } from 'better-sqlite3';
import type { Db, DbOrTx, Tx } from '../client.js';
import { affected, first, isSqlite, tablesOf, type Tables } from '../engine.js';
import type { outbox } from '../schema.js';
import { prepared } from './prepared.js';

type Outbox = Tables['outbox'];

/** One incident's rows, or with null the rows of no incident (a maintenance's lane names it in the target). */
const ofIncident = (outbox: Outbox, incidentId: number | null) => (incidentId === null ? isNull(outbox.incidentId) : eq(outbox.incidentId, incidentId));

export interface OutboxInsert {
  incidentId: number | null;
  /** Names the Target and the ordering lane: deliveries to one (incident, target) go in order. */
  target: string;
  kind: string;
  payload: Record<string, unknown>;
  /** Customer-facing rows are folded when several wait, marked late, and dead-lettered at a deadline. */
  customerFacing?: boolean;
  approvedAt?: number | null;
  deadlineAt?: number | null;
}

/**
 * Writes one pending outbox row in the caller's transaction and returns its id. Every command
 * writes some, so the insert is prepared once per connection; values are encoded by the schema's
 * columns, times are epoch milliseconds. src/mirror/enqueue.ts is this.
 */
export async function insertOutboxRow(tx: Tx, now: number, input: OutboxInsert): Promise<number> {
  const { outbox } = tablesOf(tx);
  return prepared(
    tx,
    `insert into outbox (delivery_id, incident_id, target, kind, payload, customer_facing, state, attempts, next_attempt_at, approved_at, deadline_at, created_at)
       values (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)`,
  ).insert(
    `msg_${randomUUID()}`,
    input.incidentId,
    input.target,
    input.kind,
    outbox.payload.mapToDriverValue(input.payload),
    outbox.customerFacing.mapToDriverValue(input.customerFacing ?? false),
    now,
    input.approvedAt ?? null,
    input.deadlineAt ?? null,
    now,
  );
}

/** Whether an incident has a row of one of these kinds still on its way (pending or in flight), optionally only in lanes starting with `targetPrefix`. */
export async function hasRowOnItsWay(db: DbOrTx, incidentId: number, kinds: readonly string[], targetPrefix?: string): Promise<boolean> {
  const { outbox } = tablesOf(db);
  const row = await first(
    db
      .select({ id: outbox.id })
      .from(outbox)
      .where(
        and(
          eq(outbox.incidentId, incidentId),
          inArray(outbox.kind, [...kinds]),
          targetPrefix === undefined ? undefined : like(outbox.target, `${targetPrefix}%`),
          inArray(outbox.state, ['pending', 'in_flight']),
        ),
      )
      .limit(1),
  );
  return row !== undefined;
}

/** The remote reference of the latest delivered row before `beforeId` in one incident's lane of a target. */
export async function lastDeliveredRemoteRef(db: DbOrTx, target: string, incidentId: number | null, beforeId: number): Promise<string | null> {
  const { outbox } = tablesOf(db);
  const row = await first(
    db
      .select({ ref: outbox.remoteRef })
      .from(outbox)
      .where(
        and(eq(outbox.target, target), ofIncident(outbox, incidentId), eq(outbox.state, 'delivered'), isNotNull(outbox.remoteRef), lt(outbox.id, beforeId)),
      )
      .orderBy(desc(outbox.id))
      .limit(1),
  );
  return row?.ref ?? null;
}

/** Whether one lane (an incident's, or with a null incident a maintenance's, named in `target`) has any row before `beforeId`. */
export async function laneHasEarlierRow(db: DbOrTx, target: string, incidentId: number | null, beforeId: number): Promise<boolean> {
  const { outbox } = tablesOf(db);
  const row = await first(
    db
      .select({ id: outbox.id })
      .from(outbox)
      .where(and(eq(outbox.target, target), ofIncident(outbox, incidentId), lt(outbox.id, beforeId)))
      .limit(1),
  );
  return row !== undefined;
}

/** Whether a platform message reference is one of our own delivered posts (lanes starting with `targetPrefix`). Prepared: every pinned-reaction event asks. */
export async function isOwnPost(db: DbOrTx, remoteRef: string, targetPrefix: string): Promise<boolean> {
  return (await prepared(db, 'select id from outbox where remote_ref = ? and target like ? limit 1').get(remoteRef, `${targetPrefix}%`)) !== undefined;
}

export type OutboxRow = typeof outbox.$inferSelect;

/** The latest `limit` rows (of one incident, or all), oldest first. */
export async function recentOutboxRows(db: DbOrTx, incidentId: number | undefined, limit: number): Promise<OutboxRow[]> {
  const { outbox } = tablesOf(db);
  const q = db.select().from(outbox);
  return (await (incidentId === undefined ? q : q.where(eq(outbox.incidentId, incidentId))).orderBy(desc(outbox.id)).limit(limit)).reverse();
}

export async function findOutboxRow(db: DbOrTx, id: number): Promise<OutboxRow | undefined> {
  const { outbox } = tablesOf(db);
  return first(db.select().from(outbox).where(eq(outbox.id, id)));
}

/** Puts a dead letter back in its lane, due now; false when it is no longer dead. */
export async function requeueDeadRow(tx: Tx, id: number, p: { now: number; deadlineAt: number | null; note: string }): Promise<boolean> {
  const { outbox } = tablesOf(tx);
  return (
    affected(
      await tx
        .update(outbox)
        .set({ state: 'pending', attempts: 0, nextAttemptAt: p.now, claimedUntil: null, deadlineAt: p.deadlineAt, lastError: p.note })
        .where(and(eq(outbox.id, id), eq(outbox.state, 'dead'))),
    ) === 1
  );
}

/** The newest outbox row's id, 0 when there is none: a mark to count what is written after it. */
export async function lastOutboxId(db: DbOrTx): Promise<number> {
  const row = (await prepared(db, 'select coalesce(max(id), 0) as id from outbox').get()) as { id: unknown };
  return Number(row.id);
}

/** Whether any row, of any lane, is still on its way (pending or in flight). */
export async function anyRowOnItsWay(db: DbOrTx): Promise<boolean> {
  return (await prepared(db, "select id from outbox where state in ('pending', 'in_flight') limit 1").get()) !== undefined;
}

/** How many rows after `afterId` are in each state. */
export async function statesAfter(db: DbOrTx, afterId: number): Promise<Map<string, number>> {
  const rows = (await prepared(db, 'select state, count(*) as n from outbox where id > ? group by state').all(afterId)) as Array<{
    state: unknown;
    n: unknown;
  }>;
  return new Map(rows.map((r) => [String(r.state), Number(r.n)]));
}

/** The first row after `afterId` in the same lane that was already delivered, if any. */
export async function deliveredAfter(db: DbOrTx, target: string, incidentId: number | null, afterId: number): Promise<number | undefined> {
  const { outbox } = tablesOf(db);
  return (
    await first(
      db
        .select({ id: outbox.id })
        .from(outbox)
        .where(and(eq(outbox.target, target), ofIncident(outbox, incidentId), eq(outbox.state, 'delivered'), gt(outbox.id, afterId)))
        .orderBy(asc(outbox.id))
        .limit(1),
    )
  )?.id;
}

/** A row's state and lane (undefined when it is gone: pruned, or never committed). */
export async function outboxRowState(db: DbOrTx, id: number): Promise<{ state: string; target: string } | undefined> {
  const row: unknown = await prepared(db, 'select state, target from outbox where id = ?').get(id);
  if (typeof row !== 'object' || row === null || !('state' in row) || !('target' in row)) return undefined;
  return typeof row.state === 'string' && typeof row.target === 'string' ? { state: row.state, target: row.target } : undefined;
}

/**
 * The newest root post or edit of a thread lane: rows of a lane go out in id order. A maintenance's
 * lane has no incident (null) and is named by its target alone.
 */
export async function lastRootRow(db: DbOrTx, target: string, incidentId: number | null): Promise<{ id: number; state: string } | undefined> {
  // `incident_id is ?` would do on SQLite; PostgreSQL has no such comparison that uses an index.
  const row: unknown =
    incidentId === null
      ? await prepared(
          db,
          "select id, state from outbox where target = ? and incident_id is null and kind in ('root_post', 'root_update') order by id desc limit 1",
        ).get(target)
      : await prepared(
          db,
          "select id, state from outbox where target = ? and incident_id = ? and kind in ('root_post', 'root_update') order by id desc limit 1",
        ).get(target, incidentId);
  if (typeof row !== 'object' || row === null || !('id' in row) || !('state' in row)) return undefined;
  return typeof row.id === 'number' && typeof row.state === 'string' ? { id: row.id, state: row.state } : undefined;
}

/**
 * The platform's reference of a draft's approval request: the delivered thread reply in `target`'s
 * lane that carried the draft's buttons. Undefined when it was never posted (nothing to edit). The
 * payloads are compared here, not in SQL, so the query needs no engine's JSON functions; a lane has
 * few delivered replies per incident next to what a command already reads.
 */
export async function approvalRequestRef(db: DbOrTx, target: string, incidentId: number | null, draftId: number): Promise<string | undefined> {
  const { outbox } = tablesOf(db);
  const rows = await db
    .select({ ref: outbox.remoteRef, payload: outbox.payload })
    .from(outbox)
    .where(
      and(
        eq(outbox.target, target),
        incidentId === null ? isNull(outbox.incidentId) : eq(outbox.incidentId, incidentId),
        eq(outbox.kind, 'thread_reply'),
        eq(outbox.state, 'delivered'),
      ),
    )
    .orderBy(desc(outbox.id));
  return rows.find((r) => r.payload.draftId === draftId)?.ref ?? undefined;
}

/** Which of `targets` already have a row for the incident (one query per 500 targets). */
export async function targetsWithRows(db: DbOrTx, incidentId: number, targets: readonly string[]): Promise<Set<string>> {
  const { outbox } = tablesOf(db);
  const started = new Set<string>();
  for (let i = 0; i < targets.length; i += 500) {
    const chunk = targets.slice(i, i + 500);
    for (const r of await db
      .selectDistinct({ target: outbox.target })
      .from(outbox)
      .where(and(eq(outbox.incidentId, incidentId), inArray(outbox.target, chunk))))
      started.add(r.target);
  }
  return started;
}

/**
 * Which of these lanes without an incident (a maintenance's lanes, `slack:C1|M-3`) already have a
 * row (one query per 500 lanes).
 */
export async function lanesWithRows(db: DbOrTx, lanes: readonly string[]): Promise<Set<string>> {
  const { outbox } = tablesOf(db);
  const started = new Set<string>();
  for (let i = 0; i < lanes.length; i += 500) {
    const chunk = lanes.slice(i, i + 500);
    for (const r of await db
      .selectDistinct({ target: outbox.target })
      .from(outbox)
      .where(and(isNull(outbox.incidentId), inArray(outbox.target, chunk))))
      started.add(r.target);
  }
  return started;
}

/** Dead-letters one row if it is still in state `from`; the row as it now stands, else undefined. */
export async function markDead(tx: Tx, id: number, from: 'pending' | 'in_flight', reason: string): Promise<OutboxRow | undefined> {
  const { outbox } = tablesOf(tx);
  const res = await tx
    .update(outbox)
    .set({ state: 'dead', lastError: reason, claimedUntil: null })
    .where(and(eq(outbox.id, id), eq(outbox.state, from)));
  if (affected(res) !== 1) return undefined;
  return first(tx.select().from(outbox).where(eq(outbox.id, id)));
}

// /metrics for deliveries (src/mirror/metrics.ts). A scrape's cost does not grow with outbox
// history: pending and dead rows are counted through the (state, …) index, and delivered and
// folded rows are never counted but added up as they happen, by a temporary trigger that adds to a
// temporary table in the same transaction as the change (this connection's transitions only).
// Synchronous, as a Prometheus collector is: a scrape reads two small results on the connection.

// A target's kind in SQL (src/mirror/metrics.ts kindOf), so rows are grouped by kind without
// reading their targets out: the part before the first ':', or for a plain target in a
// maintenance's lane (`statuspage|M-3`) the part before the lane's mark.
const KIND_SQL = (col: string) =>
  `case when instr(${col}, ':') > 0 then substr(${col}, 1, instr(${col}, ':') - 1) when instr(${col}, '|') > 0 then substr(${col}, 1, instr(${col}, '|') - 1) else ${col} end`;

const DELIVERY_COUNTS_SETUP = [
  `create temp table if not exists delivery_counts (kind text not null, outcome text not null, n integer not null, primary key (kind, outcome))`,
  `create temp trigger if not exists delivery_counts_on_outcome after update of state on main.outbox
     when new.state <> old.state and new.state in ('delivered', 'folded')
     begin
       insert into temp.delivery_counts (kind, outcome, n) values (${KIND_SQL('new.target')}, new.state, 1)
         on conflict (kind, outcome) do update set n = n + 1;
     end`,
];

// The same kinds in PostgreSQL's words (strpos, substr).
const KIND_PG = (col: string) =>
  `case when strpos(${col}, ':') > 0 then substr(${col}, 1, strpos(${col}, ':') - 1) when strpos(${col}, '|') > 0 then substr(${col}, 1, strpos(${col}, '|') - 1) else ${col} end`;

const LIVE_DELIVERIES = {
  sqlite: `select ${KIND_SQL('target')} as kind, state, count(*) as n from outbox where state in ('pending', 'in_flight', 'dead') group by 1, 2`,
  pg: `select ${KIND_PG('target')} as kind, state, count(*) as n from outbox where state in ('pending', 'in_flight', 'dead') group by 1, 2`,
};

/**
 * Rows waiting, being sent or dead, by kind and state, on either engine, awaited: what
 * openDeliveryCounts' `live` counts, for PostgreSQL's /metrics (refreshed in the background, read by
 * the collector synchronously).
 */
export async function liveDeliveryCounts(db: DbOrTx): Promise<Array<{ kind: string; state: string; n: number }>> {
  const rows = (await prepared(db, LIVE_DELIVERIES).all()) as Array<{ kind: unknown; state: unknown; n: unknown }>;
  return rows.map((r) => ({ kind: String(r.kind), state: String(r.state), n: Number(r.n) }));
}

interface DeliveryCountQueries {
  live: Statement<[], { kind: string; state: string; n: number }>;
  counted: Statement<[], { kind: string; outcome: string; n: number }>;
}

/**
 * Starts counting this connection's deliveries (the temporary table and trigger) and returns the
 * scrape: rows waiting, being sent or dead by kind and state (`live`), and this connection's
 * delivered and folded transitions by kind and outcome (`counted`). Kinds are the targets' prefixes
 * as stored; the statements are prepared on the first scrape and kept.
 */
export function openDeliveryCounts(db: Db): () => {
  live: Array<{ kind: string; state: string; n: number }>;
  counted: Array<{ kind: string; outcome: string; n: number }>;
} {
  // PostgreSQL's deliveries are counted with its own outbox worker, still to come: nothing yet.
  if (!isSqlite(db)) return () => ({ live: [], counted: [] });
  const client = db.$client;
  for (const stmt of DELIVERY_COUNTS_SETUP) client.exec(stmt);
  let q: DeliveryCountQueries | null = null;
  const queries = (): DeliveryCountQueries =>
    (q ??= {
      // One index range per state: only rows waiting, being sent or dead-lettered are read.
      live: client.prepare(`
        select ${KIND_SQL('target')} as kind, state, count(*) as n from outbox
        where state in ('pending', 'in_flight', 'dead')
        group by 1, 2`),
      counted: client.prepare('select kind, outcome, n from temp.delivery_counts'),
    });
  return () => ({ live: queries().live.all(), counted: queries().counted.all() });
}
