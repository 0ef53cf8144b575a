import { eq, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client.js';
import { subscriptions } from '../schema.js';
import { prepared } from './prepared.js';

export type SubscriptionRecord = typeof subscriptions.$inferSelect;

/**
 * A lookup of one subscription by id, prepared once: the webhook target asks for it for the breaker
 * key of every row and on every attempt (a subscription may have been removed meanwhile).
 */
export function subscriptionLookup(db: Db): (id: number) => SubscriptionRecord | undefined {
  const stmt = db
    .select()
    .from(subscriptions)
    .where(eq(subscriptions.id, sql.placeholder('id')))
    .prepare();
  return (id) => stmt.get({ id });
}

/**
 * A subscription's signing secret: undefined when there is no such subscription (or no secret).
 * Prepared once per connection (the Teams target fills it into replies on its hot path).
 */
export function subscriptionSecret(db: DbOrTx, id: number): string | undefined {
  const row: unknown = prepared(db, 'select secret from subscriptions where id = ?').get(id);
  if (typeof row !== 'object' || row === null || !('secret' in row)) return undefined;
  return typeof row.secret === 'string' ? row.secret : undefined;
}
