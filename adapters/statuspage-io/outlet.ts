import type { Outlet } from '../../src/commands/context.js';
import { getIncident, incidentComponentRows, incRef } from '../../db/queries/incidents.js';
import { publicComponents } from '../../src/domain/publication.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import { isPublicIncident } from '../../src/domain/visibility.js';
import { STATUSPAGE_TARGET, type StatuspagePayload } from './payload.js';

/**
 * Every published customer-facing update becomes one outbox row in the `statuspage` lane, in the
 * publishing transaction: if Statuspage is down, nothing is lost, and the worker sends the rows
 * of one incident in order (create first, then PATCHes).
 */
export function createStatuspageOutlet(): Outlet {
  return {
    name: 'statuspage-io',
    async onPublished(tx, rec, ctx) {
      const incident = await getIncident(tx, rec.incidentId);
      // A private incident never publishes (publishDraft refuses); should one ever get here, it stays off Statuspage.
      if (!isPublicIncident(incident)) return;
      const components = publicComponents(rec.status, await incidentComponentRows(tx, rec.incidentId)).map((c) => ({
        slug: c.slug,
        name: c.name,
        status: c.status,
      }));
      const payload: StatuspagePayload = {
        incident: incRef(incident.id),
        name: incident.title,
        status: rec.status,
        body: rec.body,
        postmortem: rec.isPostmortem,
        components,
      };
      await enqueue(tx, ctx.now(), {
        incidentId: rec.incidentId,
        target: STATUSPAGE_TARGET,
        kind: rec.isPostmortem ? 'statuspage.postmortem' : 'statuspage.incident',
        payload,
        customerFacing: true,
        approvedAt: rec.approvedAt,
      });
    },
  };
}
