import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Tx } from '../../db/client.js';
import { outbox } from '../../db/schema.js';

export interface EnqueueInput {
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

const inserts = new WeakMap<Database.Database, Database.Statement>();

/**
 * Writes an outbox row inside the caller's transaction. Never sends anything itself. Every command
 * writes some, so the insert is prepared once per connection (the one the transaction runs on)
 * rather than built by drizzle each time; values are encoded by the schema's columns.
 */
export function enqueue(tx: Tx, now: number, input: EnqueueInput): number {
  const client = (tx as unknown as { session: { client: Database.Database } }).session.client;
  let stmt = inserts.get(client);
  if (!stmt) {
    stmt = client.prepare(
      `insert into outbox (delivery_id, incident_id, target, kind, payload, customer_facing, state, attempts, next_attempt_at, approved_at, deadline_at, created_at)
       values (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)`,
    );
    inserts.set(client, stmt);
  }
  const info = stmt.run(
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
