import { and, asc, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client.js';
import { components, incidentComponents, outbox, subscriptions } from '../../db/schema.js';

export type SubscriptionRow = typeof subscriptions.$inferSelect;
export type DisabledCause = NonNullable<SubscriptionRow['disabledCause']>;

/** Slugs of every component the incident affects (internally or publicly). */
export function affectedSlugs(db: DbOrTx, incidentId: number): Set<string> {
  return new Set(
    db
      .select({ slug: components.slug })
      .from(incidentComponents)
      .innerJoin(components, eq(components.id, incidentComponents.componentId))
      .where(eq(incidentComponents.incidentId, incidentId))
      .all()
      .map((r) => r.slug),
  );
}

/**
 * The customer channels that hear about an incident: enabled subscriptions of `kind` whose
 * component filter meets the incident's components (an empty filter hears everything). Shared by
 * every customer-channel outlet (webhooks here; Slack and Teams channels use it too). A disabled
 * subscription hears nothing: its endpoint said it is gone, or failed for days.
 */
export function subscribersFor(db: DbOrTx, incidentId: number, kind: SubscriptionRow['kind']): SubscriptionRow[] {
  const subs = db
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.kind, kind), isNull(subscriptions.disabledAt)))
    .all();
  if (!subs.length) return [];
  const affected = affectedSlugs(db, incidentId);
  return subs.filter((s) => s.components.length === 0 || s.components.some((c) => affected.has(c)));
}

export const subscriptionRef = (id: number) => `S-${id}`;

/**
 * The outbox lane value of a subscription. A webhook's lane names its id (`webhook:S-3`), so the
 * URL, which may carry a token, is never copied into the outbox; chat channels are their target.
 */
export const outboxTargetOf = (sub: Pick<SubscriptionRow, 'id' | 'kind' | 'target'>) =>
  sub.kind === 'webhook' ? `webhook:${subscriptionRef(sub.id)}` : sub.target;

/** Webhook rows follow the Standard Webhooks schedule instead of the chat delivery deadline. */
export const isWebhookLane = (target: string) => /^webhook:S-\d+$/.test(target);

/** The subscription an outbox row is for, if it is for one (not a thread, root card or Statuspage). */
export function subscriptionOfTarget(db: DbOrTx, target: string): SubscriptionRow | undefined {
  const webhook = /^webhook:S-(\d+)$/.exec(target);
  if (webhook)
    return db
      .select()
      .from(subscriptions)
      .where(eq(subscriptions.id, Number(webhook[1])))
      .get();
  if (!/^(slack|teams):/.test(target)) return undefined;
  return db.select().from(subscriptions).where(eq(subscriptions.target, target)).get();
}

export interface Disabling {
  sub: SubscriptionRow;
  /** False when it was already disabled: the thread was told then, and nothing more is swept. */
  newly: boolean;
  /** Rows that were still waiting for it, now dead-lettered too (kept, retryable). */
  swept: Array<{ id: number; incidentId: number | null; customerFacing: boolean }>;
}

/**
 * Disables a subscription in the caller's transaction and dead-letters what still waits for it,
 * so nothing is attempted against an endpoint that is gone and nothing is dropped either: every
 * row stays visible in `deliveries` and `deliveries retry` sends it again.
 */
export function disableSubscription(tx: Tx, sub: SubscriptionRow, cause: DisabledCause, reason: string, now: number): Disabling {
  if (sub.disabledAt !== null) return { sub, newly: false, swept: [] };
  const changed = tx
    .update(subscriptions)
    .set({ disabledAt: now, disabledCause: cause, disabledReason: reason })
    .where(and(eq(subscriptions.id, sub.id), isNull(subscriptions.disabledAt)))
    .run().changes;
  const current = tx.select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get() ?? sub;
  if (changed !== 1) return { sub: current, newly: false, swept: [] };
  const lane = outboxTargetOf(sub);
  const swept = tx
    .select({ id: outbox.id, incidentId: outbox.incidentId, customerFacing: outbox.customerFacing })
    .from(outbox)
    .where(and(eq(outbox.target, lane), eq(outbox.state, 'pending')))
    .orderBy(asc(outbox.id))
    .all();
  if (swept.length) {
    tx.update(outbox)
      .set({ state: 'dead', claimedUntil: null, lastError: `not sent: ${subscriptionRef(sub.id)} was disabled (${reason})` })
      .where(
        and(
          inArray(
            outbox.id,
            swept.map((r) => r.id),
          ),
          eq(outbox.state, 'pending'),
        ),
      )
      .run();
  }
  return { sub: current, newly: true, swept };
}

/** Enables a disabled subscription again (an admin retried its dead letters or subscribed it anew). */
export function enableSubscription(tx: Tx, id: number): boolean {
  return (
    tx
      .update(subscriptions)
      .set({ disabledAt: null, disabledCause: null, disabledReason: null })
      .where(and(eq(subscriptions.id, id), isNotNull(subscriptions.disabledAt)))
      .run().changes === 1
  );
}
