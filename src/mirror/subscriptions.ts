import { eq } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { components, incidentComponents, subscriptions } from '../../db/schema.js';

export type SubscriptionRow = typeof subscriptions.$inferSelect;

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
 * The customer channels that hear about an incident: subscriptions of `kind` whose component
 * filter meets the incident's components (an empty filter hears everything). Shared by every
 * customer-channel outlet (webhooks here; Slack and Teams channels use it too).
 */
export function subscribersFor(db: DbOrTx, incidentId: number, kind: SubscriptionRow['kind']): SubscriptionRow[] {
  const subs = db.select().from(subscriptions).where(eq(subscriptions.kind, kind)).all();
  if (!subs.length) return [];
  const affected = affectedSlugs(db, incidentId);
  return subs.filter((s) => s.components.length === 0 || s.components.some((c) => affected.has(c)));
}
