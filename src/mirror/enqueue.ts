import { randomUUID } from 'node:crypto';
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

/** Writes an outbox row inside the caller's transaction. Never sends anything itself. */
export function enqueue(tx: Tx, now: number, input: EnqueueInput): number {
  const row = tx
    .insert(outbox)
    .values({
      deliveryId: `msg_${randomUUID()}`,
      incidentId: input.incidentId,
      target: input.target,
      kind: input.kind,
      payload: input.payload,
      customerFacing: input.customerFacing ?? false,
      state: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      approvedAt: input.approvedAt ?? null,
      deadlineAt: input.deadlineAt ?? null,
      createdAt: now,
    })
    .returning({ id: outbox.id })
    .get();
  return row.id;
}
