import type { Db } from '../../db/client.js';
import type { Outlet } from '../commands/context.js';
import { recordEvent } from '../commands/store.js';
import type { App } from '../main.js';
import { createOutboxCollector } from './metrics.js';
import type { Target } from './target.js';
import { OutboxWorker } from './worker.js';

export { OutboxWorker } from './worker.js';
export type { DeliveryResult, OutboxMessage, Target } from './target.js';
export { enqueue } from './enqueue.js';

/** The webhook adapter, passed in by the composition root (src/ never imports adapters/). */
export type WebhooksFactory = (deps: {
  db: Db;
  now: () => number;
  publicOnly: boolean;
  allowLinkLocal: boolean;
  deadlineMs: number;
}) => { outlet: Outlet; target: Target };

/**
 * Mirroring: the outbox worker (started with the server, never by the CLI), signed webhooks
 * (outlet + target), the delivery metrics, and the webhook URL policy commands check.
 */
export function registerMirroring(app: App, adapters: { webhooks?: WebhooksFactory } = {}): OutboxWorker {
  const { config } = app;
  // main.ts builds the policy before capabilities register; `subscribe` reads the URL policy here.
  app.contextFor('sitrep', { platform: 'cli' }).policy.webhooks = {
    publicOnly: config.webhookPublicOnly,
    allowLinkLocal: config.webhookAllowLinkLocal,
  };
  const deadlineMs = config.deliveryDeadlineMinutes * 60_000;
  if (adapters.webhooks) {
    const webhooks = adapters.webhooks({
      db: app.db,
      now: app.now,
      publicOnly: config.webhookPublicOnly,
      allowLinkLocal: config.webhookAllowLinkLocal,
      deadlineMs,
    });
    app.outlets.push(webhooks.outlet);
    app.targets.push(webhooks.target);
  }
  const worker = new OutboxWorker(
    {
      db: app.db,
      log: app.log,
      now: app.now,
      targets: app.targets,
      onDeadLetter(tx, row, reason) {
        if (!row.customerFacing || row.incidentId === null) return;
        const ctx = app.contextFor('sitrep', { platform: 'cli', ...(row.incidentId !== null ? { incidentId: row.incidentId } : {}) });
        const what = typeof row.payload.updateId === 'string' ? `Customer update ${row.payload.updateId}` : 'A customer-facing message';
        recordEvent(tx, ctx, {
          incidentId: row.incidentId!,
          kind: 'delivery_failed',
          actor: 'sitrep',
          text: `${what} did not reach ${row.target}: ${reason}. Kept as delivery #${row.id}; \`deliveries retry ${row.id}\` sends it again.`,
          payload: { outboxId: row.id, deliveryId: row.deliveryId, target: row.target, reason },
        });
      },
      onWrite: () => app.changes.notify(),
    },
    {
      attemptTimeoutMs: config.deliveryTimeoutSeconds * 1000,
      delayNoticeMs: config.delayNoticeMinutes * 60_000,
      defaultDeadlineMs: deadlineMs,
      timezone: config.timezone,
    },
  );
  app.changes.onChange(() => worker.kick());
  app.background.push(worker);
  app.collectors.push(createOutboxCollector(app.db, () => worker.breakers));
  return worker;
}
