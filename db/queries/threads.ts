import { and, eq } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { first, tablesOf } from '../engine.js';
import type { incidentThreads, maintenanceThreads } from '../schema.js';
import { prepared, preparedSync } from './prepared.js';

export type ThreadPlatform = 'slack' | 'teams';
export type ThreadRow = typeof incidentThreads.$inferSelect;

/** An incident's threads on one platform (its incidents-channel thread and, on Slack, its own channel). */
export async function threadRows(db: DbOrTx, incidentId: number, platform: ThreadPlatform): Promise<ThreadRow[]> {
  const { incidentThreads } = tablesOf(db);
  return db
    .select()
    .from(incidentThreads)
    .where(and(eq(incidentThreads.incidentId, incidentId), eq(incidentThreads.platform, platform)));
}

export interface ThreadChannel {
  channel: string;
  dedicated: boolean;
}

function toThreadChannel(r: unknown): ThreadChannel[] {
  if (typeof r !== 'object' || r === null || !('channel' in r) || !('dedicated' in r)) return [];
  const { channel, dedicated } = r;
  return typeof channel === 'string' ? [{ channel, dedicated: Boolean(dedicated) }] : [];
}

/**
 * The channels of an incident's threads on one platform. The worker asks for these for every due
 * head (its pace key), so the statement is prepared once per connection.
 * Synchronous: the outbox worker's claim path (SQLite) asks it between two statements of a claim.
 */
export function threadChannels(db: DbOrTx, incidentId: number, platform: ThreadPlatform): ThreadChannel[] {
  return preparedSync(db, THREAD_CHANNELS).all(incidentId, platform).flatMap(toThreadChannel);
}

const THREAD_CHANNELS = 'select channel, dedicated from incident_threads where incident_id = ? and platform = ?';

/** threadChannels on either engine (a command's transaction asks it). */
export async function findThreadChannels(db: DbOrTx, incidentId: number, platform: ThreadPlatform): Promise<ThreadChannel[]> {
  return (await prepared(db, THREAD_CHANNELS).all(incidentId, platform)).flatMap(toThreadChannel);
}

/** Remembers the platform's reference of a thread's root message. */
export async function setThreadRoot(db: DbOrTx, incidentId: number, platform: ThreadPlatform, channel: string, rootRef: string): Promise<void> {
  const { incidentThreads } = tablesOf(db);
  await db
    .update(incidentThreads)
    .set({ rootRef })
    .where(and(eq(incidentThreads.incidentId, incidentId), eq(incidentThreads.platform, platform), eq(incidentThreads.channel, channel)));
}

export async function insertThread(
  db: DbOrTx,
  row: { incidentId: number; platform: ThreadPlatform; channel: string; rootRef: string | null; dedicated: boolean; createdAt: number },
): Promise<void> {
  await db.insert(tablesOf(db).incidentThreads).values(row);
}

export interface ChannelThread {
  incidentId: number;
  rootRef: string | null;
  dedicated: boolean;
}

function toChannelThread(r: unknown): ChannelThread[] {
  if (typeof r !== 'object' || r === null || !('incidentId' in r) || !('rootRef' in r) || !('dedicated' in r)) return [];
  const { incidentId, rootRef, dedicated } = r;
  if (typeof incidentId !== 'number' || (rootRef !== null && typeof rootRef !== 'string')) return [];
  return [{ incidentId, rootRef, dedicated: Boolean(dedicated) }];
}

/** The incident threads in one channel of a platform. On Slack's ack path: prepared once per connection. */
export async function threadsInChannel(db: DbOrTx, platform: ThreadPlatform, channel: string): Promise<ChannelThread[]> {
  return (
    await prepared(db, 'select incident_id as "incidentId", root_ref as "rootRef", dedicated from incident_threads where platform = ? and channel = ?').all(
      platform,
      channel,
    )
  ).flatMap(toChannelThread);
}

/** The incident whose thread in `channel` starts at the root message `rootRef`, if any (prepared: every inbound Teams message asks). */
export async function incidentOfThreadRoot(db: DbOrTx, platform: ThreadPlatform, channel: string, rootRef: string): Promise<number | undefined> {
  const row: unknown = await prepared(
    db,
    'select incident_id as "incidentId" from incident_threads where platform = ? and channel = ? and root_ref = ? limit 1',
  ).get(platform, channel, rootRef);
  if (typeof row !== 'object' || row === null || !('incidentId' in row)) return undefined;
  return typeof row.incidentId === 'number' ? row.incidentId : undefined;
}

/** The channel of an incident's thread in the platform's incidents channel (not its own channel), if any. */
export async function homeThreadChannel(db: DbOrTx, platform: ThreadPlatform, incidentId: number): Promise<string | undefined> {
  const t = tablesOf(db).incidentThreads;
  return (
    await first(
      db
        .select({ channel: t.channel })
        .from(t)
        .where(and(eq(t.platform, platform), eq(t.incidentId, incidentId), eq(t.dedicated, false))),
    )
  )?.channel;
}

/** The root message reference of an incident's thread in one channel (any platform), if any. */
export async function threadRootIn(db: DbOrTx, incidentId: number, channel: string): Promise<string | null | undefined> {
  const t = tablesOf(db).incidentThreads;
  return (
    await first(
      db
        .select({ rootRef: t.rootRef })
        .from(t)
        .where(and(eq(t.incidentId, incidentId), eq(t.channel, channel))),
    )
  )?.rootRef;
}

// --- a scheduled maintenance's thread (maintenance_threads) -----------------------------------------

export type MaintenanceThreadRow = typeof maintenanceThreads.$inferSelect;

/** Opens a maintenance's thread record in `channel`; a second one for the same platform is kept as it was. */
export async function insertMaintenanceThread(
  db: DbOrTx,
  row: { maintenanceId: number; platform: ThreadPlatform; channel: string; createdAt: number },
): Promise<void> {
  await db
    .insert(tablesOf(db).maintenanceThreads)
    .values({ ...row, rootRef: null })
    .onConflictDoNothing();
}

/** A maintenance's thread on one platform, if it has one. */
export async function maintenanceThread(db: DbOrTx, maintenanceId: number, platform: ThreadPlatform): Promise<MaintenanceThreadRow | undefined> {
  const t = tablesOf(db).maintenanceThreads;
  return first(
    db
      .select()
      .from(t)
      .where(and(eq(t.maintenanceId, maintenanceId), eq(t.platform, platform))),
  );
}

/** Remembers the platform's reference of a maintenance thread's root message. */
export async function setMaintenanceThreadRoot(db: DbOrTx, maintenanceId: number, platform: ThreadPlatform, rootRef: string): Promise<void> {
  const t = tablesOf(db).maintenanceThreads;
  await db
    .update(t)
    .set({ rootRef })
    .where(and(eq(t.maintenanceId, maintenanceId), eq(t.platform, platform)));
}
