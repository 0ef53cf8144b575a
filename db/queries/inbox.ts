import type { DbOrTx } from '../client.js';
import { and, asc, eq, lt } from 'drizzle-orm';
import { affected, isSqlite, tablesOf } from '../engine.js';
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
 * True when the inbox on `db` is SQLite's, whose synchronous functions above keep a request's
 * commit on the ack path free of any await. Elsewhere (PostgreSQL) the async ones below are used.
 */
export function inboxIsSynchronous(db: DbOrTx): boolean {
  return isSqlite(db);
}

// The same three on any engine, awaited: on PostgreSQL each runs in a store transaction (the
// insert and a discard in one of their own, committed before they resolve; the claim in the
// transaction of the work that applies the request).

/** Inserts one raw request in `tx`; its id. */
export async function insertInboxRequestAsync(tx: DbOrTx, platform: 'slack' | 'teams', receivedAt: number, contentType: string, body: string): Promise<number> {
  const { inbox } = tablesOf(tx);
  const [row] = await tx.insert(inbox).values({ platform, receivedAt, contentType, body }).returning({ id: inbox.id });
  return row!.id;
}

/** Deletes a request's row in `tx`; true when it was still there (no other run claimed it first). */
export async function deleteInboxRequestAsync(tx: DbOrTx, id: number): Promise<boolean> {
  const { inbox } = tablesOf(tx);
  return affected(await tx.delete(inbox).where(eq(inbox.id, id))) === 1;
}

/** A platform's stored requests, oldest first. */
export async function inboxRequestsAsync(db: DbOrTx, platform: 'slack' | 'teams', receivedBefore?: number): Promise<StoredRequest[]> {
  const { inbox } = tablesOf(db);
  const rows = await db
    .select({ id: inbox.id, contentType: inbox.contentType, body: inbox.body })
    .from(inbox)
    .where(receivedBefore === undefined ? eq(inbox.platform, platform) : and(eq(inbox.platform, platform), lt(inbox.receivedAt, receivedBefore)))
    .orderBy(asc(inbox.id));
  return rows.flatMap(toStoredRequest);
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
