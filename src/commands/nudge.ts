import { and, eq, isNull, lte } from 'drizzle-orm';
import { customerUpdates } from '../../db/schema.js';
import { displayUser } from '../domain/actor.js';
import type { CommandContext } from './context.js';
import { recordEvent } from './store.js';
import { listApprovers } from '../../db/queries/settings.js';

/**
 * Reminds approvers of drafts that have waited longer than `afterMs`. Each draft is nudged once:
 * the conditional UPDATE (nudged_at IS NULL) makes two servers, or a restart, never nudge twice.
 * The reminder is a timeline event, so it reaches the incident thread through the outlets.
 */
export function nudgeStaleDrafts(ctx: CommandContext, afterMs: number): number {
  const now = ctx.now();
  const stale = ctx.db
    .select()
    .from(customerUpdates)
    .where(and(eq(customerUpdates.state, 'draft'), isNull(customerUpdates.nudgedAt), lte(customerUpdates.createdAt, now - afterMs)))
    .all();
  let nudged = 0;
  for (const d of stale) {
    ctx.db.transaction((tx) => {
      const claimed = tx
        .update(customerUpdates)
        .set({ nudgedAt: now })
        .where(and(eq(customerUpdates.id, d.id), eq(customerUpdates.state, 'draft'), isNull(customerUpdates.nudgedAt)))
        .run();
      if (claimed.changes !== 1) return;
      const who = listApprovers(tx).filter((u) => u !== d.author || ctx.policy.approval !== 'required');
      const minutes = Math.round((now - d.createdAt) / 60_000);
      recordEvent(tx, ctx, {
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
