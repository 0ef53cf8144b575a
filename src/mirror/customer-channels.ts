import { z } from 'zod';
import { targetsWithRows } from '../../db/queries/outbox.js';
import { lanesWithRows } from '../../db/queries/outbox.js';
import { maintenanceSubscribers, subscribersFor } from '../../db/queries/subscriptions.js';
import { loadMaintenanceView } from '../../db/queries/maintenances.js';
import { maintenanceLane } from '../domain/maintenance.js';
import type { Outlet } from '../commands/context.js';
import type { DeliveryResult, OutboxMessage } from './target.js';
import { getIncident, incRef, incidentComponentRows } from '../../db/queries/incidents.js';
import { enqueue } from './enqueue.js';
import { isPublicIncident } from '../domain/visibility.js';

// Chat customer channels (Slack, Teams) share one shape: one message per incident in each channel,
// posted once ahead of its first update in the same lane (so no reply can overtake it, and never
// folded: it is not customer-facing text by itself), then each published update as a
// customer-facing row the worker may fold and mark as delayed. Only the rendering differs.
//
// Scheduled maintenance goes the same way, in a lane of its own per channel (`slack:C1|M-3`): its
// message in the channel (title, status, window, components) posted once ahead of its first
// public text, then every text made public (the announcement, the start, approved updates, the
// completion or cancellation) as a reply under it, folded only with that maintenance's own texts.

export const customerPayload = z.object({
  incident: z.string(),
  title: z.string(),
  status: z.string(),
  body: z.string(),
  at: z.number(),
  url: z.string(),
  components: z.array(z.object({ name: z.string(), status: z.string() })),
  zone: z.string(),
});
export type CustomerPayload = z.infer<typeof customerPayload>;

/** A scheduled maintenance's message in a customer channel, and one of its public texts. */
export const maintenanceCustomerPayload = z.object({
  /** M-n. */
  maintenance: z.string(),
  title: z.string(),
  /** The status the text announces (scheduled for the announcement). */
  status: z.string(),
  body: z.string(),
  at: z.number(),
  startsAt: z.number(),
  endsAt: z.number(),
  url: z.string(),
  /** Component names, in catalogue order (none: the work is not limited to named components). */
  components: z.array(z.string()),
  zone: z.string(),
});
export type MaintenanceCustomerPayload = z.infer<typeof maintenanceCustomerPayload>;

/**
 * A chat platform's customer-channel outbox messages (its messages.ts names them): the incident's
 * message in the channel, and one published update (`updateId` D-n; rows of older versions lack it);
 * a maintenance's message and one of its public texts.
 */
export function customerChannelMessage<P extends 'slack' | 'teams'>(platform: P) {
  return z.discriminatedUnion('kind', [
    z.object({ kind: z.literal(`${platform}.customer_root`), payload: customerPayload }),
    z.object({ kind: z.literal(`${platform}.customer_update`), payload: customerPayload.extend({ updateId: z.string().optional() }) }),
    z.object({ kind: z.literal(`${platform}.maintenance_root`), payload: maintenanceCustomerPayload }),
    z.object({ kind: z.literal(`${platform}.maintenance_update`), payload: maintenanceCustomerPayload.extend({ updateId: z.string() }) }),
  ]);
}

export function createCustomerChannelOutlet(opts: { platform: 'slack' | 'teams'; deadlineMs: number }): Outlet {
  const { platform } = opts;
  return {
    name: `${platform}-customer-channels`,
    async onPublished(tx, update, ctx) {
      const inc = await getIncident(tx, update.incidentId);
      // A private incident never publishes (publishDraft refuses); should one ever get here, no customer channel hears of it.
      if (!isPublicIncident(inc)) return;
      const subs = await subscribersFor(tx, update.incidentId, platform);
      if (!subs.length) return;
      const payload: CustomerPayload = {
        incident: incRef(inc.id),
        title: inc.title,
        status: update.isPostmortem ? 'postmortem' : update.status,
        body: update.body,
        at: update.displayAt,
        url: `${ctx.policy.publicUrl}/incidents/${incRef(inc.id)}`,
        components: (await incidentComponentRows(tx, inc.id)).map((c) => ({ name: c.name, status: c.publicStatus ?? 'operational' })),
        zone: ctx.policy.timezone,
      };
      // Channels that already have this incident's message: one query per 500 channels, not one each.
      const started = await targetsWithRows(
        tx,
        update.incidentId,
        subs.map((s) => s.target),
      );
      for (const s of subs) {
        if (!started.has(s.target)) {
          await enqueue(tx, ctx.now(), { incidentId: update.incidentId, target: s.target, kind: `${platform}.customer_root`, payload });
        }
        await enqueue(tx, ctx.now(), {
          incidentId: update.incidentId,
          target: s.target,
          kind: `${platform}.customer_update`,
          payload: { ...payload, updateId: `D-${update.updateId}` },
          customerFacing: true,
          approvedAt: update.approvedAt,
          // Chat channels keep SITREP_DELIVERY_DEADLINE_MINUTES; webhooks follow their own schedule.
          deadlineAt: update.approvedAt + opts.deadlineMs,
        });
      }
    },
    async onMaintenancePublished(tx, text, ctx) {
      const subs = await maintenanceSubscribers(tx, text.maintenanceId, platform);
      if (!subs.length) return;
      const m = await loadMaintenanceView(tx, text.maintenanceId);
      const payload: MaintenanceCustomerPayload = {
        maintenance: m.ref,
        title: m.title,
        status: text.status,
        body: text.body,
        at: text.displayAt,
        startsAt: m.startsAt,
        endsAt: m.endsAt,
        url: `${ctx.policy.publicUrl}/maintenances/${m.ref}`,
        components: m.components.map((c) => c.name),
        zone: ctx.policy.timezone,
      };
      const lanes = subs.map((s) => maintenanceLane(s.target, m.id));
      // Channels that already have this maintenance's message: one query per 500 channels.
      const started = await lanesWithRows(tx, lanes);
      for (const lane of lanes) {
        if (!started.has(lane)) await enqueue(tx, ctx.now(), { incidentId: null, target: lane, kind: `${platform}.maintenance_root`, payload });
        await enqueue(tx, ctx.now(), {
          incidentId: null,
          target: lane,
          kind: `${platform}.maintenance_update`,
          payload: { ...payload, updateId: `D-${text.updateId}` },
          customerFacing: true,
          approvedAt: text.approvedAt,
          deadlineAt: text.approvedAt + opts.deadlineMs,
        });
      }
    },
  };
}

/** How one chat platform sends to a customer channel; `sendCustomerMessage` decides what is sent. */
export interface CustomerChannelSender {
  /** Posts the incident's message in the channel; answers its reference (undefined: none came back). */
  postRoot(): Promise<string | undefined>;
  /** Edits the incident's message; a message deleted meanwhile is no failure (the reply still goes). */
  editRoot(rootRef: string): Promise<void>;
  /** Posts the update, in the thread under `rootRef` when there is one; answers its reference. */
  postUpdate(rootRef: string | null, notices: string[]): Promise<string | undefined>;
  /** What a root post that came back without a reference is retried with. */
  noReference: string;
}

/**
 * One customer-channel row: the incident's message (`root`), or one published update as a reply
 * under it, carrying the worker's delay and fold notices. The incident's message is edited first,
 * so a retry after a failed reply repeats an idempotent edit, never a post; when it could never be
 * posted (dead-lettered), the update starts the thread itself.
 */
export async function sendCustomerMessage(
  msg: Pick<OutboxMessage, 'delayNotice' | 'foldNotice' | 'previousRemoteRef'>,
  part: 'root' | 'update',
  send: CustomerChannelSender,
): Promise<DeliveryResult> {
  if (part === 'root') {
    const ref = await send.postRoot();
    return ref ? { kind: 'delivered', remoteRef: ref } : { kind: 'retry', error: send.noReference };
  }
  const notices = [msg.delayNotice, msg.foldNotice].filter((n): n is string => Boolean(n));
  let rootRef = msg.previousRemoteRef ?? null;
  if (rootRef) await send.editRoot(rootRef);
  else rootRef = (await send.postRoot()) ?? null;
  const ref = await send.postUpdate(rootRef, notices);
  return { kind: 'delivered', remoteRef: rootRef ?? ref ?? '' };
}
