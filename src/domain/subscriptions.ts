import { splitLane } from './maintenance.js';

// How a subscription names its outbox lane; its queries are in db/queries/subscriptions.ts.

/** What naming a subscription's lane reads of it. */
export interface SubscriptionKey {
  id: number;
  kind: 'webhook' | 'slack' | 'teams';
  target: string;
}

export const subscriptionRef = (id: number) => `S-${id}`;

/**
 * The outbox lane value of a subscription. A webhook's lane names its id (`webhook:S-3`), so the
 * URL, which may carry a token, is never copied into the outbox; chat channels are their target.
 */
export const outboxTargetOf = (sub: SubscriptionKey) => (sub.kind === 'webhook' ? `webhook:${subscriptionRef(sub.id)}` : sub.target);

/**
 * Webhook rows follow the Standard Webhooks schedule instead of the chat delivery deadline. A
 * maintenance's rows to a subscription have a lane of their own (`webhook:S-3|M-2`, so they fold
 * only into each other): they are the subscription's rows all the same.
 */
export const isWebhookLane = (target: string) => /^webhook:S-\d+$/.test(splitLane(target).target);
