import { openDatabase } from '../../db/client.js';
import { subscriptions } from '../../db/schema.js';
import { createWebhookTarget } from '../../adapters/webhook/target.js';
import { generateWebhookSecret } from '../../src/mirror/signing.js';
import { startWebhookReceiver } from '../fakes/webhook-receiver.js';
import { describeTargetContract } from '../mirror/target-contract.js';

describeTargetContract('webhook', async () => {
  const rx = await startWebhookReceiver();
  const db = openDatabase(':memory:');
  const sub = db
    .insert(subscriptions)
    .values({ target: `webhook:${rx.url}`, kind: 'webhook', components: [], secret: generateWebhookSecret(), createdBy: 'cli:admin', createdAt: Date.now() })
    .returning()
    .get();
  const target = createWebhookTarget({ db, now: () => Date.now(), publicOnly: false, allowLinkLocal: false });
  let n = 0;
  return {
    target,
    handled: `webhook:S-${sub.id}`,
    unhandled: 'statuspage',
    message: (over = {}) => ({
      id: ++n,
      deliveryId: `msg_contract_${n}`,
      incidentId: null,
      target: `webhook:S-${sub.id}`,
      kind: 'webhook.incident_update',
      payload: { body: { meta: {}, page: {}, incident: { id: 'INC-1', incident_updates: [] } } },
      attempts: 1,
      createdAt: Date.now(),
      approvedAt: Date.now(),
      folded: 0,
      ...over,
    }),
    upstream: {
      ok: () => rx.script({ status: 204 }),
      fail: () => rx.script({ status: 500 }),
      rateLimit: (s) => rx.script({ status: 429, headers: { 'retry-after': String(s) } }),
      hang: () => rx.script('hang'),
    },
    async close() {
      await rx.close();
      db.$client.close();
    },
  };
});
