import type { Outlet } from '../../src/commands/context.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import { NO_DEADLINE } from '../../src/mirror/policy.js';
import { maintenanceSubscribers, subscribersFor } from '../../db/queries/subscriptions.js';
import { findIncident } from '../../db/queries/incidents.js';
import { isPublicIncident } from '../../src/domain/visibility.js';
import { maintenanceLane } from '../../src/domain/maintenance.js';
import { buildIncidentWebhookBody, buildMaintenanceWebhookBody } from './body.js';
import type { WebhookMessage } from './messages.js';

/** The outbox target value of a webhook subscription: `webhook:S-3`. */
export const webhookTargetOf = (subscriptionId: number) => `webhook:S-${subscriptionId}`;

/**
 * On every published customer-facing update, one outbox row per webhook subscription whose
 * component filter matches the incident (an empty filter matches everything). The body is a
 * snapshot taken in the publishing transaction: it lists every update published so far, so the
 * newest row alone tells the whole story when older ones are folded into it. Rows carry no
 * deadline: the target's Standard Webhooks schedule decides when they are given up on (days, not
 * the chat channels' SITREP_DELIVERY_DEADLINE_MINUTES).
 */
export function createWebhookOutlet(): Outlet {
  return {
    name: 'webhooks',
    async onPublished(tx, update, ctx) {
      const incident = await findIncident(tx, update.incidentId);
      // A private incident never publishes (publishDraft refuses); should one ever get here, no subscriber hears of it.
      if (!incident || !isPublicIncident(incident)) return;
      const matching = await subscribersFor(tx, update.incidentId, 'webhook');
      if (!matching.length) return;
      const now = ctx.now();
      const body = await buildIncidentWebhookBody(tx, update.incidentId, { publicUrl: ctx.policy.publicUrl, orgName: ctx.policy.orgName, now });
      const message: WebhookMessage = {
        kind: update.isPostmortem ? 'webhook.postmortem' : 'webhook.incident_update',
        payload: { body, updateId: `D-${update.updateId}` },
      };
      for (const s of matching) {
        await enqueue(tx, now, {
          incidentId: update.incidentId,
          target: webhookTargetOf(s.id),
          kind: message.kind,
          payload: message.payload,
          customerFacing: true,
          approvedAt: update.approvedAt,
          deadlineAt: NO_DEADLINE,
        });
      }
    },
    /**
     * The same for a scheduled maintenance's every public text (announcement, updates, the start,
     * completion and cancellation notices), to subscriptions whose filter meets its components.
     * Each maintenance has its own lane of each subscription (`webhook:S-3|M-2`): its rows keep
     * their order and fold only into each other, never into another maintenance's or an incident's
     * (a folded body lists one maintenance's texts).
     */
    async onMaintenancePublished(tx, text, ctx) {
      const matching = await maintenanceSubscribers(tx, text.maintenanceId, 'webhook');
      if (!matching.length) return;
      const now = ctx.now();
      const body = await buildMaintenanceWebhookBody(tx, text.maintenanceId, { publicUrl: ctx.policy.publicUrl, orgName: ctx.policy.orgName, now });
      const message: WebhookMessage = { kind: 'webhook.maintenance_update', payload: { body, updateId: `D-${text.updateId}` } };
      for (const s of matching) {
        await enqueue(tx, now, {
          incidentId: null,
          target: maintenanceLane(webhookTargetOf(s.id), text.maintenanceId),
          kind: message.kind,
          payload: message.payload,
          customerFacing: true,
          approvedAt: text.approvedAt,
          deadlineAt: NO_DEADLINE,
        });
      }
    },
  };
}
