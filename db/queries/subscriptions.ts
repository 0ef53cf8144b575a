import { and, asc, eq, gte, inArray, isNotNull, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Db, DbOrTx, Tx } from '../client.js';
import { affected, first, isPg, tablesOf, type Tables } from '../engine.js';
import type { subscriptions } from '../schema.js';
import { maintenanceLanePrefix, splitLane } from '../../src/domain/maintenance.js';
import { outboxTargetOf, subscriptionRef, type SubscriptionKey } from '../../src/domain/subscriptions.js';
import { prepared } from './prepared.js';

/**
 * A lookup of one subscription by id, prepared once: the webhook target asks for it for the breaker
 * key of every row and on every attempt (a subscription may have been removed meanwhile).
 * Synchronous: the outbox worker's claim path (SQLite) asks it between two statements of a claim.
 */
export function subscriptionLookup(db: Db): (id: number) => SubscriptionRow | undefined {
  // Prepared on first use: a process that never delivers (the CLI, or PostgreSQL, whose worker
  // path is still to come) never prepares it.
  const prepare = () => {
    const { subscriptions } = tablesOf(db);
    return db
      .select()
      .from(subscriptions)
      .where(eq(subscriptions.id, sql.placeholder('id')))
      .prepare();
  };
  let stmt: ReturnType<typeof prepare> | undefined;
  return (id) => (stmt ??= prepare()).get({ id });
}

/**
 * A subscription's signing secret: undefined when there is no such subscription (or no secret).
 * Prepared once per connection (the Teams target fills it into replies on its hot path).
 */
export async function subscriptionSecret(db: DbOrTx, id: number): Promise<string | undefined> {
  const row: unknown = await prepared(db, 'select secret from subscriptions where id = ?').get(id);
  if (typeof row !== 'object' || row === null || !('secret' in row)) return undefined;
  return typeof row.secret === 'string' ? row.secret : undefined;
}

export type SubscriptionRow = typeof subscriptions.$inferSelect;
export type DisabledCause = NonNullable<SubscriptionRow['disabledCause']>;

/** Slugs of every component the incident affects (internally or publicly). */
export async function affectedSlugs(db: DbOrTx, incidentId: number): Promise<Set<string>> {
  const { components, incidentComponents } = tablesOf(db);
  return new Set(
    (
      await db
        .select({ slug: components.slug })
        .from(incidentComponents)
        .innerJoin(components, eq(components.id, incidentComponents.componentId))
        .where(eq(incidentComponents.incidentId, incidentId))
    ).map((r) => r.slug),
  );
}

/** Enabled subscriptions of `kind` whose component filter meets `slugs` (an empty filter hears everything). */
async function matchingSubscribers(
  db: DbOrTx,
  kind: SubscriptionRow['kind'],
  slugs: () => Promise<Set<string>>,
  opts: { emptyMeansAll?: boolean } = {},
): Promise<SubscriptionRow[]> {
  const { subscriptions } = tablesOf(db);
  const subs = await db
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.kind, kind), isNull(subscriptions.disabledAt)));
  if (!subs.length) return [];
  const affected = await slugs();
  if (opts.emptyMeansAll && affected.size === 0) return subs;
  return subs.filter((s) => s.components.length === 0 || s.components.some((c) => affected.has(c)));
}

/**
 * The customer channels that hear about an incident: enabled subscriptions of `kind` whose
 * component filter meets the incident's components (an empty filter hears everything). Shared by
 * every customer-channel outlet (webhooks here; Slack and Teams channels use it too). A disabled
 * subscription hears nothing: its endpoint said it is gone, or failed for days.
 */
export async function subscribersFor(db: DbOrTx, incidentId: number, kind: SubscriptionRow['kind']): Promise<SubscriptionRow[]> {
  return matchingSubscribers(db, kind, () => affectedSlugs(db, incidentId));
}

/**
 * The customer channels that hear about a scheduled maintenance: enabled subscriptions of `kind`
 * whose component filter meets the maintenance's components. A channel without a filter hears
 * every maintenance, and a maintenance that names no components (work on everything) is heard by
 * every channel, filtered or not.
 */
export async function maintenanceSubscribers(db: DbOrTx, maintenanceId: number, kind: SubscriptionRow['kind']): Promise<SubscriptionRow[]> {
  const { components, maintenanceComponents } = tablesOf(db);
  return matchingSubscribers(
    db,
    kind,
    async () =>
      new Set(
        (
          await db
            .select({ slug: components.slug })
            .from(maintenanceComponents)
            .innerJoin(components, eq(components.id, maintenanceComponents.componentId))
            .where(eq(maintenanceComponents.maintenanceId, maintenanceId))
        ).map((r) => r.slug),
      ),
    { emptyMeansAll: true },
  );
}

/**
 * Rows in any lane of a subscription: its own (`webhook:S-3`) and each maintenance's lane of it
 * (`webhook:S-3|M-2`), the latter as a range of the target index (binary comparison, no LIKE).
 */
function inSubscriptionLanes(outbox: Tables['outbox'], pg: boolean, sub: SubscriptionKey): SQL {
  const exact = outboxTargetOf(sub);
  const prefix = maintenanceLanePrefix(exact);
  // The prefix ends in '-'; every value that starts with it sorts before the same with '.'.
  const end = `${prefix.slice(0, -1)}.`;
  // Byte order: SQLite compares text as bytes; PostgreSQL by the database's collation (which may
  // ignore punctuation), unless told "C".
  const target: SQL = pg ? sql`${outbox.target} collate "C"` : sql`${outbox.target}`;
  return or(eq(outbox.target, exact), and(gte(target, prefix), lt(target, end)))!;
}

/**
 * The subscription an outbox row is for, if it is for one (not a thread, root card or Statuspage).
 * A maintenance's lane of a subscription (`webhook:S-3|M-2`) is that subscription's.
 */
export async function subscriptionOfTarget(db: DbOrTx, stored: string): Promise<SubscriptionRow | undefined> {
  const { subscriptions } = tablesOf(db);
  const target = splitLane(stored).target;
  const webhook = /^webhook:S-(\d+)$/.exec(target);
  if (webhook)
    return first(
      db
        .select()
        .from(subscriptions)
        .where(eq(subscriptions.id, Number(webhook[1]))),
    );
  if (!/^(slack|teams):/.test(target)) return undefined;
  return first(db.select().from(subscriptions).where(eq(subscriptions.target, target)));
}

export interface Disabling {
  sub: SubscriptionRow;
  /** False when it was already disabled: the thread was told then, and nothing more is swept. */
  newly: boolean;
  /** Rows that were still waiting for it, now dead-lettered too (kept, retryable); `target` as stored (a maintenance's lane names it). */
  swept: Array<{ id: number; incidentId: number | null; target: string; customerFacing: boolean }>;
}

/**
 * Disables a subscription in the caller's transaction and dead-letters what still waits for it,
 * so nothing is attempted against an endpoint that is gone and nothing is dropped either: every
 * row stays visible in `deliveries` and `deliveries retry` sends it again.
 */
export async function disableSubscription(tx: Tx, sub: SubscriptionRow, cause: DisabledCause, reason: string, now: number): Promise<Disabling> {
  if (sub.disabledAt !== null) return { sub, newly: false, swept: [] };
  const { outbox, subscriptions } = tablesOf(tx);
  const changed = affected(
    await tx
      .update(subscriptions)
      .set({ disabledAt: now, disabledCause: cause, disabledReason: reason })
      .where(and(eq(subscriptions.id, sub.id), isNull(subscriptions.disabledAt))),
  );
  const current = (await first(tx.select().from(subscriptions).where(eq(subscriptions.id, sub.id)))) ?? sub;
  if (changed !== 1) return { sub: current, newly: false, swept: [] };
  const swept = await tx
    .select({ id: outbox.id, incidentId: outbox.incidentId, target: outbox.target, customerFacing: outbox.customerFacing })
    .from(outbox)
    .where(and(inSubscriptionLanes(outbox, isPg(tx), sub), eq(outbox.state, 'pending')))
    .orderBy(asc(outbox.id));
  if (swept.length) {
    await tx
      .update(outbox)
      .set({ state: 'dead', claimedUntil: null, lastError: `not sent: ${subscriptionRef(sub.id)} was disabled (${reason})` })
      .where(
        and(
          inArray(
            outbox.id,
            swept.map((r) => r.id),
          ),
          eq(outbox.state, 'pending'),
        ),
      );
  }
  return { sub: current, newly: true, swept };
}

/** Dead letters of a subscription, in any of its lanes (a maintenance's too), oldest first. */
export async function deadSubscriptionRowIds(db: DbOrTx, sub: SubscriptionKey): Promise<number[]> {
  const { outbox } = tablesOf(db);
  return (
    await db
      .select({ id: outbox.id })
      .from(outbox)
      .where(and(inSubscriptionLanes(outbox, isPg(db), sub), eq(outbox.state, 'dead')))
      .orderBy(asc(outbox.id))
  ).map((r) => r.id);
}

/** Enables a disabled subscription again (an admin retried its dead letters or subscribed it anew). */
export async function enableSubscription(tx: Tx, id: number): Promise<boolean> {
  const { subscriptions } = tablesOf(tx);
  return (
    affected(
      await tx
        .update(subscriptions)
        .set({ disabledAt: null, disabledCause: null, disabledReason: null })
        .where(and(eq(subscriptions.id, id), isNotNull(subscriptions.disabledAt))),
    ) === 1
  );
}

/** Every subscription, oldest first. */
export async function listSubscriptionRows(db: DbOrTx): Promise<SubscriptionRow[]> {
  const { subscriptions } = tablesOf(db);
  return db.select().from(subscriptions).orderBy(asc(subscriptions.id));
}

export async function findSubscriptionById(db: DbOrTx, id: number): Promise<SubscriptionRow | undefined> {
  const { subscriptions } = tablesOf(db);
  return first(db.select().from(subscriptions).where(eq(subscriptions.id, id)));
}

/** The subscriptions with these ids (one query), in no particular order. */
export async function findSubscriptionsByIds(db: DbOrTx, ids: readonly number[]): Promise<SubscriptionRow[]> {
  if (!ids.length) return [];
  const { subscriptions } = tablesOf(db);
  return db
    .select()
    .from(subscriptions)
    .where(inArray(subscriptions.id, [...ids]));
}

export async function findSubscriptionByTarget(db: DbOrTx, target: string): Promise<SubscriptionRow | undefined> {
  const { subscriptions } = tablesOf(db);
  return first(db.select().from(subscriptions).where(eq(subscriptions.target, target)));
}

export type NewSubscription = Pick<typeof subscriptions.$inferInsert, 'target' | 'kind' | 'components' | 'secret' | 'createdBy' | 'createdAt'>;

export async function insertSubscription(tx: Tx, s: NewSubscription): Promise<SubscriptionRow> {
  const row = await first(tx.insert(tablesOf(tx).subscriptions).values(s).returning());
  if (!row) throw new Error('the new subscription was not returned');
  return row;
}

/**
 * Removes a subscription. Messages still waiting for it are not sent after it was removed; they
 * stay visible in `deliveries` as dead with `reason`. The number of such messages.
 */
export async function deleteSubscription(tx: Tx, sub: SubscriptionRow, reason: string): Promise<number> {
  const { outbox, subscriptions } = tablesOf(tx);
  await tx.delete(subscriptions).where(eq(subscriptions.id, sub.id));
  return affected(
    await tx
      .update(outbox)
      .set({ state: 'dead', lastError: reason })
      .where(and(inSubscriptionLanes(outbox, isPg(tx), sub), inArray(outbox.state, ['pending']))),
  );
}
