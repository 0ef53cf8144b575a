import type { DbOrTx, Tx } from '../../db/client.js';
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
export function resolveIncident(
  ctx: CommandContext,
  db: DbOrTx,
  explicit: number | undefined,
  verb: string,
  opts: { latestIfNoneOpen?: boolean } = {},
): IncidentRow {
  if (explicit !== undefined) return getIncident(db, explicit);
  if (ctx.scope.incidentId !== undefined) return getIncident(db, ctx.scope.incidentId);
  const open = openIncidents(db);
  if (open.length === 1) return open[0]!;
  if (open.length === 0) {
    // Read-only views of "the incident" right after it was resolved mean the latest one.
    const latest = opts.latestIfNoneOpen ? latestIncident(db) : undefined;
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
export function recordEvent(tx: Tx, ctx: CommandContext, e: EventInput): EventRecord {
  const now = ctx.now();
  const rec = insertEvent(tx, { ...e, occurredAt: e.occurredAt ?? now, recordedAt: now, actor: e.actor ?? ctx.actor });
  for (const o of ctx.outlets) o.onEvent?.(tx, rec, ctx);
  return rec;
}

export function touchIncident(tx: Tx, ctx: CommandContext, incidentId: number): void {
  touchIncidentRow(tx, incidentId, ctx.now());
  for (const o of ctx.outlets) o.onIncidentChanged?.(tx, incidentId, ctx);
}

export function describeChanges(changes: Array<{ name: string; to: ComponentStatus }>): string {
  return changes.map((c) => `${c.name} → ${c.to.replace(/_/g, ' ')}`).join(', ');
}
