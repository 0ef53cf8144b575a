import { randomUUID } from 'node:crypto';
import type { Tx } from '../client.js';
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
