import type { Statement } from 'better-sqlite3';
import { and, asc, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import type { Db, Tx } from '../client.js';
import { outbox } from '../schema.js';
import type { OutboxRow } from './outbox.js';

// The outbox worker's queries (src/mirror/worker.ts): finding due lane heads, claiming them,
// folding, recording outcomes, housekeeping.
//
// Synchronous by design, unlike the rest of this folder: the outbox engine's claim path runs
// synchronous SQLite statements in one IMMEDIATE transaction on the writer connection, and no other
// work may run between two of them (a claim re-checks its row in SQL and must see nothing change
// before it is marked in flight). The only other things it asks in between are the few lookups its
// Targets' hooks make, each marked so (threadChannels, readSetting, subscriptionLookup). A second
// engine gets its own module for this, with its own claim path, not an async version of this one.
//
// The statements every delivery runs are prepared once per connection (raw SQL on the worker's
// connection, rows decoded by the schema's own columns, exactly as drizzle would return them): the
// worker calls workerStatements once and keeps what it returns. The rare paths (folding, dead
// letters, housekeeping) stay with drizzle.

export type { OutboxRow };

const outboxColumns = Object.entries(getTableColumns(outbox));
const outboxSelect = outboxColumns.map(([, c]) => `"${c.name}"`).join(', ');

/**
 * A row as drizzle would return it, except that the payload (a webhook's whole body) is parsed
 * only when something reads it: a row looked at and then left waiting costs no JSON parse.
 */
function outboxRow(raw: unknown[]): OutboxRow {
  const row: Record<string, unknown> = {};
  outboxColumns.forEach(([key, col], i) => {
    const v = raw[i];
    if (key === 'payload' && typeof v === 'string') {
      let parsed: unknown;
      Object.defineProperty(row, key, {
        enumerable: true,
        configurable: true,
        get: () => (parsed ??= col.mapFromDriverValue(v)),
        set: (value: unknown) => void (parsed = value),
      });
      return;
    }
    row[key] = v === null || v === undefined ? null : col.mapFromDriverValue(v);
  });
  return row as OutboxRow;
}

interface Statements {
  dueHeads: Statement<[number, number, number, number, number]>;
  rowById: Statement<[number]>;
  claim: Statement<[number, number, number]>;
  waitingBehind: Statement<[string, number | null, number], { id: number; customerFacing: number }>;
  laneHead: Statement<[string, number | null], { id: number; nextAttemptAt: number }>;
  foldedCount: Statement<[number], { n: number }>;
  previousRef: Statement<[string, number | null], { remoteRef: string }>;
  delivered: Statement<[number, string | null, number]>;
  retry: Statement<[number, string, number]>;
}

// The heads of due lanes: see OutboxWorker.loadPage. Only what picking a row needs is read.
const DUE_HEADS = `
      with recursive lanes(id) as (
        select (select id from outbox where state = 'pending' order by state, target, incident_id, id limit 1)
        union all
        select coalesce(
          (select n.id from outbox n
            where n.state = 'pending' and n.target = o.target
              and n.incident_id > coalesce(o.incident_id, -9223372036854775808)
            order by n.state, n.target, n.incident_id, n.id limit 1),
          (select n.id from outbox n
            where n.state = 'pending' and n.target > o.target
            order by n.state, n.target, n.incident_id, n.id limit 1))
        from lanes l join outbox o on o.id = l.id
      )
      select h.id, h.target, h.incident_id, h.next_attempt_at from lanes l join outbox h on h.id = l.id
      where h.next_attempt_at <= ?
        and (h.next_attempt_at > ? or (h.next_attempt_at = ? and h.id > ?))
        and not exists (
          select 1 from outbox p
          where p.state = 'in_flight' and p.target = h.target and p.incident_id is h.incident_id and p.id < h.id)
      order by h.next_attempt_at, h.id
      limit ?`;

function prepareStatements(client: Db['$client']): Statements {
  return {
    dueHeads: client.prepare(DUE_HEADS),
    rowById: client.prepare(`select ${outboxSelect} from outbox where id = ?`),
    claim: client.prepare(`
      update outbox set state = 'in_flight', attempts = attempts + 1, claimed_until = ?
      where id = ? and state = 'pending' and next_attempt_at <= ?
        and not exists (
          select 1 from outbox p
          where p.target = outbox.target and p.incident_id is outbox.incident_id
            and p.state in ('pending', 'in_flight') and p.id < outbox.id)`),
    waitingBehind: client.prepare(`
      select id, customer_facing as customerFacing from outbox
      where state = 'pending' and target = ? and incident_id is ? and id > ?
      order by id`),
    laneHead: client.prepare(`
      select id, next_attempt_at as nextAttemptAt from outbox
      where state = 'pending' and target = ? and incident_id is ?
      order by id limit 1`),
    foldedCount: client.prepare('select count(*) as n from outbox where folded_into = ?'),
    previousRef: client.prepare(`
      select remote_ref as remoteRef from outbox
      where target = ? and incident_id is ? and state = 'delivered' and remote_ref is not null
      order by id desc limit 1`),
    delivered: client.prepare(
      "update outbox set state = 'delivered', delivered_at = ?, remote_ref = ?, claimed_until = null, last_error = null where id = ? and state = 'in_flight'",
    ),
    retry: client.prepare(
      "update outbox set state = 'pending', next_attempt_at = ?, last_error = ?, claimed_until = null where id = ? and state = 'in_flight'",
    ),
  };
}

/** A due lane head as the scan reads it: [id, target, incidentId, nextAttemptAt]. Ids only, no body. */
export type DueHead = [id: number, target: string, incidentId: number | null, nextAttemptAt: number];

/** A due head as the scan returns it (id, target, incident_id, next_attempt_at), checked. */
function dueHead(raw: unknown): DueHead {
  if (Array.isArray(raw) && raw.length === 4) {
    const [id, target, incidentId, at]: unknown[] = raw;
    if (typeof id === 'number' && typeof target === 'string' && (incidentId === null || typeof incidentId === 'number') && typeof at === 'number')
      return [id, target, incidentId, at];
  }
  throw new Error('the outbox lane scan returned an unreadable row');
}

/** The worker's hot statements, prepared on one connection. A lane is (target, incidentId); NULL incidents form one lane. */
export interface WorkerStatements {
  /**
   * Up to `limit` heads of due lanes (due at `now`), oldest due first, after the keyset cursor
   * (`afterAt`, `afterId`); a lane whose older row is still in flight is left out.
   */
  dueHeads(now: number, afterAt: number, afterId: number, limit: number): DueHead[];
  /** The whole row (payload decoded when read), undefined when it is gone. */
  rowById(id: number): OutboxRow | undefined;
  /**
   * Marks the row in flight (one more attempt, leased until `leaseUntil`) if it is still pending,
   * due at `now` and the oldest unfinished row of its lane; true when it was.
   */
  claim(leaseUntil: number, id: number, now: number): boolean;
  /** The pending rows after `afterId` in a lane, in id order (stop iterating early to leave the rest unread). */
  waitingBehind(target: string, incidentId: number | null, afterId: number): IterableIterator<{ id: number; customerFacing: number }>;
  /** A lane's oldest pending row, if any. */
  laneHead(target: string, incidentId: number | null): { id: number; nextAttemptAt: number } | undefined;
  /** How many rows were folded into this one. */
  foldedCount(id: number): number;
  /** The remote reference of the lane's latest delivered row, if any. */
  previousRef(target: string, incidentId: number | null): string | null;
  /** Records an in-flight row delivered. */
  delivered(now: number, remoteRef: string | null, id: number): void;
  /** Puts an in-flight row back to pending, due at `nextAttemptAt`. */
  retry(nextAttemptAt: number, error: string, id: number): void;
}

/**
 * Prepares the worker's statements on `db`'s connection: call once per connection and keep the
 * result. The lane scan (`dueHeads`) runs on `scanDb`, the store's read-only connection, when
 * given: it reads committed rows only, which is all it needs, since a row it offers is claimed by
 * the conditional `claim` on the writer (a head claimed meanwhile simply is not claimed again).
 */
export function workerStatements(db: Db, scanDb: Db = db): WorkerStatements {
  const q = prepareStatements(db.$client);
  const scan: Statements['dueHeads'] = scanDb === db ? q.dueHeads : scanDb.$client.prepare(DUE_HEADS);
  return {
    dueHeads: (now, afterAt, afterId, limit) => scan.raw().all(now, afterAt, afterAt, afterId, limit).map(dueHead),
    rowById: (id) => {
      const raw: unknown = q.rowById.raw().get(id);
      return Array.isArray(raw) ? outboxRow(raw) : undefined;
    },
    claim: (leaseUntil, id, now) => q.claim.run(leaseUntil, id, now).changes === 1,
    waitingBehind: (target, incidentId, afterId) => q.waitingBehind.iterate(target, incidentId, afterId),
    laneHead: (target, incidentId) => q.laneHead.get(target, incidentId),
    foldedCount: (id) => q.foldedCount.get(id)?.n ?? 0,
    previousRef: (target, incidentId) => q.previousRef.get(target, incidentId)?.remoteRef ?? null,
    delivered: (now, remoteRef, id) => void q.delivered.run(now, remoteRef, id),
    retry: (nextAttemptAt, error, id) => void q.retry.run(nextAttemptAt, error, id),
  };
}

/**
 * Runs `fn` in one IMMEDIATE transaction on the worker's connection; it commits when `fn` returns
 * and rolls back when it throws (or when the write lock could not be had within the busy timeout),
 * rethrowing.
 */
export function inClaimTransaction(db: Db, fn: () => void): void {
  db.transaction(() => fn(), { behavior: 'immediate' });
}

/**
 * Rows left in flight past their lease (their process died) go back to pending, noting why; how
 * many did.
 */
export function reclaimExpired(db: Tx, now: number, note: string): number {
  return db
    .update(outbox)
    .set({ state: 'pending', claimedUntil: null, lastError: note })
    .where(and(eq(outbox.state, 'in_flight'), sql`${outbox.claimedUntil} < ${now}`))
    .run().changes;
}

export interface OverdueRow {
  id: number;
  deadlineAt: number | null;
  approvedAt: number | null;
  createdAt: number;
  lastError: string | null;
  attempts: number;
}

/**
 * Pending customer-facing rows past their deadline (theirs, or `defaultDeadlineMs` after approval,
 * or after creation), oldest first: what the dead letter's reason needs, not the body.
 */
export function overdueCustomerFacing(db: Tx, now: number, defaultDeadlineMs: number): OverdueRow[] {
  const deadline = sql`coalesce(${outbox.deadlineAt}, coalesce(${outbox.approvedAt}, ${outbox.createdAt}) + ${defaultDeadlineMs})`;
  return db
    .select({
      id: outbox.id,
      deadlineAt: outbox.deadlineAt,
      approvedAt: outbox.approvedAt,
      createdAt: outbox.createdAt,
      lastError: outbox.lastError,
      attempts: outbox.attempts,
    })
    .from(outbox)
    .where(and(eq(outbox.state, 'pending'), eq(outbox.customerFacing, true), sql`${deadline} <= ${now}`))
    .orderBy(asc(outbox.id))
    .all();
}

/** Leaves a pending row waiting until `nextAttemptAt`, noting why (nothing delivers to its target). */
export function postponePending(db: Tx, id: number, note: string, nextAttemptAt: number): void {
  db.update(outbox)
    .set({ lastError: note, nextAttemptAt })
    .where(and(eq(outbox.id, id), eq(outbox.state, 'pending')))
    .run();
}

/**
 * Folds the `superseded` rows (the claimed head and the rows waiting behind it) into `newest`,
 * which is claimed in their place: one more attempt, leased until `leaseUntil`. Rows folded into a
 * superseded row before now count as folded into `newest`.
 */
export function foldInto(db: Tx, superseded: number[], newest: number, leaseUntil: number): void {
  db.update(outbox).set({ state: 'folded', foldedInto: newest, claimedUntil: null }).where(inArray(outbox.id, superseded)).run();
  db.update(outbox).set({ foldedInto: newest }).where(inArray(outbox.foldedInto, superseded)).run();
  db.update(outbox)
    .set({ state: 'in_flight', attempts: sql`${outbox.attempts} + 1`, claimedUntil: leaseUntil })
    .where(eq(outbox.id, newest))
    .run();
}

/**
 * Rows delivered at or after `since` (their delivered_at), oldest first: what a worker starting up
 * reads to keep the pace of keys its predecessor posted to a moment ago. The ids come from a seek
 * in the delivered-age index; each row is read as it is iterated (other statements may run in
 * between), its payload decoded only when something reads it, so a wide fan-out delivered just
 * before is never in memory at once.
 */
export function* deliveredSince(db: Db, since: number): Generator<OutboxRow> {
  const ids = db.$client.prepare("select id from outbox where state = 'delivered' and delivered_at >= ? order by delivered_at").pluck().all(since);
  const byId = db.$client.prepare(`select ${outboxSelect} from outbox where id = ?`).raw();
  for (const id of ids) {
    const raw: unknown = byId.get(id);
    if (Array.isArray(raw)) yield outboxRow(raw);
  }
}
