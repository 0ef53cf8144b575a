import type { ReadConn, WriteTx } from '../../db/store.js';
import { findIncident, listIncidents, openIncidents, incRef, touchIncidentRow, type IncidentRow } from '../../db/queries/incidents.js';
import { getSetting, isPrivateMember } from '../../db/queries/settings.js';
import { draftNotFound, findDraft, type DraftRow } from '../../db/queries/drafts.js';
import { insertEvent } from '../../db/queries/timeline.js';
import { incidentNotFound, maySee } from '../domain/visibility.js';
import type { ComponentStatus } from '../domain/enums.js';
import { SitrepError } from '../domain/errors.js';
import type { EventRecord, TimelineEvent } from '../domain/events.js';
import type { CommandContext } from './context.js';

// The queries live in db/queries/; src/commands keeps what needs a command's context (which
// incident a command means, who is an admin, telling the outlets).

/** The settings key of the channel bound with `channel private-incidents` on a platform. */
export const privateIncidentsChannelKey = (platform: 'slack' | 'teams') => `private_incidents_channel:${platform}`;

/**
 * Whether this command's answer is read by people other than the one who typed it, outside the
 * private place (a Teams channel or group chat other than the one bound with `channel
 * private-incidents`). Such an answer never speaks of a private incident, whoever asked.
 */
export async function answerReachesOthers(ctx: CommandContext, db: ReadConn): Promise<boolean> {
  const { platform, channel, shared } = ctx.scope;
  if (!shared) return false;
  return !(platform === 'teams' && channel !== undefined && channel === (await getSetting(db, privateIncidentsChannelKey('teams'))));
}

/**
 * Need to know (src/domain/visibility.ts) for the person running this command. Members of the
 * private place are known by where the command was typed (only a member can type in the Slack
 * private channel Sitrep created for the incident, or in the Teams channel bound with
 * `channel private-incidents`), and in Slack also from anywhere once Sitrep invited them or saw
 * them join its channel. An answer that others outside the private place would read (a shared
 * Teams channel) never shows one, to anyone.
 */
export async function maySeeIncident(ctx: CommandContext, db: ReadConn, inc: IncidentRow): Promise<boolean> {
  if (inc.visibility === 'public') return true;
  if (await answerReachesOthers(ctx, db)) return false;
  const members: string[] = [];
  const { platform, channel } = ctx.scope;
  if (channel && platform === 'slack' && channel === inc.privateChannel) members.push(ctx.actor);
  else if (channel && platform === 'teams' && channel === (await getSetting(db, privateIncidentsChannelKey('teams')))) members.push(ctx.actor);
  else if (await isPrivateMember(db, inc.id, ctx.actor)) members.push(ctx.actor); // invited, or seen joining it
  return maySee(
    { visibility: inc.visibility, roles: { lead: inc.lead, commander: inc.commander, comms: inc.comms, scribe: inc.scribe }, declaredBy: inc.createdBy },
    ctx.actor,
    { admins: ctx.policy.admins, channelMembers: members },
  );
}

/**
 * The incident `id`, if it exists and the person running the command may see it; otherwise the
 * one not-found answer, identical for an id never used and a private incident kept from them.
 */
export async function visibleIncident(ctx: CommandContext, db: ReadConn, id: number): Promise<IncidentRow> {
  const inc = await findIncident(db, id);
  if (!inc || !(await maySeeIncident(ctx, db, inc))) throw incidentNotFound(incRef(id));
  return inc;
}

/** The draft D-`id`, answered as never made when its incident is kept from the person asking. */
export async function visibleDraft(ctx: CommandContext, db: ReadConn, id: number): Promise<DraftRow> {
  const d = await findDraft(db, id);
  const inc = d ? await findIncident(db, d.incidentId) : undefined;
  if (!d || !inc || !(await maySeeIncident(ctx, db, inc))) throw draftNotFound(id);
  return d;
}

/** Only the incidents the person running the command may see, in the order given. */
export async function visibleIncidents(ctx: CommandContext, db: ReadConn, rows: readonly IncidentRow[]): Promise<IncidentRow[]> {
  const out: IncidentRow[] = [];
  for (const r of rows) if (await maySeeIncident(ctx, db, r)) out.push(r);
  return out;
}

/**
 * Which incident a command is about: the one named, else the thread's, else the only open one.
 * Private incidents the person may not see are left out of every choice (see visibleIncident).
 */
export async function resolveIncident(
  ctx: CommandContext,
  db: ReadConn,
  explicit: number | undefined,
  verb: string,
  opts: { latestIfNoneOpen?: boolean } = {},
): Promise<IncidentRow> {
  if (explicit !== undefined) return await visibleIncident(ctx, db, explicit);
  if (ctx.scope.incidentId !== undefined) return await visibleIncident(ctx, db, ctx.scope.incidentId);
  const open = await visibleIncidents(ctx, db, await openIncidents(db));
  if (open.length === 1) return open[0]!;
  if (open.length === 0) {
    // Read-only views of "the incident" right after it was resolved mean the latest one.
    const latest = opts.latestIfNoneOpen ? (await visibleIncidents(ctx, db, await listIncidents(db, 'all')))[0] : undefined;
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
