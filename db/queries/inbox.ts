import type { DbOrTx } from '../client.js';
import { prepared } from './prepared.js';

// The inbox: raw platform requests committed before they are acknowledged, deleted by the
// transaction that applies them. On the ack path, so every statement is prepared once per connection.

export interface StoredRequest {
  id: number;
  contentType: string;
  body: string;
}

/** Commits one raw request (autocommit outside a transaction: durable when this returns); its id. */
export function insertInboxRequest(db: DbOrTx, platform: string, receivedAt: number, contentType: string, body: string): number {
  const info = prepared(db, 'insert into inbox (platform, received_at, content_type, body) values (?, ?, ?, ?)').run(platform, receivedAt, contentType, body);
  return Number(info.lastInsertRowid);
}

/** Deletes a request's row; true when it was still there. */
export function deleteInboxRequest(db: DbOrTx, id: number): boolean {
  return prepared(db, 'delete from inbox where id = ?').run(id).changes === 1;
}

function toStoredRequest(r: unknown): StoredRequest[] {
  if (typeof r !== 'object' || r === null || !('id' in r) || !('contentType' in r) || !('body' in r)) return [];
  const { id, contentType, body } = r;
  return typeof id === 'number' && typeof contentType === 'string' && typeof body === 'string' ? [{ id, contentType, body }] : [];
}

/** A platform's stored requests, oldest first. */
export function inboxRequests(db: DbOrTx, platform: string): StoredRequest[] {
  return prepared(db, 'select id, content_type as contentType, body from inbox where platform = ? order by id').all(platform).flatMap(toStoredRequest);
}
