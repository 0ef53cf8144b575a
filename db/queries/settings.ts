import { eq } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../client.js';
import { approvers, settings } from '../schema.js';
import { prepared } from './prepared.js';

export async function listApprovers(db: DbOrTx): Promise<string[]> {
  return db
    .select()
    .from(approvers)
    .all()
    .map((a) => a.userRef);
}

export async function getSetting(db: DbOrTx, key: string): Promise<string | undefined> {
  return db.select().from(settings).where(eq(settings.key, key)).get()?.value;
}

export async function setSetting(tx: Tx, key: string, value: string, by: string, at: number): Promise<void> {
  tx.insert(settings)
    .values({ key, value, updatedBy: by, updatedAt: at })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedBy: by, updatedAt: at } })
    .run();
}

/**
 * getSetting with its statement prepared once per connection, for lookups on a hot path (the Teams
 * target's breaker key). Synchronous: the outbox worker's claim path (SQLite) asks it between two statements of a claim.
 */
export function readSetting(db: DbOrTx, key: string): string | undefined {
  const row: unknown = prepared(db, 'select value from settings where key = ?').get(key);
  if (typeof row !== 'object' || row === null || !('value' in row)) return undefined;
  return typeof row.value === 'string' ? row.value : undefined;
}
