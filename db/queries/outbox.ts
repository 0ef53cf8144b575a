import { randomUUID } from 'node:crypto';
import { and, desc, eq, inArray, isNotNull, like, lt } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../client.js';
import { outbox } from '../schema.js';
import { prepared } from './prepared.js';

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
export function insertOutboxRow(tx: Tx, now: number, input: OutboxInsert): number {
  const info = prepared(
    tx,
    `insert into outbox (delivery_id, incident_id, target, kind, payload, customer_facing, state, attempts, next_attempt_at, approved_at, deadline_at, created_at)
       values (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)`,
  ).run(
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
  return Number(info.lastInsertRowid);
}

/** Whether an incident has a row of one of these kinds still on its way (pending or in flight), optionally only in lanes starting with `targetPrefix`. */
export function hasRowOnItsWay(db: DbOrTx, incidentId: number, kinds: readonly string[], targetPrefix?: string): boolean {
  const row = db
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
    .get();
  return row !== undefined;
}

/** The remote reference of the latest delivered row before `beforeId` in one incident's lane of a target. */
export function lastDeliveredRemoteRef(db: DbOrTx, target: string, incidentId: number, beforeId: number): string | null {
  const row = db
    .select({ ref: outbox.remoteRef })
    .from(outbox)
    .where(
      and(eq(outbox.target, target), eq(outbox.incidentId, incidentId), eq(outbox.state, 'delivered'), isNotNull(outbox.remoteRef), lt(outbox.id, beforeId)),
    )
    .orderBy(desc(outbox.id))
    .limit(1)
    .get();
  return row?.ref ?? null;
}

/** Whether one incident's lane of a target has any row before `beforeId`. */
export function laneHasEarlierRow(db: DbOrTx, target: string, incidentId: number, beforeId: number): boolean {
  const row = db
    .select({ id: outbox.id })
    .from(outbox)
    .where(and(eq(outbox.target, target), eq(outbox.incidentId, incidentId), lt(outbox.id, beforeId)))
    .limit(1)
    .get();
  return row !== undefined;
}

/** Whether a platform message reference is one of our own delivered posts (lanes starting with `targetPrefix`). Prepared: every pinned-reaction event asks. */
export function isOwnPost(db: DbOrTx, remoteRef: string, targetPrefix: string): boolean {
  return prepared(db, 'select id from outbox where remote_ref = ? and target like ? limit 1').get(remoteRef, `${targetPrefix}%`) !== undefined;
}
