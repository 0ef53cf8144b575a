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

// Members of a private incident's Slack channel (need to know, src/domain/visibility.ts): those
// Sitrep invited and those Slack reports joining (member_joined_channel), until they leave. Kept as
// settings rows (`private_member:<incident id>:<user ref>`), one per member, so the feature needs
// no table of its own; a member is looked up by its key.
const memberKey = (incidentId: number, user: string) => `private_member:${incidentId}:${user}`;

export async function addPrivateMember(db: DbOrTx, incidentId: number, user: string, by: string, at: number): Promise<void> {
  const key = memberKey(incidentId, user);
  db.insert(settings)
    .values({ key, value: user, updatedBy: by, updatedAt: at })
    .onConflictDoUpdate({ target: settings.key, set: { value: user, updatedBy: by, updatedAt: at } })
    .run();
}

export async function removePrivateMember(db: DbOrTx, incidentId: number, user: string): Promise<void> {
  db.delete(settings)
    .where(eq(settings.key, memberKey(incidentId, user)))
    .run();
}

export async function isPrivateMember(db: DbOrTx, incidentId: number, user: string): Promise<boolean> {
  return readSetting(db, memberKey(incidentId, user)) !== undefined;
}
