import type { DbOrTx } from '../client.js';
import { lt } from 'drizzle-orm';
import { affected, tablesOf } from '../engine.js';
import { preparedSync } from './prepared.js';

// The inbox: raw platform requests committed before they are acknowledged, deleted by the
// transaction that applies them. On the ack path, so every statement is prepared once per connection.
// Synchronous: a request is committed before anything can acknowledge it, in the order requests
// arrive, and claimed inside the transaction that applies it (Slack's receiver, SQLite).

export interface StoredRequest {
  id: number;
  contentType: string;
  body: string;
}

/** Commits one raw request (autocommit outside a transaction: durable when this returns); its id. */
export function insertInboxRequest(db: DbOrTx, platform: string, receivedAt: number, contentType: string, body: string): number {
  const info = preparedSync(db, 'insert into inbox (platform, received_at, content_type, body) values (?, ?, ?, ?)').run(
    platform,
    receivedAt,
    contentType,
    body,
  );
  return Number(info.lastInsertRowid);
}

/** Deletes a request's row; true when it was still there. */
export function deleteInboxRequest(db: DbOrTx, id: number): boolean {
  return preparedSync(db, 'delete from inbox where id = ?').run(id).changes === 1;
}

function toStoredRequest(r: unknown): StoredRequest[] {
  if (typeof r !== 'object' || r === null || !('id' in r) || !('contentType' in r) || !('body' in r)) return [];
  const { id, contentType, body } = r;
  return typeof id === 'number' && typeof contentType === 'string' && typeof body === 'string' ? [{ id, contentType, body }] : [];
}

/** A platform's stored requests, oldest first. */
export function inboxRequests(db: DbOrTx, platform: string): StoredRequest[] {
  return preparedSync(db, 'select id, content_type as contentType, body from inbox where platform = ? order by id').all(platform).flatMap(toStoredRequest);
}

/**
 * Records that a platform's request `id` was applied; false when it was recorded before (a
 * redelivery or a double click), in which case nothing else should be applied.
 */
export async function recordProcessedEvent(tx: DbOrTx, platform: string, id: string, at: number): Promise<boolean> {
  const { processedEvents } = tablesOf(tx);
  return affected(await tx.insert(processedEvents).values({ platform, eventId: id, at }).onConflictDoNothing()) > 0;
}

/** Forgets processed request ids older than `before` (platforms redeliver for minutes, not days). */
export async function pruneProcessedEvents(tx: DbOrTx, before: number): Promise<void> {
  const { processedEvents } = tablesOf(tx);
  await tx.delete(processedEvents).where(lt(processedEvents.at, before));
}
