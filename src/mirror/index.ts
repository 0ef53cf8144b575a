import type { Db } from '../../db/client.js';
import type { Store, WriteTx } from '../../db/store.js';
import { disableSubscription, subscriptionOfTarget, type SubscriptionRow } from '../../db/queries/subscriptions.js';
import { hasDisablingNotice } from '../../db/queries/timeline.js';
import type { Capability } from '../capability.js';
import type { Runner } from '../commands/runner.js';
import { noteOnMaintenance } from '../commands/maintenance.js';
import { recordEvent } from '../commands/store.js';
import { maintenanceRef, splitLane } from '../domain/maintenance.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createOutboxCollector, kindOf } from './metrics.js';
import type { Observer } from '../http/metrics.js';
import { createOutboxPruner, DEFAULT_RETENTION } from './retention.js';
import { isWebhookLane, subscriptionRef } from '../domain/subscriptions.js';
import type { DeadLetterCause, Target } from './target.js';
import { OutboxWorker, type OutboxRow } from './worker.js';

export { OutboxWorker } from './worker.js';
export type { DeliveryResult, OutboxMessage, Target } from './target.js';
export { enqueue } from './enqueue.js';

export interface MirroringDeps {
  db: Db;
  /** The store's read-only connection: the worker's lane scan reads there. */
  readDb?: Db;
  store: Store;
  log: Logger;
  now: () => number;
  /** The context a dead letter's note in the incident's thread is recorded in; told of the worker's writes. */
  runner: Pick<Runner, 'context' | 'notify'>;
  /** Every target of every capability: the worker delivers to these and no others. */
  targets: readonly Target[];
  /** Told of every delivery attempt (kind, outcome, duration) for /metrics. */
  observe?: Pick<Observer, 'delivery'>;
  config: Pick<Config, 'deliveryTimeoutSeconds' | 'delayNoticeMinutes' | 'deliveryDeadlineMinutes' | 'timezone' | 'outboxRetentionDays'>;
}

/** An attempt as /metrics counts it: by target kind (never the target itself) and outcome. */
function observeAttempt(observe: Pick<Observer, 'delivery'>) {
  const outcomes = { delivered: 'delivered', retry: 'retried', failed: 'failed' } as const;
  return (target: string, outcome: 'delivered' | 'retry' | 'failed', seconds: number) => observe.delivery(kindOf(target), outcomes[outcome], seconds);
}

/** How often retention looks for delivered rows past SITREP_OUTBOX_RETENTION_DAYS. */
const RETENTION_INTERVAL_MS = 60 * 60_000;

/** Whether this incident's thread was already told that this subscription was disabled (this time). */
function toldAboutDisabling(tx: WriteTx, incidentId: number, sub: SubscriptionRow): Promise<boolean> {
  return hasDisablingNotice(tx, incidentId, sub.id, sub.disabledAt);
}

const whatOf = (row: Pick<OutboxRow, 'payload'>) =>
  typeof row.payload.updateId === 'string' ? `Customer update ${row.payload.updateId}` : 'A customer-facing message';
const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** "Kept as delivery #7; `deliveries retry 7` sends it again and enables S-1 again." (or several) */
function keptNote(kept: number[], ref: string): string {
  if (kept.length === 1) return `Kept as delivery #${kept[0]}; \`deliveries retry ${kept[0]}\` sends it again and enables ${ref} again.`;
  return `Kept as deliveries ${kept.map((id) => `#${id}`).join(', ')}; \`deliveries retry <id>\` sends one again and enables ${ref} again.`;
}

/**
 * Mirroring: the outbox worker (started with the server, never by the CLI), outbox retention and
 * the delivery metrics. Made last by the composition root, with every other capability's targets.
 */
export function createMirroring(deps: MirroringDeps): Capability & { worker: OutboxWorker } {
  const { config, runner } = deps;
  const app = { db: deps.db, log: deps.log, now: deps.now };

  const tell = async (tx: WriteTx, incidentId: number, text: string, payload: Record<string, unknown>) => {
    const ctx = runner.context('sitrep', { platform: 'cli', incidentId });
    await recordEvent(tx, ctx, { incidentId, kind: 'delivery_failed', actor: 'sitrep', text, payload });
  };

  /**
   * 410 Gone or a whole failed schedule: the subscription is disabled, what waits for it is kept
   * as dead letters, and each incident with a message that did not reach it is told once, in one
   * event naming every kept delivery, not once per row.
   */
  async function disable(tx: WriteTx, row: OutboxRow, sub: SubscriptionRow, reason: string, cause: 'gone' | 'exhausted'): Promise<void> {
    const why = cause === 'gone' ? 'the endpoint answered 410 Gone' : 'it failed through the whole retry schedule';
    const d = await disableSubscription(tx, sub, cause, why, app.now());
    if (!d.newly) {
      await straggler(tx, row, d.sub, reason);
      return;
    }
    const ref = subscriptionRef(sub.id);
    const stamp = { disabledSubscription: sub.id, disabledAt: d.sub.disabledAt, cause, target: row.target };
    const byIncident = new Map<number, number[]>();
    for (const r of d.swept) if (r.incidentId !== null && r.customerFacing) byIncident.set(r.incidentId, [...(byIncident.get(r.incidentId) ?? []), r.id]);
    if (row.incidentId !== null && row.customerFacing) {
      const more = byIncident.get(row.incidentId) ?? [];
      byIncident.delete(row.incidentId);
      const kept = [row.id, ...more];
      await tell(
        tx,
        row.incidentId,
        `${whatOf(row)} did not reach ${row.target}: ${reason}. ${ref} is now disabled (${why}): nothing more is sent to it. ${keptNote(kept, ref)}`,
        { ...stamp, outboxId: row.id, deliveryId: row.deliveryId, reason, kept },
      );
    }
    for (const [incidentId, kept] of byIncident) {
      await tell(
        tx,
        incidentId,
        `${ref} (${row.target}) is now disabled (${why}; last error: ${reason}): ${plural(kept.length, 'customer update', 'customer updates')} for this incident will not be sent. ${keptNote(kept, ref)}`,
        { ...stamp, reason, kept },
      );
    }
  }

  /** A row of an already disabled subscription: its incident hears once, if it has not yet. */
  async function straggler(tx: WriteTx, row: OutboxRow, sub: SubscriptionRow, reason: string): Promise<void> {
    if (row.incidentId === null || !row.customerFacing || (await toldAboutDisabling(tx, row.incidentId, sub))) return;
    const ref = subscriptionRef(sub.id);
    await tell(
      tx,
      row.incidentId,
      `${whatOf(row)} did not reach ${row.target}: ${reason}. ${ref} is disabled (${sub.disabledReason ?? 'disabled'}). ${keptNote([row.id], ref)}`,
      {
        disabledSubscription: sub.id,
        disabledAt: sub.disabledAt,
        cause: sub.disabledCause,
        target: row.target,
        outboxId: row.id,
        deliveryId: row.deliveryId,
        reason,
        kept: [row.id],
      },
    );
  }

  async function onDeadLetter(tx: WriteTx, row: OutboxRow, reason: string, cause: DeadLetterCause): Promise<void> {
    const sub = isWebhookLane(row.target) ? await subscriptionOfTarget(tx, row.target) : undefined;
    if (sub && (cause === 'gone' || cause === 'exhausted')) {
      await disable(tx, row, sub, reason, cause);
      return;
    }
    if (sub && sub.disabledAt !== null) {
      await straggler(tx, row, sub, reason);
      return;
    }
    if (!row.customerFacing) return;
    if (row.incidentId === null) {
      // A scheduled maintenance's text (its lane names it): its thread is told, as an incident's is.
      const lane = splitLane(row.target);
      if (lane.maintenanceId === null) return;
      const ctx = runner.context('sitrep', { platform: 'cli' }, tx);
      await noteOnMaintenance(
        tx,
        ctx,
        lane.maintenanceId,
        `${whatOf(row)} of ${maintenanceRef(lane.maintenanceId)} did not reach ${lane.target}: ${reason}. Kept as delivery #${row.id}; \`deliveries retry ${row.id}\` sends it again.`,
        { outboxId: row.id, deliveryId: row.deliveryId, target: lane.target, reason },
      );
      return;
    }
    await tell(
      tx,
      row.incidentId,
      `${whatOf(row)} did not reach ${row.target}: ${reason}. Kept as delivery #${row.id}; \`deliveries retry ${row.id}\` sends it again.`,
      {
        outboxId: row.id,
        deliveryId: row.deliveryId,
        target: row.target,
        reason,
      },
    );
  }

  const worker = new OutboxWorker(
    {
      db: app.db,
      ...(deps.readDb ? { readDb: deps.readDb } : {}),
      store: deps.store,
      log: app.log,
      now: app.now,
      targets: deps.targets,
      onDeadLetter,
      onWrite: () => runner.notify(),
      ...(deps.observe ? { onAttempt: observeAttempt(deps.observe) } : {}),
    },
    {
      attemptTimeoutMs: config.deliveryTimeoutSeconds * 1000,
      delayNoticeMs: config.delayNoticeMinutes * 60_000,
      // Chat customer channels only: webhook rows carry no deadline and follow their schedule.
      defaultDeadlineMs: config.deliveryDeadlineMinutes * 60_000,
      timezone: config.timezone,
    },
  );
  const pruner = createOutboxPruner(
    { db: app.db, log: app.log, now: app.now },
    // A webhook's remote reference is only "HTTP 200": nothing later edits or threads under it.
    { ...DEFAULT_RETENTION, retentionMs: config.outboxRetentionDays * 24 * 3_600_000, keepsReference: (target) => !isWebhookLane(target) },
    RETENTION_INTERVAL_MS,
  );
  return {
    worker,
    outlets: [],
    targets: [],
    routes: [],
    services: [worker, pruner],
    collectors: [createOutboxCollector(app.db, () => worker.breakers)],
    onChange: () => worker.kick(),
  };
}
