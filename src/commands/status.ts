import type { WriteTx } from '../../db/store.js';
import type { IncidentStatus } from '../domain/enums.js';
import { milestoneFor } from '../domain/lifecycle.js';
import { componentsReleasedTo } from '../domain/publication.js';
import type { CommandContext } from './context.js';
import { patchIncident, recomputeComponents, releaseIncidentComponents, type IncidentPatch, type IncidentRow } from '../../db/queries/incidents.js';

/**
 * Moves an incident to a (checked) status, stamping the first time each milestone was reached.
 * Resolving sets this incident's components back to operational and rolls up again, which
 * restores only what this incident had set.
 */
export async function changeStatus(tx: WriteTx, ctx: CommandContext, incident: IncidentRow, to: IncidentStatus, at: number): Promise<void> {
  const patch: IncidentPatch = { status: to };
  const milestone = milestoneFor(to);
  if (milestone && (incident[milestone] === null || to === 'resolved')) patch[milestone] = at;
  await patchIncident(tx, incident.id, patch, ctx.now());
  const released = componentsReleasedTo(to);
  if (released !== null) {
    const ids = await releaseIncidentComponents(tx, incident.id, released, ctx.now());
    await recomputeComponents(tx, ids, 'internal', at, incident.id);
  }
}
