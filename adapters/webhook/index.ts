import type { Db } from '../../db/client.js';
import type { Store } from '../../db/store.js';
import type { Capability } from '../../src/capability.js';
import { createWebhookOutlet } from './outlet.js';
import { createWebhookTarget } from './target.js';

export { createWebhookOutlet, webhookTargetOf } from './outlet.js';
export { createWebhookTarget } from './target.js';

export interface WebhookDeps {
  db: Db;
  /** Given on PostgreSQL: the target reads subscriptions through it (see createWebhookTarget). */
  store?: Pick<Store, 'read'>;
  now: () => number;
  /** SITREP_WEBHOOK_PUBLIC_ONLY, SITREP_WEBHOOK_ALLOW_LINK_LOCAL. */
  config: { publicOnly: boolean; allowLinkLocal: boolean };
}

/** Signed outgoing webhooks: the outlet that enqueues on publish and the Target that sends. */
export function createWebhooks(deps: WebhookDeps): Capability {
  return {
    outlets: [createWebhookOutlet()],
    // The webhook target refuses a disabled subscription's rows itself (a row that was in flight
    // when its subscription was disabled comes back to retry and is refused there).
    targets: [
      createWebhookTarget({
        db: deps.db,
        ...(deps.store ? { store: deps.store } : {}),
        now: deps.now,
        publicOnly: deps.config.publicOnly,
        allowLinkLocal: deps.config.allowLinkLocal,
      }),
    ],
    routes: [],
    services: [],
  };
}
