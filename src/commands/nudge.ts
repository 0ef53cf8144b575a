import { claimDraftNudge, unnudgedDraftsBefore } from '../../db/queries/drafts.js';
import { displayUser } from '../domain/actor.js';
import type { CommandContext } from './context.js';
import { recordEvent } from './store.js';
import { listApprovers } from '../../db/queries/settings.js';

/**
 * Reminds approvers of drafts that have waited longer than `afterMs`. Each draft is nudged once:
 * the claim (claimDraftNudge) makes two servers, or a restart, never nudge twice. The reminder is a
 * timeline event, so it reaches the incident thread through the outlets.
 */
export async function nudgeStaleDrafts(ctx: CommandContext, afterMs: number): Promise<number> {
  const now = ctx.now();
  const stale = await ctx.store.read((db) => unnudgedDraftsBefore(db, now - afterMs));
  let nudged = 0;
  for (const d of stale) {
    await ctx.store.transaction(async (tx) => {
      if (!(await claimDraftNudge(tx, d.id, now))) return;
      const who = (await listApprovers(tx)).filter((u) => u !== d.author || ctx.policy.approval !== 'required');
      const minutes = Math.round((now - d.createdAt) / 60_000);
      await recordEvent(tx, ctx, {
        incidentId: d.incidentId,
        kind: 'draft_nudged',
        actor: 'system:sitrep',
        text: `D-${d.id} has waited ${minutes} min for approval${who.length ? `: ${who.map(displayUser).join(', ')}` : ''} — \`approve D-${d.id}\` or \`reject D-${d.id} <reason>\``,
        payload: { draftId: d.id, approvers: who, author: d.author },
      });
      nudged++;
    });
  }
  return nudged;
}
