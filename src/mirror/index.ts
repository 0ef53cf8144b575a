import type { Db } from '../../db/client.js';
import type { Store, WriteTx } from '../../db/store.js';
import { disableSubscription, subscriptionOfTarget, type SubscriptionRow } from '../../db/queries/subscriptions.js';
import { maintenanceHasDisablingNotice } from '../../db/queries/maintenances.js';
import { hasDisablingNotice } from '../../db/queries/timeline.js';
import type { Capability } from '../capability.js';
import type { Runner } from '../commands/runner.js';
import { recordMaintenanceEvent } from '../commands/maintenance.js';
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
import { PgOutboxWorker } from './worker.pg.js';
import { createPgOutboxPruner } from './retention.pg.js';

export { OutboxWorker } from './worker.js';
export { PgOutboxWorker } from './worker.pg.js';
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
  /** PostgreSQL: its own worker and pruner, for several replicas on one database. SQLite by default. */
  engine?: 'sqlite' | 'pg';
  /** PostgreSQL: the pending and dead counts /metrics shows, loaded in the background (src/pg-gauges.ts). */
  liveDeliveries?: () => Array<{ kind: string; state: string; n: number }>;
  config: Pick<Config, 'deliveryTimeoutSeconds' | 'delayNoticeMinutes' | 'deliveryDeadlineMinutes' | 'timezone' | 'outboxRetentionDays'>;
}

/** An attempt as /metrics counts it: by target kind (never the target itself) and outcome. */
function observeAttempt(observe: Pick<Observer, 'delivery'>) {
  const outcomes = { delivered: 'delivered', retry: 'retried', failed: 'failed' } as const;
  return (target: string, outcome: 'delivered' | 'retry' | 'failed', seconds: number) => observe.delivery(kindOf(target), outcomes[outcome], seconds);
}

/** How often retention looks for delivered rows past SITREP_OUTBOX_RETENTION_DAYS. */
const RETENTION_INTERVAL_MS = 60 * 60_000;

const whatOf = (row: Pick<OutboxRow, 'payload'>) =>
  typeof row.payload.updateId === 'string' ? `Customer update ${row.payload.updateId}` : 'A customer-facing message';
const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * Whose timeline hears about a row that did not get through: its incident's, or (incident null, the
 * lane naming it, `webhook:S-3|M-2`) its scheduled maintenance's. Rows of neither are only logged
 * (the worker logs every dead letter).
 */
type Owner = { kind: 'incident'; id: number } | { kind: 'maintenance'; id: number };
function ownerOf(row: { incidentId: number | null; target: string }): Owner | null {
  if (row.incidentId !== null) return { kind: 'incident', id: row.incidentId };
  const { maintenanceId } = splitLane(row.target);
  return maintenanceId === null ? null : { kind: 'maintenance', id: maintenanceId };
}
const ownerKey = (o: Owner) => (o.kind === 'incident' ? `INC-${o.id}` : maintenanceRef(o.id));
/** The target as people know it: a maintenance's lane of `webhook:S-3` is `webhook:S-3`. */
const shownTarget = (stored: string) => splitLane(stored).target;

/** "Kept as delivery #7; `deliveries retry 7` sends it again and enables S-1 again." (or several) */
function keptNote(kept: number[], ref: string): string {
  if (kept.length === 1) return `Kept as delivery #${kept[0]}; \`deliveries retry ${kept[0]}\` sends it again and enables ${ref} again.`;
  return `Kept as deliveries ${kept.map((id) => `#${id}`).join(', ')}; \`deliveries retry <id>\` sends one again and enables ${ref} again.`;
}

/**
 * Mirroring: the outbox worker (started with the server, never by the CLI), outbox retention and
 * the delivery metrics. Made last by the composition root, with every other capability's targets.
 */
export function createMirroring(deps: MirroringDeps): Capability & { worker: OutboxWorker | PgOutboxWorker } {
  const { config, runner } = deps;
  const app = { db: deps.db, log: deps.log, now: deps.now };

  /** Records the failure in the owner's timeline (an incident's thread, a maintenance's timeline and thread). */
  const tell = async (tx: WriteTx, owner: Owner, text: string, payload: Record<string, unknown>) => {
    if (owner.kind === 'incident') {
      const ctx = runner.context('sitrep', { platform: 'cli', incidentId: owner.id });
      await recordEvent(tx, ctx, { incidentId: owner.id, kind: 'delivery_failed', actor: 'sitrep', text, payload });
      return;
    }
    const ctx = runner.context('sitrep', { platform: 'cli' });
    await recordMaintenanceEvent(tx, ctx, { maintenanceId: owner.id, kind: 'delivery_failed', actor: 'sitrep', text, payload });
  };

  /** Whether this owner's timeline was already told that this subscription was disabled (this time). */
  const toldAboutDisabling = (tx: WriteTx, owner: Owner, sub: SubscriptionRow): Promise<boolean> =>
    owner.kind === 'incident' ? hasDisablingNotice(tx, owner.id, sub.id, sub.disabledAt) : maintenanceHasDisablingNotice(tx, owner.id, sub.id, sub.disabledAt);

  /**
   * 410 Gone or a whole failed schedule: the subscription is disabled, what waits for it is kept
   * as dead letters, and each incident or maintenance with a message that did not reach it is told
   * once, in one event naming every kept delivery, not once per row.
   */
  async function disable(tx: WriteTx, row: OutboxRow, sub: SubscriptionRow, reason: string, cause: 'gone' | 'exhausted'): Promise<void> {
    const why = cause === 'gone' ? 'the endpoint answered 410 Gone' : 'it failed through the whole retry schedule';
    const d = await disableSubscription(tx, sub, cause, why, app.now());
    if (!d.newly) {
      await straggler(tx, row, d.sub, reason);
      return;
    }
    const ref = subscriptionRef(sub.id);
    const target = shownTarget(row.target);
    const stamp = { disabledSubscription: sub.id, disabledAt: d.sub.disabledAt, cause, target };
    const byOwner = new Map<string, { owner: Owner; kept: number[] }>();
    for (const r of d.swept) {
      const owner = r.customerFacing ? ownerOf(r) : null;
      if (!owner) continue;
      const entry = byOwner.get(ownerKey(owner)) ?? { owner, kept: [] };
      entry.kept.push(r.id);
      byOwner.set(ownerKey(owner), entry);
    }
    const own = row.customerFacing ? ownerOf(row) : null;
    if (own) {
      const more = byOwner.get(ownerKey(own))?.kept ?? [];
      byOwner.delete(ownerKey(own));
      const kept = [row.id, ...more];
      await tell(
        tx,
        own,
        `${whatOf(row)} did not reach ${target}: ${reason}. ${ref} is now disabled (${why}): nothing more is sent to it. ${keptNote(kept, ref)}`,
        { ...stamp, outboxId: row.id, deliveryId: row.deliveryId, reason, kept },
      );
    }
    for (const { owner, kept } of byOwner.values()) {
      const what = owner.kind === 'incident' ? 'incident' : 'maintenance';
      await tell(
        tx,
        owner,
        `${ref} (${target}) is now disabled (${why}; last error: ${reason}): ${plural(kept.length, 'customer update', 'customer updates')} for this ${what} will not be sent. ${keptNote(kept, ref)}`,
        { ...stamp, reason, kept },
      );
    }
  }

  /** A row of an already disabled subscription: its incident or maintenance hears once, if it has not yet. */
  async function straggler(tx: WriteTx, row: OutboxRow, sub: SubscriptionRow, reason: string): Promise<void> {
    const owner = row.customerFacing ? ownerOf(row) : null;
    if (!owner || (await toldAboutDisabling(tx, owner, sub))) return;
    const ref = subscriptionRef(sub.id);
    const target = shownTarget(row.target);
    await tell(
      tx,
      owner,
      `${whatOf(row)} did not reach ${target}: ${reason}. ${ref} is disabled (${sub.disabledReason ?? 'disabled'}). ${keptNote([row.id], ref)}`,
      {
        disabledSubscription: sub.id,
        disabledAt: sub.disabledAt,
        cause: sub.disabledCause,
        target,
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
    const owner = row.customerFacing ? ownerOf(row) : null;
    if (!owner) return;
    const target = shownTarget(row.target);
    await tell(tx, owner, `${whatOf(row)} did not reach ${target}: ${reason}. Kept as delivery #${row.id}; \`deliveries retry ${row.id}\` sends it again.`, {
      outboxId: row.id,
      deliveryId: row.deliveryId,
      target,
      reason,
    });
  }

  const Worker = deps.engine === 'pg' ? PgOutboxWorker : OutboxWorker;
  const worker = new Worker(
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
  // A webhook's remote reference is only "HTTP 200": nothing later edits or threads under it.
  const retention = {
    ...DEFAULT_RETENTION,
    retentionMs: config.outboxRetentionDays * 24 * 3_600_000,
    keepsReference: (target: string) => !isWebhookLane(target),
  };
  const pruner =
    deps.engine === 'pg'
      ? createPgOutboxPruner({ store: deps.store, log: app.log, now: app.now }, retention, RETENTION_INTERVAL_MS)
      : createOutboxPruner({ db: app.db, log: app.log, now: app.now }, retention, RETENTION_INTERVAL_MS);
  return {
    worker,
    outlets: [],
    targets: [],
    routes: [],
    services: [worker, pruner],
    collectors: [createOutboxCollector(app.db, () => worker.breakers, deps.liveDeliveries)],
    onChange: () => worker.kick(),
  };
}
