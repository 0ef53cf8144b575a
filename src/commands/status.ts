import { eq } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { incidentComponents, incidents } from '../../db/schema.js';
import type { IncidentStatus } from '../domain/enums.js';
import { milestoneFor } from '../domain/lifecycle.js';
import { componentsReleasedTo } from '../domain/publication.js';
import type { CommandContext } from './context.js';
import { recomputeComponents, type IncidentRow } from '../../db/queries/incidents.js';

/**
 * Moves an incident to a (checked) status, stamping the first time each milestone was reached.
 * Resolving sets this incident's components back to operational and rolls up again, which
 * restores only what this incident had set.
 */
export function changeStatus(tx: Tx, ctx: CommandContext, incident: IncidentRow, to: IncidentStatus, at: number): void {
  const patch: Partial<typeof incidents.$inferInsert> = { status: to, updatedAt: ctx.now() };
  const milestone = milestoneFor(to);
  if (milestone && (incident[milestone] === null || to === 'resolved')) patch[milestone] = at;
  tx.update(incidents).set(patch).where(eq(incidents.id, incident.id)).run();
  const released = componentsReleasedTo(to);
  if (released !== null) {
    tx.update(incidentComponents).set({ status: released, updatedAt: ctx.now() }).where(eq(incidentComponents.incidentId, incident.id)).run();
    const ids = tx
      .select({ id: incidentComponents.componentId })
      .from(incidentComponents)
      .where(eq(incidentComponents.incidentId, incident.id))
      .all()
      .map((r) => r.id);
    recomputeComponents(tx, ids, 'internal', at, incident.id);
  }
}
