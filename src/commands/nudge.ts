import type { WriteTx } from '../../db/store.js';
import { claimDraftNudge, unnudgedDraftsBefore, unnudgedMaintenanceTextsBefore } from '../../db/queries/drafts.js';
import { recordMaintenanceEvent } from './maintenance.js';
import { displayUser } from '../domain/actor.js';
import type { CommandContext } from './context.js';
import { recordEvent } from './store.js';
import { listApprovers } from '../../db/queries/settings.js';

/**
 * Reminds approvers of drafts (an incident's or a maintenance's) that have waited longer than `afterMs`. Each draft is nudged once:
 * the claim (claimDraftNudge) makes two servers, or a restart, never nudge twice. The reminder is a
 * timeline event, so it reaches the incident thread through the outlets.
 */
export async function nudgeStaleDrafts(ctx: CommandContext, afterMs: number): Promise<number> {
  const now = ctx.now();
  const before = now - afterMs;
  const incidents = await ctx.store.read((db) => unnudgedDraftsBefore(db, before));
  const maintenances = await ctx.store.read((db) => unnudgedMaintenanceTextsBefore(db, before));
  return (
    (await nudgeEach(ctx, incidents, now, (tx, d, text, payload) =>
      recordEvent(tx, ctx, { incidentId: d.incidentId, kind: 'draft_nudged', actor: 'system:sitrep', text, payload }).then(() => undefined),
    )) +
    (await nudgeEach(ctx, maintenances, now, (tx, t, text, payload) =>
      recordMaintenanceEvent(tx, ctx, { maintenanceId: t.maintenanceId, kind: 'draft_nudged', actor: 'system:sitrep', text, payload }),
    ))
  );
}

/** Claims and tells, one draft per transaction; returns how many were nudged. */
async function nudgeEach<T extends { id: number; author: string; createdAt: number }>(
  ctx: CommandContext,
  drafts: readonly T[],
  now: number,
  tell: (tx: WriteTx, d: T, text: string, payload: { draftId: number; approvers: string[]; author: string }) => Promise<void>,
): Promise<number> {
  let nudged = 0;
  for (const d of drafts) {
    await ctx.store.transaction(async (tx) => {
      if (!(await claimDraftNudge(tx, d.id, now))) return;
      const who = (await listApprovers(tx)).filter((u) => u !== d.author || ctx.policy.approval !== 'required');
      await tell(tx, d, waitingText(d, now, who), { draftId: d.id, approvers: who, author: d.author });
      nudged++;
    });
  }
  return nudged;
}

function waitingText(d: { id: number; createdAt: number }, now: number, who: readonly string[]): string {
  const minutes = Math.round((now - d.createdAt) / 60_000);
  return `D-${d.id} has waited ${minutes} min for approval${who.length ? `: ${who.map(displayUser).join(', ')}` : ''} — \`approve D-${d.id}\` or \`reject D-${d.id} <reason>\``;
}
