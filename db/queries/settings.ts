import { eq, inArray } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../client.js';
import { first, isSqlite, tablesOf } from '../engine.js';
import { prepared, preparedSync } from './prepared.js';

export async function listApprovers(db: DbOrTx): Promise<string[]> {
  return (await db.select().from(tablesOf(db).approvers)).map((a) => a.userRef);
}

export async function getSetting(db: DbOrTx, key: string): Promise<string | undefined> {
  const { settings } = tablesOf(db);
  return (await first(db.select().from(settings).where(eq(settings.key, key))))?.value;
}

export async function setSetting(tx: Tx, key: string, value: string, by: string, at: number): Promise<void> {
  const { settings } = tablesOf(tx);
  await tx
    .insert(settings)
    .values({ key, value, updatedBy: by, updatedAt: at })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedBy: by, updatedAt: at } });
}

/**
 * getSetting with its statement prepared once per connection, for lookups on a hot path (the Teams
 * target's breaker key). Synchronous: the outbox worker's claim path (SQLite) asks it between two statements of a claim.
 */
export function readSetting(db: DbOrTx, key: string): string | undefined {
  return settingValue(preparedSync(db, READ_SETTING).get(key));
}

const READ_SETTING = 'select value from settings where key = ?';
function settingValue(row: unknown): string | undefined {
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
  const { settings } = tablesOf(db);
  await db
    .insert(settings)
    .values({ key, value: user, updatedBy: by, updatedAt: at })
    .onConflictDoUpdate({ target: settings.key, set: { value: user, updatedBy: by, updatedAt: at } });
}

export async function removePrivateMember(db: DbOrTx, incidentId: number, user: string): Promise<void> {
  const { settings } = tablesOf(db);
  await db.delete(settings).where(eq(settings.key, memberKey(incidentId, user)));
}

export async function isPrivateMember(db: DbOrTx, incidentId: number, user: string): Promise<boolean> {
  return settingValue(await prepared(db, READ_SETTING).get(memberKey(incidentId, user))) !== undefined;
}

/**
 * Several settings in one query (on either engine): the values of those of `keys` that are set.
 * The Teams targets load a claimed batch's conversation references with it on PostgreSQL.
 */
export async function getSettings(db: DbOrTx, keys: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const { settings } = tablesOf(db);
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = [...new Set(keys.slice(i, i + 500))];
    for (const r of await db.select({ key: settings.key, value: settings.value }).from(settings).where(inArray(settings.key, chunk))) out.set(r.key, r.value);
  }
  return out;
}

/**
 * True when `db` is a SQLite connection, whose synchronous lookups (readSetting, preparedSync) the
 * worker's hooks may call; false for any other handle (PostgreSQL's stand-in, db/open.ts), where a
 * target reads through the store instead.
 */
export function settingsAreSynchronous(db: DbOrTx): boolean {
  return isSqlite(db);
}
