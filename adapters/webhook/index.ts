import type { Db } from '../../db/client.js';
import type { Outlet } from '../../src/commands/context.js';
import type { Target } from '../../src/mirror/target.js';
import { createWebhookOutlet } from './outlet.js';
import { createWebhookTarget } from './target.js';

export { createWebhookOutlet, webhookTargetOf } from './outlet.js';
export { createWebhookTarget } from './target.js';

export interface WebhookDeps {
  db: Db;
  now: () => number;
  publicOnly: boolean;
  allowLinkLocal: boolean;
}

/** Signed outgoing webhooks: the outlet that enqueues on publish and the Target that sends. */
export function createWebhooks(deps: WebhookDeps): { outlet: Outlet; target: Target } {
  return {
    outlet: createWebhookOutlet(),
    target: createWebhookTarget({ db: deps.db, now: deps.now, publicOnly: deps.publicOnly, allowLinkLocal: deps.allowLinkLocal }),
  };
}
