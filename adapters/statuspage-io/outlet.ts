import type { Outlet } from '../../src/commands/context.js';
import { listComponents } from '../../db/queries/components.js';
import { getIncident, incidentComponentRows, incRef } from '../../db/queries/incidents.js';
import { loadMaintenanceView } from '../../db/queries/maintenances.js';
import { autoTransitions, maintenanceLane, statuspageMaintenanceStatus } from '../../src/domain/maintenance.js';
import { publicComponents } from '../../src/domain/publication.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import { isPublicIncident } from '../../src/domain/visibility.js';
import { STATUSPAGE_TARGET, type StatuspageMaintenancePayload, type StatuspagePayload } from './payload.js';

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
    /**
     * Every public text of a scheduled maintenance, in the maintenance's own lane
     * (`statuspage|M-3`): the announcement creates the Statuspage scheduled incident, later texts
     * PATCH that one (the lane's previous remote reference), in order.
     */
    async onMaintenancePublished(tx, text, ctx) {
      const m = await loadMaintenanceView(tx, text.maintenanceId);
      const held = new Set(m.components.map((c) => c.id));
      // Each component's public status after this text: the roll-up of maintenance and incidents
      // (an outage during the work stays an outage), which is what the page shows.
      const components = (await listComponents(tx)).filter((c) => held.has(c.id)).map((c) => ({ slug: c.slug, name: c.name, status: c.publicStatus }));
      const auto = autoTransitions(m);
      const payload: StatuspageMaintenancePayload = {
        maintenance: m.ref,
        updateId: `D-${text.updateId}`,
        name: m.title,
        status: statuspageMaintenanceStatus(text.status),
        body: text.body,
        scheduledFor: new Date(m.startsAt).toISOString(),
        scheduledUntil: new Date(m.endsAt).toISOString(),
        autoInProgress: auto.autoInProgress,
        autoCompleted: auto.autoCompleted,
        components,
      };
      await enqueue(tx, ctx.now(), {
        incidentId: null,
        target: maintenanceLane(STATUSPAGE_TARGET, m.id),
        kind: 'statuspage.maintenance',
        payload,
        customerFacing: true,
        approvedAt: text.approvedAt,
      });
    },
  };
}
