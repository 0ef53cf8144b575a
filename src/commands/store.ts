import type { ReadConn, WriteTx } from '../../db/store.js';
import { latestIncident, openIncidents, getIncident, incRef, touchIncidentRow, type IncidentRow } from '../../db/queries/incidents.js';
import { insertEvent } from '../../db/queries/timeline.js';
import type { ComponentStatus } from '../domain/enums.js';
import { SitrepError } from '../domain/errors.js';
import type { EventRecord, TimelineEvent } from '../domain/events.js';
import type { CommandContext } from './context.js';

// The queries live in db/queries/; src/commands keeps what needs a command's context (which
// incident a command means, who is an admin, telling the outlets).

/**
 * Which incident a command is about: the one named, else the thread's, else the only open one.
 */
export async function resolveIncident(
  ctx: CommandContext,
  db: ReadConn,
  explicit: number | undefined,
  verb: string,
  opts: { latestIfNoneOpen?: boolean } = {},
): Promise<IncidentRow> {
  if (explicit !== undefined) return await getIncident(db, explicit);
  if (ctx.scope.incidentId !== undefined) return await getIncident(db, ctx.scope.incidentId);
  const open = await openIncidents(db);
  if (open.length === 1) return open[0]!;
  if (open.length === 0) {
    // Read-only views of "the incident" right after it was resolved mean the latest one.
    const latest = opts.latestIfNoneOpen ? await latestIncident(db) : undefined;
    if (latest) return latest;
    throw new SitrepError('INVALID', `no incident is open; name one (\`${verb} INC-n …\`) or \`declare\` a new one`);
  }
  throw new SitrepError(
    'INVALID',
    `which incident? ${open.length} are open (${open.map((i) => incRef(i.id)).join(', ')}); write \`${verb} ${incRef(open[0]!.id)} …\``,
  );
}

export function isAdmin(ctx: CommandContext): boolean {
  return ctx.policy.admins.length === 0 || ctx.policy.admins.includes(ctx.actor);
}

export function requireAdmin(ctx: CommandContext, what: string): void {
  if (!isAdmin(ctx)) {
    throw new SitrepError('FORBIDDEN', `only admins (SITREP_ADMINS) may ${what}`);
  }
}

/** The fields a verb gives for a new event; the rest (actor, times) come from the context. */
export type EventInput = TimelineEvent & { incidentId: number; text: string; occurredAt?: number; actor?: string };

/** Appends a timeline event and lets every outlet react to it, in the caller's transaction. */
export async function recordEvent(tx: WriteTx, ctx: CommandContext, e: EventInput): Promise<EventRecord> {
  const now = ctx.now();
  const rec = await insertEvent(tx, { ...e, occurredAt: e.occurredAt ?? now, recordedAt: now, actor: e.actor ?? ctx.actor });
  for (const o of ctx.outlets) await o.onEvent?.(tx, rec, ctx);
  return rec;
}

export async function touchIncident(tx: WriteTx, ctx: CommandContext, incidentId: number): Promise<void> {
  await touchIncidentRow(tx, incidentId, ctx.now());
  for (const o of ctx.outlets) await o.onIncidentChanged?.(tx, incidentId, ctx);
}

export function describeChanges(changes: Array<{ name: string; to: ComponentStatus }>): string {
  return changes.map((c) => `${c.name} → ${c.to.replace(/_/g, ' ')}`).join(', ');
}
