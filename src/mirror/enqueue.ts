import type { WriteTx } from '../../db/store.js';
import { insertOutboxRow, type OutboxInsert } from '../../db/queries/outbox.js';

/**
 * Writes an outbox row inside the caller's transaction. Never sends anything itself. The insert
 * (prepared once per connection, values encoded by the schema's columns) lives in
 * db/queries/outbox.ts.
 */
export function enqueue(tx: WriteTx, now: number, input: OutboxInsert): Promise<number> {
  return insertOutboxRow(tx, now, input);
}
